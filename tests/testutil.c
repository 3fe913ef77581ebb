/*
 * testutil.c - see testutil.h.
 */
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "entry.h"
#include "index.h"
#include "lock.h"
#include "table.h"
#include "testutil.h"

const char *
tu_bin(const char *name, char *buf, size_t sz)
{
	const char	*b = getenv("BUILD");

	snprintf(buf, sz, "%s/%s", b && *b ? b : "build", name);
	return buf;
}


int
tu_fill_bytes(protets_table_t *t, uint64_t n)
{
	char		k[32], v[1000];
	uint64_t	i;
	int		e;

	memset(v, 'f', sizeof(v));
	for (i = 0; i * sizeof(v) < n; i++) {
		snprintf(k, sizeof(k), "fill%llu", (unsigned long long)i);
		if ((e = protets_insert(t, k, strlen(k), v, sizeof(v))) != 0)
			return e;
	}
	return 0;
}

int
tu_get_until(protets_t *p, const char *name, const protets_opts *o,
    int want)
{
	protets_table_t	*t;
	int64_t		 end = clk_now_ms() + 10000;
	int		 rc;

	while ((rc = protets_get(p, name, o, &t)) != want &&
	    clk_now_ms() < end) {
		if (rc == 0) {
			protets_close(t);
			(void)protets_drop(p, name);
		}
		tu_msleep(10);
	}
	if (rc == 0 && want == 0)
		protets_close(t);
	return rc == want ? 0 : rc;
}

void
tu_msleep(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

int
tu_sh(char *out, size_t outsz, const char *fmt, ...)
{
	char	 cmd[4096];
	FILE	*f;
	size_t	 n = 0;
	int	 st;
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if ((f = popen(cmd, "r")) == NULL)
		return -1;
	if (out != NULL && outsz > 0) {
		n = fread(out, 1, outsz - 1, f);
		out[n] = '\0';
	} else {
		char	 sink[4096];

		while (fread(sink, 1, sizeof(sink), f) > 0)
			;
	}
	st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

struct td_find {
	const char	*role;
	int		 slot;
	pid_t		 pid;
	uint32_t	 count;		/* tables or segments it holds */
	int		 n;
};

static int
td_find_one(const protets_proc *p, void *arg)
{
	struct td_find	*f = arg;

	f->n++;
	if (strcmp(p->role, f->role) == 0 && (f->slot < 0 ||
	    p->slot == f->slot)) {
		f->pid = p->pid;
		f->count = p->tables;
	}
	return 0;
}

static int
td_procs_count(struct td *d, const char *role, int slot, pid_t *pid,
    uint32_t *count)
{
	struct td_find	 f = { role, slot, 0, 0, 0 };
	protets_t	*p;
	int		 rc;

	if (protets_connect(d->sock, &p) != 0)
		return -1;
	rc = protets_procs(p, td_find_one, &f);
	protets_disconnect(p);
	if (rc != 0)
		return -1;
	*pid = f.pid;
	if (count != NULL)
		*count = f.count;
	return f.n;
}

static int
td_procs(struct td *d, const char *role, int slot, pid_t *pid)
{
	return td_procs_count(d, role, slot, pid, NULL);
}

pid_t
td_pid(struct td *d, const char *role, int slot)
{
	pid_t	 pid = 0;

	if (td_procs(d, role, slot, &pid) < 0)
		return 0;
	return pid;
}

static void
td_write_conf(struct td *d, int workers, const char *extra)
{
	FILE	*f;

	ck_assert_ptr_nonnull(f = fopen(d->conf, "w"));
	/* extra last, in [daemon]; it may open [tables] and override */
	fprintf(f, "[tables]\ndefault_size = 16M\n[daemon]\nsocket = sock\n"
	    "pidfile = protetsd.pid\nworkers = %d\nrestart_burst = 1000\n"
	    "restart_window_ms = 1000\n%s\n", workers, extra ? extra : "");
	fclose(f);
}

void
td_start(struct td *d, int workers, const char *extra, const char *env)
{
	memset(d, 0, sizeof(*d));
	strcpy(d->dir, "/tmp/protets-test.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(d->dir));
	/* Other uids (test_access) must reach the socket. */
	ck_assert_int_eq(chmod(d->dir, 0755), 0);
	snprintf(d->conf, sizeof(d->conf), "%s/protets.conf", d->dir);
	snprintf(d->sock, sizeof(d->sock), "%s/sock", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/log", d->dir);
	d->workers = workers;
	td_write_conf(d, workers, extra);
	td_launch(d, env);
}

void
td_launch(struct td *d, const char *env)
{
	char	 bin[PATH_MAX];
	pid_t	 pid;
	int	 i, n, fd;

	tu_bin("protetsd", bin, sizeof(bin));
	ck_assert_int_ne(pid = fork(), -1);
	if (pid == 0) {
		fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		dup2(fd, 1);
		dup2(fd, 2);
		if (env != NULL)
			putenv((char *)env);
		execl(bin, "protetsd", "-d", "-c", d->conf, (char *)NULL);
		_exit(127);
	}
	d->pid = pid;
	/* Up when the monitor and every worker answer procs. */
	for (i = 0; i < 1000; i++) {
		pid_t	 p = 0;

		n = td_procs(d, "monitor", -1, &p);
		if (n == d->workers + 2 && p != 0)
			return;
		ck_assert_msg(waitpid(pid, NULL, WNOHANG) == 0,
		    "protetsd exited; see %s", d->log);
		tu_msleep(10);
	}
	ck_abort_msg("protetsd did not come up; see %s", d->log);
}

void
td_stop(struct td *d)
{
	char	 cmd[PATH_MAX + 16];
	int	 st;

	if (d->pid > 0) {
		kill(d->pid, SIGTERM);
		waitpid(d->pid, &st, 0);
		d->pid = 0;
	}
	if (getenv("KEEP_TEST_DIRS") == NULL && d->dir[0] != '\0') {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", d->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", d->dir);
	}
}

void
td_kill_all(struct td *d)
{
	pid_t	 pids[66];
	int	 i, n = 0;

	pids[n++] = td_pid(d, "monitor", -1);
	for (i = 0; i < d->workers && n < (int)(sizeof(pids) /
	    sizeof(pids[0])); i++)
		pids[n++] = td_pid(d, "worker", i);
	kill(d->pid, SIGKILL);
	for (i = 0; i < n; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGKILL);
	waitpid(d->pid, NULL, 0);
	/* The children die with their parent (or by our hand). */
	for (i = 0; i < n; i++)
		while (pids[i] > 0 && kill(pids[i], 0) == 0)
			tu_msleep(5);
	d->pid = 0;
}

int
td_term(struct td *d)
{
	int	 st = -1;

	if (d->pid > 0) {
		kill(d->pid, SIGTERM);
		waitpid(d->pid, &st, 0);
		d->pid = 0;
	}
	return st;
}

pid_t
td_wait_new(struct td *d, const char *role, int slot, pid_t old)
{
	pid_t	 p;
	int	 i;

	for (i = 0; i < 2000; i++) {
		p = td_pid(d, role, slot);
		if (p != 0 && p != old)
			return p;
		tu_msleep(2);
	}
	ck_abort_msg("%s %d was not replaced; see %s", role, slot, d->log);
	return 0;
}

/*
 * A replacement is only whole once it holds what its predecessor held: a
 * new monitor once every worker pushed its segments back, a new worker
 * once the monitor handed it its slot.  Until then a second death is the
 * documented double-death window: wait, so that tests of single deaths
 * test single deaths.
 */
pid_t
td_kill(struct td *d, const char *role, int slot)
{
	uint32_t before = 0, now = 0;
	pid_t	 p = 0, np;
	int	 i;

	td_procs_count(d, role, slot, &p, &before);
	ck_assert_int_gt(p, 0);
	ck_assert_int_eq(kill(p, SIGKILL), 0);
	np = td_wait_new(d, role, slot, p);
	for (i = 0; i < 2000; i++) {
		if (td_procs_count(d, role, slot, &np, &now) > 0 &&
		    now >= before)
			return np;
		tu_msleep(2);
	}
	ck_abort_msg("new %s holds %u of %u segments; see %s", role, now,
	    before, d->log);
	return 0;
}

/* Segments the monitor holds and tables the workers hold; -1 if down. */
static int
td_held(struct td *d, uint32_t *mon, uint32_t *wrk)
{
	uint32_t	 c;
	pid_t		 p;
	int		 s;

	*wrk = 0;
	if (td_procs_count(d, "monitor", -1, &p, mon) != d->workers + 2 ||
	    p == 0)
		return -1;
	for (s = 0; s < d->workers; s++) {
		if (td_procs_count(d, "worker", s, &p, &c) < 0 || p == 0)
			return -1;
		*wrk += c;
	}
	return 0;
}

pid_t
td_kill_supervisor(struct td *d)
{
	uint32_t before_mon = 0, before_wrk = 0, mon_n, wrk_n;
	pid_t	 mon;
	int	 i, st;

	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	ck_assert_int_eq(td_held(d, &before_mon, &before_wrk), 0);
	ck_assert_int_gt(mon = td_pid(d, "monitor", -1), 0);
	ck_assert_int_eq(kill(d->pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(d->pid, &st, 0), d->pid);
	d->pid = mon;		/* the monitor execs the new supervisor */
	for (i = 0; i < 5000; i++) {
		if (td_pid(d, "supervisor", -1) == mon &&
		    td_held(d, &mon_n, &wrk_n) == 0 && mon_n >= before_mon &&
		    wrk_n >= before_wrk)
			return mon;
		tu_msleep(2);
	}
	ck_abort_msg("no new supervisor holding every table; see %s", d->log);
	return 0;
}

static int
td_count_fds(pid_t pid)
{
	char		 path[64];
	DIR		*dir;
	struct dirent	*de;
	int		 n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	if ((dir = opendir(path)) == NULL)
		return 0;
	while ((de = readdir(dir)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

struct td_pids {
	pid_t	pids[64];
	int	n;
};

static int
td_pids_one(const protets_proc *p, void *arg)
{
	struct td_pids	*tp = arg;

	if (tp->n < 64)
		tp->pids[tp->n++] = p->pid;
	return 0;
}

/*
 * Our own query connection is counted by the worker that served it until
 * that worker sees it close: sample a few times and keep the least.
 */
int
td_fd_total(struct td *d)
{
	struct td_pids	 tp = { .n = 0 };
	protets_t	*p = td_connect(d);
	int		 i, k, n, best = -1;

	ck_assert_int_eq(protets_procs(p, td_pids_one, &tp), 0);
	protets_disconnect(p);
	for (k = 0; k < 5; k++) {
		tu_msleep(20);
		for (n = 0, i = 0; i < tp.n; i++)
			n += td_count_fds(tp.pids[i]);
		if (best == -1 || n < best)
			best = n;
	}
	return best;
}

void
td_fds_settled(struct td *d, int before)
{
	int	after;

	td_serves(d);
	tu_msleep(100);
	after = td_fd_total(d);
	ck_assert_msg(after <= before, "fds grew %d -> %d", before, after);
}

int
td_raw_connect(struct td *d)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	int			 s;

	strlcpy(sun.sun_path, d->sock, sizeof(sun.sun_path));
	ck_assert_int_ge(s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0),
	    0);
	ck_assert_int_eq(connect(s, (struct sockaddr *)&sun, sizeof(sun)), 0);
	return s;
}

protets_t *
td_connect(struct td *d)
{
	protets_t	*p = NULL;
	int		 rc;

	rc = protets_connect(d->sock, &p);
	ck_assert_msg(rc == 0, "connect: %s", protets_strerror(rc));
	return p;
}

int
td_table_worker(struct td *d, const char *name)
{
	protets_t	*p = td_connect(d);
	protets_info	 in;
	int		 rc;

	rc = protets_info_get(p, name, &in);
	protets_disconnect(p);
	ck_assert_msg(rc == 0, "info %s: %s", name, protets_strerror(rc));
	return in.worker;
}

int
tu_run(Suite *s)
{
	SRunner	*sr = srunner_create(s);
	int	 nf;

	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

int
tu_wait_child(pid_t pid)
{
	int	 st;

	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int
tu_table_fd(const char *name)
{
	char	 path[64], link[256], want[128];
	ssize_t	 n;
	int	 fd;

	snprintf(want, sizeof(want), "/memfd:protets:%s ", name);
	for (fd = 3; fd < 1024; fd++) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if ((n = readlink(path, link, sizeof(link) - 2)) <= 0)
			continue;
		link[n] = ' ';
		link[n + 1] = '\0';
		if (strncmp(link, want, strlen(want)) == 0)
			return fd;
	}
	return -1;
}

protets_table_t *
tu_get(protets_t *p, const char *name, protets_access access)
{
	protets_opts	 o = { .access = access };
	protets_table_t	*t = NULL;
	int		 rc;

	rc = protets_get(p, name, &o, &t);
	ck_assert_msg(rc == 0, "get %s: %s", name, protets_strerror(rc));
	return t;
}

void
tu_fill(protets_table_t *t, const char *prefix, int n)
{
	char	 k[64], v[64];
	int	 i, rc;

	for (i = 0; i < n; i++) {
		snprintf(k, sizeof(k), "%s:%d", prefix, i);
		snprintf(v, sizeof(v), "value-%d-%s", i, prefix);
		rc = protets_insert(t, k, strlen(k), v, strlen(v));
		ck_assert_msg(rc == 0, "insert: %s", protets_strerror(rc));
	}
}

int
tu_present(protets_table_t *t, const char *prefix, int n)
{
	char	 k[64], v[64], buf[64];
	size_t	 vlen;
	int	 i;

	for (i = 0; i < n; i++) {
		snprintf(k, sizeof(k), "%s:%d", prefix, i);
		snprintf(v, sizeof(v), "value-%d-%s", i, prefix);
		if (protets_lookup(t, k, strlen(k), buf, sizeof(buf),
		    &vlen) != 0 || vlen != strlen(v) || memcmp(buf, v, vlen))
			return -1;
	}
	return n;
}

void
td_verify(struct td *d, const char *name, int n)
{
	protets_t	*p = td_connect(d);
	protets_table_t	*t = NULL;
	uint64_t	 count;
	int		 rc;

	rc = protets_open(p, name, &t);
	ck_assert_msg(rc == 0, "open %s: %s", name, protets_strerror(rc));
	ck_assert_msg(tu_present(t, name, n) == n, "%s: entries lost", name);
	ck_assert_int_eq(protets_count(t, &count), 0);
	ck_assert_uint_eq(count, (uint64_t)n);
	protets_close(t);
	protets_disconnect(p);
}

void
td_serves(struct td *d)
{
	protets_t	*p = td_connect(d);
	protets_table_t	*t;

	ck_assert_int_eq(protets_get(p, "still-alive", NULL, &t), 0);
	protets_close(t);
	protets_disconnect(p);
}

int
td_log_has(struct td *d, const char *needle)
{
	char	 cmd[PATH_MAX + 128];

	snprintf(cmd, sizeof(cmd), "grep -qF '%s' %s", needle, d->log);
	return system(cmd) == 0;
}

pid_t
tu_stopped_holder(const char *name)
{
	struct tbl	 tb;
	struct ix_pos	 pos;
	struct stat	 sb;
	void		*base;
	pid_t		 pid;
	int		 fd, st;

	ck_assert_int_ge(fd = tu_table_fd(name), 0);
	ck_assert_int_eq(fstat(fd, &sb), 0);
	base = mmap(NULL, (size_t)sb.st_size, PROT_READ | PROT_WRITE,
	    MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(base, MAP_FAILED);
	ck_assert_int_eq(tbl_open(&tb, base, (size_t)sb.st_size, 1), 0);
	if ((pid = fork()) == 0) {
		CHILD_CHECK(lk_wbegin(&tb) == 0);
		CHILD_CHECK(ix_find(&tb, NULL, en_hash("k", 1), "k", 1,
		    &pos) == 0);
		en_setval(&tb, pos.eoff, &pos.eh, "new");
		raise(SIGSTOP);
		_exit(0);
	}
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(waitpid(pid, &st, WUNTRACED), pid);
	ck_assert(WIFSTOPPED(st));
	munmap(base, (size_t)sb.st_size);
	close(fd);
	return pid;
}
