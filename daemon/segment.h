/*
 * segment.h - anonymous shared-memory segments (memfd).
 *
 * A segment is created at its final size (sparse: untouched pages cost
 * nothing) and sealed against shrinking and growing, then against further
 * sealing, so that no holder can SIGBUS the others or block a respawned
 * worker (F_SEAL_FUTURE_WRITE is deliberately not used: it would stop a
 * replacement worker from mapping the segment read-write).
 */
#ifndef PROTETS_SEGMENT_H
#define PROTETS_SEGMENT_H

#include <stddef.h>
#include <stdint.h>

/*
 * Create a sealed segment of size bytes, its memory allocated now when
 * prealloc (ENOSPC or ENOMEM then rather than a fault later); returns the
 * fd (caller owns it) or -1 with errno.
 */
int	seg_create(const char *name, uint64_t size, int prealloc);

struct conf;
/*
 * The bytes to reserve for a table of quota bytes (0: none): the most it
 * may ever hold, max_size (or the quota, when it asks more: a table
 * loaded after max_size was lowered); with preallocate the quota
 * (default_size when none), all of it allocated at creation.  Rounded
 * up to whole pages.
 */
uint64_t seg_reserve(const struct conf *cf, uint64_t quota);

/* Map fd whole; 0 or -1 with errno. */
int	seg_map(int fd, int writable, void **base, size_t *size);

/* A new open file description of the same segment (O_RDONLY or O_RDWR),
 * through /proc/self/fd; the caller owns the fd.  -1 with errno. */
int	seg_reopen(int fd, int flags);

#endif
