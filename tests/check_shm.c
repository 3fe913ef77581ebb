/*
 * tests/check_shm.c - unit tests of the table engine (shm/): the suite;
 * the tests are in tests/shm_*.c, what they share in tests/shmutil.c.
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

#include "crash.h"
#include "protets.h"
#include "seg.h"
#include "table.h"

#include "shmutil.h"

/*
 * check_shm runs everything but the crash-point enumeration; check_shm_crash
 * (the engine built with crash points) runs that alone: the rest would be
 * the same tests again, which under ASan cost CI minutes.
 */
static Suite *
shm_suite(void)
{
	Suite	*s = suite_create("shm");
	TCase	*tc;

#ifdef PROTETS_CRASHTEST
	tc = tcase_create("crash");
	tcase_set_timeout(tc, 900);	/* a fork of an ASan process: ms */
	shm_tests_crash(tc);
	suite_add_tcase(s, tc);
	return s;
#endif
	tc = tcase_create("ops");
	tcase_set_timeout(tc, 120);
	shm_tests_ops(tc);
	shm_tests_counter(tc);
	shm_tests_ordered(tc);
	shm_tests_model(tc);
	suite_add_tcase(s, tc);

	tc = tcase_create("corrupt");
	tcase_set_timeout(tc, 120);
	shm_tests_corrupt(tc);
	suite_add_tcase(s, tc);

	tc = tcase_create("grow");
	tcase_set_timeout(tc, 600);	/* 10M inserts under ASan */
	shm_tests_grow(tc);
	suite_add_tcase(s, tc);

	tc = tcase_create("kill");
	tcase_set_timeout(tc, 900);	/* 10,000 forks under ASan on a loaded machine */
	shm_tests_kill(tc);
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
