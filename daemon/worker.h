/*
 * worker.h - state shared by the files of a worker process: worker.c
 * (life cycle, segments, monitor), conn.c (client connections) and
 * proto.c (requests).
 */
#ifndef PROTETS_WORKER_H
#define PROTETS_WORKER_H

#include <stdint.h>
#include <sys/queue.h>
#include <sys/cdefs.h>
#include <sys/tree.h>
#include <sys/types.h>

#include "daemon.h"
#include "table.h"
#include "wire.h"

/* A table this worker owns.  fd and mapping belong to the worker. */
#define WT_HANDED	64	/* pids a table remembers handing it to */

struct wtable {
	RB_ENTRY(wtable) node;
	uint64_t	 id;
	int		 fd;
	void		*base;
	size_t		 size;
	struct tbl	 tbl;
	int		 bad;		/* failed validation: kept, not served */
	uint64_t	 saved_sum;	/* checksum of its last saved file, 0 */
	/* the processes handed a description of it (holders.c) */
	pid_t		 handed[WT_HANDED];
	int		 nhanded;
	int		 handed_lost;	/* some were forgotten: not all */
};
RB_HEAD(wtables, wtable);
RB_PROTOTYPE(wtables, wtable, node, wtable_cmp)

/* A client connection; fd belongs to the worker until forwarded. */
struct conn {
	TAILQ_ENTRY(conn) entry;
	int		 fd;
	uid_t		 uid;		/* SO_PEERCRED */
	gid_t		 gid;
	pid_t		 pid;
	uint32_t	 hops;		/* times forwarded between workers */
	int		 create_here;	/* forwarded to create a table here */
	unsigned char	*in;		/* bytes read, not yet handled */
	size_t		 inlen;
	struct wbuf	 out;		/* bytes to write */
	size_t		 outoff;
	int		 outfd;		/* fd to attach to the next write */
	int		 closing;	/* close once out is flushed */
	int		 counted;	/* in our row of the per-uid counts */
};
TAILQ_HEAD(conns, conn);

struct worker {
	struct daemon	*d;
	int		 slot;
	int		 sup_fd;	/* channel to the supervisor */
	int		 mon_fd;	/* channel to the monitor, or -1 */
	uint32_t	 seq;		/* last IPC_SEG_ADD sent */
	uint32_t	 acked;		/* last IPC_SEG_ACK received */
	int		 handoff_done;
	int		 snap_pending;	/* the supervisor asked for a snapshot */
	struct wtables	 tables;
	uint32_t	 ntables;
	struct conns	 conns;
	int		 nconns;
	int		 accepting;
	int		 spare_fd;	/* given up to refuse a client at EMFILE */
};

extern struct worker	*wk;

/* worker.c */
struct wtable	*worker_table(uint64_t id);
/* holders.c: who was handed the table, and who may still hold it. */
void		 hd_handed(struct wtable *, pid_t);
int		 hd_holders(struct wtable *, pid_t *, int);
void		 hd_format(const pid_t *, int, int, char *, size_t);
/* Create, map, format and register (with the monitor) a new segment. */
int		 worker_table_create(const struct tbl_meta *, uint64_t size,
		    struct wtable **out);
/* The bytes of memory the kernel holds for t's pages. */
uint64_t	 worker_table_memory(const struct wtable *t);
/* Forget a table: tell the monitor, unmap, close. */
void		 worker_table_drop(struct wtable *);
void		 worker_title(void);

/* conn.c */
/* Serve a connected client socket (the worker owns fd from now on). */
struct conn	*conn_new(int fd);
void		 conn_accept_cb(int fd, uint32_t events, void *arg);
void		 conn_inbox_cb(int fd, uint32_t events, void *arg);
void		 conn_reply(struct conn *, const struct wire_hdr *req,
		    int32_t status, const void *payload, size_t len, int fd);
/* An error reply whose payload is a message saying why (a wire str). */
void		 conn_error(struct conn *, const struct wire_hdr *req,
		    int32_t err, const char *fmt, ...)
		    __attribute__((format(printf, 4, 5)));
/* Pass the connection (and its unread bytes) to another slot's worker. */
int		 conn_forward(struct conn *, int slot, int create_here);
void		 conn_accepting(int on);

/* proto.c: handle one complete request frame; 1 if c was forwarded. */
int		 proto_request(struct conn *, const struct wire_hdr *,
		    const unsigned char *payload);

#endif
