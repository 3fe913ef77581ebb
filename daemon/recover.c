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
 * Validate one segment; fill m.  0, or a protets error code.  Its lock is
 * waited for REC_LOCK_WAIT_MS at most: a client may hold it as the service
 * restarts (for microseconds), or write a made-up owner into it (for
 * ever); the table is then kept unchecked, never set aside for its lock.
 */
#define REC_LOCK_WAIT_MS	100

static int
rec_validate(int fd, struct tbl_meta *m, uint64_t *size)
{
	struct tbl	 t;
	void		*base;
	size_t		 len;
	char		 msg[256] = "";
	int		 rc;

	if (seg_map(fd, 1, &base, &len) == -1)
		return PROTETS_ECORRUPT;
	if ((rc = tbl_open(&t, base, len, 1)) == 0) {
		t.lock_timeout_ms = REC_LOCK_WAIT_MS;
		if ((rc = tbl_check(&t, msg, sizeof(msg))) == PROTETS_ELOCKED) {
			log_warnx("segment %s: not checked: its lock is held",
			    m->name[0] ? m->name : "?");
			msg[0] = '\0';
			rc = 0;
		}
	}
	if (rc == 0)
		rc = tbl_meta(&t, m);
	if (rc != 0 && msg[0] != '\0')
		log_warnx("segment %s: %s", m->name[0] ? m->name : "?", msg);
	*size = len;
	munmap(base, len);
	return rc;
}

/* The catalog of the service that died, mapped read-only. */
struct rec_cat {
	const struct cat_hdr	*hdr;
	size_t			 size;
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
	return 0;
bad:
	munmap(base, len);
	return -1;
}

/* A private copy of the READY entry of table id in rc; 0, or -1. */
static int
rec_cat_find(const struct rec_cat *rc, uint32_t nentries, uint64_t id,
    struct cat_entry *out)
{
	uint32_t	i;

	for (i = 0; i < nentries; i++) {
		if (cat_state(&rc->hdr->entries[i]) != CAT_READY)
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
 * owner, access.  A table it does not know (made as the service died,
 * never acknowledged) or knows as another type is refused.
 */
static int
rec_cat_apply(const struct rec_cat *rc, struct tbl_meta *m)
{
	struct cat_entry	e;

	if (rc->hdr == NULL)
		return 0;
	if (rec_cat_find(rc, rc->hdr->nentries, m->id, &e) != 0)
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
	return 0;
}

static int
rec_add(struct daemon *d, const struct tbl_meta *m, uint64_t size, int fd)
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
	e->max_size = size;
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

void
recover_fdstore(struct daemon *d)
{
	struct notify_fd	*fds;
	struct tbl_meta		 m;
	struct rec_cat		 old = { NULL, 0 };
	uint64_t		 size, id;
	int			 i, n, rc;

	if ((n = notify_listen_fds(&fds)) <= 0)
		return;
	if ((d->rec = calloc((size_t)n, sizeof(*d->rec))) == NULL)
		fatal("calloc");
	for (i = 0; i < n; i++) {
		if (strcmp(fds[i].name, "catalog") != 0)
			continue;
		if (old.hdr == NULL && rec_cat_open(fds[i].fd, &old) == -1)
			log_warnx("fd store: the catalog is not one we can "
			    "read: names and owners from the segments");
		close(fds[i].fd);
		fds[i].fd = -1;
	}
	if (old.hdr == NULL)
		log_warnx("fd store: no catalog: names and owners from the "
		    "segments' headers");
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
		if ((rc = rec_validate(fds[i].fd, &m, &size)) == 0 &&
		    m.id != id)
			rc = PROTETS_ECORRUPT;
		if (rc == 0)
			rc = rec_cat_apply(&old, &m);
		if (rc == 0)
			rc = rec_add(d, &m, size, fds[i].fd);
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
	log_info("fd store: %d tables recovered, %d set aside", d->nrec,
	    d->naside);
	free(fds);
}

void
recover_store_catalog(const struct daemon *d)
{
	if (!daemon_fdstore(d))
		return;
	if (notify_send("FDSTOREREMOVE=1\nFDNAME=catalog") == -1 ||
	    notify_send_fds("FDSTORE=1\nFDPOLL=0\nFDNAME=catalog",
	    &d->cat.fd, 1) == -1)
		log_warn("fd store: the catalog");
}
