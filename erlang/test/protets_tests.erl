%% protets_tests.erl - EUnit suite of the Erlang protets (make check-erlang).
%%
%% One private daemon ($PROTETS_BUILD/protetsd, default build/) in a
%% /tmp/protets-test.erl.* directory serves every test; each test uses
%% tables of its own names.  What it checks: the original README's session
%% (the calling process exits, the daemon's worker is killed with SIGKILL:
%% the table is there); every operation against real ets as a model, all
%% four types, random operations compared after each step; the whole BEAM
%% node killed with SIGKILL and a new node finding every table; two nodes
%% sharing a table; match specifications, files, keys refused.
-module(protets_tests).

-include_lib("eunit/include/eunit.hrl").

%% ------------------------------------------------------------------
%% The daemon.

build() ->
    case os:getenv("PROTETS_BUILD") of
        false -> filename:absname("build");
        B -> B
    end.

sh(Cmd) ->
    string:trim(os:cmd(Cmd)).

start_daemon() ->
    Dir = sh("mktemp -d /tmp/protets-test.erl.XXXXXX"),
    ok = file:write_file(filename:join(Dir, "protets.conf"),
                         "[daemon]\nsocket = sock\npidfile = protetsd.pid\n"
                         "workers = 2\nrestart_burst = 1000\n"
                         "restart_window_ms = 1000\n[tables]\n"),
    Pid = sh("cd " ++ Dir ++ " && { " ++ build() ++ "/protetsd -d -c " ++ Dir
             ++ "/protets.conf >>log 2>&1 & } && echo $!"),
    Sock = filename:join(Dir, "sock"),
    D = #{dir => Dir, pid => Pid, sock => Sock},
    wait_until(fun() -> length(procs(D)) =:= 4 end, "daemon up"),
    application:set_env(protets, socket, Sock),
    D.

stop_daemon(#{dir := Dir, pid := Pid}) ->
    sh("kill -TERM " ++ Pid),
    wait_until(fun() -> sh("kill -0 " ++ Pid ++ " 2>/dev/null || echo gone")
                            =:= "gone" end, "daemon stopped"),
    case os:getenv("KEEP_TEST_DIRS") of
        false -> sh("rm -rf '" ++ Dir ++ "'");
        _ -> ok
    end.

%% [{Role, Slot-or-none, OsPid}] from `protets procs`.
procs(#{sock := Sock}) ->
    Out = sh(build() ++ "/protets -s " ++ Sock ++ " procs 2>/dev/null"),
    [list_to_tuple(string:lexemes(L, " \t"))
     || L <- string:lexemes(Out, "\n"), length(string:lexemes(L, " \t")) >= 2].

%% The worker pid owning table Name (`protets ls`: NAME ... WORKER_PID).
owner(#{sock := Sock}, Name) ->
    Out = sh(build() ++ "/protets -s " ++ Sock ++ " ls"),
    [Pid] = [lists:last(string:lexemes(L, "\t"))
             || L <- string:lexemes(Out, "\n"),
                hd(string:lexemes(L, "\t")) =:= Name],
    Pid.

%% Wait for a condition (polled every 10 ms, for at most 20 s).
wait_until(F, What) ->
    wait_until(F, What, 2000).

wait_until(F, What, 0) ->
    error({timeout, What, F()});
wait_until(F, What, N) ->
    case catch F() of
        true -> ok;
        _ -> timer:sleep(10), wait_until(F, What, N - 1)
    end.

%% ------------------------------------------------------------------

protets_test_() ->
    {setup, fun start_daemon/0, fun stop_daemon/1,
     fun(D) ->
             [{"README session", {timeout, 60, fun() -> readme(D) end}},
              {"model set", {timeout, 120, fun() -> model(set) end}},
              {"model ordered_set", {timeout, 120,
                                     fun() -> model(ordered_set) end}},
              {"model bag", {timeout, 120, fun() -> model(bag) end}},
              {"model duplicate_bag", {timeout, 120,
                                       fun() -> model(duplicate_bag) end}},
              {"term order", fun order/0},
              {"keys refused", fun refused/0},
              {"names", fun names/0},
              {"no daemon", {timeout, 60, fun() -> no_daemon(D) end}},
              {"options", fun options/0},
              {"counters", fun counters/0},
              {"match specs", fun matchspecs/0},
              {"files", fun() -> files(D) end},
              {"drop", fun drop/0},
              {"BEAM killed", {timeout, 120, fun() -> beam_kill(D) end}},
              {"two nodes", {timeout, 120, fun() -> two_nodes(D) end}},
              {"lock held", {timeout, 120, fun() -> lock_held(D) end}}]
     end}.

%% The original README's session: get, insert, the calling process exits,
%% the table is there; the worker owning it is killed, the table is there.
readme(D) ->
    Self = self(),
    P = spawn(fun() ->
                      {ok, T} = protets:get(foo),
                      true = protets:insert(T, {foo, bar}),
                      Self ! {first, protets:first(T)},
                      exit(normal)
              end),
    Ref = monitor(process, P),
    receive {first, F} -> ?assertEqual(foo, F) end,
    receive {'DOWN', Ref, process, P, _} -> ok end,
    erlang:garbage_collect(),
    {ok, T} = protets:get(foo),
    ?assertEqual(foo, protets:first(T)),
    ?assertEqual([{foo, bar}], protets:lookup(T, foo)),
    Worker = owner(D, "foo"),
    "" = sh("kill -9 " ++ Worker),
    %% The mapping goes on working while the worker is replaced.
    ?assertEqual(foo, protets:first(T)),
    wait_until(fun() -> owner(D, "foo") =/= Worker end, "new worker"),
    {ok, T2} = protets:get(foo),
    ?assertEqual([{foo, bar}], protets:lookup(T2, foo)),
    true = protets:insert(T2, {foo2, baz}),
    ?assertEqual([{foo2, baz}], protets:lookup(T, foo2)),
    ok = protets:drop(foo).

%% ------------------------------------------------------------------
%% The model test: the same random operations on ets and protets.

model(Type) ->
    Seed = case os:getenv("PROTETS_SEED") of
               false -> erlang:phash2(os:timestamp());
               S -> list_to_integer(S)
           end,
    Steps = case os:getenv("PROTETS_MODEL_OPS") of
                false -> 3000;
                N -> list_to_integer(N)
            end,
    io:format(user, "model ~p: PROTETS_SEED=~p~n", [Type, Seed]),
    rand:seed(exsss, {Seed, Seed, Seed}),
    E = ets:new(model, [Type, public]),
    {ok, P} = protets:get({model, Type, Seed}, [Type]),
    lists:foreach(fun(I) -> step(I, Type, E, P) end, lists:seq(1, Steps)),
    ok = protets:drop({model, Type, Seed}),
    ets:delete(E).

key() ->
    I = rand:uniform(12) - 6,
    case rand:uniform(9) of
        1 -> float(I);
        2 -> I + 0.5;
        3 -> lists:nth(rand:uniform(4), [a, b, 'Z', 'ä']);
        4 -> {I};
        5 -> {I, a};
        6 -> [I];
        7 -> list_to_binary([I + 6]);
        8 -> [];
        _ -> I
    end.

obj() ->
    {key(), rand:uniform(4), lists:nth(rand:uniform(3), [x, y, z])}.

op(Type) ->
    Set = Type =:= set orelse Type =:= ordered_set,
    case rand:uniform(20) of
        1 -> {insert, obj()};
        2 -> {insert, [obj() || _ <- lists:seq(1, rand:uniform(5))]};
        3 -> {insert_new, obj()};
        4 -> {insert_new, [obj() || _ <- lists:seq(1, rand:uniform(3))]};
        5 -> {lookup, key()};
        6 -> {member, key()};
        7 -> {take, key()};
        8 -> {delete, key()};
        9 -> {delete_object, obj()};
        10 when Set -> {update_counter, key(), {2, rand:uniform(5) - 3}};
        11 when Set -> {update_counter, key(), [{2, 3, 4, 0}, {2, -1}],
                       {zz, 7, w}};
        12 when Set -> {update_element, key(), {3, w}};
        13 -> {lookup_element, key(), rand:uniform(3)};
        14 -> walk;
        15 when Type =:= ordered_set -> walk_back;
        16 -> {select_count, [{{'_', '$1', '_'}, [{'>', '$1', 2}], [true]}]};
        17 -> {match_object, {'_', 1, '_'}};
        18 when Set -> {update_counter, key(), 1, {zz, 0, w}};
        19 -> {insert, obj()};
        _ when Set -> {lookup, key()};
        _ -> case rand:uniform(30) of
                 1 -> delete_all_objects;
                 _ -> {insert, obj()}
             end
    end.

apply_op(M, T, {match_object, Pat}) ->
    M:match_object(T, Pat);
apply_op(M, T, {select_count, MS}) ->
    M:select_count(T, MS);
apply_op(M, T, walk) ->
    walk(M, T, M:first(T), []);
apply_op(M, T, walk_back) ->
    walk_back(M, T, M:last(T), []);
apply_op(M, T, delete_all_objects) ->
    M:delete_all_objects(T);
apply_op(M, T, Op) ->
    [Name | Args] = tuple_to_list(Op),
    try apply(M, Name, [T | Args])
    catch error:badarg -> badarg
    end.

walk(_, _, '$end_of_table', Acc) -> lists:reverse(Acc);
walk(M, T, K, Acc) -> walk(M, T, M:next(T, K), [K | Acc]).

walk_back(_, _, '$end_of_table', Acc) -> lists:reverse(Acc);
walk_back(M, T, K, Acc) -> walk_back(M, T, M:prev(T, K), [K | Acc]).

%% Results compare as they are, but the hash types' walks and matches,
%% which come in any order.
same(Type, Op, R1, R2) when Type =/= ordered_set, is_list(R1), is_list(R2) ->
    case Op =:= walk orelse element(1, Op) =:= match_object of
        true -> msort(R1) =:= msort(R2);
        false -> R1 =:= R2
    end;
same(_, _, R1, R2) ->
    R1 =:= R2.

%% Sorted by =:=, not == (lists:sort keeps 1 and 1.0 as it finds them).
msort(L) ->
    lists:sort([term_to_binary(X) || X <- L]).

step(I, Type, E, P) ->
    Op = op(Type),
    R1 = apply_op(ets, E, Op),
    R2 = apply_op(protets, P, Op),
    case same(Type, Op, R1, R2) of
        true -> ok;
        false when is_list(R1), is_list(R2) ->
            error({step, I, Type, Op, {ets_only, R1 -- R2},
                   {protets_only, R2 -- R1}, {ets, R1}, {protets, R2}});
        false -> error({step, I, Type, Op, {ets, R1}, {protets, R2}})
    end,
    L1 = ets:tab2list(E),
    L2 = protets:tab2list(P),
    Same = case Type of
               ordered_set -> L1 =:= L2;
               _ -> msort(L1) =:= msort(L2)
           end,
    Same orelse error({contents, I, Type, Op, {ets, L1}, {protets, L2}}),
    ?assertEqual(length(L1), protets:info(P, size)).

%% ------------------------------------------------------------------

%% An ordered_set walks in Erlang's term order, numbers by value.
order() ->
    {ok, T} = protets:get(order_test, [ordered_set]),
    Keys = [-1 bsl 70, -1.0e300, -7, -2.5, -1, -0.25, 0, 1.0e-300, 0.5, 1,
            1.5, 2, 255, 256, 9007199254740992.0, 9007199254740993,
            1 bsl 62, 1.0e19, 1 bsl 64, 1 bsl 200, 1.0e300,
            '', a, aa, ab, b, 'Ä', 'ä', '€', {}, {0}, {a}, {1, 0}, {0, a, b},
            [], [0], [0, 0], [0 | 1], [1], "a", "ab", "b", <<>>, <<0>>,
            <<0, 0>>, <<0, 1>>, <<1>>, <<255>>, <<255, 0>>],
    Shuffled = [K || {_, K} <- lists:sort([{rand:uniform(), K} || K <- Keys])],
    true = protets:insert(T, [{K, v} || K <- lists:sublist(Shuffled, 1, 24)]),
    true = protets:insert(T, [{K, v} || K <- lists:nthtail(24, Shuffled)]),
    ?assertEqual(lists:sort(Keys), [K || {K, v} <- protets:tab2list(T)]),
    ?assertEqual(lists:sort(Keys), walk(protets, T, protets:first(T), [])),
    %% == keys are one key on an ordered_set, two on a set (=:=).
    true = protets:insert(T, {1.0, w}),
    ?assertEqual([{1.0, w}], protets:lookup(T, 1)),
    {ok, S} = protets:get(order_test_set, [set]),
    true = protets:insert(S, [{1, v}, {1.0, w}]),
    ?assertEqual([{1, v}], protets:lookup(S, 1)),
    ?assertEqual([{1.0, w}], protets:lookup(S, 1.0)),
    ok = protets:drop(order_test),
    ok = protets:drop(order_test_set).

%% Pids, references, funs, ports, maps and odd bitstrings are no keys.
refused() ->
    {ok, T} = protets:get(refused_test, [ordered_set]),
    [?assertError(badarg, protets:insert(T, {K, v}))
     || K <- [self(), make_ref(), fun() -> ok end, hd(erlang:ports()),
              #{a => 1}, <<1:3>>, {a, self()}, [1 | make_ref()]]],
    ?assertError(badarg, protets:lookup(T, self())),
    ?assertError(badarg, protets:insert(T, {})),
    ?assertError(badarg, protets:insert(T, [{a, 1}, bad])),
    ?assertEqual([], protets:lookup(T, a)),
    %% A list beyond one atomic operation: system_limit, nothing written.
    ?assertError(system_limit, protets:insert(T, [{I} || I <- lists:seq(1, 5000)])),
    ?assertError(system_limit, protets:insert(T, [{I, binary:copy(<<1>>, 2000)}
                                                  || I <- lists:seq(1, 4000)])),
    ?assertEqual(0, protets:info(T, size)),
    %% Values may hold anything.
    Obj = {k, self(), make_ref(), #{a => 1}, <<1:3>>},
    true = protets:insert(T, Obj),
    ?assertEqual([Obj], protets:lookup(T, k)),
    ok = protets:drop(refused_test).

%% Names: an atom of plain letters is its own text; others are escaped.
names() ->
    ?assertEqual(<<"foo">>, protets:table_name(foo)),
    Names = [foo, 'with space', "a string", {a, "b", 1.5}, <<"bin">>, 42,
             'ä', [self_ref]],
    [?assertEqual(N, protets:name_of(protets:table_name(N))) || N <- Names],
    %% Every escaped name is one the daemon takes.
    lists:foreach(fun(N) ->
                          {ok, T} = protets:get(N),
                          true = protets:insert(T, {N}),
                          {ok, T2} = protets:get(N),
                          ?assertEqual([{N}], protets:lookup(T2, N)),
                          ?assertEqual(N, protets:info(T2, name)),
                          ok = protets:drop(N)
                  end, Names),
    %% A name too long for the daemon is a hash there, its own in info.
    Long = {lists:seq(1, 300), <<"x">>},
    {ok, L} = protets:get(Long),
    ?assertMatch(<<"erl#", _:32/binary>>, protets:table_name(Long)),
    ?assertEqual(Long, protets:info(L, name)),
    true = protets:insert(L, {1}),
    true = protets:delete_all_objects(L),
    ?assertEqual(Long, protets:info(L, name)),
    ok = protets:drop(Long).

%% No daemon at the socket: an error, not an exception (in a node whose
%% library dials once: PROTETS_CONNECT_TIMEOUT_MS=0).
no_daemon(#{sock := Sock}) ->
    Ebin = filename:dirname(code:which(protets)),
    TestDir = filename:dirname(code:which(?MODULE)),
    {ok, Peer, _} = peer:start(#{connection => standard_io,
                                 args => ["-pa", Ebin, "-pa", TestDir],
                                 env => [{"PROTETS_CONNECT_TIMEOUT_MS", "0"}]}),
    R = on(Peer, fun no_daemon_calls/1, [Sock ++ ".none"]),
    stop_peer(Peer),
    ?assertMatch([{error, {econnect, _}}, {error, {econnect, _}},
                  {error, {econnect, _}}], R).

no_daemon_calls(Sock) ->
    ok = application:set_env(protets, socket, Sock),
    [protets:get(foo), protets:drop(foo), protets:file2tab("/nonexistent")].

options() ->
    {ok, T} = protets:get(opt_test, [bag, {keypos, 2}, public,
                                     {heir, self(), x}, {read_concurrency, true},
                                     {write_concurrency, true}]),
    ?assertEqual(bag, protets:info(T, type)),
    ?assertEqual(2, protets:info(T, keypos)),
    true = protets:insert(T, [{x, k}, {y, k}]),
    E = ets:new(e, [bag, {keypos, 2}]),
    ets:insert(E, [{x, k}, {y, k}]),
    ?assertEqual(ets:lookup(E, k), protets:lookup(T, k)),
    ?assertEqual(ets:lookup_element(E, k, 1), protets:lookup_element(T, k, 1)),
    ?assertMatch({error, {emismatch, _}}, protets:get(opt_test, [set])),
    %% The keypos is the table's: kept in it, refused when another.
    {ok, T3} = protets:get(opt_test),
    ?assertEqual(2, protets:info(T3, keypos)),
    ?assertEqual(protets:lookup(T, k), protets:lookup(T3, k)),
    ?assertMatch({error, {emismatch, "table opt_test exists with keypos 2"}},
                 protets:get(opt_test, [{keypos, 3}])),
    %% ... and survives delete_all_objects, and is no object.
    true = protets:delete_all_objects(T3),
    ?assertEqual([], protets:tab2list(T3)),
    ?assertEqual('$end_of_table', protets:first(T3)),
    ?assertEqual(0, protets:info(T3, size)),
    {ok, T4} = protets:get(opt_test),
    ?assertEqual(2, protets:info(T4, keypos)),
    true = protets:insert(T, [{x, k}, {y, k}]),
    ?assertError(badarg, protets:get(opt_test, [nonsense])),
    Info = protets:info(T),
    ?assertEqual(public, proplists:get_value(protection, Info)),
    ?assertEqual(2, proplists:get_value(size, Info)),
    ?assertEqual(opt_test, proplists:get_value(name, Info)),
    ok = protets:drop(opt_test).

%% update_counter from many processes of this node loses nothing.
counters() ->
    {ok, T} = protets:get(counter_test, [set]),
    true = protets:insert(T, {c, 0, 0}),
    Self = self(),
    Ps = [spawn_link(fun() ->
                             [protets:update_counter(T, c, [{2, 1}, {3, 2}])
                              || _ <- lists:seq(1, 500)],
                             Self ! done
                     end) || _ <- lists:seq(1, 4)],
    [receive done -> ok end || _ <- Ps],
    ?assertEqual([{c, 2000, 4000}], protets:lookup(T, c)),
    ?assertEqual(1, protets:update_counter(T, d, {2, 1}, {d, 0})),
    ?assertEqual(5, protets:update_counter(T, d, {2, 10, 5, 5})),
    ?assertError(badarg, protets:update_counter(T, e, 1)),
    ?assertError(badarg, protets:update_counter(T, c, {1, 1})),
    ?assertEqual(true, protets:update_element(T, c, [{3, done}])),
    ?assertEqual([{c, 2000, done}], protets:lookup(T, c)),
    ?assertEqual(false, protets:update_element(T, nope, {2, x})),
    ok = protets:drop(counter_test).

matchspecs() ->
    {ok, T} = protets:get(ms_test, [ordered_set]),
    E = ets:new(ms, [ordered_set]),
    Objs = [{I, I rem 3, integer_to_list(I)} || I <- lists:seq(1, 50)],
    protets:insert(T, Objs),
    ets:insert(E, Objs),
    MS = [{{'$1', 0, '_'}, [{'<', '$1', 30}], [{{'$1'}}]}],
    ?assertEqual(ets:select(E, MS), protets:select(T, MS)),
    ?assertEqual(ets:select_count(E, [{{'_', 1, '_'}, [], [true]}]),
                 protets:select_count(T, [{{'_', 1, '_'}, [], [true]}])),
    ?assertEqual(ets:match_object(E, {'_', 2, '_'}),
                 protets:match_object(T, {'_', 2, '_'})),
    {L1, C1} = protets:select(T, [{'_', [], ['$_']}], 20),
    {L2, C2} = protets:select(C1),
    {L3, '$end_of_table'} = protets:select(C2),
    ?assertEqual(Objs, L1 ++ L2 ++ L3),
    ?assertEqual('$end_of_table', protets:select(T, [{{a, '_', '_'}, [], ['$_']}], 5)),
    ?assertEqual(16, protets:select_delete(T, [{{'_', 0, '_'}, [], [true]}])),
    ?assertEqual(34, protets:info(T, size)),
    ?assertEqual(lists:sum([I || {I, _, _} <- protets:tab2list(T)]),
                 protets:foldl(fun({I, _, _}, A) -> A + I end, 0, T)),
    ?assertEqual([I || {I, _, _} <- protets:tab2list(T)],
                 protets:foldr(fun({I, _, _}, A) -> [I | A] end, [], T)),
    ?assertError(badarg, protets:select(T, [bad])),
    ok = protets:drop(ms_test).

files(#{dir := Dir}) ->
    {ok, T} = protets:get(file_test, [ordered_set, {keypos, 2}]),
    Objs = [{lists:seq(1, I), {I, <<"k">>}} || I <- lists:seq(1, 200)],
    true = protets:insert(T, lists:sublist(Objs, 1, 20)),
    [true = protets:insert(T, O) || O <- lists:nthtail(20, Objs)],
    File = filename:join(Dir, "file_test.tab"),
    ok = protets:tab2file(T, File),
    ok = protets:drop(file_test),
    {ok, T2} = protets:file2tab(File),
    ?assertEqual(Objs, protets:tab2list(T2)),
    ?assertEqual(file_test, protets:info(T2, name)),
    ?assertEqual(2, protets:info(T2, keypos)),
    ?assertEqual(200, protets:info(T2, size)),
    ?assertMatch({error, {exists, _}}, protets:file2tab(File)),
    ?assertMatch({error, {errno, _}}, protets:file2tab(File ++ ".none")),
    ok = protets:drop(file_test).

drop() ->
    {ok, T} = protets:get(drop_test),
    true = protets:insert(T, {a}),
    ok = protets:drop(drop_test),
    ?assertError(badarg, protets:lookup(T, a)),
    ?assertMatch({error, {notfound, _}}, protets:drop(drop_test)),
    {ok, T2} = protets:get(drop_test),
    ?assertEqual([], protets:tab2list(T2)),
    %% A drop while processes read and write through the handle: each
    %% gets badarg from then on, the mapping is gone, the BEAM lives.
    Self = self(),
    Ps = [spawn_link(fun() -> hammer(T2, I, 0), Self ! {stopped, self()} end)
          || I <- lists:seq(1, 4)],
    wait_until(fun() -> protets:info(T2, size) >= 4 end, "writers going"),
    ok = protets:drop(drop_test),
    [receive {stopped, P} -> ok end || P <- Ps],
    ?assertError(badarg, protets:insert(T2, {a})).

hammer(T, I, N) ->
    case catch begin
                   protets:insert(T, {{I, N rem 100}}),
                   protets:lookup(T, {I, N rem 7})
               end of
        {'EXIT', {badarg, _}} -> ok;
        _ -> hammer(T, I, N + 1)
    end.

%% ------------------------------------------------------------------
%% Other nodes: peers on this machine (peer, over standard I/O).

peer(#{sock := Sock}) ->
    Ebin = filename:dirname(code:which(protets)),
    TestDir = filename:dirname(code:which(?MODULE)),
    {ok, Peer, _} = peer:start(#{connection => standard_io,
                                 args => ["-pa", Ebin, "-pa", TestDir]}),
    ok = peer:call(Peer, application, set_env, [protets, socket, Sock]),
    Peer.

%% Stop a peer and wait until its OS process is gone (it held tables).
stop_peer(Peer) ->
    OsPid = peer:call(Peer, os, getpid, []),
    peer:stop(Peer),
    wait_until(fun() -> sh("kill -0 " ++ OsPid ++ " 2>/dev/null || echo gone")
                            =:= "gone" end, "peer gone").

%% Run F(Args...) on node Peer (a fun of this module: the peer loads it).
on(Peer, F, Args) ->
    peer:call(Peer, erlang, apply, [F, Args], 60000).

get_insert(Name, Opts, Objs) ->
    {ok, T} = protets:get(Name, Opts),
    [true = protets:insert(T, O) || O <- Objs],
    ok.

with(Name, F) ->
    {ok, T} = protets:get(Name),
    F(T).

%% A node makes tables of every type, writes, and is killed with SIGKILL;
%% a new node finds every table and every object.
beam_kill(D) ->
    A = peer(D),
    OsPid = peer:call(A, os, getpid, []),
    Types = [set, ordered_set, bag, duplicate_bag],
    Objs = [{I, I * I} || I <- lists:seq(1, 100)] ++ [{1, one}, {1, one}],
    [ok = on(A, fun get_insert/3, [{killed, Ty}, [Ty], Objs]) || Ty <- Types],
    Ref = monitor(process, A),
    "" = sh("kill -9 " ++ OsPid),
    receive {'DOWN', Ref, process, A, _} -> ok end,
    wait_until(fun() -> sh("kill -0 " ++ OsPid ++ " 2>/dev/null || echo gone")
                            =:= "gone" end, "node gone"),
    B = peer(D),
    lists:foreach(
      fun(Ty) ->
              E = ets:new(e, [Ty]),
              [ets:insert(E, O) || O <- Objs],
              {Got, Type} = on(B, fun with/2, [{killed, Ty},
                                               fun(T) -> {protets:tab2list(T),
                                                          protets:info(T, type)}
                                               end]),
              ?assertEqual(lists:sort(ets:tab2list(E)), lists:sort(Got)),
              ?assertEqual(Ty, Type),
              ets:delete(E)
      end, Types),
    stop_peer(B),
    [ok = protets:drop({killed, Ty}) || Ty <- Types].

%% Two nodes share a table: each sees the other's writes as they happen;
%% both write at once and nothing is lost.
two_nodes(D) ->
    A = peer(D),
    B = peer(D),
    ok = on(A, fun get_insert/3, [shared, [set, public], [{from_a, 1}]]),
    ?assertEqual([{from_a, 1}],
                 on(B, fun with/2, [shared, fun(T) -> protets:lookup(T, from_a) end])),
    true = on(B, fun with/2, [shared, fun(T) -> protets:delete(T, from_a) end]),
    ?assertEqual(false,
                 on(A, fun with/2, [shared, fun(T) -> protets:member(T, from_a) end])),
    Self = self(),
    Write = fun(Peer, Tag) ->
                    spawn_link(fun() ->
                                       ok = on(Peer, fun get_insert/3,
                                               [shared, [], [{{Tag, I}, I} || I <- lists:seq(1, 2000)]]),
                                       Self ! {done, Tag}
                               end)
            end,
    Write(A, a),
    Write(B, b),
    receive {done, a} -> ok end,
    receive {done, b} -> ok end,
    ?assertEqual(4000, on(A, fun with/2, [shared, fun(T) -> protets:info(T, size) end])),
    {ok, T} = protets:get(shared),
    ?assertEqual(4000, length(protets:tab2list(T))),
    stop_peer(A),
    stop_peer(B),
    ok = protets:drop(shared).

%% A node stopped (SIGSTOP) while it holds a table's write lock: this
%% node's insert meets the lock (lock_timeouts counts it: the NIF's lock
%% timeout is 0), waits on a dirty scheduler while lookups go on on the
%% normal ones, and completes once the holder is continued (SIGCONT).
lock_held(D) ->
    A = peer(D),
    OsPid = peer:call(A, os, getpid, []),
    ok = on(A, fun get_insert/3, [jam, [set, public], []]),
    _ = peer:call(A, erlang, spawn, [fun() -> jam_loop(jam) end]),
    {ok, T} = protets:get(jam),
    true = protets:insert(T, {seen, 1}),
    ok = jam(D, OsPid, T, 500),
    stop_peer(A),
    ok = protets:drop(jam).

jam_loop(Name) ->
    {ok, T} = protets:get(Name),
    Big = binary:copy(<<"x">>, 500000),
    jam_loop(T, Big, 0).

jam_loop(T, Big, I) ->
    protets:insert(T, {I rem 8, Big}),
    jam_loop(T, Big, I + 1).

lock_timeouts(#{sock := Sock}, Name) ->
    Out = sh(build() ++ "/protets -s " ++ Sock ++ " stats " ++ Name),
    [V] = [list_to_integer(string:trim(V0))
           || L <- string:lexemes(Out, "\n"),
              [K, V0] <- [string:split(L, ":")], K =:= "lock_timeouts"],
    V.

%% Stop the holder until it is stopped holding the lock (tries times).
jam(_, _, _, 0) ->
    error(never_stopped_holding_the_lock);
jam(D, OsPid, T, Tries) ->
    "" = sh("kill -STOP " ++ OsPid),
    Before = lock_timeouts(D, "jam"),
    Self = self(),
    W = spawn(fun() -> Self ! {inserted, self(), protets:insert(T, {mine, 1})} end),
    wait_until(fun() ->
                       lock_timeouts(D, "jam") > Before orelse
                           element(2, process_info(self(), message_queue_len)) > 0
               end, "insert done or waiting"),
    receive
        {inserted, W, true} ->
            "" = sh("kill -CONT " ++ OsPid),
            true = protets:delete(T, mine),
            jam(D, OsPid, T, Tries - 1)
    after 0 ->
            %% The insert waits (dirty); normal schedulers serve lookups.
            [?assertEqual([{seen, 1}], protets:lookup(T, seen))
             || _ <- lists:seq(1, 1000)],
            ?assertEqual(false, protets:member(T, mine)),
            "" = sh("kill -CONT " ++ OsPid),
            receive {inserted, W, R} -> ?assertEqual(true, R) end,
            ?assertEqual([{mine, 1}], protets:lookup(T, mine)),
            ok
    end.
