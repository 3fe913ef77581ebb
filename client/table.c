/*
 * table.c - a table mapped into the caller's address space.
 *
 * fd ownership: the fd the daemon sends is the client's own open file
 * description of the segment, with a shared flock on it that marks the
 * table in use; it passes to the registry (registry.c), which keeps it
 * open as long as the mapping and closes it with the last handle.
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "protets_int.h"
#include "registry.h"

struct protets_table {
	struct pt_map	*map;		/* shared by handles of one segment */
	struct tbl	*tbl;		/* &own */
	struct tbl	 own;		/* map's, with this handle's timeout */
	protets_info	 info;
	char		 sockpath[108];
};

int
pt_table_map(int fd, const protets_info *info, int writable,
    const char *sockpath, protets_table_t **out)
{
	protets_table_t	*t;
	int		 rc;

	if ((t = calloc(1, sizeof(*t))) == NULL) {
		close(fd);
		return ENOMEM;
	}
	t->info = *info;
	strlcpy(t->sockpath, sockpath, sizeof(t->sockpath));
	/* Trust the fd's access mode, which the kernel enforces. */
	if ((fcntl(fd, F_GETFL) & O_ACCMODE) != O_RDWR)
		writable = 0;
	/* fd passes to the registry. */
	if ((rc = pt_map_get(fd, writable, &t->map)) != 0) {
		free(t);
		return rc;
	}
	/* Per handle: the mapping's view, and a lock timeout of its own. */
	t->own = t->map->tbl;
	t->own.lock_timeout_ms = pt_lock_timeout_default();
	t->tbl = &t->own;
	*out = t;
	return 0;
}

void
protets_close(protets_table_t *t)
{
	if (t == NULL)
		return;
	pt_map_put(t->map);
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
	return t->map->writable;
}

int
protets_set_lock_timeout(protets_table_t *t, int ms)
{
	if (t == NULL || ms < 0)
		return PROTETS_EINVAL;
	/* Other threads may be writing through t: one atomic word. */
	__atomic_store_n(&t->own.lock_timeout_ms, ms, __ATOMIC_RELAXED);
	return 0;
}

int
protets_lock_timeout(const protets_table_t *t)
{
	return __atomic_load_n(&t->own.lock_timeout_ms, __ATOMIC_RELAXED);
}

pid_t
protets_lock_holder(const protets_table_t *t)
{
	return tbl_lock_holder(t->tbl);
}

const protets_info *
pt_table_info(const protets_table_t *t)
{
	return &t->info;
}

/*
 * After PROTETS_ESTALE (the segment was retired: the daemon stopped):
 * 0 when t's segment is the table's live copy again (the daemon came back
 * with the very segment, systemd's fd store keeping it), after asking the
 * daemon for the table by name (redialling for connect_timeout_ms); else
 * PROTETS_ESTALE: the table is elsewhere now, or gone.
 */
static int
pt_follow(protets_table_t *t)
{
	protets_table_t	*n;
	protets_t	*p;
	int		 rc;

	if (protets_connect(t->sockpath, &p) != 0)
		return PROTETS_ESTALE;
	rc = protets_open(p, t->info.name, &n);
	protets_disconnect(p);
	if (rc != 0)
		return PROTETS_ESTALE;
	rc = n->map == t->map && n->info.id == t->info.id ? 0 :
	    PROTETS_ESTALE;
	protets_close(n);
	return rc;
}

/* Asked again once if the table came back in the same segment. */
#define PT_WRITE(t, call) do {						\
	int	rc_ = (call);						\
	if (rc_ == PROTETS_ESTALE && pt_follow(t) == 0)			\
		rc_ = (call);						\
	return rc_;							\
} while (0)

int
protets_insert(protets_table_t *t, const void *key, size_t klen,
    const void *val, size_t vlen)
{
	PT_WRITE(t, tbl_insert(t->tbl, key, klen, val, vlen));
}

/*
 * A read-only mapping cannot take the lock to recover from a writer that
 * died mid-update: ask the daemon to do it, then read again.
 */
int
protets_lookup(protets_table_t *t, const void *key, size_t klen, void *buf,
    size_t bufsz, size_t *vlen)
{
	int	 rc;

	rc = tbl_lookup(t->tbl, key, klen, buf, bufsz, vlen);
	if (rc == PROTETS_EAGAIN && !t->map->writable &&
	    pt_repair(t->sockpath, t->info.name) == 0)
		rc = tbl_lookup(t->tbl, key, klen, buf, bufsz, vlen);
	if (rc == PROTETS_ESTALE && pt_follow(t) == 0)
		rc = tbl_lookup(t->tbl, key, klen, buf, bufsz, vlen);
	return rc;
}

int
protets_delete(protets_table_t *t, const void *key, size_t klen)
{
	PT_WRITE(t, tbl_delete(t->tbl, key, klen));
}

int
protets_delete_counted(protets_table_t *t, const void *key, size_t klen,
    uint64_t *deleted)
{
	uint64_t	n = 0;
	int		rc;

	rc = tbl_delete_n(t->tbl, key, klen, &n);
	if (rc == PROTETS_ESTALE && pt_follow(t) == 0)
		rc = tbl_delete_n(t->tbl, key, klen, &n);
	if (deleted != NULL)
		*deleted = n;
	return rc;
}

int
protets_foldl(protets_table_t *t, protets_fold_fn fn, void *arg)
{
	int	 rc;

	/* After a repair the caller retries: fn may have seen entries. */
	rc = tbl_foldl(t->tbl, fn, arg);
	if (rc == PROTETS_EAGAIN && !t->map->writable)
		pt_repair(t->sockpath, t->info.name);
	/* Live again in the same segment: the caller folds again. */
	if (rc == PROTETS_ESTALE && pt_follow(t) == 0)
		rc = PROTETS_EAGAIN;
	return rc;
}

int
protets_count(protets_table_t *t, uint64_t *n)
{
	PT_WRITE(t, tbl_count(t->tbl, n));
}

/*
 * A read that may be retried once after the daemon repaired the table, or
 * found its lock held by a live process (ELOCKED: the daemon does not wait
 * for it; the holder may be done by now).
 */
#define PT_READ(t, call) do {						\
	int	rc_ = (call), rp_;					\
	if (rc_ == PROTETS_EAGAIN && !(t)->map->writable &&		\
	    ((rp_ = pt_repair((t)->sockpath, (t)->info.name)) == 0 ||	\
	    rp_ == PROTETS_ELOCKED))					\
		rc_ = (call);						\
	if (rc_ == PROTETS_ESTALE && pt_follow(t) == 0)			\
		rc_ = (call);						\
	return rc_;							\
} while (0)

/* As protets_lookup: a dead writer is repaired by the daemon, then again. */
int
protets_check(protets_table_t *t, char *msg, size_t msgsz)
{
	PT_READ(t, tbl_check(t->tbl, msg, msgsz));
}

int
protets_insert_new(protets_table_t *t, const void *key, size_t klen,
    const void *val, size_t vlen)
{
	PT_WRITE(t, tbl_insert_new(t->tbl, key, klen, val, vlen));
}

int
protets_insert_many(protets_table_t *t, const protets_kv *kv, size_t n)
{
	PT_WRITE(t, tbl_insert_many(t->tbl, kv, n, 0));
}

int
protets_insert_new_many(protets_table_t *t, const protets_kv *kv, size_t n)
{
	PT_WRITE(t, tbl_insert_many(t->tbl, kv, n, 1));
}

int
protets_lookup_each(protets_table_t *t, const void *key, size_t klen,
    protets_fold_fn fn, void *arg)
{
	/* Nothing reaches fn before the copy validated: a retry is safe. */
	PT_READ(t, tbl_lookup_each(t->tbl, key, klen, fn, arg));
}

int
protets_member(protets_table_t *t, const void *key, size_t klen)
{
	PT_READ(t, tbl_member(t->tbl, key, klen));
}

int
protets_delete_object(protets_table_t *t, const void *key, size_t klen,
    const void *val, size_t vlen)
{
	PT_WRITE(t, tbl_delete_object(t->tbl, key, klen, val, vlen, NULL));
}

int
protets_delete_all_objects(protets_table_t *t)
{
	PT_WRITE(t, tbl_clear(t->tbl));
}

int
protets_take(protets_table_t *t, const void *key, size_t klen,
    protets_fold_fn fn, void *arg)
{
	PT_WRITE(t, tbl_take(t->tbl, key, klen, fn, arg));
}

int
protets_update_counter(protets_table_t *t, const void *key, size_t klen,
    int64_t incr, const protets_counter_opts *opts, int64_t *result)
{
	PT_WRITE(t, tbl_update_counter(t->tbl, key, klen, incr, opts, result));
}

int
protets_first(protets_table_t *t, void *kbuf, size_t kbufsz, size_t *klen)
{
	PT_READ(t, tbl_first(t->tbl, kbuf, kbufsz, klen));
}

int
protets_next(protets_table_t *t, const void *key, size_t klen, void *kbuf,
    size_t kbufsz, size_t *nklen)
{
	PT_READ(t, tbl_next(t->tbl, key, klen, kbuf, kbufsz, nklen));
}

int
protets_last(protets_table_t *t, void *kbuf, size_t kbufsz, size_t *klen)
{
	PT_READ(t, tbl_last(t->tbl, kbuf, kbufsz, klen));
}

int
protets_prev(protets_table_t *t, const void *key, size_t klen, void *kbuf,
    size_t kbufsz, size_t *pklen)
{
	PT_READ(t, tbl_prev(t->tbl, key, klen, kbuf, kbufsz, pklen));
}

int
protets_select(protets_table_t *t, const protets_match *m,
    protets_fold_fn fn, void *arg)
{
	int	 rc;

	/* As foldl: after a repair the caller retries. */
	rc = tbl_select(t->tbl, m, fn, arg);
	if (rc == PROTETS_EAGAIN && !t->map->writable)
		pt_repair(t->sockpath, t->info.name);
	if (rc == PROTETS_ESTALE && pt_follow(t) == 0)
		rc = PROTETS_EAGAIN;
	return rc;
}

int
protets_select_count(protets_table_t *t, const protets_match *m,
    uint64_t *n)
{
	PT_READ(t, tbl_select_count(t->tbl, m, n));
}

int
protets_select_delete(protets_table_t *t, const protets_match *m,
    uint64_t *n)
{
	PT_WRITE(t, tbl_select_delete(t->tbl, m, n));
}
