/*
 * wire.h - the client <-> protetsd protocol, version WIRE_VERSION.
 *
 * Described in docs/PROTOCOL.md.  A frame is a wire_hdr followed by len
 * payload bytes, over a SOCK_STREAM Unix socket, in host byte order (the
 * socket is local).  Payload fields are packed with the wbuf/rbuf helpers
 * below; every read is bounds-checked.
 */
#ifndef PROTETS_WIRE_H
#define PROTETS_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "protets.h"

#define WIRE_VERSION		1
#define WIRE_MAX_REQUEST	4096		/* request payload bytes */
#define WIRE_MAX_REPLY		(8u << 20)	/* reply payload bytes */
#define WIRE_REPLY		0x8000		/* reply op = request op | this */

struct wire_hdr {
	uint16_t	version;	/* WIRE_VERSION */
	uint16_t	op;		/* enum wire_op, | WIRE_REPLY in replies */
	uint32_t	len;		/* payload bytes after the header */
	uint32_t	seq;		/* chosen by the client, echoed */
	int32_t		status;		/* replies: 0 or a protets error code */
};
_Static_assert(sizeof(struct wire_hdr) == 16, "wire_hdr is 16 bytes");

enum wire_op {
	WIRE_GET = 1,		/* name, flags, type, access, max_size[, wc] -> info + fd */
	WIRE_DROP = 2,		/* name -> status */
	WIRE_INFO = 3,		/* name -> info */
	WIRE_LIST = 4,		/* - -> count, info... */
	WIRE_PROCS = 5,		/* - -> count, proc... */
	WIRE_REPAIR = 6,	/* name -> status */
	WIRE_SETACCESS = 7,	/* name, access -> status */
	WIRE_RESIZE = 8,	/* name, quota -> status */
	WIRE_HOLDERS = 9,	/* name -> flags, count, pid... */
	WIRE_STATS = 10,	/* name -> info, WIRE_NSTATS u64 */
	WIRE_DSTATS = 11,	/* - -> WIRE_NDSTATS u64 */
	WIRE_OP_MAX = 11
};

/* The u64 counts after STATS' info record, DSTATS' whole reply. */
#define WIRE_NSTATS		12
#define WIRE_NDSTATS		(11 + PROTETS_STATS_REQUESTS + \
				 PROTETS_STATS_ERRORS)

/* WIRE_GET flags. */
#define WIRE_GET_CREATE		0x1	/* create when missing */
#define WIRE_GET_EXCL		0x2	/* with CREATE: PROTETS_EXISTS if present */
#define WIRE_GET_VOLATILE	0x4	/* with CREATE: never saved to disk */
/* WIRE_GET reply flags (in the info record's flags). */
#define WIRE_INFO_WRITABLE	0x1	/* the fd attached is read-write */
#define WIRE_INFO_EXT		0x2	/* the growth figures follow */
/*
 * INFO and LIST requests: an optional u32 after the name (INFO) or as the
 * whole payload (LIST).  WIRE_REQ_EXT asks for WIRE_INFO_EXT records; a
 * daemon before it refuses the longer request (PROTETS_EPROTO), and the
 * library asks again without.
 */
#define WIRE_REQ_EXT		0x1

/* A growing output buffer. */
struct wbuf {
	unsigned char	*data;
	size_t		 len, cap;
	int		 err;		/* set on allocation failure */
};

/* A bounds-checked reader over a received payload. */
struct rbuf {
	const unsigned char	*data;
	size_t			 len, off;
	int			 err;	/* set when a read ran past the end */
};

void	wbuf_init(struct wbuf *);
void	wbuf_free(struct wbuf *);
void	wbuf_put(struct wbuf *, const void *, size_t);
void	wbuf_u16(struct wbuf *, uint16_t);
void	wbuf_u32(struct wbuf *, uint32_t);
void	wbuf_u64(struct wbuf *, uint64_t);
void	wbuf_str(struct wbuf *, const char *, size_t);	/* u16 len + bytes */

void	 rbuf_init(struct rbuf *, const void *, size_t);
uint16_t rbuf_u16(struct rbuf *);
uint32_t rbuf_u32(struct rbuf *);
uint64_t rbuf_u64(struct rbuf *);
/* Copy a u16-prefixed string of at most max bytes into dst, NUL-ended. */
size_t	 rbuf_str(struct rbuf *, char *dst, size_t max);
/* 0 if every byte was consumed without error, else PROTETS_EPROTO. */
int	 rbuf_end(struct rbuf *);

/* Frame header helpers. */
void	wire_hdr_make(struct wire_hdr *, uint16_t op, uint32_t len,
	    uint32_t seq, int32_t status);
/* Validate a request header: PROTETS_EVERSION, PROTETS_EPROTO or 0. */
int	wire_hdr_check_request(const struct wire_hdr *);

/* A table name: 1..PROTETS_NAME_MAX bytes, no NUL.  0 or PROTETS_EINVAL. */
int	wire_name_valid(const char *name, size_t len);
/* 0 when a new table may be called so (no control character). */
int	wire_name_printable(const char *name, size_t len);

/* Request payloads. */
struct wire_get {
	char		name[PROTETS_NAME_MAX + 1];
	uint32_t	flags, type, access;
	uint64_t	max_size;
	uint32_t	write_concurrency;	/* optional on the wire: 0 */
};
void	wire_put_get(struct wbuf *, const struct wire_get *);
int	wire_get_get(struct rbuf *, struct wire_get *);
void	wire_put_name(struct wbuf *, const char *);
int	wire_get_name(struct rbuf *, char name[PROTETS_NAME_MAX + 1]);

/* Info records (replies to GET, INFO, LIST). */
void	wire_put_info(struct wbuf *, const protets_info *, uint32_t flags);
int	wire_get_info(struct rbuf *, protets_info *, uint32_t *flags);
void	wire_put_proc(struct wbuf *, const protets_proc *);
int	wire_get_proc(struct rbuf *, protets_proc *);

#endif
