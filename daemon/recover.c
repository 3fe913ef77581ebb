/*
 * recover.c - tables handed back by systemd's fd store.
 *
 * When every protetsd process died at once (kill of the whole service, an
 * OOM kill, a crash of the supervisor), systemd restarts the service and
 * passes back the fds the monitor stored (FDNAME=seg-<id>).  Without
 * systemd, a monitor replacing a dead supervisor (takeover.c) hands them
 * over the same way.  Each segment
 * is validated (magic, format signature, a full tbl_check); the catalog is
 * rebuilt, each table's name, owner and access mode taken from the
 * catalog of the service that died (stored as FDNAME=catalog, mapped by
 * daemon processes only), never from the segment's header, which whoever
 * may write the table may rewrite (it made the attacker the owner of a
 * victim's table after a restart).  Only a store without a catalog (a
 * protetsd before it was stored) falls back to the headers.  The valid
 * segments are assigned to worker slots and, once the monitor runs, handed
 * to it, so that the workers receive them through the ordinary handoff.  A
 * segment that fails validation, or that the catalog does not know, is
 * reported and set aside: the supervisor keeps its fd and never removes
 * it from the store, so it is not lost by accident.  The new catalog then
 * replaces the old one in the store (recover_store_catalog).
 *
 * fd ownership: valid segments' fds belong to the supervisor until
 * supervisor.c sends them to the monitor and closes them; set-aside fds
 * stay with the supervisor for its whole life; the old catalog's fd is
 * closed once read.
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "notify.h"
#include "segment.h"
#include "table.h"

int
daemon_fdstore(const struct daemon *d)
{
	return d->conf.fdstore && notify_enabled();
}

/*
 * Validate one segment; fill m.  0, or a protets error code.  The full
 * check runs in a confined child of its own (sandbox.c): a crash in it is
 * this segment's, set aside, not the recovery's.  Its lock is waited for
 * REC_LOCK_WAIT_MS at most: a client may hold it as the service restarts
 * (for microseconds), or write a made-up owner into it (for ever); the
 * table is then kept unchecked, never set aside for its lock (whoever
 * jams the lock so skips the check at recovery: what is read from the
 * segment later is bounds-checked where it is used), and so is one whose
 * check ran out of time.  fdname names the segment in the log.
 */
static int
rec_validate(int fd, const char *fdname, struct tbl_meta *m,
    uint64_t *size)
{
	struct tbl	 t;
	struct stat	 sb;
	void		*base;
	size_t		 len;
	char		 msg[256];
	int		 rc;

	if (seg_map(fd, 0, &base, &len) == -1)
		return PROTETS_ECORRUPT;
	*size = len;
	/* its time limit by what it holds (pages), not by its reservation */
	rc = sbx_check(fd, fdname, fstat(fd, &sb) == 0 ?
	    (uint64_t)sb.st_blocks * 512 : len, msg, sizeof(msg));
	if (msg[0] != '\0')
		log_warnx("segment %s: %s", fdname, msg);
	/* the header again, here: the table's identity, for the catalog */
	if (rc == 0 && (rc = tbl_open(&t, base, len, 0)) == 0)
		rc = tbl_meta(&t, m);
	munmap(base, len);
	return rc;
}

/*
 * A segment an orderly stop retired and saved (systemctl restart keeps the
 * store), once it is known to be kept: nothing changed it since, so it is
 * the table's live copy again, and mappings held across the restart work
 * again.  retire: the other way, for one that was not kept after all.
 * 0, or a protets error: PROTETS_ELOCKED (a stalled process holds a
 * shard's lock: the table is kept, retired until its next get), else the
 * segment is set aside.
 */
int
recover_unretire(int fd, int retire)
{
	struct tbl	 t;
	void		*base;
	size_t		 len;
	int		 rc;

	if (seg_map(fd, 1, &base, &len) == -1)
		return PROTETS_ECORRUPT;
	if ((rc = tbl_open(&t, base, len, 1)) == 0) {
		t.lock_timeout_ms = REC_LOCK_WAIT_MS;
		rc = retire ? tbl_retire(&t) : tbl_unretire(&t);
	}
	munmap(base, len);
	return rc;
}

/* The catalog of the service that died, mapped read-only. */
struct rec_cat {
	const struct cat_hdr	*hdr;
	size_t			 size;
	uint32_t		 nentries;	/* validated against size */
};

static int
rec_cat_open(int fd, struct rec_cat *rc)
{
	struct cat_hdr	 h;
	void		*base;
	size_t		 len;

	rc->hdr = NULL;
	if (seg_map(fd, 0, &base, &len) == -1)
		return -1;
	if (len < sizeof(h))
		goto bad;
	memcpy(&h, base, sizeof(h));
	if (h.magic != CAT_MAGIC || h.version != CAT_VERSION ||
	    h.nentries > (len - sizeof(h)) / sizeof(struct cat_entry))
		goto bad;
	rc->hdr = base;
	rc->size = len;
	rc->nentries = h.nentries;
	return 0;
bad:
	munmap(base, len);
	return -1;
}

/*
 * A private copy of the entry of table id in rc; 0, or -1.  A table being
 * created when the service died (CREATING: its fields are filled, its
 * segment stored) counts, as the worker's reconciliation counts it.
 */
static int
rec_cat_find(const struct rec_cat *rc, uint64_t id, struct cat_entry *out)
{
	uint32_t	i, st;

	for (i = 0; i < rc->nentries; i++) {
		st = cat_state(&rc->hdr->entries[i]);
		if (st != CAT_READY && st != CAT_CREATING)
			continue;
		memcpy(out, &rc->hdr->entries[i], sizeof(*out));
		if (out->id == id)
			return out->name_len >= 1 &&
			    out->name_len <= PROTETS_NAME_MAX &&
			    memchr(out->name, '\0', out->name_len) == NULL ?
			    0 : -1;
	}
	return -1;
}

/*
 * What the old catalog says of table m->id wins over its header: name,
 * owner, access.  A table it does not know was dropped as the service
 * died (the drop frees the entry, then the monitor takes the segment out
 * of the store): PROTETS_NOTFOUND.  One it knows as another type is
 * refused.
 */
static int
rec_cat_apply(const struct rec_cat *rc, struct tbl_meta *m)
{
	struct cat_entry	e;

	if (rc->hdr == NULL)
		return 0;
	if (rec_cat_find(rc, m->id, &e) != 0)
		return PROTETS_NOTFOUND;
	if (e.type != m->type)
		return PROTETS_ECORRUPT;
	if (strncmp(e.name, m->name, sizeof(m->name)) != 0 ||
	    strlen(m->name) != e.name_len || e.owner_uid != m->owner_uid ||
	    e.access != m->access)
		log_warnx("segment %" PRIu64 ": its header says %.*s, uid %u, "
		    "access %u; the catalog %.*s, uid %u, access %u: the "
		    "catalog's kept", m->id, PROTETS_NAME_MAX, m->name,
		    m->owner_uid, m->access, (int)e.name_len, e.name,
		    e.owner_uid, e.access);
	memset(m->name, 0, sizeof(m->name));
	memcpy(m->name, e.name, e.name_len);
	m->owner_uid = e.owner_uid;
	m->access = e.access;
	m->created = e.created;
	m->flags = (e.flags & CAT_VOLATILE) ? TBL_VOLATILE : 0;
	/*
	 * The size asked for, as the catalog kept it: the headers hold its
	 * shares (0 where one is the whole shard), in memory any writer may
	 * change; the worker that adopts the segment writes it back.
	 */
	m->quota = e.quota;
	return 0;
}

int
recover_add(struct daemon *d, const struct tbl_meta *m, uint64_t size, int fd)
{
	struct catalog		*cat = &d->cat;
	struct cat_entry	*e;
	struct recovered	*r;

	if (cat_find(cat, m->name) != NULL || cat_find_id(cat, m->id) != NULL)
		return PROTETS_EXISTS;
	if ((e = cat_alloc(cat, cat->hdr->nentries)) == NULL)
		return PROTETS_ELIMIT;
	e->id = m->id;
	e->type = m->type;
	e->access = m->access;
	e->owner_uid = m->owner_uid;
	e->created = m->created;
	e->size = size;
	e->quota = m->quota;
	e->used = 0;
	e->flags = (m->flags & TBL_VOLATILE) ? CAT_VOLATILE : 0;
	e->worker = cat_least_loaded(cat);
	e->name_len = (uint32_t)strnlen(m->name, PROTETS_NAME_MAX);
	memcpy(e->name, m->name, e->name_len);
	e->name[e->name_len] = '\0';
	cat_set_state(e, CAT_READY);
	if (m->id >= cat->hdr->next_id)
		cat->hdr->next_id = m->id + 1;
	r = &d->rec[d->nrec++];
	r->id = m->id;
	r->fd = fd;
	r->slot = e->worker;
	return 0;
}

/* Is name a stored catalog's, "catalog-<gen>"?  Its generation in *gen. */
static int
rec_cat_name(const char *name, uint64_t *gen)
{
	char	junk;

	return sscanf(name, "catalog-%" SCNu64 "%c", gen, &junk) == 1;
}

/*
 * The newest of the catalogs the store gave back, opened into old (none:
 * old->hdr NULL); every catalog fd closed (marked -1 in fds), and its
 * generation kept for recover_store_catalog to remove.
 */
static void
rec_cat_take(struct daemon *d, struct notify_fd *fds, int n,
    struct rec_cat *old)
{
	uint64_t	gen;
	int		i, newest = -1;

	for (i = 0; i < n; i++) {
		if (!rec_cat_name(fds[i].name, &gen) || d->ncat_old ==
		    (int)(sizeof(d->cat_old) / sizeof(d->cat_old[0])))
			continue;
		d->cat_old[d->ncat_old++] = gen;
		if (newest == -1 || gen > d->cat_gen) {
			newest = i;
			d->cat_gen = gen;
		}
	}
	if (newest != -1 && rec_cat_open(fds[newest].fd, old) == -1)
		log_warnx("fd store: %s is not a catalog we can read: names "
		    "and owners from the segments", fds[newest].name);
	for (i = 0; i < n; i++)
		if (rec_cat_name(fds[i].name, &gen)) {
			close(fds[i].fd);
			fds[i].fd = -1;
		}
	if (old->hdr == NULL)
		log_warnx("fd store: no catalog: names and owners from the "
		    "segments' headers");
}

/* A segment the catalog no longer has: its drop, finished. */
static void
rec_finish_drop(const struct daemon *d, const char *name, int fd)
{
	char	msg[320];

	log_warnx("fd store: segment %s was dropped as the service died "
	    "(not in the catalog): removed", name);
	snprintf(msg, sizeof(msg), "FDSTOREREMOVE=1\nFDNAME=%s", name);
	if (daemon_fdstore(d) && notify_send(msg) == -1)
		log_warn("fd store: remove %s", name);
	close(fd);
}

void
recover_fdstore(struct daemon *d)
{
	struct notify_fd	*fds;
	struct tbl_meta		 m;
	struct rec_cat		 old = { NULL, 0, 0 };
	uint64_t		 size, id;
	int			 i, n, rc, e;

	if ((n = notify_listen_fds(&fds)) <= 0)
		return;
	if ((d->rec = calloc((size_t)n, sizeof(*d->rec))) == NULL)
		fatal("calloc");
	rec_cat_take(d, fds, n, &old);
	cat_lock(&d->cat);
	for (i = 0; i < n; i++) {
		memset(&m, 0, sizeof(m));
		if (fds[i].fd == -1)
			continue;	/* the catalog */
		if (sscanf(fds[i].name, "seg-%" SCNu64, &id) != 1) {
			log_warnx("fd store: unknown fd \"%s\" set aside",
			    fds[i].name);
			d->naside++;
			continue;
		}
		rc = rec_validate(fds[i].fd, fds[i].name, &m, &size);
		if (rc == 0 && m.id != id)
			rc = PROTETS_ECORRUPT;
		if (rc == 0 && (rc = rec_cat_apply(&old, &m)) ==
		    PROTETS_NOTFOUND) {
			rec_finish_drop(d, fds[i].name, fds[i].fd);
			continue;
		}
		if (rc == 0 && (e = recover_unretire(fds[i].fd, 0)) != 0) {
			if (e != PROTETS_ELOCKED)
				rc = e;
			else	/* kept; its next get unretires it (proto.c) */
				log_warnx("segment %s: a stalled process holds "
				    "its lock: the table stays retired until it "
				    "lets go", fds[i].name);
		}
		if (rc == 0 && (rc = recover_add(d, &m, size, fds[i].fd)) != 0)
			(void)recover_unretire(fds[i].fd, 1);
		if (rc != 0) {
			log_warnx("fd store: segment %s (%s) set aside: %s",
			    fds[i].name, m.name[0] ? m.name : "?",
			    protets_strerror(rc));
			d->naside++;
			continue;
		}
		log_info("fd store: recovered table %s", m.name);
	}
	cat_unlock(&d->cat);
	if (old.hdr != NULL)
		munmap((void *)old.hdr, old.size);
	d->rec_from = "systemd's fd store";
	log_info("fd store: %d tables recovered, %d set aside", d->nrec,
	    d->naside);
	free(fds);
}

/*
 * Ours first, as the next generation, then the old ones out: a service
 * killed in between leaves both, and the next start reads the newest.
 * (The notify protocol says nothing back: a store that refused ours, a
 * full one, would leave none; FileDescriptorStoreMax= is max_tables + 1
 * at least, docs/SYSTEMD.md.)
 */
void
recover_store_catalog(struct daemon *d)
{
	char	msg[96];
	int	i;

	/* Ours is the next generation (an upgrade passes it on, takeover.c). */
	d->cat_gen = d->ncat_old > 0 ? d->cat_gen + 1 : 1;
	if (!daemon_fdstore(d))
		return;
	snprintf(msg, sizeof(msg), "FDSTORE=1\nFDPOLL=0\nFDNAME=catalog-%"
	    PRIu64, d->cat_gen);
	if (notify_send_fds(msg, &d->cat.fd, 1) == -1) {
		log_warn("fd store: the catalog");
		return;
	}
	for (i = 0; i < d->ncat_old; i++) {
		snprintf(msg, sizeof(msg), "FDSTOREREMOVE=1\nFDNAME=catalog-%"
		    PRIu64, d->cat_old[i]);
		if (notify_send(msg) == -1)
			log_warn("fd store: remove an old catalog");
	}
}
