/*
 * redis.c - the standard workload on Redis through libhiredis: one client
 * on a Unix socket, one command per round trip (no pipelining): SET, GET,
 * INCR, DEL.  The server (started by bench/peers/run.sh, no persistence)
 * is flushed before each run.  lookup_hit_2proc forks two processes, each
 * with its own connection.
 *
 * A round trip costs tens of microseconds, so run it with a smaller N
 * (run.sh: BENCH_REDIS_N); the rate hardly depends on N.
 *
 *	redis [-n N] [-r RUNS] SOCKET [NAME]	prints "NAME PHASE OPS_PER_SEC"
 *						(NAME default "redis")
 */
#include <hiredis/hiredis.h>

#include "peer.h"

static const char	*sockpath;
static redisContext	*child_c;

static redisContext *
conn(void)
{
	redisContext *c = redisConnectUnix(sockpath);

	if (c == NULL || c->err)
		fail(sockpath, c ? c->errstr : "cannot connect");
	return c;
}

static redisReply *
cmd(redisContext *c, const char *what, redisReply *r)
{
	if (r == NULL)
		fail(what, c->errstr);
	if (r->type == REDIS_REPLY_ERROR)
		fail(what, r->str);
	return r;
}

static int
lookups(redisContext *c, const char *order, int expect)
{
	redisReply	*r;
	char		 buf[VALLEN];
	size_t		 i;
	unsigned	 sum = 0;
	int		 bad = 0;

	for (i = 0; i < n && !bad; i++) {
		r = cmd(c, "GET", redisCommand(c, "GET %b",
		    order + i * KEYLEN, (size_t)KEYLEN));
		if (expect) {
			if (r->type != REDIS_REPLY_STRING || r->len != VALLEN)
				bad = 1;
			else {
				memcpy(buf, r->str, VALLEN);
				sum += (unsigned char)buf[5];
			}
		} else if (r->type != REDIS_REPLY_NIL)
			bad = 1;
		freeReplyObject(r);
	}
	return bad || (expect && sum == 0);
}

static void
prep_child(int p)
{
	(void)p;
	child_c = conn();
}

static int
work_child(int p, const char *order)
{
	(void)p;
	return lookups(child_c, order, 1);
}

static void
run(redisContext *c)
{
	redisReply	*r;
	size_t		 i;
	long long	 sum = 0;
	double		 t0;
	char		 k[16];

	freeReplyObject(cmd(c, "FLUSHALL", redisCommand(c, "FLUSHALL")));

	t0 = now();
	for (i = 0; i < n; i++)
		freeReplyObject(cmd(c, "SET", redisCommand(c, "SET %b %b",
		    keys + i * KEYLEN, (size_t)KEYLEN,
		    vals + i * VALLEN, (size_t)VALLEN)));
	record("insert", (double)n / (now() - t0));

	t0 = now();
	if (lookups(c, hit0, 1) != 0)
		fail("lookup_hit", "a key is missing");
	record("lookup_hit", (double)n / (now() - t0));

	t0 = now();
	if (lookups(c, miss, 0) != 0)
		fail("lookup_miss", "a miss key is present");
	record("lookup_miss", (double)n / (now() - t0));

	t0 = now();
	for (i = 0; i < n; i++)
		freeReplyObject(cmd(c, "INCR", redisCommand(c, "INCR %b",
		    ctr + i * CTRLEN, (size_t)CTRLEN)));
	record("counter", (double)n / (now() - t0));
	for (i = 0; i < NCTR; i++) {
		snprintf(k, sizeof(k), "ctr:%04zu", i);
		r = cmd(c, "GET", redisCommand(c, "GET %s", k));
		if (r->type == REDIS_REPLY_STRING)
			sum += strtoll(r->str, NULL, 10);
		freeReplyObject(r);
	}
	if (sum != (long long)n)
		fail("counter", "the counters do not sum to N");

	record("lookup_hit_2proc", two_proc(prep_child, work_child, NULL));

	t0 = now();
	for (i = 0; i < n; i++)
		freeReplyObject(cmd(c, "DEL", redisCommand(c, "DEL %b",
		    keys + i * KEYLEN, (size_t)KEYLEN)));
	record("delete", (double)n / (now() - t0));
}

int
main(int argc, char *argv[])
{
	redisContext	*c;
	const char	*name = "redis";
	int		 r, i;

	i = peer_args(argc, argv, "redis [-n N] [-r RUNS] SOCKET [NAME]",
	    NULL, NULL);
	if (i >= argc) {
		fprintf(stderr, "usage: redis [-n N] [-r RUNS] SOCKET [NAME]\n");
		return 2;
	}
	sockpath = argv[i];
	if (i + 1 < argc)
		name = argv[i + 1];
	workload_init();
	c = conn();
	for (r = 0; r < runs; r++) {
		fprintf(stderr, "%s: run %d/%d (n=%zu)\n", name, r + 1, runs, n);
		run(c);
	}
	freeReplyObject(cmd(c, "FLUSHALL", redisCommand(c, "FLUSHALL")));
	redisFree(c);
	report(name);
	return 0;
}
