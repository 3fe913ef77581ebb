/*
 * worker.c - a worker's life: take over the segments of its slot from the
 * monitor, reconcile them with the catalog, then serve clients; register
 * every new segment with the monitor before acknowledging it.
 *
 * fd ownership: wtable.fd and its mapping belong to this worker; the
 * monitor holds its own duplicate.  Channels: sup_fd and mon_fd belong to
 * this worker; a new mon_fd arrives from the supervisor whenever a new
 * monitor starts.
 *
 * A table's lock lives in memory its writers share: a writer may hold it
 * for ever, or write a made-up owner into it.  The worker never waits for
 * it (wrk_open: lock_timeout_ms 0): a REPAIR (in a child, sandbox.c)
 * finds a dead holder at once (its process gone, shm/owner.c), and a live
 * one is not the daemon's to wait for (ELOCKED: the client reads again).  INFO reads through the
 * seqlock and its overlay, and gives up on the entry count after
 * WRK_READ_WAIT_MS of its CPU (a writer may move the sequence for ever).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "ev.h"
#include "ipc.h"
#include "log.h"
#include "segment.h"
#include "worker.h"

struct worker	*wk;

static int
wtable_cmp(struct wtable *a, struct wtable *b)
{
	return (a->id > b->id) - (a->id < b->id);
}
RB_GENERATE(wtables, wtable, node, wtable_cmp)

static void	wrk_mon_msg(int, uint32_t, void *);
static void	wrk_snapshot(void);

#define WRK_READ_WAIT_MS	1

/* Open a mapped segment as the worker does: never waiting for its lock. */
static int
wrk_open(struct wtable *t)
{
	int	rc;

	if ((rc = tbl_open(&t->tbl, t->base, t->size, 1)) == 0) {
		t->tbl.lock_timeout_ms = 0;
		t->tbl.read_wait_ms = WRK_READ_WAIT_MS;
	}
	return rc;
}

struct wtable *
worker_table(uint64_t id)
{
	struct wtable	 key = { .id = id };

	return RB_FIND(wtables, &wk->tables, &key);
}

void
worker_title(void)
{
	proc_title("worker %d (%u tables)", wk->slot, wk->ntables);
	cat_set_proc(&wk->d->cat.hdr->workers[wk->slot], getpid(),
	    wk->ntables);
}

static void
wrk_table_free(struct wtable *t)
{
	if (t->base != NULL)
		munmap(t->base, t->size);
	if (t->fd != -1)
		close(t->fd);
	free(t);
}

/*
 * The catalog's quota into the headers of a segment we adopt: the
 * headers are memory any writer may have changed, the catalog is ours.
 */
static void
wrk_requota(struct wtable *t)
{
	struct catalog		*cat = &wk->d->cat;
	struct cat_entry	*e;
	uint64_t		 q = 0;
	int			 found;

	cat_lock(cat);
	if ((found = (e = cat_find_id(cat, t->id)) != NULL))
		q = e->quota;
	cat_unlock(cat);
	if (found && tbl_set_quota(&t->tbl, q) != 0)
		log_warnx("segment %llu: quota %llu refused",
		    (unsigned long long)t->id, (unsigned long long)q);
}

/* Take ownership of a segment fd received from the monitor. */
static void
wrk_adopt(uint64_t id, int fd)
{
	struct wtable	*t;
	int		 rc;

	if (worker_table(id) != NULL) {
		close(fd);		/* a duplicate of one we hold */
		return;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL)
		fatal("calloc");
	t->id = id;
	t->fd = fd;
	if (seg_map(fd, 1, &t->base, &t->size) == -1) {
		log_warn("segment %llu: mmap", (unsigned long long)id);
		t->base = NULL;
		t->bad = 1;
	} else if ((rc = wrk_open(t)) != 0) {
		log_warnx("segment %llu: %s; set aside",
		    (unsigned long long)id, protets_strerror(rc));
		t->bad = 1;
	} else
		wrk_requota(t);
	RB_INSERT(wtables, &wk->tables, t);
	wk->ntables++;
}

/* Send every segment we hold to the monitor (after a monitor restart). */
static void
wrk_push_all(void)
{
	struct wtable	*t;
	uint64_t	 ids[FDPASS_MAX];
	int		 fds[FDPASS_MAX], n = 0;

	RB_FOREACH(t, wtables, &wk->tables) {
		ids[n] = t->id;
		fds[n++] = t->fd;
		if (n == FDPASS_MAX || RB_NEXT(wtables, &wk->tables, t) ==
		    NULL) {
			if (ipc_send(wk->mon_fd, IPC_SEG_ADD, ++wk->seq, ids,
			    sizeof(uint64_t) * (size_t)n, fds, n, 0) == -1) {
				log_warn("push segments to monitor");
				return;
			}
			n = 0;
		}
	}
	if (ipc_send(wk->mon_fd, IPC_SEG_PUSHED, ++wk->seq, NULL, 0, NULL, 0,
	    0) == -1)
		log_warn("push segments to monitor");
}

static void
wrk_mon_close(void)
{
	if (wk->mon_fd == -1)
		return;
	ev_del(wk->mon_fd);
	close(wk->mon_fd);
	wk->mon_fd = -1;
}

static void
wrk_new_monitor(int fd)
{
	struct pollfd	 pfd;

	/*
	 * Everything the dead monitor sent (a handoff in progress, acks) is
	 * still in the old channel: read it all before closing it, or a
	 * handoff would be lost with the channel.
	 */
	while (wk->mon_fd != -1) {
		pfd.fd = wk->mon_fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 0) != 1)
			break;
		wrk_mon_msg(wk->mon_fd, pfd.revents, NULL);
	}
	wrk_mon_close();
	wk->mon_fd = fd;
	if (ev_add(fd, EPOLLIN, wrk_mon_msg, NULL) == -1)
		log_warn("ev_add monitor");
	/* Always push what we hold: even a half-finished handoff from the
	 * previous monitor must not be left only in our hands. */
	wrk_push_all();
}

static void
wrk_mon_msg(int fd, uint32_t events, void *arg)
{
	struct ipc_hdr	 h;
	uint64_t	 ids[FDPASS_MAX];
	int		 fds[FDPASS_MAX];
	ssize_t		 n;
	uint32_t	 i;

	(void)events;
	(void)arg;
	if ((n = ipc_read(fd, &h, ids, sizeof(ids), fds, FDPASS_MAX,
	    "monitor channel")) == -1) {
		/*
		 * A truncated message during the handoff (fds beyond our
		 * RLIMIT_NOFILE vanish) would leave us believing tables are
		 * lost.  Never reconcile on a partial handoff: the monitor
		 * still holds everything; die and let a successor retry.
		 */
		if (errno == EPROTO && !wk->handoff_done)
			fatalx("handoff from the monitor truncated (fds beyond "
			    "RLIMIT_NOFILE?); not serving a partial slot");
		return;
	}
	if (h.type == 0) {
		log_info("monitor gone; waiting for its successor");
		wrk_mon_close();
		return;
	}
	switch (h.type) {
	case IPC_SEG_HANDOFF:
		if ((size_t)n != h.nfds * sizeof(uint64_t))
			break;
		for (i = 0; i < h.nfds; i++)
			wrk_adopt(ids[i], fds[i]);
		return;
	case IPC_SEG_HANDOFF_DONE:
		wk->handoff_done = 1;
		break;
	case IPC_SEG_ACK:
		if ((int32_t)(h.seq - wk->acked) > 0)
			wk->acked = h.seq;
		break;
	default:
		log_warnx("monitor: unexpected message %u", h.type);
	}
	fdpass_close_all(fds, (int)h.nfds);
}

static void
wrk_sup_msg(int fd, uint32_t events, void *arg)
{
	struct ipc_hdr	 h;
	char		 buf[64];
	int		 fds[4];
	ssize_t		 n;

	(void)events;
	(void)arg;
	if ((n = ipc_read(fd, &h, buf, sizeof(buf), fds, 4,
	    "supervisor channel")) == -1)
		return;
	if (h.type == 0) {
		log_warnx("supervisor gone; exiting");
		exit(1);
	}
	if (h.type == IPC_WRK_MONITOR && h.nfds == 1) {
		wrk_new_monitor(fds[0]);
		return;
	}
	if (h.type == IPC_WRK_SNAPSHOT && h.nfds == 0) {
		/* From the main loop: this may be wrk_register's wait. */
		wk->snap_pending = 1;
		return;
	}
	log_warnx("supervisor: unexpected message %u", h.type);
	fdpass_close_all(fds, (int)h.nfds);
}

/*
 * Register one segment with the monitor and wait for its ack, serving
 * only the monitor and supervisor channels meanwhile (a monitor restart
 * during the wait makes us push everything to the new one).
 */
static int
wrk_register(struct wtable *t)
{
	int64_t		 deadline;
	uint32_t	 seq;
	struct pollfd	 pfd[2];
	int		 n;

	seq = ++wk->seq;
	if (wk->mon_fd != -1 && ipc_send(wk->mon_fd, IPC_SEG_ADD, seq, &t->id,
	    sizeof(t->id), &t->fd, 1, 0) == -1)
		log_warn("register segment with monitor");
	deadline = clk_now_ms() + wk->d->conf.handoff_timeout_ms;
	while ((int32_t)(wk->acked - seq) < 0) {
		int64_t left = deadline - clk_now_ms();

		if (left <= 0) {
			log_warnx("monitor did not acknowledge segment %llu",
			    (unsigned long long)t->id);
			return PROTETS_EDAEMON;
		}
		n = 0;
		pfd[n].fd = wk->sup_fd;
		pfd[n++].events = POLLIN;
		if (wk->mon_fd != -1) {
			pfd[n].fd = wk->mon_fd;
			pfd[n++].events = POLLIN;
		}
		if (poll(pfd, (nfds_t)n, (int)left) <= 0)
			continue;
		if (pfd[0].revents)
			wrk_sup_msg(wk->sup_fd, pfd[0].revents, NULL);
		if (n > 1 && pfd[1].revents && wk->mon_fd == pfd[1].fd)
			wrk_mon_msg(wk->mon_fd, pfd[1].revents, NULL);
	}
	return 0;
}

uint64_t
worker_table_memory(const struct wtable *t)
{
	struct stat	st;

	if (fstat(t->fd, &st) == -1)
		return 0;
	return (uint64_t)st.st_blocks * 512;
}

static void
wrk_punch(uint64_t off, uint64_t len, void *arg)
{
	struct wtable	*t = arg;

	if (fallocate(t->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
	    (off_t)off, (off_t)len) == -1)
		log_warn("segment %llu: punch %llu bytes",
		    (unsigned long long)t->id, (unsigned long long)len);
}

/*
 * A table whose pages hold more than its heap and index (a reader's fault
 * in the free middle allocates a page; so does a write rolled back): the
 * middle punched out again, so that reading a table cannot make it hold
 * its whole reservation for long.
 */
static uint64_t
wrk_trim(struct wtable *t, uint64_t mem)
{
	struct tbl_stats	st;
	struct tbl		ro;

	if (t->bad)
		return mem;
	ro = t->tbl;
	ro.writable = 0;
	if (tbl_stats(&ro, &st) != 0 || mem <= st.bytes_held + (4u << 20))
		return mem;
	tbl_trim(&t->tbl, wrk_punch, t);
	return worker_table_memory(t);
}

/*
 * Every second: what each of our tables holds, into its catalog entry,
 * where max_bytes_per_uid sums it (clients write without us: the kernel's
 * count of the memfd's pages is the one figure they cannot fake).
 */
static void
wrk_account(int fd, uint32_t events, void *arg)
{
	struct catalog		*cat = &wk->d->cat;
	struct cat_entry	*e;
	struct wtable		*t;
	uint64_t		 mem;

	(void)events;
	(void)arg;
	ev_timer_ack(fd);
	RB_FOREACH(t, wtables, &wk->tables) {
		mem = wrk_trim(t, worker_table_memory(t));
		cat_lock(cat);
		if ((e = cat_find_id(cat, t->id)) != NULL)
			__atomic_store_n(&e->used, mem, __ATOMIC_RELAXED);
		cat_unlock(cat);
	}
}

int
worker_table_create(const struct tbl_meta *m, uint64_t size,
    struct wtable **out)
{
	struct wtable	*t;
	int		 rc;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return ENOMEM;
	t->id = m->id;
	t->fd = seg_create(m->name, size, wk->d->conf.preallocate);
	if (t->fd == -1) {
		rc = errno;
		log_warn("create segment for %s", m->name);
		free(t);
		return rc;
	}
	if (seg_map(t->fd, 1, &t->base, &t->size) == -1) {
		rc = errno;
		t->base = NULL;
		wrk_table_free(t);
		return rc;
	}
	if ((rc = tbl_format(t->base, t->size, m)) != 0 ||
	    (rc = wrk_open(t)) != 0) {
		wrk_table_free(t);
		return rc;
	}
	RB_INSERT(wtables, &wk->tables, t);
	wk->ntables++;
	/* No table is acknowledged before the monitor holds its segment. */
	if ((rc = wrk_register(t)) != 0) {
		worker_table_drop(t);
		return rc;
	}
	worker_title();
	*out = t;
	return 0;
}

void
worker_table_drop(struct wtable *t)
{
	state_forget_table(wk->d, t->id);
	if (wk->mon_fd != -1 && ipc_send(wk->mon_fd, IPC_SEG_DEL, 0, &t->id,
	    sizeof(t->id), NULL, 0, 0) == -1)
		log_warn("tell monitor");
	RB_REMOVE(wtables, &wk->tables, t);
	wk->ntables--;
	wrk_table_free(t);
	worker_title();
}

/*
 * After the handoff: a catalog entry of our slot without a segment was
 * lost (its worker and the monitor died together); a segment without an
 * entry was being dropped.  Also finishes creations the predecessor left
 * half-way once the monitor held the segment.
 */
static void
wrk_reconcile(void)
{
	struct catalog	*cat = &wk->d->cat;
	struct wtable	*t, *tmp;
	struct ipc_ready lost = { wk->slot, 0 };
	uint32_t	 i;

	cat_lock(cat);
	for (i = 0; i < cat->hdr->nentries; i++) {
		struct cat_entry *e = &cat->hdr->entries[i];

		if (cat_state(e) == CAT_FREE || e->worker != wk->slot)
			continue;
		if (worker_table(e->id) != NULL) {
			if (cat_state(e) == CAT_CREATING)
				cat_set_state(e, CAT_READY);
			continue;
		}
		if (cat_state(e) == CAT_READY && daemon_fdstore(wk->d)) {
			/* systemd's fd store still has it: keep the entry. */
			lost.tables++;
			continue;
		}
		if (cat_state(e) == CAT_READY)
			log_warnx("table %s LOST: its worker and the monitor "
			    "died together", e->name);
		cat_set_state(e, CAT_FREE);
	}
	RB_FOREACH_SAFE(t, wtables, &wk->tables, tmp)
		if (cat_find_id(cat, t->id) == NULL)
			worker_table_drop(t);
	cat_unlock(cat);
	if (lost.tables > 0 && ipc_send(wk->sup_fd, IPC_WRK_LOST, 0, &lost,
	    sizeof(lost), NULL, 0, 0) == -1)
		log_warn("report lost tables");
}

static void
wrk_reload(void)
{
	struct conf	 nc;
	char		 err[512];

	if (conf_load(&nc, wk->d->confpath, err, sizeof(err)) == -1) {
		log_warnx("reload: %s", err);
		return;
	}
	wk->d->conf.default_size = nc.default_size;
	wk->d->conf.max_size = nc.max_size;
	wk->d->conf.max_tables = nc.max_tables;
	wk->d->conf.max_connections = nc.max_connections;
	wk->d->conf.handoff_timeout_ms = nc.handoff_timeout_ms;
	wk->d->conf.debug = nc.debug;
	log_setdebug(nc.debug);
}

/*
 * Save every table of ours to the state directory (state.c): at a stop
 * (stopping: each retired first, clients served no more), or for a
 * snapshot (a table whose file would not change is not written again).
 * Returns the number not saved.
 */
static int
wrk_save(int stopping)
{
	struct cat_entry	 e;
	struct cat_entry	*ce;
	struct wtable		*t;
	uint64_t		 sum;
	int			 rc, failed = 0, saved = 0, same = 0;
	int64_t			 t0 = clk_now_ms();

	if (stopping)
		conn_accepting(0);
	RB_FOREACH(t, wtables, &wk->tables) {
		cat_lock(&wk->d->cat);
		ce = cat_find_id(&wk->d->cat, t->id);
		if (ce != NULL)
			e = *ce;
		cat_unlock(&wk->d->cat);
		if (ce == NULL || cat_state(&e) != CAT_READY)
			continue;	/* being dropped or created */
		if (e.flags & CAT_VOLATILE) {
			/* Never on disk; at a stop, no orphan writes either. */
			if (stopping)
				(void)tbl_retire(&t->tbl);
			continue;
		}
		if (t->bad) {
			log_warnx("table %s failed validation: not saved",
			    e.name);
			failed++;
			continue;
		}
		sum = t->saved_sum;
		if ((rc = state_save_table(wk->d, &t->tbl, &e, stopping,
		    &t->saved_sum)) != 0) {
			log_warnx("table %s NOT SAVED: %s", e.name,
			    rc > 0 ? strerror(rc) : protets_strerror(rc));
			failed++;
			continue;
		}
		if (sum != 0 && sum == t->saved_sum)
			same++;
		else
			saved++;
	}
	if (!stopping) {
		CAT_STAT_ADD(&wk->d->cat, snapshot_saved, saved);
		CAT_STAT_ADD(&wk->d->cat, snapshot_failed, failed);
	}
	/* An idle table's snapshot, every snapshot_interval: debug only. */
	(stopping || saved || failed ? log_info : log_debug)("%s: %d tables "
	    "saved, %d unchanged, %d not, in %lld ms", stopping ? "stop" :
	    "snapshot", saved, same, failed,
	    (long long)(clk_now_ms() - t0));
	return failed;
}

/* The supervisor's periodic snapshot: save, then say so. */
static void
wrk_snapshot(void)
{
	struct ipc_ready	r = { wk->slot, 0 };

	r.tables = (uint32_t)wrk_save(0);
	if (ipc_send(wk->sup_fd, IPC_WRK_SNAPSHOT_DONE, 0, &r, sizeof(r),
	    NULL, 0, 0) == -1)
		log_warn("snapshot done");
}

static void
wrk_signal(int fd, uint32_t events, void *arg)
{
	struct signalfd_siginfo	 si;

	(void)events;
	(void)arg;
	while (read(fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP)
			wrk_reload();
		else if (__atomic_load_n(&wk->d->cat.hdr->stopping,
		    __ATOMIC_RELAXED) && state_enabled(wk->d))
			exit(wrk_save(1) ? WORKER_SAVE_FAILED : 0);
		else
			exit(0);
	}
}

static void
wrk_signals(void)
{
	sigset_t	 mask;
	int		 fd;

	sigemptyset(&mask);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	if ((fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) == -1 ||
	    ev_add(fd, EPOLLIN, wrk_signal, NULL) == -1)
		fatal("signalfd");
}

void
worker_main(struct daemon *d, int slot, int sup_fd, int mon_fd)
{
	static struct worker	 w;
	struct ipc_ready	 r;
	char			 role[32];
	int64_t			 waited = clk_now_ms();
	int			 acct;

	wk = &w;
	w.d = d;
	w.spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	w.slot = slot;
	w.sup_fd = sup_fd;
	w.mon_fd = mon_fd;
	RB_INIT(&w.tables);
	TAILQ_INIT(&w.conns);
	snprintf(role, sizeof(role), "worker %d", slot);
	log_setrole(role);
	worker_title();
	if (ev_init() == -1 || ev_add(sup_fd, EPOLLIN, wrk_sup_msg, NULL) == -1 ||
	    ev_add(mon_fd, EPOLLIN, wrk_mon_msg, NULL) == -1)
		fatal("worker event loop");
	wrk_signals();
	/* Serve nobody before we hold every segment of our slot. */
	while (!w.handoff_done) {
		if (ev_dispatch(1000) == -1)
			fatal("epoll_wait");
		if (!w.handoff_done && clk_now_ms() - waited > 5000) {
			log_warnx("still waiting for the monitor's handoff");
			waited = clk_now_ms();
		}
	}
	wrk_reconcile();
	/* Our predecessor's clients are gone with it. */
	cat_conn_reset(&d->cat, slot);
	worker_title();
	r.slot = slot;
	r.tables = w.ntables;
	if (ipc_send(sup_fd, IPC_WRK_READY, 0, &r, sizeof(r), NULL, 0, 0) == -1)
		log_warn("ready");
	if (ev_add(d->inbox[slot][0], EPOLLIN, conn_inbox_cb, NULL) == -1)
		fatal("ev_add inbox");
	if ((acct = ev_timer_every(1000)) == -1 ||
	    ev_add(acct, EPOLLIN, wrk_account, NULL) == -1)
		fatal("accounting timer");
	conn_accepting(1);
	for (;;) {
		if (ev_dispatch(-1) == -1)
			fatal("epoll_wait");
		if (w.snap_pending) {
			w.snap_pending = 0;
			wrk_snapshot();
		}
	}
}
