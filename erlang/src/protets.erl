%% protets.erl - the original protets API (protets:get/1,2, drop/1) and the
%% ets module's operations, on tables kept by protetsd in shared memory:
%% they outlive the process that made them, the daemon's workers and the
%% BEAM node itself (erlang/README.md is the manual).
%%
%% A table handle (Tab) is a NIF resource holding the table's mapping; it
%% is closed when garbage-collected.  Reads and writes run in the calling
%% process, at memory speed (protets_nif.c); the calls to the daemon
%% (get, drop, info, tab2file, file2tab) run on dirty schedulers.
%% update_counter/update_element read, compute here and write back with a
%% compare-and-put (nif_cas), retried until no other writer of this node
%% came in between.  select/match_object run the match specification with
%% ets:match_spec_run/2 over tab2list/1.
-module(protets).

-export([get/1, get/2, drop/1]).
-export([insert/2, insert_new/2, lookup/2, lookup_element/3, member/2,
         take/2, delete/2, delete_object/2, delete_all_objects/1,
         update_counter/3, update_counter/4, update_element/3,
         first/1, next/2, last/1, prev/2, foldl/3, foldr/3, tab2list/1,
         info/1, info/2, select/1, select/2, select/3, select_count/2,
         select_delete/2, match_object/2, tab2file/2, file2tab/1]).
-export([table_name/1, name_of/1]).

-on_load(init/0).

-define(NIF, erlang:nif_error(nif_not_loaded)).

init() ->
    Ebin = filename:dirname(code:which(?MODULE)),
    Priv = filename:join(filename:dirname(Ebin), "priv"),
    erlang:load_nif(filename:join(Priv, "protets_nif"), 0).

%% ------------------------------------------------------------------
%% The original API.

%% get(Name) -> {ok, Tab}: the table called Name, made a set if new.
get(Name) ->
    get(Name, []).

%% get(Name, Opts) -> {ok, Tab} | {error, {Code, Message}}: the table
%% called Name (any term), made with Opts (ets:new/2's) if new.
get(Name, Opts) when is_list(Opts) ->
    {Type, Access, WC, KeyPos} = opts(Opts, {0, 0, 0, 0}),
    TName = table_name(Name),
    with_conn(fun(C) -> nif_get(C, TName, Type, Access, WC, KeyPos, Name) end);
get(_, _) ->
    error(badarg).

%% drop(Name) -> ok | {error, {Code, Message}}: delete the table; this
%% node's handles of it are closed (badarg from then on).
drop(Name) ->
    TName = table_name(Name),
    with_conn(fun(C) -> nif_drop(C, TName) end).

opts([], Acc) -> Acc;
opts([T | R], {_, A, W, K}) when T =:= set; T =:= ordered_set; T =:= bag;
                                 T =:= duplicate_bag ->
    opts(R, {type_code(T), A, W, K});
opts([A | R], {T, _, W, K}) when A =:= public; A =:= protected;
                                 A =:= private ->
    opts(R, {T, access_code(A), W, K});
opts([{keypos, K} | R], {T, A, W, _}) when is_integer(K), K >= 1 ->
    opts(R, {T, A, W, K});
opts([{write_concurrency, N} | R], {T, A, _, K})
  when is_integer(N), N >= 1, N =< 16 ->
    opts(R, {T, A, N, K});
opts([{write_concurrency, B} | R], Acc) when is_boolean(B); B =:= auto ->
    opts(R, Acc);
opts([{read_concurrency, B} | R], Acc) when is_boolean(B) ->
    opts(R, Acc);
opts([{decentralized_counters, B} | R], Acc) when is_boolean(B) ->
    opts(R, Acc);
opts([{heir, _, _} | R], Acc) ->
    opts(R, Acc);
opts([{heir, none} | R], Acc) ->
    opts(R, Acc);
opts([O | R], Acc) when O =:= named_table; O =:= compressed ->
    opts(R, Acc);
opts(_, _) ->
    error(badarg).

type_code(set) -> 1;
type_code(ordered_set) -> 2;
type_code(bag) -> 3;
type_code(duplicate_bag) -> 4.

access_code(public) -> 1;
access_code(protected) -> 2;
access_code(private) -> 3.

%% The daemon's name of table Name: an atom of letters, digits and _ . -
%% is its own text (so `protets get foo` and protets:get(foo) are one
%% table); any other term is "erl%" then term_to_binary(Name), each byte
%% outside 0x21..0x7e, and '%', written %XX; when that is longer than the
%% daemon's 255 bytes, "erl#" and the MD5 of term_to_binary(Name) in hex
%% (the table's meta entry keeps Name itself, for info/2).
table_name(Name) when is_atom(Name) ->
    S = atom_to_binary(Name, utf8),
    case plain(S) of
        true when byte_size(S) > 0, byte_size(S) =< 255 -> S;
        _ -> escaped(Name)
    end;
table_name(Name) ->
    escaped(Name).

plain(S) ->
    lists:all(fun(C) -> (C >= $a andalso C =< $z) orelse
                            (C >= $A andalso C =< $Z) orelse
                            (C >= $0 andalso C =< $9) orelse
                            C =:= $_ orelse C =:= $. orelse C =:= $-
              end, binary_to_list(S)).

escaped(Name) ->
    B = term_to_binary(Name, [{minor_version, 2}]),
    E = iolist_to_binary(["erl%" | [esc(C) || <<C>> <= B]]),
    case byte_size(E) =< 255 of
        true -> E;
        false -> iolist_to_binary(["erl#" | [io_lib:format("~2.16.0b", [C])
                                            || <<C>> <= erlang:md5(B)]])
    end.

esc(C) when C > 16#20, C < 16#7f, C =/= $% -> C;
esc(C) -> io_lib:format("%~2.16.0B", [C]).

%% The Erlang name of a daemon table name (table_name/1 backwards; a
%% hashed one has only the hash: info(Tab, name) reads the meta entry).
name_of(<<"erl#", _/binary>> = H) ->
    {protets_hashed_name, H};
name_of(<<"erl%", E/binary>>) ->
    binary_to_term(unesc(E, <<>>));
name_of(S) when is_binary(S) ->
    binary_to_atom(S, utf8);
name_of(S) when is_list(S) ->
    name_of(list_to_binary(S)).

unesc(<<"%", H:2/binary, R/binary>>, Acc) ->
    unesc(R, <<Acc/binary, (binary_to_integer(H, 16))>>);
unesc(<<C, R/binary>>, Acc) ->
    unesc(R, <<Acc/binary, C>>);
unesc(<<>>, Acc) ->
    Acc.

%% F(Conn) with the connection to the daemon at the application's socket
%% (env protets.socket), else the library's default ($PROTETS_SOCKET, the
%% configuration's socket), made once per node and socket; its errors
%% (and F's) as {error, {Code, Message}}.
with_conn(F) ->
    Sock = case application:get_env(protets, socket) of
               {ok, S} -> iolist_to_binary(S);
               undefined -> undefined
           end,
    R = case persistent_term:get({?MODULE, conn, Sock}, undefined) of
            undefined ->
                case nif_connect(Sock) of
                    {error, _, _} = E -> E;
                    C ->
                        persistent_term:put({?MODULE, conn, Sock}, C),
                        F(C)
                end;
            C ->
                F(C)
        end,
    case R of
        {error, Code, Msg} -> {error, {Code, Msg}};
        Ok -> Ok
    end.

%% ------------------------------------------------------------------
%% ETS operations.

insert(Tab, Objs) -> nif_insert(Tab, bag_order(Tab, Objs)).
insert_new(Tab, Objs) -> nif_insert_new(Tab, bag_order(Tab, Objs)).

%% ETS (OTP 25) inserts a list into a bag last object first: the objects
%% of one key come out of lookup in that order, so do the same.
bag_order(Tab, [_, _ | _] = Objs) ->
    case nif_props(Tab) of
        {bag, _, _, _} -> lists:reverse(Objs);
        _ -> Objs
    end;
bag_order(_, Objs) ->
    Objs.
lookup(Tab, Key) -> nif_lookup(Tab, Key).
member(Tab, Key) -> nif_member(Tab, Key).
take(Tab, Key) -> nif_take(Tab, Key).
delete(Tab, Key) -> nif_delete(Tab, Key).
delete_object(Tab, Obj) -> nif_delete_object(Tab, Obj).
delete_all_objects(Tab) -> nif_delete_all_objects(Tab).
first(Tab) -> nif_first(Tab).
next(Tab, Key) -> nif_next(Tab, Key).
last(Tab) -> nif_last(Tab).
prev(Tab, Key) -> nif_prev(Tab, Key).
tab2list(Tab) -> nif_tab2list(Tab).

lookup_element(Tab, Key, Pos) when is_integer(Pos), Pos >= 1 ->
    {Type, _, _, _} = nif_props(Tab),
    Els = [element(Pos, O) || O <- nif_lookup(Tab, Key), Pos =< tuple_size(O)],
    case {Type, Els} of
        {_, []} -> error(badarg);
        {T, [E]} when T =:= set; T =:= ordered_set -> E;
        {T, _} when T =:= bag; T =:= duplicate_bag ->
            case length(Els) =:= length(nif_lookup(Tab, Key)) of
                true -> Els;
                false -> error(badarg)
            end
    end;
lookup_element(_, _, _) ->
    error(badarg).

foldl(F, Acc, Tab) when is_function(F, 2) ->
    lists:foldl(F, Acc, nif_tab2list(Tab)).

foldr(F, Acc, Tab) when is_function(F, 2) ->
    lists:foldr(F, Acc, nif_tab2list(Tab)).

%% update_counter(Tab, Key, UpdateOp[s] [, Default]) as ETS's.
update_counter(Tab, Key, Op) ->
    counter(Tab, Key, Op, none).

update_counter(Tab, Key, Op, Default) when is_tuple(Default) ->
    counter(Tab, Key, Op, Default);
update_counter(_, _, _, _) ->
    error(badarg).

counter(Tab, Key, Op, Default) ->
    {Type, KeyPos, _, _} = nif_props(Tab),
    set_type(Type),
    {Old, Obj0} = current(Tab, Key, KeyPos, Default),
    {Obj, Result} = counter_ops(Op, Obj0, KeyPos),
    case nif_cas(Tab, Old, Obj) of
        true -> Result;
        false -> counter(Tab, Key, Op, Default)
    end.

set_type(set) -> ok;
set_type(ordered_set) -> ok;
set_type(_) -> error(badarg).

%% The stored bytes and object of Key, or undefined and the default.
current(Tab, Key, KeyPos, Default) ->
    case nif_lookup_raw(Tab, Key) of
        undefined when Default =:= none ->
            error(badarg);
        undefined when tuple_size(Default) >= KeyPos ->
            {undefined, setelement(KeyPos, Default, Key)};
        undefined ->
            error(badarg);
        Bin ->
            {Bin, binary_to_term(Bin)}
    end.

counter_ops(Ops, Obj, KeyPos) when is_list(Ops) ->
    {Obj1, Rs} = lists:foldl(fun(Op, {O, Acc}) ->
                                     {O1, R} = counter_op(Op, O, KeyPos),
                                     {O1, [R | Acc]}
                             end, {Obj, []}, Ops),
    {Obj1, lists:reverse(Rs)};
counter_ops(Op, Obj, KeyPos) ->
    counter_op(Op, Obj, KeyPos).

counter_op(Incr, Obj, KeyPos) when is_integer(Incr) ->
    counter_op({KeyPos + 1, Incr}, Obj, KeyPos);
counter_op({Pos, Incr}, Obj, KeyPos) when is_integer(Incr) ->
    V = counter_at(Pos, Obj, KeyPos) + Incr,
    {setelement(Pos, Obj, V), V};
counter_op({Pos, Incr, Thr, Set}, Obj, KeyPos)
  when is_integer(Incr), is_integer(Thr), is_integer(Set) ->
    V0 = counter_at(Pos, Obj, KeyPos) + Incr,
    V = if Incr >= 0, V0 > Thr -> Set;
           Incr < 0, V0 < Thr -> Set;
           true -> V0
        end,
    {setelement(Pos, Obj, V), V};
counter_op(_, _, _) ->
    error(badarg).

counter_at(Pos, Obj, KeyPos) when is_integer(Pos), Pos >= 1,
                                  Pos =/= KeyPos, Pos =< tuple_size(Obj) ->
    case element(Pos, Obj) of
        V when is_integer(V) -> V;
        _ -> error(badarg)
    end;
counter_at(_, _, _) ->
    error(badarg).

%% update_element(Tab, Key, {Pos, Value} | [{Pos, Value}]) -> boolean()
update_element(Tab, Key, Spec) ->
    {Type, KeyPos, _, _} = nif_props(Tab),
    set_type(Type),
    Specs = if is_list(Spec) -> Spec; true -> [Spec] end,
    case nif_lookup_raw(Tab, Key) of
        undefined ->
            check_elements(Specs, KeyPos, infinity),
            false;
        Bin ->
            Obj0 = binary_to_term(Bin),
            check_elements(Specs, KeyPos, tuple_size(Obj0)),
            Obj = lists:foldl(fun({P, V}, O) -> setelement(P, O, V) end,
                              Obj0, Specs),
            case nif_cas(Tab, Bin, Obj) of
                true -> true;
                false -> update_element(Tab, Key, Spec)
            end
    end.

check_elements(Specs, KeyPos, Size) ->
    lists:foreach(fun({P, _}) when is_integer(P), P >= 1, P =/= KeyPos,
                                   P =< Size -> ok;
                     (_) -> error(badarg)
                  end, Specs).

%% info(Tab) -> [{Item, Value}]; info(Tab, Item) -> Value.
info(Tab) ->
    case nif_info(Tab) of
        {error, Code, Msg} ->
            error({protets_error, Code, Msg});
        {Name, Type, Access, Uid, Worker, _, Used, Mem, WC, KeyPos} ->
            [{id, Tab}, {name, tab_name(Tab, Name)}, {type, Type},
             {keypos, KeyPos}, {size, nif_count(Tab)},
             {memory, Mem div erlang:system_info(wordsize)},
             {protection, Access}, {owner, none}, {heir, none},
             {named_table, false}, {node, node()},
             {write_concurrency, WC > 1}, {read_concurrency, true},
             {compressed, false}, {protets_name, list_to_binary(Name)},
             {bytes_used, Used}, {owner_uid, Uid}, {worker_pid, Worker}]
    end.

info(Tab, size) -> nif_count(Tab);
info(Tab, type) -> element(1, nif_props(Tab));
info(Tab, keypos) -> element(2, nif_props(Tab));
info(Tab, name) -> tab_name(Tab, element(3, nif_props(Tab)));
info(Tab, id) -> nif_props(Tab), Tab;
info(Tab, Item) when is_atom(Item) ->
    case lists:keyfind(Item, 1, info(Tab)) of
        {_, V} -> V;
        false -> error(badarg)
    end;
info(_, _) ->
    error(badarg).

%% The Erlang name of Tab, whose daemon name is Name.
tab_name(Tab, Name) ->
    case {list_to_binary(Name), nif_meta(Tab)} of
        {<<"erl#", _/binary>>, {protets_meta, 1, _, N}} -> N;
        {B, _} -> name_of(B)
    end.

%% ------------------------------------------------------------------
%% Match specifications, over tab2list/1.

select(Tab, MS) ->
    ets:match_spec_run(nif_tab2list(Tab), compile(MS)).

select(Tab, MS, Limit) when is_integer(Limit), Limit >= 1 ->
    chunk(select(Tab, MS), Limit);
select(_, _, _) ->
    error(badarg).

select({protets_cont, Rest, Limit}) ->
    chunk(Rest, Limit);
select('$end_of_table') ->
    '$end_of_table';
select(_) ->
    error(badarg).

chunk([], _) ->
    '$end_of_table';
chunk(L, Limit) when length(L) =< Limit ->
    {L, '$end_of_table'};
chunk(L, Limit) ->
    {H, T} = lists:split(Limit, L),
    {H, {protets_cont, T, Limit}}.

select_count(Tab, MS) ->
    C = compile(MS),
    length([O || O <- nif_tab2list(Tab), ets:match_spec_run([O], C) =:= [true]]).

select_delete(Tab, MS) ->
    C = compile(MS),
    Del = [O || O <- nif_tab2list(Tab), ets:match_spec_run([O], C) =:= [true]],
    lists:foreach(fun(O) -> nif_delete_object(Tab, O) end, Del),
    length(Del).

match_object(Tab, Pattern) ->
    select(Tab, [{Pattern, [], ['$_']}]).

compile(MS) ->
    try ets:match_spec_compile(MS)
    catch error:_ -> error(badarg)
    end.

%% ------------------------------------------------------------------
%% Files: protets' saved-table format (protets save / load).

tab2file(Tab, File) ->
    case nif_save(Tab, unicode:characters_to_binary(File)) of
        ok -> ok;
        {error, Code, Msg} -> {error, {Code, Msg}}
    end.

file2tab(File) ->
    Path = unicode:characters_to_binary(File),
    with_conn(fun(C) -> nif_load(C, Path) end).

%% ------------------------------------------------------------------
%% The NIF (protets_nif.c).

nif_connect(_) -> ?NIF.
nif_get(_, _, _, _, _, _, _) -> ?NIF.
nif_drop(_, _) -> ?NIF.
nif_info(_) -> ?NIF.
nif_save(_, _) -> ?NIF.
nif_load(_, _) -> ?NIF.
nif_insert(_, _) -> ?NIF.
nif_insert_new(_, _) -> ?NIF.
nif_delete(_, _) -> ?NIF.
nif_delete_object(_, _) -> ?NIF.
nif_delete_all_objects(_) -> ?NIF.
nif_take(_, _) -> ?NIF.
nif_cas(_, _, _) -> ?NIF.
nif_lookup(_, _) -> ?NIF.
nif_lookup_raw(_, _) -> ?NIF.
nif_member(_, _) -> ?NIF.
nif_first(_) -> ?NIF.
nif_last(_) -> ?NIF.
nif_next(_, _) -> ?NIF.
nif_prev(_, _) -> ?NIF.
nif_tab2list(_) -> ?NIF.
nif_count(_) -> ?NIF.
nif_props(_) -> ?NIF.
nif_meta(_) -> ?NIF.
