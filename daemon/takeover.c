/*
 * takeover.c - the monitor becomes protetsd when the supervisor dies.
 *
 * Under systemd a dead supervisor is replaced by systemd, and the tables
 * come back from the service's fd store.  Without systemd nothing would
 * replace it: its workers die with it (PR_SET_PDEATHSIG), and so would
 * every table.  So the monitor, which holds a duplicate of every segment,
 * replaces it itself, s6-style: once the old workers are gone it execs
 * protetsd with the segments laid out exactly as systemd's fd store gives
 * them back (fds 3.., LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES=seg-<id>:...),
 * the catalog last (FDNAME=catalog-<gen>, the generation in systemd's
 * store if there is one: the names and owners, recover.c), and
 * the new instance recovers them through recover.c like any restart.  The
 * process keeps its pid: it is the new supervisor.
 *
 * The supervisor's live upgrade (SIGUSR2, supervisor.c) execs the new
 * binary the same way (takeover_upgrade), with the segments the monitor
 * handed it: the same pid, so systemd's MainPID does not change.
 *
 * fd ownership: the caller (the monitor, or the upgrading supervisor)
 * hands every segment fd over, and the catalog's; they become the new
 * instance's at exec, and nothing else survives the exec but stdin,
 * stdout and stderr.
 */
#include <sys/syscall.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "daemon.h"
#include "log.h"
#include "notify.h"

/* Minimum life of a supervisor before the monitor replaces it. */
#define TAKEOVER_MIN_LIFE_MS	2000
/* How long the old workers get to die of their PDEATHSIG. */
#define TAKEOVER_WAIT_MS	5000

int
takeover_enabled(void)
{
	return !notify_enabled();
}

/*
 * Wait until none of the pidfds is alive, one after the other (a dead
 * one stays readable: polling them all together would spin once the
 * first is); 0, or -1 at the deadline.
 */
static int
takeover_wait(const int *pidfds, int n, int64_t deadline)
{
	struct pollfd	 pfd;
	int64_t		 now;
	int		 i, r;

	for (i = 0; i < n; i++) {
		if (pidfds[i] == -1)
			continue;
		pfd.fd = pidfds[i];
		pfd.events = POLLIN;
		do {
			if ((now = clk_now_ms()) >= deadline)
				return -1;
			r = poll(&pfd, 1, (int)(deadline - now));
		} while (r == 0 || (r == -1 && errno == EINTR));
		if (r == -1)
			return -1;
	}
	return 0;
}

/*
 * Not in a loop if the supervisor keeps dying at once; then the old
 * workers must be gone: they hold the listening socket, and whatever they
 * sent the monitor must be in its channels before it reads them a last
 * time.
 */
void
takeover_prepare(const struct daemon *d, const int *pidfds)
{
	int64_t	 early;
	int	 i, n = d->nworkers;

	early = d->started_ms + TAKEOVER_MIN_LIFE_MS - clk_now_ms();
	if (early > 0)
		usleep((useconds_t)early * 1000);
	if (takeover_wait(pidfds, n, clk_now_ms() + TAKEOVER_WAIT_MS)
	    == 0)
		return;
	log_warnx("takeover: old workers still running; killing them");
	for (i = 0; i < n; i++)
		if (pidfds[i] != -1)
			(void)syscall(SYS_pidfd_send_signal, pidfds[i], SIGKILL,
			    NULL, 0);
	if (takeover_wait(pidfds, n, clk_now_ms() + 1000) == -1)
		fatalx("takeover: old workers would not die");
}

/* Lay the n segment fds out at 3 .. 3 + n - 1, inheritable; close the rest. */
static void
takeover_layout(int *fds, int n)
{
	int	 i;

	/* First above the target range, so that no dup2 hits a source. */
	for (i = 0; i < n; i++)
		if ((fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3 + n)) == -1)
			fatal("takeover: dup");
	for (i = 0; i < n; i++)
		if (dup2(fds[i], 3 + i) == -1)	/* clears FD_CLOEXEC */
			fatal("takeover: dup2");
	closefrom(3 + n);
}

/* LISTEN_FDNAMES: seg-<id> of each fd, colon-separated, then the catalog. */
static char *
takeover_names(const uint64_t *ids, int n, uint64_t gen)
{
	char	*s, *p;
	size_t	 sz = (size_t)n * 26 + 32;
	int	 i;

	if ((s = p = malloc(sz)) == NULL)
		fatal("malloc");
	*p = '\0';
	for (i = 0; i < n; i++)
		p += snprintf(p, sz - (size_t)(p - s), "seg-%" PRIu64 ":",
		    ids[i]);
	snprintf(p, sz - (size_t)(p - s), "catalog-%" PRIu64, gen);
	return s;
}

/* exec path as protetsd with fds and the catalog laid out as a store's. */
static void __attribute__((noreturn))
takeover_exec_as(const struct daemon *d, const char *path,
    const uint64_t *ids, int *fds, int n)
{
	char	*argv[5], num[32], *names;
	int	 argc = 0;

	names = takeover_names(ids, n, d->cat_gen);
	fds[n++] = d->cat.fd;
	takeover_layout(fds, n);
	snprintf(num, sizeof(num), "%d", (int)getpid());
	setenv("LISTEN_PID", num, 1);
	snprintf(num, sizeof(num), "%d", n);
	setenv("LISTEN_FDS", num, 1);
	setenv("LISTEN_FDNAMES", names, 1);
	free(names);
	argv[argc++] = "protetsd";
	if (d->conf.debug)
		argv[argc++] = "-d";
	argv[argc++] = "-c";
	argv[argc++] = (char *)d->confpath;
	argv[argc] = NULL;
	execv(path, argv);
	/* The tables are in our hands alone: never die with them. */
	log_warn("exec %s; this binary again", path);
	unsetenv("PROTETS_UPGRADED");
	execv("/proc/self/exe", argv);
	fatal("exec /proc/self/exe");
}

void
takeover_exec(const struct daemon *d, const uint64_t *ids, int *fds, int n)
{
	char	num[32];

	log_warnx("supervisor died: taking over as protetsd with %d segments",
	    n);
	/* The pidfile names it: dead, whoever has its pid now (main.c). */
	snprintf(num, sizeof(num), "%d",
	    (int)cat_proc_pid(&d->cat.hdr->supervisor));
	setenv("PROTETS_TAKEOVER_FROM", num, 1);
	takeover_exec_as(d, "/proc/self/exe", ids, fds, n);
}

void
takeover_upgrade(const struct daemon *d, const uint64_t *ids, int *fds,
    int n)
{
	log_info("upgrade: exec %s with %d segments", d->exe, n);
	setenv("PROTETS_UPGRADED", "1", 1);
	takeover_exec_as(d, d->exe, ids, fds, n);
}
