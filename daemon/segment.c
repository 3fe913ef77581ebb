/*
 * segment.c - see segment.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "segment.h"

int
seg_create(const char *name, uint64_t size, int prealloc)
{
	char	 label[64];
	int	 fd, e;

	snprintf(label, sizeof(label), "protets:%s", name);
	fd = memfd_create(label, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd == -1)
		return -1;
	/*
	 * A memfd is born mode 0777: anyone handed a read-only fd could
	 * reopen it read-write through /proc/self/fd.  Only the daemon's
	 * uid may open it; clients get the descriptions we make for them.
	 */
	if (fchmod(fd, 0600) == -1)
		goto fail;
	if (ftruncate(fd, (off_t)size) == -1)
		goto fail;
	/*
	 * Every page now, rather than at the first write that touches it,
	 * where no memory left is a SIGBUS or an OOM kill, not an error.
	 */
	if (prealloc && (e = posix_fallocate(fd, 0, (off_t)size)) != 0) {
		errno = e;
		goto fail;
	}
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) == -1)
		goto fail;
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL) == -1)
		goto fail;
	return fd;
fail:
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

uint64_t
seg_reserve(const struct conf *cf, uint64_t quota)
{
	uint64_t	r;

	if (cf->preallocate)
		r = quota != 0 ? quota : cf->default_size;
	else
		r = quota > cf->max_size ? quota : cf->max_size;
	return (r + 4095) & ~(uint64_t)4095;
}

int
seg_map(int fd, int writable, void **base, size_t *size)
{
	struct stat	 st;
	void		*p;

	if (fstat(fd, &st) == -1)
		return -1;
	if (st.st_size <= 0) {
		errno = EINVAL;
		return -1;
	}
	p = mmap(NULL, (size_t)st.st_size,
	    PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -1;
	/* Not dumped: that would allocate every page of the reservation. */
	(void)madvise(p, (size_t)st.st_size, MADV_DONTDUMP);
	*base = p;
	*size = (size_t)st.st_size;
	return 0;
}

int
seg_reopen(int fd, int flags)
{
	char	 path[64];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return open(path, (flags & O_ACCMODE) | O_CLOEXEC);
}
