/*
 * check_fdstore.c - tables survive the death of every protetsd process
 * through systemd's fd store.  The test plays systemd's part exactly as
 * the notify protocol defines it: it receives FDSTORE=1/FDSTOREREMOVE=1
 * datagrams on a NOTIFY_SOCKET of its own, and starts the next daemon with
 * the stored fds at 3.. and LISTEN_PID/LISTEN_FDS/LISTEN_FDNAMES, as
 * systemd does on a restart.  (tests/systemd/ does the same under a real
 * systemd.)
 */
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <check.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fdpass.h"
#include "layout.h"
#include "testutil.h"

#define STORE_MAX	64

struct store {
	int	 fd[STORE_MAX];
	char	 name[STORE_MAX][64];
	int	 n;
};

static struct td	 d;
static struct store	 st;
static int		 nsock = -1;
static char		 npath[108];
static char		 status[512];	/* STATUS= sent with READY=1 */
static int		 ready;

static void
store_remove(const char *name)
{
	int	 i;

	for (i = 0; i < st.n; i++)
		if (strcmp(st.name[i], name) == 0) {
			close(st.fd[i]);
			if (i != st.n - 1) {
				st.fd[i] = st.fd[st.n - 1];
				strcpy(st.name[i], st.name[st.n - 1]);
			}
			st.n--;
			i--;
		}
}

/* fds in the store whose FDNAME begins with prefix. */
static int
store_count(const char *prefix)
{
	int	 i, n = 0;

	for (i = 0; i < st.n; i++)
		n += strncmp(st.name[i], prefix, strlen(prefix)) == 0;
	return n;
}

/* Segments (FDNAME=seg-<id>), catalogs (catalog-<generation>). */
#define store_segs()		store_count("seg-")
#define store_catalogs()	store_count("catalog-")

/* The generation of the (first) catalog in the store, -1: none. */
static int
store_catalog_gen(void)
{
	int	 i;

	for (i = 0; i < st.n; i++)
		if (strncmp(st.name[i], "catalog-", 8) == 0)
			return atoi(st.name[i] + 8);
	return -1;
}

static void
field(const char *msg, const char *key, char *out, size_t outsz)
{
	const char	*p = strstr(msg, key);
	size_t		 n;

	out[0] = '\0';
	if (p == NULL)
		return;
	p += strlen(key);
	n = strcspn(p, "\n");
	if (n >= outsz)
		n = outsz - 1;
	memcpy(out, p, n);
	out[n] = '\0';
}

/* Receive what the daemon told "systemd", for up to ms. */
static void
notify_drain(int ms)
{
	struct pollfd	 pfd = { .fd = nsock, .events = POLLIN };
	char		 msg[1024], name[64];
	int		 fds[FDPASS_MAX], nfds, i;
	ssize_t		 n;

	while (poll(&pfd, 1, ms) == 1) {
		n = fdpass_recv(nsock, msg, sizeof(msg) - 1, fds, FDPASS_MAX,
		    &nfds, 0);
		ck_assert_int_gt(n, 0);
		msg[n] = '\0';
		/* The STATUS= sent with READY=1 tells what was recovered. */
		if (strstr(msg, "READY=1")) {
			ready = 1;
			field(msg, "STATUS=", status, sizeof(status));
		}
		field(msg, "FDNAME=", name, sizeof(name));
		if (strstr(msg, "FDSTOREREMOVE=1"))
			store_remove(name);
		else if (strstr(msg, "FDSTORE=1")) {
			ck_assert_ptr_nonnull(strstr(msg, "FDPOLL=0"));
			for (i = 0; i < nfds; i++) {
				ck_assert_int_lt(st.n, STORE_MAX);
				/* systemd ignores an fd it already holds */
				store_remove(name);
				st.fd[st.n] = fds[i];
				strcpy(st.name[st.n++], name);
			}
			continue;
		}
		fdpass_close_all(fds, nfds);
	}
}

static void
setup(void)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };

	memset(&st, 0, sizeof(st));
	snprintf(npath, sizeof(npath), "/tmp/protets-fdstore.%d",
	    (int)getpid());
	unlink(npath);
	strcpy(sun.sun_path, npath);
	nsock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(nsock, 0);
	ck_assert_int_eq(bind(nsock, (struct sockaddr *)&sun, sizeof(sun)),
	    0);
}

static void
teardown(void)
{
	td_stop(&d);
	close(nsock);
	unlink(npath);
}

/* Start protetsd as systemd would: the store's fds at 3.., LISTEN_*. */
static pid_t
start_with_store(void)
{
	char	 bin[PATH_MAX], names[STORE_MAX * 64] = "", env[64];
	pid_t	 pid;
	int	 i, fd;

	tu_bin("protetsd", bin, sizeof(bin));
	ready = 0;
	for (i = 0; i < st.n; i++) {
		if (i > 0)
			strcat(names, ":");
		strcat(names, st.name[i]);
	}
	if ((pid = fork()) == 0) {
		int	 tmp[STORE_MAX];

		/* Move the fds out of the way, then to 3, 4, ... */
		for (i = 0; i < st.n; i++)
			tmp[i] = fcntl(st.fd[i], F_DUPFD_CLOEXEC, 100);
		for (i = 0; i < st.n; i++)
			dup2(tmp[i], 3 + i);
		fd = open(d.log, O_WRONLY | O_APPEND | O_CREAT, 0644);
		dup2(fd, 1);
		dup2(fd, 2);
		snprintf(env, sizeof(env), "%d", (int)getpid());
		setenv("LISTEN_PID", env, 1);
		snprintf(env, sizeof(env), "%d", st.n);
		setenv("LISTEN_FDS", env, 1);
		setenv("LISTEN_FDNAMES", names, 1);
		setenv("NOTIFY_SOCKET", npath, 1);
		execl(bin, "protetsd", "-c", d.conf, (char *)NULL);
		_exit(127);
	}
	d.pid = pid;
	for (i = 0; i < 500 && !ready; i++)
		notify_drain(10);
	ck_assert_msg(ready, "no READY=1; see %s", d.log);
	return pid;
}

static void
first_start(void)
{
	char	 env[160];

	snprintf(env, sizeof(env), "NOTIFY_SOCKET=%s", npath);
	td_start(&d, 3, "fdstore = yes", env);
	notify_drain(50);
}

static void
make_tables(void)
{
	protets_t	*p = td_connect(&d);
	protets_opts	 o = { .access = PROTETS_PUBLIC, .max_size = 1 << 20 };
	protets_table_t	*t;
	char		 name[16], k[16];
	int		 i, j;

	for (i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "fs%d", i);
		ck_assert_int_eq(protets_get(p, name, &o, &t), 0);
		for (j = 0; j < 500; j++) {
			snprintf(k, sizeof(k), "k%d", j);
			ck_assert_int_eq(protets_insert(t, k, strlen(k), name,
			    strlen(name)), 0);
		}
		protets_close(t);
	}
	/* A dropped table leaves the store too. */
	ck_assert_int_eq(protets_drop(p, "fs3"), 0);
	protets_disconnect(p);
	notify_drain(50);
}

static void
check_tables(void)
{
	protets_t	*p = td_connect(&d);
	protets_table_t	*t;
	char		 name[16], k[16], buf[16];
	uint64_t	 n;
	size_t		 vlen;
	int		 i, j;

	for (i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "fs%d", i);
		ck_assert_int_eq(protets_open(p, name, &t), 0);
		ck_assert_int_eq(protets_count(t, &n), 0);
		ck_assert_uint_eq(n, 500);
		for (j = 0; j < 500; j++) {
			snprintf(k, sizeof(k), "k%d", j);
			ck_assert_int_eq(protets_lookup(t, k, strlen(k), buf,
			    sizeof(buf), &vlen), 0);
			ck_assert_int_eq(memcmp(buf, name, vlen), 0);
		}
		protets_close(t);
	}
	ck_assert_int_eq(protets_open(p, "fs3", &t), PROTETS_NOTFOUND);
	protets_disconnect(p);
}

START_TEST(test_whole_daemon_killed)
{
	int	 round;

	first_start();
	make_tables();
	ck_assert_int_eq(store_segs(), 3);
	ck_assert_int_eq(store_catalogs(), 1);
	ck_assert_int_eq(store_catalog_gen(), 1);
	for (round = 0; round < 3; round++) {
		td_kill_all(&d);
		start_with_store();
		ck_assert_msg(strstr(status, "3 tables recovered from systemd's fd store, 0 set aside"),
		    "status: %s", status);
		check_tables();
		notify_drain(20);
		ck_assert_int_eq(store_segs(), 3);
		/* the new catalog, the next generation, in place of the old */
		ck_assert_int_eq(store_catalogs(), 1);
		ck_assert_int_eq(store_catalog_gen(), round + 2);
	}
	/* Still serving new tables, with ids that do not collide. */
	{
		protets_t	*p = td_connect(&d);
		protets_table_t	*t;

		ck_assert_int_eq(protets_get(p, "after", NULL, &t), 0);
		protets_close(t);
		protets_disconnect(p);
		notify_drain(50);
		ck_assert_int_eq(store_segs(), 4);
	}
}
END_TEST

/* A segment that fails validation is reported and set aside. */
START_TEST(test_bad_segment_set_aside)
{
	int	 fd;

	first_start();
	make_tables();
	td_kill_all(&d);
	fd = memfd_create("bogus", MFD_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 1 << 20), 0);
	ck_assert_int_eq(write(fd, "not a table", 11), 11);
	st.fd[st.n] = fd;
	strcpy(st.name[st.n++], "seg-999");
	start_with_store();
	ck_assert_msg(strstr(status, "3 tables recovered from systemd's fd store, 1 set aside"),
	    "status: %s", status);
	check_tables();
	ck_assert_int_eq(tu_sh(NULL, 0, "grep -q 'seg-999.*set aside' %s",
	    d.log), 0);
}
END_TEST

/*
 * Each segment's full check runs in a confined child of its own: one that
 * crashes sets that segment aside, one that hangs is killed at the time
 * limit and leaves its table kept unchecked; the recovery goes on, the
 * other tables come back whole.
 */
START_TEST(test_check_in_a_child)
{
	protets_t	*p;
	protets_info	 in;
	char		 crash[32], hang[32];

	first_start();
	make_tables();
	p = td_connect(&d);
	ck_assert_int_eq(protets_info_get(p, "fs1", &in), 0);
	snprintf(crash, sizeof(crash), "seg-%llu", (unsigned long long)in.id);
	ck_assert_int_eq(protets_info_get(p, "fs2", &in), 0);
	snprintf(hang, sizeof(hang), "seg-%llu", (unsigned long long)in.id);
	protets_disconnect(p);
	td_kill_all(&d);
	setenv("PROTETS_TEST_CHECK_CRASH", crash, 1);
	setenv("PROTETS_TEST_CHECK_HANG", hang, 1);
	setenv("PROTETS_TEST_CHECK_MS", "500", 1);
	start_with_store();
	unsetenv("PROTETS_TEST_CHECK_CRASH");
	unsetenv("PROTETS_TEST_CHECK_HANG");
	unsetenv("PROTETS_TEST_CHECK_MS");
	ck_assert_msg(strstr(status, "2 tables recovered from systemd's fd "
	    "store, 1 set aside"), "status: %s", status);
	/* SIGSEGV, the default action restored first (sandbox.c) */
	ck_assert_int_eq(tu_sh(NULL, 0, "grep -q '%s: its check died of "
	    "signal' %s", crash, d.log), 0);
	ck_assert_int_eq(tu_sh(NULL, 0, "grep -q '%s: not checked: its check "
	    "took longer than 500 ms' %s", hang, d.log), 0);
	p = td_connect(&d);
	ck_assert_int_eq(protets_info_get(p, "fs0", &in), 0);
	ck_assert_uint_eq(in.entries, 500);
	ck_assert_int_eq(protets_info_get(p, "fs2", &in), 0);
	ck_assert_uint_eq(in.entries, 500);
	ck_assert_int_eq(protets_info_get(p, "fs1", &in), PROTETS_NOTFOUND);
	protets_disconnect(p);
	td_serves(&d);
}
END_TEST

/*
 * A worker and the monitor killed together: the supervisor fails on
 * purpose (exit 75) so that "systemd" restarts the service, and the store
 * brings every table back.
 */
START_TEST(test_worker_and_monitor_killed)
{
	pid_t	 m, w;
	int	 status_code, slot, i;

	first_start();
	make_tables();
	slot = td_table_worker(&d, "fs0");
	m = td_pid(&d, "monitor", -1);
	w = td_pid(&d, "worker", slot);
	/*
	 * Stopped first, the worker cannot push its segments to the new
	 * monitor: this is exactly the window of a double death.
	 */
	kill(w, SIGSTOP);
	kill(m, SIGKILL);
	td_wait_new(&d, "monitor", -1, m);
	tu_msleep(50);
	kill(w, SIGKILL);
	for (i = 0; i < 1000 && waitpid(d.pid, &status_code, WNOHANG) == 0;
	    i++)
		tu_msleep(10);
	ck_assert_msg(i < 1000, "the supervisor did not exit; see %s", d.log);
	ck_assert(WIFEXITED(status_code));
	ck_assert_int_eq(WEXITSTATUS(status_code), 75);
	d.pid = 0;
	tu_msleep(100);		/* the children follow their parent */
	start_with_store();
	check_tables();
}
END_TEST

/*
 * Make a public table called table with one entry, then, as any writer of
 * it may, rewrite its header: name, and owner and access when not 0.
 */
static void
header_lies(const char *table, const char *name, uint32_t owner,
    uint32_t access)
{
	protets_t	*p = td_connect(&d);
	protets_table_t	*t;
	protets_opts	 o = { .access = PROTETS_PUBLIC, .max_size = 1 << 20 };
	struct tbl_hdr	*h;
	int		 fd;

	ck_assert_int_eq(protets_get(p, table, &o, &t), 0);
	ck_assert_int_eq(protets_insert(t, "k", 1, "v", 1), 0);
	ck_assert_int_ge(fd = tu_table_fd(table), 0);
	h = mmap(NULL, sizeof(*h), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert(h != MAP_FAILED);
	if (owner != 0)
		h->owner_uid = owner;
	if (access != 0)
		h->access = access;
	memset(h->name, 0, sizeof(h->name));
	strcpy(h->name, name);
	munmap(h, sizeof(*h));
	protets_close(t);
	protets_disconnect(p);
	notify_drain(50);
}

/*
 * Whoever may write a table may rewrite its segment's header: its name,
 * owner and access mode.  Rebuilt from the headers, the catalog after a
 * restart gave the table that name, owner and mode (trust issue: an
 * attacker became the owner of a victim's table).  It is rebuilt from the
 * old catalog, kept in the store: the header's lies change nothing, and
 * the log says what they were.
 */
START_TEST(test_header_lies_change_nothing)
{
	protets_t	*p;
	protets_info	 in;

	first_start();
	header_lies("mine", "stolen", 4242, PROTETS_PRIVATE);
	td_kill_all(&d);
	start_with_store();
	ck_assert_msg(strstr(status, "1 tables recovered from systemd's fd store, 0 set aside"),
	    "status: %s", status);
	p = td_connect(&d);
	ck_assert_int_eq(protets_info_get(p, "stolen", &in), PROTETS_NOTFOUND);
	ck_assert_int_eq(protets_info_get(p, "mine", &in), 0);
	ck_assert_uint_eq(in.owner_uid, getuid());
	ck_assert_int_eq(in.access, PROTETS_PUBLIC);
	ck_assert_uint_eq(in.entries, 1);
	protets_disconnect(p);
	ck_assert_int_eq(tu_sh(NULL, 0, "grep -q 'header says stolen, uid "
	    "4242.*catalog mine.*kept' %s", d.log), 0);
}
END_TEST

/*
 * A store without a catalog (an older protetsd) takes names from the
 * headers, where a table made before names refused control characters
 * may have a tab in its name.  It stays reachable by that name, protets_list
 * still parses (a reply is not a new name), and the CLI prints it escaped
 * on one line of ls.
 */
static int
count_tab_name(const protets_info *in, void *arg)
{
	*(int *)arg += strcmp(in->name, "old\tname") == 0;
	return 0;
}

START_TEST(test_old_name_with_a_tab)
{
	protets_t	*p;
	protets_table_t	*t;
	protets_info	 in;
	char		 cli[PATH_MAX], out[4096];
	int		 fd, n = 0;

	first_start();
	header_lies("legacy", "old\tname", 0, 0);
	td_kill_all(&d);
	while (store_catalogs() > 0)	/* as an older protetsd left it */
		for (fd = 0; fd < st.n; fd++)
			if (strncmp(st.name[fd], "catalog-", 8) == 0) {
				char	nm[64];

				strcpy(nm, st.name[fd]);
				store_remove(nm);
				break;
			}
	start_with_store();
	ck_assert_msg(strstr(status, "1 tables recovered from systemd's fd store, 0 set aside"),
	    "status: %s", status);
	p = td_connect(&d);
	ck_assert_int_eq(protets_list(p, count_tab_name, &n), 0);
	ck_assert_int_eq(n, 1);
	ck_assert_int_eq(protets_info_get(p, "old\tname", &in), 0);
	ck_assert_uint_eq(in.entries, 1);
	/* but no new table may be called so */
	ck_assert_int_eq(protets_get(p, "new\tname", NULL, &t),
	    PROTETS_EINVAL);
	protets_disconnect(p);
	tu_bin("protets", cli, sizeof(cli));
	ck_assert_int_eq(tu_sh(out, sizeof(out), "%s -s %s ls", cli, d.sock),
	    0);
	ck_assert_msg(strncmp(out, "old\\tname\t", 10) == 0 &&
	    strchr(out, '\n') == out + strlen(out) - 1, "ls: %s", out);
}
END_TEST

/*
 * The service dies while a table is dropped: the catalog entry is freed,
 * but the monitor had not yet taken the segment out of the store.  The
 * next start finishes the drop (the segment out of the store, logged)
 * instead of setting it aside at every restart for ever.
 */
START_TEST(test_drop_finished_after_death)
{
	protets_t	*p;
	protets_table_t	*t;
	char		 name[64];
	int		 i, fd = -1;

	first_start();
	p = td_connect(&d);
	ck_assert_int_eq(protets_get(p, "gone", NULL, &t), 0);
	protets_close(t);
	notify_drain(50);
	for (i = 0; i < st.n; i++)
		if (strncmp(st.name[i], "seg-", 4) == 0) {
			ck_assert_int_ge(fd = dup(st.fd[i]), 0);
			strcpy(name, st.name[i]);
		}
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(protets_drop(p, "gone"), 0);
	protets_disconnect(p);
	notify_drain(50);
	ck_assert_int_eq(store_segs(), 0);
	td_kill_all(&d);
	/* as if the removal had not reached the store */
	st.fd[st.n] = fd;
	strcpy(st.name[st.n++], name);
	start_with_store();
	ck_assert_msg(strstr(status, "0 tables recovered from systemd's fd store, 0 set aside"),
	    "status: %s", status);
	notify_drain(50);
	ck_assert_int_eq(store_segs(), 0);
	ck_assert_int_eq(tu_sh(NULL, 0, "grep -q '%s was dropped as the "
	    "service died' %s", name, d.log), 0);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("fdstore");
	TCase	*tc = tcase_create("fdstore");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_whole_daemon_killed);
	tcase_add_test(tc, test_bad_segment_set_aside);
	tcase_add_test(tc, test_worker_and_monitor_killed);
	tcase_add_test(tc, test_header_lies_change_nothing);
	tcase_add_test(tc, test_check_in_a_child);
	tcase_add_test(tc, test_old_name_with_a_tab);
	tcase_add_test(tc, test_drop_finished_after_death);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
