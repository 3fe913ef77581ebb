/*
 * conf.c - protets.conf parser; see conf.h and the commented protets.conf.
 */
#include <arpa/inet.h>

#include <errno.h>
#include <ini.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/param.h>
#include <unistd.h>

#include "conf.h"
#include "protets.h"

struct conf_ctx {
	struct conf	*c;
	char		 dir[PATH_MAX];
	char		*err;
	size_t		 errsz;
	int		 client;	/* conf_load_client: the keys it reads */
};

/*
 * The keys a client reads; a client ignores every other line, so that a
 * typo in a daemon setting does not take every client down with the
 * daemon's reload (the daemon, conf_load, refuses it).
 */
static int
conf_client_key(const char *section, const char *k)
{
	return (strcmp(section, "daemon") == 0 && (strcmp(k, "socket") == 0 ||
	    strcmp(k, "connect_timeout_ms") == 0)) ||
	    (strcmp(section, "tables") == 0 &&
	    strcmp(k, "lock_timeout_ms") == 0);
}

void
conf_defaults(struct conf *c)
{
	memset(c, 0, sizeof(*c));
	strlcpy(c->socket, "/run/protets/protets.sock", sizeof(c->socket));
	c->socket_mode = 0666;
	strlcpy(c->pidfile, "/run/protets/protetsd.pid", sizeof(c->pidfile));
	c->workers = 2;
	c->max_connections = 256;
	c->restart_burst = 10;
	c->restart_window_ms = 10000;
	c->restart_delay_ms = 1000;
	c->handoff_timeout_ms = 10000;
	c->snapshot_interval = CONF_SNAPSHOT_INTERVAL;
	c->connect_timeout_ms = CONF_CONNECT_TIMEOUT_MS;
	c->default_size = 0;
	c->max_size = 16ull << 30;
	c->max_tables = 1024;
	c->max_connections_per_uid = CONF_AUTO;
	c->max_tables_per_uid = CONF_AUTO;
	c->max_bytes_per_uid = (uint64_t)CONF_AUTO;
	c->lock_timeout_ms = PROTETS_LOCK_TIMEOUT_MS;
}

/* The "auto" per-uid limits (conf.h), from what the file says. */
static void
conf_resolve(struct conf *c)
{
	long		pages = sysconf(_SC_PHYS_PAGES);
	long		psz = sysconf(_SC_PAGESIZE);
	uint64_t	half;

	if (c->max_connections_per_uid == CONF_AUTO)
		c->max_connections_per_uid = MAX(c->workers *
		    c->max_connections / 2, 1);
	if (c->max_tables_per_uid == CONF_AUTO)
		c->max_tables_per_uid = MAX(c->max_tables / 4, 1);
	if (c->max_bytes_per_uid == (uint64_t)CONF_AUTO) {
		half = pages > 0 && psz > 0 ?
		    (uint64_t)pages * (uint64_t)psz / 2 : 0;
		/* Memory in use (pages), never below one full table. */
		c->max_bytes_per_uid = MAX(half, c->max_size);
	}
}

/* A per-uid limit: a number, or "auto" (CONF_AUTO). */
static int
conf_limit(const char *s, int *out)
{
	if (strcmp(s, "auto") == 0) {
		*out = CONF_AUTO;
		return 0;
	}
	return conf_int(s, 0, 1000000, out);
}

int
conf_parse_size(const char *s, uint64_t *out)
{
	char			*end;
	unsigned long long	 v;
	unsigned		 shift = 0;

	errno = 0;
	if (*s == '-' || *s == '\0')
		return -1;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s)
		return -1;
	switch (*end) {
	case '\0': break;
	case 'K': case 'k': shift = 10; end++; break;
	case 'M': case 'm': shift = 20; end++; break;
	case 'G': case 'g': shift = 30; end++; break;
	case 'T': case 't': shift = 40; end++; break;
	default: return -1;
	}
	if (*end != '\0' || (shift && v > (UINT64_MAX >> shift)))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

int
conf_int(const char *s, long min, long max, int *out)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = (int)v;
	return 0;
}

/* "yes" or "no", as 1 or 0. */
static int
conf_yesno(const char *s, int *out)
{
	if (strcmp(s, "yes") == 0)
		*out = 1;
	else if (strcmp(s, "no") == 0)
		*out = 0;
	else
		return -1;
	return 0;
}

/* Resolve a path relative to the configuration file's directory. */
static int
conf_path(struct conf_ctx *x, const char *v, char *dst, size_t dstsz)
{
	int	 n;

	if (v[0] == '/')
		n = (int)strlcpy(dst, v, dstsz);
	else
		n = snprintf(dst, dstsz, "%s/%s", x->dir, v);
	return (n < 0 || (size_t)n >= dstsz) ? -1 : 0;
}

/*
 * metrics_listen: "" (none), or an IPv4 address and a port, "127.0.0.1:9417",
 * or an IPv6 one in brackets, "[::1]:9417" (literals: no name lookup).
 */
static int
conf_listen(const char *v, struct conf *c)
{
	unsigned char	 a[16];
	const char	*colon, *host = v;
	size_t		 hlen;

	c->metrics_addr[0] = '\0';
	c->metrics_port = 0;
	if (v[0] == '\0')
		return 0;
	if ((colon = strrchr(v, ':')) == NULL ||
	    conf_int(colon + 1, 1, 65535, &c->metrics_port) == -1)
		return -1;
	hlen = (size_t)(colon - v);
	if (v[0] == '[') {
		if (hlen < 2 || v[hlen - 1] != ']')
			return -1;
		host = v + 1;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= sizeof(c->metrics_addr))
		return -1;
	memcpy(c->metrics_addr, host, hlen);
	c->metrics_addr[hlen] = '\0';
	if (inet_pton(v[0] == '[' ? AF_INET6 : AF_INET, c->metrics_addr,
	    a) != 1) {
		c->metrics_addr[0] = '\0';
		c->metrics_port = 0;
		return -1;
	}
	return 0;
}

static int
conf_daemon_key(struct conf_ctx *x, const char *k, const char *v)
{
	struct conf	*c = x->c;
	char		*end;

	if (strcmp(k, "socket") == 0)
		return conf_path(x, v, c->socket, sizeof(c->socket));
	if (strcmp(k, "socket_mode") == 0) {
		errno = 0;
		c->socket_mode = (unsigned)strtoul(v, &end, 8);
		return (errno || end == v || *end || c->socket_mode > 0777) ?
		    -1 : 0;
	}
	if (strcmp(k, "socket_group") == 0)
		return strlcpy(c->socket_group, v, sizeof(c->socket_group)) <
		    sizeof(c->socket_group) ? 0 : -1;
	if (strcmp(k, "pidfile") == 0)
		return conf_path(x, v, c->pidfile, sizeof(c->pidfile));
	if (strcmp(k, "workers") == 0)
		return conf_int(v, 1, CONF_MAX_WORKERS, &c->workers);
	if (strcmp(k, "max_connections") == 0)
		return conf_int(v, 1, 1000000, &c->max_connections);
	if (strcmp(k, "max_connections_per_uid") == 0)
		return conf_limit(v, &c->max_connections_per_uid);
	if (strcmp(k, "restart_burst") == 0)
		return conf_int(v, 1, 1000, &c->restart_burst);
	if (strcmp(k, "restart_window_ms") == 0)
		return conf_int(v, 1, 3600000, &c->restart_window_ms);
	if (strcmp(k, "restart_delay_ms") == 0)
		return conf_int(v, 1, 3600000, &c->restart_delay_ms);
	if (strcmp(k, "handoff_timeout_ms") == 0)
		return conf_int(v, 100, 3600000, &c->handoff_timeout_ms);
	if (strcmp(k, "connect_timeout_ms") == 0)
		return conf_int(v, 0, 3600000, &c->connect_timeout_ms);
	if (strcmp(k, "fdstore") == 0)
		return conf_yesno(v, &c->fdstore);
	if (strcmp(k, "snapshot_interval") == 0)
		return conf_int(v, 0, 86400, &c->snapshot_interval);
	if (strcmp(k, "metrics_listen") == 0)
		return conf_listen(v, c);
	if (strcmp(k, "state_dir") == 0)
		return v[0] == '\0' ? (c->state_dir[0] = '\0', 0) :
		    conf_path(x, v, c->state_dir, sizeof(c->state_dir));
	if (strcmp(k, "log_level") == 0) {
		if (strcmp(v, "debug") == 0)
			c->debug = 1;
		else if (strcmp(v, "info") == 0)
			c->debug = 0;
		else
			return -1;
		return 0;
	}
	return -2;
}

static int
conf_tables_key(struct conf_ctx *x, const char *k, const char *v)
{
	struct conf	*c = x->c;

	if (strcmp(k, "default_size") == 0)
		return conf_parse_size(v, &c->default_size);
	if (strcmp(k, "max_size") == 0)
		return conf_parse_size(v, &c->max_size);
	if (strcmp(k, "max_tables") == 0)
		return conf_int(v, 1, 1000000, &c->max_tables);
	if (strcmp(k, "max_tables_per_uid") == 0)
		return conf_limit(v, &c->max_tables_per_uid);
	if (strcmp(k, "max_bytes_per_uid") == 0) {
		if (strcmp(v, "auto") == 0) {
			c->max_bytes_per_uid = (uint64_t)CONF_AUTO;
			return 0;
		}
		return conf_parse_size(v, &c->max_bytes_per_uid) == 0 &&
		    c->max_bytes_per_uid != (uint64_t)CONF_AUTO ? 0 : -1;
	}
	if (strcmp(k, "lock_timeout_ms") == 0)
		return conf_int(v, 0, INT_MAX, &c->lock_timeout_ms);
	if (strcmp(k, "preallocate") == 0)
		return conf_yesno(v, &c->preallocate);
	return -2;
}

static int
conf_handler(void *arg, const char *section, const char *k, const char *v)
{
	struct conf_ctx	*x = arg;
	int		 rc;

	if (x->client && !conf_client_key(section, k))
		return 1;
	if (strcmp(section, "daemon") == 0)
		rc = conf_daemon_key(x, k, v);
	else if (strcmp(section, "tables") == 0)
		rc = conf_tables_key(x, k, v);
	else
		rc = -3;
	if (rc == 0)
		return 1;
	/* ini_parse_file returns the line; conf_load prefixes it. */
	snprintf(x->err, x->errsz, "%s [%s] %s%s%s",
	    rc == -3 ? "unknown section" : rc == -2 ? "unknown key" :
	    "bad value for", section, k, rc == -1 ? " = " : "",
	    rc == -1 ? v : "");
	return 0;
}

static int
conf_read(struct conf *c, const char *path, char *err, size_t errsz,
    int client)
{
	struct conf_ctx	 x = { .c = c, .err = err, .errsz = errsz,
	    .client = client };
	char		 tmp[PATH_MAX];
	FILE		*f;
	int		 rc;

	conf_defaults(c);
	err[0] = '\0';
	if (strlcpy(c->path, path, sizeof(c->path)) >= sizeof(c->path) ||
	    strlcpy(tmp, path, sizeof(tmp)) >= sizeof(tmp)) {
		snprintf(err, errsz, "%s: path too long", path);
		return -1;
	}
	if (realpath(dirname(tmp), x.dir) == NULL) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return -1;
	}
	if ((f = fopen(path, "re")) == NULL) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return -1;
	}
	rc = ini_parse_file(f, conf_handler, &x);
	fclose(f);
	/*
	 * A client: a line inih could not parse (no "=", a section left
	 * open) is not its business either; inih read on past it, and the
	 * handler said nothing of the client's own keys.
	 */
	if (client && rc > 0 && err[0] == '\0')
		rc = 0;
	if (rc != 0) {
		char	 msg[256];

		strlcpy(msg, err[0] ? err : "syntax error", sizeof(msg));
		if (rc < 0)
			snprintf(err, errsz, "%s: cannot read", path);
		else
			snprintf(err, errsz, "%s:%d: %s", path, rc, msg);
		return -1;
	}
	if (c->default_size > c->max_size) {
		snprintf(err, errsz, "%s: default_size exceeds max_size", path);
		return -1;
	}
	/* The engine's offsets: 37 bits of 8-byte words (shm/layout.h). */
	if (c->max_size > CONF_MAX_SIZE || c->max_size < CONF_MIN_SIZE) {
		snprintf(err, errsz, "%s: max_size must be between 64K and 1T",
		    path);
		return -1;
	}
	if (c->preallocate && c->default_size == 0) {
		snprintf(err, errsz, "%s: preallocate = yes needs a "
		    "default_size (what to allocate for a table made without "
		    "a size)", path);
		return -1;
	}
	if (!client)		/* the daemon's limits: sysconf, not the client's */
		conf_resolve(c);
	return 0;
}

int
conf_load(struct conf *c, const char *path, char *err, size_t errsz)
{
	return conf_read(c, path, err, errsz, 0);
}

int
conf_load_client(struct conf *c, const char *path, char *err, size_t errsz)
{
	return conf_read(c, path, err, errsz, 1);
}
