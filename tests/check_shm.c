/*
 * tests/check_shm.c - unit tests of the table engine (shm/).
 *
 * Self-contained: its own main(), no testutil.  Segments are real memfds
 * mapped MAP_SHARED, plus a second PROT_READ mapping of the same fd for
 * read-only readers.  Crash tests fork writers that die by a real SIGKILL;
 * the crash-point enumeration needs the engine built with
 * -DPROTETS_CRASHTEST (see shm/crash.h) and is compiled only then.
 */
#include <sys/mman.h>
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

#include "protets.h"
#include "table.h"
#include "layout.h"
#include "crash.h"

struct seg {
	int		 fd;
	size_t		 size;
	unsigned char	*rw;
	unsigned char	*ro;
	struct tbl	 t;	/* writable */
	struct tbl	 tro;	/* read-only */
};

static void
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

static void
seg_new(struct seg *s, size_t size)
{
	struct tbl_meta	m;

	s->size = size;
	s->fd = memfd_create("check_shm", MFD_CLOEXEC);
	ck_assert_int_ge(s->fd, 0);
	ck_assert_int_eq(ftruncate(s->fd, (off_t)size), 0);
	s->rw = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, 0);
	ck_assert_ptr_ne(s->rw, MAP_FAILED);
	s->ro = mmap(NULL, size, PROT_READ, MAP_SHARED, s->fd, 0);
	ck_assert_ptr_ne(s->ro, MAP_FAILED);
	meta_init(&m, "test");
	ck_assert_int_eq(tbl_format(s->rw, size, &m), 0);
	ck_assert_int_eq(tbl_open(&s->t, s->rw, size, 1), 0);
	ck_assert_int_eq(tbl_open(&s->tro, s->ro, size, 0), 0);
}

static void
seg_free(struct seg *s)
{
	munmap(s->rw, s->size);
	munmap(s->ro, s->size);
	close(s->fd);
}

static void
check_ok(struct tbl *t)
{
	char	msg[256];
	int	e;

	e = tbl_check(t, msg, sizeof(msg));
	ck_assert_msg(e == 0, "tbl_check: %d: %s", e, msg);
}

static uint64_t
count_of(struct tbl *t)
{
	uint64_t	n = ~0ULL;

	ck_assert_int_eq(tbl_count(t, &n), 0);
	return n;
}

/* Insert a string key with a string value. */
static int
put(struct tbl *t, const char *k, const char *v)
{
	return tbl_insert(t, k, strlen(k), v, strlen(v));
}

/* Look up a string key; the value as a string in buf. */
static int
get(struct tbl *t, const char *k, char *buf, size_t bufsz)
{
	size_t	n = 0;
	int	e;

	e = tbl_lookup(t, k, strlen(k), buf, bufsz - 1, &n);
	if (e == 0)
		buf[n] = '\0';
	return e;
}

/* ---------------------------------------------------------------- */

START_TEST(test_format_open)
{
	struct seg	 s;
	struct tbl	 t;
	struct tbl_meta	 m, m2;
	struct tbl_stats st;
	struct tbl_hdr	*h;
	uint64_t	 save;
	char		 c;

	ck_assert_uint_ge(tbl_min_size(), TBL_HEAP_OFF);
	seg_new(&s, 1 << 20);
	h = (struct tbl_hdr *)(void *)s.rw;

	/* bad arguments to tbl_format */
	meta_init(&m, "x");
	ck_assert_int_eq(tbl_format(s.rw, tbl_min_size() - 1, &m),
	    PROTETS_EINVAL);
	ck_assert_int_eq(tbl_format(s.rw, s.size, NULL), PROTETS_EINVAL);
	m.type = 99;
	ck_assert_int_eq(tbl_format(s.rw, s.size, &m), PROTETS_EINVAL);
	meta_init(&m, "");
	ck_assert_int_eq(tbl_format(s.rw, s.size, &m), PROTETS_EINVAL);
	meta_init(&m, "x");
	m.access = 0;
	ck_assert_int_eq(tbl_format(s.rw, s.size, &m), PROTETS_EINVAL);
	memset(m.name, 'a', sizeof(m.name));	/* no NUL */
	m.access = PROTETS_PUBLIC;
	ck_assert_int_eq(tbl_format(s.rw, s.size, &m), PROTETS_EINVAL);

	/* meta and stats round trip */
	ck_assert_int_eq(tbl_meta(&s.tro, &m2), 0);
	ck_assert_str_eq(m2.name, "test");
	ck_assert_uint_eq(m2.id, 42);
	ck_assert_uint_eq(m2.type, PROTETS_SET);
	ck_assert_uint_eq(m2.access, PROTETS_PROTECTED);
	ck_assert_uint_eq(m2.owner_uid, getuid());
	ck_assert_int_eq(tbl_stats(&s.tro, &st), 0);
	ck_assert_uint_eq(st.entries, 0);
	ck_assert_uint_eq(st.bytes_size, s.size);
	ck_assert_uint_gt(st.bytes_used, 0);
	ck_assert_uint_lt(st.bytes_used, 4096);
	check_ok(&s.t);
	check_ok(&s.tro);

	/* a zero segment is not a table */
	{
		unsigned char *z = mmap(NULL, 1 << 16, PROT_READ,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ck_assert_int_eq(tbl_open(&t, z, 1 << 16, 0), PROTETS_EFORMAT);
		munmap(z, 1 << 16);
	}
	/* bad magic */
	save = h->magic;
	h->magic ^= 1;
	ck_assert_int_eq(tbl_open(&t, s.rw, s.size, 1), PROTETS_EFORMAT);
	h->magic = save;
	/* wrong signature: the hash, or the text */
	h->sig ^= 0x100;
	ck_assert_int_eq(tbl_open(&t, s.rw, s.size, 1), PROTETS_EFORMAT);
	h->sig ^= 0x100;
	c = h->sigstr[20];
	h->sigstr[20] = '#';
	ck_assert_int_eq(tbl_open(&t, s.ro, s.size, 0), PROTETS_EFORMAT);
	h->sigstr[20] = c;
	h->layout++;
	ck_assert_int_eq(tbl_open(&t, s.rw, s.size, 1), PROTETS_EFORMAT);
	h->layout--;
	/* truncated: mapped smaller than the header says */
	ck_assert_int_eq(tbl_open(&t, s.rw, s.size - 4096, 1),
	    PROTETS_ECORRUPT);
	ck_assert_int_eq(tbl_open(&t, s.rw, 100, 1), PROTETS_ECORRUPT);
	/* a constant of the layout damaged */
	h->heap_off += 8;
	ck_assert_int_eq(tbl_open(&t, s.rw, s.size, 1), PROTETS_ECORRUPT);
	h->heap_off -= 8;
	/* and all is well again */
	ck_assert_int_eq(tbl_open(&t, s.rw, s.size, 1), 0);
	ck_assert_uint_eq(t.size, s.size);
	check_ok(&t);
	seg_free(&s);
}
END_TEST

struct fold_state {
	int	n;
	char	seen[64][32];
};

static int
fold_collect(const void *k, size_t klen, const void *v, size_t vlen,
    void *arg)
{
	struct fold_state	*fs = arg;

	(void)v;
	(void)vlen;
	if (fs->n < 64 && klen < 32) {
		memcpy(fs->seen[fs->n], k, klen);
		fs->seen[fs->n][klen] = '\0';
	}
	fs->n++;
	return 0;
}

static int
fold_stop(const void *k, size_t klen, const void *v, size_t vlen, void *arg)
{
	(void)k;
	(void)klen;
	(void)v;
	(void)vlen;
	(*(int *)arg)++;
	return 7;
}

START_TEST(test_basic)
{
	struct seg		s;
	struct fold_state	fs;
	char			buf[128];
	int			i, stops = 0;

	seg_new(&s, 1 << 20);
	ck_assert_int_eq(get(&s.t, "a", buf, sizeof(buf)), PROTETS_NOTFOUND);
	ck_assert_int_eq(put(&s.t, "a", "1"), 0);
	ck_assert_int_eq(put(&s.t, "b", "22"), 0);
	ck_assert_int_eq(put(&s.t, "c", ""), 0);
	ck_assert_uint_eq(count_of(&s.t), 3);
	ck_assert_int_eq(get(&s.t, "a", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "1");
	ck_assert_int_eq(get(&s.tro, "b", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "22");
	ck_assert_int_eq(get(&s.tro, "c", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "");
	/* replace */
	ck_assert_int_eq(put(&s.t, "a", "a much longer value than before"), 0);
	ck_assert_uint_eq(count_of(&s.tro), 3);
	ck_assert_int_eq(get(&s.tro, "a", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "a much longer value than before");
	ck_assert_int_eq(put(&s.t, "a", "x"), 0);
	ck_assert_int_eq(get(&s.t, "a", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "x");
	check_ok(&s.t);
	/* delete, also of what is not there */
	ck_assert_int_eq(tbl_delete(&s.t, "b", 1), 0);
	ck_assert_int_eq(tbl_delete(&s.t, "b", 1), 0);
	ck_assert_int_eq(tbl_delete(&s.t, "zz", 2), 0);
	ck_assert_int_eq(get(&s.tro, "b", buf, sizeof(buf)), PROTETS_NOTFOUND);
	ck_assert_uint_eq(count_of(&s.t), 2);
	/* foldl */
	memset(&fs, 0, sizeof(fs));
	ck_assert_int_eq(tbl_foldl(&s.tro, fold_collect, &fs), 0);
	ck_assert_int_eq(fs.n, 2);
	ck_assert((strcmp(fs.seen[0], "a") == 0 && strcmp(fs.seen[1], "c") == 0)
	    || (strcmp(fs.seen[0], "c") == 0 && strcmp(fs.seen[1], "a") == 0));
	ck_assert_int_eq(tbl_foldl(&s.t, fold_stop, &stops), 7);
	ck_assert_int_eq(stops, 1);
	/* binary keys with NULs, keys that differ only in length */
	ck_assert_int_eq(tbl_insert(&s.t, "\0\0", 2, "z", 1), 0);
	ck_assert_int_eq(tbl_insert(&s.t, "\0", 1, "y", 1), 0);
	{
		size_t n;
		ck_assert_int_eq(tbl_lookup(&s.t, "\0\0", 2, buf, 10, &n), 0);
		ck_assert_uint_eq(n, 1);
		ck_assert_int_eq(buf[0], 'z');
		ck_assert_int_eq(tbl_lookup(&s.t, "\0", 1, buf, 10, &n), 0);
		ck_assert_int_eq(buf[0], 'y');
	}
	for (i = 0; i < 1000; i++) {
		snprintf(buf, sizeof(buf), "key%d", i);
		ck_assert_int_eq(put(&s.t, buf, buf), 0);
	}
	check_ok(&s.t);
	check_ok(&s.tro);
	ck_assert_uint_eq(count_of(&s.t), 1004);
	ck_assert_int_eq(tbl_foldl(&s.t, fold_collect, &fs), 0);
	seg_free(&s);
}
END_TEST

START_TEST(test_errors)
{
	struct seg	 s;
	unsigned char	*big;
	char		 buf[8];
	size_t		 n;

	seg_new(&s, 8 << 20);
	big = calloc(1, PROTETS_VALUE_MAX + 1);
	ck_assert_ptr_nonnull(big);
	ck_assert_int_eq(tbl_insert(&s.t, "", 0, "v", 1), PROTETS_EINVAL);
	ck_assert_int_eq(tbl_insert(&s.t, NULL, 3, "v", 1), PROTETS_EINVAL);
	ck_assert_int_eq(tbl_insert(&s.t, "k", 1, NULL, 3), PROTETS_EINVAL);
	ck_assert_int_eq(tbl_insert(&s.t, big, PROTETS_KEY_MAX + 1, "v", 1),
	    PROTETS_ETOOBIG);
	ck_assert_int_eq(tbl_insert(&s.t, "k", 1, big, PROTETS_VALUE_MAX + 1),
	    PROTETS_ETOOBIG);
	ck_assert_int_eq(tbl_lookup(&s.t, "", 0, buf, 8, &n), PROTETS_EINVAL);
	ck_assert_int_eq(tbl_lookup(&s.t, big, PROTETS_KEY_MAX + 1, buf, 8, &n),
	    PROTETS_ETOOBIG);
	ck_assert_int_eq(tbl_lookup(&s.t, "k", 1, buf, 8, NULL), PROTETS_EINVAL);
	ck_assert_int_eq(tbl_delete(&s.t, "", 0), PROTETS_EINVAL);
	ck_assert_int_eq(tbl_delete(&s.t, big, PROTETS_KEY_MAX + 1),
	    PROTETS_ETOOBIG);
	/* the limits themselves are fine */
	memset(big, 'k', PROTETS_VALUE_MAX);
	ck_assert_int_eq(tbl_insert(&s.t, big, PROTETS_KEY_MAX, big,
	    PROTETS_VALUE_MAX), 0);
	ck_assert_int_eq(tbl_lookup(&s.tro, big, PROTETS_KEY_MAX, NULL, 0, &n),
	    PROTETS_ERANGE);
	ck_assert_uint_eq(n, PROTETS_VALUE_MAX);
	/* ERANGE says how much is needed */
	ck_assert_int_eq(put(&s.t, "k", "0123456789"), 0);
	n = 0;
	ck_assert_int_eq(tbl_lookup(&s.t, "k", 1, buf, sizeof(buf), &n),
	    PROTETS_ERANGE);
	ck_assert_uint_eq(n, 10);
	ck_assert_int_eq(tbl_lookup(&s.t, "k", 1, NULL, 0, &n), PROTETS_ERANGE);
	ck_assert_uint_eq(n, 10);
	/* read-only mapping: no writes, no repair, reads fine */
	ck_assert_int_eq(put(&s.tro, "k", "v"), PROTETS_EACCES);
	ck_assert_int_eq(tbl_delete(&s.tro, "k", 1), PROTETS_EACCES);
	ck_assert_int_eq(tbl_repair(&s.tro), PROTETS_EACCES);
	ck_assert_int_eq(tbl_repair(&s.t), 0);
	ck_assert_int_eq(tbl_foldl(&s.t, NULL, NULL), PROTETS_EINVAL);
	ck_assert_uint_eq(count_of(&s.tro), 2);
	check_ok(&s.tro);
	free(big);
	seg_free(&s);
}
END_TEST

START_TEST(test_full)
{
	struct seg		s;
	struct tbl_stats	st, st2;
	char			k[32], v[200], buf[256];
	int			i, n, e;

	seg_new(&s, tbl_min_size() + 64 * 1024);
	memset(v, 'v', sizeof(v));
	for (n = 0;; n++) {
		snprintf(k, sizeof(k), "key-%d", n);
		e = tbl_insert(&s.t, k, strlen(k), v, 100);
		if (e != 0)
			break;
	}
	ck_assert_int_eq(e, PROTETS_EFULL);
	ck_assert_int_gt(n, 300);
	ck_assert_int_eq(tbl_stats(&s.t, &st), 0);
	ck_assert_uint_eq(st.entries, (uint64_t)n);
	/* nothing lost, nothing changed by the failed inserts */
	for (i = 0; i < 50; i++) {
		snprintf(k, sizeof(k), "other-%d", i);
		ck_assert_int_eq(tbl_insert(&s.t, k, strlen(k), v, 150),
		    PROTETS_EFULL);
	}
	ck_assert_int_eq(tbl_stats(&s.t, &st2), 0);
	ck_assert_mem_eq(&st, &st2, sizeof(st));
	check_ok(&s.t);
	for (i = 0; i < n; i++) {
		snprintf(k, sizeof(k), "key-%d", i);
		ck_assert_int_eq(get(&s.tro, k, buf, sizeof(buf)), 0);
		ck_assert_uint_eq(strlen(buf), 100);
	}
	/* a replace needing a bigger block fails whole */
	ck_assert_int_eq(tbl_insert(&s.t, "key-0", 5, v, 200), PROTETS_EFULL);
	ck_assert_int_eq(get(&s.tro, "key-0", buf, sizeof(buf)), 0);
	ck_assert_uint_eq(strlen(buf), 100);
	/* space is reused after deletes */
	for (i = 0; i < n; i += 2) {
		snprintf(k, sizeof(k), "key-%d", i);
		ck_assert_int_eq(tbl_delete(&s.t, k, strlen(k)), 0);
	}
	check_ok(&s.t);
	for (i = 0; i < n / 2 - 1; i++) {
		snprintf(k, sizeof(k), "new-%d", i);
		ck_assert_int_eq(tbl_insert(&s.t, k, strlen(k), v, 100), 0);
	}
	check_ok(&s.t);
	seg_free(&s);
}
END_TEST

/* ---------------------------------------------------------------- */
/* Randomised model test against a trivial reference. */

#define MODEL_KEYS	3000

struct model {
	int		present[MODEL_KEYS];
	size_t		vlen[MODEL_KEYS];
	unsigned char	*val[MODEL_KEYS];
};

static size_t
model_key(int i, char *k)
{
	/* unique: i in the first two bytes; lengths 2..41 */
	int	len = 2 + (i * 7) % 40, j;

	for (j = 2; j < len; j++)
		k[j] = (char)('a' + (i + j * 31) % 26);
	k[0] = (char)(i & 0xff);
	k[1] = (char)(i >> 8);
	return (size_t)len;
}

static unsigned
rnd(unsigned *st)
{
	*st = *st * 1103515245u + 12345u;
	return (*st >> 8) & 0xffffff;
}

static int
model_fold(const void *k, size_t klen, const void *v, size_t vlen, void *arg)
{
	struct model	*m = arg;
	char		 kb[64];
	int		 i;

	/* recover the index: find the key (quadratic but small) */
	for (i = 0; i < MODEL_KEYS; i++) {
		if (model_key(i, kb) == klen && memcmp(kb, k, klen) == 0)
			break;
	}
	ck_assert_int_lt(i, MODEL_KEYS);
	ck_assert_int_eq(m->present[i], 1);
	ck_assert_uint_eq(m->vlen[i], vlen);
	ck_assert(vlen == 0 || memcmp(m->val[i], v, vlen) == 0);
	m->present[i] = 2;	/* seen */
	return 0;
}

static void
model_compare(struct seg *s, struct model *m)
{
	static unsigned char	buf[4096];
	char			k[64];
	size_t			klen, n;
	uint64_t		cnt = 0;
	int			i, e;

	for (i = 0; i < MODEL_KEYS; i++) {
		klen = model_key(i, k);
		e = tbl_lookup(&s->tro, k, klen, buf, sizeof(buf), &n);
		if (m->present[i]) {
			cnt++;
			ck_assert_int_eq(e, 0);
			ck_assert_uint_eq(n, m->vlen[i]);
			ck_assert(n == 0 || memcmp(buf, m->val[i], n) == 0);
		} else
			ck_assert_int_eq(e, PROTETS_NOTFOUND);
	}
	ck_assert_uint_eq(count_of(&s->t), cnt);
	ck_assert_int_eq(tbl_foldl(&s->tro, model_fold, m), 0);
	for (i = 0; i < MODEL_KEYS; i++) {
		ck_assert_int_ne(m->present[i], 1);	/* all seen */
		if (m->present[i] == 2)
			m->present[i] = 1;
	}
	check_ok(&s->t);
}

START_TEST(test_model)
{
	static struct model	m;
	static unsigned char	vbuf[4096], buf[4096];
	struct seg		s;
	char			k[64];
	size_t			klen, vlen, n;
	unsigned		st = 12345 + (unsigned)_i;
	int			op, i, j, e;

	memset(&m, 0, sizeof(m));
	seg_new(&s, 64 << 20);
	for (op = 0; op < 150000; op++) {
		i = (int)(rnd(&st) % MODEL_KEYS);
		klen = model_key(i, k);
		switch (rnd(&st) % 8) {
		case 0: case 1: case 2: case 3:
			vlen = rnd(&st) % 64 == 0 ? rnd(&st) % 4000 :
			    rnd(&st) % 100;
			for (j = 0; j < (int)vlen; j++)
				vbuf[j] = (unsigned char)rnd(&st);
			ck_assert_int_eq(tbl_insert(&s.t, k, klen, vbuf, vlen),
			    0);
			free(m.val[i]);
			m.val[i] = malloc(vlen + 1);
			memcpy(m.val[i], vbuf, vlen);
			m.vlen[i] = vlen;
			m.present[i] = 1;
			break;
		case 4: case 5:
			ck_assert_int_eq(tbl_delete(&s.t, k, klen), 0);
			m.present[i] = 0;
			break;
		default:
			e = tbl_lookup(rnd(&st) & 1 ? &s.t : &s.tro, k, klen,
			    buf, sizeof(buf), &n);
			if (m.present[i]) {
				ck_assert_int_eq(e, 0);
				ck_assert_uint_eq(n, m.vlen[i]);
				ck_assert(n == 0 ||
				    memcmp(buf, m.val[i], n) == 0);
			} else
				ck_assert_int_eq(e, PROTETS_NOTFOUND);
		}
		if (op % 25000 == 24999)
			model_compare(&s, &m);
	}
	model_compare(&s, &m);
	for (i = 0; i < MODEL_KEYS; i++)
		free(m.val[i]);
	seg_free(&s);
}
END_TEST

START_TEST(test_growth)
{
	struct seg		s;
	struct tbl_stats	st;
	struct tbl_state	*ts;
	char			k[32], buf[64];
	uint64_t		top;
	int			i, n = 200000;

	seg_new(&s, 64 << 20);
	ts = (struct tbl_state *)(void *)(s.rw + TBL_STATE_OFF);
	for (i = 0; i < n; i++) {
		snprintf(k, sizeof(k), "g%08d", i);
		ck_assert_int_eq(put(&s.t, k, k), 0);
	}
	ck_assert_uint_eq(count_of(&s.t), (uint64_t)n);
	/* the index grew with the table, one bucket at a time */
	ck_assert_uint_ge(((uint64_t)TBL_IX_NB0 << ts->ix_level) + ts->ix_split,
	    (uint64_t)n / TBL_IX_LOAD);
	ck_assert_uint_lt(ts->overflow, (uint64_t)n / TBL_IX_LOAD / 4);
	check_ok(&s.t);
	for (i = 0; i < n; i++) {
		snprintf(k, sizeof(k), "g%08d", i);
		ck_assert_int_eq(get(&s.tro, k, buf, sizeof(buf)), 0);
		ck_assert_str_eq(buf, k);
	}
	top = ts->top;
	for (i = 0; i < n; i++) {
		snprintf(k, sizeof(k), "g%08d", i);
		ck_assert_int_eq(tbl_delete(&s.t, k, strlen(k)), 0);
	}
	ck_assert_uint_eq(count_of(&s.t), 0);
	check_ok(&s.t);
	for (i = 0; i < n; i++) {
		snprintf(k, sizeof(k), "h%08d", i);
		ck_assert_int_eq(put(&s.t, k, k), 0);
	}
	/* freed blocks were reused: the heap hardly grew (overflow buckets
	 * fall differently on a table that no longer splits) */
	ck_assert_uint_le(ts->top, top + top / 100);
	ck_assert_int_eq(tbl_stats(&s.t, &st), 0);
	ck_assert_uint_eq(st.entries, (uint64_t)n);
	check_ok(&s.t);
	seg_free(&s);
}
END_TEST

/*
 * foldl while the callback itself writes: stable keys (never touched)
 * must each be seen exactly once although every callback inserts new
 * keys (splitting buckets under the walk) and deletes others.
 */
struct fold_mut {
	struct tbl	*t;
	int		 seen[2000];
	int		 added;
	int		 calls;
};

static int
fold_mutate(const void *k, size_t klen, const void *v, size_t vlen,
    void *arg)
{
	struct fold_mut	*fm = arg;
	char		 kb[32], nk[32];
	int		 i;

	(void)v;
	(void)vlen;
	fm->calls++;
	ck_assert_uint_lt(klen, sizeof(kb));
	memcpy(kb, k, klen);
	kb[klen] = '\0';
	if (kb[0] == 's') {
		i = atoi(kb + 1);
		fm->seen[i]++;
	}
	for (i = 0; i < 3; i++) {
		snprintf(nk, sizeof(nk), "n%d", fm->added++);
		ck_assert_int_eq(put(fm->t, nk, "new"), 0);
	}
	snprintf(nk, sizeof(nk), "v%d", fm->calls % 1000);
	ck_assert_int_eq(tbl_delete(fm->t, nk, strlen(nk)), 0);
	return 0;
}

START_TEST(test_foldl_writes)
{
	static struct fold_mut	fm;
	struct seg		s;
	char			k[32];
	int			i;

	seg_new(&s, 64 << 20);
	for (i = 0; i < 2000; i++) {
		snprintf(k, sizeof(k), "s%d", i);
		ck_assert_int_eq(put(&s.t, k, "stable"), 0);
	}
	for (i = 0; i < 1000; i++) {
		snprintf(k, sizeof(k), "v%d", i);
		ck_assert_int_eq(put(&s.t, k, "volatile"), 0);
	}
	memset(&fm, 0, sizeof(fm));
	fm.t = &s.t;
	ck_assert_int_eq(tbl_foldl(&s.t, fold_mutate, &fm), 0);
	for (i = 0; i < 2000; i++)
		ck_assert_msg(fm.seen[i] == 1, "s%d seen %d times", i,
		    fm.seen[i]);
	ck_assert_int_gt(fm.added, 6000);	/* the table more than tripled */
	check_ok(&s.t);
	seg_free(&s);
}
END_TEST

/* ---------------------------------------------------------------- */
/* Corruption: no crash, ECORRUPT reported. */

static void
populate(struct seg *s, int n, int vlen)
{
	char	k[32], v[512];
	int	i;

	memset(v, 'p', sizeof(v));
	for (i = 0; i < n; i++) {
		snprintf(k, sizeof(k), "p%d", i);
		ck_assert_int_eq(tbl_insert(&s->t, k, strlen(k), v,
		    (size_t)(vlen >= 0 ? vlen : i % 300)), 0);
	}
}

static int
fold_count(const void *k, size_t klen, const void *v, size_t vlen, void *arg)
{
	(void)k;
	(void)klen;
	(void)v;
	(void)vlen;
	(*(int *)arg)++;
	return 0;
}

/* Exercise every operation; the results are whatever they are. */
static int
poke_all(struct seg *s, int n)
{
	static unsigned char	buf[1024];
	char			k[32], msg[128];
	size_t			len;
	uint64_t		cnt;
	int			i, fails = 0;

	for (i = 0; i < n; i++) {
		snprintf(k, sizeof(k), "p%d", i);
		if (tbl_lookup(&s->tro, k, strlen(k), buf, sizeof(buf), &len)
		    == PROTETS_ECORRUPT)
			fails++;
	}
	(void)tbl_count(&s->tro, &cnt);
	(void)tbl_foldl(&s->tro, fold_stop, &i);
	(void)tbl_foldl(&s->tro, fold_count, &i);
	(void)put(&s->t, "p1", "replaced");
	(void)put(&s->t, "brand-new", "x");
	(void)tbl_delete(&s->t, "p2", 2);
	(void)tbl_check(&s->tro, msg, sizeof(msg));
	return fails;
}

static struct tbl_state *
state_of(struct seg *s)
{
	return (struct tbl_state *)(void *)(s->rw + TBL_STATE_OFF);
}

static uint64_t *
word_at(struct seg *s, uint64_t off)
{
	return (uint64_t *)(void *)(s->rw + off);
}

/* First non-empty slot of chunk 0. */
static uint64_t
some_slot(struct seg *s)
{
	uint64_t	off = state_of(s)->ix_chunk[0], i;

	for (i = 0; i < TBL_IX_NB0 * TBL_BUCKET_SLOTS; i++)
		if (*word_at(s, off + (i / 7) * 64 + (i % 7) * 8) != 0)
			return off + (i / 7) * 64 + (i % 7) * 8;
	ck_abort_msg("no slot");
	return 0;
}

static unsigned
al_class_of_entry(struct seg *s, uint64_t eoff)
{
	return (unsigned)(*word_at(s, eoff) >> 48) & 0xff;
}

static void
expect_corrupt(struct seg *s, const char *what)
{
	char	msg[256];

	msg[0] = '\0';
	ck_assert_msg(tbl_check(&s->t, msg, sizeof(msg)) == PROTETS_ECORRUPT,
	    "%s: not detected", what);
	ck_assert_msg(msg[0] != '\0', "%s: no message", what);
	ck_assert_int_eq(tbl_check(&s->tro, msg, sizeof(msg)),
	    PROTETS_ECORRUPT);
	(void)poke_all(s, 300);
}

START_TEST(test_corrupt)
{
	struct seg		 s;
	struct tbl_state	*st;
	unsigned char		*snap;
	uint64_t		 slot, e0;
	char			 k[32];
	int			 i;

	seg_new(&s, 4 << 20);
	populate(&s, 300, -1);
	for (i = 0; i < 300; i += 4) {
		snprintf(k, sizeof(k), "p%d", i);
		ck_assert_int_eq(tbl_delete(&s.t, k, strlen(k)), 0);
	}
	check_ok(&s.t);
	st = state_of(&s);
	snap = malloc(s.size);
	memcpy(snap, s.rw, s.size);
	slot = some_slot(&s);

#define RESTORE()	memcpy(s.rw, snap, s.size)
	/* slot pointing past the end, into the header, misaligned */
	*word_at(&s, slot) = (*word_at(&s, slot) & ~TBL_SLOT_OFFMASK) |
	    ((s.size + 4096) >> 3);
	expect_corrupt(&s, "slot past end");
	RESTORE();
	*word_at(&s, slot) = (*word_at(&s, slot) & ~TBL_SLOT_OFFMASK) | 8;
	expect_corrupt(&s, "slot into header");
	RESTORE();
	*word_at(&s, slot) = (*word_at(&s, slot) & ~TBL_SLOT_OFFMASK) |
	    ((s.size - 8) >> 3);
	expect_corrupt(&s, "slot at the last word");
	RESTORE();
	/* entry header: huge key length */
	e0 = (*word_at(&s, slot) & TBL_SLOT_OFFMASK) << 3;
	*word_at(&s, e0) |= 0xffffULL << 32;
	expect_corrupt(&s, "entry klen");
	RESTORE();
	/* entry key changed: now in the wrong bucket */
	s.rw[e0 + TBL_ENTRY_HDR] ^= 0x55;
	expect_corrupt(&s, "entry key");
	RESTORE();
	/* index geometry */
	st->ix_chunk[0] = s.size - 64;
	expect_corrupt(&s, "chunk 0");
	RESTORE();
	st->ix_chunk[0] += 8;
	expect_corrupt(&s, "chunk 0 misaligned");
	RESTORE();
	st->ix_level = 60;
	expect_corrupt(&s, "level");
	RESTORE();
	/* bucket link into itself */
	*word_at(&s, st->ix_chunk[0] +
	    offsetof(struct tbl_bucket, next)) = st->ix_chunk[0];
	expect_corrupt(&s, "link cycle");
	RESTORE();
	/* allocator */
	for (i = 0; i < TBL_NCLASS && st->al_free[i] == 0; i++)
		;
	ck_assert_int_lt(i, TBL_NCLASS);
	st->al_free[i] += 8;
	expect_corrupt(&s, "free list head");
	RESTORE();
	*word_at(&s, st->al_free[i]) = s.size * 2;
	expect_corrupt(&s, "free list link");
	RESTORE();
	*word_at(&s, st->al_free[i]) = st->al_free[i];
	expect_corrupt(&s, "free list cycle");
	RESTORE();
	st->top += 64;
	expect_corrupt(&s, "top");
	RESTORE();
	st->top = st->ceil + 4096;
	expect_corrupt(&s, "top above ceiling");
	RESTORE();
	st->used += 8;
	expect_corrupt(&s, "used");
	RESTORE();
	st->entries++;
	expect_corrupt(&s, "entries");
	RESTORE();
	/* overlap: a free block that is also an entry */
	st->al_free[al_class_of_entry(&s, e0)] = e0;
	expect_corrupt(&s, "overlap");
	RESTORE();
	check_ok(&s.t);
	free(snap);
	seg_free(&s);
#undef RESTORE
}
END_TEST

/* Random damage anywhere in the state, index or heap: never a crash. */
START_TEST(test_corrupt_fuzz)
{
	struct seg		 s;
	struct tbl_state	*st;
	unsigned char		*snap;
	uint64_t		 off, lo, span;
	unsigned		 r = 777;
	char			 msg[128];
	int			 i, e, found = 0;

	seg_new(&s, 1 << 20);
	populate(&s, 400, -1);
	for (i = 0; i < 400; i += 3) {
		snprintf(msg, sizeof(msg), "p%d", i);
		ck_assert_int_eq(tbl_delete(&s.t, msg, strlen(msg)), 0);
	}
	st = state_of(&s);
	snap = malloc(s.size);
	memcpy(snap, s.rw, s.size);
	for (i = 0; i < 400; i++) {
		memcpy(s.rw, snap, s.size);
		switch (rnd(&r) % 3) {
		case 0:		/* state */
			lo = TBL_STATE_OFF;
			span = sizeof(struct tbl_state);
			break;
		case 1:		/* heap */
			lo = TBL_HEAP_OFF;
			span = st->top - TBL_HEAP_OFF;
			break;
		default:	/* index chunks */
			lo = st->ceil;
			span = s.size - st->ceil;
			break;
		}
		off = lo + ((uint64_t)rnd(&r) * 8) % span;
		off &= ~7ULL;
		*word_at(&s, off) ^= (uint64_t)(rnd(&r) | 1) << (rnd(&r) % 40);
		e = tbl_check(&s.t, msg, sizeof(msg));
		ck_assert(e == 0 || e == PROTETS_ECORRUPT);
		found += e != 0;
		(void)poke_all(&s, 400);
		e = tbl_check(&s.t, msg, sizeof(msg));
		ck_assert(e == 0 || e == PROTETS_ECORRUPT);
	}
	ck_assert_int_gt(found, 100);
	free(snap);
	seg_free(&s);
}
END_TEST

/*
 * A dead writer's undo log that points outside the state and heap is
 * refused whole: the table answers ECORRUPT (writers, writable readers)
 * or EAGAIN (read-only readers), and the mutex stays usable.
 */
START_TEST(test_bad_undo)
{
	struct seg	 s;
	struct tbl_undo	*u;
	uint64_t	*seq;
	char		 buf[64], msg[128];

	seg_new(&s, 1 << 20);
	populate(&s, 50, 10);
	u = (struct tbl_undo *)(void *)(s.rw + TBL_UNDO_OFF);
	seq = (uint64_t *)(void *)(s.rw + TBL_STRIPE_OFF +
	    offsetof(struct tbl_stripe, seq));
	u->rec[0].off = TBL_STATE_FIELD(entries);
	u->rec[0].old = 50;
	u->rec[1].off = TBL_STRIPE_OFF;		/* the mutex: refused */
	u->rec[1].old = 0;
	u->n = 2;
	(*seq)++;
	ck_assert_int_eq(put(&s.t, "p1", "x"), PROTETS_ECORRUPT);
	ck_assert_int_eq(put(&s.t, "p1", "x"), PROTETS_ECORRUPT);
	ck_assert_int_eq(get(&s.tro, "p1", buf, sizeof(buf)), PROTETS_EAGAIN);
	ck_assert_int_eq(get(&s.t, "p1", buf, sizeof(buf)), PROTETS_ECORRUPT);
	ck_assert_int_eq(tbl_check(&s.t, msg, sizeof(msg)), PROTETS_ECORRUPT);
	ck_assert_int_eq(tbl_repair(&s.t), PROTETS_ECORRUPT);
	/* an administrator clears the log: all is well, no ENOTRECOVERABLE */
	u->n = 1;
	ck_assert_int_eq(tbl_repair(&s.t), 0);
	ck_assert_int_eq(*seq & 1, 0);
	ck_assert_int_eq(put(&s.t, "p1", "x"), 0);
	ck_assert_int_eq(get(&s.tro, "p1", buf, sizeof(buf)), 0);
	check_ok(&s.t);
	seg_free(&s);
}
END_TEST

/* ---------------------------------------------------------------- */
/* Writers killed for real. */

/* Value of writer round c: self-describing, so torn reads show. */
static size_t
hot_value(uint64_t c, unsigned char *v)
{
	size_t	len = 16 + (size_t)(c * 37 % 3000);

	memset(v, (int)(c & 0xff), len);
	memcpy(v, &c, 8);
	return len;
}

static int
hot_valid(const unsigned char *v, size_t len)
{
	unsigned char	want[3100];
	uint64_t	c;

	if (len < 16)
		return 0;
	memcpy(&c, v, 8);
	return hot_value(c, want) == len && memcmp(want, v, len) == 0;
}

static void __attribute__((noreturn))
hot_writer(struct tbl *t, uint64_t c)
{
	unsigned char	v[3100];
	char		k[32];
	size_t		len;

	for (;; c++) {
		len = hot_value(c, v);
		if (tbl_insert(t, "hot", 3, v, len) != 0)
			_exit(1);
		snprintf(k, sizeof(k), "x%llu", (unsigned long long)(c % 3000));
		if ((c & 1 ? tbl_insert(t, k, strlen(k), v, len % 200) :
		    tbl_delete(t, k, strlen(k))) != 0)
			_exit(1);
	}
}

static uint64_t
now_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/*
 * A read-only reader (it could not write if it tried: PROT_READ) never
 * sees a torn value while writers are SIGKILLed mid-write over and over;
 * after a kill it gets EAGAIN at worst, until someone with a writable
 * mapping repairs (the daemon, in production).
 */
START_TEST(test_reader_vs_killed_writers)
{
	static unsigned char	buf[4096];
	struct seg		s;
	uint64_t		until, reads = 0, eagain = 0, repairs = 0;
	unsigned		r = 99;
	size_t			n;
	pid_t			pid;
	int			round, e, status;

	seg_new(&s, 8 << 20);
	for (round = 0; round < 60; round++) {
		if ((pid = fork()) == 0)
			hot_writer(&s.t, (uint64_t)round << 32);
		ck_assert_int_gt(pid, 0);
		until = now_us() + 500 + rnd(&r) % 3000;
		while (now_us() < until) {
			e = tbl_lookup(&s.tro, "hot", 3, buf, sizeof(buf), &n);
			reads++;
			if (e == 0)
				ck_assert_msg(hot_valid(buf, n), "torn read");
			else
				ck_assert_int_eq(e, PROTETS_NOTFOUND);
		}
		kill(pid, SIGKILL);
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		ck_assert(WIFSIGNALED(status));
		e = tbl_lookup(round & 1 ? &s.tro : &s.t, "hot", 3, buf,
		    sizeof(buf), &n);
		if (e == PROTETS_EAGAIN) {
			/* died holding the lock: repair, as the daemon does */
			eagain++;
			ck_assert_int_eq(tbl_repair(&s.t), 0);
			repairs++;
			e = tbl_lookup(&s.tro, "hot", 3, buf, sizeof(buf), &n);
		}
		ck_assert_msg(e == 0 || e == PROTETS_NOTFOUND, "lookup %d", e);
		if (e == 0)
			ck_assert_msg(hot_valid(buf, n), "torn value after kill");
		if (round % 10 == 0)
			check_ok(&s.tro);
	}
	check_ok(&s.t);
	fprintf(stderr, "reader_vs_killed_writers: %llu reads, %llu EAGAIN, "
	    "%llu repairs\n", (unsigned long long)reads,
	    (unsigned long long)eagain, (unsigned long long)repairs);
	seg_free(&s);
}
END_TEST

#ifdef PROTETS_CRASHTEST
static int
dig_fold(const void *k, size_t klen, const void *v, size_t vlen, void *arg)
{
	uint64_t	*d = arg;

	d[0] += XXH3_64bits_withSeed(k, klen, 1) * 3 ^
	    XXH3_64bits_withSeed(v, vlen, 2);
	d[1]++;
	return 0;
}

/* Contents digest, also checking count agrees with foldl. */
static void
digest(struct tbl *t, uint64_t d[2])
{
	d[0] = d[1] = 0;
	ck_assert_int_eq(tbl_foldl(t, dig_fold, d), 0);
	ck_assert_uint_eq(count_of(t), d[1]);
}

/*
 * Crash-point enumeration: for each scenario and operation, kill a child
 * writer at every crash point k of the operation; the parent's next lock
 * recovers, the table passes tbl_check and its contents are exactly those
 * before or after the operation.
 */
enum { OP_NEW, OP_NEW_BIG, OP_REPLACE, OP_DEL_HEAD, OP_DEL_TAIL,
    OP_DEL_MISSING, OP_NOPS };

struct crash_sc {
	char	keys[32][24];	/* keys of bucket 0's chain, in order */
	int	nkeys;
};

/* A key whose hash has (h & mask) == want. */
static void
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

/*
 * Scenario: bucket 0 holds nchain keys (9 that move on its split, the
 * rest stay), other buckets fill the table up to nfill entries (no more
 * ever, so that with nfill == LOAD * NB0 the next new key splits), and
 * deleted entries of OP_NEW's size class leave blocks on a free list.
 */
static void
sc_setup(struct seg *s, struct crash_sc *sc, int nchain, int nfill)
{
	char	k[24], v[64];
	int	seed = 0, i, n;

	memset(v, 'f', sizeof(v));
	sc->nkeys = 0;
	for (i = 0; i < nchain; i++) {
		key_with_hash(k, sizeof(k), "c", 31, i < 9 ? 16 : 0, &seed);
		ck_assert_int_eq(tbl_insert(&s->t, k, strlen(k), v, 20), 0);
		snprintf(sc->keys[sc->nkeys++], sizeof(sc->keys[0]), "%s", k);
	}
	/* 8 + 5 + 8 bytes: class 24, as "newkey" => "newvalue" */
	for (i = 0; i < 4; i++) {
		snprintf(k, sizeof(k), "gone%d", i);
		ck_assert_int_eq(tbl_insert(&s->t, k, strlen(k), v, 8), 0);
	}
	for (i = 0; i < 4; i++) {
		snprintf(k, sizeof(k), "gone%d", i);
		ck_assert_int_eq(tbl_delete(&s->t, k, strlen(k)), 0);
	}
	for (n = nchain; n < nfill; n++) {
		key_with_hash(k, sizeof(k), "f", 15, 1 + n % 15, &seed);
		ck_assert_int_eq(tbl_insert(&s->t, k, strlen(k), v, 20), 0);
	}
	ck_assert_uint_eq(count_of(&s->t), (uint64_t)nfill);
	ck_assert_uint_ne(state_of(s)->al_free[1], 0);	/* class 24 */
	check_ok(&s->t);
}

static int
crash_op(struct tbl *t, const struct crash_sc *sc, int op)
{
	static unsigned char	big[5000];

	switch (op) {
	case OP_NEW:
		return put(t, "newkey", "newvalue");
	case OP_NEW_BIG:
		memset(big, 'B', sizeof(big));
		return tbl_insert(t, "newbig", 6, big, sizeof(big));
	case OP_REPLACE:
		return put(t, sc->keys[0], "replaced-value");
	case OP_DEL_HEAD:
		return tbl_delete(t, sc->keys[0], strlen(sc->keys[0]));
	case OP_DEL_TAIL:
		return tbl_delete(t, sc->keys[sc->nkeys - 1],
		    strlen(sc->keys[sc->nkeys - 1]));
	default:
		return tbl_delete(t, "missing", 7);
	}
}

static pid_t
crash_child(struct seg *s, const struct crash_sc *sc, int op, unsigned long k)
{
	pid_t	pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		tbl_crash_at(k);
		_exit(crash_op(&s->t, sc, op) == 0 ? 0 : 2);
	}
	return pid;
}

/* Wait for a child; 1 if it was killed, 0 if it exited cleanly. */
static int
crash_wait(pid_t pid)
{
	int	status;

	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status)) {
		ck_assert_int_eq(WTERMSIG(status), SIGKILL);
		return 1;
	}
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	return 0;
}

static void
crash_verify(struct seg *s, const uint64_t *d0, const uint64_t *d1,
    unsigned long k, int *before, int *after)
{
	uint64_t	d[2];

	check_ok(&s->t);	/* takes the lock: recovers */
	digest(&s->tro, d);
	if (d[0] == d0[0] && d[1] == d0[1])
		(*before)++;
	else {
		ck_assert_msg(d[0] == d1[0] && d[1] == d1[1],
		    "step %lu: neither before nor after", k);
		(*after)++;
	}
}

static void
crash_enumerate(int nchain, int nfill, int test_recovery)
{
	static struct seg	s;
	struct crash_sc		sc;
	unsigned char		*snap, *dead;
	uint64_t		d0[2], d1[2];
	unsigned long		steps, k, j;
	int			op, before, after, rkills;

	unsigned long		total = 0, allsteps[OP_NOPS];

	seg_new(&s, 1 << 20);
	sc_setup(&s, &sc, nchain, nfill);
	snap = malloc(s.size);
	dead = malloc(s.size);
	memcpy(snap, s.rw, s.size);
	for (op = 0; op < OP_NOPS; op++) {
		memcpy(s.rw, snap, s.size);
		digest(&s.tro, d0);
		tbl_crash_at(0);	/* count, never kill */
		ck_assert_int_eq(crash_op(&s.t, &sc, op), 0);
		steps = tbl_crash_steps();
		allsteps[op] = steps;
		total += steps;
		digest(&s.tro, d1);
		check_ok(&s.t);
		ck_assert_uint_gt(steps, 0);
		before = after = rkills = 0;
		for (k = 1; k <= steps + 1; k++) {
			memcpy(s.rw, snap, s.size);
			ck_assert_int_eq(crash_wait(crash_child(&s, &sc, op,
			    k)), k <= steps);
			if (test_recovery && k <= steps && k % 3 == 0) {
				/* kill the recoverer too, at each step */
				memcpy(dead, s.rw, s.size);
				for (j = 1; j < 10000; j++) {
					pid_t p = fork();
					if (p == 0) {
						tbl_crash_at(j);
						_exit(tbl_repair(&s.t) ? 2 : 0);
					}
					if (!crash_wait(p))
						break;
					rkills++;
					crash_verify(&s, d0, d1, k, &before,
					    &after);
					memcpy(s.rw, dead, s.size);
				}
			}
			crash_verify(&s, d0, d1, k, &before, &after);
			/* and the table goes on working */
			if (k % 7 == 0) {
				ck_assert_int_eq(put(&s.t, "after", "crash"), 0);
				check_ok(&s.t);
			}
		}
		/* killed before the commit: before; after it: after */
		ck_assert_int_gt(before, 0);
		if (op != OP_DEL_MISSING)
			ck_assert_int_gt(after, 0);
		if (test_recovery)
			ck_assert_int_gt(rkills, 0);
	}
	fprintf(stderr, "crash chain=%d fill=%d: %lu kills (steps per op:"
	    " new %lu, big %lu, replace %lu, del %lu/%lu, missing %lu)\n",
	    nchain, nfill, total, allsteps[0], allsteps[1], allsteps[2],
	    allsteps[3], allsteps[4], allsteps[5]);
	free(snap);
	free(dead);
	seg_free(&s);
}

/* Plain chain, no split on insert. */
START_TEST(test_crash_simple)
{
	crash_enumerate(3, 20, 0);
}
END_TEST

/* Bucket 0 chain of 13 (an overflow bucket); inserts split it. */
START_TEST(test_crash_split)
{
	crash_enumerate(13, 64, 0);
}
END_TEST

/* Chain of 8: deleting frees the overflow bucket. */
START_TEST(test_crash_overflow)
{
	crash_enumerate(8, 30, 0);
}
END_TEST

/* Recoverers killed at every step of recovery. */
START_TEST(test_crash_recovery)
{
	crash_enumerate(13, 64, 1);
}
END_TEST
#endif /* PROTETS_CRASHTEST */

static Suite *
shm_suite(void)
{
	Suite	*s = suite_create("shm");
	TCase	*tc;

	tc = tcase_create("ops");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_format_open);
	tcase_add_test(tc, test_basic);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_full);
	tcase_add_loop_test(tc, test_model, 0, 2);
	tcase_add_test(tc, test_growth);
	tcase_add_test(tc, test_foldl_writes);
	suite_add_tcase(s, tc);

	tc = tcase_create("corrupt");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_corrupt);
	tcase_add_test(tc, test_corrupt_fuzz);
	tcase_add_test(tc, test_bad_undo);
	suite_add_tcase(s, tc);

	tc = tcase_create("kill");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_reader_vs_killed_writers);
#ifdef PROTETS_CRASHTEST
	tcase_add_test(tc, test_crash_simple);
	tcase_add_test(tc, test_crash_split);
	tcase_add_test(tc, test_crash_overflow);
	tcase_add_test(tc, test_crash_recovery);
#endif
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(shm_suite());
	int	 nf;

	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
