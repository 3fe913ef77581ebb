/*
 * tests/shmutil.c - what check_shm's files share: segments of their own
 * (real memfds, mapped read-write and read-only) and small helpers.
 */
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <xxhash.h>

#include "crash.h"
#include "protets.h"
#include "seg.h"
#include "table.h"

#include "shmutil.h"

#define UNUSED	__attribute__((unused))



void
meta_init(struct tbl_meta *m, const char *name)
{
	memset(m, 0, sizeof(*m));
	m->id = 42;
	m->type = PROTETS_SET;
	m->access = PROTETS_PROTECTED;
	m->owner_uid = (uint32_t)getuid();
	m->created = (uint64_t)time(NULL);
	snprintf(m->name, sizeof(m->name), "%s", name);
}

int
seg_try(struct seg *s, size_t size, unsigned type, unsigned nshards)
{
	struct tbl_meta	m;

	memset(s, 0, sizeof(*s));
	s->size = size;
	s->fd = memfd_create("protets-test", MFD_CLOEXEC);
	ck_assert_int_ge(s->fd, 0);
	ck_assert_int_eq(ftruncate(s->fd, (off_t)size), 0);
	s->rw = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, 0);
	ck_assert_ptr_ne(s->rw, MAP_FAILED);
	s->ro = mmap(NULL, size, PROT_READ, MAP_SHARED, s->fd, 0);
	ck_assert_ptr_ne(s->ro, MAP_FAILED);
	meta_init(&m, "test");
	m.type = type;
	m.nshards = nshards;
	return tbl_format(s->rw, size, &m);
}

void
seg_new_shards(struct seg *s, size_t size, unsigned type, unsigned nshards)
{
	ck_assert_int_eq(seg_try(s, size, type, nshards), 0);
	ck_assert_int_eq(tbl_open(&s->t, s->rw, size, 1), 0);
	ck_assert_int_eq(tbl_open(&s->tro, s->ro, size, 0), 0);
}

void
seg_new_type(struct seg *s, size_t size, unsigned type)
{
	seg_new_shards(s, size, type, 0);
}

void
seg_new(struct seg *s, size_t size)
{
	seg_new_type(s, size, PROTETS_SET);
}

void
seg_free(struct seg *s)
{
	munmap(s->rw, s->size);
	munmap(s->ro, s->size);
	close(s->fd);
}

int
fill_keys(struct tbl *t, const char *pfx, size_t vlen, int *ep)
{
	static char	v[4096];
	char		k[64];
	int		n, e;

	ck_assert_uint_le(vlen, sizeof(v));
	memset(v, 'v', sizeof(v));
	for (n = 0;; n++) {
		snprintf(k, sizeof(k), "%s%d", pfx, n);
		if ((e = tbl_insert(t, k, strlen(k), v, vlen)) != 0)
			break;
	}
	if (ep != NULL)
		*ep = e;
	return n;
}

void
delete_every(struct tbl *t, const char *pfx, int n, int every)
{
	char	k[64];
	int	i;

	for (i = 0; i < n; i += every) {
		snprintf(k, sizeof(k), "%s%d", pfx, i);
		ck_assert_int_eq(tbl_delete(t, k, strlen(k)), 0);
	}
}

void
check_ok(struct tbl *t)
{
	char	msg[256];
	int	e;

	e = tbl_check(t, msg, sizeof(msg));
	ck_assert_msg(e == 0, "tbl_check: %d: %s", e, msg);
}

uint64_t
count_of(struct tbl *t)
{
	uint64_t	n = ~0ULL;

	ck_assert_int_eq(tbl_count(t, &n), 0);
	return n;
}

struct tbl_state *
state_of(struct seg *s)
{
	return (struct tbl_state *)(void *)(s->rw + TBL_STATE_OFF);
}

uint64_t *
word_at(struct seg *s, uint64_t off)
{
	return (uint64_t *)(void *)(s->rw + off);
}

/* Insert a string key with a string value. */
int
put(struct tbl *t, const char *k, const char *v)
{
	return tbl_insert(t, k, strlen(k), v, strlen(v));
}

/* Look up a string key; the value as a string in buf. */
int
get(struct tbl *t, const char *k, char *buf, size_t bufsz)
{
	size_t	n = 0;
	int	e;

	e = tbl_lookup(t, k, strlen(k), buf, bufsz - 1, &n);
	if (e == 0)
		buf[n] = '\0';
	return e;
}

unsigned
rnd(unsigned *st)
{
	*st = *st * 1103515245u + 12345u;
	return (*st >> 8) & 0xffffff;
}

/* A key whose hash has (h & mask) == want. */
void
key_with_hash(char *k, size_t ksz, const char *pfx, uint64_t mask,
    uint64_t want, int *seed)
{
	for (;; (*seed)++) {
		snprintf(k, ksz, "%s%d", pfx, *seed);
		if ((XXH3_64bits(k, strlen(k)) & mask) == want) {
			(*seed)++;
			return;
		}
	}
}

int
cb_count_stop(const void *k UNUSED, size_t klen UNUSED, const void *v UNUSED,
    size_t vlen UNUSED, void *arg)
{
	(*(int *)arg)++;
	return 7;
}

int
cb_count(const void *k UNUSED, size_t klen UNUSED, const void *v UNUSED,
    size_t vlen UNUSED, void *arg)
{
	(*(int *)arg)++;
	return 0;
}

int
pred_stop(const void *k, size_t klen, const void *v, size_t vlen, void *arg)
{
	(void)k;
	(void)klen;
	(void)v;
	(void)vlen;
	(void)arg;
	return 42;
}

/* An order-sensitive digest of keys and values, by foldl. */
static int
ord_dig_fold(const void *k, size_t klen, const void *v, size_t vlen,
    void *arg)
{
	uint64_t	*d = arg;

	d[0] = d[0] * 1000003 ^ XXH3_64bits_withSeed(k, klen, 3);
	d[0] = d[0] * 1000003 ^ XXH3_64bits_withSeed(v, vlen, 4);
	d[1]++;
	return 0;
}

uint64_t
ord_digest(struct tbl *t)
{
	uint64_t	d[2] = { 0, 0 };

	ck_assert_int_eq(tbl_foldl(t, ord_dig_fold, d), 0);
	ck_assert_uint_eq(count_of(t), d[1]);
	return d[0];
}

int
cb_count_true(const void *k UNUSED, size_t klen UNUSED, const void *v UNUSED,
    size_t vlen UNUSED, void *arg)
{
	(*(int *)arg)++;
	return 1;
}

int
crash_wait(pid_t pid)
{
	int	st;

	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	if (WIFSIGNALED(st)) {
		ck_assert_int_eq(WTERMSIG(st), SIGKILL);
		return 1;
	}
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "child exited with %d", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	return 0;
}
