/*
 * shm/entry.h - entry records.
 *
 * An entry is one heap block: an 8-byte header word, then the key, then
 * the value, contiguous, so that a lookup that found the slot touches one
 * more cache line for short entries.  Once linked into the index, an
 * entry's header and key never change: a replace writes a new entry and
 * swaps the slot.  Its value changes only in place, by update_counter with
 * a result of the same length, under the seqlock like every write, so
 * readers still see a value whole: through the undo log (en_setval), or,
 * when one aligned word changes, by that word's one store (table_counter.c).
 *
 * Readers may look at an entry while a writer frees and reuses its block,
 * so everything here reads with SH_LOAD and validates before trusting.
 */
#ifndef PROTETS_SHM_ENTRY_H
#define PROTETS_SHM_ENTRY_H

#include <stddef.h>
#include <stdint.h>

#include "seg.h"

struct en_hdr {
	uint32_t	klen;
	uint32_t	vlen;
	unsigned	cls;
};

/* Bytes an entry needs, before rounding to its class. */
static inline uint64_t
en_size(size_t klen, size_t vlen)
{
	return TBL_ENTRY_HDR + (uint64_t)klen + (uint64_t)vlen;
}

/* Hash of a key, the one function the format signature names. */
uint64_t	en_hash(const void *key, size_t klen);

/* Read and validate the header of the entry at off: 0 or ECORRUPT. */
int	en_read(const struct tbl *t, uint64_t off, struct en_hdr *h);
/* Write a whole entry into a block nobody can reach yet. */
void	en_write(struct tbl *t, uint64_t off, unsigned cls, const void *key,
	    size_t klen, const void *val, size_t vlen);
/* Is the key of the entry (header h) equal to key? */
int	en_keyeq(const struct tbl *t, uint64_t off, const struct en_hdr *h,
	    const void *key, size_t klen);
/* Is the value of the entry equal to val (vlen bytes)? */
int	en_valeq(const struct tbl *t, uint64_t off, const struct en_hdr *h,
	    const void *val, size_t vlen);
/* Copy out the key, or the first n bytes of the value. */
void	en_getkey(const struct tbl *t, uint64_t off, const struct en_hdr *h,
	    void *dst);
void	en_getval(const struct tbl *t, uint64_t off, const struct en_hdr *h,
	    void *dst, size_t n);
/*
 * Overwrite the value of a linked entry with val, as long as the old one
 * (h->vlen bytes), through the undo log.  Writers holding the lock only.
 */
void	en_setval(struct tbl *t, uint64_t off, const struct en_hdr *h,
	    const void *val);
/* Hash of the entry's key (copied out first: safe for readers). */
uint64_t en_keyhash(const struct tbl *t, uint64_t off, const struct en_hdr *h);

#endif /* PROTETS_SHM_ENTRY_H */
