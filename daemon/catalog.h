/*
 * catalog.h - the daemon's registry of tables, in its own segment.
 *
 * The catalog (name -> id, type, access, owner uid, owning worker slot,
 * options) lives in a memfd created by the supervisor and mapped, through
 * fork, by every daemon process, so it survives the death of any one of
 * them.  Clients never see it.  Entries change state by single atomic
 * stores (FREE -> CREATING -> READY -> FREE), fields being filled before
 * the state that publishes them, so a process killed while holding the
 * catalog lock leaves nothing to repair: the next locker only marks the
 * robust mutex consistent.
 */
#ifndef PROTETS_CATALOG_H
#define PROTETS_CATALOG_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "conf.h"
#include "protets.h"

#define CAT_MAGIC	0x3154414353544550ull	/* "PETSCAT1" */
#define CAT_VERSION	3	/* 2: flags; 3: quota, used, stats */

enum cat_state {
	CAT_FREE = 0,
	CAT_CREATING = 1,	/* owner is creating the segment */
	CAT_READY = 2
};

struct cat_entry {
	uint32_t	state;		/* enum cat_state, atomic */
	uint32_t	type;
	uint32_t	access;
	uint32_t	owner_uid;
	int32_t		worker;		/* owning slot */
	uint32_t	name_len;
	uint64_t	id;
	uint64_t	created;
	uint64_t	size;		/* its segment's bytes: the most it
					   can ever hold */
	uint64_t	quota;		/* bytes it may hold, 0: all of its
					   segment (tbl_set_quota) */
	uint64_t	used;		/* atomic: bytes of memory its pages
					   hold, as its worker last saw
					   (max_bytes_per_uid) */
	uint32_t	flags;		/* CAT_VOLATILE */
	uint32_t	pad;
	char		name[PROTETS_NAME_MAX + 1];
};

/* cat_entry.flags: never saved to the state directory (PROTETS_VOLATILE). */
#define CAT_VOLATILE	0x1

struct cat_proc {
	int32_t		pid;		/* atomic; 0 when not running */
	uint32_t	count;		/* tables (worker) or segments (monitor) */
};

/* Connections of one uid held by one worker; written by that worker only. */
#define CAT_UID_SLOTS	64
struct cat_uidconn {
	uint32_t	uid;		/* atomic */
	uint32_t	count;		/* atomic; 0: slot free */
};

/*
 * The daemon's counts (protets_daemon_stats in protets.h), each added to
 * with a relaxed atomic add by the process that sees the event: the
 * supervisor (restarts, snapshots), the monitor (handoffs), the workers
 * (connections, requests answered, errors answered, tables saved by a
 * snapshot).  They only go up, and live as long as the catalog: across
 * the death of any process, not across a restart of the service.
 */
#define CAT_STAT_REQS	PROTETS_STATS_REQUESTS	/* by op; 0: unknown */
#define CAT_STAT_ERRS	PROTETS_STATS_ERRORS	/* by PROTETS_ERRMAX - code;
						   the last: an errno */
struct cat_stats {
	uint64_t	worker_restarts;
	uint64_t	monitor_restarts;
	uint64_t	handoffs;	/* a dead worker's segments handed on */
	uint64_t	handoff_segments;
	uint64_t	connections;	/* accepted */
	uint64_t	snapshots;	/* begun */
	uint64_t	snapshot_saved;	/* tables written by snapshots */
	uint64_t	snapshot_failed;	/* tables a snapshot could not save */
	uint64_t	snapshot_last_ms;	/* the last one's duration */
	uint64_t	snapshot_last_time;	/* its end, unix ms; 0: none */
	/* (the wire's uptime goes here: DSTATS, proto.c) */
	uint64_t	requests[CAT_STAT_REQS];
	uint64_t	errors[CAT_STAT_ERRS];
};

struct cat_hdr {
	uint64_t	magic;
	uint32_t	version;
	uint32_t	nentries;
	uint32_t	nworkers;
	uint32_t	stopping;	/* atomic; the supervisor is stopping */
	uint64_t	next_id;	/* under lock */
	struct cat_proc	supervisor;
	struct cat_proc	monitor;
	struct cat_proc	workers[CONF_MAX_WORKERS];
	struct cat_uidconn conns[CONF_MAX_WORKERS][CAT_UID_SLOTS];
	struct cat_stats stats;		/* atomic adds, no lock */
	pthread_mutex_t	lock;		/* robust, process-shared */
	struct cat_entry entries[];
};

struct catalog {
	struct cat_hdr	*hdr;
	size_t		 size;
	int		 fd;		/* the supervisor's, and the monitor's
					 * (for a takeover); -1 in workers */
};

/* Create and map a catalog for nentries tables.  0 or -1 with errno. */
int	cat_create(struct catalog *, uint32_t nentries, uint32_t nworkers);
void	cat_destroy(struct catalog *);

/* Lock/unlock; cat_lock never fails for a dead previous holder. */
void	cat_lock(struct catalog *);
void	cat_unlock(struct catalog *);

/* Under the lock. */
struct cat_entry *cat_find(struct catalog *, const char *name);
struct cat_entry *cat_find_id(struct catalog *, uint64_t id);
/* A FREE entry filled from the arguments, still FREE; NULL if full. */
struct cat_entry *cat_alloc(struct catalog *, uint32_t max_tables);
uint32_t cat_state(const struct cat_entry *);
void	cat_set_state(struct cat_entry *, uint32_t);
/* Number of live tables owned by slot. */
uint32_t cat_count_slot(struct catalog *, int slot);
uint32_t cat_count_uid(struct catalog *, uint32_t uid);
/* Memory the live tables uid owns hold (cat_entry.used, as last seen). */
uint64_t cat_bytes_uid(struct catalog *, uint32_t uid);
/* Slot owning the fewest tables. */
int	cat_least_loaded(struct catalog *);

/* Connections per uid, lock-free: each worker slot counts its own. */
uint32_t cat_conn_total(struct catalog *, uint32_t uid);
/* Add delta (+1/-1) to slot's count for uid; -1 if the row is full. */
int	cat_conn_add(struct catalog *, int slot, uint32_t uid, int delta);
/* Forget a slot's counts (its worker was replaced: its clients are gone). */
void	cat_conn_reset(struct catalog *, int slot);

/* A daemon count (a field of cat_stats) goes up by n. */
#define CAT_STAT_ADD(cat, field, n)					\
	((void)__atomic_fetch_add(&(cat)->hdr->stats.field, (uint64_t)(n),	\
	    __ATOMIC_RELAXED))
/* A reply answered to request op with status (0, protets code, errno). */
void	cat_stat_reply(struct catalog *, unsigned op, int32_t status);

/* Process table, lock-free (atomic). */
void	cat_set_proc(struct cat_proc *, pid_t pid, uint32_t count);
pid_t	cat_proc_pid(const struct cat_proc *);
uint32_t cat_proc_count(const struct cat_proc *);

#endif
