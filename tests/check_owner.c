/*
 * tests/check_owner.c - the lock word's holder (shm/owner.c): who counts
 * as dead, and who does not.
 *
 * Self-contained (no daemon): a memfd segment, and forked holders that
 * take a stripe's lock, change the entry count through the undo log and
 * then die, or live on in ways that fooled a first version of the lock
 * word (each found by review, each a test here): a zero lock timeout (the
 * daemon's REPAIR), a main thread gone while another holds the lock (a
 * zombie leader), a holder short of fds at its first lock, a locker in
 * another time namespace (another start-time figure).  Holders wait for
 * the parent's word on a pipe; nothing sleeps.
 */
#include <sys/resource.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "lock.h"
#include "protets.h"
#include "seg.h"
#include "table.h"

#include "shmutil.h"
#include "testutil.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME	0x00000080
#endif

#define ENTRIES		TBL_STATE_FIELD(entries)

static struct seg	s;
static int		held[2], go[2];

static void
setup(void)
{
	seg_new(&s, 1 << 20);
	ck_assert_int_eq(pipe(held), 0);
	ck_assert_int_eq(pipe(go), 0);
}

static void
teardown(void)
{
	seg_free(&s);
	close(held[0]);
	close(held[1]);
	close(go[0]);
	close(go[1]);
}

/* In a holder: take the lock, log a change, say so. */
static void
take_and_change(void)
{
	if (lk_wbegin(&s.t) != 0)
		_exit(2);
	lk_set(&s.t, ENTRIES, 9999);
	if (write(held[1], "h", 1) != 1)
		_exit(3);
}

/* In a holder: wait for the parent's word, then commit the change. */
static void
commit_when_told(void)
{
	char	c;

	if (read(go[0], &c, 1) != 1)
		_exit(4);
	lk_wcommit(&s.t);
}

static void
wait_held(void)
{
	char	c;

	ck_assert_int_eq(read(held[0], &c, 1), 1);
}

/* The process state letter of pid ('?': none). */
static char
pstate_of(pid_t pid)
{
	char	path[64], buf[512], *q;
	ssize_t	n;
	int	fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY)) == -1)
		return '?';
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return '?';
	buf[n] = '\0';
	return (q = strrchr(buf, ')')) != NULL && q[1] == ' ' ? q[2] : '?';
}

/*
 * The daemon opens tables with a lock timeout of 0 (its REPAIR never
 * waits): a holder that died is taken over and its change rolled back
 * all the same, not reported as a live holder (ELOCKED) for ever.
 */
START_TEST(test_dead_holder_timeout_zero)
{
	pid_t	c;

	if ((c = fork()) == 0) {
		take_and_change();
		_exit(0);		/* dies holding it */
	}
	ck_assert_int_eq(waitpid(c, NULL, 0), c);
	ck_assert_uint_eq(*word_at(&s, ENTRIES), 9999);
	s.t.lock_timeout_ms = 0;
	ck_assert_int_eq(tbl_repair(&s.t), 0);
	ck_assert_uint_eq(*word_at(&s, ENTRIES), 0);
	check_ok(&s.t);
}
END_TEST

static void *
holder_thread(void *arg)
{
	(void)arg;
	take_and_change();
	commit_when_told();
	_exit(0);	/* not exit: LeakSanitizer cannot stop a leaderless group */
}

/*
 * A holder whose main thread has exited while another thread holds the
 * lock shows as a zombie in /proc/<pid>/stat: it is alive (other threads
 * run), and its lock is not taken: the locker times out, the holder
 * commits.
 */
START_TEST(test_zombie_leader_holder_lives)
{
	pthread_t	th;
	pid_t		c;

	if ((c = fork()) == 0) {
		if (pthread_create(&th, NULL, holder_thread, NULL) != 0)
			_exit(5);
		pthread_exit(NULL);
	}
	wait_held();
	while (pstate_of(c) != 'Z')
		sched_yield();
	s.t.lock_timeout_ms = 50;
	ck_assert_int_eq(lk_wbegin(&s.t), PROTETS_ELOCKED);
	ck_assert_int_eq(tbl_lock_holder(&s.t), c);
	ck_assert_uint_eq(*word_at(&s, ENTRIES), 9999);	/* not rolled back */
	ck_assert_int_eq(write(go[1], "g", 1), 1);
	ck_assert_int_eq(tu_wait_child(c), 0);
	ck_assert_uint_eq(*word_at(&s, ENTRIES), 9999);	/* its commit */
}
END_TEST

/*
 * A holder that has used up its fds when it first locks: its identity
 * (namespace, start time) was worked out when it was forked, so its
 * death is still found and its change rolled back.
 */
START_TEST(test_holder_out_of_fds)
{
	pid_t	c;

	if ((c = fork()) == 0) {
		while (dup(0) >= 0)
			;
		if (errno != EMFILE)
			_exit(6);
		take_and_change();
		_exit(0);
	}
	ck_assert_int_eq(waitpid(c, NULL, 0), c);
	s.t.lock_timeout_ms = 1000;
	ck_assert_int_eq(tbl_repair(&s.t), 0);
	ck_assert_uint_eq(*word_at(&s, ENTRIES), 0);
}
END_TEST

/*
 * /proc/<pid>/stat's start time counts from boot as the reader's time
 * namespace sees it: a locker in a time namespace with another boot-time
 * offset (CRIU, containers) must still see a live holder alive.  Needs
 * CAP_SYS_ADMIN and a kernel with time namespaces; said and skipped
 * otherwise.
 */
START_TEST(test_other_time_namespace)
{
	pid_t	h, l;
	int	fd, st;

	if ((h = fork()) == 0) {
		take_and_change();
		commit_when_told();
		_exit(0);
	}
	wait_held();
	if ((l = fork()) == 0) {
		if (unshare(CLONE_NEWTIME) == -1)
			_exit(77);
		if ((fd = open("/proc/self/timens_offsets", O_WRONLY)) == -1 ||
		    write(fd, "boottime 1000 0\n", 16) != 16)
			_exit(78);
		close(fd);
		if ((h = fork()) == 0) {	/* in the new time namespace */
			s.t.lock_timeout_ms = 50;
			_exit(lk_wbegin(&s.t) == PROTETS_ELOCKED ? 0 : 1);
		}
		_exit(tu_wait_child(h));
	}
	st = tu_wait_child(l);
	ck_assert_int_eq(write(go[1], "g", 1), 1);
	if (st == 77 || st == 78) {
		fprintf(stderr, "test_other_time_namespace: no time namespace "
		    "here (%s): skipped\n", st == 77 ? "unshare" : "offsets");
		return;
	}
	ck_assert_msg(st == 0, "a live holder was taken over from another "
	    "time namespace");
	ck_assert_uint_eq(*word_at(&s, ENTRIES), 9999);
}
END_TEST

int
main(void)
{
	Suite	*su = suite_create("owner");
	TCase	*tc = tcase_create("owner");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_dead_holder_timeout_zero);
	tcase_add_test(tc, test_zombie_leader_holder_lives);
	tcase_add_test(tc, test_holder_out_of_fds);
	tcase_add_test(tc, test_other_time_namespace);
	suite_add_tcase(su, tc);
	return tu_run(su);
}
