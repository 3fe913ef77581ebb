/*
 * proc.c - helpers for forked daemon processes.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "table.h"


static int
proc_int_cmp(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

void
proc_close_except(const int *keep, int n)
{
	int	 sorted[CONF_MAX_WORKERS * 2 + 16];
	int	 i, from = 3;

	if (n > (int)(sizeof(sorted) / sizeof(sorted[0])))
		fatalx("proc_close_except: too many fds");
	for (i = 0; i < n; i++)
		sorted[i] = keep[i];
	qsort(sorted, (size_t)n, sizeof(int), proc_int_cmp);
	for (i = 0; i < n; i++) {
		if (sorted[i] < from)
			continue;
		if (sorted[i] > from)
			close_range((unsigned)from, (unsigned)sorted[i] - 1, 0);
		from = sorted[i] + 1;
	}
	closefrom(from);
}

void
proc_title(const char *fmt, ...)
{
	char	 buf[128];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* A leading '-' keeps libbsd from prepending the program name. */
	setproctitle("-protetsd: %s", buf);
}

void
daemon_layout(char *buf, size_t sz)
{
	char	sig[512];

	tbl_signature(sig, sizeof(sig));
	snprintf(buf, sz, "%s catalog=%d", sig, CAT_VERSION);
}

void
proc_child_init(void)
{
	sigset_t	 mask;

	signal(SIGCHLD, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_IGN);	/* ^C is for the supervisor */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGUSR2, SIG_IGN);	/* the supervisor's: an upgrade */
	sigemptyset(&mask);
	sigprocmask(SIG_SETMASK, &mask, NULL);
	/* If the supervisor dies, so do we (no orphans serving stale state). */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
}
