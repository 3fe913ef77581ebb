/*
 * fuzz_conn.c - libFuzzer harness for a worker's whole connection handler
 * (conn.c framing, proto.c requests, fd handling).  Each input is what one
 * client sends: its first byte chooses how many fds ride along (0..3, or
 * FDPASS_MAX), the rest is the byte stream, delivered through a real
 * socketpair.  The worker is set up once with a catalog and one table.
 */
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ev.h"
#include "fdpass.h"
#include "ipc.h"
#include "log.h"
#include "segment.h"
#include "worker.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct daemon	 fz_d;
static struct worker	 fz_w;

/* One table, owned by this worker, registered in the catalog. */
static void
fz_table(const char *name, uint32_t access)
{
	struct cat_entry	*e;
	struct wtable		*t;
	struct tbl_meta		 m;

	cat_lock(&fz_d.cat);
	e = cat_alloc(&fz_d.cat, 16);
	memset(&m, 0, sizeof(m));
	m.id = e->id;
	m.type = PROTETS_SET;
	m.access = access;
	m.owner_uid = 12345;
	strlcpy(m.name, name, sizeof(m.name));
	t = calloc(1, sizeof(*t));
	t->id = m.id;
	t->fd = seg_create(name, 1 << 20, 0);
	if (t->fd == -1 || seg_map(t->fd, 1, &t->base, &t->size) == -1 ||
	    tbl_format(t->base, t->size, &m) != 0 ||
	    tbl_open(&t->tbl, t->base, t->size, 1) != 0)
		abort();
	RB_INSERT(wtables, &fz_w.tables, t);
	fz_w.ntables++;
	e->type = m.type;
	e->access = access;
	e->owner_uid = m.owner_uid;
	e->worker = 0;
	e->size = 1 << 20;
	e->quota = 0;
	e->name_len = (uint32_t)strlen(name);
	memcpy(e->name, name, e->name_len + 1);
	cat_set_state(e, CAT_READY);
	cat_unlock(&fz_d.cat);
}

static void
fz_init(void)
{
	conf_defaults(&fz_d.conf);
	fz_d.conf.handoff_timeout_ms = 0;	/* no monitor: fail fast */
	fz_d.conf.max_tables = 16;
	fz_d.conf.max_size = 4 << 20;	/* each GET's reservation */
	fz_d.nworkers = 1;
	fz_d.listen_fd = -1;
	if (cat_create(&fz_d.cat, 16, 1) == -1 || ipc_pair(fz_d.inbox[0]) ==
	    -1 || ev_init() == -1)
		abort();
	fz_w.d = &fz_d;
	fz_w.slot = 0;
	fz_w.sup_fd = -1;
	fz_w.mon_fd = -1;
	fz_w.accepting = 1;	/* never toggled: no listen fd */
	fz_w.spare_fd = -1;
	RB_INIT(&fz_w.tables);
	TAILQ_INIT(&fz_w.conns);
	wk = &fz_w;
	log_setquiet(1);
	fz_table("pub", PROTETS_PUBLIC);
	fz_table("priv", PROTETS_PRIVATE);
}

/* Read and drop whatever the worker answered, closing any fd it sent. */
static void
fz_drain(int s)
{
	char	 buf[4096];
	int	 fds[FDPASS_MAX], n;

	while (fdpass_recv(s, buf, sizeof(buf), fds, FDPASS_MAX, &n,
	    MSG_DONTWAIT) > 0)
		fdpass_close_all(fds, n);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int	 init;
	int		 sv[2], fds[FDPASS_MAX], nfds = 0, i, rounds;
	size_t		 off = 0;
	ssize_t		 n;

	if (!init) {
		fz_init();
		init = 1;
	}
	if (size < 1)
		return 0;
	nfds = data[0] & 3;
	if (data[0] == 0xff)
		nfds = FDPASS_MAX;
	data++;
	size--;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		return 0;
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	for (i = 0; i < nfds; i++)
		fds[i] = dup(sv[0]);
	if (size > 0) {
		n = fdpass_send(sv[0], data, size, fds, nfds, MSG_DONTWAIT);
		off = n > 0 ? (size_t)n : 0;
	}
	fdpass_close_all(fds, nfds);
	shutdown(sv[0], SHUT_WR);
	if (conn_new(sv[1]) == NULL) {
		close(sv[0]);
		return 0;
	}
	/* Run the worker until the connection is done with. */
	for (rounds = 0; rounds < 64 && !TAILQ_EMPTY(&fz_w.conns); rounds++) {
		if (ev_dispatch(0) <= 0)
			break;
		fz_drain(sv[0]);
	}
	(void)off;
	/* Once its client is gone, a connection must not linger. */
	close(sv[0]);
	for (rounds = 0; rounds < 16 && !TAILQ_EMPTY(&fz_w.conns); rounds++)
		ev_dispatch(0);
	if (!TAILQ_EMPTY(&fz_w.conns))
		abort();
	return 0;
}
