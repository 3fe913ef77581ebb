/*
 * savefile.h - the saved-table file (docs/FORMAT.md, "Saved table files"),
 * written and read for whoever holds the table: the library's
 * protets_save/protets_load (ets:tab2file/file2tab) and the daemon's state
 * directory (a stop saves every table, a start loads them).
 *
 * The caller brings the entries (sf_fold_fn: calls fn once per entry, as
 * protets_foldl does) or takes them (sf_insert_fn: inserts a batch, all
 * or nothing, as protets_insert_many does); this module does the file:
 * header, records, count, XXH3-64, fsync, atomic rename; and, reading,
 * every length checked before it is trusted.
 */
#ifndef PROTETS_COMMON_SAVEFILE_H
#define PROTETS_COMMON_SAVEFILE_H

#include <stddef.h>
#include <stdint.h>

#include "protets.h"

/* What a file says of its table. */
struct sf_meta {
	uint32_t	type;		/* protets_type */
	uint32_t	access;		/* protets_access */
	uint32_t	wc;		/* write_concurrency; 0: not saved (v1) */
	uint64_t	size;		/* the size asked for (a quota; before
				 * quotas, the segment's bytes), 0: none */
	char		name[PROTETS_NAME_MAX + 1];
};

/* Call fn(key, klen, val, vlen, arg) for each entry of src, as foldl. */
typedef int	(*sf_fold_fn)(void *src, protets_fold_fn fn, void *arg);
/* Insert kv[0..n) into dst, all or nothing; 0 or a protets error. */
typedef int	(*sf_insert_fn)(void *dst, const protets_kv *kv, size_t n);

/*
 * Write src's entries to path: a temporary file beside it (mode 0600),
 * fsync'd, renamed over path, the directory fsync'd.  A fold that returns
 * PROTETS_EAGAIN (a read-only fold met a dead writer) is begun again, a
 * few times.  0, an errno, or the fold's error; on failure path is as it
 * was.  sum (may be NULL): the checksum of the file last written there (0:
 * none) in, the new one out; when the entries would make the same file,
 * path is left as it was and nothing is written (the entries are folded
 * once for the checksum, and once more to write them if it differs).
 */
int	sf_save(const char *path, const struct sf_meta *m, sf_fold_fn fold,
	    void *src, uint64_t *sum);

/*
 * What sf_save does around its records, for the other files written the
 * same way (the daemon's catalog, daemon/state.c): write all of n bytes
 * (0 or an errno), and fsync the directory holding path, so that a rename
 * into it is durable (0 or an errno).
 */
int	sf_write_all(int fd, const void *p, size_t n);
int	sf_sync_dir(const char *path);

/* A file verified by sf_verify: its header and how to read it back. */
struct sf_plan;

/*
 * Read all of the file fd (a regular file) once: header, every record's
 * bounds, count and checksum.  0 and *pl (free with sf_free), or
 * PROTETS_EFILE (not a saved table, truncated, corrupt), an errno.
 */
int	sf_verify(int fd, struct sf_plan **pl);
const struct sf_meta *sf_plan_meta(const struct sf_plan *pl);
/*
 * Read the records again, into dst through ins, in an order that fills a
 * hash index well; each part's checksum is checked against the first
 * pass (PROTETS_EFILE: the file changed in between).  A batch that ins
 * refuses with PROTETS_ELIMIT is split.  0, or the first error.
 */
int	sf_fill(int fd, const struct sf_plan *pl, sf_insert_fn ins, void *dst);
void	sf_free(struct sf_plan *pl);

#endif /* PROTETS_COMMON_SAVEFILE_H */
