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
seg_new_type(struct seg *s, size_t size, unsigned type)
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
	m.type = type;
	ck_assert_int_eq(tbl_format(s->rw, size, &m), 0);
	ck_assert_int_eq(tbl_open(&s->t, s->rw, size, 1), 0);
	ck_assert_int_eq(tbl_open(&s->tro, s->ro, size, 0), 0);
}

static void
seg_new(struct seg *s, size_t size)
{
	seg_new_type(s, size, PROTETS_SET);
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

/*
 * Space freed in an operation is reused by later ones: batches that
 * replace the values of the same keys with values of one size (the blocks
 * they free are of the class they allocate next) run for ever in a small
 * segment.  (Popping nothing from a class freed into in the same
 * operation bumped a new block each time: the class grew until EFULL.)
 */
START_TEST(test_reuse_space)
{
	struct seg	s;
	protets_kv	kv[4];
	char		k[4][16], v[300];
	int		i, j, e;
	unsigned	type;

	for (type = PROTETS_SET; type <= PROTETS_BAG; type++) {
		seg_new_type(&s, 1 << 20, type);
		memset(v, 'v', sizeof(v));
		for (i = 0; i < 20000; i++) {
			for (j = 0; j < 4; j++) {
				snprintf(k[j], sizeof(k[j]), "k%d", (i + j) % 8);
				kv[j] = (protets_kv){ k[j], strlen(k[j]), v,
				    100 };
			}
			v[0] = (char)('a' + i % 26);	/* a bag: new values */
			if (type == PROTETS_BAG) {
				e = tbl_delete(&s.t, k[0], strlen(k[0]));
				ck_assert(e == 0 || e == PROTETS_NOTFOUND);
			}
			ck_assert_int_eq(tbl_insert_many(&s.t, kv, 4, 0), 0);
			snprintf(k[0], sizeof(k[0]), "m%d", i % 50);
			if (type == PROTETS_BAG)	/* one value per key */
				(void)tbl_delete(&s.t, k[0], strlen(k[0]));
			e = tbl_insert(&s.t, k[0], strlen(k[0]), v, 100);
			ck_assert_msg(e == 0, "type %u, step %d: %d", type, i,
			    e);
		}
		check_ok(&s.t);
		seg_free(&s);
	}
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
/* Bags and the ETS operation set. */

/* The values a callback saw, as "v1|v2|...|". */
struct vals {
	char	s[8192];
	int	n;
};

static int
vals_add(const void *k, size_t klen, const void *v, size_t vlen, void *arg)
{
	struct vals	*vs = arg;
	size_t		 l = strlen(vs->s);

	(void)k;
	(void)klen;
	ck_assert_uint_lt(l + vlen + 2, sizeof(vs->s));
	memcpy(vs->s + l, v, vlen);
	vs->s[l + vlen] = '|';
	vs->s[l + vlen + 1] = '\0';
	vs->n++;
	return 0;
}

/* All values of k, in order, through tbl_lookup_each. */
static const char *
values_of(struct tbl *t, const char *k, struct vals *vs)
{
	int	e;

	memset(vs, 0, sizeof(*vs));
	e = tbl_lookup_each(t, k, strlen(k), vals_add, vs);
	ck_assert(e == 0 || e == PROTETS_NOTFOUND);
	ck_assert_int_eq(e == PROTETS_NOTFOUND, vs->n == 0);
	return vs->s;
}

static const char *
taken(struct tbl *t, const char *k, struct vals *vs, int *rc)
{
	memset(vs, 0, sizeof(*vs));
	*rc = tbl_take(t, k, strlen(k), vals_add, vs);
	return vs->s;
}

START_TEST(test_bag)
{
	struct seg	 s;
	struct vals	 vs;
	struct tbl_meta	 m;
	char		 buf[64], v[16];
	unsigned	 type = _i == 0 ? PROTETS_BAG : PROTETS_DUPLICATE_BAG;
	int		 dup = type == PROTETS_DUPLICATE_BAG, i, rc;
	uint64_t	 n;

	seg_new_type(&s, 4 << 20, type);
	ck_assert_int_eq(tbl_meta(&s.t, &m), 0);
	ck_assert_uint_eq(m.type, type);
	ck_assert_uint_eq(s.t.type, type);
	ck_assert_int_eq(put(&s.t, "k", "a"), 0);
	ck_assert_int_eq(put(&s.t, "k", "b"), 0);
	ck_assert_int_eq(put(&s.t, "k", "a"), 0);	/* bag: no-op */
	ck_assert_int_eq(put(&s.t, "k", ""), 0);
	ck_assert_int_eq(put(&s.t, "other", "x"), 0);
	ck_assert_str_eq(values_of(&s.tro, "k", &vs), dup ? "a|b|a||" : "a|b||");
	ck_assert_uint_eq(count_of(&s.t), dup ? 5 : 4);
	/* lookup: the first value */
	ck_assert_int_eq(get(&s.tro, "k", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "a");
	ck_assert_int_eq(tbl_member(&s.tro, "k", 1), 0);
	ck_assert_int_eq(tbl_member(&s.tro, "nokey", 5), PROTETS_NOTFOUND);
	ck_assert_str_eq(values_of(&s.tro, "nokey", &vs), "");
	check_ok(&s.t);
	/* delete_object: one object (every copy on a duplicate bag) */
	ck_assert_int_eq(tbl_delete_object(&s.t, "k", 1, "a", 1, &n), 0);
	ck_assert_uint_eq(n, dup ? 2 : 1);
	ck_assert_str_eq(values_of(&s.tro, "k", &vs), "b||");
	ck_assert_int_eq(tbl_delete_object(&s.t, "k", 1, "zz", 2, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(tbl_delete_object(&s.t, "k", 1, NULL, 0, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(values_of(&s.tro, "k", &vs), "b|");
	check_ok(&s.t);
	/* many values of one key: overflow buckets, order kept */
	for (i = 0; i < 40; i++) {
		snprintf(v, sizeof(v), "%d", i);
		ck_assert_int_eq(put(&s.t, "many", v), 0);
		ck_assert_int_eq(put(&s.t, "many", v), 0);
	}
	ck_assert_uint_eq(count_of(&s.t), dup ? 82 : 42);
	check_ok(&s.t);
	/* remove from the middle: the rest keeps its order */
	for (i = 0; i < 40; i += 3) {
		snprintf(v, sizeof(v), "%d", i);
		ck_assert_int_eq(tbl_delete_object(&s.t, "many", 4, v,
		    strlen(v), NULL), 0);
	}
	check_ok(&s.t);
	memset(&vs, 0, sizeof(vs));
	values_of(&s.t, "many", &vs);
	{
		char	want[512] = "";

		for (i = 0; i < 40; i++) {
			if (i % 3 == 0)
				continue;
			snprintf(v, sizeof(v), "%d|", i);
			strcat(want, v);
			if (dup)
				strcat(want, v);
		}
		ck_assert_str_eq(vs.s, want);
	}
	/* take: every value, gone after */
	ck_assert_str_eq(taken(&s.t, "k", &vs, &rc), "b|");
	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(taken(&s.t, "k", &vs, &rc), "");
	ck_assert_int_eq(rc, PROTETS_NOTFOUND);
	/* delete: every value */
	ck_assert_int_eq(tbl_delete(&s.t, "many", 4), 0);
	ck_assert_int_eq(tbl_member(&s.t, "many", 4), PROTETS_NOTFOUND);
	ck_assert_uint_eq(count_of(&s.t), 1);
	check_ok(&s.t);
	/* counters are for sets */
	ck_assert_int_eq(tbl_update_counter(&s.t, "c", 1, 1, NULL, NULL),
	    PROTETS_EINVAL);
	/* growth: many keys with several values each, splits keep order */
	for (i = 0; i < 20000; i++) {
		snprintf(buf, sizeof(buf), "g%d", i % 5000);
		snprintf(v, sizeof(v), "%d", i / 5000);
		ck_assert_int_eq(put(&s.t, buf, v), 0);
	}
	check_ok(&s.t);
	for (i = 0; i < 5000; i += 97) {
		snprintf(buf, sizeof(buf), "g%d", i);
		ck_assert_str_eq(values_of(&s.tro, buf, &vs), "0|1|2|3|");
	}
	seg_free(&s);
}
END_TEST

/* A bag checked by tbl_check refuses the same object twice. */
START_TEST(test_bag_check)
{
	struct seg	 s;
	char		 msg[256];
	uint64_t	 boff, *bk;

	seg_new_type(&s, 1 << 20, PROTETS_BAG);
	ck_assert_int_eq(put(&s.t, "k", "a"), 0);
	check_ok(&s.t);
	/* duplicate the slot of "k" within its bucket */
	boff = state_of(&s)->ix_chunk[0] + 64 *
	    (XXH3_64bits("k", 1) & (TBL_IX_NB0 - 1));
	bk = word_at(&s, boff);
	ck_assert_uint_ne(bk[0], 0);
	ck_assert_uint_eq(bk[1], 0);
	bk[1] = bk[0];
	ck_assert_int_eq(tbl_check(&s.t, msg, sizeof(msg)), PROTETS_ECORRUPT);
	ck_assert_ptr_nonnull(strstr(msg, "twice"));
	bk[1] = 0;
	check_ok(&s.t);
	seg_free(&s);
}
END_TEST

static protets_kv
kv_of(const char *k, const char *v)
{
	protets_kv	kv = { k, strlen(k), v, strlen(v) };

	return kv;
}

START_TEST(test_insert_new_batch)
{
	struct seg		s;
	struct tbl_stats	st, st2;
	static protets_kv	kv[2000];
	static char		keys[2000][16];
	char			buf[64];
	int			i;

	seg_new(&s, 4 << 20);
	ck_assert_int_eq(tbl_insert_new(&s.t, "a", 1, "1", 1), 0);
	ck_assert_int_eq(tbl_insert_new(&s.t, "a", 1, "2", 1), PROTETS_EXISTS);
	ck_assert_int_eq(get(&s.t, "a", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "1");
	ck_assert_int_eq(tbl_insert_new(&s.tro, "b", 1, "2", 1),
	    PROTETS_EACCES);
	/* a batch with one existing key writes nothing */
	kv[0] = kv_of("b", "1");
	kv[1] = kv_of("c", "1");
	kv[2] = kv_of("a", "9");
	ck_assert_int_eq(tbl_stats(&s.t, &st), 0);
	ck_assert_int_eq(tbl_insert_many(&s.t, kv, 3, 1), PROTETS_EXISTS);
	ck_assert_int_eq(tbl_stats(&s.t, &st2), 0);
	ck_assert_mem_eq(&st, &st2, sizeof(st));
	ck_assert_int_eq(tbl_member(&s.t, "b", 1), PROTETS_NOTFOUND);
	/* without it, all of it */
	ck_assert_int_eq(tbl_insert_many(&s.t, kv, 2, 1), 0);
	ck_assert_uint_eq(count_of(&s.t), 3);
	/* a plain batch replaces, in order: the last one wins */
	kv[0] = kv_of("a", "x");
	kv[1] = kv_of("d", "y");
	kv[2] = kv_of("a", "z");
	ck_assert_int_eq(tbl_insert_many(&s.t, kv, 3, 0), 0);
	ck_assert_int_eq(get(&s.t, "a", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "z");
	ck_assert_uint_eq(count_of(&s.t), 4);
	/* a bad entry fails the batch before anything is written */
	kv[1].klen = 0;
	ck_assert_int_eq(tbl_insert_many(&s.t, kv, 3, 0), PROTETS_EINVAL);
	kv[1].klen = PROTETS_KEY_MAX + 1;
	ck_assert_int_eq(tbl_insert_many(&s.t, kv, 3, 0), PROTETS_ETOOBIG);
	ck_assert_int_eq(tbl_insert_many(&s.t, NULL, 3, 0), PROTETS_EINVAL);
	ck_assert_int_eq(tbl_insert_many(&s.t, NULL, 0, 0), 0);
	/* a batch too large for one operation: ELIMIT, nothing written */
	for (i = 0; i < 2000; i++) {
		snprintf(keys[i], sizeof(keys[i]), "big%d", i);
		kv[i] = kv_of(keys[i], keys[i]);
	}
	ck_assert_int_eq(tbl_stats(&s.t, &st), 0);
	ck_assert_int_eq(tbl_insert_many(&s.t, kv, 2000, 0), PROTETS_ELIMIT);
	ck_assert_int_eq(tbl_stats(&s.t, &st2), 0);
	ck_assert_mem_eq(&st, &st2, sizeof(st));
	/* 40 always fit, and split the index after */
	ck_assert_int_eq(tbl_insert_many(&s.t, kv, 40, 1), 0);
	ck_assert_uint_eq(count_of(&s.t), 44);
	check_ok(&s.t);
	for (i = 40; i + 40 <= 200; i += 40)
		ck_assert_int_eq(tbl_insert_many(&s.t, kv + i, 40, 0), 0);
	ck_assert_uint_eq(count_of(&s.t), 204);
	check_ok(&s.t);
	/* the largest batch of new keys that fits */
	for (i = 1000; i > 200; i -= 50)
		if (tbl_insert_many(&s.t, kv + 200, (size_t)i, 0) == 0)
			break;
	fprintf(stderr, "insert_many: %d new keys in one operation\n", i);
	ck_assert_int_ge(i, 250);
	check_ok(&s.t);
	ck_assert_uint_gt(state_of(&s)->ix_split + state_of(&s)->ix_level, 0);
	seg_free(&s);
}
END_TEST

/*
 * A batch that frees a block (a replace) and then allocates one of its
 * class must not reuse it: a roll back would restore the old entry's slot
 * over a block that now holds another entry.
 */
START_TEST(test_batch_reuse)
{
	struct seg	 s;
	protets_kv	 kv[3];
	unsigned char	*big;
	char		 buf[64];

	seg_new(&s, 1 << 20);
	big = calloc(1, PROTETS_VALUE_MAX);
	ck_assert_ptr_nonnull(big);
	ck_assert_int_eq(put(&s.t, "a", "old-value-a"), 0);
	ck_assert_int_eq(put(&s.t, "z", "zz"), 0);
	ck_assert_int_eq(tbl_delete(&s.t, "z", 1), 0);	/* a free block */
	kv[0] = kv_of("a", "new-value-a");	/* frees a's block */
	kv[1] = kv_of("b", "new-value-b");	/* same class */
	kv[2].key = "c";			/* EFULL: roll back */
	kv[2].klen = 1;
	kv[2].val = big;
	kv[2].vlen = PROTETS_VALUE_MAX;
	ck_assert_int_eq(tbl_insert_many(&s.t, kv, 3, 0), PROTETS_EFULL);
	check_ok(&s.t);
	ck_assert_int_eq(get(&s.tro, "a", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "old-value-a");
	ck_assert_int_eq(tbl_member(&s.t, "b", 1), PROTETS_NOTFOUND);
	/* and with room, all of it */
	ck_assert_int_eq(tbl_insert_many(&s.t, kv, 2, 0), 0);
	ck_assert_int_eq(get(&s.tro, "a", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "new-value-a");
	ck_assert_int_eq(get(&s.tro, "b", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "new-value-b");
	check_ok(&s.t);
	free(big);
	seg_free(&s);
}
END_TEST

/* A batch that fills the table fails whole. */
START_TEST(test_batch_full)
{
	struct seg		s;
	struct tbl_stats	st, st2;
	protets_kv		kv[30];
	char			keys[30][16], v[1000];
	int			i, n, e;

	seg_new(&s, tbl_min_size() + 64 * 1024);
	memset(v, 'v', sizeof(v));
	for (i = 0; i < 30; i++) {
		snprintf(keys[i], sizeof(keys[i]), "k%d", i);
		kv[i].key = keys[i];
		kv[i].klen = strlen(keys[i]);
		kv[i].val = v;
		kv[i].vlen = sizeof(v);
	}
	for (n = 0;; n++) {
		ck_assert_int_eq(tbl_stats(&s.t, &st), 0);
		e = tbl_insert_many(&s.t, kv, 30, 0);
		if (e != 0)
			break;
		for (i = 0; i < 30; i++)	/* new keys next round */
			keys[i][0]++;
	}
	ck_assert_int_eq(e, PROTETS_EFULL);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(tbl_stats(&s.t, &st2), 0);
	ck_assert_mem_eq(&st, &st2, sizeof(st));
	ck_assert_uint_eq(st.entries, (uint64_t)n * 30);
	ck_assert_int_eq(tbl_member(&s.t, keys[0], strlen(keys[0])),
	    PROTETS_NOTFOUND);
	check_ok(&s.t);
	seg_free(&s);
}
END_TEST

START_TEST(test_delete_object_take_clear)
{
	struct seg		s;
	struct tbl_stats	st0, st;
	struct vals		vs;
	char			k[32], buf[64];
	uint64_t		n;
	int			i, rc;

	seg_new(&s, 8 << 20);
	ck_assert_int_eq(tbl_stats(&s.t, &st0), 0);
	ck_assert_int_eq(put(&s.t, "k", "v"), 0);
	/* set: only if the value matches */
	ck_assert_int_eq(tbl_delete_object(&s.t, "k", 1, "w", 1, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(tbl_member(&s.t, "k", 1), 0);
	ck_assert_int_eq(tbl_delete_object(&s.t, "k", 1, "v", 1, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(tbl_member(&s.t, "k", 1), PROTETS_NOTFOUND);
	ck_assert_int_eq(tbl_delete_object(&s.tro, "k", 1, "v", 1, &n),
	    PROTETS_EACCES);
	ck_assert_int_eq(tbl_delete_object(&s.t, "", 0, "v", 1, &n),
	    PROTETS_EINVAL);
	/* take on a set */
	ck_assert_int_eq(put(&s.t, "t", "tv"), 0);
	ck_assert_str_eq(taken(&s.t, "t", &vs, &rc), "tv|");
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq(tbl_take(&s.t, "t", 1, NULL, NULL), PROTETS_NOTFOUND);
	ck_assert_int_eq(tbl_take(&s.tro, "t", 1, NULL, NULL), PROTETS_EACCES);
	check_ok(&s.t);
	/* clear a grown table: back to the fresh state, and usable */
	for (i = 0; i < 50000; i++) {
		snprintf(k, sizeof(k), "c%d", i);
		ck_assert_int_eq(put(&s.t, k, k), 0);
	}
	for (i = 0; i < 50000; i += 2) {
		snprintf(k, sizeof(k), "c%d", i);
		ck_assert_int_eq(tbl_delete(&s.t, k, strlen(k)), 0);
	}
	ck_assert_int_eq(tbl_clear(&s.tro), PROTETS_EACCES);
	ck_assert_int_eq(tbl_clear(&s.t), 0);
	ck_assert_uint_eq(count_of(&s.tro), 0);
	ck_assert_int_eq(tbl_stats(&s.t, &st), 0);
	ck_assert_mem_eq(&st, &st0, sizeof(st));
	ck_assert_uint_eq(state_of(&s)->ix_level, 0);
	ck_assert_uint_eq(state_of(&s)->top, TBL_HEAP_OFF);
	check_ok(&s.t);
	ck_assert_int_eq(get(&s.tro, "c1", buf, sizeof(buf)), PROTETS_NOTFOUND);
	ck_assert_int_eq(tbl_clear(&s.t), 0);		/* clear of empty */
	for (i = 0; i < 50000; i++) {
		snprintf(k, sizeof(k), "d%d", i);
		ck_assert_int_eq(put(&s.t, k, k), 0);
	}
	check_ok(&s.t);
	for (i = 0; i < 50000; i += 101) {
		snprintf(k, sizeof(k), "d%d", i);
		ck_assert_int_eq(get(&s.tro, k, buf, sizeof(buf)), 0);
		ck_assert_str_eq(buf, k);
	}
	seg_free(&s);
}
END_TEST

/*
 * A key with many values does not stop the index from growing (up to
 * about 3000 values: see docs/FORMAT.md, Limits).
 */
START_TEST(test_bag_hot_key)
{
	struct seg		 s;
	struct tbl_state	*ts;
	struct vals		 vs;
	char			 k[32], v[16];
	int			 i;

	seg_new_type(&s, 32 << 20, PROTETS_DUPLICATE_BAG);
	ts = state_of(&s);
	for (i = 0; i < 1500; i++) {
		snprintf(v, sizeof(v), "%d", i % 10);
		ck_assert_int_eq(put(&s.t, "hot", v), 0);
	}
	for (i = 0; i < 30000; i++) {
		snprintf(k, sizeof(k), "cold%d", i);
		ck_assert_int_eq(put(&s.t, k, "c"), 0);
		if (i % 50 == 0)
			ck_assert_int_eq(put(&s.t, "hot", "late"), 0);
	}
	ck_assert_uint_ge(((uint64_t)TBL_IX_NB0 << ts->ix_level) +
	    ts->ix_split, (32100 / TBL_IX_LOAD) / 2);
	check_ok(&s.t);
	memset(&vs, 0, sizeof(vs));
	ck_assert_int_eq(tbl_lookup_each(&s.tro, "hot", 3, vals_add, &vs), 0);
	ck_assert_int_eq(vs.n, 2100);
	seg_free(&s);
}
END_TEST

/* A bag key with more values than one operation can remove. */
START_TEST(test_delete_limit)
{
	struct seg	s;
	char		v[16];
	uint64_t	n0;
	int		i, e;

	seg_new_type(&s, 8 << 20, PROTETS_DUPLICATE_BAG);
	for (i = 0; i < 1000; i++) {
		snprintf(v, sizeof(v), "%d", i);
		ck_assert_int_eq(put(&s.t, "k", v), 0);
	}
	n0 = count_of(&s.t);
	e = tbl_delete(&s.t, "k", 1);
	ck_assert_int_eq(e, PROTETS_ELIMIT);
	ck_assert_uint_eq(count_of(&s.t), n0);
	ck_assert_int_eq(tbl_take(&s.t, "k", 1, NULL, NULL), PROTETS_ELIMIT);
	check_ok(&s.t);
	/* delete_object of a few values still works, and clear always */
	ck_assert_int_eq(tbl_delete_object(&s.t, "k", 1, "5", 1, NULL),
	    PROTETS_ELIMIT);
	ck_assert_int_eq(tbl_clear(&s.t), 0);
	ck_assert_uint_eq(count_of(&s.t), 0);
	for (i = 0; i < 300; i++) {
		snprintf(v, sizeof(v), "%d", i);
		ck_assert_int_eq(put(&s.t, "k", v), 0);
	}
	ck_assert_int_eq(tbl_delete(&s.t, "k", 1), 0);
	ck_assert_uint_eq(count_of(&s.t), 0);
	check_ok(&s.t);
	seg_free(&s);
}
END_TEST

static int64_t
ctr(struct tbl *t, const char *k, int64_t incr,
    const protets_counter_opts *o, int *rc)
{
	int64_t	r = 12345;

	*rc = tbl_update_counter(t, k, strlen(k), incr, o, &r);
	return r;
}

START_TEST(test_counter)
{
	struct seg		s;
	protets_counter_opts	o;
	char			buf[64];
	int64_t			v;
	int			rc;

	seg_new(&s, 1 << 20);
	/* the representation */
	ck_assert_int_eq(tbl_counter_parse("0", 1, &v), 0);
	ck_assert_int_eq(v, 0);
	ck_assert_int_eq(tbl_counter_parse("-42", 3, &v), 0);
	ck_assert_int_eq(v, -42);
	ck_assert_int_eq(tbl_counter_parse("9223372036854775807", 19, &v), 0);
	ck_assert(v == INT64_MAX);
	ck_assert_int_eq(tbl_counter_parse("-9223372036854775808", 20, &v), 0);
	ck_assert(v == INT64_MIN);
	ck_assert_int_eq(tbl_counter_parse("9223372036854775808", 19, &v),
	    PROTETS_EINVAL);
	ck_assert_int_eq(tbl_counter_parse("-9223372036854775809", 20, &v),
	    PROTETS_EINVAL);
	ck_assert_int_eq(tbl_counter_parse("", 0, &v), PROTETS_EINVAL);
	ck_assert_int_eq(tbl_counter_parse("-", 1, &v), PROTETS_EINVAL);
	ck_assert_int_eq(tbl_counter_parse("+1", 2, &v), PROTETS_EINVAL);
	ck_assert_int_eq(tbl_counter_parse(" 1", 2, &v), PROTETS_EINVAL);
	ck_assert_int_eq(tbl_counter_parse("1x", 2, &v), PROTETS_EINVAL);
	ck_assert_int_eq(tbl_counter_parse("1\0", 2, &v), PROTETS_EINVAL);
	/* missing key: NOTFOUND, or the default */
	ck_assert_int_eq(ctr(&s.t, "c", 1, NULL, &rc), 12345);
	ck_assert_int_eq(rc, PROTETS_NOTFOUND);
	memset(&o, 0, sizeof(o));
	o.has_default = 1;
	o.dflt = 10;
	ck_assert_int_eq(ctr(&s.t, "c", 5, &o, &rc), 15);
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq(get(&s.tro, "c", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "15");
	ck_assert_int_eq(ctr(&s.t, "c", -20, NULL, &rc), -5);
	ck_assert_int_eq(get(&s.tro, "c", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "-5");
	/* thresholds, both ways (ets:update_counter/4) */
	memset(&o, 0, sizeof(o));
	o.has_threshold = 1;
	o.threshold = 10;
	o.setvalue = 1;
	ck_assert_int_eq(ctr(&s.t, "c", 15, &o, &rc), 10);	/* not > 10 */
	ck_assert_int_eq(ctr(&s.t, "c", 1, &o, &rc), 1);	/* 11 > 10 */
	o.threshold = -3;
	o.setvalue = 100;
	ck_assert_int_eq(ctr(&s.t, "c", -4, &o, &rc), -3);	/* not < -3 */
	ck_assert_int_eq(ctr(&s.t, "c", -1, &o, &rc), 100);	/* -4 < -3 */
	ck_assert_int_eq(ctr(&s.t, "c", 0, NULL, &rc), 100);
	/* overflow: ERANGE and nothing written, or past the threshold */
	ck_assert_int_eq(put(&s.t, "m", "9223372036854775807"), 0);
	ctr(&s.t, "m", 1, NULL, &rc);
	ck_assert_int_eq(rc, PROTETS_ERANGE);
	ck_assert_int_eq(get(&s.tro, "m", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "9223372036854775807");
	o.threshold = INT64_MAX;
	o.setvalue = 0;
	ck_assert_int_eq(ctr(&s.t, "m", 1, &o, &rc), 0);
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq(ctr(&s.t, "m", INT64_MIN, NULL, &rc), INT64_MIN);
	ck_assert_int_eq(get(&s.tro, "m", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "-9223372036854775808");
	ctr(&s.t, "m", -1, NULL, &rc);
	ck_assert_int_eq(rc, PROTETS_ERANGE);
	/* not a counter */
	ck_assert_int_eq(put(&s.t, "s", "abc"), 0);
	ctr(&s.t, "s", 1, NULL, &rc);
	ck_assert_int_eq(rc, PROTETS_EINVAL);
	ck_assert_int_eq(put(&s.t, "s", "123456789012345678901234"), 0);
	ctr(&s.t, "s", 1, NULL, &rc);
	ck_assert_int_eq(rc, PROTETS_EINVAL);
	ctr(&s.tro, "c", 1, NULL, &rc);
	ck_assert_int_eq(rc, PROTETS_EACCES);
	check_ok(&s.t);
	seg_free(&s);
}
END_TEST

/* Walk with first/next; counts in seen[] for keys "w<N>". */
static int
walk_all(struct tbl *t, int *seen, int nseen, struct tbl *mut, int *added)
{
	char	k[PROTETS_KEY_MAX], nk[32];
	size_t	klen;
	int	e, steps = 0, i;

	e = tbl_first(t, k, sizeof(k), &klen);
	while (e == 0) {
		k[klen] = '\0';
		if (k[0] == 'w') {
			i = atoi(k + 1);
			ck_assert_int_lt(i, nseen);
			seen[i]++;
		}
		if (mut != NULL) {
			/* grow (split) and shrink under the walk */
			for (i = 0; i < 3; i++) {
				snprintf(nk, sizeof(nk), "n%d", (*added)++);
				ck_assert_int_eq(put(mut, nk, "x"), 0);
			}
			snprintf(nk, sizeof(nk), "n%d", *added / 2);
			ck_assert_int_eq(tbl_delete(mut, nk, strlen(nk)), 0);
			/* the current key itself may go: next still works */
			if (steps % 5 == 0 && k[0] == 'n')
				ck_assert_int_eq(tbl_delete(mut, k, klen), 0);
		}
		steps++;
		e = tbl_next(t, k, klen, k, sizeof(k), &klen);
	}
	ck_assert_int_eq(e, PROTETS_NOTFOUND);
	return steps;
}

START_TEST(test_first_next)
{
	static int	seen[3000];
	struct seg	s;
	char		k[32], small[2];
	size_t		klen;
	int		i, added = 0;

	seg_new_type(&s, 32 << 20, _i == 0 ? PROTETS_SET : _i == 1 ?
	    PROTETS_BAG : PROTETS_ORDERED_SET);
	ck_assert_int_eq(tbl_first(&s.tro, k, sizeof(k), &klen),
	    PROTETS_NOTFOUND);
	for (i = 0; i < 3000; i++) {
		snprintf(k, sizeof(k), "w%d", i);
		ck_assert_int_eq(put(&s.t, k, "1"), 0);
		if (_i == 1)
			ck_assert_int_eq(put(&s.t, k, "2"), 0);
	}
	memset(seen, 0, sizeof(seen));
	ck_assert_int_eq(walk_all(&s.tro, seen, 3000, NULL, NULL), 3000);
	for (i = 0; i < 3000; i++)
		ck_assert_int_eq(seen[i], 1);
	/* errors */
	ck_assert_int_eq(tbl_first(&s.t, small, 1, &klen), PROTETS_ERANGE);
	ck_assert_uint_ge(klen, 2);
	ck_assert_int_eq(tbl_next(&s.t, "", 0, k, sizeof(k), &klen),
	    PROTETS_EINVAL);
	ck_assert_int_eq(tbl_first(&s.t, k, sizeof(k), NULL), PROTETS_EINVAL);
	/* a key not in the table still has a successor */
	ck_assert_int_eq(tbl_next(&s.t, "not-there", 9, k, sizeof(k), &klen),
	    0);
	/* under concurrent modification: stable keys exactly once */
	memset(seen, 0, sizeof(seen));
	walk_all(&s.t, seen, 3000, &s.t, &added);
	for (i = 0; i < 3000; i++)
		ck_assert_msg(seen[i] == 1, "w%d seen %d times", i, seen[i]);
	/* hash order meets new keys; key order has them all behind */
	if (_i < 2)
		ck_assert_int_gt(added, 9000);
	check_ok(&s.t);
	seg_free(&s);
}
END_TEST

static int
pred_odd_value(const void *k, size_t klen, const void *v, size_t vlen,
    void *arg)
{
	(void)k;
	(void)klen;
	(void)arg;
	const char	*p = v;

	return vlen > 0 && p[vlen - 1] >= '0' && p[vlen - 1] <= '9' &&
	    (p[vlen - 1] - '0') % 2 == 1;
}

static int
pred_stop(const void *k, size_t klen, const void *v, size_t vlen, void *arg)
{
	(void)k;
	(void)klen;
	(void)v;
	(void)vlen;
	(void)arg;
	return 42;
}

START_TEST(test_select)
{
	struct seg	s;
	struct vals	vs;
	protets_match	m;
	char		k[32], v[32];
	uint64_t	n;
	int		i;

	seg_new_type(&s, 8 << 20, _i == 0 ? PROTETS_SET :
	    PROTETS_DUPLICATE_BAG);
	for (i = 0; i < 1000; i++) {
		snprintf(k, sizeof(k), "%s%d", i % 2 ? "odd" : "even", i);
		snprintf(v, sizeof(v), "%d", i);
		ck_assert_int_eq(put(&s.t, k, v), 0);
	}
	ck_assert_int_eq(put(&s.t, "o", "short key"), 0);
	memset(&m, 0, sizeof(m));
	m.prefix = "odd";
	m.plen = 3;
	ck_assert_int_eq(tbl_select_count(&s.tro, &m, &n), 0);
	ck_assert_uint_eq(n, 500);
	ck_assert_int_eq(tbl_select_count(&s.tro, NULL, &n), 0);
	ck_assert_uint_eq(n, 1001);
	memset(&vs, 0, sizeof(vs));
	m.prefix = "odd99";
	m.plen = 5;
	ck_assert_int_eq(tbl_select(&s.tro, &m, vals_add, &vs), 0);
	ck_assert_int_eq(vs.n, 6);	/* odd99, odd991, ..., odd999 */
	/* prefix and predicate */
	m.prefix = "even";
	m.plen = 4;
	m.pred = pred_odd_value;
	ck_assert_int_eq(tbl_select_count(&s.tro, &m, &n), 0);
	ck_assert_uint_eq(n, 0);
	m.prefix = NULL;
	m.plen = 0;
	ck_assert_int_eq(tbl_select_count(&s.tro, &m, &n), 0);
	ck_assert_uint_eq(n, 500);
	m.pred = pred_stop;
	ck_assert_int_eq(tbl_select_count(&s.tro, &m, &n), 42);
	m.plen = 3;		/* prefix NULL with a length */
	ck_assert_int_eq(tbl_select_count(&s.tro, &m, &n), PROTETS_EINVAL);
	ck_assert_int_eq(tbl_select(&s.tro, NULL, NULL, NULL), PROTETS_EINVAL);
	/* select_delete */
	memset(&m, 0, sizeof(m));
	m.prefix = "even";
	m.plen = 4;
	ck_assert_int_eq(tbl_select_delete(&s.tro, &m, &n), PROTETS_EACCES);
	ck_assert_int_eq(tbl_select_delete(&s.t, &m, &n), 0);
	ck_assert_uint_eq(n, 500);
	ck_assert_uint_eq(count_of(&s.t), 501);
	ck_assert_int_eq(tbl_select_count(&s.tro, &m, &n), 0);
	ck_assert_uint_eq(n, 0);
	m.prefix = NULL;
	m.plen = 0;
	m.pred = pred_odd_value;
	ck_assert_int_eq(tbl_select_delete(&s.t, &m, &n), 0);
	ck_assert_uint_eq(n, 500);
	ck_assert_uint_eq(count_of(&s.t), 1);
	ck_assert_int_eq(tbl_member(&s.t, "o", 1), 0);
	check_ok(&s.t);
	seg_free(&s);
}
END_TEST

/* ---------------------------------------------------------------- */
/* ordered_set: the ordered index, its walks and its range selects. */

/* A printable rendering of a key: bytes outside ' '..'~' as \xx. */
static void
key_str(const void *k, size_t klen, char *out, size_t outsz)
{
	const unsigned char	*p = k;
	size_t			 i, o = 0;

	for (i = 0; i < klen && o + 4 < outsz; i++) {
		if (p[i] >= ' ' && p[i] <= '~' && p[i] != '\\')
			out[o++] = (char)p[i];
		else
			o += (size_t)snprintf(out + o, outsz - o, "\\%02x", p[i]);
	}
	out[o] = '\0';
}

/* Append "key," to the walk string in arg (a char[4096]). */
static int
walk_append(const void *k, size_t klen, const void *v, size_t vlen,
    void *arg)
{
	char	*w = arg, ks[256];
	size_t	 l = strlen(w);

	(void)v;
	(void)vlen;
	key_str(k, klen, ks, sizeof(ks));
	ck_assert_uint_lt(l + strlen(ks) + 2, 4096);
	snprintf(w + l, 4096 - l, "%s,", ks);
	return 0;
}

/* The keys by first/next (dir > 0) or last/prev (dir < 0). */
static void
walk_keys(struct tbl *t, int dir, char *w)
{
	char	k[PROTETS_KEY_MAX];
	size_t	klen;
	int	e;

	w[0] = '\0';
	e = dir > 0 ? tbl_first(t, k, sizeof(k), &klen) :
	    tbl_last(t, k, sizeof(k), &klen);
	while (e == 0) {
		walk_append(k, klen, NULL, 0, w);
		e = dir > 0 ? tbl_next(t, k, klen, k, sizeof(k), &klen) :
		    tbl_prev(t, k, klen, k, sizeof(k), &klen);
	}
	ck_assert_int_eq(e, PROTETS_NOTFOUND);
}

static void
fold_keys(struct tbl *t, char *w)
{
	w[0] = '\0';
	ck_assert_int_eq(tbl_foldl(t, walk_append, w), 0);
}

/* Walks, both ways and by foldl, all equal to want. */
static void
ord_expect(struct seg *s, const char *want)
{
	char	w[4096], rev[4096], back[4096], *tok[1024], *p;
	int	n = 0;

	walk_keys(&s->tro, 1, w);
	ck_assert_str_eq(w, want);
	fold_keys(&s->tro, w);
	ck_assert_str_eq(w, want);
	/* last/prev: the same keys reversed */
	walk_keys(&s->t, -1, back);
	snprintf(w, sizeof(w), "%s", want);
	for (p = strtok(w, ","); p != NULL; p = strtok(NULL, ","))
		tok[n++] = p;
	rev[0] = '\0';
	while (n-- > 0) {
		strcat(rev, tok[n]);
		strcat(rev, ",");
	}
	ck_assert_str_eq(back, rev);
	check_ok(&s->t);
}

static int
take_count(const void *k, size_t klen, const void *v, size_t vlen,
    void *arg)
{
	(void)k;
	(void)klen;
	(void)v;
	(void)vlen;
	(*(int *)arg)++;
	return 0;
}

static int
pred_count_all(const void *k, size_t klen, const void *v, size_t vlen,
    void *arg)
{
	(void)k;
	(void)klen;
	(void)v;
	(void)vlen;
	(*(int *)arg)++;
	return 1;
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

static uint64_t
ord_digest(struct tbl *t)
{
	uint64_t	d[2] = { 0, 0 };

	ck_assert_int_eq(tbl_foldl(t, ord_dig_fold, d), 0);
	ck_assert_uint_eq(count_of(t), d[1]);
	return d[0];
}

/* The key mode finds from k (string), as a string; "" at the end. */
static const char *
ord_step(struct tbl *t, int (*fn)(struct tbl *, const void *, size_t,
    void *, size_t, size_t *), const void *k, size_t klen)
{
	static char	out[256];
	char		kb[PROTETS_KEY_MAX];
	size_t		n;
	int		e;

	e = fn(t, k, klen, kb, sizeof(kb), &n);
	if (e == PROTETS_NOTFOUND)
		return "";
	ck_assert_int_eq(e, 0);
	key_str(kb, n, out, sizeof(out));
	return out;
}

START_TEST(test_ordered_basic)
{
	struct seg	s;
	char		buf[128], k[64];
	size_t		klen;
	uint64_t	n;
	int		i, got = 0;

	seg_new_type(&s, 4 << 20, PROTETS_ORDERED_SET);
	/* empty */
	ck_assert_int_eq(tbl_first(&s.tro, k, sizeof(k), &klen),
	    PROTETS_NOTFOUND);
	ck_assert_int_eq(tbl_last(&s.tro, k, sizeof(k), &klen),
	    PROTETS_NOTFOUND);
	ck_assert_str_eq(ord_step(&s.tro, tbl_next, "a", 1), "");
	ck_assert_str_eq(ord_step(&s.tro, tbl_prev, "a", 1), "");
	ord_expect(&s, "");
	/* inserted out of order, prefixes of each other */
	ck_assert_int_eq(put(&s.t, "b", "2"), 0);
	ck_assert_int_eq(put(&s.t, "abc", "3"), 0);
	ck_assert_int_eq(put(&s.t, "a", "1"), 0);
	ck_assert_int_eq(put(&s.t, "ab", "12"), 0);
	ck_assert_int_eq(put(&s.t, "c", "x"), 0);
	ord_expect(&s, "a,ab,abc,b,c,");
	/* replace: same place, new value */
	ck_assert_int_eq(put(&s.t, "ab", "a much longer value now"), 0);
	ck_assert_int_eq(get(&s.tro, "ab", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "a much longer value now");
	ck_assert_uint_eq(count_of(&s.t), 5);
	ord_expect(&s, "a,ab,abc,b,c,");
	/* next/prev of present and absent keys */
	ck_assert_str_eq(ord_step(&s.tro, tbl_next, "a", 1), "ab");
	ck_assert_str_eq(ord_step(&s.tro, tbl_next, "aa", 2), "ab");
	ck_assert_str_eq(ord_step(&s.tro, tbl_next, "abd", 3), "b");
	ck_assert_str_eq(ord_step(&s.tro, tbl_next, "c", 1), "");
	ck_assert_str_eq(ord_step(&s.tro, tbl_next, "0", 1), "a");
	ck_assert_str_eq(ord_step(&s.tro, tbl_prev, "ab", 2), "a");
	ck_assert_str_eq(ord_step(&s.tro, tbl_prev, "abb", 3), "ab");
	ck_assert_str_eq(ord_step(&s.tro, tbl_prev, "abd", 3), "abc");
	ck_assert_str_eq(ord_step(&s.tro, tbl_prev, "a", 1), "");
	ck_assert_str_eq(ord_step(&s.tro, tbl_prev, "zz", 2), "c");
	ck_assert_int_eq(tbl_prev(&s.t, "", 0, k, sizeof(k), &klen),
	    PROTETS_EINVAL);
	ck_assert_int_eq(tbl_last(&s.t, k, 0, &klen), PROTETS_ERANGE);
	ck_assert_uint_eq(klen, 1);
	/* delete, take, delete_object */
	ck_assert_int_eq(tbl_delete(&s.t, "ab", 2), 0);
	ck_assert_int_eq(tbl_delete(&s.t, "ab", 2), 0);
	ord_expect(&s, "a,abc,b,c,");
	ck_assert_str_eq(ord_step(&s.tro, tbl_next, "ab", 2), "abc");
	ck_assert_str_eq(ord_step(&s.tro, tbl_prev, "ab", 2), "a");
	ck_assert_int_eq(tbl_take(&s.t, "b", 1, take_count, &got), 0);
	ck_assert_int_eq(got, 1);
	ck_assert_int_eq(tbl_take(&s.t, "b", 1, take_count, &got),
	    PROTETS_NOTFOUND);
	ck_assert_int_eq(tbl_delete_object(&s.t, "c", 1, "y", 1, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(tbl_delete_object(&s.t, "c", 1, "x", 1, &n), 0);
	ck_assert_uint_eq(n, 1);
	ord_expect(&s, "a,abc,");
	/* insert_new and batches keep both indexes in step */
	ck_assert_int_eq(tbl_insert_new(&s.t, "a", 1, "9", 1), PROTETS_EXISTS);
	ck_assert_int_eq(tbl_insert_new(&s.t, "aa", 2, "9", 1), 0);
	ord_expect(&s, "a,aa,abc,");
	/* binary keys: NUL and 0xff bytes, a prefix of each other */
	ck_assert_int_eq(tbl_insert(&s.t, "\xff", 1, "", 0), 0);
	ck_assert_int_eq(tbl_insert(&s.t, "\xff\xff", 2, "", 0), 0);
	ck_assert_int_eq(tbl_insert(&s.t, "\0", 1, "", 0), 0);
	ck_assert_int_eq(tbl_insert(&s.t, "\0\0", 2, "", 0), 0);
	ck_assert_int_eq(tbl_insert(&s.t, "a\0", 2, "", 0), 0);
	ck_assert_int_eq(tbl_insert(&s.t, "a\xff", 2, "", 0), 0);
	ord_expect(&s, "\\00,\\00\\00,a,a\\00,aa,abc,a\\ff,\\ff,\\ff\\ff,");
	ck_assert_str_eq(ord_step(&s.tro, tbl_next, "\0", 1), "\\00\\00");
	ck_assert_str_eq(ord_step(&s.tro, tbl_prev, "\xff", 1), "a\\ff");
	/* clear */
	ck_assert_int_eq(tbl_clear(&s.t), 0);
	ord_expect(&s, "");
	ck_assert_uint_eq(count_of(&s.t), 0);
	for (i = 9; i >= 0; i--) {
		snprintf(k, sizeof(k), "k%d", i);
		ck_assert_int_eq(put(&s.t, k, k), 0);
	}
	ord_expect(&s, "k0,k1,k2,k3,k4,k5,k6,k7,k8,k9,");
	seg_free(&s);
}
END_TEST

/*
 * Keys longer than the inline prefix that tie on it: the order comes
 * from the entries; many keys so that the skip list has several levels.
 */
START_TEST(test_ordered_long_keys)
{
	static char	want[4096], w[4096];
	struct seg	s;
	char		k[PROTETS_KEY_MAX];
	size_t		klen;
	int		i, j;

	seg_new_type(&s, 16 << 20, PROTETS_ORDERED_SET);
	/* 16 shared bytes, then the difference; some only 16 bytes long */
	for (i = 29; i >= 0; i--) {
		snprintf(k, sizeof(k), "0123456789abcdef%s%02d",
		    i % 3 ? "" : "-", i);
		ck_assert_int_eq(put(&s.t, k, "v"), 0);
	}
	ck_assert_int_eq(tbl_insert(&s.t, "0123456789abcdef", 16, "", 0), 0);
	ck_assert_int_eq(put(&s.t, "0123456789abcde", "v"), 0);
	want[0] = '\0';
	strcat(want, "0123456789abcde,0123456789abcdef,");
	for (i = 0; i < 30; i += 3) {
		snprintf(k, sizeof(k), "0123456789abcdef-%02d,", i);
		strcat(want, k);
	}
	for (i = 0; i < 30; i++)
		if (i % 3) {
			snprintf(k, sizeof(k), "0123456789abcdef%02d,", i);
			strcat(want, k);
		}
	ord_expect(&s, want);
	ck_assert_str_eq(ord_step(&s.tro, tbl_next, "0123456789abcdef", 16),
	    "0123456789abcdef-00");
	ck_assert_str_eq(ord_step(&s.tro, tbl_prev, "0123456789abcdef0", 17),
	    "0123456789abcdef-27");
	ck_assert_str_eq(ord_step(&s.tro, tbl_next, "0123456789abcdef-271",
	    20), "0123456789abcdef01");
	/* a long key (4 kB), and 5000 keys: every level is used */
	memset(k, 'z', sizeof(k));
	ck_assert_int_eq(tbl_insert(&s.t, k, sizeof(k), "long", 4), 0);
	k[sizeof(k) - 1] = 'y';
	ck_assert_int_eq(tbl_insert(&s.t, k, sizeof(k), "long", 4), 0);
	ck_assert_int_eq(tbl_last(&s.tro, k, sizeof(k), &klen), 0);
	ck_assert_uint_eq(klen, sizeof(k));
	ck_assert_int_eq(k[sizeof(k) - 1], 'z');
	ck_assert_int_eq(tbl_prev(&s.tro, k, klen, k, sizeof(k), &klen), 0);
	ck_assert_int_eq(k[sizeof(k) - 1], 'y');
	for (i = 0; i < 5000; i++) {
		j = (i * 7919) % 5000;
		snprintf(k, sizeof(k), "m%05d", j);
		ck_assert_int_eq(put(&s.t, k, k), 0);
	}
	check_ok(&s.t);
	for (i = 0, j = tbl_first(&s.tro, k, sizeof(k), &klen); j == 0;
	    j = tbl_next(&s.tro, k, klen, k, sizeof(k), &klen))
		if (k[0] == 'm') {
			snprintf(w, sizeof(w), "m%05d", i++);
			ck_assert(klen == 6 && memcmp(k, w, 6) == 0);
		}
	ck_assert_int_eq(i, 5000);
	for (i = 0; i < 5000; i += 2) {
		snprintf(k, sizeof(k), "m%05d", i);
		ck_assert_int_eq(tbl_delete(&s.t, k, 6), 0);
	}
	check_ok(&s.t);
	ck_assert_str_eq(ord_step(&s.tro, tbl_next, "m00100", 6), "m00101");
	ck_assert_str_eq(ord_step(&s.tro, tbl_prev, "m00100", 6), "m00099");
	seg_free(&s);
}
END_TEST

static int
sel_collect(const void *k, size_t klen, const void *v, size_t vlen,
    void *arg)
{
	return walk_append(k, klen, v, vlen, arg);
}

/* The keys select m gives, as a walk string; also checks the count. */
static const char *
ord_select(struct tbl *t, const char *from, const char *to,
    const char *pfx)
{
	static char	w[4096];
	protets_match	m;
	uint64_t	n = 0;
	const char	*p;

	memset(&m, 0, sizeof(m));
	m.from = from;
	m.flen = from != NULL ? strlen(from) : 0;
	m.to = to;
	m.tlen = to != NULL ? strlen(to) : 0;
	m.prefix = pfx;
	m.plen = pfx != NULL ? strlen(pfx) : 0;
	w[0] = '\0';
	ck_assert_int_eq(tbl_select(t, &m, sel_collect, w), 0);
	ck_assert_int_eq(tbl_select_count(t, &m, &n), 0);
	for (p = w; *p; p++)
		n -= *p == ',';
	ck_assert_uint_eq(n, 0);
	return w;
}

/* Range selects: each bound alone, both, empty ranges; and prefixes. */
START_TEST(test_ordered_select)
{
	static const char *const keys[] = { "b", "a", "ab", "abc", "b1", "ba",
	    "c", "ca", "d" };
	struct seg	s;
	protets_match	m;
	uint64_t	n;
	size_t		i;
	unsigned	type = _i == 0 ? PROTETS_ORDERED_SET : PROTETS_SET;
	char		w[4096];

	seg_new_type(&s, 4 << 20, type);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		ck_assert_int_eq(put(&s.t, keys[i], keys[i]), 0);
	if (type == PROTETS_SET) {
		/* a filter on a hash table: same keys, hash order; sort */
		ck_assert_int_eq(tbl_select_count(&s.tro, NULL, &n), 0);
		ck_assert_uint_eq(n, 9);
		memset(&m, 0, sizeof(m));
		m.from = "ab";
		m.flen = 2;
		m.to = "ba";
		m.tlen = 2;
		ck_assert_int_eq(tbl_select_count(&s.tro, &m, &n), 0);
		ck_assert_uint_eq(n, 5);	/* ab abc b b1 ba */
		m.to = "a";
		m.tlen = 1;
		ck_assert_int_eq(tbl_select_count(&s.tro, &m, &n), 0);
		ck_assert_uint_eq(n, 0);
		m.from = NULL;
		ck_assert_int_eq(tbl_select_count(&s.tro, &m, &n), 0);
		ck_assert_uint_eq(n, 1);
		m.to = NULL;
		m.from = "c";
		m.flen = 1;
		ck_assert_int_eq(tbl_select_delete(&s.t, &m, &n), 0);
		ck_assert_uint_eq(n, 3);
		ck_assert_uint_eq(count_of(&s.t), 6);
		check_ok(&s.t);
		seg_free(&s);
		return;
	}
	ck_assert_str_eq(ord_select(&s.tro, NULL, NULL, NULL),
	    "a,ab,abc,b,b1,ba,c,ca,d,");
	ck_assert_str_eq(ord_select(&s.tro, "ab", NULL, NULL),
	    "ab,abc,b,b1,ba,c,ca,d,");
	ck_assert_str_eq(ord_select(&s.tro, "abb", NULL, NULL),
	    "abc,b,b1,ba,c,ca,d,");
	ck_assert_str_eq(ord_select(&s.tro, NULL, "b", NULL), "a,ab,abc,b,");
	ck_assert_str_eq(ord_select(&s.tro, NULL, "b0", NULL), "a,ab,abc,b,");
	ck_assert_str_eq(ord_select(&s.tro, "ab", "ba", NULL),
	    "ab,abc,b,b1,ba,");
	ck_assert_str_eq(ord_select(&s.tro, "b", "b", NULL), "b,");
	ck_assert_str_eq(ord_select(&s.tro, "ba", "b", NULL), "");
	ck_assert_str_eq(ord_select(&s.tro, "e", NULL, NULL), "");
	ck_assert_str_eq(ord_select(&s.tro, NULL, "0", NULL), "");
	ck_assert_str_eq(ord_select(&s.tro, "", "", NULL), "");
	/* prefixes, alone and with a range */
	ck_assert_str_eq(ord_select(&s.tro, NULL, NULL, "a"), "a,ab,abc,");
	ck_assert_str_eq(ord_select(&s.tro, NULL, NULL, "b"), "b,b1,ba,");
	ck_assert_str_eq(ord_select(&s.tro, NULL, NULL, "ab"), "ab,abc,");
	ck_assert_str_eq(ord_select(&s.tro, NULL, NULL, "bb"), "");
	ck_assert_str_eq(ord_select(&s.tro, NULL, NULL, "e"), "");
	ck_assert_str_eq(ord_select(&s.tro, "b0", NULL, "b"), "b1,ba,");
	ck_assert_str_eq(ord_select(&s.tro, "0", "b1", "b"), "b,b1,");
	ck_assert_str_eq(ord_select(&s.tro, "0", "z", "c"), "c,ca,");
	/* a predicate still applies; select_delete of a range */
	memset(&m, 0, sizeof(m));
	m.from = "b";
	m.flen = 1;
	m.to = "c";
	m.tlen = 1;
	ck_assert_int_eq(tbl_select_delete(&s.t, &m, &n), 0);
	ck_assert_uint_eq(n, 4);
	ord_expect(&s, "a,ab,abc,ca,d,");
	m.from = m.to = NULL;
	m.pred = pred_stop;
	w[0] = '\0';
	ck_assert_int_eq(tbl_select(&s.tro, &m, sel_collect, w), 42);
	seg_free(&s);
}
END_TEST

/* A range select seeks: a few keys out of many, far fewer steps. */
static int
sel_steps(const void *k, size_t klen, const void *v, size_t vlen,
    void *arg)
{
	(void)k;
	(void)klen;
	(void)v;
	(void)vlen;
	(*(int *)arg)++;
	return 0;
}

START_TEST(test_ordered_seek)
{
	struct seg	s;
	protets_match	m;
	char		k[32];
	int		i, calls = 0;

	seg_new_type(&s, 16 << 20, PROTETS_ORDERED_SET);
	for (i = 0; i < 20000; i++) {
		snprintf(k, sizeof(k), "s%06d", i);
		ck_assert_int_eq(put(&s.t, k, "v"), 0);
	}
	memset(&m, 0, sizeof(m));
	m.from = "s010000";
	m.flen = 7;
	m.to = "s010009";
	m.tlen = 7;
	/* pred is called for each entry the walk copies out: only 10 */
	m.pred = pred_count_all;
	m.arg = &calls;
	ck_assert_int_eq(tbl_select(&s.tro, &m, sel_steps, &i), 0);
	ck_assert_int_eq(calls, 10);
	m.from = m.to = NULL;
	m.prefix = "s0199";
	m.plen = 5;
	calls = 0;
	ck_assert_int_eq(tbl_select(&s.tro, &m, sel_steps, &i), 0);
	ck_assert_int_eq(calls, 100);
	seg_free(&s);
}
END_TEST

/*
 * first/next and last/prev walks while the walker itself inserts and
 * deletes (the key just returned, the keys right after and before it,
 * others): each step must return exactly the reference's neighbour of the
 * key it was given, present or deleted meanwhile, so keys strictly
 * increase (decrease) and a key present for the whole walk (every tenth
 * one is never deleted) is never skipped.  A step after no write takes the
 * finger's path, one after a write the seek from the head.  Two tables
 * are walked in turn; _i: keys that tie on the node's inline prefix.
 */
#define WM_N	1500

struct wm {
	struct seg	s;
	unsigned char	present[WM_N];
	int		lng;
};

static size_t
wm_key(const struct wm *w, int i, char *k)
{
	return (size_t)sprintf(k, w->lng ? "0123456789abcdef/%05d" : "w%05d",
	    i);
}

static void
wm_set(struct wm *w, int i, int on)
{
	char	k[32];
	size_t	n = wm_key(w, i, k);

	if (on)
		ck_assert_int_eq(tbl_insert(&w->s.t, k, n, k, n), 0);
	else
		ck_assert_int_eq(tbl_delete(&w->s.t, k, n), 0);
	w->present[i] = (unsigned char)on;
}

static void
wm_new(struct wm *w, int lng, int mod)
{
	int	i;

	memset(w, 0, sizeof(*w));
	w->lng = lng;
	seg_new_type(&w->s, 8 << 20, PROTETS_ORDERED_SET);
	for (i = 0; i < WM_N; i++)
		if (i % mod == 0 || i % 10 == 0)
			wm_set(w, i, 1);
}

/* The reference's neighbour of i (may be -1 or WM_N) in dir, or -1. */
static int
wm_ref(const struct wm *w, int i, int dir)
{
	for (i += dir; i >= 0 && i < WM_N; i += dir)
		if (w->present[i])
			return i;
	return -1;
}

/* One step of a walk from i (-1: first or last); the index or -1. */
static int
wm_step(struct wm *w, int i, int dir)
{
	struct tbl	*t = &w->s.tro;
	char		 k[32], out[PROTETS_KEY_MAX];
	size_t		 n, on = 0;
	int		 e, want;

	if (i < 0) {
		e = dir > 0 ? tbl_first(t, out, sizeof(out), &on) :
		    tbl_last(t, out, sizeof(out), &on);
		want = wm_ref(w, dir > 0 ? -1 : WM_N, dir);
	} else {
		n = wm_key(w, i, k);
		e = dir > 0 ? tbl_next(t, k, n, out, sizeof(out), &on) :
		    tbl_prev(t, k, n, out, sizeof(out), &on);
		want = wm_ref(w, i, dir);
	}
	if (want < 0) {
		ck_assert_int_eq(e, PROTETS_NOTFOUND);
		return -1;
	}
	ck_assert_int_eq(e, 0);
	n = wm_key(w, want, k);
	ck_assert_msg(on == n && memcmp(out, k, n) == 0,
	    "step from %d (dir %d): got %.*s, want %s", i, dir, (int)on, out,
	    k);
	ck_assert(i < 0 || (dir > 0 ? want > i : want < i));
	return want;
}

/* The walker's writes after step i; *r: xorshift state. */
static void
wm_mutate(struct wm *w, int i, int dir, uint64_t *r)
{
	int	j;

	*r ^= *r << 13;
	*r ^= *r >> 7;
	*r ^= *r << 17;
	switch (*r % 11) {
	case 0:		/* the key just returned */
		if (i % 10 != 0)
			wm_set(w, i, 0);
		break;
	case 1:		/* right after it, where the walk goes */
		if (i + dir >= 0 && i + dir < WM_N && !w->present[i + dir])
			wm_set(w, i + dir, 1);
		break;
	case 2:		/* right behind it */
		if (i - dir >= 0 && i - dir < WM_N && !w->present[i - dir])
			wm_set(w, i - dir, 1);
		break;
	case 4:		/* it and the key after it: the next step's answer */
		if (i % 10 != 0)
			wm_set(w, i, 0);
		if ((j = wm_ref(w, i, dir)) >= 0 && j % 10 != 0)
			wm_set(w, j, 0);
		break;
	case 3:		/* anywhere */
		j = (int)((*r >> 8) % WM_N);
		if (j % 10 != 0)
			wm_set(w, j, !w->present[j]);
		break;
	default:	/* no write: the finger's path */
		break;
	}
}

START_TEST(test_ordered_walk_writes)
{
	static struct wm	w[2];
	uint64_t		r = 42;
	int			dir, cur[2], steps, k;

	for (dir = 1; dir >= -1; dir -= 2) {
		wm_new(&w[0], _i, 2);
		wm_new(&w[1], !_i, 3);
		cur[0] = cur[1] = -1;	/* -1: not started, -2: ended */
		/* 8 steps on one, then 8 on the other (its finger kept) */
		for (steps = 0; steps < 4 * WM_N; steps++) {
			k = steps >> 3 & 1;
			if (cur[k] == -2)
				continue;
			if ((cur[k] = wm_step(&w[k], cur[k], dir)) < 0)
				cur[k] = -2;
			else
				wm_mutate(&w[k], cur[k], dir, &r);
		}
		ck_assert_int_eq(cur[0], -2);
		ck_assert_int_eq(cur[1], -2);
		for (k = 0; k < 2; k++) {
			check_ok(&w[k].s.t);
			seg_free(&w[k].s);
		}
	}
}
END_TEST

START_TEST(test_ordered_counter)
{
	struct seg		s;
	protets_counter_opts	o;
	int64_t			r = 0;
	char			buf[64];

	seg_new_type(&s, 1 << 20, PROTETS_ORDERED_SET);
	memset(&o, 0, sizeof(o));
	ck_assert_int_eq(put(&s.t, "b", "10"), 0);
	ck_assert_int_eq(put(&s.t, "d", "x"), 0);
	ck_assert_int_eq(tbl_update_counter(&s.t, "b", 1, 5, NULL, &r), 0);
	ck_assert_int_eq(r, 15);
	ck_assert_int_eq(tbl_update_counter(&s.t, "c", 1, 5, NULL, &r),
	    PROTETS_NOTFOUND);
	ck_assert_int_eq(tbl_update_counter(&s.t, "d", 1, 5, NULL, &r),
	    PROTETS_EINVAL);
	o.has_default = 1;
	o.dflt = 100;
	ck_assert_int_eq(tbl_update_counter(&s.t, "c", 1, -1, &o, &r), 0);
	ck_assert_int_eq(r, 99);
	ck_assert_int_eq(tbl_update_counter(&s.t, "a", 1, 1, &o, &r), 0);
	ck_assert_int_eq(get(&s.tro, "c", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "99");
	ck_assert_int_eq(get(&s.tro, "b", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "15");
	ord_expect(&s, "a,b,c,d,");
	seg_free(&s);
}
END_TEST

/* EFULL: every insert fails whole; the table stays intact and checkable. */
START_TEST(test_ordered_full)
{
	struct seg	s;
	uint64_t	before;
	char		k[32], v[200];
	protets_kv	kv[2];
	int		n, e, i;

	seg_new_type(&s, tbl_min_size() + 64 * 1024, PROTETS_ORDERED_SET);
	memset(v, 'v', sizeof(v));
	for (n = 0;; n++) {
		snprintf(k, sizeof(k), "key-%05d", (n * 7) % 100000);
		if ((e = tbl_insert(&s.t, k, strlen(k), v, 60)) != 0)
			break;
	}
	ck_assert_int_eq(e, PROTETS_EFULL);
	ck_assert_int_gt(n, 200);
	check_ok(&s.t);
	before = ord_digest(&s.tro);
	for (i = 0; i < 50; i++) {
		snprintf(k, sizeof(k), "other-%d", i);
		ck_assert_int_eq(tbl_insert(&s.t, k, strlen(k), v, 150),
		    PROTETS_EFULL);
	}
	ck_assert_int_eq(tbl_insert(&s.t, "key-00000", 9, v, 200),
	    PROTETS_EFULL);
	kv[0] = (protets_kv){ "key-00007", 9, "short", 5 };
	kv[1] = (protets_kv){ "zzz", 3, v, 200 };
	ck_assert_int_eq(tbl_insert_many(&s.t, kv, 2, 0), PROTETS_EFULL);
	check_ok(&s.t);
	ck_assert_uint_eq(ord_digest(&s.tro), before);
	ck_assert_uint_eq(count_of(&s.t), (uint64_t)n);
	/* deletes make room again */
	for (i = 0; i < n; i += 2) {
		snprintf(k, sizeof(k), "key-%05d", (i * 7) % 100000);
		ck_assert_int_eq(tbl_delete(&s.t, k, strlen(k)), 0);
	}
	for (i = 0; i < n / 4; i++) {
		snprintf(k, sizeof(k), "new-%d", i);
		ck_assert_int_eq(tbl_insert(&s.t, k, strlen(k), v, 60), 0);
	}
	check_ok(&s.t);
	seg_free(&s);
}
END_TEST

/* ---------------------------------------------------------------- */
/*
 * Model test of the whole operation set: random sequences of every
 * operation on a set, an ordered_set, a bag and a duplicate_bag, applied
 * also to a plain reference (per key, the list of values in order); the
 * touched key and the count are compared after every step, everything
 * (foldl, first/next, tbl_check; on the ordered_set the order of foldl,
 * first/next, last/prev and range selects against the sorted keys) every
 * few thousand steps.  PROTETS_SEED=N replays a run; the seed is in every
 * failure message.  PROTETS_MODEL_OPS=N sets the steps per type (default
 * OM_OPS: with the four types, a million operations in check_shm).
 */
#define OM_KEYS		300
#define OM_VALS		48
#define OM_VMAX		300
/* check_shm runs the million; check_shm_crash, there for its crash
 * points, the pre-ordered_set share. */
#ifdef PROTETS_CRASHTEST
#define OM_OPS		70000
#else
#define OM_OPS		250000
#endif
#define OM_SHARED	"keys-sharing-16-bytes-"

struct om_val {
	size_t		len;
	unsigned char	b[OM_VMAX];
};

struct om {
	unsigned	type;
	int		nv[OM_KEYS];
	struct om_val	v[OM_KEYS][OM_VALS];
	uint64_t	total;
};

static unsigned	om_seed;
static long	om_step;

#define OM_ASSERT(c)	ck_assert_msg((c), "model: seed %u step %ld: %s", \
			    om_seed, om_step, #c)

/* Keys: prefixes of each other, and (OM_SHARED) longer ones that tie on
 * the ordered index's inline prefix. */
static size_t
om_key(int i, char *k)
{
	if (i % 5 == 0 && i % 7 != 0)
		return (size_t)snprintf(k, 32, OM_SHARED "%d", i);
	return (size_t)snprintf(k, 32, "key%d%s", i, i % 7 ? "" : "-long-tail");
}

static int
om_keyidx(const char *kb)
{
	if (strncmp(kb, OM_SHARED, strlen(OM_SHARED)) == 0)
		return atoi(kb + strlen(OM_SHARED));
	return atoi(kb + 3);
}

/* A random value: few distinct short ones, counters, some long ones. */
static void
om_randval(unsigned *st, struct om_val *v)
{
	unsigned	r = rnd(st) % 16, i;

	if (r < 8)
		v->len = (size_t)snprintf((char *)v->b, OM_VMAX, "v%u", r);
	else if (r < 13)
		v->len = (size_t)snprintf((char *)v->b, OM_VMAX, "%d",
		    (int)(rnd(st) % 200) - 100);
	else if (r < 15) {
		v->len = 0;
	} else {
		v->len = 20 + rnd(st) % (OM_VMAX - 20);
		for (i = 0; i < v->len; i++)
			v->b[i] = (unsigned char)('a' + (v->len + i) % 26);
	}
}

static int
om_veq(const struct om_val *a, const void *b, size_t blen)
{
	return a->len == blen && (blen == 0 || memcmp(a->b, b, blen) == 0);
}

static int
om_has(const struct om *m, int k, const struct om_val *v)
{
	int	i;

	for (i = 0; i < m->nv[k]; i++)
		if (om_veq(&m->v[k][i], v->b, v->len))
			return 1;
	return 0;
}

/* The reference insert; 0 if the model's capacity would be exceeded. */
static void
om_insert(struct om *m, int k, const struct om_val *v)
{
	if (m->type == PROTETS_SET || m->type == PROTETS_ORDERED_SET) {
		m->total += m->nv[k] == 0;
		m->v[k][0] = *v;
		m->nv[k] = 1;
		return;
	}
	if (m->type == PROTETS_BAG && om_has(m, k, v))
		return;
	OM_ASSERT(m->nv[k] < OM_VALS);
	m->v[k][m->nv[k]++] = *v;
	m->total++;
}

/* Remove the values of k equal to v (v NULL: all). */
static uint64_t
om_remove(struct om *m, int k, const struct om_val *v)
{
	int		i, j = 0;
	uint64_t	n = 0;

	for (i = 0; i < m->nv[k]; i++) {
		if (v == NULL || om_veq(&m->v[k][i], v->b, v->len))
			n++;
		else
			m->v[k][j++] = m->v[k][i];
	}
	m->nv[k] = j;
	m->total -= n;
	return n;
}

struct om_cmp {
	const struct om	*m;
	int		 k, i;
};

static int
om_each(const void *key, size_t klen, const void *v, size_t vlen, void *arg)
{
	struct om_cmp	*c = arg;

	(void)key;
	(void)klen;
	OM_ASSERT(c->i < c->m->nv[c->k]);
	OM_ASSERT(om_veq(&c->m->v[c->k][c->i], v, vlen));
	c->i++;
	return 0;
}

/* Compare one key: lookup, lookup_each (order), member. */
static void
om_compare_key(struct seg *s, const struct om *m, int k)
{
	static unsigned char	buf[OM_VMAX];
	struct om_cmp		c = { m, k, 0 };
	char			key[32];
	size_t			klen = om_key(k, key), n;
	int			e;

	e = tbl_lookup_each(&s->tro, key, klen, om_each, &c);
	OM_ASSERT(e == (m->nv[k] ? 0 : PROTETS_NOTFOUND));
	OM_ASSERT(c.i == m->nv[k]);
	e = tbl_lookup(&s->t, key, klen, buf, sizeof(buf), &n);
	if (m->nv[k] == 0)
		OM_ASSERT(e == PROTETS_NOTFOUND);
	else
		OM_ASSERT(e == 0 && om_veq(&m->v[k][0], buf, n));
	OM_ASSERT(tbl_member(&s->tro, key, klen) ==
	    (m->nv[k] ? 0 : PROTETS_NOTFOUND));
}

static int
om_fold(const void *key, size_t klen, const void *v, size_t vlen, void *arg)
{
	int	*seen = arg;
	char	kb[40];
	int	k;

	(void)v;
	(void)vlen;
	OM_ASSERT(klen > 3 && klen < sizeof(kb));
	memcpy(kb, key, klen);
	kb[klen] = '\0';
	k = om_keyidx(kb);
	OM_ASSERT(k >= 0 && k < OM_KEYS);
	seen[k]++;
	return 0;
}

/* The ordered_set's walks against the sorted keys of the reference. */
struct om_ord {
	char	 keys[OM_KEYS][32];
	char	*sorted[OM_KEYS];
	int	 n, i;
};

static int
om_strpcmp(const void *a, const void *b)
{
	/* NUL-free keys: strcmp is the ordered_set's order */
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
om_ord_fold(const void *key, size_t klen, const void *v, size_t vlen,
    void *arg)
{
	struct om_ord	*o = arg;

	(void)v;
	(void)vlen;
	OM_ASSERT(o->i < o->n);
	OM_ASSERT(strlen(o->sorted[o->i]) == klen &&
	    memcmp(o->sorted[o->i], key, klen) == 0);
	o->i++;
	return 0;
}

static void
om_compare_order(struct seg *s, const struct om *m, unsigned *st)
{
	static struct om_ord	o;
	protets_match		mt;
	char			key[PROTETS_KEY_MAX], from[32], to[32];
	size_t			klen;
	uint64_t		n;
	int			k, e, lo, hi, want;

	o.n = 0;
	for (k = 0; k < OM_KEYS; k++)
		if (m->nv[k] > 0) {
			om_key(k, o.keys[k]);
			o.sorted[o.n++] = o.keys[k];
		}
	qsort(o.sorted, (size_t)o.n, sizeof(o.sorted[0]), om_strpcmp);
	o.i = 0;
	OM_ASSERT(tbl_foldl(&s->tro, om_ord_fold, &o) == 0 && o.i == o.n);
	o.i = 0;
	for (e = tbl_first(&s->tro, key, sizeof(key), &klen); e == 0;
	    e = tbl_next(&s->tro, key, klen, key, sizeof(key), &klen))
		om_ord_fold(key, klen, NULL, 0, &o);
	OM_ASSERT(e == PROTETS_NOTFOUND && o.i == o.n);
	for (e = tbl_last(&s->t, key, sizeof(key), &klen); e == 0;
	    e = tbl_prev(&s->t, key, klen, key, sizeof(key), &klen)) {
		OM_ASSERT(o.i > 0);
		o.i--;
		OM_ASSERT(strlen(o.sorted[o.i]) == klen &&
		    memcmp(o.sorted[o.i], key, klen) == 0);
	}
	OM_ASSERT(e == PROTETS_NOTFOUND && o.i == 0);
	/* a range between two random keys, present or not */
	om_key((int)(rnd(st) % OM_KEYS), from);
	om_key((int)(rnd(st) % OM_KEYS), to);
	for (lo = 0; lo < o.n && strcmp(o.sorted[lo], from) < 0; lo++)
		;
	for (hi = lo; hi < o.n && strcmp(o.sorted[hi], to) <= 0; hi++)
		;
	want = hi - lo;
	memset(&mt, 0, sizeof(mt));
	mt.from = from;
	mt.flen = strlen(from);
	mt.to = to;
	mt.tlen = strlen(to);
	OM_ASSERT(tbl_select_count(&s->tro, &mt, &n) == 0);
	OM_ASSERT(n == (uint64_t)want);
	o.i = lo;
	OM_ASSERT(tbl_select(&s->tro, &mt, om_ord_fold, &o) == 0);
	OM_ASSERT(o.i == hi);
}

static void
om_compare_all(struct seg *s, const struct om *m, unsigned *st)
{
	int	seen[OM_KEYS], k, keys = 0, steps = 0, e;
	char	key[PROTETS_KEY_MAX];
	size_t	klen;

	OM_ASSERT(count_of(&s->tro) == m->total);
	memset(seen, 0, sizeof(seen));
	OM_ASSERT(tbl_foldl(&s->tro, om_fold, seen) == 0);
	for (k = 0; k < OM_KEYS; k++) {
		OM_ASSERT(seen[k] == m->nv[k]);
		keys += m->nv[k] > 0;
		om_compare_key(s, m, k);
	}
	for (e = tbl_first(&s->tro, key, sizeof(key), &klen); e == 0;
	    e = tbl_next(&s->tro, key, klen, key, sizeof(key), &klen))
		steps++;
	OM_ASSERT(e == PROTETS_NOTFOUND);
	OM_ASSERT(steps == keys);
	if (m->type == PROTETS_ORDERED_SET)
		om_compare_order(s, m, st);
	check_ok(&s->t);
}

/* The reference's counter parse: strtoll, strictly. */
static int
om_counter(const struct om_val *v, int64_t *out)
{
	char		buf[32], *end;
	size_t		i = v->len > 0 && v->b[0] == '-';
	long long	x;

	if (v->len == i || v->len - i > 19)
		return 0;
	for (; i < v->len; i++)
		if (v->b[i] < '0' || v->b[i] > '9')
			return 0;
	memcpy(buf, v->b, v->len);
	buf[v->len] = '\0';
	errno = 0;
	x = strtoll(buf, &end, 10);
	if (errno != 0)
		return 0;
	*out = x;
	return 1;
}

static void
om_step_one(struct seg *s, struct om *m, unsigned *st)
{
	struct om_val		v, bv[4];
	protets_kv		kv[4];
	protets_counter_opts	o;
	struct om_cmp		c;
	char			key[32], bk[4][32];
	int			k, bkeys[4], nb, i, e, op, exists;
	int64_t			cur = 0, res, want;
	uint64_t		n;
	size_t			klen;

	k = (int)(rnd(st) % OM_KEYS);
	klen = om_key(k, key);
	om_randval(st, &v);
	op = (int)(rnd(st) % 100);
	/* bounded bags: delete a key that holds many values */
	if (m->nv[k] > OM_VALS - 8 && op < 60)
		op = 60;
	if (op < 28) {
		e = tbl_insert(&s->t, key, klen, v.b, v.len);
		OM_ASSERT(e == 0);
		om_insert(m, k, &v);
	} else if (op < 36) {
		e = tbl_insert_new(&s->t, key, klen, v.b, v.len);
		OM_ASSERT(e == (m->nv[k] ? PROTETS_EXISTS : 0));
		if (e == 0)
			om_insert(m, k, &v);
	} else if (op < 46) {
		/* a batch of 1..4, plain or insert_new */
		nb = 1 + (int)(rnd(st) % 4);
		exists = 0;
		for (i = 0; i < nb; i++) {
			bkeys[i] = i == 0 ? k : (int)(rnd(st) % OM_KEYS);
			if (m->nv[bkeys[i]] > OM_VALS - 8)
				bkeys[i] = k;
			om_randval(st, &bv[i]);
			kv[i].key = bk[i];
			kv[i].klen = om_key(bkeys[i], bk[i]);
			kv[i].val = bv[i].b;
			kv[i].vlen = bv[i].len;
			exists |= m->nv[bkeys[i]] > 0;
		}
		if (m->nv[k] > OM_VALS - 8)
			nb = 0;
		if (op < 42) {
			OM_ASSERT(tbl_insert_many(&s->t, kv, (size_t)nb, 0) ==
			    0);
			exists = 0;
		} else {
			e = tbl_insert_many(&s->t, kv, (size_t)nb, 1);
			OM_ASSERT(e == (exists && nb ? PROTETS_EXISTS : 0));
		}
		for (i = 0; !exists && i < nb; i++)
			om_insert(m, bkeys[i], &bv[i]);
		for (i = 0; i < nb; i++)
			om_compare_key(s, m, bkeys[i]);
	} else if (op < 56) {
		/* delete_object, often of a value that is there */
		if (m->nv[k] > 0 && rnd(st) % 4)
			v = m->v[k][rnd(st) % (unsigned)m->nv[k]];
		OM_ASSERT(tbl_delete_object(&s->t, key, klen, v.b, v.len, &n)
		    == 0);
		OM_ASSERT(n == om_remove(m, k, &v));
	} else if (op < 60) {
		OM_ASSERT(tbl_delete(&s->t, key, klen) == 0);
		om_remove(m, k, NULL);
	} else if (op < 66) {
		c.m = m;
		c.k = k;
		c.i = 0;
		e = tbl_take(&s->t, key, klen, om_each, &c);
		OM_ASSERT(e == (m->nv[k] ? 0 : PROTETS_NOTFOUND));
		OM_ASSERT(c.i == m->nv[k]);
		om_remove(m, k, NULL);
	} else if (op < 74) {
		memset(&o, 0, sizeof(o));
		o.has_default = (int)(rnd(st) & 1);
		o.dflt = (int64_t)(rnd(st) % 100);
		o.has_threshold = rnd(st) % 4 == 0;
		o.threshold = (int64_t)(rnd(st) % 1001) - 500;
		o.setvalue = (int64_t)(rnd(st) % 100);
		i = (int)(rnd(st) % 2001) - 1000;
		res = 777;
		e = tbl_update_counter(&s->t, key, klen, i, &o, &res);
		if (m->type != PROTETS_SET &&
		    m->type != PROTETS_ORDERED_SET) {
			OM_ASSERT(e == PROTETS_EINVAL);
		} else if (m->nv[k] == 0 && !o.has_default) {
			OM_ASSERT(e == PROTETS_NOTFOUND);
		} else if (m->nv[k] > 0 && !om_counter(&m->v[k][0], &cur)) {
			OM_ASSERT(e == PROTETS_EINVAL);
		} else {
			if (m->nv[k] == 0)
				cur = o.dflt;
			want = cur + i;
			if (o.has_threshold && (i >= 0 ? want > o.threshold :
			    want < o.threshold))
				want = o.setvalue;
			OM_ASSERT(e == 0);
			OM_ASSERT(res == want);
			v.len = (size_t)snprintf((char *)v.b, OM_VMAX, "%lld",
			    (long long)want);
			om_insert(m, k, &v);
		}
	} else if (op == 74 && rnd(st) % 2000 == 0) {
		OM_ASSERT(tbl_clear(&s->t) == 0);
		memset(m->nv, 0, sizeof(m->nv));
		m->total = 0;
		check_ok(&s->t);
	}
	/* every step: the key, and the count */
	om_compare_key(s, m, k);
	OM_ASSERT(count_of(&s->tro) == m->total);
}

START_TEST(test_model_ops)
{
	static struct om	m;
	static const unsigned	types[4] = { PROTETS_SET, PROTETS_BAG,
				    PROTETS_DUPLICATE_BAG, PROTETS_ORDERED_SET };
	static const char *const names[4] = { "set", "bag", "duplicate_bag",
				    "ordered_set" };
	struct seg		s;
	const char		*env = getenv("PROTETS_SEED");
	const char		*ops = getenv("PROTETS_MODEL_OPS");
	unsigned		st;
	long			nops = ops != NULL ? atol(ops) : OM_OPS;

	om_seed = env != NULL ? (unsigned)strtoul(env, NULL, 10) :
	    (unsigned)time(NULL) ^ (unsigned)getpid() << 8;
	om_seed += (unsigned)_i;
	st = om_seed;
	fprintf(stderr, "model_ops %s: %ld steps, seed %u (PROTETS_SEED=%u "
	    "replays)\n", names[_i], nops, om_seed, om_seed - (unsigned)_i);
	memset(&m, 0, sizeof(m));
	m.type = types[_i];
	seg_new_type(&s, 32 << 20, m.type);
	for (om_step = 0; om_step < nops; om_step++) {
		om_step_one(&s, &m, &st);
		if (om_step % 5000 == 4999)
			om_compare_all(&s, &m, &st);
	}
	om_compare_all(&s, &m, &st);
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

/*
 * ordered_set: damage to the ordered index is reported by tbl_check, and
 * walks over it end (ECORRUPT or a result), never loop or crash.
 */
static void
ord_walks_end(struct seg *s)
{
	char		k[PROTETS_KEY_MAX];
	size_t		klen;
	uint64_t	n;
	int		e, steps = 0;
	protets_match	m;

	e = tbl_foldl(&s->tro, take_count, &steps);
	ck_assert(e == 0 || e == PROTETS_ECORRUPT);
	for (e = tbl_first(&s->tro, k, sizeof(k), &klen); e == 0 &&
	    steps < 100000; steps++)
		e = tbl_next(&s->tro, k, klen, k, sizeof(k), &klen);
	ck_assert_msg(e == PROTETS_NOTFOUND || e == PROTETS_ECORRUPT,
	    "walk: %d after %d steps", e, steps);
	e = tbl_last(&s->tro, k, sizeof(k), &klen);
	ck_assert(e == 0 || e == PROTETS_ECORRUPT);
	memset(&m, 0, sizeof(m));
	m.from = "k0050";
	m.flen = 5;
	e = tbl_select_count(&s->tro, &m, &n);
	ck_assert(e == 0 || e == PROTETS_ECORRUPT);
}

START_TEST(test_ordered_corrupt)
{
	struct seg	 s;
	unsigned char	*snap;
	uint64_t	 n1, n2;
	char		 k[16];
	int		 i, c;

	seg_new_type(&s, 4 << 20, PROTETS_ORDERED_SET);
	for (i = 0; i < 300; i++) {
		snprintf(k, sizeof(k), "k%04d", i);
		ck_assert_int_eq(put(&s.t, k, "v"), 0);
	}
	check_ok(&s.t);
	snap = malloc(s.size);
	memcpy(snap, s.rw, s.size);
	n1 = state_of(&s)->or_head[0];
	n2 = *word_at(&s, n1 + 32);
	for (c = 0; c < 7; c++) {
		memcpy(s.rw, snap, s.size);
		switch (c) {
		case 0:		/* a cycle on level 0 */
			*word_at(&s, n2 + 32) = n1;
			break;
		case 1:		/* a link out of the segment */
			*word_at(&s, n1 + 32) = s.size + 4096;
			break;
		case 2:		/* a link into the middle of an entry */
			*word_at(&s, n1 + 32) = *word_at(&s, n1) + 8;
			break;
		case 3:		/* two nodes swap entries: out of order */
			memcpy(word_at(&s, n1), snap + n2, 8);
			memcpy(word_at(&s, n2), snap + n1, 8);
			break;
		case 4:		/* a node's inline prefix */
			s.rw[n1 + 17] ^= 1;
			break;
		case 5:		/* a node's height beyond the maximum */
			*word_at(&s, n1 + 8) |= 0xffULL << 16;
			break;
		default:	/* a node dropped from level 0 only */
			state_of(&s)->or_head[0] = n2;
			break;
		}
		expect_corrupt(&s, "ordered index");
		ord_walks_end(&s);
	}
	free(snap);
	seg_free(&s);
}
END_TEST

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
	uint64_t		slow = 0;
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
			else if (e == PROTETS_EAGAIN)
				/* the live writer was descheduled for over
				 * LK_READ_WAIT_MS holding the lock: a loaded
				 * machine (documented, transient) */
				slow++;
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
	    "%llu repairs, %llu EAGAIN from a live writer\n",
	    (unsigned long long)reads, (unsigned long long)eagain,
	    (unsigned long long)repairs, (unsigned long long)slow);
	ck_assert_uint_lt(slow, reads / 2);
	seg_free(&s);
}
END_TEST

/*
 * Ten thousand writers killed.  Two writer slots and two readers run at
 * once on one table; this process SIGKILLs a random writer at a random
 * moment (0 to 2 ms into its life, often inside its lock) and starts the
 * slot's next incarnation, PROTETS_KILLS times (10,000 by default).  Each
 * writer logs every acknowledged write (key, version) in shared memory
 * and its one write in flight; values describe themselves (version, key,
 * a fill of the version's letter, a length from the version), so a reader
 * tells a torn value.  At the end: every acknowledged write present (or
 * the in-flight one), tbl_check passes, no reader saw a torn value.
 */
#ifndef PROTETS_CRASHTEST	/* the plain engine's run is enough */
#define KW_SLOTS	2
#define KW_KEYS		128
#define KW_MAYBE	8

struct kw_log {
	uint32_t	ack[KW_SLOTS][KW_KEYS];	/* version; 0: deleted/absent */
	int32_t		fl_key[KW_SLOTS];	/* in flight, -1: none */
	uint32_t	fl_ver[KW_SLOTS];
	uint32_t	next[KW_SLOTS];		/* next version of the slot */
	/*
	 * Versions of writes in flight when their writer was killed since
	 * the key's last acknowledged write: each may or may not be there
	 * (a kill between the commit and the acknowledgement).  Emptied by
	 * the next acknowledged write of the key.
	 */
	uint32_t	maybe[KW_SLOTS][KW_KEYS][KW_MAYBE];
	uint32_t	nmaybe[KW_SLOTS][KW_KEYS];
	uint64_t	acked, reads, torn, errors;
	int		err;
};

static size_t
kw_value(uint32_t ver, const char *key, unsigned char *v)
{
	size_t	n, len = 40 + ver % 300;

	n = (size_t)snprintf((char *)v, 32, "%08u|%s|", ver, key);
	memset(v + n, 'a' + (int)(ver % 26), len - n);
	return len;
}

static int
kw_valid(const unsigned char *v, size_t len, const char *key, uint32_t *ver)
{
	unsigned char	want[400];

	if (len < 12 || len > 340 || sscanf((const char *)v, "%u|", ver) != 1)
		return 0;
	return kw_value(*ver, key, want) == len && memcmp(want, v, len) == 0;
}

static void
kw_writer(struct tbl *t, struct kw_log *lg, int w, unsigned r)
{
	unsigned char	v[400];
	char		key[16];
	uint32_t	ver;
	size_t		len;
	int		k, e;

	for (;;) {
		k = (int)(rnd(&r) % KW_KEYS);
		snprintf(key, sizeof(key), "%d:%d", w, k);
		ver = lg->next[w]++;
		lg->fl_ver[w] = rnd(&r) % 4 == 0 ? 0 : ver;
		__atomic_store_n(&lg->fl_key[w], k, __ATOMIC_RELEASE);
		if (lg->fl_ver[w] == 0) {
			e = tbl_delete(t, key, strlen(key));
			if (e == PROTETS_NOTFOUND)
				e = 0;
		} else {
			len = kw_value(ver, key, v);
			e = tbl_insert(t, key, strlen(key), v, len);
		}
		if (e != 0) {
			lg->err = e;
			__atomic_fetch_add(&lg->errors, 1, __ATOMIC_RELAXED);
			_exit(1);
		}
		__atomic_store_n(&lg->ack[w][k], lg->fl_ver[w],
		    __ATOMIC_RELEASE);
		lg->nmaybe[w][k] = 0;
		__atomic_store_n(&lg->fl_key[w], -1, __ATOMIC_RELEASE);
		__atomic_fetch_add(&lg->acked, 1, __ATOMIC_RELAXED);
	}
}

static void
kw_reader(struct tbl *t, struct kw_log *lg, unsigned r)
{
	unsigned char	v[400];
	char		key[16];
	uint32_t	ver;
	size_t		len;
	int		e;

	for (;;) {
		snprintf(key, sizeof(key), "%u:%u", rnd(&r) % KW_SLOTS,
		    rnd(&r) % KW_KEYS);
		e = tbl_lookup(t, key, strlen(key), v, sizeof(v), &len);
		if (e == 0 && !kw_valid(v, len, key, &ver))
			__atomic_fetch_add(&lg->torn, 1, __ATOMIC_RELAXED);
		else if (e != 0 && e != PROTETS_NOTFOUND &&
		    e != PROTETS_EAGAIN) {
			lg->err = e;
			__atomic_fetch_add(&lg->errors, 1, __ATOMIC_RELAXED);
			_exit(1);
		}
		__atomic_fetch_add(&lg->reads, 1, __ATOMIC_RELAXED);
	}
}

/* Writer w is dead: its write in flight may or may not have happened. */
static void
kw_killed(struct kw_log *lg, int w)
{
	int		k = lg->fl_key[w];
	uint32_t	*n;

	if (k < 0)
		return;
	n = &lg->nmaybe[w][k];
	if (*n < KW_MAYBE)
		lg->maybe[w][k][(*n)++] = lg->fl_ver[w];
	lg->fl_key[w] = -1;
}

/* Is version got of key k of writer w one the table may hold? */
static int
kw_possible(const struct kw_log *lg, int w, int k, uint32_t got)
{
	uint32_t	i;

	if (got == lg->ack[w][k] || lg->nmaybe[w][k] >= KW_MAYBE)
		return 1;
	for (i = 0; i < lg->nmaybe[w][k]; i++)
		if (lg->maybe[w][k][i] == got)
			return 1;
	return 0;
}

static pid_t
kw_spawn(struct seg *s, struct kw_log *lg, int role, unsigned seed)
{
	pid_t	pid;

	if ((pid = fork()) == 0) {
		/* Never outlive the test (a timeout kills only it). */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(1);
		if (role < KW_SLOTS)
			kw_writer(&s->t, lg, role, seed);
		/* one reader through the read-only mapping, one writable */
		kw_reader(role == KW_SLOTS ? &s->tro : &s->t, lg, seed);
	}
	ck_assert_int_gt(pid, 0);
	return pid;
}

START_TEST(test_writers_killed)
{
	const char	*env = getenv("PROTETS_KILLS");
	struct seg	 s;
	struct kw_log	*lg;
	unsigned char	 v[400];
	char		 key[16];
	pid_t		 pid[KW_SLOTS + 2];
	unsigned	 r = (unsigned)time(NULL);
	uint32_t	 want, got;
	uint64_t	 kills = 0, nkills = env ? strtoull(env, NULL, 10) : 10000;
	size_t		 len;
	int		 i, w, k, e, status;

	lg = mmap(NULL, sizeof(*lg), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(lg, MAP_FAILED);
	for (w = 0; w < KW_SLOTS; w++) {
		lg->fl_key[w] = -1;
		lg->next[w] = 1;
	}
	seg_new(&s, 16 << 20);
	for (i = 0; i < KW_SLOTS + 2; i++)
		pid[i] = kw_spawn(&s, lg, i, r + (unsigned)i);
	while (kills < nkills && lg->errors == 0) {
		usleep(rnd(&r) % 2000);
		w = (int)(rnd(&r) % KW_SLOTS);
		kill(pid[w], SIGKILL);
		ck_assert_int_eq(waitpid(pid[w], &status, 0), pid[w]);
		ck_assert_msg(WIFSIGNALED(status), "writer %d exited: %d", w,
		    lg->err);
		kills++;
		kw_killed(lg, w);
		pid[w] = kw_spawn(&s, lg, w, rnd(&r));
	}
	for (i = 0; i < KW_SLOTS + 2; i++) {
		kill(pid[i], SIGKILL);
		waitpid(pid[i], NULL, 0);
		if (i < KW_SLOTS)
			kw_killed(lg, i);
	}
	ck_assert_msg(lg->errors == 0, "client error %d", lg->err);
	ck_assert_int_eq(tbl_repair(&s.t), 0);
	check_ok(&s.t);
	for (w = 0; w < KW_SLOTS; w++)
		for (k = 0; k < KW_KEYS; k++) {
			snprintf(key, sizeof(key), "%d:%d", w, k);
			want = lg->ack[w][k];
			e = tbl_lookup(&s.tro, key, strlen(key), v, sizeof(v),
			    &len);
			got = 0;
			if (e == 0)
				ck_assert_msg(kw_valid(v, len, key, &got),
				    "%s: torn at the end: %zu bytes \"%.40s\", "
				    "acknowledged %u, %u maybe", key, len,
				    (const char *)v, want, lg->nmaybe[w][k]);
			else
				ck_assert_int_eq(e, PROTETS_NOTFOUND);
			ck_assert_msg(kw_possible(lg, w, k, got), "%s: "
			    "acknowledged %u, table has %u", key, want, got);
		}
	fprintf(stderr, "writers_killed: %llu writers killed, %llu "
	    "acknowledged writes, %llu reads, %llu torn\n",
	    (unsigned long long)kills, (unsigned long long)lg->acked,
	    (unsigned long long)lg->reads, (unsigned long long)lg->torn);
	ck_assert_uint_eq(lg->torn, 0);
	ck_assert_uint_eq(kills, nkills);
	munmap(lg, sizeof(*lg));
	seg_free(&s);
}
END_TEST
#endif /* !PROTETS_CRASHTEST */

/*
 * The same on an ordered_set, for its walks: a writer process inserts,
 * replaces and deletes self-describing values under 2000 keys, singly and
 * in batches, and is SIGKILLed at random points, over and over; a
 * read-only reader walks the table by foldl and by last/prev meanwhile
 * and never sees a key out of order, a key twice or a torn value.
 */
static void __attribute__((noreturn))
ord_writer(struct tbl *t, uint64_t c)
{
	unsigned char	v[3100];
	protets_kv	kv[4];
	char		k[4][32];
	size_t		len;
	int		i, e;

	for (;; c++) {
		len = hot_value(c, v);
		snprintf(k[0], sizeof(k[0]), "o%04llu",
		    (unsigned long long)(c * 7919 % 2000));
		if (c % 3 == 2)
			e = tbl_delete(t, k[0], strlen(k[0]));
		else if (c % 16 != 0)
			e = tbl_insert(t, k[0], strlen(k[0]), v, len);
		else {
			for (i = 0; i < 4; i++) {
				snprintf(k[i], sizeof(k[i]), "o%04llu",
				    (unsigned long long)((c + i) * 31 % 2000));
				kv[i] = (protets_kv){ k[i], strlen(k[i]), v,
				    len };
			}
			e = tbl_insert_many(t, kv, 4, 0);
		}
		if (e != 0)
			_exit(1);
	}
}

struct ord_seen {
	char		last[32];
	size_t		lastlen;
	uint64_t	n;
};

static int
ord_seen_fold(const void *k, size_t klen, const void *v, size_t vlen,
    void *arg)
{
	struct ord_seen	*o = arg;
	int		 c;

	ck_assert_uint_lt(klen, sizeof(o->last));
	if (o->n > 0) {
		c = memcmp(o->last, k, o->lastlen < klen ? o->lastlen : klen);
		ck_assert_msg(c < 0 || (c == 0 && o->lastlen < klen),
		    "key out of order in an ordered walk");
	}
	ck_assert_msg(hot_valid(v, vlen), "torn value in an ordered walk");
	memcpy(o->last, k, klen);
	o->lastlen = klen;
	o->n++;
	return 0;
}

/* A last/prev walk: strictly decreasing keys; EAGAIN passes through. */
static int
ord_back_walk(struct tbl *t)
{
	char	k[PROTETS_KEY_MAX], prev[32];
	size_t	klen, plen = 0;
	int	e;

	for (e = tbl_last(t, k, sizeof(k), &klen); e == 0;
	    e = tbl_prev(t, k, klen, k, sizeof(k), &klen)) {
		ck_assert_uint_lt(klen, sizeof(prev));
		if (plen > 0)
			ck_assert_msg(klen == plen && memcmp(k, prev, klen) < 0,
			    "prev went the wrong way");
		memcpy(prev, k, klen);
		plen = klen;
	}
	return e;
}

START_TEST(test_ordered_readers_vs_killed_writers)
{
	struct seg	s;
	struct ord_seen	o;
	uint64_t	until, walks = 0, eagain = 0;
	unsigned	r = 7;
	pid_t		pid;
	int		round, e, status, nw;

	seg_new_type(&s, 16 << 20, PROTETS_ORDERED_SET);
	for (round = 0; round < 40; round++) {
		if ((pid = fork()) == 0)
			ord_writer(&s.t, (uint64_t)round << 32);
		ck_assert_int_gt(pid, 0);
		until = now_us() + 2000 + rnd(&r) % 20000;
		/* at least two walks overlap each writer, however slow */
		for (nw = 0; nw < 2 || now_us() < until; nw++) {
			memset(&o, 0, sizeof(o));
			e = tbl_foldl(&s.tro, ord_seen_fold, &o);
			if (e == 0)
				e = ord_back_walk(&s.tro);
			ck_assert_msg(e == 0 || e == PROTETS_NOTFOUND ||
			    e == PROTETS_EAGAIN, "walk: %d", e);
			eagain += e == PROTETS_EAGAIN;
			walks++;
		}
		kill(pid, SIGKILL);
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		ck_assert(WIFSIGNALED(status));
		/* the daemon's part: recover a writer that died locked */
		ck_assert_int_eq(tbl_repair(&s.t), 0);
		memset(&o, 0, sizeof(o));
		ck_assert_int_eq(tbl_foldl(&s.tro, ord_seen_fold, &o), 0);
		ck_assert_uint_eq(o.n, count_of(&s.tro));
		if (round % 8 == 0)
			check_ok(&s.tro);
	}
	check_ok(&s.t);
	fprintf(stderr, "ordered readers_vs_killed_writers: %llu walks, %llu "
	    "EAGAIN\n", (unsigned long long)walks,
	    (unsigned long long)eagain);
	ck_assert_uint_ge(walks, 80);
	seg_free(&s);
}
END_TEST

/*
 * Readers see a batch whole or not at all: a writer process inserts ten
 * values of a key in one insert_many and takes them all in one take,
 * over and over; a read-only reader's lookup_each sees 0 or 10 values,
 * of one batch, in order.
 */
static int
batch_seen(const void *k, size_t klen, const void *v, size_t vlen, void *arg)
{
	char	*seen = arg;
	size_t	 l = strlen(seen);

	(void)k;
	(void)klen;
	ck_assert_uint_lt(l + vlen + 2, 512);
	memcpy(seen + l, v, vlen);
	seen[l + vlen] = ',';
	seen[l + vlen + 1] = '\0';
	return 0;
}

START_TEST(test_batch_readers)
{
	struct seg	s;
	char		seen[512], want[512], vals[10][24], *dash;
	protets_kv	kv[10];
	uint64_t	until, full = 0, empty = 0, gen;
	pid_t		pid;
	int		i, e, status;

	seg_new_type(&s, 8 << 20, PROTETS_DUPLICATE_BAG);
	if ((pid = fork()) == 0) {
		for (gen = 0;; gen++) {
			for (i = 0; i < 10; i++) {
				snprintf(vals[i], sizeof(vals[i]), "%llu-%d",
				    (unsigned long long)gen, i);
				kv[i].key = "b";
				kv[i].klen = 1;
				kv[i].val = vals[i];
				kv[i].vlen = strlen(vals[i]);
			}
			if (tbl_insert_many(&s.t, kv, 10, 0) != 0)
				_exit(1);
			usleep(100);
			if (tbl_take(&s.t, "b", 1, NULL, NULL) != 0)
				_exit(1);
			usleep(20);
		}
	}
	ck_assert_int_gt(pid, 0);
	/* until both states were seen often, or (a loaded machine) 20 s */
	until = now_us() + 20000000;
	while (now_us() < until && (full < 200 || empty < 200)) {
		seen[0] = '\0';
		e = tbl_lookup_each(&s.tro, "b", 1, batch_seen, seen);
		if (e == PROTETS_NOTFOUND) {
			empty++;
			continue;
		}
		ck_assert_int_eq(e, 0);
		dash = strchr(seen, '-');
		ck_assert_ptr_nonnull(dash);
		gen = strtoull(seen, NULL, 10);
		want[0] = '\0';
		for (i = 0; i < 10; i++)
			snprintf(want + strlen(want), sizeof(want) -
			    strlen(want), "%llu-%d,", (unsigned long long)gen, i);
		ck_assert_str_eq(seen, want);
		full++;
	}
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status));
	fprintf(stderr, "batch_readers: %llu whole batches, %llu empty\n",
	    (unsigned long long)full, (unsigned long long)empty);
	ck_assert_uint_gt(full, 0);
	/* the killed writer may have died mid-batch: recover, check */
	check_ok(&s.t);
	e = tbl_lookup_each(&s.t, "b", 1, batch_seen, seen);
	ck_assert(e == 0 || e == PROTETS_NOTFOUND);
	seg_free(&s);
}
END_TEST

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
 * Keys compare whole, the bytes past the last full word included: keys of
 * every length up to 20 that differ only in their last byte, or only in
 * their first, are told apart.
 */
START_TEST(test_key_tails)
{
	struct seg	s;
	char		k[24], buf[32], want[32];
	size_t		len, n;
	int		c;

	seg_new(&s, 1 << 20);
	for (len = 1; len <= 20; len++)
		for (c = 0; c < 3; c++) {
			memset(k, 'k', len);
			k[len - 1] = (char)('a' + c);
			snprintf(want, sizeof(want), "%zu-%d", len, c);
			ck_assert_int_eq(tbl_insert(&s.t, k, len, want,
			    strlen(want)), 0);
		}
	for (len = 1; len <= 20; len++) {
		for (c = 0; c < 3; c++) {
			memset(k, 'k', len);
			k[len - 1] = (char)('a' + c);
			snprintf(want, sizeof(want), "%zu-%d", len, c);
			memset(buf, 0, sizeof(buf));
			ck_assert_int_eq(tbl_lookup(&s.tro, k, len, buf,
			    sizeof(buf) - 1, &n), 0);
			ck_assert_uint_eq(n, strlen(want));
			ck_assert_str_eq(buf, want);
		}
		memset(k, 'k', len);
		k[len - 1] = 'z';
		ck_assert_int_eq(tbl_member(&s.tro, k, len), PROTETS_NOTFOUND);
		if (len > 1) {
			k[len - 1] = 'a';
			k[0] = 'z';
			ck_assert_int_eq(tbl_member(&s.tro, k, len),
			    PROTETS_NOTFOUND);
		}
	}
	check_ok(&s.t);
	seg_free(&s);
}
END_TEST

/* update_counter of key k by incr, from dflt if it is missing. */
static int64_t
ctr_from(struct tbl *t, const char *k, int64_t incr, int64_t dflt, int *e)
{
	protets_counter_opts	o = { .has_default = 1, .dflt = dflt };

	return ctr(t, k, incr, &o, e);
}

/*
 * update_counter goes straight to an entry this thread found before (a
 * hint, counter.c) only while that is provably still the key's entry:
 * never to a deleted, replaced or cleared one, through another handle, in
 * a child, or after the block became an overflow bucket.
 */
START_TEST(test_counter_hints)
{
	struct seg	s;
	struct tbl	t2;
	char		buf[64], k[24];
	uint64_t	rc0;
	pid_t		pid;
	int		e, status, seed = 0, i;

	seg_new(&s, 1 << 20);
	ck_assert_int_eq(tbl_open(&t2, s.rw, s.size, 1), 0);
	ck_assert_int_eq(ctr_from(&s.t, "k", 1, 0, &e), 1);
	ck_assert_int_eq(ctr_from(&s.t, "k", 1, 0, &e), 2);	/* through the hint */
	/* deleted, then made again: from the default, not from 2 */
	ck_assert_int_eq(tbl_delete(&s.t, "k", 1), 0);
	ck_assert_int_eq(ctr_from(&s.t, "k", 1, 10, &e), 11);
	ck_assert_int_eq(e, 0);
	/* replaced by text: no counter any more */
	ck_assert_int_eq(put(&s.t, "k", "ab"), 0);
	ctr_from(&s.t, "k", 1, 0, &e);
	ck_assert_int_eq(e, PROTETS_EINVAL);
	ck_assert_int_eq(put(&s.t, "k", "5"), 0);
	ck_assert_int_eq(ctr_from(&s.t, "k", 1, 0, &e), 6);
	/* two handles on one mapping, each with its hints */
	ck_assert_int_eq(ctr_from(&t2, "k", 1, 0, &e), 7);
	ck_assert_int_eq(ctr_from(&s.t, "k", 1, 0, &e), 8);
	ck_assert_int_eq(tbl_delete(&t2, "k", 1), 0);
	ck_assert_int_eq(ctr_from(&s.t, "k", 1, 20, &e), 21);
	/* a child replaces it: the parent's hint is no good */
	if ((pid = fork()) == 0)
		_exit(put(&s.t, "k", "xy") == 0 ? 0 : 1);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ctr_from(&s.t, "k", 1, 0, &e);
	ck_assert_int_eq(e, PROTETS_EINVAL);
	ck_assert_int_eq(put(&s.t, "k", "30"), 0);
	ck_assert_int_eq(ctr_from(&s.t, "k", 1, 0, &e), 31);
	/*
	 * Cleared: the old entry's block keeps its header and key, garbage
	 * above the reset heap, and the hint points there; the counter
	 * must start from the default all the same.
	 */
	ck_assert_int_eq(tbl_clear(&s.t), 0);
	ck_assert_int_eq(ctr_from(&s.t, "k", 1, 100, &e), 101);
	ck_assert_int_eq(get(&s.t, "k", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "101");
	/* an overflow bucket (a block that may have held an entry) */
	rc0 = state_of(&s)->recast;
	for (i = 0; i < TBL_BUCKET_SLOTS + 1; i++) {
		key_with_hash(k, sizeof(k), "o", 15, 5, &seed);
		ck_assert_int_eq(put(&s.t, k, "v"), 0);
	}
	ck_assert_uint_gt(state_of(&s)->recast, rc0);
	ck_assert_uint_gt(state_of(&s)->overflow, 0);
	ck_assert_int_eq(ctr_from(&s.t, "k", 1, 0, &e), 102);
	check_ok(&s.t);
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

/*
 * Contents digest, also checking count agrees with foldl; on an
 * ordered_set, d[0] also covers the order of the walk.
 */
static void
digest(struct tbl *t, uint64_t d[2])
{
	d[0] = d[1] = 0;
	ck_assert_int_eq(tbl_foldl(t, dig_fold, d), 0);
	ck_assert_uint_eq(count_of(t), d[1]);
	if (t->type == PROTETS_ORDERED_SET)
		d[0] ^= ord_digest(t);
}

/*
 * Crash-point enumeration: for each scenario and operation, kill a child
 * writer at every crash point k of the operation; the parent's next lock
 * recovers, the table passes tbl_check and its contents are exactly those
 * before or after the operation.
 */
enum { OP_NEW, OP_NEW_BIG, OP_REPLACE, OP_DEL_HEAD, OP_DEL_TAIL,
    OP_DEL_MISSING, OP_INSNEW_BATCH, OP_BATCH, OP_DELOBJ, OP_TAKE,
    OP_COUNTER_NEW, OP_COUNTER, OP_COUNTER_HINT, OP_COUNTER_LONGER,
    OP_CLEAR, OP_BAG_ADD, OP_BAG_DELOBJ, OP_BAG_TAKE, OP_BAG_DELETE,
    OP_NOPS };

static const char *const op_names[OP_NOPS] = { "new", "big", "replace",
    "del-head", "del-tail", "missing", "insert-new-batch", "batch",
    "delete-object", "take", "counter-new", "counter", "counter-hint",
    "counter-longer", "clear", "bag-add",
    "bag-delete-object", "bag-take", "bag-delete" };

struct crash_sc {
	char	keys[32][24];	/* keys of bucket 0's chain, in order */
	int	nkeys;
	char	ctr[24];	/* a counter, "41", outside bucket 0 */
};

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
	key_with_hash(sc->ctr, sizeof(sc->ctr), "ctr", 15, 3, &seed);
	ck_assert_int_eq(put(&s->t, sc->ctr, "41"), 0);
	for (n = nchain + 1; n < nfill; n++) {
		key_with_hash(k, sizeof(k), "f", 15, 1 + n % 15, &seed);
		ck_assert_int_eq(tbl_insert(&s->t, k, strlen(k), v, 20), 0);
	}
	ck_assert_uint_eq(count_of(&s->t), (uint64_t)nfill);
	ck_assert_uint_ne(state_of(s)->al_free[1], 0);	/* class 24 */
	if (s->t.type == PROTETS_BAG || s->t.type == PROTETS_DUPLICATE_BAG) {
		/* 11 more values of the chain's first key: overflow */
		for (i = 0; i < 11; i++) {
			snprintf(v, sizeof(v), "bagvalue%d", i);
			ck_assert_int_eq(put(&s->t, sc->keys[0], v), 0);
		}
	}
	check_ok(&s->t);
}

static int
crash_op(struct tbl *t, const struct crash_sc *sc, int op)
{
	static unsigned char	big[5000];
	protets_kv		kv[3];
	char			k2[24];
	int			n = 0, e, seed = 1000;
	int64_t			r;
	protets_counter_opts	o = { 0, 0, 0, 1, 7 };

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
	case OP_INSNEW_BATCH:
	case OP_BATCH:
		/* one new key in bucket 0's chain (a split, when full) */
		key_with_hash(k2, sizeof(k2), "b", 31, 16, &seed);
		kv[0] = (protets_kv){ "newkey", 6, "newvalue", 8 };
		kv[1] = (protets_kv){ k2, strlen(k2), "v2", 2 };
		if (op == OP_BATCH)	/* and a replace */
			kv[2] = (protets_kv){ sc->keys[0],
			    strlen(sc->keys[0]), "replaced", 8 };
		else
			kv[2] = (protets_kv){ "third", 5, big, 300 };
		return tbl_insert_many(t, kv, 3, op == OP_INSNEW_BATCH);
	case OP_DELOBJ:
		return tbl_delete_object(t, sc->keys[0], strlen(sc->keys[0]),
		    "ffffffffffffffffffff", 20, NULL);
	case OP_TAKE:
	case OP_BAG_TAKE:
		e = tbl_take(t, sc->keys[0], strlen(sc->keys[0]),
		    take_count, &n);
		return e != 0 ? e : n == (op == OP_TAKE ? 1 : 12) ? 0 : -1;
	case OP_COUNTER_NEW:
		e = tbl_update_counter(t, "newctr", 6, 5, &o, &r);
		return e != 0 ? e : r == 12 ? 0 : -1;
	case OP_COUNTER:
		e = tbl_update_counter(t, sc->ctr, strlen(sc->ctr), 1, &o, &r);
		return e != 0 ? e : r == 42 ? 0 : -1;
	case OP_COUNTER_HINT:
	case OP_COUNTER_LONGER:
		/*
		 * An increment of 0 changes nothing but leaves this
		 * process a hint (counter.c): the update goes through it,
		 * in place (42) or as a new entry ("100", longer).
		 */
		e = tbl_update_counter(t, sc->ctr, strlen(sc->ctr), 0, &o, &r);
		if (e != 0 || r != 41)
			return e != 0 ? e : -1;
		e = tbl_update_counter(t, sc->ctr, strlen(sc->ctr),
		    op == OP_COUNTER_HINT ? 1 : 59, &o, &r);
		return e != 0 ? e : r == (op == OP_COUNTER_HINT ? 42 : 100) ?
		    0 : -1;
	case OP_CLEAR:
		return tbl_clear(t);
	case OP_BAG_ADD:
		return put(t, sc->keys[0], "another value");
	case OP_BAG_DELOBJ:
		return tbl_delete_object(t, sc->keys[0], strlen(sc->keys[0]),
		    "bagvalue3", 9, NULL);
	case OP_BAG_DELETE:
		return tbl_delete(t, sc->keys[0], strlen(sc->keys[0]));
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
crash_enumerate_ops(unsigned type, int nchain, int nfill, int test_recovery,
    const int *ops, int nops)
{
	static struct seg	s;
	struct crash_sc		sc;
	unsigned char		*snap, *dead;
	uint64_t		d0[2], d1[2];
	unsigned long		steps, k, j;
	int			op, oi, before, after, rkills;
	unsigned long		total = 0, allsteps[OP_NOPS];

	seg_new_type(&s, 1 << 20, type);
	sc_setup(&s, &sc, nchain, nfill);
	snap = malloc(s.size);
	dead = malloc(s.size);
	memcpy(snap, s.rw, s.size);
	for (oi = 0; oi < nops; oi++) {
		op = ops[oi];
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
			if (test_recovery && k <= steps && k % 3 == 0 &&
			    (steps < 60 || k % 15 == 0)) {
				/* kill the recoverer too, at each step (long
				 * operations: at every 15th step of theirs) */
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
	fprintf(stderr, "crash %s chain=%d fill=%d: %lu kills; steps per op:",
	    type == PROTETS_SET ? "set" : type == PROTETS_BAG ? "bag" :
	    type == PROTETS_ORDERED_SET ? "ordered_set" : "duplicate_bag",
	    nchain, nfill, total);
	for (oi = 0; oi < nops; oi++)
		fprintf(stderr, " %s %lu", op_names[ops[oi]], allsteps[ops[oi]]);
	fprintf(stderr, "\n");
	free(snap);
	free(dead);
	seg_free(&s);
}

static const int set_ops[] = { OP_NEW, OP_NEW_BIG, OP_REPLACE,
    OP_DEL_HEAD, OP_DEL_TAIL, OP_DEL_MISSING, OP_INSNEW_BATCH, OP_BATCH,
    OP_DELOBJ, OP_TAKE, OP_COUNTER_NEW, OP_COUNTER, OP_COUNTER_HINT,
    OP_COUNTER_LONGER, OP_CLEAR };
static const int bag_ops[] = { OP_NEW, OP_BAG_ADD, OP_DEL_TAIL,
    OP_DEL_MISSING, OP_INSNEW_BATCH, OP_BAG_DELOBJ, OP_BAG_TAKE,
    OP_BAG_DELETE, OP_CLEAR };

static void
crash_enumerate(int nchain, int nfill, int test_recovery)
{
	crash_enumerate_ops(PROTETS_SET, nchain, nfill, test_recovery,
	    set_ops, (int)(sizeof(set_ops) / sizeof(set_ops[0])));
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

/* Bags: a key with 12 values over two buckets; with and without split. */
START_TEST(test_crash_bag)
{
	unsigned	type = _i < 2 ? PROTETS_BAG : PROTETS_DUPLICATE_BAG;

	crash_enumerate_ops(type, _i % 2 ? 13 : 3, _i % 2 ? 64 : 20,
	    _i == 1, bag_ops, (int)(sizeof(bag_ops) / sizeof(bag_ops[0])));
}
END_TEST

/*
 * ordered_set: every step of every set operation (insert new and
 * replace, batches, delete, take, delete_object, counters, clear) with
 * the ordered index in play; the digest covers the walk's order and
 * tbl_check the index's.  With a split, and with recoverers killed.
 */
START_TEST(test_crash_ordered)
{
	crash_enumerate_ops(PROTETS_ORDERED_SET, _i ? 13 : 3, _i ? 64 : 20,
	    _i == 1, set_ops, (int)(sizeof(set_ops) / sizeof(set_ops[0])));
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
	tcase_add_test(tc, test_reuse_space);
	tcase_add_loop_test(tc, test_model, 0, 2);
	tcase_add_test(tc, test_growth);
	tcase_add_test(tc, test_foldl_writes);
	tcase_add_loop_test(tc, test_bag, 0, 2);
	tcase_add_test(tc, test_bag_check);
	tcase_add_test(tc, test_bag_hot_key);
	tcase_add_test(tc, test_insert_new_batch);
	tcase_add_test(tc, test_batch_full);
	tcase_add_test(tc, test_batch_reuse);
	tcase_add_test(tc, test_delete_object_take_clear);
	tcase_add_test(tc, test_delete_limit);
	tcase_add_test(tc, test_counter);
	tcase_add_loop_test(tc, test_first_next, 0, 3);
	tcase_add_test(tc, test_ordered_basic);
	tcase_add_test(tc, test_ordered_long_keys);
	tcase_add_loop_test(tc, test_ordered_select, 0, 2);
	tcase_add_test(tc, test_ordered_seek);
	tcase_add_loop_test(tc, test_ordered_walk_writes, 0, 2);
	tcase_add_test(tc, test_ordered_counter);
	tcase_add_test(tc, test_ordered_full);
	tcase_add_loop_test(tc, test_select, 0, 2);
	tcase_add_loop_test(tc, test_model_ops, 0, 4);
	tcase_add_test(tc, test_counter_hints);
	tcase_add_test(tc, test_key_tails);
	suite_add_tcase(s, tc);

	tc = tcase_create("corrupt");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_corrupt);
	tcase_add_test(tc, test_ordered_corrupt);
	tcase_add_test(tc, test_corrupt_fuzz);
	tcase_add_test(tc, test_bad_undo);
	suite_add_tcase(s, tc);

	tc = tcase_create("kill");
	tcase_set_timeout(tc, 900);	/* 10,000 forks under ASan on a loaded machine */
	tcase_add_test(tc, test_reader_vs_killed_writers);
	tcase_add_test(tc, test_batch_readers);
	tcase_add_test(tc, test_ordered_readers_vs_killed_writers);
#ifndef PROTETS_CRASHTEST
	tcase_add_test(tc, test_writers_killed);
#else
	tcase_add_test(tc, test_crash_simple);
	tcase_add_test(tc, test_crash_split);
	tcase_add_test(tc, test_crash_overflow);
	tcase_add_test(tc, test_crash_recovery);
	tcase_add_loop_test(tc, test_crash_bag, 0, 4);
	tcase_add_loop_test(tc, test_crash_ordered, 0, 2);
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
