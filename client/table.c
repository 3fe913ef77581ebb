/*
 * table.c - a table mapped into the caller's address space.
 *
 * fd ownership: the fd the daemon sends is the client's own open file
 * description of the segment, with an OFD read lock on it that marks the
 * table in use; it passes to the registry (registry.c), which keeps it
 * open as long as the mapping and closes it with the last handle.
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "protets_int.h"
#include "registry.h"
#include "tally.h"

/*
 * One segment a handle has used.  A handle follows its table into a new
 * segment (pt_follow) and keeps the views it left until it is closed:
 * another thread may still be in an operation on one (it gets
 * PROTETS_ESTALE there, and follows too).
 */
struct pt_view {
	struct pt_view	*old;		/* the view before, or NULL */
	struct pt_map	*map;		/* shared by handles of one segment */
	struct tbl	 tbl;		/* map's, with this handle's timeout */
};

struct protets_table {
	struct pt_view	*view;		/* the current one; atomic */
	int		 lock_timeout_ms;	/* atomic; for new views */
	pthread_mutex_t	 follow;	/* one pt_follow at a time */
	int		 gone;		/* the name is another table's, or
					   none's: ESTALE at once; atomic */
	protets_info	 info;
	char		 sockpath[108];
	struct pt_tally	 tally;		/* operation counts (tally.c) */
};

static inline struct pt_view *
pt_view(const protets_table_t *t)
{
	return __atomic_load_n(&t->view, __ATOMIC_ACQUIRE);
}

/* The current view's table: what an operation works on. */
#define PT_TBL(t)	(&pt_view(t)->tbl)

/*
 * PROTETS_EFULL: protets_errmsg says which limit, and what the table
 * holds.  The figures are read after the failure, so another writer may
 * have changed them since.
 */
static void
pt_full(protets_table_t *t)
{
	struct tbl_stats	st;

	if (tbl_stats(PT_TBL(t), &st) != 0)
		return;
	if (st.bytes_quota != 0)
		pt_errset("table %s: quota %llu bytes, %llu in use, the largest "
		    "entry that fits now %llu bytes", t->info.name,
		    (unsigned long long)st.bytes_quota,
		    (unsigned long long)st.bytes_held,
		    (unsigned long long)st.largest_fit);
	else
		pt_errset("table %s: %llu bytes in use of the %llu it can ever "
		    "hold (its segment), the largest entry that fits now %llu "
		    "bytes", t->info.name,
		    (unsigned long long)st.bytes_held,
		    (unsigned long long)st.bytes_size,
		    (unsigned long long)st.largest_fit);
}

/*
 * Count what an operation did (tally.c): n operations of kind op when it
 * succeeded, an EFULL answer as it happens (a rare event: one atomic add),
 * and protets_errmsg then says which limit (pt_full).
 */
static inline int
pt_done(protets_table_t *t, int rc, unsigned op, uint64_t n)
{
#ifdef PROTETS_NO_TALLY		/* tally.h: for bench/tally_cost.sh */
	(void)op;
	(void)n;
	if (rc == PROTETS_EFULL)
		pt_full(t);
	return rc;
#endif
	if (__builtin_expect(rc == 0, 1))
		pt_count(t, &t->tally, op, n);
	else if (rc == PROTETS_EFULL) {
		tbl_tally_event(PT_TBL(t), TBL_TY_EFULL);
		pt_full(t);
	}
	return rc;
}

void
pt_table_tally_slow(protets_table_t *t, unsigned op, uint64_t n)
{
	pt_tally_slow(&t->tally, PT_TBL(t), op, n);
}

void
pt_table_tally_fold(protets_table_t *t, struct pt_tcount *c)
{
	pt_tally_fold(c, PT_TBL(t));
}

/* A lookup's hit or miss. */
static inline int
pt_looked(protets_table_t *t, int rc)
{
#ifdef PROTETS_NO_TALLY
	(void)t;
	return rc;
#endif
	if (__builtin_expect(rc == 0, 1))
		pt_count(t, &t->tally, TBL_TY_HIT, 1);
	else if (rc == PROTETS_NOTFOUND)
		pt_count(t, &t->tally, TBL_TY_MISS, 1);
	return rc;
}

int
pt_table_map(int fd, const protets_info *info, int writable,
    const char *sockpath, protets_table_t **out)
{
	protets_table_t	*t;
	struct pt_view	*v;
	int		 rc;

	t = calloc(1, sizeof(*t));
	v = calloc(1, sizeof(*v));
	if (t == NULL || v == NULL) {
		free(t);
		free(v);
		close(fd);
		return ENOMEM;
	}
	t->info = *info;
	strlcpy(t->sockpath, sockpath, sizeof(t->sockpath));
	/* Trust the fd's access mode, which the kernel enforces. */
	if ((fcntl(fd, F_GETFL) & O_ACCMODE) != O_RDWR)
		writable = 0;
	/* fd passes to the registry. */
	if ((rc = pt_map_get(fd, writable, &v->map)) != 0) {
		free(v);
		free(t);
		return rc;
	}
	/* Per handle: the mapping's view, and a lock timeout of its own. */
	t->lock_timeout_ms = pt_lock_timeout_default();
	v->tbl = v->map->tbl;
	v->tbl.lock_timeout_ms = t->lock_timeout_ms;
	t->view = v;
	pthread_mutex_init(&t->follow, NULL);
	pt_tally_init(&t->tally, t);
	*out = t;
	return 0;
}

void
protets_close(protets_table_t *t)
{
	struct pt_view	*v, *old;

	if (t == NULL)
		return;
	pt_tally_close(&t->tally, t->view != NULL ? &t->view->tbl : NULL);
	for (v = t->view; v != NULL; v = old) {
		old = v->old;
		pt_map_put(v->map);
		free(v);
	}
	pthread_mutex_destroy(&t->follow);
	free(t);
}

protets_type
protets_table_type(const protets_table_t *t)
{
	return t->info.type;
}

protets_access
protets_table_access(const protets_table_t *t)
{
	return t->info.access;
}

const char *
protets_table_name(const protets_table_t *t)
{
	return t->info.name;
}

int
protets_table_writable(const protets_table_t *t)
{
	return pt_view(t)->map->writable;
}

int
protets_set_lock_timeout(protets_table_t *t, int ms)
{
	if (t == NULL || ms < 0)
		return PROTETS_EINVAL;
	/* Other threads may be writing through t: one atomic word each. */
	__atomic_store_n(&t->lock_timeout_ms, ms, __ATOMIC_RELAXED);
	__atomic_store_n(&pt_view(t)->tbl.lock_timeout_ms, ms,
	    __ATOMIC_RELAXED);
	return 0;
}

int
protets_lock_timeout(const protets_table_t *t)
{
	return __atomic_load_n(&t->lock_timeout_ms, __ATOMIC_RELAXED);
}

pid_t
protets_lock_holder(const protets_table_t *t)
{
	return tbl_lock_holder(PT_TBL(t));
}

uint64_t
pt_table_quota(protets_table_t *t)
{
	struct tbl_meta	m;

	return tbl_meta(PT_TBL(t), &m) == 0 ? m.quota : 0;
}

const protets_info *
pt_table_info(const protets_table_t *t)
{
	return &t->info;
}

/*
 * After PROTETS_ESTALE on view was (the segment was retired: the daemon
 * stopped): ask the daemon for the table by name (redialling for
 * connect_timeout_ms).  0 when the operation may be done again: the table
 * is live in the same segment (systemd's fd store kept it), or in a new one
 * (loaded from the state directory), which t now uses, or another thread
 * followed meanwhile; else PROTETS_ESTALE: the daemon is not back, or the
 * name is another table's now, or none's.
 */
static int
pt_follow(protets_table_t *t, const struct pt_view *was)
{
	protets_table_t	*n;
	struct pt_view	*v;
	protets_t	*p;
	int		 rc;

	if (__atomic_load_n(&t->gone, __ATOMIC_RELAXED))
		return PROTETS_ESTALE;
	pthread_mutex_lock(&t->follow);
	if (pt_view(t) != was) {
		pthread_mutex_unlock(&t->follow);
		return 0;
	}
	if ((rc = protets_connect(t->sockpath, &p)) == 0) {
		rc = protets_open(p, t->info.name, &n);
		protets_disconnect(p);
		/* The daemon answered: no table of that name. */
		if (rc == PROTETS_NOTFOUND)
			__atomic_store_n(&t->gone, 1, __ATOMIC_RELAXED);
	}
	if (rc == 0 && n->info.id != t->info.id) {
		protets_close(n);
		__atomic_store_n(&t->gone, 1, __ATOMIC_RELAXED);
		rc = PROTETS_ESTALE;
	}
	if (rc != 0) {
		pthread_mutex_unlock(&t->follow);
		return PROTETS_ESTALE;
	}
	v = n->view;
	if (v->map == was->map) {
		protets_close(n);	/* live again where it was */
	} else {
		/* n's view is t's now; n goes without its map reference. */
		n->view = NULL;
		protets_close(n);
		v->tbl.lock_timeout_ms = __atomic_load_n(&t->lock_timeout_ms,
		    __ATOMIC_RELAXED);
		v->old = t->view;
		__atomic_store_n(&t->view, v, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&t->follow);
	return 0;
}

/* Done again once after following the table (pt_follow). */
#define PT_WRITE(t, call) do {						\
	struct pt_view	*was_ = pt_view(t);				\
	int		 rc_ = (call);					\
	if (rc_ == PROTETS_ESTALE && pt_follow(t, was_) == 0)		\
		rc_ = (call);						\
	if (__builtin_expect(rc_ == PROTETS_EFULL, 0))			\
		pt_full(t);						\
	return rc_;							\
} while (0)

/* The same, counted as n operations of kind op (pt_done). */
#define PT_WRITE_N(t, call, op, n) do {					\
	struct pt_view	*was_ = pt_view(t);				\
	int		 rc_ = (call);					\
	if (__builtin_expect(rc_ == PROTETS_ESTALE, 0) &&		\
	    pt_follow(t, was_) == 0)					\
		rc_ = (call);						\
	return pt_done(t, rc_, op, n);					\
} while (0)

int
protets_insert(protets_table_t *t, const void *key, size_t klen,
    const void *val, size_t vlen)
{
	PT_WRITE_N(t, tbl_insert(PT_TBL(t), key, klen, val, vlen),
	    TBL_TY_INSERT, 1);
}

/*
 * A read-only mapping cannot take the lock to recover from a writer that
 * died mid-update: ask the daemon to do it, then read again.
 */
int
protets_lookup(protets_table_t *t, const void *key, size_t klen, void *buf,
    size_t bufsz, size_t *vlen)
{
	struct pt_view	*was = pt_view(t);
	int		 rc;

	rc = tbl_lookup(&was->tbl, key, klen, buf, bufsz, vlen);
	if (rc == PROTETS_EAGAIN && !was->map->writable &&
	    pt_repair(t->sockpath, t->info.name) == 0)
		rc = tbl_lookup(PT_TBL(t), key, klen, buf, bufsz, vlen);
	if (rc == PROTETS_ESTALE && pt_follow(t, was) == 0)
		rc = tbl_lookup(PT_TBL(t), key, klen, buf, bufsz, vlen);
	return pt_looked(t, rc);
}

int
protets_delete(protets_table_t *t, const void *key, size_t klen)
{
	PT_WRITE_N(t, tbl_delete(PT_TBL(t), key, klen), TBL_TY_DELETE, 1);
}

int
protets_delete_counted(protets_table_t *t, const void *key, size_t klen,
    uint64_t *deleted)
{
	struct pt_view	*was = pt_view(t);
	uint64_t	 n = 0;
	int		 rc;

	rc = tbl_delete_n(&was->tbl, key, klen, &n);
	if (rc == PROTETS_ESTALE && pt_follow(t, was) == 0)
		rc = tbl_delete_n(PT_TBL(t), key, klen, &n);
	if (deleted != NULL)
		*deleted = n;
	return pt_done(t, rc, TBL_TY_DELETE, 1);
}

int
protets_foldl(protets_table_t *t, protets_fold_fn fn, void *arg)
{
	struct pt_view	*was = pt_view(t);
	int		 rc;

	/* After a repair the caller retries: fn may have seen entries. */
	rc = tbl_foldl(&was->tbl, fn, arg);
	if (rc == PROTETS_EAGAIN && !was->map->writable)
		pt_repair(t->sockpath, t->info.name);
	/* The table followed: the caller folds again. */
	if (rc == PROTETS_ESTALE && pt_follow(t, was) == 0)
		rc = PROTETS_EAGAIN;
	return rc;
}

int
protets_count(protets_table_t *t, uint64_t *n)
{
	PT_WRITE(t, tbl_count(PT_TBL(t), n));
}

/*
 * A read that may be retried once after the daemon repaired the table, or
 * found its lock held by a live process (ELOCKED: the daemon does not wait
 * for it; the holder may be done by now).
 */
#define PT_READ(t, call) do {						\
	struct pt_view	*was_ = pt_view(t);				\
	int		 rc_ = (call), rp_;				\
	if (rc_ == PROTETS_EAGAIN && !was_->map->writable &&		\
	    ((rp_ = pt_repair((t)->sockpath, (t)->info.name)) == 0 ||	\
	    rp_ == PROTETS_ELOCKED))					\
		rc_ = (call);						\
	if (rc_ == PROTETS_ESTALE && pt_follow(t, was_) == 0)		\
		rc_ = (call);						\
	return rc_;							\
} while (0)

/* The same, counted as a lookup's hit or miss. */
#define PT_READ_LOOK(t, call) do {						\
	struct pt_view	*was_ = pt_view(t);				\
	int		 rc_ = (call), rp_;				\
	if (rc_ == PROTETS_EAGAIN && !was_->map->writable &&		\
	    ((rp_ = pt_repair((t)->sockpath, (t)->info.name)) == 0 ||	\
	    rp_ == PROTETS_ELOCKED))					\
		rc_ = (call);						\
	if (rc_ == PROTETS_ESTALE && pt_follow(t, was_) == 0)		\
		rc_ = (call);						\
	return pt_looked(t, rc_);							\
} while (0)

/* As protets_lookup: a dead writer is repaired by the daemon, then again. */
int
protets_check(protets_table_t *t, char *msg, size_t msgsz)
{
	PT_READ(t, tbl_check(PT_TBL(t), msg, msgsz));
}

int
protets_insert_new(protets_table_t *t, const void *key, size_t klen,
    const void *val, size_t vlen)
{
	PT_WRITE_N(t, tbl_insert_new(PT_TBL(t), key, klen, val, vlen),
	    TBL_TY_INSERT, 1);
}

int
protets_insert_many(protets_table_t *t, const protets_kv *kv, size_t n)
{
	PT_WRITE_N(t, tbl_insert_many(PT_TBL(t), kv, n, 0), TBL_TY_INSERT,
	    n);
}

int
protets_insert_new_many(protets_table_t *t, const protets_kv *kv, size_t n)
{
	PT_WRITE_N(t, tbl_insert_many(PT_TBL(t), kv, n, 1), TBL_TY_INSERT,
	    n);
}

int
protets_lookup_each(protets_table_t *t, const void *key, size_t klen,
    protets_fold_fn fn, void *arg)
{
	/* Nothing reaches fn before the copy validated: a retry is safe. */
	PT_READ_LOOK(t, tbl_lookup_each(PT_TBL(t), key, klen, fn, arg));
}

int
protets_member(protets_table_t *t, const void *key, size_t klen)
{
	PT_READ_LOOK(t, tbl_member(PT_TBL(t), key, klen));
}

int
protets_delete_object(protets_table_t *t, const void *key, size_t klen,
    const void *val, size_t vlen)
{
	PT_WRITE_N(t, tbl_delete_object(PT_TBL(t), key, klen, val, vlen,
	    NULL), TBL_TY_DELETE, 1);
}

int
protets_delete_all_objects(protets_table_t *t)
{
	PT_WRITE(t, tbl_clear(PT_TBL(t)));
}

int
protets_take(protets_table_t *t, const void *key, size_t klen,
    protets_fold_fn fn, void *arg)
{
	PT_WRITE_N(t, tbl_take(PT_TBL(t), key, klen, fn, arg),
	    TBL_TY_DELETE, 1);
}

int
protets_update_counter(protets_table_t *t, const void *key, size_t klen,
    int64_t incr, const protets_counter_opts *opts, int64_t *result)
{
	PT_WRITE_N(t, tbl_update_counter(PT_TBL(t), key, klen, incr, opts,
	    result), TBL_TY_COUNTER, 1);
}

int
protets_first(protets_table_t *t, void *kbuf, size_t kbufsz, size_t *klen)
{
	PT_READ(t, tbl_first(PT_TBL(t), kbuf, kbufsz, klen));
}

int
protets_next(protets_table_t *t, const void *key, size_t klen, void *kbuf,
    size_t kbufsz, size_t *nklen)
{
	PT_READ(t, tbl_next(PT_TBL(t), key, klen, kbuf, kbufsz, nklen));
}

int
protets_last(protets_table_t *t, void *kbuf, size_t kbufsz, size_t *klen)
{
	PT_READ(t, tbl_last(PT_TBL(t), kbuf, kbufsz, klen));
}

int
protets_prev(protets_table_t *t, const void *key, size_t klen, void *kbuf,
    size_t kbufsz, size_t *pklen)
{
	PT_READ(t, tbl_prev(PT_TBL(t), key, klen, kbuf, kbufsz, pklen));
}

int
protets_select(protets_table_t *t, const protets_match *m,
    protets_fold_fn fn, void *arg)
{
	struct pt_view	*was = pt_view(t);
	int		 rc;

	/* As foldl: after a repair the caller retries. */
	rc = tbl_select(&was->tbl, m, fn, arg);
	if (rc == PROTETS_EAGAIN && !was->map->writable)
		pt_repair(t->sockpath, t->info.name);
	if (rc == PROTETS_ESTALE && pt_follow(t, was) == 0)
		rc = PROTETS_EAGAIN;
	return rc;
}

int
protets_select_count(protets_table_t *t, const protets_match *m,
    uint64_t *n)
{
	PT_READ(t, tbl_select_count(PT_TBL(t), m, n));
}

/* Not atomic: what a first attempt deleted before it met ESTALE counts. */
int
protets_select_delete(protets_table_t *t, const protets_match *m,
    uint64_t *n)
{
	struct pt_view	*was = pt_view(t);
	uint64_t	 n1 = 0, n2 = 0;
	int		 rc;

	rc = tbl_select_delete(&was->tbl, m, &n1);
	if (rc == PROTETS_ESTALE && pt_follow(t, was) == 0)
		rc = tbl_select_delete(PT_TBL(t), m, &n2);
	if (n != NULL)
		*n = n1 + n2;
	if (n1 + n2 != 0)
		pt_count(t, &t->tally, TBL_TY_DELETE, n1 + n2);
	return rc;
}
