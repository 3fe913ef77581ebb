/*
 * conn.c - client connections of a worker: accept, read frames, write
 * replies (with an fd attached to the first byte), and pass connections
 * to the worker that owns the table asked for.
 *
 * fd ownership: conn.fd belongs to this worker until conn_forward sends it
 * to another worker's inbox; then our copy is closed.  An fd a client sends
 * us is closed at once and the request refused.  conn.outfd is owned until
 * written to the client.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ev.h"
#include "ipc.h"
#include "log.h"
#include "worker.h"

#define CONN_INCAP	(sizeof(struct wire_hdr) + WIRE_MAX_REQUEST)

static void	conn_io(int, uint32_t, void *);
static void	conn_process(struct conn *);
static void	conn_fail(struct conn *, uint16_t, uint32_t, int32_t,
		    const char *);

static void
conn_free(struct conn *c)
{
	ev_del(c->fd);
	close(c->fd);
	if (c->outfd != -1)
		close(c->outfd);
	wbuf_free(&c->out);
	free(c->in);
	if (c->counted)
		cat_conn_add(&wk->d->cat, wk->slot, c->uid, -1);
	TAILQ_REMOVE(&wk->conns, c, entry);
	free(c);
	if (wk->nconns-- == wk->d->conf.max_connections)
		conn_accepting(1);
}

struct conn *
conn_new(int fd)
{
	struct conn	*c;
	struct ucred	 cr;
	socklen_t	 len = sizeof(cr);

	/* Identity from the kernel only, never from the payload. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == -1) {
		log_warn("SO_PEERCRED");
		close(fd);
		return NULL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->in = malloc(CONN_INCAP)) == NULL) {
		free(c);
		close(fd);
		return NULL;
	}
	c->fd = fd;
	c->uid = cr.uid;
	c->gid = cr.gid;
	c->pid = cr.pid;
	c->outfd = -1;
	wbuf_init(&c->out);
	if (ev_add(fd, EPOLLIN, conn_io, c) == -1) {
		log_warn("ev_add");
		free(c->in);
		free(c);
		close(fd);
		return NULL;
	}
	TAILQ_INSERT_TAIL(&wk->conns, c, entry);
	if (++wk->nconns >= wk->d->conf.max_connections)
		conn_accepting(0);
	c->counted = cat_conn_add(&wk->d->cat, wk->slot, c->uid, 1) == 0;
	return c;
}

/* A new client over its uid's connection limit is told so, then closed. */
static void
conn_admit(struct conn *c)
{
	int	 max = wk->d->conf.max_connections_per_uid;

	if (max <= 0 || c->uid == 0)
		return;
	/* Our own count includes c itself. */
	if (!c->counted || cat_conn_total(&wk->d->cat, c->uid) > (uint32_t)max) {
		char	 msg[128];

		snprintf(msg, sizeof(msg), "max_connections_per_uid (%d) "
		    "reached for uid %u", max, (unsigned)c->uid);
		log_warnx("%s", msg);
		conn_fail(c, 0, 0, PROTETS_ELIMIT, msg);
		conn_process(c);
	}
}

void
conn_accepting(int on)
{
	if (on == wk->accepting)
		return;
	wk->accepting = on;
	if (on) {
		if (ev_add(wk->d->listen_fd, EPOLLIN, conn_accept_cb, NULL) ==
		    -1)
			log_warn("ev_add listen");
	} else
		ev_del(wk->d->listen_fd);
}

/*
 * Out of fds, a pending connection would make the listening socket ready
 * forever (a busy loop).  Give up the spare fd to accept it, tell the
 * client why, close it, and take the spare back.
 */
static void
conn_refuse_emfile(int lfd)
{
	struct wire_hdr	 h;
	int		 s;

	if (wk->spare_fd == -1)
		return;
	close(wk->spare_fd);
	if ((s = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) !=
	    -1) {
		wire_hdr_make(&h, WIRE_REPLY, 0, 0, EMFILE);
		if (send(s, &h, sizeof(h), MSG_DONTWAIT | MSG_NOSIGNAL) == -1)
			log_debug("refuse client: %s", strerror(errno));
		close(s);
	}
	wk->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

void
conn_accept_cb(int fd, uint32_t events, void *arg)
{
	struct conn	*c;
	int		 s;

	(void)events;
	(void)arg;
	/* Every worker waits on the same socket: EAGAIN means another won. */
	while (wk->accepting) {
		s = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (s == -1) {
			if (errno == EMFILE || errno == ENFILE) {
				log_warn("accept");
				conn_refuse_emfile(fd);
			} else if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("accept");
			return;
		}
		CAT_STAT_ADD(&wk->d->cat, connections, 1);
		if ((c = conn_new(s)) != NULL)
			conn_admit(c);
	}
}

/* A connection another worker passed to us, with the bytes it read. */
void
conn_inbox_cb(int fd, uint32_t events, void *arg)
{
	unsigned char	 buf[sizeof(struct ipc_fwd) + CONN_INCAP];
	struct ipc_fwd	 fw;
	struct ipc_hdr	 h;
	struct conn	*c;
	int		 fds[4];
	ssize_t		 n;

	(void)events;
	(void)arg;
	if ((n = ipc_read(fd, &h, buf, sizeof(buf), fds, 4, "inbox")) == -1)
		return;
	if (h.type != IPC_FWD_CONN || h.nfds != 1 ||
	    (size_t)n < sizeof(fw) || (size_t)n - sizeof(fw) > CONN_INCAP) {
		log_warnx("inbox: unexpected message %u", h.type);
		fdpass_close_all(fds, (int)h.nfds);
		return;
	}
	memcpy(&fw, buf, sizeof(fw));
	if ((c = conn_new(fds[0])) == NULL)
		return;
	c->hops = fw.hops;
	c->create_here = fw.create_here;
	c->inlen = (size_t)n - sizeof(fw);
	memcpy(c->in, buf + sizeof(fw), c->inlen);
	conn_process(c);
}

int
conn_forward(struct conn *c, int slot, int create_here)
{
	unsigned char	 buf[sizeof(struct ipc_fwd) + CONN_INCAP];
	struct ipc_fwd	 fw = { .hops = c->hops + 1,
			    .create_here = (uint32_t)create_here };

	if (fw.hops > (uint32_t)(2 * wk->d->nworkers + 2) ||
	    c->out.len > c->outoff || c->outfd != -1)
		return PROTETS_EAGAIN;
	memcpy(buf, &fw, sizeof(fw));
	memcpy(buf + sizeof(fw), c->in, c->inlen);
	/* Never block on a busy or restarting worker: fail the request. */
	if (ipc_send(wk->d->inbox[slot][1], IPC_FWD_CONN, 0, buf,
	    sizeof(fw) + c->inlen, &c->fd, 1, MSG_DONTWAIT) == -1) {
		log_warn("forward connection to worker %d", slot);
		return PROTETS_EAGAIN;
	}
	/* The connection is the other worker's now. */
	conn_free(c);
	return 0;
}

/* Write what we can; attach outfd to the first byte written. */
static int
conn_flush(struct conn *c)
{
	ssize_t	 n;

	while (c->outoff < c->out.len) {
		n = fdpass_send(c->fd, c->out.data + c->outoff,
		    c->out.len - c->outoff, &c->outfd, c->outfd != -1,
		    MSG_DONTWAIT);
		if (n == -1) {
			if (errno == EAGAIN)
				return 0;
			return -1;
		}
		if (c->outfd != -1) {
			close(c->outfd);	/* the client has its own now */
			c->outfd = -1;
		}
		c->outoff += (size_t)n;
	}
	c->out.len = c->outoff = 0;
	return 1;
}

void
conn_reply(struct conn *c, const struct wire_hdr *req, int32_t status,
    const void *payload, size_t len, int fd)
{
	struct wire_hdr	 h;

	wire_hdr_make(&h, req->op | WIRE_REPLY, (uint32_t)len, req->seq,
	    status);
	cat_stat_reply(&wk->d->cat, req->op, status);
	wbuf_put(&c->out, &h, sizeof(h));
	wbuf_put(&c->out, payload, len);
	if (c->out.err) {
		c->closing = 1;
		if (fd != -1)
			close(fd);
		return;
	}
	if (fd != -1) {
		if (c->outfd != -1)
			close(c->outfd);
		c->outfd = fd;
	}
}

void
conn_error(struct conn *c, const struct wire_hdr *req, int32_t err,
    const char *fmt, ...)
{
	struct wbuf	 w;
	char		 msg[256];
	va_list		 ap;
	int		 n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	wbuf_init(&w);
	wbuf_str(&w, msg, strlen(msg));
	conn_reply(c, req, err, w.data, w.err ? 0 : w.len, -1);
	wbuf_free(&w);
}

/* Refuse a connection's stream: reply once with err, then close. */
static void
conn_fail(struct conn *c, uint16_t op, uint32_t seq, int32_t err,
    const char *msg)
{
	struct wire_hdr	 req;

	wire_hdr_make(&req, op & ~WIRE_REPLY, 0, seq, 0);
	conn_error(c, &req, err, "%s", msg);
	c->closing = 1;
	c->inlen = 0;
}

/* Handle every complete frame we have, while no reply is pending. */
static void
conn_process(struct conn *c)
{
	struct wire_hdr	 h;
	size_t		 flen;
	int		 rc;

	while (!c->closing && c->out.len == 0 &&
	    c->inlen >= sizeof(struct wire_hdr)) {
		memcpy(&h, c->in, sizeof(h));
		if ((rc = wire_hdr_check_request(&h)) != 0) {
			char	 msg[128];

			if (rc == PROTETS_EVERSION)
				snprintf(msg, sizeof(msg), "protocol version "
				    "%u not supported (this daemon speaks %d)",
				    h.version, WIRE_VERSION);
			else
				snprintf(msg, sizeof(msg), "bad frame header "
				    "(length %u, limit %d)", h.len,
				    WIRE_MAX_REQUEST);
			conn_fail(c, h.op, h.seq, rc, msg);
			break;
		}
		flen = sizeof(h) + h.len;
		if (c->inlen < flen)
			break;
		if (proto_request(c, &h, c->in + sizeof(h)))
			return;		/* forwarded: c is gone */
		/* Served here: what the forwarder said was for that request. */
		c->hops = 0;
		c->create_here = 0;
		memmove(c->in, c->in + flen, c->inlen - flen);
		c->inlen -= flen;
	}
	if (c->out.len > 0) {
		rc = conn_flush(c);
		if (rc == -1 || (rc == 1 && c->closing)) {
			conn_free(c);
			return;
		}
		if (rc == 0) {
			ev_mod(c->fd, EPOLLOUT);
			return;
		}
		if (c->inlen >= sizeof(struct wire_hdr)) {
			conn_process(c);	/* pipelined requests */
			return;
		}
	}
	if (c->closing) {
		conn_free(c);
		return;
	}
	ev_mod(c->fd, EPOLLIN);
}

static void
conn_read(struct conn *c)
{
	int	 fds[FDPASS_MAX], nfds;
	ssize_t	 n;

	if (c->inlen == CONN_INCAP)
		return;		/* conn_process consumes a frame first */
	n = fdpass_recv(c->fd, c->in + c->inlen, CONN_INCAP - c->inlen, fds,
	    FDPASS_MAX, &nfds, MSG_DONTWAIT);
	if (n == -1 && errno == EAGAIN)
		return;
	if (n == -1 && errno == EPROTO) {
		conn_fail(c, 0, 0, PROTETS_EPROTO,
		    "file descriptors are not accepted");
		return;
	}
	if (n <= 0) {
		c->closing = 1;
		c->inlen = 0;
		return;
	}
	if (nfds > 0) {
		/* Clients may not push fds at the daemon. */
		fdpass_close_all(fds, nfds);
		log_warnx("client pid %d sent %d fds; refused", (int)c->pid,
		    nfds);
		conn_fail(c, 0, 0, PROTETS_EPROTO,
		    "file descriptors are not accepted");
		return;
	}
	c->inlen += (size_t)n;
}

static void
conn_io(int fd, uint32_t events, void *arg)
{
	struct conn	*c = arg;
	int		 rc;

	(void)fd;
	if (events & EPOLLOUT) {
		rc = conn_flush(c);
		if (rc == -1 || (rc == 1 && c->closing)) {
			conn_free(c);
			return;
		}
		if (rc == 0)
			return;
	} else if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		conn_read(c);
	conn_process(c);
}
