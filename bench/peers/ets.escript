#!/usr/bin/env escript
%% -*- erlang -*-
%%
%% ets.escript - the standard workload (bench/README.md) on Erlang ETS,
%% compiled (not interpreted), one Erlang process doing the operations on a
%% public table: set (insert, lookup_hit, lookup_miss, counter with
%% ets:update_counter/4 and a default, lookup_hit_2proc with two Erlang
%% processes on the VM's two schedulers, delete), then the same on an
%% ordered_set plus scan (after lookup_miss: the N keys in order with
%% ets:first/ets:next, checked in order and all there) and, after delete,
%% insert_random and delete_random (the keys of lookup_hit's random order
%% in, then those of the second random order out).  Keys and values
%% are binaries; each hit copies the {Key, Value} tuple out of the table
%% (as ets:lookup does) and reads a byte of the value.
%%
%% Each timed loop runs in a fresh process that receives only its input
%% lists, copied into its heap at spawn: the keys then lie in memory in
%% the order the loop reads them, as the C programs lay theirs out in one
%% buffer (a list of references to the key binaries would add a random
%% memory read per operation).  A full then a minor collection before the
%% timer moves that input to the old heap, so the timed loop pays only for
%% its own garbage.
%%
%%   escript bench/peers/ets.escript [-n N] [-r RUNS]
%%
%% Prints "ets PHASE OPS_PER_SEC" and "ets_ordered_set PHASE OPS_PER_SEC",
%% the median of RUNS; progress on stderr.
-mode(compile).

main(Args) ->
    {N, Runs} = args(Args, 1000000, 3),
    W = workload(N),
    Set = [run_set(W, R, Runs) || R <- lists:seq(1, Runs)],
    report("ets", ["insert", "lookup_hit", "lookup_miss", "counter",
                   "lookup_hit_2proc", "delete"], Set),
    Ord = [run_ordered(W, R, Runs) || R <- lists:seq(1, Runs)],
    report("ets_ordered_set", ["insert", "lookup_hit", "lookup_miss",
                               "scan", "counter", "lookup_hit_2proc",
                               "delete", "insert_random", "delete_random"],
           Ord).

args(["-n", V | T], _, R) -> args(T, list_to_integer(V), R);
args(["-r", V | T], N, _) -> args(T, N, list_to_integer(V));
args([], N, R) when N > 0, R > 0 -> {N, R};
args(_, _, _) ->
    io:format(standard_error, "usage: ets.escript [-n N] [-r RUNS]~n", []),
    halt(2).

progress(Fmt, A) -> io:format(standard_error, "ets: " ++ Fmt ++ "~n", A).

%% "prefix" followed by I in decimal, zero-padded to Width digits.
str(Prefix, I, Width) ->
    B = integer_to_binary(I),
    Pad = binary:copy(<<"0">>, Width - byte_size(B)),
    <<Prefix/binary, Pad/binary, B/binary>>.

-define(MASK, 16#FFFFFFFFFFFFFFFF).
xorshift(X0) ->
    X1 = (X0 bxor (X0 bsl 13)) band ?MASK,
    X2 = X1 bxor (X1 bsr 7),
    (X2 bxor (X2 bsl 17)) band ?MASK.

%% The N values of r mod M for a seed, in order.
randoms(Seed, N, M) -> randoms(Seed, N, M, []).
randoms(_, 0, _, Acc) -> lists:reverse(Acc);
randoms(S, K, M, Acc) ->
    S1 = xorshift(S),
    randoms(S1, K - 1, M, [S1 rem M | Acc]).

%% The keys in the random order of a seed.
order(Seed, N, KeyT) -> [element(I + 1, KeyT) || I <- randoms(Seed, N, N)].

workload(N) ->
    progress("generating ~B keys", [N]),
    Is = lists:seq(0, N - 1),
    Keys = [str(<<"key:">>, I, 10) || I <- Is],
    KeyT = list_to_tuple(Keys),
    #{n => N,
      keys => Keys,
      vals => [str(<<"val:">>, I, 28) || I <- Is],
      miss => [str(<<"nokey:">>, I, 8) || I <- Is],
      ctr => [str(<<"ctr:">>, I, 4) || I <- randoms(42, N, 1000)],
      hit0 => order(42, N, KeyT),
      hit1 => order(43, N, KeyT)}.

now_s() -> erlang:monotonic_time(nanosecond) / 1.0e9.

%% Run F in a fresh process (see the top); returns its {Start, End}.
in_fresh(F) ->
    Self = self(),
    Pid = spawn_link(fun() ->
                         garbage_collect(),
                         garbage_collect(self(), [{type, minor}]),
                         T0 = now_s(),
                         F(),
                         Self ! {self(), T0, now_s()}
                     end),
    receive {Pid, T0, T1} -> {T0, T1} end.

timed(N, F) ->
    {T0, T1} = in_fresh(F),
    N / (T1 - T0).

insert(_, [], []) -> ok;
insert(T, [K | Ks], [V | Vs]) -> true = ets:insert(T, {K, V}), insert(T, Ks, Vs).

hits(_, [], Sum) when Sum > 0 -> ok;
hits(T, [K | Ks], Sum) ->
    [{_, V}] = ets:lookup(T, K),
    32 = byte_size(V),
    hits(T, Ks, Sum + binary:at(V, 5)).

misses(_, []) -> ok;
misses(T, [K | Ks]) -> [] = ets:lookup(T, K), misses(T, Ks).

counters(_, []) -> ok;
counters(T, [K | Ks]) ->
    _ = ets:update_counter(T, K, {2, 1}, {K, 0}),
    counters(T, Ks).

%% The whole table in key order; each key must follow the one before.
scan(T) -> scan(T, ets:first(T), 0).
scan(_, '$end_of_table', C) -> C;
scan(T, K, C) ->
    case ets:next(T, K) of
        '$end_of_table' -> C + 1;
        K1 when K1 > K -> scan(T, K1, C + 1)
    end.

deletes(_, []) -> ok;
deletes(T, [K | Ks]) -> true = ets:delete(T, K), deletes(T, Ks).

%% Two Erlang processes, process P with the random order of seed 42 + P
%% (copied in at spawn), released together; 2N over the earliest start to
%% the latest end.
two_proc(T, N, Orders) ->
    Self = self(),
    Pids = [spawn_link(fun() ->
                garbage_collect(),
                garbage_collect(self(), [{type, minor}]),
                Self ! {ready, self()},
                receive go -> ok end,
                T0 = now_s(),
                hits(T, Order, 0),
                Self ! {done, self(), T0, now_s()}
            end) || Order <- Orders],
    [receive {ready, P} -> ok end || P <- Pids],
    [P ! go || P <- Pids],
    Spans = [receive {done, P, T0, T1} -> {T0, T1} end || P <- Pids],
    2 * N / (lists:max([E || {_, E} <- Spans]) -
             lists:min([S || {S, _} <- Spans])).

run_set(#{n := N, keys := Keys, vals := Vals, miss := Miss,
          ctr := Ctr, hit0 := Hit0, hit1 := Hit1}, R, Runs) ->
    progress("set, run ~B/~B", [R, Runs]),
    T = ets:new(bench, [set, public]),
    Ins = timed(N, fun() -> insert(T, Keys, Vals) end),
    Hit = timed(N, fun() -> hits(T, Hit0, 0) end),
    Mis = timed(N, fun() -> misses(T, Miss) end),
    Cnt = timed(N, fun() -> counters(T, Ctr) end),
    N = lists:sum([C || I <- lists:seq(0, 999),
                        {_, C} <- ets:lookup(T, str(<<"ctr:">>, I, 4))]),
    Two = two_proc(T, N, [Hit0, Hit1]),
    Del = timed(N, fun() -> deletes(T, Keys) end),
    ets:delete(T),
    [Ins, Hit, Mis, Cnt, Two, Del].

run_ordered(#{n := N, keys := Keys, vals := Vals, miss := Miss,
              ctr := Ctr, hit0 := Hit0, hit1 := Hit1}, R, Runs) ->
    progress("ordered_set, run ~B/~B", [R, Runs]),
    T = ets:new(bench_ord, [ordered_set, public]),
    Ins = timed(N, fun() -> insert(T, Keys, Vals) end),
    Hit = timed(N, fun() -> hits(T, Hit0, 0) end),
    Mis = timed(N, fun() -> misses(T, Miss) end),
    Scn = timed(N, fun() -> N = scan(T) end),
    Cnt = timed(N, fun() -> counters(T, Ctr) end),
    N = lists:sum([C || I <- lists:seq(0, 999),
                        {_, C} <- ets:lookup(T, str(<<"ctr:">>, I, 4))]),
    Two = two_proc(T, N, [Hit0, Hit1]),
    Del = timed(N, fun() -> deletes(T, Keys) end),
    %% random key order: lookup_hit's keys in (repeats replace), then the
    %% second order's out (absent ones too)
    InsR = timed(N, fun() -> insert(T, Hit0, Vals) end),
    DelR = timed(N, fun() -> deletes(T, Hit1) end),
    ets:delete(T),
    [Ins, Hit, Mis, Scn, Cnt, Two, Del, InsR, DelR].

median(L) -> lists:nth(length(L) div 2 + 1, lists:sort(L)).

report(Peer, Phases, Runs) ->
    lists:foreach(
      fun({I, Phase}) ->
          io:format("~s ~s ~B~n",
                    [Peer, Phase, round(median([lists:nth(I, R) || R <- Runs]))])
      end, lists:zip(lists:seq(1, length(Phases)), Phases)).
