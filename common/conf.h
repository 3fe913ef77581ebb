/*
 * conf.h - protets.conf, read with libinih.
 *
 * The daemon reads all of it; the client library only the socket path,
 * connect_timeout_ms and lock_timeout_ms.
 * Relative paths are taken relative to the directory of the file.  An
 * unknown section or key, or a bad value, is an error naming the line.
 */
#ifndef PROTETS_CONF_H
#define PROTETS_CONF_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CONF_MAX_WORKERS	64
/*
 * How long a client redials a daemon that refuses it (not running yet, or
 * restarting: a restart under systemd takes 300 to 420 ms here) before
 * PROTETS_ECONNECT.
 */
#define CONF_CONNECT_TIMEOUT_MS	5000

struct conf {
	char		path[PATH_MAX];		/* the file read */
	/* [daemon] */
	char		socket[108];		/* sun_path size */
	unsigned	socket_mode;
	char		socket_group[64];	/* "" = the daemon's group */
	char		pidfile[PATH_MAX];
	int		workers;
	int		max_connections;	/* per worker */
	int		max_connections_per_uid;	/* 0: no limit */
	int		restart_burst;		/* restarts per window ... */
	int		restart_window_ms;	/* ... before throttling */
	int		restart_delay_ms;	/* delay while throttled */
	int		handoff_timeout_ms;	/* worker waits for monitor */
	int		connect_timeout_ms;	/* clients: redial this long */
	int		debug;			/* log_level = debug */
	int		fdstore;		/* fdstore = yes: systemd fd store */
	char		state_dir[PATH_MAX];	/* tables saved at stop; "": none */
	int		snapshot_interval;	/* s between snapshots; 0: none */
	/* metrics_listen = ADDRESS:PORT, the HTTP /metrics listener */
	char		metrics_addr[48];	/* IPv4 or IPv6 literal */
	int		metrics_port;		/* 0: none (the default) */
	/* [tables] */
	uint64_t	default_size;		/* quota of a table made with
						   no size; 0: none */
	uint64_t	max_size;		/* the most a table can hold:
						   each segment's reservation */
	int		max_tables;
	int		max_tables_per_uid;	/* 0: no limit */
	uint64_t	max_bytes_per_uid;	/* 0: no limit */
	int		lock_timeout_ms;	/* clients' writers: lock wait */
	int		preallocate;		/* reserve a segment's memory */
};

/*
 * The per-uid limits are on by default ("auto", resolved by conf_load once
 * the file is read): a uid may hold half of the daemon's connections
 * (workers x max_connections), a quarter of its tables (max_tables), and
 * tables holding half of the machine's memory (pages in use, not sizes),
 * or max_size if that is more.  A normal
 * user never meets them; one uid cannot take the daemon from the others.
 * 0 turns a limit off.  Root is never limited.
 */
#define CONF_AUTO	(-1)

/* Bounds of max_size: one shard's minimum, and the engine's offsets. */
#define CONF_MIN_SIZE	(64ull << 10)
#define CONF_MAX_SIZE	(1ull << 40)

/*
 * Seconds between snapshots of the tables to state_dir: what a power loss
 * or a kill of the whole service without systemd may cost at most.  Five
 * minutes, Redis's middle "save 300" point: a table of a million entries
 * (about 40 MB of file) written every 5 minutes is 0.13 MB/s of disk on
 * average, and a table that did not change is not written again.
 */
#define CONF_SNAPSHOT_INTERVAL	300

/* Fill c with the built-in defaults (the per-uid limits CONF_AUTO). */
void	conf_defaults(struct conf *c);

/*
 * Read path into c (defaults first).  Returns 0, or -1 with a message
 * ("file:line: ...") in err.
 */
int	conf_load(struct conf *c, const char *path, char *err, size_t errsz);
/*
 * The same for a client: only socket, connect_timeout_ms and
 * lock_timeout_ms are read (and checked); other lines are ignored.
 */
int	conf_load_client(struct conf *c, const char *path, char *err,
	    size_t errsz);

/* Parse a whole decimal int in [min, max] into *out.  0 or -1. */
int	conf_int(const char *s, long min, long max, int *out);

/* Parse "64M", "1G", "4096" (K, M, G, T: powers of 1024).  0 or -1. */
int	conf_parse_size(const char *s, uint64_t *out);

#endif
