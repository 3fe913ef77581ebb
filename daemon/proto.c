/*
 * proto.c - the requests of docs/PROTOCOL.md, as a worker serves them.
 *
 * Requests about one table (GET of an existing table, DROP, INFO, REPAIR)
 * are served by the worker owning it: any other worker passes the
 * connection on.  A new table is created by the least loaded worker.
 * Access is decided from SO_PEERCRED and enforced by the kernel through
 * the fd handed out: others than the owner get an O_RDONLY fd of a
 * protected table.
 */

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "layout.h"
#include "log.h"
#include "segment.h"
#include "worker.h"

/* Table entry and our mapping of it, when this worker owns it. */
struct proto_tab {
	struct cat_entry	 e;	/* a copy, taken under the lock */
	struct wtable		*t;
};

static void
proto_status(struct conn *c, const struct wire_hdr *h, int32_t rc)
{
	conn_reply(c, h, rc, NULL, 0, -1);
}

/* Forward, or answer EAGAIN if we cannot; returns 1 when forwarded. */
static int
proto_forward(struct conn *c, const struct wire_hdr *h, int slot,
    int create_here)
{
	int	 rc;

	if ((rc = conn_forward(c, slot, create_here)) == 0)
		return 1;
	proto_status(c, h, rc);
	return 0;
}

/*
 * Look name up.  Returns 0 with *pt filled when we own it, 1 when the
 * connection was forwarded to the owner, -1 when an error was replied.
 */
static int
proto_owned(struct conn *c, const struct wire_hdr *h, const char *name,
    struct proto_tab *pt)
{
	struct catalog		*cat = &wk->d->cat;
	struct cat_entry	*e;
	int			 owner;

	cat_lock(cat);
	if ((e = cat_find(cat, name)) == NULL) {
		cat_unlock(cat);
		conn_error(c, h, PROTETS_NOTFOUND, "no table named %s", name);
		return -1;
	}
	owner = e->worker;
	pt->e = *e;
	cat_unlock(cat);
	if (owner != wk->slot)
		return proto_forward(c, h, owner, 0) ? 1 : -1;
	pt->t = worker_table(pt->e.id);
	if (pt->t == NULL || pt->t->bad) {
		proto_status(c, h, PROTETS_ECORRUPT);
		return -1;
	}
	/*
	 * Retired, yet ours to serve: its recovery found its lock held by a
	 * stalled process (recover.c).  Live again once the lock is free.
	 */
	if (__builtin_expect(tbl_retired(&pt->t->tbl), 0))
		(void)tbl_unretire(&pt->t->tbl);
	return 0;
}

/* Parse a request that is just a table name, and find its owner. */
static int
proto_name_owned(struct conn *c, const struct wire_hdr *h, struct rbuf *r,
    char name[PROTETS_NAME_MAX + 1], struct proto_tab *pt)
{
	int	 rc;

	if ((rc = wire_get_name(r, name)) != 0 || (rc = rbuf_end(r)) != 0) {
		proto_status(c, h, rc);
		return -1;
	}
	return proto_owned(c, h, name, pt);
}

static int
proto_is_owner(const struct conn *c, const struct cat_entry *e)
{
	return c->uid == 0 || c->uid == e->owner_uid;
}

/* May c see table e at all?  Another uid's private table: root only. */
static int
proto_may_see(const struct conn *c, const struct cat_entry *e)
{
	return e->access != PROTETS_PRIVATE || proto_is_owner(c, e);
}

/* Refuse c a table it may not see, saying so; 1 when refused. */
static int
proto_hidden(struct conn *c, const struct wire_hdr *h,
    const struct cat_entry *e)
{
	if (proto_may_see(c, e))
		return 0;
	conn_error(c, h, PROTETS_EACCES, "table %s is private", e->name);
	return 1;
}

static void
proto_info_fill(const struct proto_tab *pt, protets_info *in)
{
	struct tbl_stats	 st;
	struct tbl		 ro;

	memset(in, 0, sizeof(*in));
	memcpy(in->name, pt->e.name, pt->e.name_len);
	in->type = (protets_type)pt->e.type;
	in->access = (protets_access)pt->e.access;
	in->owner_uid = pt->e.owner_uid;
	in->worker = pt->e.worker;
	in->worker_pid = cat_proc_pid(&wk->d->cat.hdr->workers[pt->e.worker]);
	in->id = pt->e.id;
	in->created = pt->e.created;
	in->bytes_size = pt->e.size;
	in->bytes_quota = pt->e.quota;
	in->bytes_memory = __atomic_load_n(&pt->e.used, __ATOMIC_RELAXED);
	if (pt->t == NULL || pt->t->bad)
		return;
	in->bytes_memory = worker_table_memory(pt->t);
	/*
	 * Read as a read-only reader would: never through the lock, which a
	 * writable reader takes when a write stays half done (and would then
	 * replay a dead writer's log here, in the worker: sandbox.c's job).
	 */
	ro = pt->t->tbl;
	ro.writable = 0;
	if (tbl_stats(&ro, &st) == 0) {
		in->entries = st.entries;
		in->bytes_used = st.bytes_held;
		in->bytes_size = st.bytes_size;
		in->bytes_free = st.bytes_free;
		in->largest_fit = st.largest_fit;
		in->write_concurrency = pt->t->tbl.nshards;
	}
}

/*
 * The mark that a description of a segment is held (proto_serve_get):
 * an OFD read lock over the whole file.  Not a flock: any description,
 * a read-only one too, may turn a shared flock into an exclusive one,
 * and a reader of another uid's protected table could then lock every
 * later get out (trust issue).  A write lock needs a writable
 * description, and only a writer of the table, who may damage it anyway,
 * can take one.  The lock lasts as long as the description, which a
 * mapping holds too, whatever way its holder dies.
 */
static int
proto_held_lock(int fd, short type, int cmd)
{
	struct flock	fl = { .l_type = type, .l_whence = SEEK_SET };

	if (fcntl(fd, cmd, &fl) == -1)
		return -1;
	return cmd == F_OFD_GETLK && fl.l_type != F_UNLCK;
}

/*
 * An existing table asked for with options of its own (want, as the
 * client sent them: 0 where it set none) that are not the table's: reply
 * saying what the table is, and return -1.  max_size is not compared.
 */
static int
proto_mismatch(struct conn *c, const struct wire_hdr *h,
    const struct proto_tab *pt, const struct wire_get *want)
{
	unsigned	ns = pt->t->tbl.nshards;

	if ((want->type == 0 || want->type == pt->e.type) &&
	    (want->access == 0 || want->access == pt->e.access) &&
	    (want->write_concurrency == 0 || want->write_concurrency == ns))
		return 0;
	conn_error(c, h, PROTETS_EMISMATCH, "table %s exists: %s, %s, "
	    "write_concurrency %u", pt->e.name,
	    protets_type_name((protets_type)pt->e.type),
	    protets_access_name((protets_access)pt->e.access), ns);
	return -1;
}

/*
 * Serve a GET of the table pt; want: the options asked for, when it was
 * not just created (proto_mismatch).
 */
static void
proto_serve_get(struct conn *c, const struct wire_hdr *h,
    const struct proto_tab *pt, const struct wire_get *want)
{
	protets_info	 in;
	struct wbuf	 w;
	int		 owner = proto_is_owner(c, &pt->e), writable, fd;

	if (proto_hidden(c, h, &pt->e))
		return;
	if (want != NULL && proto_mismatch(c, h, pt, want) == -1)
		return;
	writable = owner || pt->e.access == PROTETS_PUBLIC;
	if ((fd = seg_reopen(pt->t->fd, writable ? O_RDWR : O_RDONLY)) == -1) {
		proto_status(c, h, errno);
		return;
	}
	/* its own description, marked held until its last holder is gone */
	if (proto_held_lock(fd, F_RDLCK, F_OFD_SETLK) == -1) {
		proto_status(c, h, errno == EAGAIN ? PROTETS_EBUSY : errno);
		close(fd);
		return;
	}
	proto_info_fill(pt, &in);
	wbuf_init(&w);
	wire_put_info(&w, &in, writable ? WIRE_INFO_WRITABLE : 0);
	if (!w.err)
		hd_handed(pt->t, c->pid);	/* who, for info and drop */
	/* fd passes to conn_reply, which closes it once it is sent. */
	conn_reply(c, h, w.err ? ENOMEM : 0, w.data, w.err ? 0 : w.len, fd);
	wbuf_free(&w);
}

/* write_concurrency: 0 or 1, or shards of a hash type (tbl_nshards_ok). */
static int
proto_wc_check(struct conn *c, const struct wire_hdr *h,
    const struct wire_get *g)
{
	uint32_t	wc = g->write_concurrency;

	if (!tbl_nshards_ok(wc > 0 ? wc : 1, PROTETS_SET)) {
		conn_error(c, h, PROTETS_EINVAL, "write_concurrency %u is not "
		    "a power of two from 1 to %d", wc,
		    PROTETS_WRITE_CONCURRENCY_MAX);
		return -1;
	}
	if (!tbl_nshards_ok(wc > 0 ? wc : 1, g->type)) {
		conn_error(c, h, PROTETS_EINVAL, "write_concurrency %u: an "
		    "ordered_set has one lock", wc);
		return -1;
	}
	return 0;
}

/*
 * Validate GET's options; on error reply saying which, and return -1.
 * *quota: the size asked for, else default_size; 0: none.
 */
static int
proto_get_opts(struct conn *c, const struct wire_hdr *h, struct wire_get *g,
    uint64_t *quota)
{
	const struct conf	*cf = &wk->d->conf;

	if (g->flags & ~(uint32_t)(WIRE_GET_CREATE | WIRE_GET_EXCL |
	    WIRE_GET_VOLATILE)) {
		conn_error(c, h, PROTETS_EINVAL, "unknown flags 0x%x", g->flags);
		return -1;
	}
	if ((g->flags & WIRE_GET_EXCL) && !(g->flags & WIRE_GET_CREATE)) {
		conn_error(c, h, PROTETS_EINVAL, "flag EXCL without CREATE");
		return -1;
	}
	if (g->type == 0)
		g->type = PROTETS_SET;
	if (g->access == 0)
		g->access = PROTETS_PROTECTED;
	if (g->type < PROTETS_SET || g->type > PROTETS_DUPLICATE_BAG) {
		conn_error(c, h, PROTETS_EINVAL, "unknown table type %u",
		    g->type);
		return -1;
	}
	if (g->access < PROTETS_PUBLIC || g->access > PROTETS_PRIVATE) {
		conn_error(c, h, PROTETS_EINVAL, "unknown access mode %u",
		    g->access);
		return -1;
	}
	*quota = g->max_size ? g->max_size : cf->default_size;
	if (*quota > cf->max_size) {
		conn_error(c, h, PROTETS_ELIMIT, "size %llu exceeds max_size "
		    "(%llu)", (unsigned long long)*quota,
		    (unsigned long long)cf->max_size);
		return -1;
	}
	if (proto_wc_check(c, h, g) == -1)
		return -1;
	if (*quota != 0 && *quota < tbl_min_size_shards(g->write_concurrency)) {
		conn_error(c, h, PROTETS_EINVAL, "size %llu is below the "
		    "minimum (%zu%s)", (unsigned long long)*quota,
		    tbl_min_size_shards(g->write_concurrency),
		    g->write_concurrency > 1 ? " for that write_concurrency" :
		    "");
		return -1;
	}
	*quota = (*quota + 4095) & ~(uint64_t)4095;
	if (seg_reserve(cf, *quota) < tbl_min_size_shards(g->write_concurrency)) {
		conn_error(c, h, PROTETS_ELIMIT, "max_size (%llu) is below the "
		    "minimum of a table of write_concurrency %u (%zu)",
		    (unsigned long long)cf->max_size, g->write_concurrency,
		    tbl_min_size_shards(g->write_concurrency));
		return -1;
	}
	return 0;
}

/*
 * The limits on creating a table for c's uid (root is not limited per
 * uid); under the catalog lock.  Memory is what the uid's tables hold
 * now (a new table holds next to nothing until written).  On error reply
 * naming the limit, and return -1.
 */
static int
proto_limits(struct conn *c, const struct wire_hdr *h)
{
	const struct conf	*cf = &wk->d->conf;
	struct catalog		*cat = &wk->d->cat;
	uint64_t		 held;
	char			 msg[200];

	msg[0] = '\0';
	if (c->uid != 0 && cf->max_tables_per_uid > 0 &&
	    cat_count_uid(cat, c->uid) >= (uint32_t)cf->max_tables_per_uid)
		snprintf(msg, sizeof(msg), "max_tables_per_uid (%d) reached "
		    "for uid %u", cf->max_tables_per_uid, (unsigned)c->uid);
	else if (c->uid != 0 && cf->max_bytes_per_uid > 0 &&
	    (held = cat_bytes_uid(cat, c->uid)) >= cf->max_bytes_per_uid)
		snprintf(msg, sizeof(msg), "max_bytes_per_uid (%llu) reached "
		    "for uid %u: its tables hold %llu bytes", (unsigned long long)
		    cf->max_bytes_per_uid, (unsigned)c->uid,
		    (unsigned long long)held);
	if (msg[0] == '\0')
		return 0;
	log_warnx("%s", msg);
	conn_error(c, h, PROTETS_ELIMIT, "%s", msg);
	return -1;
}

/* Create the table here; the catalog entry was allocated by the caller. */
static int
proto_create(struct conn *c, const struct wire_get *g, uint64_t quota,
    struct cat_entry *e, struct proto_tab *pt)
{
	struct catalog	*cat = &wk->d->cat;
	struct tbl_meta	 m;
	int		 rc;

	e->type = g->type;
	e->access = g->access;
	e->owner_uid = c->uid;
	e->worker = wk->slot;
	e->created = (uint64_t)time(NULL);
	e->quota = quota;
	e->size = seg_reserve(&wk->d->conf, quota);
	e->used = 0;
	e->flags = (g->flags & WIRE_GET_VOLATILE) ? CAT_VOLATILE : 0;
	e->name_len = (uint32_t)strlen(g->name);
	memcpy(e->name, g->name, e->name_len + 1);
	cat_set_state(e, CAT_CREATING);
	pt->e = *e;
	cat_unlock(cat);

	memset(&m, 0, sizeof(m));
	m.id = e->id;
	m.type = e->type;
	m.access = e->access;
	m.owner_uid = e->owner_uid;
	m.created = e->created;
	m.nshards = g->write_concurrency;
	m.flags = (e->flags & CAT_VOLATILE) ? TBL_VOLATILE : 0;
	m.quota = quota;
	memcpy(m.name, e->name, e->name_len + 1);
	rc = worker_table_create(&m, e->size, &pt->t);

	cat_lock(cat);
	cat_set_state(e, rc == 0 ? CAT_READY : CAT_FREE);
	cat_unlock(cat);
	if (rc == 0)
		log_debug("created table %s (id %llu, uid %u)", m.name,
		    (unsigned long long)m.id, m.owner_uid);
	return rc;
}

static int
proto_get(struct conn *c, const struct wire_hdr *h, struct rbuf *r)
{
	struct catalog		*cat = &wk->d->cat;
	struct wire_get		 g;
	struct cat_entry	*e;
	struct proto_tab	 pt;
	struct wire_get		 want;
	uint64_t		 quota;
	int			 rc, target;

	if ((rc = wire_get_get(r, &g)) != 0) {
		proto_status(c, h, rc);
		return 0;
	}
	want = g;	/* before the defaults */
	if (proto_get_opts(c, h, &g, &quota) == -1)
		return 0;
	cat_lock(cat);
	if ((e = cat_find(cat, g.name)) != NULL) {
		cat_unlock(cat);
		/* protets_load must not fill a table it did not create. */
		if (g.flags & WIRE_GET_EXCL) {
			conn_error(c, h, PROTETS_EXISTS, "table %s exists",
			    g.name);
			return 0;
		}
		if ((rc = proto_owned(c, h, g.name, &pt)) == 0)
			proto_serve_get(c, h, &pt, &want);
		return rc == 1;
	}
	if (!(g.flags & WIRE_GET_CREATE)) {
		cat_unlock(cat);
		conn_error(c, h, PROTETS_NOTFOUND, "no table named %s", g.name);
		return 0;
	}
	if (wire_name_printable(g.name, strlen(g.name)) != 0) {
		cat_unlock(cat);
		conn_error(c, h, PROTETS_EINVAL, "a table name may not hold a "
		    "control character");
		return 0;
	}
	target = c->create_here ? wk->slot : cat_least_loaded(cat);
	if (target != wk->slot) {
		cat_unlock(cat);
		return proto_forward(c, h, target, 1);
	}
	if (proto_limits(c, h) == -1) {
		cat_unlock(cat);
		return 0;
	}
	if ((e = cat_alloc(cat, (uint32_t)wk->d->conf.max_tables)) == NULL) {
		cat_unlock(cat);
		log_warnx("uid %u: max_tables (%d) reached", c->uid,
		    wk->d->conf.max_tables);
		conn_error(c, h, PROTETS_ELIMIT, "max_tables (%d) reached",
		    wk->d->conf.max_tables);
		return 0;
	}
	/* proto_create unlocks the catalog. */
	if ((rc = proto_create(c, &g, quota, e, &pt)) != 0) {
		if ((rc == ENOSPC || rc == ENOMEM) && wk->d->conf.preallocate)
			conn_error(c, h, rc, "cannot allocate the %llu bytes "
			    "of table %s (preallocate = yes): %s",
			    (unsigned long long)seg_reserve(&wk->d->conf, quota), g.name,
			    strerror(rc));
		else
			proto_status(c, h, rc);
		return 0;
	}
	proto_serve_get(c, h, &pt, NULL);
	return 0;
}

/* Is any process holding the table (proto_held_lock)?  -1: unknown. */
static int
proto_in_use(struct wtable *t)
{
	int	 fd, busy;

	if ((fd = seg_reopen(t->fd, O_RDONLY)) == -1)
		return -1;
	busy = proto_held_lock(fd, F_WRLCK, F_OFD_GETLK);
	close(fd);
	return busy;
}

static int
proto_drop(struct conn *c, const struct wire_hdr *h, struct rbuf *r)
{
	struct catalog		*cat = &wk->d->cat;
	struct cat_entry	*e;
	struct proto_tab	 pt;
	char			 name[PROTETS_NAME_MAX + 1];
	int			 rc;

	if ((rc = proto_name_owned(c, h, r, name, &pt)) != 0)
		return rc == 1;
	if (!proto_is_owner(c, &pt.e)) {
		conn_error(c, h, PROTETS_EACCES, "only its owner or root may "
		    "drop %s", name);
		return 0;
	}
	if (proto_in_use(pt.t)) {
		pid_t	pids[8];
		char	who[160];

		hd_format(pids, hd_holders(pt.t, pids, 8), pt.t->handed_lost,
		    who, sizeof(who));
		conn_error(c, h, PROTETS_EBUSY, "%s is held open by %s", name,
		    who);
		return 0;
	}
	cat_lock(cat);
	if ((e = cat_find_id(cat, pt.e.id)) != NULL)
		cat_set_state(e, CAT_FREE);
	cat_unlock(cat);
	worker_table_drop(pt.t);
	log_debug("dropped table %s", name);
	proto_status(c, h, 0);
	return 0;
}

/* The optional u32 of INFO and LIST: the info record flags it asks for. */
static uint32_t
proto_info_flags(struct rbuf *r)
{
	if (r->err == 0 && r->len - r->off >= 4)
		return (rbuf_u32(r) & WIRE_REQ_EXT) ? WIRE_INFO_EXT : 0;
	return 0;
}

static int
proto_info(struct conn *c, const struct wire_hdr *h, struct rbuf *r)
{
	struct proto_tab	 pt;
	protets_info		 in;
	struct wbuf		 w;
	char			 name[PROTETS_NAME_MAX + 1];
	uint32_t		 flags;
	int			 rc;

	if ((rc = wire_get_name(r, name)) != 0 ||
	    (flags = proto_info_flags(r), rc = rbuf_end(r)) != 0) {
		proto_status(c, h, rc);
		return 0;
	}
	if ((rc = proto_owned(c, h, name, &pt)) != 0)
		return rc == 1;
	if (proto_hidden(c, h, &pt.e))
		return 0;
	proto_info_fill(&pt, &in);
	wbuf_init(&w);
	wire_put_info(&w, &in, flags);
	conn_reply(c, h, w.err ? ENOMEM : 0, w.data, w.err ? 0 : w.len, -1);
	wbuf_free(&w);
	return 0;
}

/*
 * HOLDERS: u32 flags (1: some pids were forgotten), u32 count, the pids
 * that may hold the table (holders.c); none while it is not in use.
 */
static int
proto_holders(struct conn *c, const struct wire_hdr *h, struct rbuf *r)
{
	struct proto_tab	 pt;
	struct wbuf		 w;
	pid_t			 pids[WT_HANDED];
	char			 name[PROTETS_NAME_MAX + 1];
	int			 rc, i, n = 0;

	if ((rc = proto_name_owned(c, h, r, name, &pt)) != 0)
		return rc == 1;
	if (proto_hidden(c, h, &pt.e))
		return 0;
	if (proto_in_use(pt.t) != 0)	/* (-1: not known; look) */
		n = hd_holders(pt.t, pids, WT_HANDED);
	wbuf_init(&w);
	wbuf_u32(&w, pt.t->handed_lost ? 1 : 0);
	wbuf_u32(&w, (uint32_t)n);
	for (i = 0; i < n; i++)
		wbuf_u32(&w, (uint32_t)pids[i]);
	conn_reply(c, h, w.err ? ENOMEM : 0, w.data, w.err ? 0 : w.len, -1);
	wbuf_free(&w);
	return 0;
}

static int
proto_repair(struct conn *c, const struct wire_hdr *h, struct rbuf *r)
{
	struct proto_tab	 pt;
	char			 name[PROTETS_NAME_MAX + 1], msg[256];
	int			 rc;

	if ((rc = proto_name_owned(c, h, r, name, &pt)) != 0)
		return rc == 1;
	if (!proto_may_see(c, &pt.e)) {
		proto_status(c, h, PROTETS_EACCES);
		return 0;
	}
	/*
	 * Nothing to repair (a few words read): answered at once.  Else in a
	 * confined child, so that what anyone may ask costs the worker
	 * nothing but a fork.
	 */
	msg[0] = '\0';
	rc = tbl_quiet(&pt.t->tbl) ? 0 : sbx_repair(pt.t->fd, pt.e.name, msg,
	    sizeof(msg));
	if (msg[0] != '\0')
		log_warnx("table %s: %s", pt.e.name, msg);
	proto_status(c, h, rc);
	return 0;
}

/*
 * Change a table's access mode: its owner or root only.  The catalog is
 * what later GETs decide from; the segment header keeps the same mode so
 * that a restart from the fd store rebuilds it.  Descriptions already
 * handed out keep the access they were opened with (a mapping cannot be
 * revoked): docs/PROTOCOL.md says so.
 */
static int
proto_setaccess(struct conn *c, const struct wire_hdr *h, struct rbuf *r)
{
	struct catalog		*cat = &wk->d->cat;
	struct cat_entry	*e;
	struct proto_tab	 pt;
	char			 name[PROTETS_NAME_MAX + 1];
	uint32_t		 access;
	int			 rc;

	if ((rc = wire_get_name(r, name)) != 0) {
		proto_status(c, h, rc);
		return 0;
	}
	access = rbuf_u32(r);
	if ((rc = rbuf_end(r)) != 0) {
		proto_status(c, h, rc);
		return 0;
	}
	if (access < PROTETS_PUBLIC || access > PROTETS_PRIVATE) {
		conn_error(c, h, PROTETS_EINVAL, "unknown access mode %u",
		    access);
		return 0;
	}
	if ((rc = proto_owned(c, h, name, &pt)) != 0)
		return rc == 1;
	if (!proto_is_owner(c, &pt.e)) {
		conn_error(c, h, PROTETS_EACCES, "only its owner or root may "
		    "change the access of %s", name);
		return 0;
	}
	if ((rc = tbl_set_access(&pt.t->tbl, access)) != 0) {
		proto_status(c, h, rc);
		return 0;
	}
	cat_lock(cat);
	if ((e = cat_find_id(cat, pt.e.id)) != NULL)
		e->access = access;
	cat_unlock(cat);
	log_info("table %s: access %s by uid %u", name,
	    protets_access_name((protets_access)access), (unsigned)c->uid);
	proto_status(c, h, 0);
	return 0;
}

/*
 * Change a table's quota, online: its owner or root only.  One store in
 * each shard's header (tbl_set_quota): holders see it at their next
 * allocation, nothing is copied.  The catalog keeps it for the next save
 * and for INFO.
 */
static int
proto_resize(struct conn *c, const struct wire_hdr *h, struct rbuf *r)
{
	struct catalog		*cat = &wk->d->cat;
	struct cat_entry	*e;
	struct proto_tab	 pt;
	char			 name[PROTETS_NAME_MAX + 1];
	uint64_t		 quota;
	int			 rc;

	if ((rc = wire_get_name(r, name)) != 0 ||
	    (quota = rbuf_u64(r), rc = rbuf_end(r)) != 0) {
		proto_status(c, h, rc);
		return 0;
	}
	if ((rc = proto_owned(c, h, name, &pt)) != 0)
		return rc == 1;
	if (!proto_is_owner(c, &pt.e)) {
		conn_error(c, h, PROTETS_EACCES, "only its owner or root may "
		    "resize %s", name);
		return 0;
	}
	if (quota > pt.t->size) {	/* before rounding: no wrap */
		conn_error(c, h, PROTETS_ELIMIT, "size %llu exceeds what %s "
		    "can ever hold (%llu bytes, its segment)",
		    (unsigned long long)quota, name,
		    (unsigned long long)pt.t->size);
		return 0;
	}
	quota = (quota + 4095) & ~(uint64_t)4095;
	if ((rc = tbl_set_quota(&pt.t->tbl, quota)) != 0) {
		if (rc == PROTETS_EINVAL)
			conn_error(c, h, rc, "size %llu is below the minimum "
			    "(%zu)", (unsigned long long)quota,
			    tbl_min_size_shards(pt.t->tbl.nshards));
		else
			proto_status(c, h, rc);
		return 0;
	}
	cat_lock(cat);
	if ((e = cat_find_id(cat, pt.e.id)) != NULL)
		e->quota = quota;
	cat_unlock(cat);
	log_info("table %s: size %llu by uid %u", name,
	    (unsigned long long)quota, (unsigned)c->uid);
	proto_status(c, h, 0);
	return 0;
}

static void
proto_list(struct conn *c, const struct wire_hdr *h, uint32_t flags)
{
	struct catalog	*cat = &wk->d->cat;
	struct wbuf	 w;
	uint32_t	 i, n = 0;
	size_t		 countoff;

	wbuf_init(&w);
	wbuf_u32(&w, 0);
	countoff = 0;
	cat_lock(cat);
	for (i = 0; i < cat->hdr->nentries; i++) {
		struct proto_tab	 pt = { .t = NULL };
		protets_info		 in;

		if (cat_state(&cat->hdr->entries[i]) != CAT_READY)
			continue;
		pt.e = cat->hdr->entries[i];
		if (!proto_may_see(c, &pt.e))
			continue;
		proto_info_fill(&pt, &in);
		wire_put_info(&w, &in, flags);
		n++;
	}
	cat_unlock(cat);
	if (!w.err)
		memcpy(w.data + countoff, &n, sizeof(n));
	conn_reply(c, h, w.err ? ENOMEM : 0, w.data, w.err ? 0 : w.len, -1);
	wbuf_free(&w);
}

static void
proto_put_proc(struct wbuf *w, const char *role, int slot,
    const struct cat_proc *p, uint32_t *n)
{
	protets_proc	 pr;

	memset(&pr, 0, sizeof(pr));
	strlcpy(pr.role, role, sizeof(pr.role));
	pr.slot = slot;
	pr.pid = cat_proc_pid(p);
	pr.tables = cat_proc_count(p);
	if (pr.pid == 0)
		return;
	wire_put_proc(w, &pr);
	(*n)++;
}

static void
proto_procs(struct conn *c, const struct wire_hdr *h)
{
	struct cat_hdr	*ch = wk->d->cat.hdr;
	struct wbuf	 w;
	uint32_t	 n = 0;
	int		 i;

	wbuf_init(&w);
	wbuf_u32(&w, 0);
	proto_put_proc(&w, "supervisor", -1, &ch->supervisor, &n);
	proto_put_proc(&w, "monitor", -1, &ch->monitor, &n);
	for (i = 0; i < wk->d->nworkers; i++)
		proto_put_proc(&w, "worker", i, &ch->workers[i], &n);
	if (!w.err)
		memcpy(w.data, &n, sizeof(n));
	conn_reply(c, h, w.err ? ENOMEM : 0, w.data, w.err ? 0 : w.len, -1);
	wbuf_free(&w);
}

/* A table's info and operation counts (protets_stats_get). */
static int
proto_stats(struct conn *c, const struct wire_hdr *h, struct rbuf *r)
{
	struct tbl_tally_sum	 s;
	struct proto_tab	 pt;
	protets_info		 in;
	struct wbuf		 w;
	char			 name[PROTETS_NAME_MAX + 1];
	int			 rc, i;

	if ((rc = proto_name_owned(c, h, r, name, &pt)) != 0)
		return rc == 1;
	if (proto_hidden(c, h, &pt.e))
		return 0;
	proto_info_fill(&pt, &in);
	tbl_tally_read(&pt.t->tbl, &s);
	wbuf_init(&w);
	wire_put_info(&w, &in, 0);
	for (i = 0; i < TBL_TY_NOPS; i++)
		wbuf_u64(&w, s.op[i]);
	for (i = 0; i < TBL_TY_NEVENTS; i++)
		wbuf_u64(&w, s.ev[i]);
	wbuf_u64(&w, s.rec_time);
	wbuf_u64(&w, s.rec_pid);
	conn_reply(c, h, w.err ? ENOMEM : 0, w.data, w.err ? 0 : w.len, -1);
	wbuf_free(&w);
	return 0;
}

_Static_assert(offsetof(struct cat_stats, requests) / 8 + 1 +
    CAT_STAT_REQS + CAT_STAT_ERRS == WIRE_NDSTATS &&
    TBL_TY_NOPS + TBL_TY_NEVENTS + 2 == WIRE_NSTATS, "the stats replies");

/* The daemon's counts (protets_daemon_stats_get), in catalog.h's order. */
static void
proto_dstats(struct conn *c, const struct wire_hdr *h)
{
	const struct cat_stats	*st = &wk->d->cat.hdr->stats;
	const uint64_t		*v = &st->worker_restarts;
	struct wbuf		 w;
	size_t			 i;

	wbuf_init(&w);
	for (i = 0; i < offsetof(struct cat_stats, requests) / 8; i++)
		wbuf_u64(&w, __atomic_load_n(&v[i], __ATOMIC_RELAXED));
	wbuf_u64(&w, (uint64_t)(clk_now_ms() - wk->d->started_ms));
	for (i = 0; i < CAT_STAT_REQS; i++)
		wbuf_u64(&w, __atomic_load_n(&st->requests[i],
		    __ATOMIC_RELAXED));
	for (i = 0; i < CAT_STAT_ERRS; i++)
		wbuf_u64(&w, __atomic_load_n(&st->errors[i],
		    __ATOMIC_RELAXED));
	conn_reply(c, h, w.err ? ENOMEM : 0, w.data, w.err ? 0 : w.len, -1);
	wbuf_free(&w);
}

int
proto_request(struct conn *c, const struct wire_hdr *h,
    const unsigned char *payload)
{
	struct rbuf	 r;

	rbuf_init(&r, payload, h->len);
	switch (h->op) {
	case WIRE_GET:
		return proto_get(c, h, &r);
	case WIRE_DROP:
		return proto_drop(c, h, &r);
	case WIRE_INFO:
		return proto_info(c, h, &r);
	case WIRE_REPAIR:
		return proto_repair(c, h, &r);
	case WIRE_SETACCESS:
		return proto_setaccess(c, h, &r);
	case WIRE_RESIZE:
		return proto_resize(c, h, &r);
	case WIRE_HOLDERS:
		return proto_holders(c, h, &r);
	case WIRE_STATS:
		return proto_stats(c, h, &r);
	case WIRE_LIST:
		if (h->len != 0 && h->len != 4)
			proto_status(c, h, PROTETS_EPROTO);
		else
			proto_list(c, h, proto_info_flags(&r));
		return 0;
	case WIRE_PROCS:
	case WIRE_DSTATS:
		if (h->len != 0)
			proto_status(c, h, PROTETS_EPROTO);
		else if (h->op == WIRE_PROCS)
			proto_procs(c, h);
		else
			proto_dstats(c, h);
		return 0;
	default:
		log_debug("client pid %d: unknown op %u", (int)c->pid, h->op);
		conn_error(c, h, PROTETS_EPROTO, "unknown request %u", h->op);
		return 0;
	}
}
