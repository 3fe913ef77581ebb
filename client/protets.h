/*
 * protets.h - the one public header of libprotets.
 *
 * protets keeps ETS-like tables in shared-memory segments held by the
 * protetsd daemon.  A client connects to the daemon, asks for a table by
 * name (protets_get: create or return), and receives the segment, which the
 * library maps into the caller's address space.  From then on every read
 * and write runs in the calling process, at memory speed, with no round
 * trip to the daemon; the mapping keeps working while daemon processes are
 * killed and replaced.
 *
 * Return codes.  Every function that returns int returns:
 *   0 (PROTETS_OK)     on success;
 *   a negative PROTETS_E* code (below) for a protets-level error;
 *   a positive errno value for a system error (ENOMEM, EMFILE, ...).
 * protets_strerror() turns any of them into a message.
 *
 * Threads.  A protets_t connection may be shared by threads: requests on it
 * are serialised.  A protets_table_t may be used by many threads and many
 * processes at once; writers serialise on a lock word in the segment that
 * names the holder's process (a dead holder's is taken over and its
 * half-done write rolled back), readers never take it.
 *
 * The segment layout is described in docs/FORMAT.md and the wire protocol
 * in docs/PROTOCOL.md.
 */
#ifndef PROTETS_H
#define PROTETS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * libprotets.so exports these functions and nothing else (built with
 * -fvisibility=hidden; symbol version PROTETS_0.1, client/libprotets.map).
 */
#pragma GCC visibility push(default)

#define PROTETS_VERSION_MAJOR	0
#define PROTETS_VERSION_MINOR	1

/* Limits. */
#define PROTETS_NAME_MAX	255		/* table name, bytes, no NUL */
#define PROTETS_KEY_MAX		4096		/* key, bytes */
#define PROTETS_VALUE_MAX	(1u << 20)	/* value, bytes (1 MiB) */
#define PROTETS_WRITE_CONCURRENCY_MAX	16	/* protets_opts: shards */
/* How long a write waits for a lock another process holds, by default. */
#define PROTETS_LOCK_TIMEOUT_MS	10000

/* Error codes (negative, in a range that no errno uses). */
#define PROTETS_OK		0
#define PROTETS_NOTFOUND	(-30800)	/* no such key or table */
#define PROTETS_EXISTS		(-30801)	/* key or table already exists */
#define PROTETS_EINVAL		(-30802)	/* invalid argument, name or option */
#define PROTETS_EACCES		(-30803)	/* access mode forbids this */
#define PROTETS_EFULL		(-30804)	/* table has reached its max size */
#define PROTETS_ETOOBIG		(-30805)	/* key or value larger than the limit */
#define PROTETS_ECORRUPT	(-30806)	/* segment failed validation */
#define PROTETS_EFORMAT		(-30807)	/* segment built for another layout */
#define PROTETS_EPROTO		(-30808)	/* malformed or unexpected message */
#define PROTETS_EVERSION	(-30809)	/* peer speaks another protocol version */
#define PROTETS_ECONNECT	(-30810)	/* daemon unreachable */
#define PROTETS_EBUSY		(-30811)	/* table in use by a process */
#define PROTETS_ERANGE		(-30812)	/* caller's buffer too small */
#define PROTETS_ELIMIT		(-30813)	/* a configured limit was reached */
#define PROTETS_EAGAIN		(-30814)	/* transient: retry (e.g. recovery) */
#define PROTETS_EDAEMON		(-30815)	/* daemon-side failure, see its log */
#define PROTETS_ELOCKED		(-30816)	/* write lock held too long by a process */
#define PROTETS_EFILE		(-30817)	/* saved file malformed or corrupt */
#define PROTETS_EMISMATCH	(-30818)	/* table exists with other options */
#define PROTETS_ESTALE		(-30819)	/* the table was retired (daemon stopped) */
#define PROTETS_ERRMIN		(-30819)
#define PROTETS_ERRMAX		(-30800)

/*
 * PROTETS_ESTALE: the table's segment was retired (docs/FORMAT.md, §7): the
 * daemon stopped and saved the table (it comes back at the next start), or
 * an upgrade moved it.  Nothing is written into a retired segment.  An
 * operation that meets it asks the daemon for the table by name
 * (redialling for connect_timeout_ms) and, when the same table (same id)
 * is back, in the same segment (systemctl restart: systemd's fd store kept
 * it) or in a new one (loaded from the state directory), does the
 * operation there and succeeds: the handle follows the table (a fold or
 * select returns PROTETS_EAGAIN: fold again).  It fails with PROTETS_ESTALE
 * when the daemon is not back in time, or the name is no table's or
 * another table's now; then close the handle and get the table again.  A
 * handle keeps the segments it followed from mapped until it is closed.
 */

/* Table types (ETS semantics; keys and values are byte strings). */
typedef enum protets_type {
	PROTETS_SET = 1,		/* one entry per key */
	PROTETS_ORDERED_SET = 2,	/* one entry per key, ordered by key */
	PROTETS_BAG = 3,		/* many entries per key, no two equal */
	PROTETS_DUPLICATE_BAG = 4	/* many entries per key */
	/*
	 * set, bag and duplicate_bag are hash tables; ordered_set has a hash
	 * index for point operations and an ordered index (a skip list) for
	 * walks, which go in key order (bytes in memcmp order, a key before
	 * its extensions).
	 */
} protets_type;

/* Access modes, enforced by the kernel through the fd the daemon hands out. */
typedef enum protets_access {
	PROTETS_PUBLIC = 1,	/* anyone the socket admits reads and writes */
	PROTETS_PROTECTED = 2,	/* owner writes; others get a read-only mapping */
	PROTETS_PRIVATE = 3	/* owner uid (and root) only */
} protets_access;

/*
 * Options for protets_get(); zero fields take the defaults.  Zero the
 * whole struct (= { 0 }, or memset) before setting fields: a field left
 * to chance (flags, say) is read as given.
 */
typedef struct protets_opts {
	protets_type	type;		/* default PROTETS_SET */
	protets_access	access;		/* default PROTETS_PROTECTED, as ETS */
	/*
	 * A quota: the bytes the table may hold (its entries, their index
	 * and the free space between them), which protets_resize changes
	 * online; 0: the daemon's default_size, none unless configured: the
	 * table then grows as entries are written, up to the daemon's
	 * max_size.  Not a reservation: memory is used as entries are.
	 */
	uint64_t	max_size;
	/*
	 * Writers that may write at once: the table is split into this
	 * many shards (a power of two, 2..16, each taking its share of the
	 * quota, at least 36,864 bytes), each with a lock of its own, routed
	 * to by the key's hash.  0 and 1: one lock.  Hash types only (an ordered_set
	 * refuses more than 1 with PROTETS_EINVAL).  Fixed at creation;
	 * when the table exists, anything but 0 must be its own
	 * (PROTETS_EMISMATCH).  Batches over several shards stay
	 * all or nothing; count, foldl and select read the shards one after
	 * another, and first/next walk them in shard order.  On such a
	 * table protets_update_counter usually takes no lock at all.
	 */
	uint32_t	write_concurrency;
	uint32_t	flags;		/* PROTETS_CREATE_ONLY, PROTETS_VOLATILE */
} protets_opts;

/*
 * protets_opts.flags: fail with PROTETS_EXISTS if a table of that name
 * exists, as ets:new fails on an existing named table.
 */
#define PROTETS_CREATE_ONLY	0x1
/*
 * protets_opts.flags, at creation: the table never touches the disk.  The
 * daemon's state directory (protets.conf state_dir) gets neither its
 * snapshots nor its save at a stop, so it does not survive a stop or a
 * reboot; it survives the death of any process, as every table does.  For
 * data that must never be written out.  Ignored for an existing table.
 */
#define PROTETS_VOLATILE	0x2

/* What protets_info() and protets_list() report on a table. */
typedef struct protets_info {
	char		name[PROTETS_NAME_MAX + 1];
	protets_type	type;
	protets_access	access;
	uint32_t	owner_uid;
	int32_t		worker;		/* owning worker slot */
	pid_t		worker_pid;	/* owning worker's pid */
	uint64_t	id;		/* unique table id */
	uint64_t	created;	/* unix time, seconds */
	uint64_t	entries;
	uint64_t	bytes_used;	/* in use: what the quota counts (the
					 * heap and the index, free blocks
					 * inside them too) */
	uint64_t	bytes_size;	/* the most the table can ever hold:
					 * its segment, max_size when made */
	uint32_t	write_concurrency;	/* shards; 1: one lock; 0: not
					 * known (protets_list) */
	uint64_t	bytes_quota;	/* the size it was given, which
					 * protets_resize changes; 0: none */
	uint64_t	bytes_free;	/* what more entries can use: free
					 * blocks, and the room under the
					 * quota (or bytes_size) */
	uint64_t	largest_fit;	/* the largest entry (key + value +
					 * 8 bytes) that fits now, any key */
	uint64_t	bytes_memory;	/* the pages the kernel holds for it
					 * (what max_bytes_per_uid counts) */
} protets_info;

typedef struct protets protets_t;		/* a connection to protetsd */
typedef struct protets_table protets_table_t;	/* a mapped table */

/* Error message for any return code of this library.  Never NULL. */
const char *protets_strerror(int err);

/*
 * The daemon's own words on the last error a call of this thread got from
 * it (e.g. "size 4096 is below the minimum (69632)", "max_bytes_per_uid
 * ... reached for uid 1000"), or, for PROTETS_ECONNECT, the socket
 * ("nothing listening at /run/protets/protets.sock"); "" when there are
 * none.  The calls that talk to the daemon set it (connect, get, open,
 * drop, set_access, resize, info_get, list, procs, load): read it
 * right after one of them failed, before this thread's next such call.
 * Operations on a mapped table touch it only when they fail with
 * PROTETS_EFULL: it then names the table's quota (or what it can ever
 * hold), the bytes in use and the largest entry that fits.  Never NULL.
 */
const char *protets_errmsg(void);

/*
 * Name of a type or access mode ("set", "protected", ...), and back.
 * protets_type_parse/protets_access_parse return 0, or PROTETS_EINVAL for an
 * unknown name.
 */
const char *protets_type_name(protets_type t);
const char *protets_access_name(protets_access a);
int protets_type_parse(const char *s, protets_type *out);
int protets_access_parse(const char *s, protets_access *out);

/*
 * Socket path a client uses when given none: $PROTETS_SOCKET, else the
 * "socket" setting of $PROTETS_CONF or of the configuration file compiled
 * in.  Writes a NUL-terminated path to buf.  Returns 0, PROTETS_ERANGE if
 * buf is too small, or an errno value if the configuration cannot be read.
 */
int protets_default_socket(char *buf, size_t bufsz);

/*
 * Connect to the daemon listening on sockpath (NULL: the default socket).
 * A daemon that is restarting refuses connections (a restart under
 * systemd takes a few hundred milliseconds), so a refused connection, or
 * a socket that is not there yet, is dialled again, 1 to 32 ms apart,
 * for up to $PROTETS_CONNECT_TIMEOUT_MS milliseconds (a decimal number),
 * else the configuration file's connect_timeout_ms, else 5000 (0: once);
 * so is the reconnection of a request whose connection broke (see the
 * request functions): a client rides out a restart.  A
 * request that the daemon could not pass on to the worker owning the
 * table, because that worker is restarting, is asked again up to 6 times
 * over about 60 ms; after that, the request functions below return
 * PROTETS_EAGAIN (nothing was done: try again).
 * Returns 0 and sets *out, PROTETS_ECONNECT if nothing listened there
 * within that time, PROTETS_EINVAL for a path too long, or an errno value.
 */
int protets_connect(const char *sockpath, protets_t **out);

/* Close a connection.  Tables obtained through it stay mapped and usable. */
void protets_disconnect(protets_t *p);

/*
 * Get the table called name (1..PROTETS_NAME_MAX bytes, no control
 * character: none below 0x20, no DEL), creating it
 * with opts (NULL: defaults) if it does not exist, as ets:new/protets:get.
 * An existing table is returned as it is, if the options opts sets (a
 * type, an access mode, a write_concurrency above 0; max_size is not
 * compared) are its own: otherwise PROTETS_EMISMATCH, and
 * protets_errmsg() says what the table is (a caller asking for a private
 * "sessions" must not receive another uid's public one; the owner is not
 * compared: a caller that must own the name creates it, with
 * PROTETS_CREATE_ONLY).  A table whose access its owner changed since
 * (protets_set_access) no longer matches a get naming the old mode.  With
 * PROTETS_CREATE_ONLY in opts->flags, an existing table is PROTETS_EXISTS
 * (and so is one this very call made, if its connection broke and the
 * request was sent again).
 * The table is mapped read-write, or read-only when the caller's uid may
 * only read it.  Returns 0 and sets *out; PROTETS_EINVAL (bad name or
 * options), PROTETS_EMISMATCH, PROTETS_EXISTS, PROTETS_EACCES (private
 * table of another uid), PROTETS_ELIMIT (too many tables, or a per-uid
 * limit), PROTETS_EFORMAT (segment built for another layout),
 * PROTETS_EPROTO, PROTETS_ECONNECT, PROTETS_EDAEMON, or an errno value;
 * protets_errmsg() has the daemon's words on it.
 */
int protets_get(protets_t *p, const char *name, const protets_opts *opts,
    protets_table_t **out);

/*
 * Map the existing table called name; never creates.  Returns as
 * protets_get, and PROTETS_NOTFOUND when there is no such table.
 */
int protets_open(protets_t *p, const char *name, protets_table_t **out);

/*
 * Delete the table called name.  Only its owner uid (or root) may.  Fails
 * with PROTETS_EBUSY while any process (the caller included) holds it open
 * through protets_get/protets_open; PROTETS_NOTFOUND, PROTETS_EACCES,
 * PROTETS_EINVAL, PROTETS_ECONNECT, PROTETS_EPROTO.
 */
int protets_drop(protets_t *p, const char *name);

/*
 * Change the access mode of the table called name.  Only its owner uid (or
 * root) may.  The new mode decides what later protets_get/protets_open
 * calls receive; a process that already holds the table keeps the mapping
 * it has (a mapping cannot be taken back: to be sure no other uid can
 * still write, make the table protected and have its holders close it,
 * or drop it).  Returns 0, PROTETS_NOTFOUND, PROTETS_EACCES (not the
 * owner), PROTETS_EINVAL (bad name or mode), PROTETS_ECONNECT,
 * PROTETS_EPROTO.
 */
int protets_set_access(protets_t *p, const char *name, protets_access access);

/*
 * Set the quota of the table called name (opts.max_size at creation) to
 * size bytes, rounded up to whole pages; 0: none (the table may grow to
 * what it can ever hold, protets_info's bytes_size: the daemon's
 * max_size when it was made).  Only its owner uid (or root) may.  Online:
 * processes holding the table, writing meanwhile, see the new quota at
 * their next allocation; nothing is copied, nothing waits for the table's
 * size.  A quota below what the table holds frees nothing: inserts that
 * need more room fail with PROTETS_EFULL until entries are deleted or it
 * is raised.  A sharded table gives each shard its share.  Returns 0,
 * PROTETS_NOTFOUND, PROTETS_EACCES (not the owner), PROTETS_ELIMIT (above
 * bytes_size), PROTETS_EINVAL (bad name; a size below the minimum, 36,864
 * bytes a shard), PROTETS_ECONNECT, PROTETS_EPROTO; protets_errmsg() says
 * which limit.
 */
int protets_resize(protets_t *p, const char *name, uint64_t size);

/*
 * Describe the table called name.  Returns 0, PROTETS_NOTFOUND,
 * PROTETS_EACCES (a private table of another uid, unless the caller is
 * root), PROTETS_EINVAL, PROTETS_ECONNECT, PROTETS_EPROTO.
 */
int protets_info_get(protets_t *p, const char *name, protets_info *out);

/*
 * The processes that may hold the table called name open: up to max pids
 * into pids, their number into *n; none when nobody holds it.  The daemon
 * names the processes it handed the table to (their connection's
 * SO_PEERCRED) that are alive and, where it may read their /proc/PID,
 * still have the table in an fd or a mapping: one that closed it
 * (protets_close) and lives on is not named then; one the daemon may not
 * look into (another uid, under the shipped unit's ProtectProc=) is named
 * as long as it lives.  Not named: a child forked by a holder, and the
 * holders of a table from before its worker restarted.  *incomplete (may
 * be NULL) is 1 when the daemon forgot some pids (it keeps the last 64
 * per table).  Returns 0, and as protets_info_get.
 */
int protets_holders(protets_t *p, const char *name, pid_t *pids, size_t max,
    size_t *n, int *incomplete);

/*
 * List every table the caller may see (all but other uids' private ones;
 * root sees all): calls fn once per table (entries, bytes_used and
 * write_concurrency left 0: use protets_info_get for them).  Stops early, returning fn's value,
 * if fn returns non-zero.  Returns 0, PROTETS_ECONNECT, PROTETS_EPROTO.
 */
typedef int (*protets_list_fn)(const protets_info *info, void *arg);
int protets_list(protets_t *p, protets_list_fn fn, void *arg);

/*
 * Operation statistics of a table (protets_stats_get), counted since the
 * segment was made (they survive what the segment survives: the death of
 * any process, systemd's fd store, a live upgrade of the same layout; a
 * stop and start through the state directory begins them again).  The
 * library counts the operations of a writable mapping per thread and adds
 * them to the segment every 256 operations of a thread, when the thread
 * ends (returns from its start routine or calls pthread_exit) and at
 * protets_close: a live thread's last operations (fewer than 256 per
 * table handle) are not in the figures yet, and are lost if its process
 * is killed.  A forked child counts only its own operations: what its
 * parent had not added yet is the parent's to add (a child of a raw
 * clone system call, which runs no pthread_atfork handler, adds them
 * again).  Operations through a read-only mapping (a protected table of
 * another uid) are not counted.  Rare events are counted as they happen.
 */
typedef struct protets_stats {
	uint64_t	inserts;	/* entries inserted (a batch: each) */
	uint64_t	deletes;	/* delete, delete_object, take: calls
					 * that succeeded; select_delete: entries */
	uint64_t	lookup_hits;	/* lookup, lookup_each, member: found */
	uint64_t	lookup_misses;	/* ... not found */
	uint64_t	counter_updates;	/* update_counter that succeeded */
	uint64_t	efull;		/* writes answered PROTETS_EFULL */
	uint64_t	lock_waits;	/* writers that found the lock held */
	uint64_t	lock_timeouts;	/* ... and gave up: PROTETS_ELOCKED */
	uint64_t	recoveries;	/* locks taken over from a dead holder */
	uint64_t	rollbacks;	/* ... whose half-done write was undone */
	uint64_t	last_recovery_ms;	/* unix time, ms; 0: none */
	pid_t		last_recovery_pid;	/* its dead holder */
	protets_info	info;		/* as protets_info_get */
} protets_stats;

/*
 * The statistics of table name.  Returns 0, PROTETS_NOTFOUND,
 * PROTETS_EACCES (another uid's private table), and connection errors.
 */
int protets_stats_get(protets_t *p, const char *name, protets_stats *out);

/*
 * The daemon's own counts (protets_daemon_stats_get), since the service
 * started (they survive the death of any of its processes, not a restart
 * of the service).  requests[i] counts the requests of op i answered
 * (docs/PROTOCOL.md: 1 GET, 2 DROP, 3 INFO, 4 LIST, 5 PROCS, 6 REPAIR,
 * 7 SETACCESS, 8 RESIZE, 9 HOLDERS, 10 STATS, 11 DSTATS; 0 unknown ops);
 * errors[i] the answers with error code PROTETS_ERRMAX - i (errors[0]:
 * PROTETS_NOTFOUND), and errors[PROTETS_STATS_ERRORS - 1] those with a
 * system errno.
 */
#define PROTETS_STATS_REQUESTS	16
#define PROTETS_STATS_ERRORS	24
typedef struct protets_daemon_stats {
	uint64_t	worker_restarts;
	uint64_t	monitor_restarts;
	uint64_t	handoffs;	/* a restarted worker given its tables */
	uint64_t	handoff_segments;	/* tables so handed */
	uint64_t	connections;	/* accepted */
	uint64_t	snapshots;	/* begun (snapshot_interval) */
	uint64_t	snapshot_saved;	/* tables written by them */
	uint64_t	snapshot_failed;	/* tables they could not save */
	uint64_t	snapshot_last_ms;	/* the last one's duration */
	uint64_t	snapshot_last_time;	/* its end, unix ms; 0: none */
	uint64_t	uptime_ms;	/* since the service started */
	uint64_t	requests[PROTETS_STATS_REQUESTS];
	uint64_t	errors[PROTETS_STATS_ERRORS];
} protets_daemon_stats;

int protets_daemon_stats_get(protets_t *p, protets_daemon_stats *out);

/* One daemon process, as reported by protets_procs. */
typedef struct protets_proc {
	char	role[16];	/* "supervisor", "monitor" or "worker" */
	int32_t	slot;		/* worker slot, -1 for the others */
	pid_t	pid;
	uint32_t tables;	/* tables (worker) or segments (monitor) held */
} protets_proc;

/*
 * Calls fn for every daemon process.  Returns 0 or fn's non-zero value,
 * PROTETS_ECONNECT, PROTETS_EPROTO.
 */
typedef int (*protets_procs_fn)(const protets_proc *proc, void *arg);
int protets_procs(protets_t *p, protets_procs_fn fn, void *arg);

/*
 * Unmap a table and close its fd.  The table itself lives on in the daemon.
 */
void protets_close(protets_table_t *t);

/* Type, access and name of a mapped table; never fail. */
protets_type protets_table_type(const protets_table_t *t);
protets_access protets_table_access(const protets_table_t *t);
const char *protets_table_name(const protets_table_t *t);
/* 1 when the mapping is writable, 0 when read-only. */
int protets_table_writable(const protets_table_t *t);

/*
 * A stalled lock holder.  A write waits for the table's write lock at
 * most the handle's lock timeout, then fails with PROTETS_ELOCKED and
 * changes nothing; protets_lock_holder then names the process that held
 * the lock.  A holder that is alive but stopped (SIGSTOP, a debugger, a
 * frozen cgroup) keeps it until it is continued; kill it (SIGKILL) and the
 * next writer rolls its half-done operation back and goes on.  A holder
 * that died is recovered from at once by the next writer, never waited
 * for.  Readers are not affected: they never wait for a writer, and while
 * one is stalled mid-operation they read the last committed state through
 * the undo log (docs/FORMAT.md, Locking).
 *
 * A handle's timeout starts as $PROTETS_LOCK_TIMEOUT_MS (a decimal number
 * of milliseconds; anything else is ignored), else the lock_timeout_ms
 * setting of the configuration file ($PROTETS_CONF or the one compiled
 * in), else 10000.  protets_set_lock_timeout sets it for the handle t only
 * (other handles of the table keep theirs); ms 0 means do not wait: fail
 * with PROTETS_ELOCKED at once when the lock is held.  A thread that is
 * in the middle of a write (a signal handler that interrupted one) gets
 * EDEADLK at once for a write to any table instead of waiting for itself
 * or mixing the two writes' undo records.  Returns 0, or PROTETS_EINVAL
 * (ms < 0, t NULL).
 */
int protets_set_lock_timeout(protets_table_t *t, int ms);
/* The handle's lock timeout in milliseconds; never fails. */
int protets_lock_timeout(const protets_table_t *t);
/*
 * The pid of the process that held t's write lock when the calling
 * thread's last write to t failed with PROTETS_ELOCKED (or EDEADLK: the
 * caller's own pid); if the thread's last attempt got the lock, the pid of
 * the process holding it now.  0 when nobody holds it (or the holder is
 * not visible from this pid namespace, in which case it is its thread
 * id).  Never fails.
 */
pid_t protets_lock_holder(const protets_table_t *t);

/*
 * Concurrency.  Every write below is one atomic operation: it runs under
 * the table's writer lock, through the undo log, and is all or nothing,
 * also when the writing process is killed at any instruction (the next
 * locker rolls a half-done operation back).  Readers never lock: lookup,
 * member and lookup_each copy what they need out under one seqlock
 * validation, so they see the key as it was between two writes, never a
 * half-done write; foldl, select, select_count, first and next do the
 * same one bucket at a time (on an ordered_set: up to 256 entries at a
 * time, in key order; see docs/FORMAT.md, Iteration under concurrent
 * writes, for what each type guarantees).  Callbacks are called after the copy, with
 * no lock held, and may write to the table.
 *
 * One atomic operation is bounded by the undo log (1024 records, see
 * docs/FORMAT.md): a batch of 32 inserts always fits (typically 900; on
 * an ordered_set, 16 and several hundred), and
 * so does the removal of the entries of one key while its bucket's chain
 * holds up to about 380 entries.  Larger ones fail with PROTETS_ELIMIT and
 * change nothing; delete_all_objects always fits.
 *
 * Bags.  A bag holds many entries per key, never two equal (key, value)
 * pairs; a duplicate_bag may hold equal ones.  The values of a key are
 * kept in insertion order.  A key with thousands of values makes every
 * operation on its bucket slow, as in ETS (see docs/FORMAT.md, Limits).
 */

/*
 * Insert an entry.  On a set an entry with the same key is replaced; on a
 * bag, inserting an entry equal to one present (same key and value) is a
 * no-op that returns 0; on a duplicate_bag it adds a copy.  Returns 0;
 * PROTETS_EACCES (read-only mapping), PROTETS_ETOOBIG (klen >
 * PROTETS_KEY_MAX or vlen > PROTETS_VALUE_MAX), PROTETS_EINVAL (klen == 0),
 * PROTETS_EFULL (no room left: nothing was changed), PROTETS_ECORRUPT,
 * PROTETS_ELOCKED.
 */
int protets_insert(protets_table_t *t, const void *key, size_t klen,
    const void *val, size_t vlen);

/*
 * Insert an entry only if no entry with its key exists (ets:insert_new).
 * Returns as protets_insert, and PROTETS_EXISTS (nothing written).
 */
int protets_insert_new(protets_table_t *t, const void *key, size_t klen,
    const void *val, size_t vlen);

/* One entry of a batch. */
typedef struct protets_kv {
	const void	*key;
	size_t		 klen;
	const void	*val;
	size_t		 vlen;
} protets_kv;

/*
 * Insert n entries in one atomic operation, in order, each as
 * protets_insert (so on a set a later entry of the batch replaces an
 * earlier one with its key).  All or nothing: on any error nothing was
 * written.  Returns as protets_insert (any entry's bad key or value fails
 * the whole batch before anything is written), and PROTETS_ELIMIT when
 * the batch is too large for one atomic operation.
 */
int protets_insert_many(protets_table_t *t, const protets_kv *kv, size_t n);

/*
 * As protets_insert_many, but only if none of the batch's keys exists in
 * the table (ets:insert_new with a list); otherwise returns PROTETS_EXISTS
 * and writes nothing.
 */
int protets_insert_new_many(protets_table_t *t, const protets_kv *kv,
    size_t n);

/*
 * Look up key and copy its value (the first one, on bags) into buf (bufsz
 * bytes); *vlen receives the value's length.  Returns 0, PROTETS_NOTFOUND,
 * PROTETS_ERANGE (buf too small: *vlen says how much is needed),
 * PROTETS_EINVAL, PROTETS_ECORRUPT, PROTETS_EAGAIN (a writer died mid-way
 * and the read-only caller could not repair: retry).
 */
int protets_lookup(protets_table_t *t, const void *key, size_t klen,
    void *buf, size_t bufsz, size_t *vlen);

/*
 * Call fn(key, klen, val, vlen, arg) for every value of key, in order
 * (one on a set).  The values are copied out under one seqlock
 * validation, so they are all the key held at one instant; fn runs after,
 * with no lock held.  Stops early and returns fn's value if fn returns
 * non-zero.  Returns 0, PROTETS_NOTFOUND (no entry; fn not called),
 * PROTETS_EINVAL, PROTETS_ETOOBIG, PROTETS_ECORRUPT, PROTETS_EAGAIN,
 * ENOMEM.
 */
typedef int (*protets_fold_fn)(const void *key, size_t klen,
    const void *val, size_t vlen, void *arg);
int protets_lookup_each(protets_table_t *t, const void *key, size_t klen,
    protets_fold_fn fn, void *arg);

/*
 * Is there an entry with key?  Returns 0 (yes), PROTETS_NOTFOUND (no),
 * PROTETS_EINVAL, PROTETS_ETOOBIG, PROTETS_ECORRUPT, PROTETS_EAGAIN.
 */
int protets_member(protets_table_t *t, const void *key, size_t klen);

/*
 * Delete every entry with key, atomically.  Returns 0 (also if there was
 * none), PROTETS_EACCES, PROTETS_EINVAL, PROTETS_ECORRUPT, PROTETS_ELOCKED,
 * PROTETS_ELIMIT (a bag key with too many values for one operation).
 */
int protets_delete(protets_table_t *t, const void *key, size_t klen);

/*
 * protets_delete, saying in *deleted how many entries it deleted: 0 when
 * the key was not there (Python's del t[k] raises KeyError then), 1 on a
 * set, the key's values on a bag.  Returns as protets_delete.
 */
int protets_delete_counted(protets_table_t *t, const void *key, size_t klen,
    uint64_t *deleted);

/*
 * Delete the entries equal to (key, value): on a set the entry of key if
 * its value is val; on a bag the one equal entry; on a duplicate_bag every
 * copy (ets:delete_object).  Returns 0 (also if there was none), and as
 * protets_delete.
 */
int protets_delete_object(protets_table_t *t, const void *key, size_t klen,
    const void *val, size_t vlen);

/*
 * Delete every entry of the table, in one atomic operation whatever the
 * table's size (ets:delete_all_objects).  The index shrinks back to its
 * initial size and all space is free again.  Returns 0, PROTETS_EACCES,
 * PROTETS_ECORRUPT, PROTETS_ELOCKED.
 */
int protets_delete_all_objects(protets_table_t *t);

/*
 * Remove every entry of key and hand each removed value to fn, in order,
 * after the removal committed (ets:take: atomic lookup and delete; no other
 * process can see or take the values in between).  fn's return value is
 * ignored beyond stopping the calls: the entries are gone either way.
 * Returns 0, PROTETS_NOTFOUND (no entry, nothing removed), ENOMEM, and as
 * protets_delete.
 */
int protets_take(protets_table_t *t, const void *key, size_t klen,
    protets_fold_fn fn, void *arg);

/*
 * Counters.  A counter is an entry of a set whose value is the decimal
 * ASCII text of a signed 64-bit integer: an optional '-' and 1 to 19
 * digits, no sign '+', no spaces, no NUL, in [INT64_MIN, INT64_MAX]
 * ("0", "42", "-7"), so that the CLI, dump and scripts read it as it is.
 * protets_update_counter writes it back in the shortest form.
 *
 * Options of protets_update_counter (ets:update_counter/4 semantics).
 */
typedef struct protets_counter_opts {
	int	has_threshold;	/* apply threshold and setvalue */
	int64_t	threshold;	/* incr >= 0: result > threshold -> setvalue; */
	int64_t	setvalue;	/* incr < 0: result < threshold -> setvalue */
	int	has_default;	/* a missing key starts from dflt */
	int64_t	dflt;
} protets_counter_opts;

/*
 * Atomically add incr to the counter of key and store the result in
 * *result (may be NULL).  opts may be NULL (no threshold, no default).
 * With a threshold, a result beyond it (including one beyond the range of
 * int64) becomes setvalue.  Returns 0; PROTETS_NOTFOUND (no such key and
 * no default); PROTETS_EINVAL (the value is not a counter, or the table is
 * not a set or ordered_set); PROTETS_ERANGE (the result overflows int64 and there is no
 * threshold; nothing written); and as protets_insert.
 *
 * On a table with write_concurrency > 1, an update that this thread made
 * before to the same key, and that changes only the last 8-byte word of
 * the text (the usual small increment), takes no lock: one
 * compare-and-swap, so that writers in several processes do not wait for
 * one another or pass a lock's cache line around (docs/FORMAT.md, §11).
 * Otherwise it takes the shard's lock.  The results are the same.
 */
int protets_update_counter(protets_table_t *t, const void *key, size_t klen,
    int64_t incr, const protets_counter_opts *opts, int64_t *result);

/*
 * Walk the keys (ets:first/ets:next): in key order on an ordered_set (see
 * protets_last below), in hash order on the others.  protets_first copies
 * the first key into kbuf (kbufsz bytes, PROTETS_KEY_MAX is always
 * enough) and its length into *klen; protets_next the key after key,
 * which need not be in the table any more.  The order is a fixed total
 * order on keys (by bit-reversed hash, then by bytes), the same in every
 * process and across index growth, so under concurrent modification: a
 * key present for the whole walk is returned exactly once; a key inserted
 * or deleted during the walk may or may not be; a bag's key is returned
 * once whatever its number of values.  Each step is one seqlock-validated
 * read.  Returns 0; PROTETS_NOTFOUND at the end of the table (or on an
 * empty one); PROTETS_ERANGE (kbuf too small: *klen says how much is
 * needed); PROTETS_EINVAL, PROTETS_ETOOBIG, PROTETS_ECORRUPT,
 * PROTETS_EAGAIN, ENOMEM.
 */
int protets_first(protets_table_t *t, void *kbuf, size_t kbufsz,
    size_t *klen);
int protets_next(protets_table_t *t, const void *key, size_t klen,
    void *kbuf, size_t kbufsz, size_t *nklen);

/*
 * Walk the keys backwards (ets:last/ets:prev).  On an ordered_set,
 * protets_last copies the greatest key and protets_prev the greatest key
 * before key, which need not be in the table (as protets_next gives the
 * least key after it).  On the other types, as in ETS, protets_last is
 * protets_first and protets_prev is protets_next.  Under concurrent
 * modification of an ordered_set, each step is one seqlock-validated
 * read of the keys as they were at one instant: a walk with
 * first/next (or last/prev) returns every key present for the whole walk
 * exactly once, in strictly increasing (decreasing) order; a key inserted
 * or deleted during the walk is returned if it is present when the walk
 * passes its place.  Returns as protets_first and protets_next.
 */
int protets_last(protets_table_t *t, void *kbuf, size_t kbufsz,
    size_t *klen);
int protets_prev(protets_table_t *t, const void *key, size_t klen,
    void *kbuf, size_t kbufsz, size_t *pklen);

/*
 * Call fn for every entry: in key order on an ordered_set, in hash order
 * on the others.  Each entry is read consistently; entries
 * inserted or deleted while the walk runs may or may not be seen, but no
 * entry present for the whole walk is missed or seen twice.  Returns 0, or
 * the first non-zero value fn returned, or PROTETS_ECORRUPT.
 */
int protets_foldl(protets_table_t *t, protets_fold_fn fn, void *arg);

/*
 * What the select functions select: the entries whose key starts with
 * prefix (plen bytes; plen 0: every key), lies in the key range from..to
 * and, if pred is not NULL, for which pred(key, klen, val, vlen, arg)
 * returns 1.  pred returns 0 to skip an entry; any other value stops the
 * walk and is returned.
 *
 * The range compares keys in ordered_set order (memcmp on the common
 * bytes, then the shorter key first); both bounds are inclusive: from
 * (flen bytes) is the least key selected, to (tlen bytes) the greatest;
 * a NULL bound is no bound (its length is then ignored).  On an
 * ordered_set, a prefix or a from bound makes the walk start there
 * rather than at the first key, and it ends at the first key past to or
 * past the keys with the prefix: the walk costs what it selects, not
 * the table's size.  On the other types the range and prefix filter a
 * whole walk.  Zero-initialise the struct: the range was added last.
 */
typedef struct protets_match {
	const void	*prefix;
	size_t		 plen;
	protets_fold_fn	 pred;
	void		*arg;
	const void	*from;		/* least key selected; NULL: none */
	size_t		 flen;
	const void	*to;		/* greatest key selected; NULL: none */
	size_t		 tlen;
} protets_match;

/*
 * Call fn for every selected entry (m NULL: every entry), with the
 * guarantees of protets_foldl.  pred runs with no lock held.  Returns 0,
 * pred's or fn's stopping value, PROTETS_EINVAL, PROTETS_ECORRUPT.
 */
int protets_select(protets_table_t *t, const protets_match *m,
    protets_fold_fn fn, void *arg);

/* Count the selected entries into *n.  Returns as protets_select. */
int protets_select_count(protets_table_t *t, const protets_match *m,
    uint64_t *n);

/*
 * Delete the selected entries; *n (may be NULL) receives how many were
 * deleted.  The walk selects entries as protets_select does, then deletes
 * each selected (key, value) as protets_delete_object, one atomic
 * operation per entry: an entry that another process changed in between
 * is left alone; the whole is not one atomic operation.  When pred stops
 * the walk, nothing is deleted and its value is returned.  Returns as
 * protets_select and protets_delete_object.
 */
int protets_select_delete(protets_table_t *t, const protets_match *m,
    uint64_t *n);

/* Number of entries.  Returns 0 and sets *n, or PROTETS_ECORRUPT. */
int protets_count(protets_table_t *t, uint64_t *n);

/*
 * Walk the whole segment and report the first inconsistency found in msg.
 * Returns 0 when consistent, PROTETS_ECORRUPT otherwise (msg names what
 * is damaged).  A writable mapping checks under the write lock; a
 * read-only one checks while writers go on, and reports only what an
 * attempt no writer interfered with found.  When writers kept changing the
 * table for all of 100 ms of the checking thread's own CPU time (or 2 s,
 * on a machine too busy to give it that), or one is stopped mid-change
 * (the daemon is asked to repair a dead one first), it returns
 * PROTETS_EAGAIN, msg saying so: nothing was found damaged; check again
 * later.
 */
int protets_check(protets_table_t *t, char *msg, size_t msgsz);

/*
 * Saved tables (ets:tab2file / ets:file2tab).  The file format, with its
 * XXH3-64 checksum, is "Saved table files" in docs/FORMAT.md.
 *
 * protets_save writes t's name, type, access, segment size and every
 * entry to path.  It reads the table with protets_foldl, lock-free, so
 * writers are never held up, and the file has a fold's consistency, not
 * a point-in-time snapshot: each entry as it was at one instant; every
 * entry present for the whole save is in the file once; entries
 * inserted, deleted or replaced during the save may or may not be (stop
 * the writers for a snapshot).  The file is written under a temporary
 * name in path's directory, fsync'ed, and renamed over path, so path
 * holds either its previous content or the whole new file, never part of
 * one, also if the caller is killed (a temporary "path.XXXXXX" may then
 * be left).  The new file has mode 0600 whatever the umask (a table may
 * hold private data): chmod it to share it; a symlink at path is
 * replaced, not followed.  Returns 0; PROTETS_EINVAL (NULL or empty
 * path); PROTETS_ECORRUPT, PROTETS_EAGAIN (from the fold; nothing at
 * path changed); or an errno value of the file system (EACCES, ENOSPC,
 * ENOENT, ENAMETOOLONG, ...), path unchanged.  An errno from the final
 * fsync of the directory means path holds the new file but the rename
 * may not survive a system crash.
 *
 * protets_load creates a table from a file written by protets_save.  It
 * first verifies the whole file (magic, version, checksum, every length
 * against PROTETS_KEY_MAX, PROTETS_VALUE_MAX and the file's size, the
 * entry count) and creates nothing unless all of it is right.  The table
 * is called name, or the saved name when name is NULL; its type is the
 * saved one (opts->type must be 0 or equal to it); its access mode and
 * size are the saved ones unless opts->access or opts->max_size is not 0
 * (opts may be NULL); its write_concurrency is opts->write_concurrency
 * (a file does not record it).  It is created only if no table has that name,
 * private, then filled in atomic batches of protets_insert_many, and only
 * then given its access mode: no other uid sees it half-filled.  All or
 * nothing: if a batch fails (table full, lock, connection) the
 * half-filled table is dropped before returning, unless a process of the
 * same uid holds it open then (the drop fails and the table stays).  A
 * FIFO or other non-regular file is refused with PROTETS_EFILE, without
 * waiting on it.  On success
 * *tp (may be NULL) receives the mapped table, to protets_close.
 * Returns 0; PROTETS_EFILE (not a saved table, truncated, corrupt, or a
 * future format version: no table created); PROTETS_EXISTS (a table has
 * that name: it is not changed); PROTETS_EINVAL (bad name or opts);
 * PROTETS_ELIMIT (the daemon's max_size, max_tables or a per-uid limit;
 * give a smaller opts->max_size if the saved size is too large);
 * PROTETS_EFULL (the entries do not fit the size); PROTETS_ECONNECT,
 * PROTETS_EPROTO, PROTETS_EDAEMON, PROTETS_ELOCKED, PROTETS_ECORRUPT; or
 * an errno value reading the file (ENOENT, EACCES, EIO, ...).  If the
 * create request itself is retried after a broken connection, the table
 * its first attempt made is reported as PROTETS_EXISTS and left empty.
 */
int protets_save(protets_table_t *t, const char *path);
int protets_load(protets_t *p, const char *path, const char *name,
    const protets_opts *opts, protets_table_t **tp);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
#endif /* PROTETS_H */
