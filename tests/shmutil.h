/*
 * tests/shmutil.h - what the engine's test programs share (check_shm's
 * files, check_lock, check_shards; tests/shmutil.c):
 * a table on a real memfd of its own, mapped twice (read-write, and
 * PROT_READ for read-only readers), and small helpers.  Each tests/shm_*.c
 * adds its tests to a TCase with shm_tests_<name>.
 */
#ifndef PROTETS_TESTS_SHMUTIL_H
#define PROTETS_TESTS_SHMUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <check.h>

#include "protets.h"
#include "seg.h"
#include "table.h"

struct seg {
	int		 fd;
	size_t		 size;
	unsigned char	*rw;
	unsigned char	*ro;
	struct tbl	 t;	/* writable */
	struct tbl	 tro;	/* read-only */
};

/* Creation metadata of a test table called name (a set, protected). */
void	meta_init(struct tbl_meta *m, const char *name);
/*
 * Map a fresh memfd of size bytes twice and format it as a table of type
 * with nshards shards (0: one lock); tbl_format's return, nothing opened.
 */
int	seg_try(struct seg *s, size_t size, unsigned type, unsigned nshards);
/* The same, which must succeed, both mappings then opened. */
void	seg_new_shards(struct seg *s, size_t size, unsigned type,
	    unsigned nshards);
void	seg_new_type(struct seg *s, size_t size, unsigned type);
void	seg_new(struct seg *s, size_t size);	/* a set */
void	seg_free(struct seg *s);
/* tbl_check passes (the test fails with its message otherwise). */
void	check_ok(struct tbl *t);
uint64_t count_of(struct tbl *t);
struct tbl_state *state_of(struct seg *s);
uint64_t *word_at(struct seg *s, uint64_t off);
/* Insert, and look up into a NUL-terminated buf, string keys and values. */
int	put(struct tbl *t, const char *k, const char *v);
int	get(struct tbl *t, const char *k, char *buf, size_t bufsz);
/*
 * Insert "<pfx><i>" => vlen bytes of 'v' (vlen <= 4096), i = 0, 1, ...
 * until an insert fails: returns how many went in, the failure in *ep
 * (may be NULL).  A full table, in one call.
 */
int	fill_keys(struct tbl *t, const char *pfx, size_t vlen, int *ep);
/* Delete "<pfx><i>" for i = 0, every, 2 * every, ... below n: each is there. */
void	delete_every(struct tbl *t, const char *pfx, int n, int every);
/*
 * Reap the crash-test child pid: 1 if it was killed by SIGKILL, 0 if it
 * exited with 0; anything else fails the test.
 */
int	crash_wait(pid_t pid);
/* A small reproducible random number generator. */
unsigned rnd(unsigned *st);
/* The first key "<pfx><n>", n from *seed on, with (hash & mask) == want. */
void	key_with_hash(char *k, size_t ksz, const char *pfx, uint64_t mask,
	    uint64_t want, int *seed);

/*
 * Fold and select callbacks that count the entries in *(int *)arg, and
 * return 0 (go on), 7 (stop the walk: tbl_foldl returns it) and 1 (a
 * predicate that matches); pred_stop returns 42 and counts nothing.
 */
int	cb_count(const void *k, size_t klen, const void *v, size_t vlen,
	    void *arg);
int	cb_count_stop(const void *k, size_t klen, const void *v, size_t vlen,
	    void *arg);
int	cb_count_true(const void *k, size_t klen, const void *v, size_t vlen,
	    void *arg);
int	pred_stop(const void *k, size_t klen, const void *v, size_t vlen,
	    void *arg);

/* An order-sensitive digest of t's keys and values (by foldl). */
uint64_t ord_digest(struct tbl *t);

void	shm_tests_ops(TCase *tc);
void	shm_tests_counter(TCase *tc);
void	shm_tests_model(TCase *tc);
void	shm_tests_ordered(TCase *tc);
void	shm_tests_corrupt(TCase *tc);
void	shm_tests_kill(TCase *tc);
void	shm_tests_crash(TCase *tc);
void	shm_tests_grow(TCase *tc);

#endif /* PROTETS_TESTS_SHMUTIL_H */
