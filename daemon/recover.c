/*
 * recover.c - tables handed back by systemd's fd store.
 *
 * When every protetsd process died at once (kill of the whole service, an
 * OOM kill, a crash of the supervisor), systemd restarts the service and
 * passes back the fds the monitor stored (FDNAME=seg-<id>).  Without
 * systemd, a monitor replacing a dead supervisor (takeover.c) hands them
 * over the same way.  Each segment
 * is validated (magic, format signature, a full tbl_check); the catalog is
 * rebuilt from the segments' own headers; the valid ones are assigned to
 * worker slots and, once the monitor runs, handed to it, so that the
 * workers receive them through the ordinary handoff.  A segment that fails
 * validation is reported and set aside: the supervisor keeps its fd and
 * never removes it from the store, so it is not lost by accident.
 *
 * fd ownership: valid segments' fds belong to the supervisor until
 * supervisor.c sends them to the monitor and closes them; set-aside fds
 * stay with the supervisor for its whole life.
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
	uint64_t		 size, id;
	int			 i, n, rc;

	if ((n = notify_listen_fds(&fds)) <= 0)
		return;
	if ((d->rec = calloc((size_t)n, sizeof(*d->rec))) == NULL)
		fatal("calloc");
	cat_lock(&d->cat);
	for (i = 0; i < n; i++) {
		memset(&m, 0, sizeof(m));
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
	log_info("fd store: %d tables recovered, %d set aside", d->nrec,
	    d->naside);
	free(fds);
}
