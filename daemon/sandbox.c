/*
 * sandbox.c - a segment's full check, and a table's repair, in a process
 * of its own.
 *
 * When the service comes back from the fd store, or the monitor takes
 * over from a dead supervisor, every segment is checked end to end
 * (tbl_check) before its table is served again: the walk reads memory
 * that any writer of the table may have written, hostile or not.  A bug
 * in that walk must not take the whole recovery, and every other table,
 * with it: so the check runs in a child forked for the one segment, as
 * OpenBSD's daemons separate their parsers.  The child keeps the
 * segment's fd and the pipe it answers on and nothing else (every other
 * fd closed), gives up root for nobody (65534) when it has it and may
 * (under the shipped unit it runs as protets already), can gain no
 * privilege (no_new_privs), dumps no core, and has a CPU limit; the
 * supervisor waits for its answer at most SBX_CHECK_MS plus
 * SBX_CHECK_MS_PER_GIB per GiB of segment, then kills it.
 *
 * The answer: the check's result and message.  A child that crashes
 * without one (SIGSEGV, SIGBUS, SIGABRT...: the walk went wrong) leaves
 * the segment set aside as damaged; one that runs out of time, or is
 * killed, or could not be made, leaves it kept unchecked, as a held lock
 * does (recover.c): what is read from it later is bounds-checked where it
 * is used.
 *
 * A worker's REPAIR (anyone may send one) runs the same way: the lock
 * taken without waiting and what a dead holder left replayed, in a child
 * that has the one segment, within SBX_REPAIR_MS; a repair that crashes
 * answers PROTETS_ECORRUPT and costs the worker nothing.
 *
 * Fault injection, for the tests only: PROTETS_TEST_CHECK_CRASH=<what>
 * (the fdname of a check, the table's name for a repair) makes the child
 * die of SIGSEGV, PROTETS_TEST_CHECK_HANG=<what> makes it spin until
 * killed, and PROTETS_TEST_CHECK_MS sets the checks' time limit.
 *
 * fd ownership: fd stays the caller's; the child's copy dies with it.
 */
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "daemon.h"
#include "log.h"
#include "segment.h"
#include "table.h"

#define SBX_CHECK_MS		30000
#define SBX_CHECK_MS_PER_GIB	30000
#define SBX_REPAIR_MS		2000
#define SBX_UID			65534	/* nobody */

struct sbx_answer {
	int	rc;
	int	locked;			/* not checked: its lock is held */
	char	msg[256];
};

/* Close fds [from, to] (close_range, else one by one up to the limit). */
static void
sbx_close(unsigned from, unsigned to)
{
	struct rlimit	rl;
	unsigned	fd;

	if (from > to || syscall(SYS_close_range, from, to, 0U) == 0)
		return;
	/* ENOSYS (before 5.9), or EPERM from a seccomp filter */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < to)
		to = rl.rlim_cur > (1U << 20) ? 1U << 20 : (unsigned)rl.rlim_cur;
	for (fd = from; fd <= to && fd < (1U << 20); fd++)
		(void)close((int)fd);
}

/* Close every fd but a and b (and 0-2). */
static void
sbx_close_others(int a, int b)
{
	unsigned	lo = (unsigned)(a < b ? a : b), hi = (unsigned)(a < b ?
			    b : a);

	if (lo > 3)
		sbx_close(3, lo - 1);
	sbx_close(lo + 1, hi - 1);
	sbx_close(hi + 1, ~0U);
}

static int
sbx_injected(const char *var, const char *fdname)
{
	const char	*v = getenv(var);

	return v != NULL && strcmp(v, fdname) == 0;
}

/* The child: confine itself, check or repair, answer on out, exit. */
static void __attribute__((noreturn))
sbx_child(int fd, int out, const char *fdname, int repair, uint64_t cpu_s,
    pid_t parent)
{
	struct rlimit		 rl = { (rlim_t)cpu_s, (rlim_t)cpu_s + 1 };
	struct sbx_answer	 a;
	struct tbl		 t;
	void			*base;
	size_t			 len;

	memset(&a, 0, sizeof(a));
	/* not a minute past a parent killed meanwhile */
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
	sbx_close_others(fd, out);
	(void)prctl(PR_SET_DUMPABLE, 0);
	(void)setrlimit(RLIMIT_CPU, &rl);
	if (seg_map(fd, 1, &base, &len) == -1)
		_exit(1);
	/*
	 * Best effort: root without CAP_SETUID (a container's) checks as
	 * root rather than not at all, which would set the table aside.
	 */
	if (geteuid() == 0 && setgroups(0, NULL) == 0 && setgid(SBX_UID) == 0)
		(void)setuid(SBX_UID);
	(void)prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	if (sbx_injected("PROTETS_TEST_CHECK_CRASH", fdname)) {
		/*
		 * The kernel's SIGSEGV, not a sanitizer's handler: ASan's
		 * report (symbolising the stack) can outlast the repair's 2 s
		 * on a loaded machine, which made the test see "retry".
		 */
		(void)signal(SIGSEGV, SIG_DFL);
		raise(SIGSEGV);
	}
	while (sbx_injected("PROTETS_TEST_CHECK_HANG", fdname))
		;
	if ((a.rc = tbl_open(&t, base, len, 1)) == 0 && repair) {
		t.lock_timeout_ms = 0;	/* the worker never waits for it */
		a.rc = tbl_repair(&t);
	} else if (a.rc == 0) {
		t.lock_timeout_ms = REC_LOCK_WAIT_MS;
		t.retired_ok = 1;	/* recover_unretire, once it is kept */
		a.rc = tbl_check(&t, a.msg, sizeof(a.msg));
		if (a.rc == PROTETS_ELOCKED) {
			a.rc = 0;
			a.locked = 1;
		}
	}
	_exit(write(out, &a, sizeof(a)) == (ssize_t)sizeof(a) ? 0 : 1);
}

/* Milliseconds left until deadline (clk_now_ms time), 0 if none. */
static int
sbx_left(int64_t deadline)
{
	int64_t	left = deadline - clk_now_ms();

	return left <= 0 ? 0 : left > 60000 ? 60000 : (int)left;
}

/* Read the answer within the time limit: 1 read, 0 none (died), -1 late. */
static int
sbx_wait(int in, int64_t deadline, struct sbx_answer *a)
{
	struct pollfd	pfd = { .fd = in, .events = POLLIN };
	size_t		got = 0;
	ssize_t		n;
	int		left;

	while (got < sizeof(*a)) {
		if ((left = sbx_left(deadline)) == 0)
			return -1;
		if (poll(&pfd, 1, left) == -1) {
			if (errno == EINTR)
				continue;
			return 0;
		}
		if (pfd.revents == 0)
			continue;
		if ((n = read(in, (char *)a + got, sizeof(*a) - got)) <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			return 0;
		}
		got += (size_t)n;
	}
	return 1;
}

/*
 * A signal that says the walk itself went wrong: the segment's damage.
 * Any other death (SIGKILL from the OOM killer or an admin, the CPU
 * limit) says nothing of the segment.
 */
static int
sbx_crash(int sig)
{
	return sig == SIGSEGV || sig == SIGBUS || sig == SIGILL ||
	    sig == SIGFPE || sig == SIGABRT || sig == SIGSYS ||
	    sig == SIGTRAP;
}

/*
 * The check or repair was not done (no child, out of time, the child
 * killed): "not checked: " or "not repaired: " and why, in msg.  A check
 * leaves the table kept unchecked (0); a repair answers rc.
 */
static int __attribute__((format(printf, 5, 6)))
sbx_undone(int repair, int rc, char *msg, size_t msgsz, const char *fmt,
    ...)
{
	va_list	ap;
	int	n;

	n = snprintf(msg, msgsz, "not %s: ", repair ? "repaired" : "checked");
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < msgsz)
		vsnprintf(msg + n, msgsz - (size_t)n, fmt, ap);
	va_end(ap);
	return repair ? rc : 0;
}

static int
sbx_run(int fd, const char *fdname, int repair, uint64_t ms, char *msg,
    size_t msgsz)
{
	struct sbx_answer	a;
	int64_t			deadline;
	pid_t			pid, parent = getpid();
	int			p[2], r, st = 0, e;
	const char		*what = repair ? "repair" : "check";

	msg[0] = '\0';
	if (pipe2(p, O_CLOEXEC) == -1)
		return sbx_undone(repair, errno, msg, msgsz,
		    "no child to do it: %s", strerror(errno));
	if ((pid = fork()) == -1) {
		e = errno;
		close(p[0]);
		close(p[1]);
		return sbx_undone(repair, e, msg, msgsz,
		    "no child to do it: %s", strerror(e));
	}
	if (pid == 0)
		sbx_child(fd, p[1], fdname, repair, ms / 1000 + 1, parent);
	close(p[1]);
	deadline = clk_now_ms() + (int64_t)ms;
	memset(&a, 0, sizeof(a));
	r = sbx_wait(p[0], deadline, &a);
	close(p[0]);
	if (r != 1)
		(void)kill(pid, SIGKILL);
	while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
		;	/* ECHILD (SIGCHLD ignored): st stays 0, "exited 0" */
	if (r == -1)
		return sbx_undone(repair, PROTETS_EAGAIN, msg, msgsz,
		    "its %s took longer than %llu ms", what,
		    (unsigned long long)ms);
	if (r == 0 && WIFSIGNALED(st) && sbx_crash(WTERMSIG(st))) {
		snprintf(msg, msgsz, "its %s died of signal %d", what,
		    WTERMSIG(st));
		return PROTETS_ECORRUPT;
	}
	/* killed (OOM, an admin), out of memory: not damage */
	if (r == 0 && WIFSIGNALED(st))
		return sbx_undone(repair, PROTETS_EAGAIN, msg, msgsz,
		    "its %s was killed (signal %d)", what,
		    WTERMSIG(st));
	if (r == 0)
		return sbx_undone(repair, PROTETS_EAGAIN, msg, msgsz,
		    "its %s exited %d without an answer", what,
		    WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	if (a.locked)
		return sbx_undone(repair, a.rc, msg, msgsz,
		    "its lock is held");
	a.msg[sizeof(a.msg) - 1] = '\0';
	snprintf(msg, msgsz, "%s", a.msg);
	return a.rc;
}

int
sbx_check(int fd, const char *fdname, uint64_t size, char *msg,
    size_t msgsz)
{
	const char	*e = getenv("PROTETS_TEST_CHECK_MS");
	uint64_t	 ms;

	ms = SBX_CHECK_MS + size / (1ULL << 30) * SBX_CHECK_MS_PER_GIB;
	if (e != NULL && *e != '\0')
		ms = strtoull(e, NULL, 10);
	return sbx_run(fd, fdname, 0, ms, msg, msgsz);
}

int
sbx_repair(int fd, const char *name, char *msg, size_t msgsz)
{
	return sbx_run(fd, name, 1, SBX_REPAIR_MS, msg, msgsz);
}
