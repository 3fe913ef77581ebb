/*
 * daemon.h - what the protetsd processes share.
 *
 * Process tree (all forked from the supervisor, none exec'd):
 *
 *   supervisor  owns the listening socket, the catalog, the inboxes, the
 *               pidfile; forks and restarts the others; speaks to systemd.
 *   monitor     holds a duplicate fd of every segment; hands a dead
 *               worker's segments to its replacement.
 *   worker N    owns tables: creates their segments, serves clients.
 *
 * Channels (SOCK_SEQPACKET socketpairs, see ipc.h): supervisor<->monitor,
 * supervisor<->worker, monitor<->worker (made anew for every incarnation
 * of either end), and one inbox per worker slot, made once by the
 * supervisor, through which workers pass client connections to the
 * table's owner.  An inbox outlives the worker reading it, so a connection
 * passed to a dying worker waits for its replacement.
 */
#ifndef PROTETS_DAEMON_H
#define PROTETS_DAEMON_H

#include <sys/types.h>

#include "catalog.h"
#include "conf.h"

struct tbl;
struct tbl_meta;

struct daemon {
	struct conf	 conf;
	char		 confpath[PATH_MAX];
	char		 exe[PATH_MAX];	/* this binary's path, at start */
	int		 listen_fd;	/* supervisor's; workers borrow it */
	struct catalog	 cat;		/* mapped by every process */
	/* inbox[i][0]: read by worker i; inbox[i][1]: written by all */
	int		 inbox[CONF_MAX_WORKERS][2];
	int		 nworkers;
	/* Segments systemd's fd store gave back at start (recover.c). */
	struct recovered *rec;
	int		 nrec;
	int		 naside;	/* failed validation: kept, not served */
	const char	*rec_from;	/* where rec came from, for the log */
	/*
	 * The catalogs the store gave back (FDNAME=catalog-<gen>): the new
	 * one is stored as the next generation before they are removed.
	 */
	uint64_t	 cat_gen;	/* the newest seen; then the one stored */
	uint64_t	 cat_old[4];
	int		 ncat_old;
	int64_t		 started_ms;	/* CLOCK_MONOTONIC, when main began */
};

struct recovered {
	uint64_t	 id;
	int		 fd;		/* the supervisor's until sent */
	int		 slot;
};

/*
 * How long recovery waits for a table's lock before it keeps the table
 * unchecked (recover.c, sandbox.c).
 */
#define REC_LOCK_WAIT_MS	100

/*
 * sandbox.c: tbl_check of segment fd (fdname names it in the log, size
 * the bytes it holds: the time limit grows with it) in a confined child
 * of its own, within a time limit.
 * Returns the check's result (0: whole, msg empty, or msg "not checked:
 * ..." when it could not be made: the lock held, out of time, no child),
 * or PROTETS_ECORRUPT when the child crashed.  msg says why.
 */
int	sbx_check(int fd, const char *fdname, uint64_t size, char *msg,
	    size_t msgsz);
/*
 * The same for a REPAIR of table name's segment fd (tbl_repair, its locks
 * tried without waiting): its result, PROTETS_ECORRUPT when the child
 * crashed, PROTETS_EAGAIN when it ran out of time or was killed, or an
 * errno (no child); msg says why.
 */
int	sbx_repair(int fd, const char *name, char *msg, size_t msgsz);

/* recover.c: rebuild the catalog from the fds systemd passed us. */
void	recover_fdstore(struct daemon *);
/*
 * Under the catalog lock: a new READY entry for table m (its segment fd,
 * size bytes), handed to a worker slot once the monitor runs.  0,
 * PROTETS_EXISTS (name or id taken), PROTETS_ELIMIT (catalog full).
 */
int	recover_add(struct daemon *, const struct tbl_meta *, uint64_t size,
	    int fd);
/*
 * The segment fd retired by an orderly stop made the table's live copy
 * again (retire: retired again); 0 or a protets error (PROTETS_ELOCKED: a
 * stalled process holds its lock).
 */
int	recover_unretire(int fd, int retire);
/* Put the catalog in systemd's fd store, in place of the old one. */
void	recover_store_catalog(struct daemon *);
/* 1 when segments go to systemd's fd store (fdstore = yes, under systemd). */
int	daemon_fdstore(const struct daemon *);

/*
 * state.c: the state directory (protets.conf state_dir).  state_load, at
 * start, when the fd store gave nothing: the saved tables into rec.  At a
 * stop, each worker: state_save_table (retire, then save) for each of its
 * tables; then the supervisor: state_save_catalog.  A snapshot: the same
 * without retire, a table written again only if its file would change
 * (sum: the checksum of its last file, 0: none; updated).  A drop:
 * state_forget_table.  Saves return 0, or an errno / protets error.
 */
int	state_enabled(const struct daemon *);
void	state_load(struct daemon *);
int	state_save_table(const struct daemon *, const struct tbl *,
	    const struct cat_entry *, int retire, uint64_t *sum);
int	state_save_catalog(struct daemon *);
void	state_forget_table(const struct daemon *, uint64_t id);

/*
 * takeover.c: without systemd, the monitor replaces a dead supervisor.
 * takeover_prepare waits for the old workers (pidfds: one per slot, -1 if
 * gone) to be gone; takeover_exec execs protetsd handing it the n segments
 * and the catalog as an fd store would (fds has room for n + 1), and never
 * returns.
 */
int	takeover_enabled(void);
void	takeover_prepare(const struct daemon *, const int *pidfds);
void	takeover_exec(const struct daemon *, const uint64_t *ids, int *fds,
	    int n) __attribute__((noreturn));
/* The same for the supervisor's upgrade: exec d->exe (the binary now at
 * the path this one was started from). */
void	takeover_upgrade(const struct daemon *, const uint64_t *ids, int *fds,
	    int n) __attribute__((noreturn));

/* supervisor.c */
int	supervisor_run(struct daemon *);

/* monitor.c: never returns */
void	monitor_main(struct daemon *, int sup_fd)
	    __attribute__((noreturn));

/* worker.c: never returns; exits WORKER_SAVE_FAILED when a stop could not
 * save every table of the worker's. */
#define WORKER_SAVE_FAILED	3
void	worker_main(struct daemon *, int slot, int sup_fd, int mon_fd)
	    __attribute__((noreturn));

/*
 * metricsd.c: fork the HTTP /metrics listener of metrics_listen, a process
 * of its own; its pid, or 0 (logged).
 */
pid_t	mx_spawn(const struct daemon *);

/* proc.c: process helpers */
/*
 * What an upgrade compares between two binaries (protetsd --layout): the
 * table segments' layout signature and the catalog's version.
 */
void	daemon_layout(char *buf, size_t sz);
/* Close every fd >= 3 but those in keep[0..n-1]. */
void	proc_close_except(const int *keep, int n);
/* Set the process title ("protetsd: ..."). */
void	proc_title(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* In a forked child: default signal dispositions, empty mask, die with
 * the parent. */
void	proc_child_init(void);

#endif
