/*
 * check_catalog.c - the daemon's catalog segment.
 */
#include <sys/wait.h>

#include <check.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog.h"
#include "testutil.h"

static struct cat_entry *
add(struct catalog *c, const char *name, int worker, uint32_t uid)
{
	struct cat_entry	*e;

	cat_lock(c);
	e = cat_alloc(c, 100);
	if (e != NULL) {
		e->worker = worker;
		e->owner_uid = uid;
		e->name_len = (uint32_t)strlen(name);
		memcpy(e->name, name, e->name_len + 1);
		cat_set_state(e, CAT_READY);
	}
	cat_unlock(c);
	return e;
}

START_TEST(test_basic)
{
	struct catalog		 c;
	struct cat_entry	*a, *b;

	ck_assert_int_eq(cat_create(&c, 8, 3), 0);
	ck_assert_ptr_nonnull(a = add(&c, "alpha", 0, 10));
	ck_assert_ptr_nonnull(b = add(&c, "beta", 1, 10));
	ck_assert_uint_ne(a->id, b->id);
	cat_lock(&c);
	ck_assert_ptr_eq(cat_find(&c, "alpha"), a);
	ck_assert_ptr_null(cat_find(&c, "alph"));
	ck_assert_ptr_null(cat_find(&c, "alphab"));
	ck_assert_ptr_eq(cat_find_id(&c, b->id), b);
	ck_assert_uint_eq(cat_count_slot(&c, 0), 1);
	ck_assert_uint_eq(cat_count_uid(&c, 10), 2);
	/* Slot 2 has nothing: it gets the next table. */
	ck_assert_int_eq(cat_least_loaded(&c), 2);
	cat_set_state(a, CAT_FREE);
	ck_assert_ptr_null(cat_find(&c, "alpha"));
	cat_unlock(&c);
	cat_destroy(&c);
}
END_TEST

START_TEST(test_limit)
{
	struct catalog	 c;
	char		 name[16];
	int		 i;

	ck_assert_int_eq(cat_create(&c, 4, 1), 0);
	for (i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "t%d", i);
		ck_assert_ptr_nonnull(add(&c, name, 0, 0));
	}
	ck_assert_ptr_null(add(&c, "one-too-many", 0, 0));
	cat_destroy(&c);
	/* max_tables below the catalog's size applies too. */
	ck_assert_int_eq(cat_create(&c, 8, 1), 0);
	cat_lock(&c);
	ck_assert_ptr_nonnull(cat_alloc(&c, 1));
	cat_unlock(&c);
	cat_destroy(&c);
}
END_TEST

/* A process killed holding the lock does not block the next one. */
START_TEST(test_dead_holder)
{
	struct catalog	 c;
	pid_t		 pid;
	int		 st;

	ck_assert_int_eq(cat_create(&c, 4, 1), 0);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		cat_lock(&c);
		raise(SIGKILL);
	}
	waitpid(pid, &st, 0);
	ck_assert(WIFSIGNALED(st));
	ck_assert_ptr_nonnull(add(&c, "after", 0, 0));
	/* and again: the mutex stayed recoverable */
	ck_assert_ptr_nonnull(add(&c, "again", 0, 0));
	cat_destroy(&c);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("catalog");
	TCase	*tc = tcase_create("catalog");

	tcase_add_test(tc, test_basic);
	tcase_add_test(tc, test_limit);
	tcase_add_test(tc, test_dead_holder);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
