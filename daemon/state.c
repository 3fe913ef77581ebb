/*
 * state.c - the state directory: every table saved at an orderly stop,
 * loaded at the next start (protets.conf: state_dir).
 *
 * An orderly stop (SIGTERM, SIGINT: systemctl stop, Ctrl-C) has each
 * worker retire each of its tables (tbl_retire: from then on every write
 * and read of the segment, in every process, fails with PROTETS_ESTALE,
 * so that nothing lands after the save) and write it to
 * table-<id>.pts, in the saved-table format of protets_save
 * (common/savefile.c: checksummed, fsync'd, renamed into place).  Once
 * the workers are gone the supervisor writes the catalog (names, owners,
 * access modes, sizes: what the files do not say, or may not be trusted
 * to) to "catalog" the same way.  A start with nothing from systemd's fd
 * store (which is newer, when it has anything) reads the catalog and
 * loads each table it names into a new segment before any worker runs;
 * the tables then reach the workers as fd-store tables do (recover.c).
 *
 * A file that fails validation is set aside, renamed table-<id>.pts.bad
 * and logged, never deleted.  A table dropped since the catalog was
 * written has no file (the drop unlinks it): it is not loaded.  The files
 * stay after a load, so that a kill of every protetsd process (or of the
 * machine) before the next stop finds the tables as of the last stop.
 *
 * Catalog file: "PTSSTATE", u32 version, u32 count, u64 next_id, count
 * records of struct st_rec, then the XXH3-64 of everything before it;
 * host byte order (it is this machine's state, not a format to carry).
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>

#include "clock.h"
#include "daemon.h"
#include "log.h"
#include "notify.h"
#include "savefile.h"
#include "segment.h"
#include "table.h"

#define ST_MAGIC	"PTSSTATE"
#define ST_VERSION	1
#define ST_FENCE_MS	2000	/* a writer's lock, waited for at a stop */
#define ST_READ_MS	1000	/* the save's fold: CPU before EAGAIN */

struct st_head {
	char		magic[8];
	uint32_t	version;
	uint32_t	count;
	uint64_t	next_id;
};

struct st_rec {
	uint64_t	id;
	uint64_t	created;
	uint64_t	quota;		/* the size asked for (before: the
					   segment's), 0: none */
	uint32_t	type;
	uint32_t	access;
	uint32_t	owner_uid;
	uint32_t	name_len;
	char		name[PROTETS_NAME_MAX + 1];
};

static void	st_set_aside(const char *);

int
state_enabled(const struct daemon *d)
{
	return d->conf.state_dir[0] != '\0';
}

static int
st_path(const struct daemon *d, char *buf, size_t sz, const char *fmt,
    uint64_t id)
{
	char	name[64];
	int	n;

	snprintf(name, sizeof(name), fmt, id);
	n = snprintf(buf, sz, "%s/%s", d->conf.state_dir, name);
	return n < 0 || (size_t)n >= sz ? -1 : 0;
}

static int
st_table_path(const struct daemon *d, uint64_t id, char *buf, size_t sz)
{
	return st_path(d, buf, sz, "table-%" PRIu64 ".pts", id);
}

/* ---------------------------------------------------------------- */
/* Saving (a worker: its tables; the supervisor: the catalog). */

static int
st_fold(void *src, protets_fold_fn fn, void *arg)
{
	return tbl_foldl(src, fn, arg);
}

int
state_save_table(const struct daemon *d, const struct tbl *t,
    const struct cat_entry *e, int retire, uint64_t *sum)
{
	struct sf_meta	 m;
	struct tbl	 v = *t;
	char		 path[PATH_MAX];
	int		 rc;

	if (st_table_path(d, e->id, path, sizeof(path)) == -1)
		return ENAMETOOLONG;
	/* At a stop, no write lands after the save: retired first. */
	v.lock_timeout_ms = ST_FENCE_MS;
	if (retire && (rc = tbl_retire(&v)) != 0)
		log_warnx("table %s: a write lock held by pid %d kept it "
		    "from being fenced (%s): saved as last committed; a write "
		    "its holder finishes now is lost", e->name,
		    (int)tbl_lock_holder(&v), protets_strerror(rc));
	v.retired_ok = 1;
	v.read_wait_ms = ST_READ_MS;
	/* read past a stalled or dead writer, never through its lock */
	v.writable = 0;
	memset(&m, 0, sizeof(m));
	m.type = e->type;
	m.access = e->access;
	m.wc = t->nshards > 1 ? t->nshards : 1;
	m.size = e->quota;
	memcpy(m.name, e->name, e->name_len);
	return sf_save(path, &m, st_fold, &v, sum);
}

void
state_forget_table(const struct daemon *d, uint64_t id)
{
	char	path[PATH_MAX];

	if (!state_enabled(d) || st_table_path(d, id, path, sizeof(path)) ==
	    -1)
		return;
	if (unlink(path) == 0)
		(void)sf_sync_dir(path);	/* not back after a power loss */
	else if (errno != ENOENT)
		log_warn("unlink %s", path);
}

/* The READY entries of the catalog, as records; *n of them. */
static struct st_rec *
st_records(struct daemon *d, uint32_t *n, uint64_t *next_id)
{
	struct cat_hdr	*h = d->cat.hdr;
	struct st_rec	*r;
	uint32_t	 i;

	if ((r = calloc(h->nentries ? h->nentries : 1, sizeof(*r))) == NULL)
		return NULL;
	*n = 0;
	cat_lock(&d->cat);
	*next_id = h->next_id;
	for (i = 0; i < h->nentries; i++) {
		const struct cat_entry *e = &h->entries[i];

		if (cat_state(e) != CAT_READY || e->name_len == 0 ||
		    e->name_len > PROTETS_NAME_MAX || (e->flags & CAT_VOLATILE))
			continue;
		r[*n].id = e->id;
		r[*n].created = e->created;
		r[*n].quota = e->quota;
		r[*n].type = e->type;
		r[*n].access = e->access;
		r[*n].owner_uid = e->owner_uid;
		r[*n].name_len = e->name_len;
		memcpy(r[*n].name, e->name, e->name_len);
		(*n)++;
	}
	cat_unlock(&d->cat);
	return r;
}

/* The checksum of the catalog file last written by this process, 0. */
static uint64_t	st_cat_sum;

int
state_save_catalog(struct daemon *d)
{
	struct st_head	 h;
	struct st_rec	*r;
	XXH3_state_t	*xs;
	char		 path[PATH_MAX], tmp[PATH_MAX + 8];
	uint64_t	 sum, next_id;
	uint32_t	 n;
	int		 fd = -1, rc = -1;

	if (st_path(d, path, sizeof(path), "catalog", 0) == -1)
		return -1;
	snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path);
	if ((r = st_records(d, &n, &next_id)) == NULL ||
	    (xs = XXH3_createState()) == NULL) {
		free(r);
		return -1;
	}
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, ST_MAGIC, sizeof(h.magic));
	h.version = ST_VERSION;
	h.count = n;
	h.next_id = next_id;
	/* The same as the file there (a snapshot of an idle daemon): kept. */
	if (XXH3_64bits_reset(xs) != XXH_OK)
		goto out;
	XXH3_64bits_update(xs, &h, sizeof(h));
	XXH3_64bits_update(xs, r, sizeof(*r) * n);
	if ((sum = XXH3_64bits_digest(xs)) == st_cat_sum && sum != 0) {
		rc = 0;
		goto out;
	}
	if ((fd = mkostemp(tmp, O_CLOEXEC)) != -1 &&
	    sf_write_all(fd, &h, sizeof(h)) == 0 &&
	    sf_write_all(fd, r, sizeof(*r) * n) == 0 &&
	    sf_write_all(fd, &sum, sizeof(sum)) == 0 && fsync(fd) == 0)
		rc = 0;
	if (fd != -1 && close(fd) == -1)
		rc = -1;
	if (rc == 0 && rename(tmp, path) == -1)
		rc = -1;
	if (rc == 0 && sf_sync_dir(path) != 0)
		rc = -1;
	if (rc == -1) {
		log_warn("state: write %s", path);
		if (fd != -1)
			unlink(tmp);
	} else {
		st_cat_sum = sum;
		log_info("state: catalog of %u tables saved in %s", n,
		    d->conf.state_dir);
	}
out:
	XXH3_freeState(xs);
	free(r);
	return rc;
}

/* ---------------------------------------------------------------- */
/* Loading (the supervisor, at start, before any child runs). */

/* The catalog file, verified; NULL (logged) if there is none usable. */
static struct st_rec *
st_read_catalog(const struct daemon *d, struct st_head *h)
{
	struct st_rec	*r = NULL;
	struct stat	 st;
	char		 path[PATH_MAX];
	unsigned char	*buf = NULL;
	uint64_t	 sum;
	size_t		 len;
	int		 fd;

	if (st_path(d, path, sizeof(path), "catalog", 0) == -1)
		return NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1) {
		if (errno != ENOENT)
			log_warn("state: %s", path);
		else
			log_info("state: no saved tables in %s",
			    d->conf.state_dir);
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size < (off_t)(sizeof(*h) + sizeof(sum)) ||
	    st.st_size > (off_t)(1u << 30) ||
	    (buf = malloc((size_t)st.st_size)) == NULL ||
	    pread(fd, buf, (size_t)st.st_size, 0) != st.st_size)
		goto bad;
	len = (size_t)st.st_size;
	memcpy(h, buf, sizeof(*h));
	memcpy(&sum, buf + len - sizeof(sum), sizeof(sum));
	if (memcmp(h->magic, ST_MAGIC, sizeof(h->magic)) != 0 ||
	    h->version != ST_VERSION ||
	    len != sizeof(*h) + (size_t)h->count * sizeof(*r) + sizeof(sum) ||
	    XXH3_64bits(buf, len - sizeof(sum)) != sum)
		goto bad;
	if ((r = calloc(h->count ? h->count : 1, sizeof(*r))) == NULL)
		goto bad;
	memcpy(r, buf + sizeof(*h), (size_t)h->count * sizeof(*r));
	free(buf);
	close(fd);
	return r;
bad:
	log_warnx("state: %s is not a catalog this protetsd can read: "
	    "nothing loaded; kept as catalog.bad, the tables' files left as "
	    "they are", path);
	st_set_aside(path);
	free(buf);
	close(fd);
	return NULL;
}

static int
st_insert(void *dst, const protets_kv *kv, size_t n)
{
	return tbl_insert_many(dst, kv, n, 0);
}

/* What the catalog record says of its table (shards: the file's). */
static void
st_rec_meta(const struct st_rec *r, struct tbl_meta *m)
{
	memset(m, 0, sizeof(*m));
	m->id = r->id;
	m->type = r->type;
	m->access = r->access;
	m->owner_uid = r->owner_uid;
	m->created = r->created;
	m->quota = r->quota;
	memcpy(m->name, r->name, r->name_len);
}

/*
 * The reservation of a table loaded from a file of fsize bytes: what the
 * configuration gives a table of its quota, and room enough for what the
 * file holds (about 4 times its bytes at worst: tiny entries, their
 * index), for a table that held more than its quota (resized down) or
 * than a max_size lowered since.  With preallocate, its size as asked.
 */
static uint64_t
st_reserve(const struct daemon *d, uint64_t quota, uint64_t fsize)
{
	uint64_t	r = seg_reserve(&d->conf, quota), need;

	if (d->conf.preallocate)
		return r;
	need = fsize < CONF_MAX_SIZE / 4 ? fsize * 4 + (64ull << 20) :
	    CONF_MAX_SIZE;
	if (need > CONF_MAX_SIZE)
		need = CONF_MAX_SIZE;
	return r > need ? r : (need + 4095) & ~(uint64_t)4095;
}

/*
 * A new segment for r, filled from the verified file fd, with no quota
 * until it is whole (an order other than the saved one may need more
 * room); its fd, its size in *sizep, or -1.
 */
static int
st_segment(const struct daemon *d, const struct st_rec *r, int fd,
    const struct sf_plan *pl, uint64_t *sizep, int *rc)
{
	const struct sf_meta	*fm = sf_plan_meta(pl);
	struct tbl_meta		 m;
	struct tbl		 t;
	struct stat		 sb;
	void			*base;
	size_t			 len;
	int			 sfd;

	st_rec_meta(r, &m);
	m.nshards = fm->wc;
	m.quota = 0;
	if (fm->type != r->type) {
		*rc = PROTETS_EFILE;
		return -1;
	}
	if (fstat(fd, &sb) == -1) {
		*rc = errno;
		return -1;
	}
	*sizep = st_reserve(d, r->quota, (uint64_t)sb.st_size);
	if ((sfd = seg_create(m.name, *sizep, d->conf.preallocate)) == -1) {
		*rc = errno;
		return -1;
	}
	if (seg_map(sfd, 1, &base, &len) == -1) {
		*rc = errno;
		close(sfd);
		return -1;
	}
	if ((*rc = tbl_format(base, len, &m)) == 0 &&
	    (*rc = tbl_open(&t, base, len, 1)) == 0 &&
	    (*rc = sf_fill(fd, pl, st_insert, &t)) == 0 &&
	    tbl_set_quota(&t, r->quota) != 0)
		log_warnx("state: table %.*s: its size %" PRIu64 " is below "
		    "the minimum of its shards: loaded without one",
		    (int)r->name_len, r->name, r->quota);
	munmap(base, len);
	if (*rc != 0) {
		close(sfd);
		return -1;
	}
	return sfd;
}

/* Keep a file that failed: renamed .bad, never deleted. */
static void
st_set_aside(const char *path)
{
	char	bad[PATH_MAX + 8];

	snprintf(bad, sizeof(bad), "%s.bad", path);
	if (rename(path, bad) == -1)
		log_warn("state: rename %s", path);
}

/* Load one table; 0 (recovered), or 1 when it is not loaded. */
static int
st_load_one(struct daemon *d, const struct st_rec *r)
{
	struct tbl_meta	 m;
	struct sf_plan	*pl = NULL;
	char		 path[PATH_MAX];
	uint64_t	 size = 0;
	int		 fd, sfd = -1, rc;

	if (st_table_path(d, r->id, path, sizeof(path)) == -1)
	{
		log_warnx("state: %s: path too long", d->conf.state_dir);
		return 1;
	}
	if (r->name_len == 0 || r->name_len > PROTETS_NAME_MAX ||
	    memchr(r->name, '\0', r->name_len) != NULL ||
	    r->type < PROTETS_SET || r->type > PROTETS_DUPLICATE_BAG ||
	    r->access < PROTETS_PUBLIC || r->access > PROTETS_PRIVATE ||
	    (r->quota != 0 && (r->quota < tbl_min_size() ||
	    r->quota > CONF_MAX_SIZE))) {
		rc = PROTETS_EFILE;
		st_set_aside(path);
	} else if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1) {
		if (errno == ENOENT) {
			log_warnx("state: table %.*s has no file: dropped "
			    "after the catalog was saved, or never saved (its "
			    "worker was down at the stop)", (int)r->name_len,
			    r->name);
			return 1;
		}
		rc = errno;
	} else {
		if ((rc = sf_verify(fd, &pl)) == 0)
			sfd = st_segment(d, r, fd, pl, &size, &rc);
		sf_free(pl);
		close(fd);
		/* Whatever failed, the file is kept out of the next save's way. */
		if (sfd == -1)
			st_set_aside(path);
	}
	if (sfd == -1) {
		log_warnx("state: table %.*s (id %" PRIu64 ") not loaded: %s; "
		    "its file, if any, is kept as table-%" PRIu64 ".pts.bad",
		    (int)r->name_len, r->name, r->id,
		    rc > 0 ? strerror(rc) : protets_strerror(rc), r->id);
		d->naside++;
		return 1;
	}
	st_rec_meta(r, &m);
	if ((rc = recover_add(d, &m, size, sfd)) != 0) {
		log_warnx("state: table %.*s not loaded: %s; its file is kept "
		    "as table-%" PRIu64 ".pts.bad", (int)r->name_len, r->name,
		    protets_strerror(rc), r->id);
		st_set_aside(path);
		close(sfd);
		d->naside++;
		return 1;
	}
	return 0;
}

/*
 * The temporary files of saves a kill interrupted ("table-<id>.pts.XXXXXX",
 * "catalog.XXXXXX"): the files they were to replace are whole.
 */
static void
st_clean(const struct daemon *d)
{
	struct dirent	*de;
	DIR		*dir;
	char		 path[PATH_MAX];
	const char	*dot;

	if ((dir = opendir(d->conf.state_dir)) == NULL)
		return;
	while ((de = readdir(dir)) != NULL) {
		dot = strrchr(de->d_name, '.');
		if (dot == NULL || strlen(dot) != 7 ||
		    (strncmp(de->d_name, "table-", 6) != 0 &&
		    strncmp(de->d_name, "catalog.", 8) != 0) ||
		    strcmp(dot, ".pts") == 0 || strcmp(dot, ".bad") == 0)
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s",
		    d->conf.state_dir, de->d_name) < sizeof(path) &&
		    unlink(path) == 0)
			log_info("state: removed %s, left by an interrupted "
			    "save", de->d_name);
	}
	closedir(dir);
}

void
state_load(struct daemon *d)
{
	struct st_head	 h;
	struct st_rec	*r;
	int64_t		 t0;
	uint32_t	 i;

	if (mkdir(d->conf.state_dir, 0700) == -1 && errno != EEXIST)
		log_warn("state: mkdir %s: tables will not survive a stop",
		    d->conf.state_dir);
	st_clean(d);
	if ((r = st_read_catalog(d, &h)) == NULL)
		return;
	free(d->rec);	/* the fd store's, none taken */
	if ((d->rec = calloc(h.count ? h.count : 1, sizeof(*d->rec))) ==
	    NULL)
		fatal("calloc");
	cat_lock(&d->cat);
	for (i = 0, t0 = clk_now_ms(); i < h.count; i++) {
		(void)st_load_one(d, &r[i]);
		/* A long load: systemd's TimeoutStartSec= waits 15 s more. */
		if (clk_now_ms() - t0 >= 5000) {
			notify_send("EXTEND_TIMEOUT_USEC=15000000");
			t0 = clk_now_ms();
		}
	}
	if (h.next_id > d->cat.hdr->next_id)
		d->cat.hdr->next_id = h.next_id;
	cat_unlock(&d->cat);
	free(r);
	d->rec_from = "the state directory";
	log_info("state: %d tables loaded from %s, %d not loaded", d->nrec,
	    d->conf.state_dir, d->naside);
}
