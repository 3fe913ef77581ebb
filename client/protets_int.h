/*
 * protets_int.h - what the files of libprotets share, not public.
 */
#ifndef PROTETS_INT_H
#define PROTETS_INT_H

#include "protets.h"
#include "wire.h"

/* protets.c */
const char	*pt_sockpath(const protets_t *);
/* Send a request, receive the reply (and at most one fd).  Reconnects and
 * retries, a few times over about 60 ms, when the connection breaks (the
 * serving worker died). */
int		 pt_request(protets_t *, uint16_t op, const struct wbuf *req,
		    struct wbuf *reply, int *fd);
/* Create a table, PROTETS_EXISTS if there is one (GET CREATE|EXCL). */
int		 pt_create(protets_t *, const char *name,
		    const protets_opts *, protets_table_t **);
/* Ask the daemon to repair a table (for read-only mappings). */
int		 pt_repair(const char *sockpath, const char *name);

/*
 * The lock timeout a new table handle starts with: $PROTETS_LOCK_TIMEOUT_MS,
 * else lock_timeout_ms of the configuration file (read once), else 10000.
 */
int		 pt_lock_timeout_default(void);

/* protets.c: forget this thread's last daemon message (protets_errmsg). */
void		 pt_errclear(void);
/* protets.c: set this thread's protets_errmsg (a full table). */
void		 pt_errset(const char *fmt, ...)
		    __attribute__((format(printf, 1, 2)));

/* table.c: map a received segment; takes ownership of fd. */
int		 pt_table_map(int fd, const protets_info *info, int writable,
		    const char *sockpath, protets_table_t **out);
/* table.c: what the daemon said of the table when it was mapped. */
const protets_info *pt_table_info(const protets_table_t *);
/* table.c: the table's quota as its segment holds it now, 0: none. */
uint64_t	 pt_table_quota(protets_table_t *);

#endif
