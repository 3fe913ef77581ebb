/*
 * ipc.h - messages between protetsd processes (after OpenBSD's imsg).
 *
 * Every internal channel is an AF_UNIX SOCK_SEQPACKET socketpair, so a
 * message is one datagram: an ipc_hdr, the payload, and up to FDPASS_MAX
 * fds.  The receiver checks that the fds it got are exactly the fds the
 * header announces; any mismatch closes them all and is an error.
 * Ownership: after ipc_send the sender still owns its fds (the receiver got
 * duplicates); after ipc_recv the caller owns the fds received.
 */
#ifndef PROTETS_IPC_H
#define PROTETS_IPC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fdpass.h"

#define IPC_MAX_PAYLOAD	(64 * 1024)

struct ipc_hdr {
	uint32_t	type;	/* enum ipc_type */
	uint32_t	len;	/* payload bytes */
	uint32_t	nfds;	/* fds attached */
	uint32_t	seq;
};

enum ipc_type {
	/* supervisor -> monitor: channel (fd) to worker; ipc_worker */
	IPC_MON_WORKER = 1,
	/* monitor -> supervisor: a worker's segments are collected; slot */
	IPC_MON_COLLECTED,
	/* supervisor -> worker: channel (fd) to a newly started monitor */
	IPC_WRK_MONITOR,
	/* worker -> supervisor: handoff done, serving; ipc_ready */
	IPC_WRK_READY,
	/* monitor -> worker: segments held for the slot; ids + fds */
	IPC_SEG_HANDOFF,
	/* monitor -> worker: end of the handoff */
	IPC_SEG_HANDOFF_DONE,
	/* worker -> monitor: keep these segments; ids + fds; acked */
	IPC_SEG_ADD,
	/* monitor -> worker: SEG_ADD number seq is held */
	IPC_SEG_ACK,
	/* worker -> monitor: every segment was pushed (after a collect) */
	IPC_SEG_PUSHED,
	/* worker -> monitor: forget these segments (dropped); ids */
	IPC_SEG_DEL,
	/* worker -> worker inbox: a client connection (fd); ipc_fwd + bytes */
	IPC_FWD_CONN,
	/* supervisor -> monitor: segments from systemd's fd store; ipc_adopt[]
	 * + fds */
	IPC_MON_ADOPT,
	/* worker -> supervisor: catalog tables whose segments only the fd
	 * store still holds; ipc_ready */
	IPC_WRK_LOST,
	/* supervisor -> worker: save your tables to the state directory */
	IPC_WRK_SNAPSHOT,
	/* worker -> supervisor: snapshot done; ipc_ready, tables: not saved */
	IPC_WRK_SNAPSHOT_DONE,
	/* supervisor -> monitor: send me every segment (an upgrade); the
	 * answer is IPC_SEG_HANDOFF batches, then IPC_SEG_HANDOFF_DONE */
	IPC_MON_GIVE,
};

struct ipc_adopt {
	uint64_t	id;
	int32_t		slot;
	int32_t		pad;
};

struct ipc_worker {
	int32_t		slot;
	int32_t		pid;
	int32_t		fresh;	/* 1: newly forked, hand it its segments */
};

struct ipc_ready {
	int32_t		slot;
	uint32_t	tables;
};

struct ipc_fwd {
	uint32_t	hops;		/* forwards so far; bounded */
	uint32_t	create_here;	/* the receiver creates the table */
	/* followed by the bytes already read from the connection; the
	 * receiver reads the peer's identity with SO_PEERCRED itself */
};

/*
 * Send a message; 0, or -1 with errno (EPIPE: the peer is gone).
 * flags: MSG_DONTWAIT to fail with EAGAIN rather than block.
 */
int	ipc_send(int sock, uint32_t type, uint32_t seq, const void *data,
	    size_t len, const int *fds, int nfds, int flags);

/*
 * Receive one message into buf (cap bytes); fds into fds (maxfds).
 * Returns the payload length, 0 on EOF (h->type == 0), or -1 with errno
 * (EAGAIN, EPROTO for a malformed message or unexpected fds).
 */
ssize_t	ipc_recv(int sock, struct ipc_hdr *h, void *buf, size_t cap,
	    int *fds, int maxfds);

/*
 * ipc_recv for event callbacks: logs a failure other than EAGAIN, naming
 * the channel, and returns -1 (errno kept) when there is nothing to handle.
 */
ssize_t	ipc_read(int sock, struct ipc_hdr *h, void *buf, size_t cap,
	    int *fds, int maxfds, const char *chan);

/* Create a SOCK_SEQPACKET|SOCK_CLOEXEC socketpair; 0 or -1. */
int	ipc_pair(int sv[2]);

#endif
