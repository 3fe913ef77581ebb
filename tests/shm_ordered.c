/*
 * tests/shm_ordered.c - check_shm: ordered_set: its index, walks and range selects.
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

#include "ordered.h"
#include "shmutil.h"

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
	ck_assert_int_eq(tbl_take(&s.t, "b", 1, cb_count, &got), 0);
	ck_assert_int_eq(got, 1);
	ck_assert_int_eq(tbl_take(&s.t, "b", 1, cb_count, &got),
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
	m.pred = cb_count_true;
	m.arg = &calls;
	ck_assert_int_eq(tbl_select(&s.tro, &m, cb_count, &i), 0);
	ck_assert_int_eq(calls, 10);
	m.from = m.to = NULL;
	m.prefix = "s0199";
	m.plen = 5;
	calls = 0;
	ck_assert_int_eq(tbl_select(&s.tro, &m, cb_count, &i), 0);
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

/*
 * The writers' finger (ordered.c): a thread's inserts and deletes in key
 * order start from where its last one left the list.  It must not outlive
 * what makes it sound: another process's change to the list (here the
 * node it stands on deleted), or a roll back by this thread (an aborted
 * batch, which leaves the sequence where a commit would).  Either would
 * link the next key after a node no longer in the list, where no walk
 * finds it.  Then keys in order, inserted and deleted, every one from the
 * finger, against what a walk finds.
 */
START_TEST(test_ordered_finger)
{
	static char	big[300000];
	struct seg	s;
	protets_kv	kv[2];
	char		k[16], want[4096];
	uint64_t	hits;
	pid_t		pid;
	int		st, i, n = 0;

	seg_new_type(&s, tbl_min_size() + 256 * 1024, PROTETS_ORDERED_SET);
	ck_assert_int_eq(put(&s.t, "k10", "v"), 0);
	ck_assert_int_eq(put(&s.t, "k20", "v"), 0);
	if ((pid = fork()) == 0)
		_exit(tbl_delete(&s.t, "k20", 3) != 0 ||
		    tbl_delete(&s.t, "k10", 3) != 0);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert_int_eq(put(&s.t, "k30", "v"), 0);
	ord_expect(&s, "k30,");
	kv[0] = (protets_kv){ "k40", 3, "v", 1 };
	kv[1] = (protets_kv){ "k99", 3, big, sizeof(big) };
	ck_assert_int_eq(tbl_insert_many(&s.t, kv, 2, 0), PROTETS_EFULL);
	ck_assert_int_eq(put(&s.t, "k50", "v"), 0);
	ord_expect(&s, "k30,k50,");
	hits = or_wf_hits();
	for (i = 0; i < 300; i++) {
		snprintf(k, sizeof(k), "n%04d", i);
		ck_assert_int_eq(put(&s.t, k, "v"), 0);
	}
	ck_assert_uint_ge(or_wf_hits() - hits, 299);	/* all but the first */
	hits = or_wf_hits();
	for (i = 0; i < 300; i++) {	/* runs of two, in order */
		if (i % 3 == 2)
			continue;
		snprintf(k, sizeof(k), "n%04d", i);
		ck_assert_int_eq(tbl_delete(&s.t, k, strlen(k)), 0);
	}
	/* each run's second from the first: the next key of its path */
	ck_assert_uint_ge(or_wf_hits() - hits, 100);
	want[0] = '\0';
	strcat(want, "k30,k50,");
	for (i = 0; i < 300; i++)
		if (i % 3 == 2) {
			n += snprintf(k, sizeof(k), "n%04d,", i);
			strcat(want, k);
		}
	ord_expect(&s, want);
	ck_assert_int_eq(n, 100 * 6);
	seg_free(&s);
}
END_TEST

/* Add this file's tests to tc. */
void
shm_tests_ordered(TCase *tc)
{
	tcase_add_test(tc, test_ordered_basic);
	tcase_add_test(tc, test_ordered_long_keys);
	tcase_add_loop_test(tc, test_ordered_select, 0, 2);
	tcase_add_test(tc, test_ordered_seek);
	tcase_add_loop_test(tc, test_ordered_walk_writes, 0, 2);
	tcase_add_test(tc, test_ordered_counter);
	tcase_add_test(tc, test_ordered_full);
	tcase_add_test(tc, test_ordered_finger);
}
