/*
 * registry.h - the process-wide registry of mapped segments.
 *
 * However many times (and from however many threads) a process gets the
 * same table, it maps the segment once: handles share one refcounted
 * mapping.  The registry is a liburcu lock-free RCU hash table (urcu-bp
 * flavour, so application threads need no registration), keyed by the
 * segment's inode (unique while we hold it open) and the mapping's
 * writability.
 */
#ifndef PROTETS_REGISTRY_H
#define PROTETS_REGISTRY_H

#include <stddef.h>
#include <sys/types.h>

#include "table.h"

struct pt_map {
	int		 fd;	/* ours: the description the daemon locked */
	void		*base;
	size_t		 size;
	int		 writable;
	struct tbl	 tbl;
};

/*
 * Map the segment behind fd (or share an existing mapping of it).  Takes
 * ownership of fd.  Returns 0 and *out, or an error code (tbl_open's,
 * errno).
 */
int	pt_map_get(int fd, int writable, struct pt_map **out);
/* Drop a reference; the last one unmaps and closes. */
void	pt_map_put(struct pt_map *);

#endif
