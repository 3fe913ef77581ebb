/*
 * lmdb.c - the standard workload on LMDB, one write transaction per write
 * (insert, counter, delete), as a durable-on-commit store would be used.
 *
 * The environment lives in a fresh directory on tmpfs (/dev/shm) and is
 * opened with MDB_NOSYNC | MDB_WRITEMAP | MDB_NOMETASYNC, as the reference
 * figures were measured: no fsync, writes straight into the map.  The
 * lookups of a phase run inside one read transaction.  Counters are
 * native int64 values, read and written back in one write txn each.
 * lookup_hit_2proc forks two processes, each opening the environment
 * itself (an LMDB environment must not cross a fork).
 *
 *	lmdb [-n N] [-r RUNS] [DIR]	prints "lmdb PHASE OPS_PER_SEC"
 *					(DIR: parent of the environment,
 *					default /dev/shm)
 */
#include <lmdb.h>

#include "peer.h"

#define ENV_FLAGS	(MDB_NOSYNC | MDB_WRITEMAP | MDB_NOMETASYNC)

static char	 envdir[4096];
static pid_t	 owner;

static void
check(const char *what, int rc)
{
	if (rc != 0)
		fail(what, mdb_strerror(rc));
}

static void
env_open(MDB_env **env, MDB_dbi *dbi)
{
	MDB_txn	*txn;

	check("env_create", mdb_env_create(env));
	check("set_mapsize", mdb_env_set_mapsize(*env,
	    (size_t)n * 256 + ((size_t)256 << 20)));
	check("env_open", mdb_env_open(*env, envdir, ENV_FLAGS, 0600));
	check("txn_begin", mdb_txn_begin(*env, NULL, 0, &txn));
	check("dbi_open", mdb_dbi_open(txn, NULL, 0, dbi));
	check("commit", mdb_txn_commit(txn));
}

static void
env_remove(void)
{
	char path[4200];

	snprintf(path, sizeof(path), "%s/data.mdb", envdir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/lock.mdb", envdir);
	unlink(path);
}

/* On any exit of the parent, the environment goes (it holds N entries). */
static void
cleanup(void)
{
	if (getpid() != owner)
		return;
	env_remove();
	rmdir(envdir);
}

/* N lookups in one read txn, each copying the value out. */
static int
lookups(MDB_env *env, MDB_dbi dbi, const char *order, int expect)
{
	MDB_txn		*txn;
	MDB_val		 k, v;
	char		 buf[VALLEN];
	size_t		 i;
	unsigned	 sum = 0;
	int		 rc, bad = 0;

	check("txn_begin", mdb_txn_begin(env, NULL, MDB_RDONLY, &txn));
	for (i = 0; i < n; i++) {
		k.mv_size = KEYLEN;
		k.mv_data = (void *)(order + i * KEYLEN);
		rc = mdb_get(txn, dbi, &k, &v);
		if (expect) {
			if (rc != 0 || v.mv_size != VALLEN) {
				bad = 1;
				break;
			}
			memcpy(buf, v.mv_data, VALLEN);
			sum += (unsigned char)buf[5];
		} else if (rc != MDB_NOTFOUND) {
			bad = 1;
			break;
		}
	}
	mdb_txn_abort(txn);
	return bad || (expect && sum == 0);
}

static MDB_env	*child_env;
static MDB_dbi	 child_dbi;

static void
prep_child(int p)
{
	(void)p;
	env_open(&child_env, &child_dbi);
}

static int
work_child(int p, const char *order)
{
	(void)p;
	return lookups(child_env, child_dbi, order, 1);
}

static void
run(void)
{
	MDB_env		*env;
	MDB_dbi		 dbi;
	MDB_txn		*txn;
	MDB_val		 k, v;
	char		 ck[16];
	size_t		 i;
	int64_t		 c, sum = 0;
	double		 t0;
	int		 rc;

	env_remove();
	env_open(&env, &dbi);

	t0 = now();
	for (i = 0; i < n; i++) {
		k.mv_size = KEYLEN;
		k.mv_data = keys + i * KEYLEN;
		v.mv_size = VALLEN;
		v.mv_data = vals + i * VALLEN;
		check("txn_begin", mdb_txn_begin(env, NULL, 0, &txn));
		check("put", mdb_put(txn, dbi, &k, &v, 0));
		check("commit", mdb_txn_commit(txn));
	}
	record("insert", (double)n / (now() - t0));

	t0 = now();
	if (lookups(env, dbi, hit0, 1) != 0)
		fail("lookup_hit", "a key is missing");
	record("lookup_hit", (double)n / (now() - t0));

	t0 = now();
	if (lookups(env, dbi, miss, 0) != 0)
		fail("lookup_miss", "a miss key is present");
	record("lookup_miss", (double)n / (now() - t0));

	t0 = now();
	for (i = 0; i < n; i++) {
		k.mv_size = CTRLEN;
		k.mv_data = ctr + i * CTRLEN;
		check("txn_begin", mdb_txn_begin(env, NULL, 0, &txn));
		rc = mdb_get(txn, dbi, &k, &v);
		c = 0;
		if (rc == 0)
			memcpy(&c, v.mv_data, sizeof(c));
		else if (rc != MDB_NOTFOUND)
			check("get", rc);
		c++;
		v.mv_size = sizeof(c);
		v.mv_data = &c;
		check("put", mdb_put(txn, dbi, &k, &v, 0));
		check("commit", mdb_txn_commit(txn));
	}
	record("counter", (double)n / (now() - t0));
	check("txn_begin", mdb_txn_begin(env, NULL, MDB_RDONLY, &txn));
	for (i = 0; i < NCTR; i++) {
		snprintf(ck, sizeof(ck), "ctr:%04zu", i);
		k.mv_size = CTRLEN;
		k.mv_data = ck;
		if (mdb_get(txn, dbi, &k, &v) == 0) {
			memcpy(&c, v.mv_data, sizeof(c));
			sum += c;
		}
	}
	mdb_txn_abort(txn);
	if (sum != (int64_t)n)
		fail("counter", "the counters do not sum to N");

	record("lookup_hit_2proc", two_proc(prep_child, work_child, NULL));

	t0 = now();
	for (i = 0; i < n; i++) {
		k.mv_size = KEYLEN;
		k.mv_data = keys + i * KEYLEN;
		check("txn_begin", mdb_txn_begin(env, NULL, 0, &txn));
		check("del", mdb_del(txn, dbi, &k, NULL));
		check("commit", mdb_txn_commit(txn));
	}
	record("delete", (double)n / (now() - t0));

	mdb_env_close(env);
	env_remove();
}

int
main(int argc, char *argv[])
{
	const char	*parent = "/dev/shm";
	int		 r, i;

	i = peer_args(argc, argv, "lmdb [-n N] [-r RUNS] [DIR]", NULL,
	    NULL);
	if (i < argc)
		parent = argv[i];
	snprintf(envdir, sizeof(envdir), "%s/protets-bench-lmdb.XXXXXX",
	    parent);
	if (mkdtemp(envdir) == NULL)
		fail(envdir, strerror(errno));
	owner = getpid();
	atexit(cleanup);
	workload_init();
	for (r = 0; r < runs; r++) {
		fprintf(stderr, "lmdb: run %d/%d (%s)\n", r + 1, runs, envdir);
		run();
	}
	report("lmdb");
	return 0;
}
