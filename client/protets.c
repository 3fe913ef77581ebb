/*
 * protets.c - libprotets: connection to protetsd and the requests of
 * docs/PROTOCOL.md.  Table access itself is in table.c.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "conf.h"
#include "fdpass.h"
#include "protets_int.h"
#include "table.h"
#include "wire.h"

/* Tries of a request whose connection breaks (workers being killed). */
#define PT_ATTEMPTS	6

struct protets {
	int		 fd;		/* -1 while disconnected */
	char		 path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	uint32_t	 seq;
	int		 retried;	/* the last request was sent again */
	pthread_mutex_t	 lock;		/* one request at a time */
};

static const char *const pt_errors[] = {
	"no such key or table",				/* NOTFOUND */
	"key or table already exists",			/* EXISTS */
	"invalid argument",				/* EINVAL */
	"permission denied by the table's access mode",	/* EACCES */
	"table full: its size (quota) is reached",		/* EFULL */
	"key or value too large",			/* ETOOBIG */
	"segment is corrupt",				/* ECORRUPT */
	"segment has an incompatible layout",		/* EFORMAT */
	"protocol error",				/* EPROTO */
	"protocol version mismatch",			/* EVERSION */
	"daemon unreachable",				/* ECONNECT */
	"table in use",					/* EBUSY */
	"buffer too small",				/* ERANGE */
	"a configured limit was reached",		/* ELIMIT */
	"temporary failure, try again",			/* EAGAIN */
	"daemon-side failure (see its log)",		/* EDAEMON */
	"table write lock held too long",		/* ELOCKED */
	"saved file is malformed or corrupt",		/* EFILE */
	"the table exists with other options",		/* EMISMATCH */
	"the table was retired: the daemon stopped or replaced it", /* ESTALE */
};
/* A code added to protets.h without its message fails the build. */
_Static_assert(sizeof(pt_errors) / sizeof(pt_errors[0]) ==
    PROTETS_ERRMAX - PROTETS_ERRMIN + 1, "one message per error code");

/* The daemon's message on this thread's last failed request. */
static __thread char	pt_errbuf[256];

const char *
protets_errmsg(void)
{
	return pt_errbuf;
}

void
pt_errclear(void)
{
	pt_errbuf[0] = '\0';
}

void
pt_errset(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(pt_errbuf, sizeof(pt_errbuf), fmt, ap);
	va_end(ap);
}

/* No daemon at path: said so for protets_errmsg. */
static void
pt_errunreachable(const char *path)
{
	snprintf(pt_errbuf, sizeof(pt_errbuf), "nothing listening at %s",
	    path);
}

/* An error reply's message (a str, or nothing), kept for protets_errmsg. */
static void
pt_errkeep(const struct wbuf *reply)
{
	struct rbuf	 r;
	uint16_t	 n;

	pt_errclear();
	if (reply->len < 2)
		return;
	rbuf_init(&r, reply->data, reply->len);
	n = rbuf_u16(&r);
	if (r.err || n > reply->len - 2)
		return;
	if (n >= sizeof(pt_errbuf))
		n = sizeof(pt_errbuf) - 1;
	memcpy(pt_errbuf, reply->data + 2, n);
	pt_errbuf[n] = '\0';
}

const char *
protets_strerror(int err)
{
	if (err == 0)
		return "success";
	if (err >= PROTETS_ERRMIN && err <= PROTETS_ERRMAX)
		return pt_errors[PROTETS_ERRMAX - err];
	if (err > 0)
		return strerror(err);
	return "unknown error";
}

static const char *const pt_types[] = {
	NULL, "set", "ordered_set", "bag", "duplicate_bag"
};
static const char *const pt_access[] = {
	NULL, "public", "protected", "private"
};

const char *
protets_type_name(protets_type t)
{
	return (t >= PROTETS_SET && t <= PROTETS_DUPLICATE_BAG) ?
	    pt_types[t] : "unknown";
}

const char *
protets_access_name(protets_access a)
{
	return (a >= PROTETS_PUBLIC && a <= PROTETS_PRIVATE) ?
	    pt_access[a] : "unknown";
}

int
protets_type_parse(const char *s, protets_type *out)
{
	int	 i;

	for (i = PROTETS_SET; i <= PROTETS_DUPLICATE_BAG; i++)
		if (strcmp(s, pt_types[i]) == 0) {
			*out = (protets_type)i;
			return 0;
		}
	return PROTETS_EINVAL;
}

int
protets_access_parse(const char *s, protets_access *out)
{
	int	 i;

	for (i = PROTETS_PUBLIC; i <= PROTETS_PRIVATE; i++)
		if (strcmp(s, pt_access[i]) == 0) {
			*out = (protets_access)i;
			return 0;
		}
	return PROTETS_EINVAL;
}

/* protets.conf: $PROTETS_CONF, else the built-in path. */
static const char *
pt_conf_path(void)
{
	const char	*path = getenv("PROTETS_CONF");

	return path != NULL && *path != '\0' ? path : PROTETS_CONF_PATH;
}

/*
 * Load protets.conf into *cp (malloc'd; the caller frees it): 0, -1 when
 * it cannot be read or is not valid (*cp then holds the defaults), or
 * ENOMEM (*cp NULL).
 */
static int
pt_conf_load(struct conf **cp)
{
	char	 err[512];

	if ((*cp = malloc(sizeof(**cp))) == NULL)
		return ENOMEM;
	if (conf_load_client(*cp, pt_conf_path(), err, sizeof(err)) == -1) {
		conf_defaults(*cp);
		return -1;
	}
	return 0;
}

int
protets_default_socket(char *buf, size_t bufsz)
{
	const char	*s = getenv("PROTETS_SOCKET");
	struct conf	*c;
	int		 rc;

	if (s != NULL && *s != '\0')
		return strlcpy(buf, s, bufsz) < bufsz ? 0 : PROTETS_ERANGE;
	if ((rc = pt_conf_load(&c)) == ENOMEM)
		return ENOMEM;
	/* No file: the built-in default; a broken one: an error. */
	rc = rc == -1 && access(pt_conf_path(), F_OK) == 0 ?
	    PROTETS_EINVAL : 0;
	if (rc == 0 && strlcpy(buf, c->socket, bufsz) >= bufsz)
		rc = PROTETS_ERANGE;
	free(c);
	return rc;
}

/*
 * lock_timeout_ms and connect_timeout_ms of the configuration file, or -1
 * (none, unreadable).
 */
static int	pt_conf_timeout = -1, pt_conf_connect = -1;
static pthread_once_t pt_conf_once = PTHREAD_ONCE_INIT;

static void
pt_conf_timeout_read(void)
{
	struct conf	*c;

	if (pt_conf_load(&c) == 0) {
		pt_conf_timeout = c->lock_timeout_ms;
		pt_conf_connect = c->connect_timeout_ms;
	}
	free(c);
}

/* $name if it is a whole number of milliseconds, else -1. */
static int
pt_env_ms(const char *name)
{
	const char	*s = getenv(name);
	int		 v;

	if (s != NULL && *s >= '0' && *s <= '9' &&
	    conf_int(s, 0, INT_MAX, &v) == 0)
		return v;
	return -1;
}

/*
 * How long to redial a daemon that refuses connections:
 * $PROTETS_CONNECT_TIMEOUT_MS, else connect_timeout_ms, else the default.
 */
static int
pt_connect_timeout(void)
{
	int	v;

	if ((v = pt_env_ms("PROTETS_CONNECT_TIMEOUT_MS")) >= 0)
		return v;
	pthread_once(&pt_conf_once, pt_conf_timeout_read);
	return pt_conf_connect >= 0 ? pt_conf_connect :
	    CONF_CONNECT_TIMEOUT_MS;
}

/* A value that is not a number of milliseconds is ignored. */
int
pt_lock_timeout_default(void)
{
	int	v;

	if ((v = pt_env_ms("PROTETS_LOCK_TIMEOUT_MS")) >= 0)
		return v;
	pthread_once(&pt_conf_once, pt_conf_timeout_read);
	return pt_conf_timeout >= 0 ? pt_conf_timeout : TBL_LOCK_TIMEOUT_MS;
}

static int
pt_dial(protets_t *p)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	int			 s, e;

	strlcpy(sun.sun_path, p->path, sizeof(sun.sun_path));
	if ((s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return errno;
	if (connect(s, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		e = errno;
		close(s);
		if (e == ENOENT || e == ECONNREFUSED || e == ENOTDIR)
			return PROTETS_ECONNECT;
		return e;
	}
	p->fd = s;
	return 0;
}

/*
 * A daemon that is restarting (systemd restarting the service: 300 to
 * 420 ms here; a monitor taking over from a dead supervisor: tens of
 * milliseconds) refuses connections, or has no socket yet: keep dialling,
 * 1 to 32 ms apart, until connect_timeout_ms has passed (on the monotonic
 * clock: a loaded machine does not stretch it).
 */
static int
pt_dial_retry(protets_t *p)
{
	int64_t		 deadline = 0;
	unsigned	 step = 1;
	int		 rc;

	while ((rc = pt_dial(p)) == PROTETS_ECONNECT) {
		if (deadline == 0)
			deadline = clk_now_ms() + pt_connect_timeout();
		if (clk_now_ms() >= deadline)
			break;
		usleep(step * 1000);
		if (step < 32)
			step *= 2;
	}
	return rc;
}

int
protets_connect(const char *sockpath, protets_t **out)
{
	protets_t	*p;
	int		 rc;

	pt_errclear();
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return ENOMEM;
	p->fd = -1;
	pthread_mutex_init(&p->lock, NULL);
	if (sockpath == NULL)
		rc = protets_default_socket(p->path, sizeof(p->path));
	else
		rc = strlcpy(p->path, sockpath, sizeof(p->path)) <
		    sizeof(p->path) ? 0 : PROTETS_EINVAL;
	if (rc == 0 && (rc = pt_dial_retry(p)) == PROTETS_ECONNECT)
		pt_errunreachable(p->path);
	if (rc != 0) {
		pthread_mutex_destroy(&p->lock);
		free(p);
		return rc;
	}
	*out = p;
	return 0;
}

void
protets_disconnect(protets_t *p)
{
	if (p == NULL)
		return;
	if (p->fd != -1)
		close(p->fd);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

const char *
pt_sockpath(const protets_t *p)
{
	return p->path;
}

static void
pt_hangup(protets_t *p)
{
	if (p->fd != -1)
		close(p->fd);
	p->fd = -1;
}

static int
pt_write_all(int fd, const unsigned char *b, size_t n)
{
	ssize_t	 w;

	while (n > 0) {
		w = send(fd, b, n, MSG_NOSIGNAL);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read exactly n bytes, collecting at most one fd into *fd. */
static int
pt_read_all(int sock, unsigned char *b, size_t n, int *fd)
{
	int	 fds[FDPASS_MAX], nfds;
	ssize_t	 r;

	while (n > 0) {
		r = fdpass_recv(sock, b, n, fds, FDPASS_MAX, &nfds, 0);
		if (r <= 0)
			return -1;
		if (nfds > 0) {
			if (fd != NULL && *fd == -1) {
				*fd = fds[0];
				fds[0] = -1;
			}
			fdpass_close_all(fds, nfds);
		}
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

/* One exchange on a live connection; -1 when the connection broke. */
static int
pt_exchange(protets_t *p, uint16_t op, const struct wbuf *req,
    struct wbuf *reply, int *fd, int *status)
{
	struct wire_hdr	 h;
	uint32_t	 seq = ++p->seq;

	wire_hdr_make(&h, op, (uint32_t)req->len, seq, 0);
	if (pt_write_all(p->fd, (unsigned char *)&h, sizeof(h)) == -1 ||
	    pt_write_all(p->fd, req->data, req->len) == -1) {
		/*
		 * The daemon may have refused the connection and closed it
		 * before we wrote: its reason is waiting to be read.
		 */
		if (recv(p->fd, &h, sizeof(h), MSG_DONTWAIT | MSG_PEEK) !=
		    sizeof(h))
			return -1;
	}
	if (pt_read_all(p->fd, (unsigned char *)&h, sizeof(h), fd) == -1)
		return -1;
	if (h.version != WIRE_VERSION) {
		*status = PROTETS_EVERSION;
		return -2;
	}
	/* The daemon refusing the whole connection answers op 0, seq 0. */
	if (h.op == WIRE_REPLY && h.seq == 0 && h.status != 0) {
		*status = h.status;
		return -2;
	}
	if (h.op != (op | WIRE_REPLY) || h.seq != seq ||
	    h.len > WIRE_MAX_REPLY) {
		*status = PROTETS_EPROTO;
		return -2;
	}
	wbuf_put(reply, NULL, 0);
	reply->len = 0;
	if (h.len > 0) {
		wbuf_put(reply, NULL, h.len);
		if (reply->err) {
			*status = ENOMEM;
			return -2;
		}
		if (pt_read_all(p->fd, reply->data, h.len, fd) == -1)
			return -1;
	}
	*status = h.status;
	return 0;
}

/*
 * Send a request and read its reply, asking again (up to PT_ATTEMPTS
 * times, 2 to 32 ms apart) when the connection broke (the worker serving
 * it died mid-request: its successor is forked at once) or the daemon
 * answered PROTETS_EAGAIN (a worker could not pass the request on to the
 * one owning the table, which is restarting: nothing was done).
 * p->retried: the request may have reached the daemon more than once.
 */
int
pt_request(protets_t *p, uint16_t op, const struct wbuf *req,
    struct wbuf *reply, int *fd)
{
	int	 attempt, rc, status = 0, resent = 0, dialfail = 0;

	if (req->err)
		return ENOMEM;
	pthread_mutex_lock(&p->lock);
	for (attempt = 0; attempt < PT_ATTEMPTS; attempt++) {
		if (attempt > 0)
			usleep(1000u << attempt);	/* 2, 4, ... 32 ms */
		if (fd != NULL && *fd != -1) {
			close(*fd);
			*fd = -1;
		}
		reply->len = 0;		/* no message of an earlier attempt */
		if (p->fd == -1 && (status = pt_dial_retry(p)) != 0) {
			dialfail = 1;
			break;
		}
		p->retried = resent;
		rc = pt_exchange(p, op, req, reply, fd, &status);
		if (rc == 0 && status != PROTETS_EAGAIN)
			break;
		if (rc == 0)
			continue;	/* refused, not done: ask again */
		pt_hangup(p);
		if (rc == -2)
			break;
		/* A daemon that stays down ends the loop at pt_dial_retry. */
		resent = 1;
		status = PROTETS_ECONNECT;
	}
	pthread_mutex_unlock(&p->lock);
	if (status != 0 && fd != NULL && *fd != -1) {
		close(*fd);
		*fd = -1;
	}
	if (status == PROTETS_ECONNECT && dialfail)
		pt_errunreachable(p->path);
	else if (status == PROTETS_ECONNECT)
		snprintf(pt_errbuf, sizeof(pt_errbuf), "the connection to %s "
		    "kept breaking", p->path);
	else if (status != 0)
		pt_errkeep(reply);
	else
		pt_errclear();
	return status;
}

static int
pt_name_req(protets_t *p, uint16_t op, const char *name, struct wbuf *reply)
{
	struct wbuf	 req;
	int		 rc;

	pt_errclear();
	if (name == NULL || wire_name_valid(name, strlen(name)) != 0)
		return PROTETS_EINVAL;
	wbuf_init(&req);
	wire_put_name(&req, name);
	rc = pt_request(p, op, &req, reply, NULL);
	wbuf_free(&req);
	return rc;
}

static int
pt_get(protets_t *p, const char *name, const protets_opts *o, uint32_t flags,
    protets_table_t **out)
{
	struct wire_get	 g;
	struct wbuf	 req, reply;
	struct rbuf	 r;
	protets_info	 info;
	uint32_t	 rflags;
	int		 rc, fd = -1;

	pt_errclear();
	if (name == NULL || wire_name_valid(name, strlen(name)) != 0 ||
	    (o != NULL && (o->flags & ~(uint32_t)(PROTETS_CREATE_ONLY |
	    PROTETS_VOLATILE))))
		return PROTETS_EINVAL;
	memset(&g, 0, sizeof(g));
	memcpy(g.name, name, strlen(name) + 1);
	g.flags = flags;
	if (o != NULL) {
		g.type = (uint32_t)o->type;
		g.access = (uint32_t)o->access;
		g.max_size = o->max_size;
		g.write_concurrency = o->write_concurrency;
		if ((o->flags & PROTETS_CREATE_ONLY) &&
		    (flags & WIRE_GET_CREATE))
			g.flags |= WIRE_GET_EXCL;
		if ((o->flags & PROTETS_VOLATILE) && (flags & WIRE_GET_CREATE))
			g.flags |= WIRE_GET_VOLATILE;
	}
	wbuf_init(&req);
	wbuf_init(&reply);
	wire_put_get(&req, &g);
	rc = pt_request(p, WIRE_GET, &req, &reply, &fd);
	wbuf_free(&req);
	if (rc == 0) {
		rbuf_init(&r, reply.data, reply.len);
		if (wire_get_info(&r, &info, &rflags) != 0 ||
		    rbuf_end(&r) != 0 || fd == -1)
			rc = PROTETS_EPROTO;
	}
	wbuf_free(&reply);
	if (rc == 0)
		rc = pt_table_map(fd, &info, rflags & WIRE_INFO_WRITABLE,
		    p->path, out);
	else if (fd != -1)
		close(fd);
	return rc;
}

int
protets_get(protets_t *p, const char *name, const protets_opts *opts,
    protets_table_t **out)
{
	return pt_get(p, name, opts, WIRE_GET_CREATE, out);
}

int
protets_open(protets_t *p, const char *name, protets_table_t **out)
{
	return pt_get(p, name, NULL, 0, out);
}

int
pt_create(protets_t *p, const char *name, const protets_opts *opts,
    protets_table_t **out)
{
	/*
	 * A retried request may find the table its first attempt created:
	 * PROTETS_EXISTS then, as we cannot tell it from another's.
	 */
	return pt_get(p, name, opts, WIRE_GET_CREATE | WIRE_GET_EXCL, out);
}

int
protets_drop(protets_t *p, const char *name)
{
	struct wbuf	 reply;
	int		 rc;

	wbuf_init(&reply);
	rc = pt_name_req(p, WIRE_DROP, name, &reply);
	wbuf_free(&reply);
	/* Sent again after a broken connection: the first may have done it. */
	if (rc == PROTETS_NOTFOUND && p->retried)
		rc = 0;
	return rc;
}

int
protets_set_access(protets_t *p, const char *name, protets_access access)
{
	struct wbuf	 req, reply;
	int		 rc;

	pt_errclear();
	if (name == NULL || wire_name_valid(name, strlen(name)) != 0 ||
	    access < PROTETS_PUBLIC || access > PROTETS_PRIVATE)
		return PROTETS_EINVAL;
	wbuf_init(&req);
	wbuf_init(&reply);
	wire_put_name(&req, name);
	wbuf_u32(&req, (uint32_t)access);
	rc = pt_request(p, WIRE_SETACCESS, &req, &reply, NULL);
	wbuf_free(&req);
	wbuf_free(&reply);
	return rc;
}

int
protets_resize(protets_t *p, const char *name, uint64_t size)
{
	struct wbuf	 req, reply;
	int		 rc;

	pt_errclear();
	if (name == NULL || wire_name_valid(name, strlen(name)) != 0)
		return PROTETS_EINVAL;
	wbuf_init(&req);
	wbuf_init(&reply);
	wire_put_name(&req, name);
	wbuf_u64(&req, size);
	rc = pt_request(p, WIRE_RESIZE, &req, &reply, NULL);
	wbuf_free(&req);
	wbuf_free(&reply);
	return rc;
}

int
pt_repair(const char *sockpath, const char *name)
{
	protets_t	*p;
	struct wbuf	 reply;
	int		 rc;

	if ((rc = protets_connect(sockpath, &p)) != 0)
		return rc;
	wbuf_init(&reply);
	rc = pt_name_req(p, WIRE_REPAIR, name, &reply);
	wbuf_free(&reply);
	protets_disconnect(p);
	return rc;
}

/*
 * INFO, asking for the growth figures (WIRE_REQ_EXT); a daemon from
 * before them refuses the longer request, and is asked again without.
 */
static int
pt_info_req(protets_t *p, const char *name, int ext, struct wbuf *reply)
{
	struct wbuf	 req;
	int		 rc;

	pt_errclear();
	if (name == NULL || wire_name_valid(name, strlen(name)) != 0)
		return PROTETS_EINVAL;
	wbuf_init(&req);
	wire_put_name(&req, name);
	if (ext)
		wbuf_u32(&req, WIRE_REQ_EXT);
	rc = pt_request(p, WIRE_INFO, &req, reply, NULL);
	wbuf_free(&req);
	return rc;
}

int
protets_info_get(protets_t *p, const char *name, protets_info *out)
{
	struct wbuf	 reply;
	struct rbuf	 r;
	int		 rc;

	wbuf_init(&reply);
	if ((rc = pt_info_req(p, name, 1, &reply)) == PROTETS_EPROTO) {
		wbuf_free(&reply);
		wbuf_init(&reply);
		rc = pt_info_req(p, name, 0, &reply);
	}
	if (rc == 0) {
		rbuf_init(&r, reply.data, reply.len);
		if (wire_get_info(&r, out, NULL) != 0 || rbuf_end(&r) != 0)
			rc = PROTETS_EPROTO;
	}
	wbuf_free(&reply);
	return rc;
}

int
protets_holders(protets_t *p, const char *name, pid_t *pids, size_t max,
    size_t *n, int *incomplete)
{
	struct wbuf	 reply;
	struct rbuf	 r;
	uint32_t	 flags, count, i, pid;
	int		 rc;

	*n = 0;
	wbuf_init(&reply);
	if ((rc = pt_name_req(p, WIRE_HOLDERS, name, &reply)) == 0) {
		rbuf_init(&r, reply.data, reply.len);
		flags = rbuf_u32(&r);
		count = rbuf_u32(&r);
		for (i = 0; i < count && !r.err; i++) {
			pid = rbuf_u32(&r);
			if (*n < max)
				pids[(*n)++] = (pid_t)pid;
		}
		if (r.err || rbuf_end(&r) != 0)
			rc = PROTETS_EPROTO;
		else if (incomplete != NULL)
			*incomplete = (flags & 1) || count > max;
	}
	wbuf_free(&reply);
	return rc;
}

int
protets_stats_get(protets_t *p, const char *name, protets_stats *out)
{
	struct wbuf	 reply;
	struct rbuf	 r;
	uint64_t	 v[WIRE_NSTATS];
	int		 rc, i;

	memset(out, 0, sizeof(*out));
	wbuf_init(&reply);
	if ((rc = pt_name_req(p, WIRE_STATS, name, &reply)) == 0) {
		rbuf_init(&r, reply.data, reply.len);
		rc = wire_get_info(&r, &out->info, NULL);
		for (i = 0; i < WIRE_NSTATS; i++)
			v[i] = rbuf_u64(&r);
		if (rc != 0 || rbuf_end(&r) != 0)
			rc = PROTETS_EPROTO;
	}
	wbuf_free(&reply);
	if (rc != 0)
		return rc;
	out->inserts = v[0];
	out->deletes = v[1];
	out->lookup_hits = v[2];
	out->lookup_misses = v[3];
	out->counter_updates = v[4];
	out->efull = v[5];
	out->lock_waits = v[6];
	out->lock_timeouts = v[7];
	out->recoveries = v[8];
	out->rollbacks = v[9];
	out->last_recovery_ms = v[10];
	out->last_recovery_pid = (pid_t)v[11];
	return 0;
}

int
protets_daemon_stats_get(protets_t *p, protets_daemon_stats *out)
{
	struct wbuf	 req, reply;
	struct rbuf	 r;
	uint64_t	 v[WIRE_NDSTATS];
	int		 rc, i;

	memset(out, 0, sizeof(*out));
	wbuf_init(&req);
	wbuf_init(&reply);
	wbuf_put(&req, NULL, 0);
	if ((rc = pt_request(p, WIRE_DSTATS, &req, &reply, NULL)) == 0) {
		rbuf_init(&r, reply.data, reply.len);
		for (i = 0; i < WIRE_NDSTATS; i++)
			v[i] = rbuf_u64(&r);
		if (rbuf_end(&r) != 0)
			rc = PROTETS_EPROTO;
	}
	wbuf_free(&req);
	wbuf_free(&reply);
	if (rc != 0)
		return rc;
	out->worker_restarts = v[0];
	out->monitor_restarts = v[1];
	out->handoffs = v[2];
	out->handoff_segments = v[3];
	out->connections = v[4];
	out->snapshots = v[5];
	out->snapshot_saved = v[6];
	out->snapshot_failed = v[7];
	out->snapshot_last_ms = v[8];
	out->snapshot_last_time = v[9];
	out->uptime_ms = v[10];
	for (i = 0; i < PROTETS_STATS_REQUESTS; i++)
		out->requests[i] = v[11 + i];
	for (i = 0; i < PROTETS_STATS_ERRORS; i++)
		out->errors[i] = v[11 + PROTETS_STATS_REQUESTS + i];
	return 0;
}

/* LIST (with its optional flags, ext) and PROCS: a u32 count, then records. */
static int
pt_records(protets_t *p, uint16_t op, int ext, struct wbuf *reply,
    struct rbuf *r, uint32_t *n)
{
	struct wbuf	 req;
	int		 rc;

	wbuf_init(&req);
	wbuf_put(&req, NULL, 0);
	if (ext)
		wbuf_u32(&req, WIRE_REQ_EXT);
	rc = pt_request(p, op, &req, reply, NULL);
	wbuf_free(&req);
	if (rc != 0)
		return rc;
	rbuf_init(r, reply->data, reply->len);
	*n = rbuf_u32(r);
	return r->err ? PROTETS_EPROTO : 0;
}

int
protets_list(protets_t *p, protets_list_fn fn, void *arg)
{
	struct wbuf	 reply;
	struct rbuf	 r;
	protets_info	 in;
	uint32_t	 i, n;
	int		 rc;

	pt_errclear();
	wbuf_init(&reply);
	if ((rc = pt_records(p, WIRE_LIST, 1, &reply, &r, &n)) ==
	    PROTETS_EPROTO) {
		wbuf_free(&reply);
		wbuf_init(&reply);
		rc = pt_records(p, WIRE_LIST, 0, &reply, &r, &n);
	}
	if (rc == 0) {
		for (i = 0; i < n && rc == 0; i++) {
			if (wire_get_info(&r, &in, NULL) != 0)
				rc = PROTETS_EPROTO;
			else
				rc = fn(&in, arg);
		}
		if (rc == 0 && rbuf_end(&r) != 0)
			rc = PROTETS_EPROTO;
	}
	wbuf_free(&reply);
	return rc;
}

int
protets_procs(protets_t *p, protets_procs_fn fn, void *arg)
{
	struct wbuf	 reply;
	struct rbuf	 r;
	protets_proc	 pr;
	uint32_t	 i, n;
	int		 rc;

	pt_errclear();
	wbuf_init(&reply);
	if ((rc = pt_records(p, WIRE_PROCS, 0, &reply, &r, &n)) == 0) {
		for (i = 0; i < n && rc == 0; i++) {
			if (wire_get_proc(&r, &pr) != 0)
				rc = PROTETS_EPROTO;
			else
				rc = fn(&pr, arg);
		}
		if (rc == 0 && rbuf_end(&r) != 0)
			rc = PROTETS_EPROTO;
	}
	wbuf_free(&reply);
	return rc;
}
