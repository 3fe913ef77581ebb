/*
 * tests/shm_model.c - check_shm: the randomised model tests against a reference.
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
#define OM_OPS		250000
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

/* Add this file's tests to tc. */
void
shm_tests_model(TCase *tc)
{
	tcase_add_loop_test(tc, test_model, 0, 2);
	tcase_add_test(tc, test_growth);
	tcase_add_test(tc, test_foldl_writes);
	tcase_add_loop_test(tc, test_model_ops, 0, 4);
}
