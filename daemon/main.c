/*
 * main.c - protetsd: command line, configuration, the resources the
 * supervisor owns (pidfile, listening socket, catalog, inboxes), then the
 * supervisor's loop.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <libutil.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "daemon.h"
#include "ipc.h"
#include "log.h"

extern char	**environ;

static void
usage(FILE *f, int status)
{
	fprintf(f, "usage: protetsd [-dnV] [-c file]\n"
	    "  -c file  configuration file (default %s)\n"
	    "  -d       debug logging\n"
	    "  -n       check the configuration and exit\n"
	    "  -V       print the version and exit\n"
	    "  --layout print the table segment layout's signature and exit\n"
	    "SIGUSR2 to a running protetsd: upgrade to the binary at its path\n",
	    PROTETS_CONF_PATH);
	exit(status);
}

/* How long a dead daemon's straggler may keep its pidfile or socket. */
#define MAIN_STALE_WAIT_MS	5000

/* Is pid gone: no such process, or a zombie its parent has not reaped? */
static int
main_pid_dead(pid_t pid)
{
	char	path[64], buf[256], *p;
	ssize_t	n;
	int	fd;

	if (kill(pid, 0) == -1 && errno == ESRCH)
		return 1;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* "pid (comm) S ...": the state after the last ')' */
	return (p = strrchr(buf, ')')) != NULL && p[1] == ' ' && p[2] == 'Z';
}

/*
 * The pid of the supervisor a monitor's takeover replaces, dead for sure
 * ($PROTETS_TAKEOVER_FROM, set by takeover.c for us alone), else 0.
 */
static pid_t
main_takeover_from(void)
{
	const char	*s = getenv("PROTETS_TAKEOVER_FROM");
	int		 v;

	if (s == NULL || conf_int(s, 1, INT_MAX, &v) != 0)
		v = 0;
	unsetenv("PROTETS_TAKEOVER_FROM");	/* not our children's */
	return (pid_t)v;
}

/*
 * The pidfile, locked.  Locked by another process: that is a running
 * protetsd, unless the pid it names is dead.  Then the lock is held by a
 * child of that dead daemon that has not closed its copy of the file yet
 * (a worker forked as the supervisor was killed closes it at once, but a
 * loaded machine may not run it for a while; a monitor taking over starts
 * us the moment it sees the supervisor gone): wait for it a while.
 *
 * A monitor taking over tells us which pid is dead: "is it dead?" cannot
 * be asked of the pid itself, which the kernel may already have given to
 * another process (pid_max is 32768 on many machines, and a busy one
 * forks that many in seconds).  Asked, such a takeover refused to start
 * ("already running, pid N", N the dead supervisor) and every table was
 * lost: the fault suite under load, 2026-12-06.
 */
static struct pidfh *
main_pidfile(const char *path)
{
	struct pidfh	*pfh;
	pid_t		 other, dead = main_takeover_from();
	int		 ms;

	for (ms = 0;; ms += 10) {
		other = -1;
		if ((pfh = pidfile_open(path, 0644, &other)) != NULL)
			return pfh;
		if (errno == EINVAL)	/* libbsd: locked, and no pid in it */
			fatalx("pidfile %s: locked by another process, and "
			    "holds no pid", path);
		if (errno != EEXIST)
			fatal("pidfile %s", path);
		if (other <= 0 || (other != dead && !main_pid_dead(other)))
			fatalx("already running, pid %d", (int)other);
		if (ms >= MAIN_STALE_WAIT_MS)
			fatalx("pidfile %s: pid %d is dead, but its pidfile "
			    "is still locked", path, (int)other);
		if (ms == 0)
			log_warnx("pidfile %s: pid %d is dead, a process of "
			    "it still holds the pidfile: waiting", path,
			    (int)other);
		usleep(10000);
	}
}

/*
 * Refuse to steal the socket of a daemon that is still running.  We hold
 * the pidfile: a listener now is a process of a dead protetsd (a worker
 * its death signal has not yet stopped) or one with another pidfile;
 * give the first a while to go.
 */
static void
main_socket_stale(const char *path)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	int			 s, ms, up;

	strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	for (ms = 0;; ms += 10) {
		if ((s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
			fatal("socket");
		up = connect(s, (struct sockaddr *)&sun, sizeof(sun)) == 0;
		close(s);
		if (!up)
			break;
		if (ms >= MAIN_STALE_WAIT_MS)
			fatalx("%s: another protetsd is listening", path);
		if (ms == 0)
			log_warnx("%s: something still listens, no protetsd "
			    "holds the pidfile: waiting", path);
		usleep(10000);
	}
	if (unlink(path) == -1 && errno != ENOENT)
		fatal("unlink %s", path);
}

static int
main_listen(const struct conf *c)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	struct group		*gr;
	mode_t			 old;
	int			 s;

	if (strlcpy(sun.sun_path, c->socket, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path))
		fatalx("socket path too long: %s", c->socket);
	main_socket_stale(c->socket);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s == -1)
		fatal("socket");
	old = umask(0177);
	if (bind(s, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		fatal("bind %s", c->socket);
	umask(old);
	if (chmod(c->socket, c->socket_mode) == -1)
		fatal("chmod %s", c->socket);
	if (c->socket_group[0] != '\0') {
		if ((gr = getgrnam(c->socket_group)) == NULL)
			fatalx("unknown group %s", c->socket_group);
		if (chown(c->socket, (uid_t)-1, gr->gr_gid) == -1)
			fatal("chown %s", c->socket);
	}
	if (listen(s, SOMAXCONN) == -1)
		fatal("listen");
	return s;
}

/* The monitor holds an fd per segment: allow as many as the hard limit. */
static void
main_rlimit(void)
{
	struct rlimit	 rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			log_warn("setrlimit");
	}
}

int
main(int argc, char *argv[])
{
	static struct daemon	 d;
	struct pidfh		*pfh;
	const char		*path = PROTETS_CONF_PATH;
	char			 err[512];
	int			 ch, debug = 0, check = 0, i, rc;

	d.started_ms = clk_now_ms();
	/* The long forms everyone tries first. */
	if (argc == 2 && strcmp(argv[1], "--help") == 0)
		usage(stdout, 0);
	if (argc == 2 && strcmp(argv[1], "--version") == 0)
		argv[1] = "-V";
	/* What an upgrade (SIGUSR2) asks the new binary first. */
	if (argc == 2 && strcmp(argv[1], "--layout") == 0) {
		char	sig[600];

		daemon_layout(sig, sizeof(sig));
		printf("%s\n", sig);
		return 0;
	}
	while ((ch = getopt(argc, argv, "c:dhnV")) != -1) {
		switch (ch) {
		case 'c': path = optarg; break;
		case 'd': debug = 1; break;
		case 'h': usage(stdout, 0); break;
		case 'n': check = 1; break;
		case 'V':
			printf("protetsd %d.%d\n", PROTETS_VERSION_MAJOR,
			    PROTETS_VERSION_MINOR);
			return 0;
		default: usage(stderr, 2);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "protetsd: unexpected argument %s\n",
		    argv[optind]);
		usage(stderr, 2);
	}
	log_init(debug, "main");
	/* The path an upgrade execs: this binary's, or its successor's. */
	if (readlink("/proc/self/exe", d.exe, sizeof(d.exe) - 1) <= 0)
		strlcpy(d.exe, "/proc/self/exe", sizeof(d.exe));
	{
		char	*del = strstr(d.exe, " (deleted)");

		if (del != NULL && del[10] == '\0')
			*del = '\0';
	}
	if (realpath(path, d.confpath) == NULL)
		fatal("%s", path);
	if (conf_load(&d.conf, d.confpath, err, sizeof(err)) == -1)
		fatalx("%s", err);
	if (check) {
		printf("configuration OK\n");
		return 0;
	}
	/* Only a daemon that runs: libbsd keeps a copy of argv for good. */
	setproctitle_init(argc, argv, environ);
	if (debug)
		d.conf.debug = 1;
	log_setdebug(d.conf.debug);
	pfh = main_pidfile(d.conf.pidfile);
	main_rlimit();
	d.nworkers = d.conf.workers;
	d.listen_fd = main_listen(&d.conf);
	if (cat_create(&d.cat, (uint32_t)d.conf.max_tables,
	    (uint32_t)d.nworkers) == -1)
		fatal("catalog");
	for (i = 0; i < d.nworkers; i++)
		if (ipc_pair(d.inbox[i]) == -1)
			fatal("inbox");
	/* Under systemd, take back what the fd store kept for us. */
	recover_fdstore(&d);
	/*
	 * The fd store is newer: the state directory only when it gave no
	 * table (none, or only segments it could not take: a layout another
	 * protetsd's, say).
	 */
	if (d.nrec == 0 && state_enabled(&d))
		state_load(&d);
	recover_store_catalog(&d);
	if (pidfile_write(pfh) == -1)
		log_warn("pidfile_write");
	if (getenv("PROTETS_UPGRADED") != NULL) {
		unsetenv("PROTETS_UPGRADED");
		log_info("upgraded in place: %s, %d tables kept", d.exe,
		    d.nrec);
	}
	log_info("starting: %d workers, config %s", d.nworkers, d.confpath);
	rc = supervisor_run(&d);
	unlink(d.conf.socket);
	pidfile_remove(pfh);
	log_info("stopped");
	return rc;
}
