/*
 * table.c - a table mapped into the caller's address space.
 *
 * fd ownership: protets_table.fd is the client's own open file description
 * of the segment (the daemon made it for us and holds a shared flock on it
 * that marks the table in use); it stays open as long as the mapping, and
 * protets_close closes both.
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "protets_int.h"
#include "table.h"

struct protets_table {
	int		 fd;
	void		*base;
	size_t		 size;
	int		 writable;
	struct tbl	 tbl;
	protets_info	 info;
	char		 sockpath[108];
};

int
pt_table_map(int fd, const protets_info *info, int writable,
    const char *sockpath, protets_table_t **out)
{
	protets_table_t	*t;
	struct stat	 st;
	int		 rc, mode;

	if ((t = calloc(1, sizeof(*t))) == NULL) {
		close(fd);
		return ENOMEM;
	}
	t->fd = fd;
	t->info = *info;
	strlcpy(t->sockpath, sockpath, sizeof(t->sockpath));
	/* Trust the fd's access mode, which the kernel enforces. */
	mode = fcntl(fd, F_GETFL) & O_ACCMODE;
	t->writable = writable && mode == O_RDWR;
	if (fstat(fd, &st) == -1 || st.st_size <= 0) {
		rc = errno ? errno : PROTETS_ECORRUPT;
		goto fail;
	}
	t->size = (size_t)st.st_size;
	t->base = mmap(NULL, t->size, PROT_READ | (t->writable ? PROT_WRITE :
	    0), MAP_SHARED, fd, 0);
	if (t->base == MAP_FAILED) {
		rc = errno;
		t->base = NULL;
		goto fail;
	}
	if ((rc = tbl_open(&t->tbl, t->base, t->size, t->writable)) != 0)
		goto fail;
	*out = t;
	return 0;
fail:
	protets_close(t);
	return rc;
}

void
protets_close(protets_table_t *t)
{
	if (t == NULL)
		return;
	if (t->base != NULL)
		munmap(t->base, t->size);
	close(t->fd);
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
	return t->writable;
}

int
protets_insert(protets_table_t *t, const void *key, size_t klen,
    const void *val, size_t vlen)
{
	return tbl_insert(&t->tbl, key, klen, val, vlen);
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

	rc = tbl_lookup(&t->tbl, key, klen, buf, bufsz, vlen);
	if (rc == PROTETS_EAGAIN && !t->writable &&
	    pt_repair(t->sockpath, t->info.name) == 0)
		rc = tbl_lookup(&t->tbl, key, klen, buf, bufsz, vlen);
	return rc;
}

int
protets_delete(protets_table_t *t, const void *key, size_t klen)
{
	return tbl_delete(&t->tbl, key, klen);
}

int
protets_foldl(protets_table_t *t, protets_fold_fn fn, void *arg)
{
	int	 rc;

	rc = tbl_foldl(&t->tbl, fn, arg);
	if (rc == PROTETS_EAGAIN && !t->writable &&
	    pt_repair(t->sockpath, t->info.name) == 0)
		rc = tbl_foldl(&t->tbl, fn, arg);
	return rc;
}

int
protets_count(protets_table_t *t, uint64_t *n)
{
	return tbl_count(&t->tbl, n);
}

int
protets_check(protets_table_t *t, char *msg, size_t msgsz)
{
	return tbl_check(&t->tbl, msg, msgsz);
}
