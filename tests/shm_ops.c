/*
 * tests/shm_ops.c - check_shm: operations of every type, batches, walks,
 * selects (update_counter: shm_counter.c).
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
	ck_assert_int_eq(tbl_foldl(&s.t, cb_count_stop, &stops), 7);
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

/*
 * A full table reuses the space of deleted entries of another size: with
 * the heap exhausted, small entries split the blocks big ones left (and
 * their overflow buckets too), down to what no class fits.  Before
 * splits, the small inserts failed with EFULL beside megabytes of free
 * blocks.  Blocks are never merged: once the big blocks are cut up, a
 * big entry no longer fits, and fails whole.
 */
START_TEST(test_split_reuse)
{
	struct seg		s;
	struct tbl_stats	st;
	char			k[32], v[4000], buf[64];
	int			big, small, i, e;

	seg_new(&s, tbl_min_size() + 512 * 1024);
	memset(v, 'v', sizeof(v));
	big = fill_keys(&s.t, "big-", 3000, &e);
	ck_assert_int_eq(e, PROTETS_EFULL);
	ck_assert_int_gt(big, 100);
	delete_every(&s.t, "big-", big, 1);
	check_ok(&s.t);
	/* 14-byte keys, 32-byte values: 56-byte blocks out of 3072 */
	for (small = 0;; small++) {
		snprintf(k, sizeof(k), "small-%08d", small);
		if ((e = tbl_insert(&s.t, k, strlen(k), v, 32)) != 0)
			break;
	}
	ck_assert_int_eq(e, PROTETS_EFULL);
	/* 56 bytes of 3072, less what the index took: most of it */
	ck_assert_msg(small > big * (3072 / 56) * 2 / 3,
	    "%d small entries in the space of %d big ones", small, big);
	check_ok(&s.t);
	ck_assert_int_eq(tbl_stats(&s.t, &st), 0);
	ck_assert_uint_eq(st.entries, (uint64_t)small);
	for (i = 0; i < small; i += 97) {
		snprintf(k, sizeof(k), "small-%08d", i);
		ck_assert_int_eq(get(&s.tro, k, buf, sizeof(buf)), 0);
		ck_assert_uint_eq(strlen(buf), 32);
	}
	/* no merge: a big entry fails whole, the table intact */
	ck_assert_int_eq(tbl_insert(&s.t, "big-again", 9, v, 3000),
	    PROTETS_EFULL);
	ck_assert_int_eq(tbl_stats(&s.t, &st), 0);
	ck_assert_uint_eq(st.entries, (uint64_t)small);
	check_ok(&s.t);
	seg_free(&s);
}
END_TEST

/*
 * An index split in a full table takes no block out of a larger one: its
 * undo reservation counts one record per overflow bucket (ix_split_undo),
 * and a split costs up to four.  A duplicate_bag whose next bucket to
 * split holds one key's 2,400 values overflowed the undo log (abort) at
 * every insert that tried that split, for good (found by review).  Now
 * the split is skipped for want of room, and the inserts go on.
 */
START_TEST(test_split_chain_full)
{
	struct seg	s;
	char		hot[32];
	uint64_t	lv, p, m, before;
	int		n, i, seed = 0;

	seg_new_type(&s, tbl_min_size() + 14 * 1024 * 1024,
	    PROTETS_DUPLICATE_BAG);
	n = fill_keys(&s.t, "big-", 3000, NULL);
	(void)fill_keys(&s.t, "pad-", 1, NULL);
	delete_every(&s.t, "big-", n, 2);
	lv = state_of(&s)->ix_level;
	p = state_of(&s)->ix_split;
	m = (uint64_t)TBL_IX_NB0 << lv;
	/* a key of the next bucket to split, moving on the split */
	key_with_hash(hot, sizeof(hot), "hot", 2 * m - 1, p | m, &seed);
	before = count_of(&s.t);
	for (i = 0; i < 4000; i++)
		ck_assert_int_eq(tbl_insert(&s.t, hot, strlen(hot), "v", 1), 0);
	check_ok(&s.t);
	ck_assert_uint_eq(count_of(&s.t), before + 4000);
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
	n = fill_keys(&s.t, "key-", 100, &e);
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
	delete_every(&s.t, "key-", n, 2);
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
	/* 40 fit (32 always do), and split the index after */
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

/* Add this file's tests to tc. */
void
shm_tests_ops(TCase *tc)
{
	tcase_add_test(tc, test_format_open);
	tcase_add_test(tc, test_basic);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_full);
	tcase_add_test(tc, test_split_reuse);
	tcase_add_test(tc, test_split_chain_full);
	tcase_add_test(tc, test_reuse_space);
	tcase_add_loop_test(tc, test_bag, 0, 2);
	tcase_add_test(tc, test_bag_check);
	tcase_add_test(tc, test_bag_hot_key);
	tcase_add_test(tc, test_insert_new_batch);
	tcase_add_test(tc, test_batch_full);
	tcase_add_test(tc, test_batch_reuse);
	tcase_add_test(tc, test_delete_object_take_clear);
	tcase_add_test(tc, test_delete_limit);
	tcase_add_loop_test(tc, test_first_next, 0, 3);
	tcase_add_loop_test(tc, test_select, 0, 2);
	tcase_add_test(tc, test_key_tails);
}
