/*
 * tests/shm_counter.c - check_shm: update_counter (ETS semantics, errors,
 * in place and as a new text) and the per-thread hints to counters.
 */
#include <sys/wait.h>

#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "protets.h"
#include "seg.h"
#include "table.h"

#include "shmutil.h"

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

/* update_counter of key k by incr, from dflt if it is missing. */
static int64_t
ctr_from(struct tbl *t, const char *k, int64_t incr, int64_t dflt, int *e)
{
	protets_counter_opts	o = { .has_default = 1, .dflt = dflt };

	return ctr(t, k, incr, &o, e);
}

/*
 * update_counter goes straight to an entry this thread found before (a
 * hint, table_counter.c) only while that is provably still the key's entry:
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
	/*
	 * An overflow bucket in a block that held an entry: one of 62 bytes
	 * (a bucket's class, 64) freed, then a chain that overflows.
	 */
	memset(buf, 'x', 50);
	ck_assert_int_eq(tbl_insert(&s.t, "fill", 4, buf, 50), 0);
	ck_assert_int_eq(tbl_delete(&s.t, "fill", 4), 0);
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

/* Add this file's tests to tc. */
void
shm_tests_counter(TCase *tc)
{
	tcase_add_test(tc, test_counter);
	tcase_add_test(tc, test_counter_hints);
}
