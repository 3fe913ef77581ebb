/*
 * cli_top.c - protets top: a live view of the daemon and its tables, in a
 * plain terminal (ANSI escapes only: clear, home, erase to end of line),
 * redrawn once a second, quit with q.
 *
 * Each refresh asks the daemon for its counts (DSTATS), its processes
 * (PROCS), the tables (LIST) and each table's counts (STATS), and shows
 * the tables busiest first: operations per second since the last refresh
 * (the library's counts, folded every 256 operations of a thread, so a
 * slow writer shows in steps), lookups' hit ratio, entries, bytes, lock
 * waits and time-outs, recoveries; the most recent recoveries last.  It
 * fits the terminal (TIOCGWINSZ; 80x24 when it cannot tell), never
 * printing past a line's end.  -n N: N refreshes and exit (also without a
 * terminal).
 *
 * The terminal is put in non-canonical mode without echo, and given back
 * as it was on every way out: q, ^D (end of input: the byte 0x04 in this
 * mode), SIGINT, SIGTERM, SIGQUIT, SIGHUP, and a standard output that
 * fails (SIGPIPE ignored: a reader gone, as `protets top | head`, ends it
 * quietly, another write error with a message).  A signal that comes while
 * top waits for the next refresh ends the loop; one that comes anywhere
 * else (a request to a daemon that does not answer: the library retries
 * a read that a signal interrupts) restores the terminal in the handler
 * and exits there.  SIGTSTP (^Z) restores the terminal and stops; SIGCONT
 * puts it back in top's mode, when top is in the foreground, and redraws.
 * Handlers are installed without SA_RESTART.
 */
#include <sys/ioctl.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_stats.h"
#include "clock.h"
#include "escape.h"

#define TP_NAMEW	18	/* the name column */
#define TP_RECENT	3	/* recoveries listed */

/* A table as last seen, for its rate. */
struct tp_row {
	protets_stats	 s;
	uint64_t	 ops;		/* operations counted so far */
	double		 rate;		/* per second since the last refresh */
};

struct tp {
	protets_t	*p;
	struct tp_row	*rows, *prev;	/* this refresh's, the last one's */
	size_t		 n, nprev, cap, prevcap;
	protets_daemon_stats d, dprev;
	int64_t		 at, prev_at;	/* ms, monotonic */
	int		 cols, lines;
	char		 procs[512];
};

static struct termios	tp_saved, tp_mode;	/* the user's, top's */
static volatile sig_atomic_t tp_raw;	/* the terminal is in tp_mode */
static volatile sig_atomic_t tp_quit, tp_waiting, tp_redraw;

/* The terminal as it was (async-signal-safe; tp_raw left as it is). */
static void
tp_give_back(void)
{
	if (tp_raw)
		(void)tcsetattr(0, TCSAFLUSH, &tp_saved);
}

static void
tp_restore(void)
{
	tp_give_back();
	tp_raw = 0;
}

/* SIGINT, SIGTERM, SIGQUIT, SIGHUP: quit. */
static void
tp_sig(int sig)
{
	(void)sig;
	tp_quit = 1;
	if (!tp_waiting) {	/* perhaps blocked in a request: out now */
		tp_give_back();
		_exit(0);
	}
}

static void
tp_on(int sig, void (*fn)(int))
{
	struct sigaction	sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;	/* no SA_RESTART: poll returns at once */
	(void)sigaction(sig, &sa, NULL);
}

/* SIGTSTP: the terminal as it was, then stop; on, once continued. */
static void
tp_stop(int sig)
{
	sigset_t	set;
	int		e = errno;

	tp_give_back();
	tp_on(sig, SIG_DFL);
	sigemptyset(&set);
	sigaddset(&set, sig);
	(void)sigprocmask(SIG_UNBLOCK, &set, NULL);
	(void)kill(getpid(), sig);	/* stops here until SIGCONT */
	tp_on(sig, tp_stop);
	errno = e;
}

/* SIGCONT: top's mode again, if top is the terminal's foreground. */
static void
tp_cont(int sig)
{
	int	e = errno;

	(void)sig;
	if (tp_raw && tcgetpgrp(0) == getpgrp())
		(void)tcsetattr(0, TCSAFLUSH, &tp_mode);
	tp_redraw = 1;
	errno = e;
}

static void
tp_signals(void)
{
	static const int	quit[] = { SIGINT, SIGTERM, SIGQUIT, SIGHUP };
	size_t			i;

	for (i = 0; i < sizeof(quit) / sizeof(quit[0]); i++)
		tp_on(quit[i], tp_sig);
	tp_on(SIGPIPE, SIG_IGN);
	tp_on(SIGTSTP, tp_stop);
	tp_on(SIGCONT, tp_cont);
}

/* Non-canonical input without echo, when stdin is a terminal. */
static void
tp_term(void)
{
	if (!isatty(0) || tcgetattr(0, &tp_saved) == -1)
		return;
	tp_mode = tp_saved;
	tp_mode.c_lflag &= ~(ICANON | ECHO);
	tp_mode.c_cc[VMIN] = 1;
	tp_mode.c_cc[VTIME] = 0;
	if (tcsetattr(0, TCSAFLUSH, &tp_mode) == 0) {
		tp_raw = 1;
		atexit(tp_restore);
	}
}

static void
tp_size(struct tp *tp)
{
	struct winsize	w;

	tp->cols = 80;
	tp->lines = 24;
	if (ioctl(1, TIOCGWINSZ, &w) == 0 && w.ws_col >= 40 &&
	    w.ws_row >= 10) {
		tp->cols = w.ws_col;
		tp->lines = w.ws_row;
	}
}

/* n as at most 5 characters: 999, 12.3k, 1.2M, 12G. */
static const char *
tp_num(double n, char *buf, size_t sz)
{
	static const char	 unit[] = " kMGTP";
	int			 u = 0;

	while (n >= 999.5 && u < 5) {
		n /= 1000;
		u++;
	}
	if (u == 0)
		snprintf(buf, sz, "%.0f", n);
	else
		snprintf(buf, sz, n < 9.95 ? "%.1f%c" : "%.0f%c", n, unit[u]);
	return buf;
}

/* One line, cut at the terminal's width, erased to its end. */
static void __attribute__((format(printf, 2, 3)))
tp_line(const struct tp *tp, const char *fmt, ...)
{
	char	buf[1024];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if ((int)strlen(buf) > tp->cols - 1)
		buf[tp->cols - 1] = '\0';
	printf("%s\033[K\r\n", buf);
}

static int
tp_add(const protets_info *in, void *arg)
{
	struct tp	*tp = arg;
	struct tp_row	*nr;

	if (tp->n == tp->cap) {
		tp->cap = tp->cap ? 2 * tp->cap : 32;
		if ((nr = reallocarray(tp->rows, tp->cap, sizeof(*nr))) ==
		    NULL)
			return ENOMEM;
		tp->rows = nr;
	}
	memset(&tp->rows[tp->n], 0, sizeof(tp->rows[0]));
	tp->rows[tp->n++].s.info = *in;
	return 0;
}

static int
tp_proc(const protets_proc *pr, void *arg)
{
	struct tp	*tp = arg;
	size_t		 len = strlen(tp->procs);

	if (strcmp(pr->role, "worker") == 0)
		snprintf(tp->procs + len, sizeof(tp->procs) - len,
		    " w%d:%d(%u)", (int)pr->slot, (int)pr->pid, pr->tables);
	else
		snprintf(tp->procs + len, sizeof(tp->procs) - len, " %s:%d",
		    strcmp(pr->role, "monitor") == 0 ? "mon" : "sup",
		    (int)pr->pid);
	return 0;
}

static int
tp_busier(const void *a, const void *b)
{
	const struct tp_row	*x = a, *y = b;

	if (x->rate != y->rate)
		return x->rate < y->rate ? 1 : -1;
	return strcmp(x->s.info.name, y->s.info.name);
}

/* This table's count the refresh before, by id; 0 if new. */
static uint64_t
tp_before(const struct tp *tp, uint64_t id)
{
	size_t	i;

	for (i = 0; i < tp->nprev; i++)
		if (tp->prev[i].s.info.id == id)
			return tp->prev[i].ops;
	return 0;
}

static int
tp_fetch(struct tp *tp)
{
	char	 name[PROTETS_NAME_MAX + 1];
	double	 dt;
	size_t	 i, j;
	int	 rc;

	tp->procs[0] = '\0';
	tp->n = 0;
	if ((rc = protets_daemon_stats_get(tp->p, &tp->d)) != 0 ||
	    (rc = protets_procs(tp->p, tp_proc, tp)) != 0 ||
	    (rc = protets_list(tp->p, tp_add, tp)) != 0)
		return rc;
	tp->at = clk_now_ms();
	dt = tp->prev_at ? (double)(tp->at - tp->prev_at) / 1000 : 0;
	for (i = j = 0; i < tp->n; i++) {
		memcpy(name, tp->rows[i].s.info.name, sizeof(name));
		rc = protets_stats_get(tp->p, name, &tp->rows[j].s);
		if (rc == PROTETS_NOTFOUND || rc == PROTETS_EACCES)
			continue;	/* dropped, or made private */
		if (rc != 0)
			return rc;
		tp->rows[j].ops = tp->rows[j].s.inserts +
		    tp->rows[j].s.deletes + tp->rows[j].s.lookup_hits +
		    tp->rows[j].s.lookup_misses + tp->rows[j].s.counter_updates;
		tp->rows[j].rate = dt > 0 && tp->rows[j].ops >=
		    tp_before(tp, tp->rows[j].s.info.id) ? (double)
		    (tp->rows[j].ops - tp_before(tp, tp->rows[j].s.info.id)) /
		    dt : 0;
		j++;
	}
	if ((tp->n = j) > 0)	/* rows NULL: no table seen yet */
		qsort(tp->rows, tp->n, sizeof(tp->rows[0]), tp_busier);
	return 0;
}

static void
tp_header(const struct tp *tp)
{
	const protets_daemon_stats	*d = &tp->d;
	char				 t[16], a[8], b[8];
	time_t				 now = time(NULL);
	struct tm			 tm;
	uint64_t			 up = d->uptime_ms / 1000, errs = 0;
	double				 dt, reqs = 0;
	int				 i;

	if (localtime_r(&now, &tm) == NULL ||
	    strftime(t, sizeof(t), "%H:%M:%S", &tm) == 0)
		strlcpy(t, "?", sizeof(t));
	for (i = 0; i < PROTETS_STATS_ERRORS; i++)
		errs += d->errors[i];
	dt = tp->prev_at ? (double)(tp->at - tp->prev_at) / 1000 : 0;
	for (i = 0; dt > 0 && i < PROTETS_STATS_REQUESTS; i++)
		reqs += (double)(d->requests[i] - tp->dprev.requests[i]);
	tp_line(tp, "protets top - %s  up %llud%02lluh%02llum  %zu tables  "
	    "q: quit", t, (unsigned long long)(up / 86400),
	    (unsigned long long)(up / 3600 % 24),
	    (unsigned long long)(up / 60 % 60), tp->n);
	tp_line(tp, "restarts: workers %llu monitor %llu  handoffs %llu  "
	    "conns %s  req/s %s  errors %llu",
	    (unsigned long long)d->worker_restarts,
	    (unsigned long long)d->monitor_restarts,
	    (unsigned long long)d->handoffs,
	    tp_num((double)d->connections, a, sizeof(a)),
	    tp_num(dt > 0 ? reqs / dt : 0, b, sizeof(b)),
	    (unsigned long long)errs);
	tp_line(tp, "procs:%s", tp->procs);
	tp_line(tp, "snapshots %llu (%llu tables failed), the last %llu ms",
	    (unsigned long long)d->snapshots,
	    (unsigned long long)d->snapshot_failed,
	    (unsigned long long)d->snapshot_last_ms);
	tp_line(tp, "%s", "");
	tp_line(tp, "%-*s %5s %4s %5s %5s %5s %5s %5s %4s", TP_NAMEW, "TABLE",
	    "OPS/S", "HIT%", "ENTR", "USED", "SIZE", "WAITS", "TMOUT",
	    "RECV");
}

static void
tp_table(const struct tp *tp, const struct tp_row *r)
{
	char		 nb[4 * PROTETS_NAME_MAX + 1], hit[8];
	char		 a[8], b[8], c[8], d[8], e[8], f[8];
	uint64_t	 looks = r->s.lookup_hits + r->s.lookup_misses;

	if (looks > 0)
		snprintf(hit, sizeof(hit), "%.0f", 100.0 *
		    (double)r->s.lookup_hits / (double)looks);
	else
		strlcpy(hit, "-", sizeof(hit));
	tp_line(tp, "%-*.*s %5s %4s %5s %5s %5s %5s %5s %4llu", TP_NAMEW,
	    TP_NAMEW, escape_line(r->s.info.name, nb, sizeof(nb)),
	    tp_num(r->rate, a, sizeof(a)), hit,
	    tp_num((double)r->s.info.entries, b, sizeof(b)),
	    tp_num((double)r->s.info.bytes_used, c, sizeof(c)),
	    tp_num((double)r->s.info.bytes_size, d, sizeof(d)),
	    tp_num((double)r->s.lock_waits, e, sizeof(e)),
	    tp_num((double)r->s.lock_timeouts, f, sizeof(f)),
	    (unsigned long long)r->s.recoveries);
}

/* The most recent recoveries of any table, newest first. */
static void
tp_recoveries(const struct tp *tp, int room)
{
	const struct tp_row	*best;
	char			 nb[4 * PROTETS_NAME_MAX + 1], t[16];
	uint64_t		 below = UINT64_MAX;
	struct tm		 tm;
	time_t			 s;
	size_t			 i;
	int			 k;

	tp_line(tp, "recent recoveries (a writer died holding a lock):");
	for (k = 0; k < room; k++) {
		best = NULL;
		for (i = 0; i < tp->n; i++)
			if (tp->rows[i].s.last_recovery_ms != 0 &&
			    tp->rows[i].s.last_recovery_ms < below &&
			    (best == NULL || tp->rows[i].s.last_recovery_ms >
			    best->s.last_recovery_ms))
				best = &tp->rows[i];
		if (best == NULL)
			break;
		below = best->s.last_recovery_ms;
		/* any writer of the segment may have stored any time */
		s = (time_t)(below / 1000);
		if (localtime_r(&s, &tm) == NULL || tm.tm_year > 9999 - 1900 ||
		    strftime(t, sizeof(t), "%H:%M:%S", &tm) == 0)
			strlcpy(t, "?", sizeof(t));
		tp_line(tp, "  %s  pid %d  %s", t,
		    (int)best->s.last_recovery_pid,
		    escape_line(best->s.info.name, nb, sizeof(nb)));
	}
	if (k == 0)
		tp_line(tp, "  none");
}

/* Draw; -1 when standard output failed (errno says why). */
static int
tp_draw(const struct tp *tp)
{
	int	 room, i;

	if (tp_redraw) {	/* continued: the screen is the shell's */
		tp_redraw = 0;
		if (isatty(1))
			printf("\033[2J");
	}
	printf("\033[H");
	tp_header(tp);
	/* 6 lines above, the recoveries' title and lines below */
	room = tp->lines - 6 - 1 - TP_RECENT - 1;
	for (i = 0; i < room; i++) {
		if ((size_t)i < tp->n)
			tp_table(tp, &tp->rows[i]);
		else
			tp_line(tp, "%s", "");
	}
	tp_recoveries(tp, TP_RECENT);
	printf("\033[J");
	return fflush(stdout) == EOF || ferror(stdout) ? -1 : 0;
}

/*
 * Wait for the next refresh (ms), or a redraw after SIGCONT; 1 when q,
 * ^D or the end of input came, or a signal to quit.
 */
static int
tp_wait(int ms)
{
	struct pollfd	 pfd = { .fd = 0, .events = POLLIN };
	int64_t		 until = clk_now_ms() + ms, left;
	ssize_t		 r;
	char		 c;

	tp_waiting = 1;
	while (!tp_quit && !tp_redraw &&
	    (left = until - clk_now_ms()) > 0) {
		if (!tp_raw) {
			poll(NULL, 0, (int)left);
			continue;
		}
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		if ((r = read(0, &c, 1)) == -1 && errno == EINTR)
			continue;
		if (r != 1 || c == 'q' || c == 'Q' || c == 0x04) {
			tp_quit = 1;
			break;
		}
	}
	tp_waiting = 0;
	return tp_quit;
}

void
cli_top_check(int argc, char **argv)
{
	char	*end;
	long	 n;

	if (argc == 1)
		return;
	if (argc == 3 && strcmp(argv[1], "-n") == 0) {
		n = strtol(argv[2], &end, 10);
		if (*argv[2] != '\0' && *end == '\0' && n >= 1 && n <= 1000000)
			return;
		fprintf(stderr, "protets: top -n %s: not a count of "
		    "refreshes, 1 to 1000000 (protets --help for usage)\n",
		    argv[2]);
		exit(2);
	}
	fprintf(stderr, "protets: top takes [-n COUNT] (protets --help for "
	    "usage)\n");
	exit(2);
}

int
cli_top(protets_t *p, int argc, char **argv)
{
	struct tp	 tp;
	struct tp_row	*swap;
	long		 left = argc == 3 ? strtol(argv[2], NULL, 10) : -1;
	int		 rc = 0, werr = 0;

	memset(&tp, 0, sizeof(tp));
	tp.p = p;
	tp_signals();
	tp_term();
	if (isatty(1))
		printf("\033[H\033[2J");
	for (;;) {
		tp_size(&tp);
		if ((rc = tp_fetch(&tp)) != 0)
			break;
		if (tp_draw(&tp) == -1) {
			werr = errno != 0 ? errno : EIO;
			break;
		}
		if (left > 0 && --left == 0)
			break;
		/* this refresh is the next one's "before" */
		swap = tp.prev;
		tp.prev = tp.rows;
		tp.rows = swap;
		tp.nprev = tp.n;
		tp.n = tp.prevcap;
		tp.prevcap = tp.cap;
		tp.cap = tp.n;
		tp.n = 0;
		tp.dprev = tp.d;
		tp.prev_at = tp.at;
		if (tp_wait(1000))
			break;
	}
	tp_restore();
	free(tp.rows);
	free(tp.prev);
	if (werr != 0) {	/* standard output failed: nothing more */
		__fpurge(stdout);
		if (werr == EPIPE)	/* the reader has gone: the end */
			return 0;
		fprintf(stderr, "protets: top: standard output: %s\n",
		    strerror(werr));
		return 5;
	}
	return rc != 0 ? cli_fail("top", rc) : 0;
}
