/*
 * supervisor.c - the parent process: forks the monitor and the workers,
 * restarts any that dies (throttled), talks to systemd, and never dies
 * because a child failed.
 *
 * Signals arrive through a signalfd; deaths through SIGCHLD and waitpid,
 * never by polling.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "daemon.h"
#include "ev.h"
#include "ipc.h"
#include "log.h"
#include "notify.h"

#define SUP_MONITOR	(-1)		/* slot number of the monitor */
#define SUP_HISTORY	64		/* restart times remembered */

struct child {
	int		 slot;		/* SUP_MONITOR or worker slot */
	pid_t		 pid;		/* 0 while not running */
	int		 fd;		/* our end of the channel, or -1 */
	int		 ready;		/* worker: handoff done, serving */
	int		 timer;		/* pending throttled restart, or -1 */
	int64_t		 died_ms;	/* when it died (monotonic ms) */
	int64_t		 history[SUP_HISTORY];	/* recent start times */
	unsigned	 starts;
};

static struct daemon	*sd;
static struct child	 sup_mon;
static struct child	 sup_wrk[CONF_MAX_WORKERS];
static int		 sup_sigfd = -1;
static int		 sup_wdog = -1;
static int		 sup_quit;
static int		 sup_save_failed;	/* a worker could not save */
static int		 sup_snap = -1;		/* snapshot timer */
static int64_t		 sup_snap_t0;		/* the last one's start */
static int		 sup_upgrade_req;	/* SIGUSR2 seen */
static int		 sup_stop_req;		/* SIGTERM or SIGINT seen */
static uint64_t		 sup_snap_wait;		/* workers saving, a bit each */
static int		 sup_notified_ready;
static pid_t		 sup_mx;		/* the metrics listener, or 0 */
static int		 sup_mx_timer = -1;	/* its restart, pending */
static int64_t		 sup_mx_started;	/* when it was forked */
static int		 sup_mx_delay;		/* ms before the next restart */

static void	sup_spawn(struct child *);
static void	sup_child_msg(int, uint32_t, void *);
static void	sup_snap_done(int);
static void	sup_upgrade(void);
static void	sup_stop_workers(int);

static const char *
sup_name(const struct child *c, char *buf, size_t sz)
{
	if (c->slot == SUP_MONITOR)
		snprintf(buf, sz, "monitor");
	else
		snprintf(buf, sz, "worker %d", c->slot);
	return buf;
}

/* The fds a child keeps; everything else the supervisor holds is closed. */
static int
sup_child_fds(const struct child *c, int chan, int mon, int *keep)
{
	int	 i, n = 0;

	keep[n++] = chan;
	/* The monitor hands the catalog on if it takes over (takeover.c). */
	if (c->slot == SUP_MONITOR) {
		keep[n++] = sd->cat.fd;
		return n;
	}
	keep[n++] = mon;
	keep[n++] = sd->listen_fd;
	keep[n++] = sd->inbox[c->slot][0];
	for (i = 0; i < sd->nworkers; i++)
		keep[n++] = sd->inbox[i][1];
	return n;
}

static void
sup_status(void)
{
	char	 msg[192];
	int	 i, up = 0;

	if (!notify_enabled())
		return;
	for (i = 0; i < sd->nworkers; i++)
		up += sup_wrk[i].ready;
	/* What the fd store gave back at start stays in the status line. */
	snprintf(msg, sizeof(msg), "STATUS=%d/%d workers, monitor %s, "
	    "%u tables, %d tables recovered from %s, %d set aside", up,
	    sd->nworkers, sup_mon.pid ? "up" : "down",
	    cat_proc_count(&sd->cat.hdr->monitor), sd->nrec,
	    sd->rec_from ? sd->rec_from : "nowhere", sd->naside);
	notify_send(msg);
}

/* Fork one child.  In the child, this calls its main and never returns. */
static void
sup_fork(struct child *c)
{
	char		 name[32];
	int		 chan[2], mon[2] = { -1, -1 }, keep[CONF_MAX_WORKERS + 8];
	int		 n;
	pid_t		 pid, self = getpid();

	if (ipc_pair(chan) == -1 ||
	    (c->slot != SUP_MONITOR && ipc_pair(mon) == -1)) {
		log_warn("socketpair for %s", sup_name(c, name, sizeof(name)));
		return;
	}
	if ((pid = fork()) == -1) {
		log_warn("fork %s", sup_name(c, name, sizeof(name)));
		close(chan[0]);
		close(chan[1]);
		if (mon[0] != -1) {
			close(mon[0]);
			close(mon[1]);
		}
		return;
	}
	if (pid == 0) {
		proc_child_init();
		/*
		 * A worker whose supervisor died before the death signal was
		 * set gets none: go now, with the copies of its fds (the
		 * pidfile's lock, the listening socket).  Not the monitor: it
		 * outlives the supervisor to take over.
		 */
		if (c->slot != SUP_MONITOR && getppid() != self)
			_exit(0);
		n = sup_child_fds(c, chan[1], mon[0], keep);
		proc_close_except(keep, n);
		/* A worker keeps the catalog's mapping, not its fd. */
		if (c->slot != SUP_MONITOR)
			sd->cat.fd = -1;
		ev_close();
		if (c->slot == SUP_MONITOR)
			monitor_main(sd, chan[1]);
		worker_main(sd, c->slot, chan[1], mon[0]);
	}
	/* Parent: chan[1] and mon[0] now belong to the child. */
	close(chan[1]);
	c->pid = pid;
	c->fd = chan[0];
	c->ready = 0;
	if (c->starts > 0 && c->slot == SUP_MONITOR)
		CAT_STAT_ADD(&sd->cat, monitor_restarts, 1);
	else if (c->starts > 0)
		CAT_STAT_ADD(&sd->cat, worker_restarts, 1);
	c->history[c->starts++ % SUP_HISTORY] = clk_now_ms();
	if (ev_add(c->fd, EPOLLIN, sup_child_msg, c) == -1)
		log_warn("ev_add");
	if (c->slot == SUP_MONITOR) {
		cat_set_proc(&sd->cat.hdr->monitor, pid, 0);
		return;
	}
	close(mon[0]);
	cat_set_proc(&sd->cat.hdr->workers[c->slot], pid, 0);
	/* Introduce the new worker to the monitor; the monitor's end of the
	 * pair passes to the monitor and our copy is closed. */
	if (sup_mon.fd != -1) {
		struct ipc_worker w = { c->slot, pid, 1 };

		if (ipc_send(sup_mon.fd, IPC_MON_WORKER, 0, &w, sizeof(w),
		    &mon[1], 1, 0) == -1)
			log_warn("introduce worker %d to monitor", c->slot);
	}
	close(mon[1]);
}

/* A new monitor meets every worker already running. */
static void
sup_introduce_workers(void)
{
	int	 i, pair[2];

	for (i = 0; i < sd->nworkers; i++) {
		struct child		*c = &sup_wrk[i];
		struct ipc_worker	 w = { i, c->pid, !c->ready };

		if (c->pid == 0)
			continue;
		if (ipc_pair(pair) == -1) {
			log_warn("socketpair");
			continue;
		}
		if (ipc_send(c->fd, IPC_WRK_MONITOR, 0, NULL, 0, &pair[0], 1,
		    0) == -1)
			log_warn("new monitor channel to worker %d", i);
		if (ipc_send(sup_mon.fd, IPC_MON_WORKER, 0, &w, sizeof(w),
		    &pair[1], 1, 0) == -1)
			log_warn("introduce worker %d to monitor", i);
		close(pair[0]);
		close(pair[1]);
	}
}

static void
sup_spawn(struct child *c)
{
	if (c->timer != -1) {
		ev_del(c->timer);
		close(c->timer);
		c->timer = -1;
	}
	if (sup_quit || c->pid != 0)
		return;
	sup_fork(c);
	if (c->slot == SUP_MONITOR && c->pid != 0)
		sup_introduce_workers();
	sup_status();
}

static void
sup_restart_timer(int fd, uint32_t events, void *arg)
{
	(void)fd;
	(void)events;
	sup_spawn(arg);
}

/*
 * Restart at once unless the child already started restart_burst times
 * within restart_window_ms; then wait restart_delay_ms (no restart storm).
 */
static void
sup_schedule(struct child *c)
{
	const struct conf	*cf = &sd->conf;
	int64_t			 now = clk_now_ms();
	unsigned		 i, recent = 0, n;
	char			 name[32];

	n = c->starts < SUP_HISTORY ? c->starts : SUP_HISTORY;
	for (i = 0; i < n; i++)
		if (now - c->history[i] < cf->restart_window_ms)
			recent++;
	if (recent < (unsigned)cf->restart_burst) {
		sup_spawn(c);
		return;
	}
	log_warnx("%s restarting too often; next try in %d ms",
	    sup_name(c, name, sizeof(name)), cf->restart_delay_ms);
	if ((c->timer = ev_timer_once(cf->restart_delay_ms)) == -1 ||
	    ev_add(c->timer, EPOLLIN, sup_restart_timer, c) == -1) {
		log_warn("restart timer");
		sup_spawn(c);
	}
}

static struct child *
sup_find(pid_t pid)
{
	int	 i;

	if (sup_mon.pid == pid)
		return &sup_mon;
	for (i = 0; i < sd->nworkers; i++)
		if (sup_wrk[i].pid == pid)
			return &sup_wrk[i];
	return NULL;
}

static void
sup_mx_restart(int fd, uint32_t events, void *arg)
{
	(void)events;
	(void)arg;
	ev_del(fd);
	close(fd);
	sup_mx_timer = -1;
	if (!sup_quit && sup_mx == 0) {
		sup_mx = mx_spawn(sd);
		sup_mx_started = clk_now_ms();
	}
}

/*
 * The metrics listener died: started again after restart_delay_ms, twice
 * as long each time it dies within a minute of its start, up to a minute
 * (it cannot listen: its port is taken, the unit gives it no network).
 */
static void
sup_mx_died(int status)
{
	sup_mx = 0;
	if (clk_now_ms() - sup_mx_started >= 60000 || sup_mx_delay == 0)
		sup_mx_delay = sd->conf.restart_delay_ms;
	else if ((sup_mx_delay *= 2) > 60000)
		sup_mx_delay = 60000;
	if (!(WIFSIGNALED(status) && sup_quit))
		log_warnx("metrics listener %s %d", WIFSIGNALED(status) ?
		    "killed by signal" : "exited with status",
		    WIFSIGNALED(status) ? WTERMSIG(status) :
		    WEXITSTATUS(status));
	if (sup_quit || sup_mx_timer != -1)
		return;
	if ((sup_mx_timer = ev_timer_once(sup_mx_delay)) == -1 ||
	    ev_add(sup_mx_timer, EPOLLIN, sup_mx_restart, NULL) == -1)
		log_warn("metrics restart timer");
}

/*
 * Stop the metrics listener and wait for it: SIGKILL, not SIGTERM (it
 * holds nothing; an orderly stop of libmicrohttpd joins a thread that may
 * wait for a request to a slow worker, and the supervisor would wait).
 */
static void
sup_mx_stop(void)
{
	if (sup_mx == 0)
		return;
	kill(sup_mx, SIGKILL);
	while (waitpid(sup_mx, NULL, 0) == -1 && errno == EINTR)
		;
	sup_mx = 0;
}

static void
sup_child_died(pid_t pid, int status)
{
	struct child	*c;
	char		 name[32];

	if (pid == sup_mx && pid != 0) {
		sup_mx_died(status);
		return;
	}
	if ((c = sup_find(pid)) == NULL)
		return;
	sup_name(c, name, sizeof(name));
	if (sup_quit && c->slot != SUP_MONITOR && state_enabled(sd) &&
	    !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
		sup_save_failed = 1;
	if (WIFSIGNALED(status) && sup_quit && WTERMSIG(status) == SIGTERM)
		log_debug("%s (pid %d) stopped", name, (int)pid);
	else if (WIFSIGNALED(status))
		log_warnx("%s (pid %d) killed by signal %d", name, (int)pid,
		    WTERMSIG(status));
	else if (!sup_quit || WEXITSTATUS(status) != 0)
		log_warnx("%s (pid %d) exited with status %d", name, (int)pid,
		    WEXITSTATUS(status));
	c->pid = 0;
	c->ready = 0;
	c->died_ms = clk_now_ms();
	if (c->slot != SUP_MONITOR)
		sup_snap_done(c->slot);
	if (c->fd != -1) {
		ev_del(c->fd);
		close(c->fd);
		c->fd = -1;
	}
	cat_set_proc(c->slot == SUP_MONITOR ? &sd->cat.hdr->monitor :
	    &sd->cat.hdr->workers[c->slot], 0, 0);
	if (!sup_quit)
		sup_schedule(c);
	sup_status();
}

static void
sup_reap(void)
{
	pid_t	 pid;
	int	 status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		sup_child_died(pid, status);
}

static void
sup_all_ready(void)
{
	char	 msg[160];
	int	 i;

	for (i = 0; i < sd->nworkers; i++)
		if (!sup_wrk[i].ready)
			return;
	if (sup_mon.pid == 0 || sup_notified_ready)
		return;
	sup_notified_ready = 1;
	log_info("ready: %d workers, socket %s", sd->nworkers,
	    sd->conf.socket);
	snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%d workers, %u tables, "
	    "%d tables recovered from %s, %d set aside", sd->nworkers,
	    cat_proc_count(&sd->cat.hdr->monitor), sd->nrec,
	    sd->rec_from ? sd->rec_from : "nowhere", sd->naside);
	if (notify_send(msg) == -1)
		log_warn("sd_notify READY");
}

/* A snapshot is done: its duration and end for protets_daemon_stats. */
static void
sup_snap_stat(void)
{
	struct timespec	 ts;
	struct cat_stats *st = &sd->cat.hdr->stats;

	clock_gettime(CLOCK_REALTIME, &ts);
	__atomic_store_n(&st->snapshot_last_ms,
	    (uint64_t)(clk_now_ms() - sup_snap_t0), __ATOMIC_RELAXED);
	__atomic_store_n(&st->snapshot_last_time, (uint64_t)ts.tv_sec * 1000 +
	    (uint64_t)ts.tv_nsec / 1000000, __ATOMIC_RELAXED);
}

/* A worker's part of a snapshot is done (or it died): the catalog last. */
static void
sup_snap_done(int slot)
{
	if (!(sup_snap_wait & (1ULL << slot)))
		return;
	sup_snap_wait &= ~(1ULL << slot);
	if (sup_snap_wait == 0 && !sup_quit) {
		(void)state_save_catalog(sd);
		sup_snap_stat();
	}
}

/* Every snapshot_interval: each worker saves its tables, then the catalog. */
static void
sup_snapshot(int fd, uint32_t events, void *arg)
{
	int	 i;

	(void)events;
	(void)arg;
	ev_timer_ack(fd);
	if (sup_snap_wait != 0 || sup_quit)
		return;		/* the last one is not done */
	CAT_STAT_ADD(&sd->cat, snapshots, 1);
	sup_snap_t0 = clk_now_ms();
	for (i = 0; i < sd->nworkers; i++)
		if (sup_wrk[i].ready && ipc_send(sup_wrk[i].fd,
		    IPC_WRK_SNAPSHOT, 0, NULL, 0, NULL, 0, 0) == 0)
			sup_snap_wait |= 1ULL << i;
	if (sup_snap_wait == 0) {
		(void)state_save_catalog(sd);
		sup_snap_stat();
	}
}

static void
sup_child_msg(int fd, uint32_t events, void *arg)
{
	struct child	*c = arg;
	struct ipc_hdr	 h;
	union {
		struct ipc_ready	r;
		int32_t			slot;
		char			buf[256];
	} m;
	int		 fds[4];
	ssize_t		 n;

	(void)events;
	if ((n = ipc_read(fd, &h, &m, sizeof(m), fds, 4, "channel")) == -1)
		return;
	if (h.type == 0) {
		/* EOF: the child is dying; SIGCHLD will tell. */
		ev_del(fd);
		return;
	}
	fdpass_close_all(fds, (int)h.nfds);
	switch (h.type) {
	case IPC_WRK_READY:
		if (c->slot == SUP_MONITOR || n != sizeof(m.r))
			break;
		c->ready = 1;
		if (c->died_ms)
			log_info("worker %d back with %u tables %lld ms after "
			    "its predecessor died", c->slot, m.r.tables,
			    (long long)(clk_now_ms() - c->died_ms));
		sup_all_ready();
		sup_status();
		break;
	case IPC_WRK_LOST:
		if (c->slot == SUP_MONITOR || n != sizeof(m.r))
			break;
		/*
		 * A worker and the monitor died together: only systemd's fd
		 * store still holds those segments, and it gives them back
		 * only to a new instance of the service.  Fail, so that
		 * systemd restarts us with every table.
		 */
		log_warnx("worker %d: %u tables survive only in systemd's fd "
		    "store; restarting the service to take them back",
		    c->slot, m.r.tables);
		exit(75);
	case IPC_WRK_SNAPSHOT_DONE:
		if (c->slot == SUP_MONITOR || n != sizeof(m.r))
			break;
		if (m.r.tables > 0)
			log_warnx("snapshot: worker %d could not save %u tables "
			    "(above)", c->slot, m.r.tables);
		sup_snap_done(c->slot);
		break;
	case IPC_MON_COLLECTED:
		if (c->slot != SUP_MONITOR || n != sizeof(m.slot))
			break;
		log_info("monitor re-collected worker %d's segments %lld ms "
		    "after the previous monitor died", m.slot,
		    (long long)(clk_now_ms() - c->died_ms));
		break;
	default:
		log_warnx("unexpected message %u", h.type);
	}
}

static void
sup_reload(void)
{
	struct conf	 nc;
	char		 err[512];
	int		 i;

	if (conf_load(&nc, sd->confpath, err, sizeof(err)) == -1) {
		log_warnx("reload: %s; keeping the old configuration", err);
		return;
	}
	if (nc.workers != sd->conf.workers)
		log_warnx("reload: workers cannot change at run time");
	if (strcmp(nc.socket, sd->conf.socket) != 0 ||
	    strcmp(nc.pidfile, sd->conf.pidfile) != 0)
		log_warnx("reload: socket and pidfile cannot change at run "
		    "time");
	sd->conf.socket_mode = nc.socket_mode;
	if (chmod(sd->conf.socket, nc.socket_mode) == -1)
		log_warn("chmod %s", sd->conf.socket);
	sd->conf.restart_burst = nc.restart_burst;
	sd->conf.restart_window_ms = nc.restart_window_ms;
	sd->conf.restart_delay_ms = nc.restart_delay_ms;
	sd->conf.debug = nc.debug;
	log_setdebug(nc.debug);
	/* Workers re-read the file themselves. */
	for (i = 0; i < sd->nworkers; i++)
		if (sup_wrk[i].pid != 0)
			kill(sup_wrk[i].pid, SIGHUP);
	log_info("configuration reloaded");
}

static void
sup_signal(int fd, uint32_t events, void *arg)
{
	struct signalfd_siginfo	 si;

	(void)events;
	(void)arg;
	while (read(fd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			sup_reap();
			break;
		case SIGTERM:
		case SIGINT:
			log_info("signal %d: shutting down", si.ssi_signo);
			sup_quit = sup_stop_req = 1;
			break;
		case SIGHUP:
			sup_reload();
			break;
		case SIGUSR2:
			sup_upgrade_req = 1;	/* out of the event loop */
			break;
		}
	}
}

static void
sup_watchdog(int fd, uint32_t events, void *arg)
{
	(void)events;
	(void)arg;
	ev_timer_ack(fd);
	notify_send("WATCHDOG=1");
}

/*
 * Stop the workers (sup_stop_workers: with a state directory each saves
 * every table first), save the catalog, then stop the monitor (5 s, then
 * SIGKILL).
 */
static void
sup_shutdown(void)
{
	int64_t	 deadline;
	int	 i, saving = state_enabled(sd);

	notify_send("STOPPING=1");
	sup_mx_stop();
	for (i = 0; saving && i < sd->nworkers; i++)
		if (sup_wrk[i].pid == 0 || !sup_wrk[i].ready) {
			log_warnx("stop: worker %d is not serving: its tables "
			    "are not saved (their last snapshot stays)", i);
			sup_save_failed = 1;
		}
	/*
	 * The workers first, then the monitor: a worker that saw the
	 * monitor go would wait for a successor (and say so in the log);
	 * the monitor, told we are stopping, does not report them gone.
	 */
	__atomic_store_n(&sd->cat.hdr->stopping, 1, __ATOMIC_RELAXED);
	sup_stop_workers(saving);
	if (saving && (state_save_catalog(sd) == -1 || sup_save_failed))
		log_warnx("stop: NOT EVERY TABLE WAS SAVED to %s (above): the "
		    "next start loads what was", sd->conf.state_dir);
	for (deadline = clk_now_ms() + 5000; sup_mon.pid &&
	    clk_now_ms() <= deadline; ev_dispatch(100))
		kill(sup_mon.pid, SIGTERM);
	if (sup_mon.pid)
		kill(sup_mon.pid, SIGKILL);
	while (waitpid(-1, NULL, 0) > 0)
		;
}

/* ---------------------------------------------------------------- */
/*
 * Live upgrade (SIGUSR2): exec the binary now at our path in place (the
 * same pid: systemd's MainPID does not change), every table kept.  The new
 * binary is asked first: its check of the configuration (-n) and its
 * segment layout (--layout).  The same layout: the workers stop (clients
 * reconnect; their mappings go on working), the monitor hands every
 * segment to us, and we exec with them as a fd store would hand them
 * (takeover.c).  Another layout: every table is saved to the state
 * directory as at a stop (retired: mappings follow the table into the new
 * segment, client/table.c) and the new binary loads them.  Any refusal
 * leaves the running daemon as it was, and says why.
 */

/*
 * Run the binary at our path with a1.. (10 s at most); its exit status, or
 * -1; out: the first line it printed.
 */
#define SUP_RUN_NEW_MS	10000

static int
sup_run_new(const char *a1, const char *a2, const char *a3, char *out,
    size_t outsz)
{
	struct pollfd	 pfd;
	int64_t		 deadline = clk_now_ms() + SUP_RUN_NEW_MS;
	ssize_t		 n, len = 0;
	pid_t		 pid;
	int		 p[2], st;

	if (pipe2(p, O_CLOEXEC) == -1)
		return -1;
	if ((pid = fork()) == -1) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		dup2(p[1], 1);
		execl(sd->exe, "protetsd", a1, a2, a3, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	pfd.fd = p[0];
	pfd.events = POLLIN;
	while (len < (ssize_t)outsz - 1 && clk_now_ms() < deadline) {
		if (poll(&pfd, 1, (int)(deadline - clk_now_ms())) <= 0)
			continue;
		if ((n = read(p[0], out + len, outsz - 1 - (size_t)len)) == 0)
			break;
		if (n > 0)
			len += n;
		else if (errno != EINTR)
			break;
	}
	out[len] = '\0';
	out[strcspn(out, "\n")] = '\0';
	close(p[0]);
	if (clk_now_ms() >= deadline) {
		log_warnx("upgrade: %s %s did not answer in %d ms", sd->exe, a1,
		    SUP_RUN_NEW_MS);
		kill(pid, SIGKILL);
	}
	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/*
 * SIGTERM the workers and reap them all: within 5 s, then SIGKILL; saving
 * (each saves its tables first, state.c), for as long as that takes
 * (systemd's TimeoutStopSec= bounds it, extended while they save).
 */
static void
sup_stop_workers(int saving)
{
	int64_t	 deadline = clk_now_ms() + 5000, said = clk_now_ms();
	int	 i, left;

	for (;;) {
		left = 0;
		for (i = 0; i < sd->nworkers; i++)
			if (sup_wrk[i].pid)
				left++, kill(sup_wrk[i].pid, SIGTERM);
		if (left == 0)
			return;
		if (saving && clk_now_ms() - said >= 5000) {
			log_info("stop: %d workers still saving", left);
			/* systemd's TimeoutStopSec= waits 15 s more */
			notify_send("EXTEND_TIMEOUT_USEC=15000000");
			said = clk_now_ms();
		}
		if (!saving && clk_now_ms() > deadline) {
			for (i = 0; i < sd->nworkers; i++)
				if (sup_wrk[i].pid)
					kill(sup_wrk[i].pid, SIGKILL);
			deadline = INT64_MAX;
		}
		ev_dispatch(100);
	}
}

/*
 * Every segment the monitor holds, added to *ids and *fds (*n of them,
 * ours; one already there is not taken twice); 0, or -1 (what was taken
 * is kept).
 */
static int
sup_collect(uint64_t **ids, int **fds, int *n)
{
	struct ipc_hdr	 h;
	struct pollfd	 pfd = { sup_mon.fd, POLLIN, 0 };
	uint64_t	 bid[FDPASS_MAX];
	int		 bfd[FDPASS_MAX], cap = *n, i, j, rc = -1;
	ssize_t		 len;

	if (sup_mon.fd == -1)
		return -1;
	ev_del(sup_mon.fd);	/* read here, not by sup_child_msg */
	if (ipc_send(sup_mon.fd, IPC_MON_GIVE, 0, NULL, 0, NULL, 0, 0) == -1)
		goto out;
	for (;;) {
		notify_send("WATCHDOG=1");
		if (poll(&pfd, 1, 10000) != 1)
			goto out;
		len = ipc_recv(sup_mon.fd, &h, bid, sizeof(bid), bfd,
		    FDPASS_MAX);
		if (len == -1 && errno == EAGAIN)
			continue;
		if (len == -1 || h.type == 0)
			goto out;
		if (h.type == IPC_SEG_HANDOFF_DONE) {
			rc = 0;
			goto out;
		}
		if (h.type != IPC_SEG_HANDOFF ||
		    (size_t)len != h.nfds * sizeof(uint64_t)) {
			fdpass_close_all(bfd, (int)h.nfds);
			continue;
		}
		if (*n + (int)h.nfds + 1 > cap) {
			cap = (*n + (int)h.nfds + 1) * 2;
			if ((*ids = reallocarray(*ids, (size_t)cap,
			    sizeof(**ids))) == NULL ||
			    (*fds = reallocarray(*fds, (size_t)cap,
			    sizeof(**fds))) == NULL)
				fatal("reallocarray");
		}
		for (i = 0; i < (int)h.nfds; i++) {
			for (j = 0; j < *n && (*ids)[j] != bid[i]; j++)
				;
			if (j < *n) {
				close(bfd[i]);	/* had it */
				continue;
			}
			(*ids)[*n] = bid[i];
			(*fds)[(*n)++] = bfd[i];
		}
	}
out:
	if (rc == -1)
		log_warn("upgrade: the monitor's segments");
	if (sup_mon.fd != -1 &&
	    ev_add(sup_mon.fd, EPOLLIN, sup_child_msg, &sup_mon) == -1)
		log_warn("ev_add");
	return rc;
}

/* Another layout: out of systemd's store, the old segments (the new
 * instance stores its own under the same names). */
static void
sup_unstore_all(void)
{
	char		 msg[96];
	uint32_t	 i;

	if (!daemon_fdstore(sd))
		return;
	for (i = 0; i < sd->cat.hdr->nentries; i++) {
		const struct cat_entry *e = &sd->cat.hdr->entries[i];

		if (cat_state(e) == CAT_FREE)
			continue;
		snprintf(msg, sizeof(msg), "FDSTOREREMOVE=1\nFDNAME=seg-%llu",
		    (unsigned long long)e->id);
		(void)notify_send(msg);
	}
}

/* How many volatile tables (they never touch the disk). */
static int
sup_volatile_tables(void)
{
	uint32_t	i;
	int		n = 0;

	cat_lock(&sd->cat);
	for (i = 0; i < sd->cat.hdr->nentries; i++)
		if (cat_state(&sd->cat.hdr->entries[i]) != CAT_FREE &&
		    (sd->cat.hdr->entries[i].flags & CAT_VOLATILE))
			n++;
	cat_unlock(&sd->cat);
	return n;
}

/* Whether the binary at our path may take over; *convert: another layout. */
static int
sup_upgrade_ok(int *convert)
{
	char	mine[600], theirs[600], line[512];
	int	i, nv;

	if (sup_run_new("-n", "-c", sd->confpath, line, sizeof(line)) != 0) {
		log_warnx("upgrade refused: %s -n -c %s failed (above); "
		    "running on", sd->exe, sd->confpath);
		return 0;
	}
	daemon_layout(mine, sizeof(mine));
	if (sup_run_new("--layout", NULL, NULL, theirs, sizeof(theirs)) !=
	    0) {
		log_warnx("upgrade refused: %s --layout failed; running on",
		    sd->exe);
		return 0;
	}
	*convert = strcmp(mine, theirs) != 0;
	if (*convert && !state_enabled(sd)) {
		log_warnx("upgrade refused: %s has another table layout, and "
		    "without state_dir the tables cannot go over; running on",
		    sd->exe);
		return 0;
	}
	if (*convert && (nv = sup_volatile_tables()) > 0) {
		log_warnx("upgrade refused: %s has another table layout, the "
		    "tables go over through the disk, and %d volatile tables "
		    "never do; running on", sd->exe, nv);
		return 0;
	}
	for (i = 0; i < sd->nworkers; i++)
		if (!sup_wrk[i].ready || sup_mon.pid == 0) {
			log_warnx("upgrade refused: a child is restarting; "
			    "try again");
			return 0;
		}
	return 1;
}

/* An upgrade that cannot go on: the workers (and the monitor) again. */
static void
sup_upgrade_undo(uint64_t *ids, int *fds, int n, int convert)
{
	int	i;

	log_warnx("upgrade: failed; running on with this binary, every "
	    "table kept");
	for (i = 0; i < n; i++) {
		/* Retired by the workers' save: the live copies again. */
		if (convert && recover_unretire(fds[i], 0) != 0)
			log_warnx("upgrade: segment %llu stays retired",
			    (unsigned long long)ids[i]);
		close(fds[i]);
	}
	free(ids);
	free(fds);
	__atomic_store_n(&sd->cat.hdr->stopping, 0, __ATOMIC_RELAXED);
	sup_upgrade_req = 0;	/* a SIGUSR2 meanwhile: not again at once */
	sup_quit = sup_stop_req;
	if (sup_quit)
		return;
	if (sup_mon.pid == 0)
		sup_spawn(&sup_mon);
	for (i = 0; i < sd->nworkers; i++)
		sup_spawn(&sup_wrk[i]);
}

static void
sup_upgrade(void)
{
	uint64_t	*ids = NULL;
	int		*fds = NULL, n = 0, convert = 0;

	sup_upgrade_req = 0;
	if (!sup_upgrade_ok(&convert))
		return;
	log_info("upgrade to %s: %s", sd->exe, convert ? "another table "
	    "layout: every table through the state directory" : "every "
	    "table kept in memory");
	/*
	 * The segments first, while the workers serve: a monitor that died
	 * while they stop would take them with it.  What the workers create
	 * meanwhile comes with the second collection.
	 */
	if (sup_collect(&ids, &fds, &n) == -1) {
		sup_upgrade_undo(ids, fds, n, 0);
		return;
	}
	sup_quit = 1;		/* no child restarted meanwhile */
	if (convert) {
		__atomic_store_n(&sd->cat.hdr->stopping, 1, __ATOMIC_RELAXED);
		sup_save_failed = 0;
		sup_stop_workers(1);
		if (sup_save_failed || state_save_catalog(sd) == -1) {
			(void)sup_collect(&ids, &fds, &n);
			sup_upgrade_undo(ids, fds, n, 1);
			return;
		}
		sup_unstore_all();
		/* The new binary loads the state directory, not these. */
		while (n > 0)
			close(fds[--n]);
	} else {
		sup_stop_workers(0);
		if (sup_collect(&ids, &fds, &n) == -1)
			log_warnx("upgrade: a segment created in the last "
			    "moments may be missing");
	}
	if (sup_mon.pid > 0) {
		kill(sup_mon.pid, SIGTERM);
		while (waitpid(sup_mon.pid, NULL, 0) == -1 && errno == EINTR)
			;
	}
	/* A stop asked for meanwhile: pending (blocked) across the exec. */
	if (sup_stop_req)
		kill(getpid(), SIGTERM);
	if (fds == NULL && (fds = calloc(1, sizeof(*fds))) == NULL)
		fatal("calloc");
	sup_mx_stop();		/* the new binary listens again */
	takeover_upgrade(sd, ids, fds, n);
}

static int
sup_signals(void)
{
	sigset_t	 mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGUSR2);
	/* A monitor that took over left us its SIG_IGNs (proc.c): an ignored
	 * signal never reaches the signalfd. */
	signal(SIGINT, SIG_DFL);
	signal(SIGUSR2, SIG_DFL);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) == -1)
		return -1;
	signal(SIGPIPE, SIG_IGN);
	sup_sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sup_sigfd == -1)
		return -1;
	return ev_add(sup_sigfd, EPOLLIN, sup_signal, NULL);
}

/*
 * Give the monitor the segments systemd's fd store gave back, before any
 * worker is introduced to it (same channel, so they arrive first); the
 * workers then take them over through the ordinary handoff.
 */
static void
sup_adopt(void)
{
	struct ipc_adopt	 a[FDPASS_MAX];
	int			 fds[FDPASS_MAX], i, n = 0;

	for (i = 0; i < sd->nrec; i++) {
		a[n].id = sd->rec[i].id;
		a[n].slot = sd->rec[i].slot;
		a[n].pad = 0;
		fds[n++] = sd->rec[i].fd;
		if (n == FDPASS_MAX || i == sd->nrec - 1) {
			if (ipc_send(sup_mon.fd, IPC_MON_ADOPT, 0, a,
			    sizeof(a[0]) * (size_t)n, fds, n, 0) == -1)
				log_warn("hand recovered segments to monitor");
			n = 0;
		}
	}
	/* The monitor holds them now (and systemd's store still does). */
	for (i = 0; i < sd->nrec; i++)
		close(sd->rec[i].fd);
}

static void
sup_child_init(struct child *c, int slot)
{
	memset(c, 0, sizeof(*c));
	c->slot = slot;
	c->fd = -1;
	c->timer = -1;
}

int
supervisor_run(struct daemon *d)
{
	uint64_t	 wd;
	int		 i;

	sd = d;
	log_setrole("supervisor");
	proc_title("supervisor");
	if (ev_init() == -1 || sup_signals() == -1)
		fatal("event loop");
	cat_set_proc(&sd->cat.hdr->supervisor, getpid(), 0);
	sup_child_init(&sup_mon, SUP_MONITOR);
	for (i = 0; i < sd->nworkers; i++)
		sup_child_init(&sup_wrk[i], i);
	/* The monitor first, so that workers can hand it segments. */
	sup_spawn(&sup_mon);
	sup_adopt();
	for (i = 0; i < sd->nworkers; i++)
		sup_spawn(&sup_wrk[i]);
	if (sd->conf.metrics_port != 0) {
		sup_mx = mx_spawn(sd);
		sup_mx_started = clk_now_ms();
	}
	if (state_enabled(sd) && sd->conf.snapshot_interval > 0 &&
	    ((sup_snap = ev_timer_every(sd->conf.snapshot_interval * 1000)) ==
	    -1 || ev_add(sup_snap, EPOLLIN, sup_snapshot, NULL) == -1))
		log_warn("snapshot timer");
	if ((wd = notify_watchdog_usec()) > 0) {
		sup_wdog = ev_timer_every((int)(wd / 2000 ? wd / 2000 : 1));
		if (sup_wdog == -1 ||
		    ev_add(sup_wdog, EPOLLIN, sup_watchdog, NULL) == -1)
			log_warn("watchdog timer");
	}
	while (!sup_quit) {
		if (ev_dispatch(-1) == -1)
			fatal("epoll_wait");
		if (sup_upgrade_req && !sup_quit)
			sup_upgrade();
	}
	sup_shutdown();
	return 0;
}
