/*
 * savefile.c - see savefile.h; the format is "Saved table files" in
 * docs/FORMAT.md: a header, one record per entry in fold order, an end
 * marker, the entry count and an XXH3-64 of everything before it.  The
 * count trails the records because a save writes them in one pass of a
 * fold, whose count is known only at its end.
 *
 * A load reads the file twice: once to verify all of it before anything
 * is created (sf_verify), once to insert (sf_fill).  No length read from
 * the file is trusted before it was checked against the limits and the
 * bytes left.
 *
 * Fold order is hash order, the worst order to fill a linear-hashing
 * index in: every early insert lands in the few buckets of a small index,
 * whose chains then grow long (a 1M-entry load took 40 s instead of 1).
 * So the first pass cuts the records into up to SV_REGIONS regions, at
 * key boundaries (a key's values stay in order), and the second inserts
 * one record of each region in turn, which spreads the inserts over the
 * whole hash space.  Each region's XXH3 from the first pass is checked at
 * its end in the second, so a file changed in between is caught.
 */
#include <sys/stat.h>

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>

#include "savefile.h"
#include "wire.h"

#define SV_MAGIC	"\x7fPROTETS"	/* 8 bytes, no NUL */
#define SV_MAGICLEN	8
#define SV_VERSION	2	/* 2: write_concurrency after flags */
#define SV_TAIL		24	/* end marker, count, checksum */
#define SV_BUFSZ	(64u << 10)	/* file I/O buffer, first pass */
#define SV_CURSZ	(16u << 10)	/* one region's buffer, second pass */
#define SV_REGIONS	256	/* regions read in turn by a load */
#define SV_REGION_MIN	(64u << 10)	/* bytes: smaller files, fewer */
#define SV_BATCH	64	/* entries per protets_insert_many */
/* Bytes of keys and values per batch: always room for one largest entry. */
#define SV_ARENA	((2u << 20) + PROTETS_KEY_MAX)
#define SV_ATTEMPTS	3	/* folds restarted after a repair */

/* Header fields after the magic. */
struct sv_hdr {
	uint32_t	version, flags;
	struct sf_meta	m;
};

/* A buffered, hashing writer. */
struct sv_out {
	int		 fd;
	int		 err;		/* errno of the first failure */
	XXH3_state_t	*xs;
	uint64_t	 count;
	uint64_t	 sum;		/* the checksum written */
	size_t		 len;
	unsigned char	 buf[SV_BUFSZ];
};

/*
 * A buffered reader of [off, end) of the file, hashing what it takes into
 * xs (the whole file's) and rs (the current region's) when not NULL.
 */
struct sv_in {
	int		 fd;
	int		 err;		/* errno, or PROTETS_EFILE */
	XXH3_state_t	*xs, *rs;
	uint64_t	 off;		/* file offset of the next byte */
	uint64_t	 end;		/* no byte at or past it is taken */
	size_t		 pos, len, cap;
	unsigned char	*buf;
};

/* A run of whole records, and the XXH3 of its bytes. */
struct sv_region {
	uint64_t	 start, end, sum;
};

/* What the first pass found. */
struct sf_plan {
	struct sv_hdr	 h;
	uint64_t	 size;		/* of the file, at the first pass */
	size_t		 n;		/* regions */
	struct sv_region r[SV_REGIONS];
};

/* Where the second pass of a load puts entries: one batch at a time. */
struct sv_load {
	sf_insert_fn	 ins;
	void		*dst;
	unsigned char	*arena;
	size_t		 used, n;
	protets_kv	 kv[SV_BATCH];
};

int
sf_write_all(int fd, const void *p, size_t n)
{
	const unsigned char	*b = p;
	ssize_t			 w;

	while (n > 0) {
		if ((w = write(fd, b, n)) == -1) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

/* fd -1: nothing written (the checksum alone, sf_save). */
static int
sv_write_all(int fd, const unsigned char *b, size_t n)
{
	return fd == -1 ? 0 : sf_write_all(fd, b, n);
}

static void
sv_out_flush(struct sv_out *o)
{
	if (o->err == 0)
		o->err = sv_write_all(o->fd, o->buf, o->len);
	o->len = 0;
}

/* Append n bytes, hashed unless it is the checksum itself. */
static void
sv_put(struct sv_out *o, const void *p, size_t n, int hash)
{
	if (hash)
		XXH3_64bits_update(o->xs, p, n);
	if (o->len + n > sizeof(o->buf))
		sv_out_flush(o);
	if (n > sizeof(o->buf)) {
		if (o->err == 0)
			o->err = sv_write_all(o->fd, p, n);
		return;
	}
	memcpy(o->buf + o->len, p, n);
	o->len += n;
}

static void
sv_put32(struct sv_out *o, uint32_t v)
{
	v = htole32(v);
	sv_put(o, &v, sizeof(v), 1);
}

static void
sv_put64(struct sv_out *o, uint64_t v, int hash)
{
	v = htole64(v);
	sv_put(o, &v, sizeof(v), hash);
}

static int
sv_record(const void *k, size_t klen, const void *v, size_t vlen, void *arg)
{
	struct sv_out	*o = arg;

	sv_put32(o, (uint32_t)klen);
	sv_put32(o, (uint32_t)vlen);
	sv_put(o, k, klen, 1);
	sv_put(o, v, vlen, 1);
	o->count++;
	return o->err != 0;	/* stop the fold at the first I/O error */
}

static void
sv_put_hdr(struct sv_out *o, const struct sf_meta *m)
{
	size_t	nlen = strnlen(m->name, PROTETS_NAME_MAX);

	sv_put(o, SV_MAGIC, SV_MAGICLEN, 1);
	sv_put32(o, SV_VERSION);
	sv_put32(o, m->type);
	sv_put32(o, m->access);
	sv_put32(o, 0);					/* flags */
	sv_put32(o, m->wc);
	sv_put64(o, m->size, 1);
	sv_put32(o, (uint32_t)nlen);
	sv_put(o, m->name, nlen, 1);
}

/* One whole file from offset 0: header, fold, end, count, checksum. */
static int
sv_write_once(struct sv_out *o, const struct sf_meta *m, sf_fold_fn fold,
    void *src)
{
	int	 rc;

	if (o->fd != -1 &&
	    (ftruncate(o->fd, 0) == -1 || lseek(o->fd, 0, SEEK_SET) == -1))
		return errno;
	o->err = 0;
	o->len = 0;
	o->count = 0;
	if (XXH3_64bits_reset(o->xs) != XXH_OK)
		return ENOMEM;
	sv_put_hdr(o, m);
	rc = fold(src, sv_record, o);
	if (o->err != 0)
		return o->err;
	if (rc != 0)
		return rc;
	sv_put32(o, 0);					/* end marker */
	sv_put32(o, 0);
	sv_put64(o, o->count, 1);
	o->sum = XXH3_64bits_digest(o->xs);
	sv_put64(o, o->sum, 0);
	sv_out_flush(o);
	return o->err;
}

static int
sv_write(int fd, const struct sf_meta *m, sf_fold_fn fold, void *src,
    uint64_t *sum)
{
	struct sv_out	*o;
	int		 i, rc = ENOMEM;

	if ((o = malloc(sizeof(*o))) == NULL)
		return ENOMEM;
	o->fd = fd;
	o->sum = 0;
	if ((o->xs = XXH3_createState()) != NULL) {
		/* A read-only fold that met a dead writer: retried after the
		 * daemon's repair, from an empty file. */
		for (i = 0; i < SV_ATTEMPTS; i++)
			if ((rc = sv_write_once(o, m, fold, src)) !=
			    PROTETS_EAGAIN)
				break;
		*sum = o->sum;
		XXH3_freeState(o->xs);
	}
	free(o);
	return rc;
}

int
sf_sync_dir(const char *path)
{
	char		 dir[PATH_MAX];
	char		*slash;
	int		 fd, rc = 0;

	strlcpy(dir, path, sizeof(dir));
	if ((slash = strrchr(dir, '/')) == NULL)
		strlcpy(dir, ".", sizeof(dir));
	else if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return errno;
	if (fsync(fd) == -1 && errno != EINVAL)
		rc = errno;
	close(fd);
	return rc;
}

int
sf_save(const char *path, const struct sf_meta *m, sf_fold_fn fold,
    void *src, uint64_t *sum)
{
	char		 tmp[PATH_MAX];
	uint64_t	 now = 0;
	int		 fd, rc;

	/*
	 * The file there may be the same: its checksum first, writing
	 * nothing (an idle table's snapshot reads it, and writes no page).
	 */
	if (sum != NULL && *sum != 0 &&
	    sv_write(-1, m, fold, src, &now) == 0 && now == *sum)
		return 0;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >=
	    sizeof(tmp))
		return ENAMETOOLONG;
	/* mkostemp creates the file 0600: a table may hold private data. */
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1)
		return errno;
	rc = sv_write(fd, m, fold, src, &now);
	if (rc == 0 && fsync(fd) == -1)
		rc = errno;
	if (close(fd) == -1 && rc == 0)
		rc = errno;
	if (rc == 0 && rename(tmp, path) == -1)
		rc = errno;
	if (rc != 0) {
		unlink(tmp);
		return rc;
	}
	if ((rc = sf_sync_dir(path)) == 0 && sum != NULL)
		*sum = now;
	return rc;
}

/* Refill the buffer from in->off; 0 bytes at the end of the file. */
static size_t
sv_fill(struct sv_in *in)
{
	ssize_t	 r;

	do
		r = pread(in->fd, in->buf, in->cap, (off_t)in->off);
	while (r == -1 && errno == EINTR);
	if (r == -1) {
		in->err = errno;
		r = 0;
	}
	in->pos = 0;
	in->len = (size_t)r;
	return in->len;
}

/*
 * Take n bytes into dst (NULL: skip them), hashed unless hash is 0.  Past
 * in->end, or a file that ends early, is PROTETS_EFILE.  Returns 0 or
 * in->err.
 */
static int
sv_get(struct sv_in *in, void *dst, size_t n, int hash)
{
	unsigned char	*d = dst;
	size_t		 c;

	if (in->err == 0 && (in->off > in->end || n > in->end - in->off))
		in->err = PROTETS_EFILE;
	while (n > 0 && in->err == 0) {
		if (in->pos == in->len && sv_fill(in) == 0) {
			if (in->err == 0)
				in->err = PROTETS_EFILE;	/* truncated */
			break;
		}
		c = in->len - in->pos;
		if (c > n)
			c = n;
		if (hash && in->xs != NULL)
			XXH3_64bits_update(in->xs, in->buf + in->pos, c);
		if (hash && in->rs != NULL)
			XXH3_64bits_update(in->rs, in->buf + in->pos, c);
		if (d != NULL) {
			memcpy(d, in->buf + in->pos, c);
			d += c;
		}
		in->pos += c;
		in->off += c;
		n -= c;
	}
	return in->err;
}

static uint32_t
sv_get32(struct sv_in *in)
{
	uint32_t	 v = 0;

	sv_get(in, &v, sizeof(v), 1);
	return le32toh(v);
}

static uint64_t
sv_get64(struct sv_in *in, int hash)
{
	uint64_t	 v = 0;

	sv_get(in, &v, sizeof(v), hash);
	return le64toh(v);
}

static int
sv_get_hdr(struct sv_in *in, struct sv_hdr *h)
{
	char		 magic[SV_MAGICLEN];
	uint32_t	 nlen;

	memset(h, 0, sizeof(*h));
	if (sv_get(in, magic, sizeof(magic), 1) != 0)
		return in->err;
	if (memcmp(magic, SV_MAGIC, SV_MAGICLEN) != 0)
		return PROTETS_EFILE;
	/* Nothing after the version is read from a future format. */
	h->version = sv_get32(in);
	if (h->version < 1 || h->version > SV_VERSION)
		return in->err ? in->err : PROTETS_EFILE;
	h->m.type = sv_get32(in);
	h->m.access = sv_get32(in);
	h->flags = sv_get32(in);
	if (h->version >= 2)
		h->m.wc = sv_get32(in);
	h->m.size = sv_get64(in, 1);
	nlen = sv_get32(in);
	if (in->err != 0)
		return in->err;
	if (h->m.type < PROTETS_SET || h->m.type > PROTETS_DUPLICATE_BAG ||
	    h->m.access < PROTETS_PUBLIC || h->m.access > PROTETS_PRIVATE ||
	    h->flags != 0 || h->m.wc > PROTETS_WRITE_CONCURRENCY_MAX ||
	    nlen == 0 || nlen > PROTETS_NAME_MAX)
		return PROTETS_EFILE;
	if (sv_get(in, h->m.name, nlen, 1) != 0)
		return in->err;
	return wire_name_valid(h->m.name, nlen) == 0 ? 0 : PROTETS_EFILE;
}

/*
 * A record's lengths, checked before anything else of it is read: within
 * the limits, and leaving tail bytes (what must follow the last record)
 * before in->end.  *end set at the end marker (tail != 0 only).
 */
static int
sv_get_lens(struct sv_in *in, uint64_t tail, uint32_t *klen, uint32_t *vlen,
    int *end)
{
	*klen = sv_get32(in);
	*vlen = sv_get32(in);
	if (in->err != 0)
		return in->err;
	if (*klen == 0 && tail != 0) {
		*end = 1;
		return *vlen == 0 ? 0 : PROTETS_EFILE;
	}
	if (*klen == 0 || *klen > PROTETS_KEY_MAX ||
	    *vlen > PROTETS_VALUE_MAX ||
	    (uint64_t)*klen + *vlen + tail > in->end - in->off)
		return PROTETS_EFILE;
	return 0;
}

/* Close the current region at off and open the next one there. */
static int
sv_cut(struct sv_in *in, struct sf_plan *pl, uint64_t off)
{
	pl->r[pl->n].end = off;
	pl->r[pl->n].sum = XXH3_64bits_digest(in->rs);
	pl->n++;
	if (pl->n < SV_REGIONS)
		pl->r[pl->n].start = off;
	return XXH3_64bits_reset(in->rs) == XXH_OK ? 0 : ENOMEM;
}

/*
 * The records of the first pass: only checked, the key kept to cut
 * regions where the key changes.  key/prev hold PROTETS_KEY_MAX bytes.
 */
static int
sv_check_records(struct sv_in *in, struct sf_plan *pl, XXH3_state_t *rs,
    unsigned char *key, unsigned char *prev, uint64_t *n)
{
	uint64_t	 rec = in->off, step;
	uint32_t	 klen, vlen, plen = 0, le[2];
	int		 rc, end = 0;

	step = (in->end - in->off) / SV_REGIONS + 1;
	if (step < SV_REGION_MIN)
		step = SV_REGION_MIN;
	pl->n = 0;
	pl->r[0].start = in->off;
	for (*n = 0; ; (*n)++) {
		rec = in->off;
		/* Hashed into the region once it is known which one. */
		in->rs = NULL;
		if ((rc = sv_get_lens(in, SV_TAIL, &klen, &vlen, &end)) != 0 ||
		    end || (rc = sv_get(in, key, klen, 1)) != 0)
			break;
		in->rs = rs;
		if (rec - pl->r[pl->n].start >= step && pl->n + 1 <
		    SV_REGIONS && (klen != plen || memcmp(key, prev, klen)) &&
		    (rc = sv_cut(in, pl, rec)) != 0)
			break;
		le[0] = htole32(klen);
		le[1] = htole32(vlen);
		XXH3_64bits_update(in->rs, le, sizeof(le));
		XXH3_64bits_update(in->rs, key, klen);
		if ((rc = sv_get(in, NULL, vlen, 1)) != 0)
			break;
		memcpy(prev, key, klen);
		plen = klen;
	}
	in->rs = rs;
	if (rc == 0)
		rc = sv_cut(in, pl, rec);
	return rc;
}

/* After the last record: count, checksum, and nothing more. */
static int
sv_check_tail(struct sv_in *in, uint64_t n)
{
	uint64_t	 count, sum;

	in->rs = NULL;
	count = sv_get64(in, 1);
	sum = XXH3_64bits_digest(in->xs);
	if (sv_get64(in, 0) != sum || in->err != 0)
		return in->err ? in->err : PROTETS_EFILE;
	if (count != n)
		return PROTETS_EFILE;
	/* Also what a file that grew since fstat has past its old size. */
	in->end = UINT64_MAX;
	if (in->pos != in->len || sv_fill(in) != 0)
		return in->err ? in->err : PROTETS_EFILE;
	return 0;
}

/* The first pass: verify the whole file, and plan the second. */
static int
sv_verify(int fd, struct sf_plan *pl)
{
	struct sv_in	 in;
	struct stat	 st;
	XXH3_state_t	*rs;
	unsigned char	*key;
	uint64_t	 n;
	int		 rc = ENOMEM;

	if (fstat(fd, &st) == -1)
		return errno;
	/* Read twice, so a regular file only (no pipe). */
	if (S_ISDIR(st.st_mode))
		return EISDIR;
	if (!S_ISREG(st.st_mode))
		return PROTETS_EFILE;
	memset(&in, 0, sizeof(in));
	in.fd = fd;
	in.end = pl->size = (uint64_t)st.st_size;
	in.cap = SV_BUFSZ;
	in.buf = malloc(SV_BUFSZ);
	key = malloc(2 * PROTETS_KEY_MAX);
	in.xs = XXH3_createState();
	rs = XXH3_createState();
	if (in.buf != NULL && key != NULL && in.xs != NULL && rs != NULL &&
	    XXH3_64bits_reset(in.xs) == XXH_OK &&
	    XXH3_64bits_reset(rs) == XXH_OK) {
		if ((rc = sv_get_hdr(&in, &pl->h)) == 0)
			rc = sv_check_records(&in, pl, rs, key,
			    key + PROTETS_KEY_MAX, &n);
		if (rc == 0)
			rc = sv_check_tail(&in, n);
	}
	XXH3_freeState(rs);
	XXH3_freeState(in.xs);
	free(key);
	free(in.buf);
	return rc;
}

/* Room for need bytes in the batch; sends the batch when it is full. */
static int sv_send(struct sv_load *);

static unsigned char *
sv_room(struct sv_load *ld, size_t need, int *rc)
{
	if (ld->n == SV_BATCH || ld->used + need > SV_ARENA)
		if ((*rc = sv_send(ld)) != 0)
			return NULL;
	return ld->arena + ld->used;
}

/* One record of a region into the batch. */
static int
sv_get_record(struct sv_in *in, struct sv_load *ld)
{
	unsigned char	*p;
	uint32_t	 klen, vlen;
	int		 rc = 0, end = 0;

	if ((rc = sv_get_lens(in, 0, &klen, &vlen, &end)) != 0)
		return rc;
	if ((p = sv_room(ld, klen + vlen, &rc)) == NULL)
		return rc;
	if (sv_get(in, p, klen + vlen, 1) != 0)
		return in->err;
	ld->kv[ld->n].key = p;
	ld->kv[ld->n].klen = klen;
	ld->kv[ld->n].val = p + klen;
	ld->kv[ld->n].vlen = vlen;
	ld->n++;
	ld->used += klen + vlen;
	return 0;
}

/* Insert a batch; one too large for an atomic operation is split. */
static int
sv_insert(const struct sv_load *ld, const protets_kv *kv, size_t n)
{
	int	 rc;

	rc = ld->ins(ld->dst, kv, n);
	if (rc == PROTETS_ELIMIT && n > 1 &&
	    (rc = sv_insert(ld, kv, n / 2)) == 0)
		rc = sv_insert(ld, kv + n / 2, n - n / 2);
	return rc;
}

static int
sv_send(struct sv_load *ld)
{
	int	 rc = 0;

	if (ld->n > 0)
		rc = sv_insert(ld, ld->kv, ld->n);
	ld->n = 0;
	ld->used = 0;
	return rc;
}

/* The header again: the same as the first pass read. */
static int
sv_hdr_again(int fd, const struct sf_plan *pl)
{
	struct sv_in	 in;
	struct sv_hdr	 h;
	unsigned char	 buf[512];
	int		 rc;

	memset(&in, 0, sizeof(in));
	in.fd = fd;
	in.end = pl->r[0].start;
	in.cap = sizeof(buf);
	in.buf = buf;
	if ((rc = sv_get_hdr(&in, &h)) != 0)
		return rc;
	return memcmp(&h, &pl->h, sizeof(h)) == 0 &&
	    in.off == in.end ? 0 : PROTETS_EFILE;
}

/*
 * The second pass: one record of each region in turn into the batch.
 * Each step consumes at least 8 bytes of a bounded region, or ends one.
 */
static int
sv_interleave(struct sv_in *cur, const struct sf_plan *pl, struct sv_load *ld)
{
	size_t	 i, left = pl->n;
	int	 rc = 0;

	while (rc == 0 && left > 0)
		for (i = 0; i < pl->n && rc == 0; i++) {
			if (cur[i].fd == -1)
				continue;
			if (cur[i].off < cur[i].end) {
				rc = sv_get_record(&cur[i], ld);
				continue;
			}
			/* The region as the first pass hashed it? */
			if (XXH3_64bits_digest(cur[i].rs) != pl->r[i].sum)
				rc = PROTETS_EFILE;
			cur[i].fd = -1;
			left--;
		}
	return rc == 0 ? sv_send(ld) : rc;
}

int
sf_fill(int fd, const struct sf_plan *pl, sf_insert_fn ins, void *dst)
{
	struct sv_load	*ld;
	struct sv_in	*cur;
	unsigned char	*bufs;
	size_t		 i;
	int		 rc = ENOMEM;

	ld = calloc(1, sizeof(*ld));
	cur = calloc(pl->n, sizeof(*cur));
	bufs = malloc(pl->n * SV_CURSZ);
	if (ld != NULL && cur != NULL && bufs != NULL &&
	    (ld->arena = malloc(SV_ARENA)) != NULL) {
		ld->ins = ins;
		ld->dst = dst;
		for (i = 0, rc = 0; i < pl->n && rc == 0; i++) {
			cur[i].fd = fd;
			cur[i].off = pl->r[i].start;
			cur[i].end = pl->r[i].end;
			cur[i].cap = SV_CURSZ;
			cur[i].buf = bufs + i * SV_CURSZ;
			if ((cur[i].rs = XXH3_createState()) == NULL ||
			    XXH3_64bits_reset(cur[i].rs) != XXH_OK)
				rc = ENOMEM;
		}
		if (rc == 0 && (rc = sv_hdr_again(fd, pl)) == 0)
			rc = sv_interleave(cur, pl, ld);
		for (i = 0; i < pl->n; i++)
			XXH3_freeState(cur[i].rs);
		free(ld->arena);
	}
	free(bufs);
	free(cur);
	free(ld);
	return rc;
}

int
sf_verify(int fd, struct sf_plan **out)
{
	struct sf_plan	*pl;
	int		 rc;

	if ((pl = calloc(1, sizeof(*pl))) == NULL)
		return ENOMEM;
	if ((rc = sv_verify(fd, pl)) != 0) {
		free(pl);
		return rc;
	}
	*out = pl;
	return 0;
}

const struct sf_meta *
sf_plan_meta(const struct sf_plan *pl)
{
	return &pl->h.m;
}

void
sf_free(struct sf_plan *pl)
{
	free(pl);
}
