/*
 * metricsd.c - the HTTP /metrics listener (protets.conf metrics_listen),
 * in a child process of its own.
 *
 * One job per process: the supervisor forks it (mx_spawn) when
 * metrics_listen is set and restarts it when it dies, and it does nothing
 * but answer scrapes.  HTTP is libmicrohttpd's, in its internal thread;
 * each GET /metrics asks the daemon for its figures as any client would,
 * over the daemon's own socket with the public library (DSTATS, LIST, a
 * STATS per table: common/metrics.c), and answers them in the Prometheus
 * text format.  So a slow or hostile scraper holds up this process alone,
 * never a worker.  The process keeps nothing of the daemon's: it closes
 * every fd when it starts, unmaps the catalog, and once it listens it
 * takes no new privileges and, when it has root, becomes nobody: it
 * connects as nobody, so what an unauthenticated scraper learns is what
 * any local user may see (no other uid's private table), and a listener
 * taken over by a bug in HTTP parsing has a nobody's connection, not
 * root's, to the daemon.
 *
 * A scrape's figures are read when it comes; the library's counts lag as
 * protets.h says (protets_stats).  Anything but GET /metrics gets 404 or
 * 405; at most MX_CONNS connections at once, each given MX_TIMEOUT_S.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>

#include "daemon.h"
#include "log.h"
#include "metrics.h"

#define MX_UID		65534	/* nobody */
#define MX_CONNS	16
#define MX_TIMEOUT_S	10
#define MX_TYPE		"text/plain; version=0.0.4; charset=utf-8"

static const struct daemon	*mx_d;
static protets_t		*mx_p;	/* the thread's connection, or NULL */

/* The metrics as text in *buf (to free), or a protets error. */
static int
mx_render(char **buf, size_t *len)
{
	FILE	*f;
	int	 rc;

	*buf = NULL;
	if (mx_p == NULL && (rc = protets_connect(mx_d->conf.socket,
	    &mx_p)) != 0)
		return rc;
	if ((f = open_memstream(buf, len)) == NULL)
		return errno;
	rc = metrics_write(mx_p, f);
	if (fclose(f) == EOF && rc == 0)
		rc = errno;
	if (rc != 0) {
		free(*buf);
		*buf = NULL;
		/* dial again next time (a restarted daemon) */
		protets_disconnect(mx_p);
		mx_p = NULL;
	}
	return rc;
}

static enum MHD_Result
mx_reply(struct MHD_Connection *conn, unsigned status, char *body,
    size_t len, int owned)
{
	struct MHD_Response	*r;
	enum MHD_Result		 ret;

	r = MHD_create_response_from_buffer(len, body, owned ?
	    MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (r == NULL) {
		if (owned)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, owned ?
	    MX_TYPE : "text/plain; charset=utf-8");
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
mx_answer(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_len, void **state)
{
	static char	 not_found[] = "not found: try /metrics\n";
	static char	 not_allowed[] = "only GET and HEAD\n";
	static char	 failed[] = "protetsd did not answer\n";
	char		*buf;
	size_t		 len;
	int		 rc;

	(void)cls;
	(void)version;
	(void)upload;
	if (*state == NULL) {		/* the headers: answer at the next call */
		*state = conn;
		return MHD_YES;
	}
	if (*upload_len != 0) {
		*upload_len = 0;	/* a body: ignored */
		return MHD_YES;
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return mx_reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, not_allowed,
		    sizeof(not_allowed) - 1, 0);
	if (strcmp(url, "/metrics") != 0)
		return mx_reply(conn, MHD_HTTP_NOT_FOUND, not_found,
		    sizeof(not_found) - 1, 0);
	if ((rc = mx_render(&buf, &len)) != 0) {
		log_warnx("metrics: %s", rc > 0 ? strerror(rc) :
		    protets_strerror(rc));
		return mx_reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE, failed,
		    sizeof(failed) - 1, 0);
	}
	return mx_reply(conn, MHD_HTTP_OK, buf, len, 1);
}

/* The listening address of metrics_listen; 0, or -1 (logged). */
static int
mx_addr(const struct conf *c, struct sockaddr_storage *ss)
{
	struct sockaddr_in	*s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, c->metrics_addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)c->metrics_port);
		return 0;
	}
	if (inet_pton(AF_INET6, c->metrics_addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)c->metrics_port);
		return 0;
	}
	log_warnx("metrics_listen: %s is not an address", c->metrics_addr);
	return -1;
}

/*
 * Nothing of the daemon's beyond the listening socket: the catalog
 * unmapped, no new privileges, nobody when root (after the bind: a port
 * below 1024 stays possible).  A failure to become nobody ends the
 * process: it never serves as root.
 */
static void
mx_confine(const struct daemon *d)
{
	if (d->cat.hdr != NULL)
		(void)munmap(d->cat.hdr, d->cat.size);
	if (geteuid() == 0 && (setgroups(0, NULL) == -1 ||
	    setgid(MX_UID) == -1 || setuid(MX_UID) == -1)) {
		log_warn("metrics: cannot become nobody");
		exit(1);
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		log_warn("metrics: no_new_privs");
}

static void __attribute__((noreturn))
mx_main(const struct daemon *d)
{
	struct sockaddr_storage	 ss;
	struct MHD_Daemon	*h;
	sigset_t		 mask;
	int			 sig;

	mx_d = d;
	log_setrole("metrics");
	proc_title("metrics");
	proc_close_except(NULL, 0);
	if (mx_addr(&d->conf, &ss) == -1)
		exit(1);
	/* Blocked in every thread: sigwait below takes them. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	h = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
	    MHD_USE_ERROR_LOG | (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
	    (uint16_t)d->conf.metrics_port, NULL, NULL, mx_answer, NULL,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)MX_CONNS,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)MX_TIMEOUT_S,
	    MHD_OPTION_END);
	if (h == NULL) {
		log_warnx("metrics: cannot listen on %s port %d",
		    d->conf.metrics_addr, d->conf.metrics_port);
		exit(1);
	}
	log_info("listening on http://%s%s%s:%d/metrics", ss.ss_family == AF_INET6
	    ? "[" : "", d->conf.metrics_addr, ss.ss_family == AF_INET6 ?
	    "]" : "", d->conf.metrics_port);
	mx_confine(d);
	/* Until told to go (or the supervisor dies: proc_child_init). */
	while (sigwait(&mask, &sig) != 0 || (sig != SIGTERM && sig != SIGINT))
		;
	MHD_stop_daemon(h);
	exit(0);
}

pid_t
mx_spawn(const struct daemon *d)
{
	pid_t	 pid;

	if ((pid = fork()) == -1) {
		log_warn("fork metrics");
		return 0;
	}
	if (pid == 0) {
		proc_child_init();
		mx_main(d);
	}
	return pid;
}
