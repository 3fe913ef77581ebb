/*
 * log.c - see log.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "escape.h"
#include "log.h"

static int	 log_debugging;
static int	 log_quiet;
static char	 log_role[32] = "main";

void
log_init(int debug, const char *role)
{
	log_debugging = debug;
	log_setrole(role);
}

void
log_setrole(const char *role)
{
	strlcpy(log_role, role, sizeof(log_role));
}

void
log_setdebug(int debug)
{
	log_debugging = debug;
}

void
log_setquiet(int quiet)
{
	log_quiet = quiet;
}

static void
log_vwrite(const char *prefix, const char *fmt, va_list ap, int with_errno,
    int saved_errno)
{
	char		 msg[1024], vis[4 * sizeof(msg) + 1];
	const char	*s;
	int		 n;

	if (log_quiet)
		return;
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n < 0)
		return;
	/* A table name or a path with a newline must not forge a line. */
	if ((s = escape_line(msg, vis, sizeof(vis))) != msg)
		strlcpy(msg, s, sizeof(msg));
	/* One write per line, so that lines of processes do not mix. */
	if (with_errno)
		dprintf(STDERR_FILENO, "protetsd[%d]: %s: %s%s: %s\n",
		    (int)getpid(), log_role, prefix, msg,
		    strerror(saved_errno));
	else
		dprintf(STDERR_FILENO, "protetsd[%d]: %s: %s%s\n",
		    (int)getpid(), log_role, prefix, msg);
}

void
log_warn(const char *fmt, ...)
{
	int	 e = errno;
	va_list	 ap;

	va_start(ap, fmt);
	log_vwrite("", fmt, ap, 1, e);
	va_end(ap);
	errno = e;
}

void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwrite("", fmt, ap, 0, 0);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwrite("", fmt, ap, 0, 0);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	 ap;

	if (!log_debugging)
		return;
	va_start(ap, fmt);
	log_vwrite("debug: ", fmt, ap, 0, 0);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	int	 e = errno;
	va_list	 ap;

	va_start(ap, fmt);
	log_vwrite("fatal: ", fmt, ap, 1, e);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwrite("fatal: ", fmt, ap, 0, 0);
	va_end(ap);
	exit(1);
}
