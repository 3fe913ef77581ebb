/*
 * shm/table.h - the table engine: one table in one shared-memory segment.
 *
 * A segment is mapped at any address by any number of processes; it holds
 * only offsets from its base, never pointers, and every offset read from it
 * is bounds-checked before it is followed (other processes are untrusted).
 * The layout is described in docs/FORMAT.md.
 *
 * All functions return 0, a negative PROTETS_E* code from protets.h, or a
 * positive errno value.
 */
#ifndef PROTETS_SHM_TABLE_H
#define PROTETS_SHM_TABLE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "protets.h"

/* What the daemon records in a segment when it creates the table. */
struct tbl_meta {
	uint64_t	id;		/* unique table id */
	uint32_t	type;		/* protets_type */
	uint32_t	access;		/* protets_access */
	uint32_t	owner_uid;
	uint64_t	created;	/* unix time, seconds */
	char		name[PROTETS_NAME_MAX + 1];	/* NUL-terminated */
	uint32_t	nshards;	/* write_concurrency; 0 and 1: one lock */
	uint32_t	flags;		/* TBL_VOLATILE */
	uint64_t	quota;		/* bytes the table may hold, 0: its
					   whole size (layout.h, tbl_hdr) */
};

/* tbl_meta.flags (the header's): never written to disk (PROTETS_VOLATILE). */
#define TBL_VOLATILE	0x1

/* What tbl_stats reports; a sharded table's are the sums of its shards'. */
struct tbl_stats {
	uint64_t	entries;
	uint64_t	bytes_used;	/* in blocks handed out by the allocator */
	uint64_t	bytes_size;	/* segment size: the most it can hold */
	uint64_t	bytes_held;	/* heap and index: memory in use, what
					   the quota counts */
	uint64_t	bytes_quota;	/* 0: none (bytes_size) */
	uint64_t	bytes_free;	/* held but not used, and the room left
					   under the quota */
	uint64_t	largest_fit;	/* the largest entry (key, value and
					   header) any key can take now */
};

/*
 * A process-local view of a mapped segment.  Filled by tbl_open; the
 * fields are private to shm/.  A sharded table (nshards > 1) is opened
 * as a routed view of the whole segment: each operation goes to the
 * view of one shard (tbl_view in layout.h), or to each in turn.
 */
struct tbl {
	unsigned char	*base;
	size_t		 size;
	int		 writable;
	unsigned	 type;		/* protets_type, from the header */
	int		 lock_timeout_ms;	/* writers' wait, 0: none */
	int		 read_wait_ms;	/* readers' CPU budget (lock.h) */
	int		 route;		/* the whole of a sharded table */
	unsigned	 nshards;	/* of the segment; 1: unsharded */
	unsigned	 shard;		/* this view's (0 when routed) */
	size_t		 shard_size;	/* bytes per shard */
	uint64_t	 gen;		/* unique per tbl_open in the process */
	int		 fast;		/* update_counter may go lock-free
					   (fastpath.c): sharded tables */
	int		 retired_ok;	/* reads a retired table (the daemon
					   saving it); 0: PROTETS_ESTALE */
};

/* What tbl_open sets lock_timeout_ms and read_wait_ms to. */
#define TBL_LOCK_TIMEOUT_MS	PROTETS_LOCK_TIMEOUT_MS
#define TBL_READ_WAIT_MS	100

/*
 * Build the format signature string into buf and return its 64-bit hash:
 * what a segment's header must carry for this build to open it.
 */
uint64_t tbl_signature(char *buf, size_t bufsz);

/*
 * Set the quota of t (0: none) in every shard's header, each shard
 * taking its share: one atomic store each, seen by the next allocation of
 * every writer.  Lowering it below what the table holds frees nothing:
 * inserts that need more room then fail with PROTETS_EFULL.  Returns 0,
 * PROTETS_EINVAL (a share below tbl_min_size()), PROTETS_EACCES.
 */
int tbl_set_quota(struct tbl *t, uint64_t quota);

/*
 * Give back the pages of t's free middle, between the heap's top and the
 * index chunks (a reader's fault in a hole allocates a page, as does a
 * write rolled back): fn(off, len, arg) for each page-aligned run of
 * more than 1 MiB, offsets from t's base, called while that shard's lock
 * is held so that no writer takes from it meanwhile; fn punches the hole
 * (fallocate).  A shard whose lock is held, or that needs a recovery, is
 * left for the next time.
 */
typedef void (*tbl_trim_fn)(uint64_t off, uint64_t len, void *arg);
void tbl_trim(struct tbl *t, tbl_trim_fn fn, void *arg);

/* Smallest segment size tbl_format accepts. */
size_t tbl_min_size(void);
/* The same for a table of nshards shards (tbl_meta.nshards). */
size_t tbl_min_size_shards(uint32_t nshards);
/* Is ns (1: one lock) a shard count a table of type may have? */
int tbl_nshards_ok(uint32_t ns, uint32_t type);

/*
 * Initialise a zero-filled, writable mapping of size bytes as an empty
 * table described by m.  m->nshards > 1 (a power of two, at most 16, not
 * an ordered_set) makes that many shards of size / nshards bytes (rounded
 * down to a page), each locked on its own.  Returns 0, PROTETS_EINVAL
 * (bad meta, or a shard smaller than tbl_min_size()).
 */
int tbl_format(void *base, size_t size, const struct tbl_meta *m);

/*
 * Validate the header of a mapping (magic, format signature, sizes) and
 * fill t.  writable says whether the mapping may be written.  Touches no
 * lock.  Returns 0, PROTETS_EFORMAT (another layout), PROTETS_ECORRUPT.
 */
int tbl_open(struct tbl *t, void *base, size_t size, int writable);

/* Copy the creation metadata out of the header.  Returns 0 or ECORRUPT. */
int tbl_meta(const struct tbl *t, struct tbl_meta *m);

/*
 * Change the access mode recorded in the header (the one field written
 * after tbl_format).  Returns 0, PROTETS_EINVAL, PROTETS_EACCES.
 */
int tbl_set_access(struct tbl *t, uint32_t access);

int tbl_stats(struct tbl *t, struct tbl_stats *st);

/*
 * Operation statistics (tally.c; the counts of struct tbl_tally in
 * layout.h, enum tbl_tally_op and tbl_tally_event index op and ev).
 * tbl_tally_add adds a thread's counts of operations op[TBL_TY_NOPS] to
 * the shard pick chooses (any number; a writable mapping only);
 * tbl_tally_event counts one rare event the engine does not see (EFULL);
 * tbl_tally_read sums every shard's counts, never failing (the counts
 * are numbers a writer of the segment may set to anything).
 */
struct tbl_tally_sum {
	uint64_t	op[8];
	uint64_t	ev[8];
	uint64_t	rec_time;	/* last dead holder taken over, unix ms */
	uint64_t	rec_pid;	/* its pid, as its pid namespace saw it */
};
void tbl_tally_add(const struct tbl *t, unsigned pick, const uint64_t *op);
void tbl_tally_event(const struct tbl *t, unsigned ev);
void tbl_tally_read(const struct tbl *t, struct tbl_tally_sum *s);

/* The operations of protets.h, with the same return codes. */
int tbl_insert(struct tbl *t, const void *key, size_t klen,
    const void *val, size_t vlen);
int tbl_lookup(struct tbl *t, const void *key, size_t klen,
    void *buf, size_t bufsz, size_t *vlen);
int tbl_delete(struct tbl *t, const void *key, size_t klen);
/* The same; *n: the entries deleted (0: the key was not there). */
int tbl_delete_n(struct tbl *t, const void *key, size_t klen, uint64_t *n);
int tbl_foldl(struct tbl *t, protets_fold_fn fn, void *arg);
int tbl_count(struct tbl *t, uint64_t *n);
int tbl_check(struct tbl *t, char *msg, size_t msgsz);
int tbl_insert_new(struct tbl *t, const void *key, size_t klen,
    const void *val, size_t vlen);
/* only_new: protets_insert_new_many, else protets_insert_many. */
int tbl_insert_many(struct tbl *t, const protets_kv *kv, size_t n,
    int only_new);
int tbl_lookup_each(struct tbl *t, const void *key, size_t klen,
    protets_fold_fn fn, void *arg);
int tbl_member(struct tbl *t, const void *key, size_t klen);
/* *nrem (may be NULL): entries removed. */
int tbl_delete_object(struct tbl *t, const void *key, size_t klen,
    const void *val, size_t vlen, uint64_t *nrem);
int tbl_clear(struct tbl *t);
int tbl_take(struct tbl *t, const void *key, size_t klen,
    protets_fold_fn fn, void *arg);
int tbl_update_counter(struct tbl *t, const void *key, size_t klen,
    int64_t incr, const protets_counter_opts *o, int64_t *result);
int tbl_first(struct tbl *t, void *kbuf, size_t kbufsz, size_t *klen);
int tbl_next(struct tbl *t, const void *key, size_t klen, void *kbuf,
    size_t kbufsz, size_t *nklen);
int tbl_last(struct tbl *t, void *kbuf, size_t kbufsz, size_t *klen);
int tbl_prev(struct tbl *t, const void *key, size_t klen, void *kbuf,
    size_t kbufsz, size_t *pklen);
int tbl_select(struct tbl *t, const protets_match *m, protets_fold_fn fn,
    void *arg);
int tbl_select_count(struct tbl *t, const protets_match *m, uint64_t *n);
int tbl_select_delete(struct tbl *t, const protets_match *m, uint64_t *n);

/* The counter text of protets_update_counter: parse and format. */
int tbl_counter_parse(const void *val, size_t vlen, int64_t *v);
size_t tbl_counter_format(int64_t v, char *buf, size_t bufsz);

/*
 * Take and release the write lock, so that a writer that died holding it
 * is recovered (its operation rolled back or forward) now.  Used by the
 * daemon on behalf of read-only clients.  Returns 0, PROTETS_EACCES on a
 * read-only mapping, PROTETS_ECORRUPT.
 */
int tbl_repair(struct tbl *t);

/*
 * Retire the table: the segment stops being the daemon's copy of it (the
 * daemon is stopping and saved it, or replaced it).  Under each shard's
 * write lock (waiting t->lock_timeout_ms for it), a mark that makes every
 * later write, lock-free update_counter and read fail with PROTETS_ESTALE
 * in every process, and makes reads under way read again.  A view with
 * retired_ok set still reads it (the daemon's save).  Idempotent.  0, or
 * the first shard's error (PROTETS_ELOCKED: a live holder kept its lock;
 * the other shards are retired all the same).
 */
int tbl_retire(struct tbl *t);
/*
 * Make a retired segment the table's live copy again: the daemon restarts
 * with the very segment its orderly stop saved (systemd keeps the fd store
 * across systemctl restart), which nothing changed since.  Mappings held
 * across the stop work again.  0, or as tbl_retire.
 */
int tbl_unretire(struct tbl *t);
/* Is a shard of t retired? */
int tbl_retired(struct tbl *t);
/*
 * Is there nothing for a repair to do: every shard's lock free and its
 * state clean?  Reads a few words, takes nothing (the daemon asks before
 * it forks a repair; a hint, as anything read without the lock).
 */
int tbl_quiet(struct tbl *t);

/*
 * The pid of the process that held the write lock when this thread's last
 * write on t's segment failed with PROTETS_ELOCKED, else the pid of the
 * process holding it now; 0 when none does.
 */
pid_t tbl_lock_holder(const struct tbl *t);

#endif /* PROTETS_SHM_TABLE_H */
