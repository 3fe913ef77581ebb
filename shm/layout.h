/*
 * shm/layout.h - the structures that live in a table segment.
 *
 * This is the one place where the on-segment layout is defined; the prose
 * version is docs/FORMAT.md and the two must change together (and
 * TBL_LAYOUT_VERSION with them).
 *
 * A segment is mapped at a different address in every process, so it
 * holds offsets from its base, never pointers.  Offset 0 is never a valid
 * object, which lets 0 mean "none" everywhere.
 *
 *	0		struct tbl_hdr		written once by tbl_format
 *	TBL_STATE_OFF	struct tbl_state	counters, index geometry, free lists
 *	TBL_TALLY_OFF	struct tbl_tally	operation statistics (tally.c)
 *	TBL_STRIPE_OFF	struct tbl_stripe[]	lock word + seqlock (1 for now)
 *	TBL_UNDO_OFF	struct tbl_undo[]	one undo log per stripe
 *	TBL_FP_OFF	struct tbl_fp		update_counter's lock-free slots
 *	TBL_NS_OFF	uint64_t[]		lock words' pid namespaces (owner.c)
 *	TBL_HEAP_OFF	heap			entries, overflow buckets, free blocks
 *			... grows up from TBL_HEAP_OFF to state.top
 *			... free: state.top .. state.ceil
 *			index chunks, grow down from the end to state.ceil
 *
 * A sharded table (write_concurrency S > 1) is S such regions of
 * hdr.shard_size bytes each, back to back: shard k at k * shard_size, each
 * a complete table of the layout above with offsets relative to its own
 * start.  Shard 0's header, at offset 0, is the table's header.
 *
 * This file is the format alone (structures, offsets, constants); how a
 * process reaches into a mapped segment (the SH_* accesses, the views of
 * shards, bounds checks) is seg.h.
 */
#ifndef PROTETS_SHM_LAYOUT_H
#define PROTETS_SHM_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "protets.h"

/* Bump on any change to the layout or to the meaning of a field. */
#define TBL_LAYOUT_VERSION	9	/* 9: quota, struct tbl_tally */
#define TBL_HASH_NAME		"XXH3_64"

/* "PROTETS\0", little-endian. */
#define TBL_MAGIC		0x00535445544f5250ULL

#define TBL_LINE		64	/* cache line */

/* Fixed geometry; all of it is part of the format signature. */
#define TBL_STATE_OFF		1024
#define TBL_TALLY_OFF		2304	/* struct tbl_tally, after the state */
#define TBL_STRIPE_OFF		4096
#define TBL_STRIPE_MAX		16	/* room reserved for lock striping */
#define TBL_NSTRIPES		1	/* stripes in use */
#define TBL_UNDO_OFF		(TBL_STRIPE_OFF + TBL_STRIPE_MAX * 128)
#define TBL_UNDO_CAP		1024	/* records per undo log */
#define TBL_FP_OFF		24576	/* struct tbl_fp: update_counter's slots */
#define TBL_FP_SLOTS		16
#define TBL_FP_ALL		((1ULL << (TBL_FP_SLOTS - 1) << 1) - 1)
#define TBL_NS_OFF		26880	/* pid namespaces of lock holders */
#define TBL_NS_SLOTS		224	/* ... up to the heap (owner.h: <512) */
#define TBL_HEAP_OFF		28672	/* page after the undo logs */
#define TBL_MIN_SIZE		(TBL_HEAP_OFF + 8192)
#define TBL_MAX_SIZE		(1ULL << 40)	/* slot offsets are 37 bits of 8 */
#define TBL_SHARD_MAX		PROTETS_WRITE_CONCURRENCY_MAX	/* shards */
#define TBL_SHARD_SHIFT		60	/* shard: hash bits 60.. (index: low) */
#define TBL_SHARD_ALIGN		4096	/* shard_size is a multiple */

/* Allocator: 31 classes of 16..256 step 8, then 4 per power of two. */
#define TBL_NCLASS		83
#define TBL_CLASS_MAX		(1u << 21)	/* largest class, bytes */
#define TBL_NCLASS_PAD		88		/* free-list heads reserved */

/* Index: linear hashing over chunks of cache-line buckets. */
#define TBL_IX_NB0_LOG		4		/* chunk 0 holds 16 buckets */
#define TBL_IX_NB0		(1u << TBL_IX_NB0_LOG)
#define TBL_IX_NCHUNK		40		/* chunk j>0: NB0 << (j-1) buckets */
#define TBL_IX_LOAD		4		/* split while entries > LOAD * buckets */
#define TBL_BUCKET_SLOTS	7
#define TBL_TAG_SHIFT		37		/* slot: tag:27 | (offset >> 3):37 */
#define TBL_SLOT_OFFMASK	((1ULL << TBL_TAG_SHIFT) - 1)

/* Entry header word: vlen:32 | klen:16 | class:8 | mark:8 (LSB first). */
#define TBL_ENTRY_MARK		0xe5u
#define TBL_ENTRY_HDR		8

/*
 * Ordered index (ordered_set only): a skip list of nodes in the heap, its
 * head in the state.  A node's height is 1 + the trailing zero bit pairs
 * of its key's hash above bit TBL_OR_HSHIFT (p = 1/4), at most TBL_OR_MAXH;
 * it keeps the first TBL_OR_PREFIX key bytes inline.
 */
#define TBL_OR_MAXH		16
#define TBL_OR_PREFIX		16
#define TBL_OR_HSHIFT		24
#define TBL_OR_MARK		0x0du	/* node meta word, top byte */

/*
 * The header: identity, format signature and the table's metadata.  It is
 * written by tbl_format before the magic, and never again, so reading it
 * needs no synchronisation once the magic is seen; the exceptions are
 * access and quota, which tbl_set_access and tbl_set_quota change with
 * one atomic aligned store each.
 *
 * size is the segment's reservation: a sparse memfd whose pages cost
 * nothing until written, sealed at that size, the most the shard can ever
 * hold.  quota is the limit the allocator keeps (alloc.c, al_room): the
 * heap below state.top plus the index chunks above state.ceil.  It can
 * be raised up to size or lowered at any time, with no copy; a writer
 * that bypasses the library can ignore it, never the kernel's size.
 */
struct tbl_hdr {
	uint64_t	magic;			/*    0: TBL_MAGIC, written last */
	uint64_t	sig;			/*    8: XXH3_64 of sigstr */
	char		sigstr[496];		/*   16: human-readable signature */
	uint64_t	size;			/*  512: segment bytes */
	uint64_t	layout;			/*  520: TBL_LAYOUT_VERSION */
	uint64_t	state_off;		/*  528 */
	uint64_t	stripe_off;		/*  536 */
	uint64_t	undo_off;		/*  544 */
	uint64_t	heap_off;		/*  552 */
	uint32_t	nstripes;		/*  560 */
	uint32_t	undo_cap;		/*  564 */
	uint64_t	id;			/*  568: tbl_meta */
	uint64_t	created;		/*  576 */
	uint32_t	type;			/*  584 */
	uint32_t	access;			/*  588 */
	uint32_t	owner_uid;		/*  592 */
	uint32_t	pad0;			/*  596 */
	char		name[PROTETS_NAME_MAX + 1];	/* 600: NUL-terminated */
	uint32_t	nshards;		/*  856: 1, or 2..16 shards */
	uint32_t	shard;			/*  860: this region's index */
	uint64_t	shard_size;		/*  864: bytes per shard */
	uint32_t	flags;			/*  872: tbl_meta.flags */
	uint32_t	pad1;			/*  876 */
	uint64_t	quota;			/*  880: bytes this shard may
						    hold (heap and index), 0:
						    all of size; see below */
	uint8_t		reserved[1024 - 888];	/*  888 */
};

/*
 * Mutable state, changed only by a writer holding the lock, through the
 * undo log.  The counters and the index geometry are on separate lines:
 * every write touches the first, every lookup reads the second.
 *
 * recast goes up by one whenever heap blocks may hold an entry's header
 * without being a linked entry: a clear (the old blocks are dropped as
 * they are), and an overflow bucket taken from a free list (a freed
 * block may have been an entry, and a slot word may look like an entry
 * header; a block off the top never held a committed entry, and an
 * ordered-index node's first word, an entry offset, never has the mark).
 * It never goes down in a committed state.  A free overwrites the header word with a
 * free-list link (never an entry mark), and a roll back restores it; so
 * while recast keeps its value, a block that once held a linked entry
 * and still holds an entry header with the same key is that key's linked
 * entry (update_counter's hints, table_counter.c).
 */
struct tbl_state {
	/* line 0: counters */
	uint64_t	entries;		/*    0 */
	uint64_t	used;			/*    8: bytes in allocated blocks */
	uint64_t	top;			/*   16: end of the heap */
	uint64_t	ceil;			/*   24: start of the chunk area */
	uint64_t	overflow;		/*   32: overflow buckets */
	uint64_t	recast;			/*   40: see below */
	uint64_t	pad0[2];		/*   48 */
	/* lines 1-6: index geometry */
	uint64_t	ix_level;		/*   64: L */
	uint64_t	ix_split;		/*   72: p, next bucket to split */
	uint64_t	ix_chunk[TBL_IX_NCHUNK];	/*   80: chunk offsets */
	uint64_t	pad1[6];		/*  400 */
	/* lines 7-17: allocator free-list heads, one per class */
	uint64_t	al_free[TBL_NCLASS_PAD];	/* 448 */
	/* lines 18-19: ordered index head, link per level; 0: none */
	uint64_t	or_head[TBL_OR_MAXH];	/* 1152 */
};

/*
 * A lock stripe: the writers' lock word (owner.h: 0, or its holder's
 * process) on one line, the readers' sequence on the next, so that
 * readers polling seq do not share a line with writers contending for
 * the lock.  retired is set once, under the
 * lock, when the daemon stops holding the segment as the table (tbl_retire):
 * no write is taken and no read answered from then on (PROTETS_ESTALE).
 * The x words serve batches over
 * several shards that this shard leads (the lowest shard of the batch):
 * written under this stripe's mutex and never through the undo log.
 */
struct tbl_stripe {
	uint64_t	lock;			/*    0: owner.h */
	uint64_t	pad0[7];		/*    8 */
	uint64_t	seq;			/*   64: odd while a writer writes */
	uint64_t	xcommit;		/*   72: last batch committed */
	uint64_t	xnext;			/*   80: last batch begun */
	uint64_t	xmask;			/*   88: its follower shards, 0: none */
	uint64_t	retired;		/*   96: 1: not the daemon's copy */
	uint64_t	pad1[3];		/*  104 */
};

/* Undo record: restore word at off to old. */
struct tbl_undo_rec {
	uint64_t	off;
	uint64_t	old;
};

/*
 * Undo log of a stripe.  n counts the valid records; a record is written
 * before n covers it and before the word it saves is modified, so a crash
 * at any instruction leaves a log that restores the state of the last
 * commit.  n == 0 is the commit point, except in a batch over several
 * shards: then tag names the batch (TBL_XTAG: its number and leading
 * shard), and the batch is committed once the leader's xcommit is its
 * number; a log so tagged is then discarded, not replayed.
 */
struct tbl_undo {
	uint64_t	n;			/*    0 */
	uint64_t	cap;			/*    8: TBL_UNDO_CAP */
	uint64_t	tag;			/*   16: 0, or TBL_XTAG(seq, lead) */
	uint64_t	pad[5];			/*   24 */
	struct tbl_undo_rec rec[TBL_UNDO_CAP];	/* 64 */
};

/*
 * Ordered-index node: a heap block of class cls, holding one entry's
 * offset, its key length and first bytes (compared without touching the
 * entry unless they tie) and height links to the next node of each level.
 * Only eoff and next[] change after linking, through the undo log.
 */
struct tbl_onode {
	uint64_t	eoff;			/*  0: the entry */
	uint64_t	meta;			/*  8: klen:16|height:8|cls:8|mark@56 */
	uint8_t		prefix[TBL_OR_PREFIX];	/* 16: key bytes, zero-padded */
	uint64_t	next[];			/* 32: height links, 0: end */
};

/*
 * update_counter's lock-free path (fastpath.c), one area per shard.  A
 * thread changing a counter's last word without the shard's mutex holds
 * its slot (owner names the thread a slot was last given to): its lock
 * word (owner.h), then on = 1 while it reads and changes the entry, unless busy.
 * A writer that takes the shard's mutex sets busy, then waits, before it
 * reads or changes anything, until no slot whose bit is set in used is
 * on; it clears busy before it unlocks.  busy is
 * the mutex's word for the lock-free path, on a line of its own: the
 * mutex's line is written again and again by its holder.  used only
 * gains bits (a slot's first use), so that writers look at the slots ever
 * used and no other.  None of these words is ever in the undo log.
 */
struct tbl_fpslot {
	uint64_t	lock;			/*    0: owner.h */
	uint64_t	pad0[5];		/*    8 */
	uint64_t	owner;			/*   48: the thread it is for */
	uint64_t	on;			/*   56: 1 while in use */
	uint64_t	pid;			/*   64: that thread's process, as
						    it sees itself (a hint) */
	uint64_t	pad1[7];		/*   72 */
};

/*
 * Each slot on two lines of its own, and busy's line with nothing beside
 * it: CPUs fetch lines in pairs (the adjacent-line prefetcher), and a line
 * that one process writes all the time slows down another reading its
 * neighbour as if they were one.
 */
struct tbl_fp {
	uint64_t	used;			/*    0: bit i: slot i used */
	uint64_t	busy;			/*    8: 1: the mutex's holder works */
	uint64_t	pad[14];		/*   16 */
	struct tbl_fpslot slot[TBL_FP_SLOTS];	/* 128 */
};

/*
 * Operation statistics of one shard (tally.c): counts that only go up,
 * changed by relaxed atomic adds outside any lock and never through the
 * undo log (a roll back leaves them alone).  Line 0: the operations a
 * client counted on its own memory, per thread, and adds here every
 * TBL_TALLY_FOLD of them and when it closes the table (a client folds into
 * the shard its thread picks, to spread the adds).  Line 1: the rare
 * events, counted by the process that meets them, in the shard they
 * happen in.  Untrusted like the rest: read, summed, reported, never
 * followed.
 */
enum tbl_tally_op {
	TBL_TY_INSERT,		/* entries inserted (batches: each entry) */
	TBL_TY_DELETE,		/* delete, delete_object, take, select_delete */
	TBL_TY_HIT,		/* lookup, lookup_each, member: found */
	TBL_TY_MISS,		/* ... not found */
	TBL_TY_COUNTER,		/* update_counter */
	TBL_TY_NOPS
};
enum tbl_tally_event {
	TBL_TY_EFULL,		/* writes answered PROTETS_EFULL */
	TBL_TY_LOCK_WAIT,	/* writers that found the lock held */
	TBL_TY_LOCK_TIMEOUT,	/* ... and gave up (PROTETS_ELOCKED) */
	TBL_TY_RECOVERY,	/* locks taken over from a dead holder */
	TBL_TY_ROLLBACK,	/* ... whose undo log was replayed */
	TBL_TY_NEVENTS
};
#define TBL_TALLY_FOLD		256	/* a thread's operations per add */

struct tbl_tally {
	uint64_t	op[8];			/*    0: enum tbl_tally_op */
	uint64_t	ev[TBL_TY_NEVENTS];	/*   64: enum tbl_tally_event */
	uint64_t	rec_time;		/*  104: last recovery, unix ms */
	uint64_t	rec_pid;		/*  112: its dead holder's pid */
	uint64_t	pad;			/*  120 */
};

/* Undo log tag of batch number seq (>= 1) led by shard lead. */
#define TBL_XTAG(seq, lead)	((uint64_t)(seq) << 8 | ((uint64_t)(lead) + 1))
#define TBL_XTAG_SEQ(tag)	((tag) >> 8)
#define TBL_XTAG_LEAD(tag)	((unsigned)((tag) & 0xff) - 1)

/* Index bucket: one cache line, 7 slots and an overflow link. */
struct tbl_bucket {
	uint64_t	slot[TBL_BUCKET_SLOTS];	/* 0 = empty; filled from 0 up */
	uint64_t	next;			/* overflow bucket or 0 */
};

_Static_assert(sizeof(struct tbl_hdr) == 1024, "tbl_hdr size");
_Static_assert(offsetof(struct tbl_hdr, name) == 600, "tbl_hdr name");
_Static_assert(offsetof(struct tbl_hdr, id) == 568, "tbl_hdr id");
_Static_assert(offsetof(struct tbl_hdr, quota) == 880, "tbl_hdr quota");
_Static_assert(offsetof(struct tbl_hdr, nshards) == 856 &&
    offsetof(struct tbl_hdr, shard_size) == 864, "tbl_hdr shards");
_Static_assert(TBL_SHARD_MAX <= 64 && TBL_SHARD_MAX <= 255 &&
    (TBL_SHARD_MAX & (TBL_SHARD_MAX - 1)) == 0 &&
    (1ULL << (64 - TBL_SHARD_SHIFT)) >= TBL_SHARD_MAX &&
    TBL_SHARD_SHIFT >= 64 - TBL_TAG_SHIFT, "shard bits clear of the tag");
_Static_assert(offsetof(struct tbl_stripe, xcommit) == 72 &&
    offsetof(struct tbl_stripe, xmask) == 88, "stripe x words");
_Static_assert(offsetof(struct tbl_undo, tag) == 16 &&
    offsetof(struct tbl_undo, rec) == 64, "undo tag");
_Static_assert(TBL_MIN_SIZE % TBL_SHARD_ALIGN == 0, "shard alignment");
_Static_assert(sizeof(struct tbl_state) == 1280, "tbl_state size");
_Static_assert(offsetof(struct tbl_state, or_head) == 1152, "state head");
_Static_assert(sizeof(struct tbl_onode) == 32 &&
    offsetof(struct tbl_onode, next) == 32, "tbl_onode");
_Static_assert(TBL_OR_PREFIX % 8 == 0 && TBL_OR_MAXH <= 255 &&
    TBL_OR_HSHIFT + 2 * TBL_OR_MAXH <= 64, "ordered index geometry");
_Static_assert(offsetof(struct tbl_state, ix_level) == 64, "state line 1");
_Static_assert(offsetof(struct tbl_state, al_free) == 448, "state free");
_Static_assert(TBL_STATE_OFF + sizeof(struct tbl_state) <= TBL_TALLY_OFF &&
    TBL_TALLY_OFF % TBL_LINE == 0 &&
    TBL_TALLY_OFF + sizeof(struct tbl_tally) <= TBL_STRIPE_OFF,
    "state, tally, stripes");
_Static_assert(sizeof(struct tbl_tally) == 2 * TBL_LINE &&
    TBL_TY_NOPS <= 8 && offsetof(struct tbl_tally, ev) == TBL_LINE,
    "tally lines");
_Static_assert(sizeof(struct tbl_stripe) == 128, "tbl_stripe size");
_Static_assert(offsetof(struct tbl_stripe, seq) == 64, "stripe seq");
_Static_assert(sizeof(struct tbl_undo) == 64 + 16 * TBL_UNDO_CAP, "undo");
_Static_assert(TBL_UNDO_OFF + TBL_NSTRIPES * sizeof(struct tbl_undo) <=
    TBL_HEAP_OFF, "undo overlaps heap");
_Static_assert(TBL_UNDO_OFF + TBL_NSTRIPES * sizeof(struct tbl_undo) <=
    TBL_FP_OFF && TBL_FP_OFF + sizeof(struct tbl_fp) <= TBL_HEAP_OFF &&
    TBL_FP_OFF % TBL_LINE == 0, "fast-path slots");
_Static_assert(TBL_FP_OFF + sizeof(struct tbl_fp) <= TBL_NS_OFF &&
    TBL_NS_OFF + TBL_NS_SLOTS * 8 <= TBL_HEAP_OFF && TBL_NS_SLOTS < 512,
    "namespace table");
_Static_assert(sizeof(struct tbl_fpslot) == 2 * TBL_LINE && TBL_FP_SLOTS <= 64 &&
    offsetof(struct tbl_fp, slot) == 2 * TBL_LINE,
    "fast-path slot");
_Static_assert(sizeof(struct tbl_bucket) == TBL_LINE, "bucket size");
_Static_assert(TBL_NCLASS <= TBL_NCLASS_PAD, "classes");
_Static_assert(TBL_HEAP_OFF % 4096 == 0, "heap alignment");
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ||
    __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__, "byte order");

/* Offset of a field of the state, for the undo log. */
#define TBL_STATE_FIELD(f)	(TBL_STATE_OFF + offsetof(struct tbl_state, f))

#endif /* PROTETS_SHM_LAYOUT_H */
