/*
 * table.c - a table mapped into the caller's address space.
 *
 * fd ownership: the fd the daemon sends is the client's own open file
 * description of the segment, with a shared flock on it that marks the
 * table in use; it passes to the registry (registry.c), which keeps it
 * open as long as the mapping and closes it with the last handle.
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "protets_int.h"
#include "registry.h"

struct protets_table {
	struct pt_map	*map;		/* shared by handles of one segment */
	struct tbl	*tbl;
	protets_info	 info;
	char		 sockpath[108];
};

int
pt_table_map(int fd, const protets_info *info, int writable,
    const char *sockpath, protets_table_t **out)
{
	protets_table_t	*t;
	int		 rc;

	if ((t = calloc(1, sizeof(*t))) == NULL) {
		close(fd);
		return ENOMEM;
	}
	t->info = *info;
	strlcpy(t->sockpath, sockpath, sizeof(t->sockpath));
	/* Trust the fd's access mode, which the kernel enforces. */
	if ((fcntl(fd, F_GETFL) & O_ACCMODE) != O_RDWR)
		writable = 0;
	/* fd passes to the registry. */
	if ((rc = pt_map_get(fd, writable, &t->map)) != 0) {
		free(t);
		return rc;
	}
	t->tbl = &t->map->tbl;
	*out = t;
	return 0;
}

void
protets_close(protets_table_t *t)
{
	if (t == NULL)
		return;
	pt_map_put(t->map);
	free(t);
}

protets_type
protets_table_type(const protets_table_t *t)
{
	return t->info.type;
}

protets_access
protets_table_access(const protets_table_t *t)
{
	return t->info.access;
}

const char *
protets_table_name(const protets_table_t *t)
{
	return t->info.name;
}

int
protets_table_writable(const protets_table_t *t)
{
	return t->map->writable;
}

int
protets_insert(protets_table_t *t, const void *key, size_t klen,
    const void *val, size_t vlen)
{
	return tbl_insert(t->tbl, key, klen, val, vlen);
}

/*
 * A read-only mapping cannot take the lock to recover from a writer that
 * died mid-update: ask the daemon to do it, then read again.
 */
int
protets_lookup(protets_table_t *t, const void *key, size_t klen, void *buf,
    size_t bufsz, size_t *vlen)
{
	int	 rc;

	rc = tbl_lookup(t->tbl, key, klen, buf, bufsz, vlen);
	if (rc == PROTETS_EAGAIN && !t->map->writable &&
	    pt_repair(t->sockpath, t->info.name) == 0)
		rc = tbl_lookup(t->tbl, key, klen, buf, bufsz, vlen);
	return rc;
}

int
protets_delete(protets_table_t *t, const void *key, size_t klen)
{
	return tbl_delete(t->tbl, key, klen);
}

int
protets_foldl(protets_table_t *t, protets_fold_fn fn, void *arg)
{
	int	 rc;

	/* After a repair the caller retries: fn may have seen entries. */
	rc = tbl_foldl(t->tbl, fn, arg);
	if (rc == PROTETS_EAGAIN && !t->map->writable)
		pt_repair(t->sockpath, t->info.name);
	return rc;
}

int
protets_count(protets_table_t *t, uint64_t *n)
{
	return tbl_count(t->tbl, n);
}

int
protets_check(protets_table_t *t, char *msg, size_t msgsz)
{
	return tbl_check(t->tbl, msg, msgsz);
}
