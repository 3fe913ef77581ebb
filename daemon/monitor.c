/*
 * monitor.c - the tiny process that keeps a duplicate fd of every segment.
 *
 * It never parses client input and never maps a segment.  Workers register
 * each segment (IPC_SEG_ADD) before they acknowledge its table to a client;
 * the monitor answers IPC_SEG_ACK once it holds the fd.  When a worker is
 * replaced, the supervisor introduces the newcomer (IPC_MON_WORKER, fresh)
 * and the monitor hands it every segment of its slot (IPC_SEG_HANDOFF).
 * When the monitor itself is replaced, the supervisor introduces every
 * running worker (not fresh); each pushes all of its segments back, and
 * the new monitor watches each worker again through a pidfd.
 *
 * fd ownership: every mon_seg.fd belongs to the monitor; fds sent in a
 * handoff are duplicates, the monitor keeps its own.
 */
#include <sys/prctl.h>
#include <sys/syscall.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/cdefs.h>
#include <sys/tree.h>
#include <unistd.h>

#include "daemon.h"
#include "ev.h"
#include "ipc.h"
#include "log.h"
#include "notify.h"

struct mon_seg {
	RB_ENTRY(mon_seg) node;
	uint64_t	id;
	int		fd;
	int		slot;
};

static int	mon_seg_cmp(struct mon_seg *, struct mon_seg *);

static int
mon_seg_cmp(struct mon_seg *a, struct mon_seg *b)
{
	return (a->id > b->id) - (a->id < b->id);
}

RB_HEAD(mon_segs, mon_seg);
RB_PROTOTYPE(mon_segs, mon_seg, node, mon_seg_cmp)
RB_GENERATE(mon_segs, mon_seg, node, mon_seg_cmp)

struct mon_slot {
	int		fd;	/* channel to the worker, or -1 */
	int		pidfd;	/* watches the worker, or -1 */
	pid_t		pid;
};

static struct daemon	*md;
static struct mon_segs	 mon_segs = RB_INITIALIZER(&mon_segs);
static struct mon_slot	 mon_slots[CONF_MAX_WORKERS];
static uint32_t		 mon_nsegs;
static int		 mon_sup = -1;

static void
mon_title(void)
{
	proc_title("monitor (%u segments)", mon_nsegs);
	cat_set_proc(&md->cat.hdr->monitor, getpid(), mon_nsegs);
}

static void
mon_seg_put(uint64_t id, int fd, int slot)
{
	struct mon_seg	 key = { .id = id }, *s;

	if ((s = RB_FIND(mon_segs, &mon_segs, &key)) != NULL) {
		/* Already held (a worker re-pushing): keep one fd. */
		close(fd);
		s->slot = slot;
		return;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		fatal("calloc");
	s->id = id;
	s->fd = fd;
	s->slot = slot;
	RB_INSERT(mon_segs, &mon_segs, s);
	mon_nsegs++;
}

static void
mon_seg_del(uint64_t id)
{
	struct mon_seg	 key = { .id = id }, *s;

	if ((s = RB_FIND(mon_segs, &mon_segs, &key)) == NULL)
		return;
	RB_REMOVE(mon_segs, &mon_segs, s);
	close(s->fd);
	free(s);
	mon_nsegs--;
}

/* Send a batch of at most FDPASS_MAX segments. */
static int
mon_send_batch(int chan, uint64_t *ids, int *fds, int n)
{
	if (n == 0)
		return 0;
	return ipc_send(chan, IPC_SEG_HANDOFF, 0, ids, sizeof(uint64_t) *
	    (size_t)n, fds, n, 0);
}

/*
 * Hand every segment of slot to its (new) worker, in batches; counted
 * (protets_daemon_stats) when the worker replaces one this monitor saw.
 */
static void
mon_handoff(int slot, int replaces)
{
	struct mon_seg	*s;
	uint64_t	 ids[FDPASS_MAX];
	int		 fds[FDPASS_MAX], n = 0, total = 0;
	int		 chan = mon_slots[slot].fd;

	RB_FOREACH(s, mon_segs, &mon_segs) {
		if (s->slot != slot)
			continue;
		ids[n] = s->id;
		fds[n++] = s->fd;
		total++;
		if (n == FDPASS_MAX) {
			if (mon_send_batch(chan, ids, fds, n) == -1)
				goto fail;
			n = 0;
		}
	}
	if (mon_send_batch(chan, ids, fds, n) == -1 ||
	    ipc_send(chan, IPC_SEG_HANDOFF_DONE, 0, NULL, 0, NULL, 0, 0) == -1)
		goto fail;
	log_info("handed %d segments to worker %d (pid %d)", total, slot,
	    (int)mon_slots[slot].pid);
	if (replaces) {
		CAT_STAT_ADD(&md->cat, handoffs, 1);
		CAT_STAT_ADD(&md->cat, handoff_segments, total);
	}
	return;
fail:
	/* The newcomer died too; its successor will get them. */
	log_warn("handoff to worker %d", slot);
}

/*
 * Under systemd (fdstore = yes), keep a copy in the service's fd store
 * too, named after the segment, so that it survives even the death of
 * every protetsd process; systemd ignores an fd it already holds.
 */
static void
mon_fdstore(uint64_t id, int fd)
{
	char	 msg[96];

	if (!daemon_fdstore(md))
		return;
	if (fd != -1)
		snprintf(msg, sizeof(msg), "FDSTORE=1\nFDPOLL=0\nFDNAME=seg-%llu",
		    (unsigned long long)id);
	else
		snprintf(msg, sizeof(msg), "FDSTOREREMOVE=1\nFDNAME=seg-%llu",
		    (unsigned long long)id);
	if (notify_send_fds(msg, &fd, fd != -1) == -1)
		log_warn("fd store: segment %llu", (unsigned long long)id);
}

static void
mon_add(int slot, const struct ipc_hdr *h, const uint64_t *ids, int *fds)
{
	uint32_t	 i;

	/* Stored before the ack: no table is acknowledged before. */
	for (i = 0; i < h->nfds; i++) {
		mon_fdstore(ids[i], fds[i]);
		mon_seg_put(ids[i], fds[i], slot);
	}
	if (ipc_send(mon_slots[slot].fd, IPC_SEG_ACK, h->seq, NULL, 0, NULL,
	    0, 0) == -1)
		log_warn("ack to worker %d", slot);
	mon_title();
}

static void
mon_close_slot(int slot)
{
	struct mon_slot	*m = &mon_slots[slot];

	if (m->fd != -1) {
		ev_del(m->fd);
		close(m->fd);
		m->fd = -1;
	}
}

/* Handle one message of a worker; 1 handled, 0 none pending, -1 closed. */
static int
mon_worker_read(int slot)
{
	struct ipc_hdr	 h;
	uint64_t	 ids[IPC_MAX_PAYLOAD / sizeof(uint64_t)];
	int		 fds[FDPASS_MAX];
	ssize_t		 n;
	uint32_t	 i;

	if ((n = ipc_read(mon_slots[slot].fd, &h, ids, sizeof(ids), fds,
	    FDPASS_MAX, "worker channel")) == -1)
		return errno == EAGAIN ? 0 : -1;
	if (h.type == 0)
		return -1;
	switch (h.type) {
	case IPC_SEG_ADD:
		if ((size_t)n != h.nfds * sizeof(uint64_t))
			break;
		mon_add(slot, &h, ids, fds);
		return 1;
	case IPC_SEG_DEL:
		for (i = 0; i < (uint32_t)n / sizeof(uint64_t); i++) {
			mon_seg_del(ids[i]);
			mon_fdstore(ids[i], -1);
		}
		mon_title();
		break;
	case IPC_SEG_PUSHED:
		if (ipc_send(mon_sup, IPC_MON_COLLECTED, 0, &slot,
		    sizeof(slot), NULL, 0, 0) == -1)
			log_warn("tell supervisor");
		break;
	default:
		log_warnx("worker %d: unexpected message %u", slot, h.type);
	}
	fdpass_close_all(fds, (int)h.nfds);
	return 1;
}

/* Take whatever the slot's channel still holds (its worker may be dead). */
static void
mon_drain(int slot)
{
	if (mon_slots[slot].fd != -1)
		while (mon_worker_read(slot) == 1)
			;
}

static void
mon_worker_msg(int fd, uint32_t events, void *arg)
{
	int	 slot = (int)(intptr_t)arg;

	(void)fd;
	(void)events;
	if (mon_worker_read(slot) == -1)
		mon_close_slot(slot);
}

static void
mon_worker_gone(int fd, uint32_t events, void *arg)
{
	int		 slot = (int)(intptr_t)arg;
	struct mon_seg	*s;
	unsigned	 held = 0;

	(void)events;
	RB_FOREACH(s, mon_segs, &mon_segs)
		held += (s->slot == slot);
	/* At a stop the supervisor ends the workers before us: no news. */
	if (__atomic_load_n(&md->cat.hdr->stopping, __ATOMIC_RELAXED))
		log_debug("worker %d (pid %d) stopped", slot,
		    (int)mon_slots[slot].pid);
	else
		log_info("worker %d (pid %d) died; holding its %u segments "
		    "for its successor", slot, (int)mon_slots[slot].pid, held);
	ev_del(fd);
	close(fd);
	mon_slots[slot].pidfd = -1;
}

/* Watch a worker's death through a pidfd (instead of trusting that the
 * supervisor will always tell us). */
static void
mon_watch(int slot, pid_t pid)
{
	struct mon_slot	*m = &mon_slots[slot];

	if (m->pidfd != -1) {
		ev_del(m->pidfd);
		close(m->pidfd);
	}
	m->pid = pid;
	m->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (m->pidfd == -1) {
		log_warn("pidfd_open worker %d", slot);
		return;
	}
	if (ev_add(m->pidfd, EPOLLIN, mon_worker_gone,
	    (void *)(intptr_t)slot) == -1)
		log_warn("ev_add pidfd");
}

static void
mon_new_worker(const struct ipc_worker *w, int chan)
{
	struct mon_slot	*m;
	int		 replaces;

	if (w->slot < 0 || w->slot >= md->nworkers) {
		close(chan);
		return;
	}
	m = &mon_slots[w->slot];
	replaces = m->pid != 0;
	/*
	 * What the previous worker of the slot sent before it died (a
	 * segment it registered) is still in the old channel: take it
	 * before closing, so that its successor gets it too.
	 */
	mon_drain(w->slot);
	mon_close_slot(w->slot);
	m->fd = chan;		/* the channel is the monitor's from now on */
	if (ev_add(chan, EPOLLIN, mon_worker_msg,
	    (void *)(intptr_t)w->slot) == -1)
		log_warn("ev_add worker channel");
	mon_watch(w->slot, w->pid);
	if (w->fresh)
		mon_handoff(w->slot, replaces);
	/* else the worker pushes its segments (monitor restart). */
}

/*
 * The supervisor died without stopping us (a normal stop SIGTERMs the
 * workers, then the monitor).  Without systemd, become the new protetsd (takeover.c)
 * with every segment, including those the dying workers registered last.
 */
static void
mon_takeover(void)
{
	struct mon_seg	*s;
	uint64_t	*ids;
	int		*fds, pidfds[CONF_MAX_WORKERS], i, n = 0;

	if (!takeover_enabled()) {
		log_warnx("supervisor gone; exiting");
		exit(1);
	}
	for (i = 0; i < md->nworkers; i++)
		pidfds[i] = mon_slots[i].pidfd;
	takeover_prepare(md, pidfds);
	for (i = 0; i < md->nworkers; i++)
		mon_drain(i);
	/* + 1: takeover_exec adds the catalog */
	if ((ids = calloc(mon_nsegs + 1, sizeof(*ids))) == NULL ||
	    (fds = calloc(mon_nsegs + 1, sizeof(*fds))) == NULL)
		fatal("calloc");
	RB_FOREACH(s, mon_segs, &mon_segs) {
		ids[n] = s->id;
		fds[n++] = s->fd;	/* the new instance's from the exec */
	}
	takeover_exec(md, ids, fds, n);
}

/*
 * The supervisor upgrades in place (supervisor.c, sup_upgrade): every
 * segment to it, the workers' last registrations included.  We keep ours
 * until we are stopped.
 */
static void
mon_give(void)
{
	struct mon_seg	*s;
	uint64_t	 ids[FDPASS_MAX];
	int		 fds[FDPASS_MAX], i, n = 0;

	for (i = 0; i < md->nworkers; i++)
		mon_drain(i);
	RB_FOREACH(s, mon_segs, &mon_segs) {
		ids[n] = s->id;
		fds[n++] = s->fd;
		if (n == FDPASS_MAX) {
			if (mon_send_batch(mon_sup, ids, fds, n) == -1)
				goto fail;
			n = 0;
		}
	}
	if (mon_send_batch(mon_sup, ids, fds, n) == -1 ||
	    ipc_send(mon_sup, IPC_SEG_HANDOFF_DONE, 0, NULL, 0, NULL, 0, 0) ==
	    -1)
		goto fail;
	log_info("upgrade: every segment (%u) handed to the supervisor",
	    mon_nsegs);
	return;
fail:
	log_warn("upgrade: hand the segments to the supervisor");
}

static void
mon_sup_msg(int fd, uint32_t events, void *arg)
{
	struct ipc_hdr		 h;
	union {
		struct ipc_worker	w;
		struct ipc_adopt	a[FDPASS_MAX];
	}			 m;
	struct ipc_worker	*wp = &m.w;
	struct ipc_adopt	*a = m.a;
	int			 fds[FDPASS_MAX];
	uint32_t		 i;
	ssize_t			 n;

	(void)events;
	(void)arg;
	if ((n = ipc_read(fd, &h, &m, sizeof(m), fds, FDPASS_MAX,
	    "supervisor channel")) == -1)
		return;
	if (h.type == 0)
		mon_takeover();
	if (h.type == IPC_MON_WORKER && n == sizeof(*wp) && h.nfds == 1) {
		mon_new_worker(wp, fds[0]);
		return;
	}
	if (h.type == IPC_MON_ADOPT && (size_t)n == h.nfds * sizeof(*a)) {
		/* Loaded from the state directory: into the store now (one
		 * from the store is ignored there, systemd holds it). */
		for (i = 0; i < h.nfds; i++) {
			mon_fdstore(a[i].id, fds[i]);
			mon_seg_put(a[i].id, fds[i], a[i].slot);
		}
		mon_title();
		return;
	}
	if (h.type == IPC_MON_GIVE && h.nfds == 0) {
		mon_give();
		return;
	}
	log_warnx("supervisor: unexpected message %u", h.type);
	fdpass_close_all(fds, (int)h.nfds);
}

void
monitor_main(struct daemon *d, int sup_fd)
{
	int	 i;

	md = d;
	mon_sup = sup_fd;
	log_setrole("monitor");
	/* Outlive the supervisor, to replace it (mon_takeover). */
	if (takeover_enabled())
		prctl(PR_SET_PDEATHSIG, 0);
	for (i = 0; i < CONF_MAX_WORKERS; i++)
		mon_slots[i].fd = mon_slots[i].pidfd = -1;
	if (ev_init() == -1 || ev_add(sup_fd, EPOLLIN, mon_sup_msg, NULL) == -1)
		fatal("monitor event loop");
	mon_title();
	for (;;)
		if (ev_dispatch(-1) == -1)
			fatal("epoll_wait");
}
