/*
 * shm/tally.h - the engine's own counts of rare events into a shard's
 * struct tbl_tally (layout.h): lock waits and time-outs, dead holders
 * taken over.  Internal to shm/; table.h has what the library and the
 * daemon use (tbl_tally_add, tbl_tally_read).
 */
#ifndef PROTETS_SHM_TALLY_H
#define PROTETS_SHM_TALLY_H

#include <sys/types.h>

#include "layout.h"
#include "table.h"

/* One more event ev (enum tbl_tally_event) in t's shard, if writable. */
void	ty_event(const struct tbl *t, unsigned ev);
/*
 * A lock of t's shard taken over from dead holder pid (0: unknown);
 * replayed: its undo log was not empty.
 */
void	ty_recovered(const struct tbl *t, pid_t pid, int replayed);

#endif /* PROTETS_SHM_TALLY_H */
