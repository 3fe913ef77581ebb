/*
 * check_daemon.c - protetsd end to end: tables survive kill -9 of workers
 * and of the monitor, clients keep their mappings, bad input is refused.
 * Every kill here is a real SIGKILL of a real daemon process.
 */
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fdpass.h"
#include "table.h"
#include "testutil.h"
#include "wire.h"

static struct td	d;

static void
setup3(void)
{
	td_start(&d, 3, NULL, NULL);
}

static void
teardown(void)
{
	td_stop(&d);
}

static protets_table_t *
get(protets_t *p, const char *name, protets_access access)
{
	protets_opts	 o = { .access = access };
	protets_table_t	*t = NULL;
	int		 rc;

	rc = protets_get(p, name, &o, &t);
	ck_assert_msg(rc == 0, "get %s: %s", name, protets_strerror(rc));
	return t;
}

static void
fill(protets_table_t *t, const char *prefix, int n)
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

/* Count entries of t with the expected values; -1 at the first bad one. */
static int
present(protets_table_t *t, const char *prefix, int n)
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

/* Through the daemon, with a fresh connection and mapping. */
static void
verify(const char *name, int n)
{
	protets_t	*p = td_connect(&d);
	protets_table_t	*t = NULL;
	uint64_t	 count;
	int		 rc;

	rc = protets_open(p, name, &t);
	ck_assert_msg(rc == 0, "open %s: %s", name, protets_strerror(rc));
	ck_assert_msg(present(t, name, n) == n, "%s: entries lost", name);
	ck_assert_int_eq(protets_count(t, &count), 0);
	ck_assert_uint_eq(count, (uint64_t)n);
	protets_close(t);
	protets_disconnect(p);
}

static void
make_tables(int n, int entries)
{
	protets_t	*p = td_connect(&d);
	char		 name[16];
	int		 i;

	for (i = 0; i < n; i++) {
		protets_table_t *t;

		snprintf(name, sizeof(name), "t%d", i);
		t = get(p, name, PROTETS_PUBLIC);
		fill(t, name, entries);
		protets_close(t);
	}
	protets_disconnect(p);
}

/*
 * The original protets scenario: A creates foo and inserts, A exits, B
 * sees the data; the owning worker is killed; B still sees it.
 */
START_TEST(test_seed_scenario)
{
	int		 go[2], ready[2];
	char		 c;
	pid_t		 a, b;

	a = fork();
	if (a == 0) {
		protets_t	*p;
		protets_table_t	*t;

		CHILD_CHECK(protets_connect(d.sock, &p) == 0);
		CHILD_CHECK(protets_get(p, "foo", NULL, &t) == 0);
		CHILD_CHECK(protets_insert(t, "k", 1, "v", 1) == 0);
		_exit(0);
	}
	ck_assert_int_eq(tu_wait_child(a), 0);
	ck_assert_int_eq(pipe(go), 0);
	ck_assert_int_eq(pipe(ready), 0);
	b = fork();
	if (b == 0) {
		protets_t	*p;
		protets_table_t	*t;
		char		 buf[8];
		size_t		 n;

		CHILD_CHECK(protets_connect(d.sock, &p) == 0);
		CHILD_CHECK(protets_open(p, "foo", &t) == 0);
		CHILD_CHECK(protets_lookup(t, "k", 1, buf, 8, &n) == 0);
		CHILD_CHECK(n == 1 && buf[0] == 'v');
		CHILD_CHECK(write(ready[1], "r", 1) == 1);
		CHILD_CHECK(read(go[0], &c, 1) == 1);
		/* Worker killed meanwhile: the mapping still works... */
		CHILD_CHECK(protets_lookup(t, "k", 1, buf, 8, &n) == 0);
		CHILD_CHECK(n == 1 && buf[0] == 'v');
		CHILD_CHECK(protets_insert(t, "k2", 2, "w", 1) == 0);
		protets_close(t);
		/* ...and so does the daemon, through the new worker. */
		CHILD_CHECK(protets_open(p, "foo", &t) == 0);
		CHILD_CHECK(protets_lookup(t, "k2", 2, buf, 8, &n) == 0);
		_exit(0);
	}
	ck_assert_int_eq(read(ready[0], &c, 1), 1);
	td_kill(&d, "worker", td_table_worker(&d, "foo"));
	ck_assert_int_eq(write(go[1], "g", 1), 1);
	ck_assert_int_eq(tu_wait_child(b), 0);
}
END_TEST

/* 3 tables on 3 workers, 10,000 entries each; each owner killed 20 times. */
START_TEST(test_worker_kills)
{
	int	 i, k, w[3];

	make_tables(3, 10000);
	for (i = 0; i < 3; i++) {
		char name[8];

		snprintf(name, sizeof(name), "t%d", i);
		w[i] = td_table_worker(&d, name);
	}
	ck_assert_msg(w[0] != w[1] && w[1] != w[2] && w[0] != w[2],
	    "tables share a worker: %d %d %d", w[0], w[1], w[2]);
	for (i = 0; i < 3; i++)
		for (k = 0; k < 20; k++) {
			td_kill(&d, "worker", w[i]);
			verify("t0", 10000);
			verify("t1", 10000);
			verify("t2", 10000);
		}
}
END_TEST

START_TEST(test_monitor_then_worker)
{
	make_tables(3, 1000);
	td_kill(&d, "monitor", -1);
	verify("t0", 1000);
	td_kill(&d, "worker", td_table_worker(&d, "t0"));
	verify("t0", 1000);
	verify("t1", 1000);
	verify("t2", 1000);
}
END_TEST

/* The monitor dies, and 10 ms later a worker: the new monitor must have
 * collected that worker's segments by then. */
START_TEST(test_monitor_then_worker_10ms)
{
	pid_t	 m, w;
	int	 i, slot;

	make_tables(3, 1000);
	for (i = 0; i < 5; i++) {
		slot = td_table_worker(&d, i % 2 ? "t1" : "t0");
		m = td_pid(&d, "monitor", -1);
		w = td_pid(&d, "worker", slot);
		ck_assert_int_eq(kill(m, SIGKILL), 0);
		tu_msleep(10);
		ck_assert_int_eq(kill(w, SIGKILL), 0);
		td_wait_new(&d, "monitor", -1, m);
		td_wait_new(&d, "worker", slot, w);
		verify("t0", 1000);
		verify("t1", 1000);
		verify("t2", 1000);
	}
}
END_TEST

/* 200 kill cycles of workers and the monitor: no fd grows anywhere. */
START_TEST(test_fds_stable)
{
	int	 i, base = 0, now;

	make_tables(3, 100);
	for (i = 0; i < 200; i++) {
		if (i % 4 == 3)
			td_kill(&d, "monitor", -1);
		else
			td_kill(&d, "worker", i % 3);
		verify("t0", 100);
		verify("t1", 100);
		verify("t2", 100);
		now = td_fd_total(&d);
		if (i == 3)
			base = now;
	}
	ck_assert_msg(now <= base, "daemon fds grew from %d to %d", base, now);
}
END_TEST

/* A client that mapped a table keeps writing and reading, with zero
 * errors, while workers and the monitor are being killed. */
START_TEST(test_client_unaffected)
{
	int	 stop[2], i;
	pid_t	 c;

	make_tables(1, 10);
	ck_assert_int_eq(pipe(stop), 0);
	c = fork();
	if (c == 0) {
		protets_t	*p;
		protets_table_t	*t;
		char		 k[32], buf[32];
		size_t		 n;
		int		 j = 0;
		struct pollfd	 pfd = { .fd = stop[0], .events = POLLIN };

		close(stop[1]);
		CHILD_CHECK(protets_connect(d.sock, &p) == 0);
		CHILD_CHECK(protets_open(p, "t0", &t) == 0);
		protets_disconnect(p);
		while (poll(&pfd, 1, 0) == 0) {
			snprintf(k, sizeof(k), "c%d", j % 5000);
			CHILD_CHECK(protets_insert(t, k, strlen(k), k,
			    strlen(k)) == 0);
			CHILD_CHECK(protets_lookup(t, k, strlen(k), buf,
			    sizeof(buf), &n) == 0 && n == strlen(k));
			j++;
		}
		_exit(0);
	}
	close(stop[0]);
	for (i = 0; i < 20; i++) {
		if (i % 5 == 4)
			td_kill(&d, "monitor", -1);
		else
			td_kill(&d, "worker", i % 3);
		tu_msleep(20);
	}
	ck_assert_int_eq(write(stop[1], "s", 1), 1);
	ck_assert_int_eq(tu_wait_child(c), 0);
	{
		protets_t	*p = td_connect(&d);
		protets_table_t	*t;

		ck_assert_int_eq(protets_open(p, "t0", &t), 0);
		ck_assert_int_eq(present(t, "t0", 10), 10);
		protets_close(t);
		protets_disconnect(p);
	}
}
END_TEST

/* Read one reply (2 s at most): its header, its payload skipped; -1 when
 * the daemon closed. */
static int
raw_reply(int s, struct wire_hdr *h)
{
	struct pollfd	 pfd = { .fd = s, .events = POLLIN };
	char		 skip[512];
	size_t		 got = 0, left;
	ssize_t		 n;

	while (got < sizeof(*h)) {
		ck_assert_int_eq(poll(&pfd, 1, 2000), 1);
		n = read(s, (char *)h + got, sizeof(*h) - got);
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	for (left = h->len; left > 0; left -= (size_t)n) {
		ck_assert_int_eq(poll(&pfd, 1, 2000), 1);
		n = read(s, skip, left < sizeof(skip) ? left : sizeof(skip));
		if (n <= 0)
			return -1;
	}
	return 0;
}

/* 1 when the daemon closes the connection (after any reply bytes). */
static int
raw_eof(int s)
{
	struct pollfd	 pfd = { .fd = s, .events = POLLIN };
	char		 b[256];
	ssize_t		 n;

	do {
		if (poll(&pfd, 1, 2000) != 1)
			return 0;
	} while ((n = read(s, b, sizeof(b))) > 0);
	return n == 0;
}

static void
raw_send(int s, uint16_t version, uint16_t op, uint32_t len,
    const void *payload, size_t plen)
{
	struct wire_hdr	 h = { version, op, len, 42, 0 };

	ck_assert_int_eq(write(s, &h, sizeof(h)), (ssize_t)sizeof(h));
	if (plen > 0)
		ck_assert_int_eq(write(s, payload, plen), (ssize_t)plen);
}

static void
daemon_serves(void)
{
	protets_t	*p = td_connect(&d);
	protets_table_t	*t;

	ck_assert_int_eq(protets_get(p, "still-alive", NULL, &t), 0);
	protets_close(t);
	protets_disconnect(p);
}

START_TEST(test_bad_frames)
{
	struct wire_hdr	 h;
	unsigned char	 junk[64];
	int		 s, i, before, after;

	daemon_serves();
	before = td_fd_total(&d);
	/* truncated header, then hang up */
	s = td_raw_connect(&d);
	ck_assert_int_eq(write(s, "PTPTPTPT", 8), 8);
	close(s);
	/* declared length over the maximum: error, then closed */
	s = td_raw_connect(&d);
	raw_send(s, WIRE_VERSION, WIRE_GET, 1u << 30, NULL, 0);
	ck_assert_int_eq(raw_reply(s, &h), 0);
	ck_assert_int_eq(h.status, PROTETS_EPROTO);
	ck_assert(raw_eof(s));
	close(s);
	/* unknown version */
	s = td_raw_connect(&d);
	raw_send(s, 77, WIRE_PROCS, 0, NULL, 0);
	ck_assert_int_eq(raw_reply(s, &h), 0);
	ck_assert_int_eq(h.status, PROTETS_EVERSION);
	close(s);
	/* unknown opcode: an error, and the connection goes on */
	s = td_raw_connect(&d);
	raw_send(s, WIRE_VERSION, 999, 0, NULL, 0);
	ck_assert_int_eq(raw_reply(s, &h), 0);
	ck_assert_int_eq(h.status, PROTETS_EPROTO);
	ck_assert_uint_eq(h.op, 999 | WIRE_REPLY);
	ck_assert_uint_eq(h.seq, 42);
	raw_send(s, WIRE_VERSION, WIRE_PROCS, 0, NULL, 0);
	ck_assert_int_eq(raw_reply(s, &h), 0);
	ck_assert_int_eq(h.status, 0);
	close(s);
	/* empty GET, GET with trailing garbage, empty and long names */
	s = td_raw_connect(&d);
	raw_send(s, WIRE_VERSION, WIRE_GET, 0, NULL, 0);
	ck_assert_int_eq(raw_reply(s, &h), 0);
	ck_assert_int_eq(h.status, PROTETS_EPROTO);
	close(s);
	s = td_raw_connect(&d);
	{
		unsigned char p[] = { 0, 0, 0, 0, 0, 0 };	/* name len 0 */
		struct wbuf w;

		raw_send(s, WIRE_VERSION, WIRE_DROP, 2, p, 2);
		ck_assert_int_eq(raw_reply(s, &h), 0);
		ck_assert_int_eq(h.status, PROTETS_EINVAL);
		wbuf_init(&w);
		wbuf_str(&w, "x", 1);
		wbuf_u32(&w, 7);		/* trailing bytes */
		raw_send(s, WIRE_VERSION, WIRE_INFO, (uint32_t)w.len, w.data,
		    w.len);
		ck_assert_int_eq(raw_reply(s, &h), 0);
		ck_assert_int_eq(h.status, PROTETS_EPROTO);
		wbuf_free(&w);
	}
	close(s);
	/* garbage */
	srand(7);
	for (i = 0; i < 20; i++) {
		size_t j;

		for (j = 0; j < sizeof(junk); j++)
			junk[j] = (unsigned char)rand();
		s = td_raw_connect(&d);
		ck_assert_int_eq(write(s, junk, sizeof(junk)), sizeof(junk));
		close(s);
	}
	daemon_serves();
	tu_msleep(100);
	after = td_fd_total(&d);
	ck_assert_msg(after <= before, "fds grew %d -> %d", before, after);
}
END_TEST

/* fds pushed at the daemon are closed and the request refused. */
START_TEST(test_pushed_fds)
{
	struct wire_hdr	 h;
	int		 s, fds[FDPASS_MAX], i, before, after, n;

	daemon_serves();
	before = td_fd_total(&d);
	for (n = 1; n <= FDPASS_MAX; n += FDPASS_MAX - 1) {
		for (i = 0; i < n; i++)
			fds[i] = dup(0);
		s = td_raw_connect(&d);
		wire_hdr_make(&h, WIRE_PROCS, 0, 1, 0);
		ck_assert_int_eq(fdpass_send(s, &h, sizeof(h), fds, n, 0),
		    (ssize_t)sizeof(h));
		for (i = 0; i < n; i++)
			close(fds[i]);
		ck_assert_int_eq(raw_reply(s, &h), 0);
		ck_assert_int_eq(h.status, PROTETS_EPROTO);
		ck_assert(raw_eof(s));
		close(s);
	}
	daemon_serves();
	tu_msleep(100);
	after = td_fd_total(&d);
	ck_assert_msg(after <= before, "fds grew %d -> %d", before, after);
}
END_TEST

START_TEST(test_errors)
{
	protets_t	*p = td_connect(&d);
	protets_table_t	*t = NULL;
	protets_opts	 o = { 0 };
	char		 big[300];

	ck_assert_int_eq(protets_get(p, "", NULL, &t), PROTETS_EINVAL);
	memset(big, 'n', sizeof(big));
	big[PROTETS_NAME_MAX + 1] = '\0';
	ck_assert_int_eq(protets_get(p, big, NULL, &t), PROTETS_EINVAL);
	big[PROTETS_NAME_MAX] = '\0';
	ck_assert_int_eq(protets_get(p, big, NULL, &t), 0);
	protets_close(t);
	o.type = (protets_type)9;
	ck_assert_int_eq(protets_get(p, "x", &o, &t), PROTETS_EINVAL);
	o.type = PROTETS_SET;
	o.access = (protets_access)0x77;
	ck_assert_int_eq(protets_get(p, "x", &o, &t), PROTETS_EINVAL);
	o.access = 0;
	o.max_size = 1ull << 50;
	ck_assert_int_eq(protets_get(p, "x", &o, &t), PROTETS_ELIMIT);
	ck_assert_int_eq(protets_open(p, "missing", &t), PROTETS_NOTFOUND);
	ck_assert_int_eq(protets_drop(p, "missing"), PROTETS_NOTFOUND);
	ck_assert_int_eq(protets_connect("/nonexistent/sock", &p),
	    PROTETS_ECONNECT);
	protets_disconnect(p);
}
END_TEST

START_TEST(test_drop)
{
	protets_t	*p = td_connect(&d);
	protets_table_t	*t, *t2;
	char		 buf[8];
	size_t		 n;
	int		 sync[2];
	pid_t		 c;

	t = get(p, "d", PROTETS_PUBLIC);
	fill(t, "d", 10);
	/* In use (by us): refused, and nothing lost. */
	ck_assert_int_eq(protets_drop(p, "d"), PROTETS_EBUSY);
	ck_assert_int_eq(present(t, "d", 10), 10);
	protets_close(t);
	ck_assert_int_eq(protets_drop(p, "d"), 0);
	ck_assert_int_eq(protets_open(p, "d", &t), PROTETS_NOTFOUND);
	/* A new table of the same name starts empty. */
	t2 = get(p, "d", PROTETS_PUBLIC);
	ck_assert_int_eq(protets_lookup(t2, "d:1", 3, buf, sizeof(buf), &n),
	    PROTETS_NOTFOUND);
	protets_close(t2);
	/* A process killed while holding it no longer counts. */
	ck_assert_int_eq(pipe(sync), 0);
	if ((c = fork()) == 0) {
		protets_t	*q;
		protets_table_t	*u;

		CHILD_CHECK(protets_connect(d.sock, &q) == 0);
		CHILD_CHECK(protets_open(q, "d", &u) == 0);
		CHILD_CHECK(write(sync[1], "o", 1) == 1);
		pause();
		_exit(0);
	}
	ck_assert_int_eq(read(sync[0], buf, 1), 1);
	ck_assert_int_eq(protets_drop(p, "d"), PROTETS_EBUSY);
	kill(c, SIGKILL);
	waitpid(c, NULL, 0);
	ck_assert_int_eq(protets_drop(p, "d"), 0);
	protets_disconnect(p);
}
END_TEST

/* Another uid: private refused, protected read-only, public writable. */
START_TEST(test_access)
{
	protets_t	*p = td_connect(&d);
	protets_table_t	*t;
	pid_t		 c;

	if (getuid() != 0) {
		fprintf(stderr, "test_access: not root, skipped\n");
		protets_disconnect(p);
		return;
	}
	t = get(p, "priv", PROTETS_PRIVATE);
	fill(t, "priv", 3);
	protets_close(t);
	t = get(p, "prot", PROTETS_PROTECTED);
	fill(t, "prot", 3);
	protets_close(t);
	t = get(p, "pub", PROTETS_PUBLIC);
	protets_close(t);
	c = fork();
	if (c == 0) {
		protets_t	*q;
		protets_table_t	*u;
		char		 buf[32];
		size_t		 n;

		CHILD_CHECK(setgid(65534) == 0 && setuid(65534) == 0);
		CHILD_CHECK(protets_connect(d.sock, &q) == 0);
		CHILD_CHECK(protets_open(q, "priv", &u) == PROTETS_EACCES);
		CHILD_CHECK(protets_open(q, "prot", &u) == 0);
		CHILD_CHECK(!protets_table_writable(u));
		CHILD_CHECK(protets_lookup(u, "prot:1", 6, buf, sizeof(buf),
		    &n) == 0);
		CHILD_CHECK(protets_insert(u, "x", 1, "y", 1) ==
		    PROTETS_EACCES);
		CHILD_CHECK(protets_delete(u, "prot:1", 6) == PROTETS_EACCES);
		protets_close(u);
		CHILD_CHECK(protets_drop(q, "prot") == PROTETS_EACCES);
		CHILD_CHECK(protets_open(q, "pub", &u) == 0);
		CHILD_CHECK(protets_table_writable(u));
		CHILD_CHECK(protets_insert(u, "x", 1, "y", 1) == 0);
		protets_close(u);
		/* A table created by this uid is its own. */
		CHILD_CHECK(protets_get(q, "mine", NULL, &u) == 0);
		CHILD_CHECK(protets_table_writable(u));
		protets_close(u);
		CHILD_CHECK(protets_drop(q, "mine") == 0);
		_exit(0);
	}
	ck_assert_int_eq(tu_wait_child(c), 0);
	verify("prot", 3);
	protets_disconnect(p);
}
END_TEST

/*
 * What another uid gets after each change of access; only the owner may
 * change it; nothing stored is lost along the way.
 */
/* The access recorded in the header of a table this process holds. */
static int
header_access(const char *name)
{
	struct tbl	 tb;
	struct tbl_meta	 m;
	struct stat	 st;
	void		*base;
	int		 fd;

	ck_assert_int_ge(fd = tu_table_fd(name), 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	base = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(base, MAP_FAILED);
	ck_assert_int_eq(tbl_open(&tb, base, (size_t)st.st_size, 0), 0);
	ck_assert_int_eq(tbl_meta(&tb, &m), 0);
	/* fd stays the library's. */
	munmap(base, (size_t)st.st_size);
	return (int)m.access;
}

static void
access_as_other(const char *sock, int expect_open, int expect_writable)
{
	pid_t	 c;

	if ((c = fork()) == 0) {
		protets_t	*q;
		protets_table_t	*u;
		int		 rc;

		CHILD_CHECK(setgid(65534) == 0 && setuid(65534) == 0);
		CHILD_CHECK(protets_connect(sock, &q) == 0);
		CHILD_CHECK(protets_set_access(q, "acc", PROTETS_PUBLIC) ==
		    PROTETS_EACCES);
		rc = protets_open(q, "acc", &u);
		CHILD_CHECK(rc == (expect_open ? 0 : PROTETS_EACCES));
		if (rc == 0) {
			CHILD_CHECK(protets_table_writable(u) ==
			    expect_writable);
			CHILD_CHECK(protets_insert(u, "other", 5, "x", 1) ==
			    (expect_writable ? 0 : PROTETS_EACCES));
			protets_close(u);
		}
		protets_disconnect(q);
		_exit(0);
	}
	ck_assert_int_eq(tu_wait_child(c), 0);
}

START_TEST(test_set_access)
{
	protets_t	*p = td_connect(&d);
	protets_table_t	*t;
	protets_info	 in;

	t = get(p, "acc", PROTETS_PROTECTED);
	fill(t, "acc", 5);
	protets_close(t);
	ck_assert_int_eq(protets_set_access(p, "missing", PROTETS_PUBLIC),
	    PROTETS_NOTFOUND);
	ck_assert_int_eq(protets_set_access(p, "acc", (protets_access)9),
	    PROTETS_EINVAL);
	ck_assert_int_eq(protets_set_access(p, "", PROTETS_PUBLIC),
	    PROTETS_EINVAL);
	if (getuid() == 0)
		access_as_other(d.sock, 1, 0);
	ck_assert_int_eq(protets_set_access(p, "acc", PROTETS_PUBLIC), 0);
	ck_assert_int_eq(protets_info_get(p, "acc", &in), 0);
	ck_assert_int_eq(in.access, PROTETS_PUBLIC);
	if (getuid() == 0)
		access_as_other(d.sock, 1, 1);
	ck_assert_int_eq(protets_set_access(p, "acc", PROTETS_PRIVATE), 0);
	if (getuid() == 0)
		access_as_other(d.sock, 0, 0);
	/* The owner's own access never changes; nothing was lost. */
	ck_assert_int_eq(protets_open(p, "acc", &t), 0);
	ck_assert(protets_table_writable(t));
	ck_assert_int_eq(protets_table_access(t), PROTETS_PRIVATE);
	/* The segment's header carries it too (a restart rebuilds from it). */
	ck_assert_int_eq(header_access("acc"), PROTETS_PRIVATE);
	/* What the other uid wrote while the table was public is there. */
	if (getuid() == 0)
		ck_assert_int_eq(protets_delete(t, "other", 5), 0);
	protets_close(t);
	verify("acc", 5);
	ck_assert_int_eq(protets_drop(p, "acc"), 0);
	protets_disconnect(p);
}
END_TEST

/* Mappings of the segment named in /proc/self/maps. */
static int
maps_of(const char *name)
{
	char	 line[512], pat[128];
	FILE	*f;
	int	 n = 0;

	snprintf(pat, sizeof(pat), "/memfd:protets:%s ", name);
	ck_assert_ptr_nonnull(f = fopen("/proc/self/maps", "r"));
	while (fgets(line, sizeof(line), f) != NULL)
		n += strstr(line, pat) != NULL;
	fclose(f);
	return n;
}

struct reg_arg {
	const char	*sock;
	int		 id;
	int		 errors;
};

static void *
reg_thread(void *arg)
{
	struct reg_arg	*a = arg;
	protets_t	*p;
	protets_table_t	*t;
	char		 k[32];
	int		 i;

	if (protets_connect(a->sock, &p) != 0) {
		a->errors++;
		return NULL;
	}
	for (i = 0; i < 300; i++) {
		if (protets_open(p, "shared", &t) != 0) {
			a->errors++;
			continue;
		}
		snprintf(k, sizeof(k), "%d:%d", a->id, i);
		if (protets_insert(t, k, strlen(k), "v", 1) != 0)
			a->errors++;
		protets_close(t);
	}
	protets_disconnect(p);
	return NULL;
}

/* One mapping per segment per process, however many handles and threads. */
START_TEST(test_registry)
{
	protets_t	*p = td_connect(&d);
	protets_table_t	*a, *b;
	struct reg_arg	 args[4];
	pthread_t	 th[4];
	uint64_t	 n;
	int		 i;

	a = get(p, "shared", PROTETS_PUBLIC);
	ck_assert_int_eq(protets_open(p, "shared", &b), 0);
	ck_assert_int_eq(maps_of("shared"), 1);
	ck_assert_int_eq(protets_insert(a, "x", 1, "1", 1), 0);
	protets_close(a);
	/* b still holds it: in use, and still mapped. */
	ck_assert_int_eq(protets_drop(p, "shared"), PROTETS_EBUSY);
	ck_assert_int_eq(protets_count(b, &n), 0);
	ck_assert_uint_eq(n, 1);
	protets_close(b);
	ck_assert_int_eq(maps_of("shared"), 0);
	for (i = 0; i < 4; i++) {
		args[i] = (struct reg_arg){ d.sock, i, 0 };
		ck_assert_int_eq(pthread_create(&th[i], NULL, reg_thread,
		    &args[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		ck_assert_int_eq(args[i].errors, 0);
	}
	ck_assert_int_eq(maps_of("shared"), 0);
	ck_assert_int_eq(protets_open(p, "shared", &a), 0);
	ck_assert_int_eq(protets_count(a, &n), 0);
	ck_assert_uint_eq(n, 1 + 4 * 300);
	protets_close(a);
	ck_assert_int_eq(protets_drop(p, "shared"), 0);
	protets_disconnect(p);
}
END_TEST

static void
notify_setup(void)
{
}

/* READY=1 reaches $NOTIFY_SOCKET once everything is up. */
START_TEST(test_sd_notify)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	char			 env[200], buf[512];
	struct pollfd		 pfd;
	int			 s, ready = 0;
	ssize_t			 n;

	snprintf(sun.sun_path, sizeof(sun.sun_path),
	    "/tmp/protets-notify.%d", (int)getpid());
	unlink(sun.sun_path);
	ck_assert_int_ge(s = socket(AF_UNIX, SOCK_DGRAM, 0), 0);
	ck_assert_int_eq(bind(s, (struct sockaddr *)&sun, sizeof(sun)), 0);
	snprintf(env, sizeof(env), "NOTIFY_SOCKET=%s", sun.sun_path);
	td_start(&d, 2, NULL, env);
	pfd.fd = s;
	pfd.events = POLLIN;
	while (!ready && poll(&pfd, 1, 5000) == 1) {
		n = recv(s, buf, sizeof(buf) - 1, 0);
		ck_assert_int_gt(n, 0);
		buf[n] = '\0';
		ready = strstr(buf, "READY=1") != NULL;
	}
	ck_assert_msg(ready, "no READY=1");
	ck_assert_ptr_nonnull(strstr(buf, "STATUS="));
	td_stop(&d);
	close(s);
	unlink(sun.sun_path);
}
END_TEST

/* Supervisor: SIGTERM is an orderly shutdown (socket and pidfile gone). */
START_TEST(test_shutdown)
{
	char	 path[PATH_MAX + 32];
	pid_t	 mon;
	int	 st;

	td_start(&d, 2, NULL, NULL);
	mon = td_pid(&d, "monitor", -1);
	kill(d.pid, SIGTERM);
	ck_assert_int_eq(waitpid(d.pid, &st, 0), d.pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	d.pid = 0;
	/* A stop is not a death: the monitor did not take over. */
	ck_assert_int_eq(kill(mon, 0), -1);
	ck_assert_int_eq(access(d.sock, F_OK), -1);
	snprintf(path, sizeof(path), "%s/protetsd.pid", d.dir);
	ck_assert_int_eq(access(path, F_OK), -1);
	td_stop(&d);
}
END_TEST

static int
log_has(const char *needle)
{
	char	 cmd[PATH_MAX + 128];

	snprintf(cmd, sizeof(cmd), "grep -qF '%s' %s", needle, d.log);
	return system(cmd) == 0;
}

/*
 * Without systemd, the monitor replaces a supervisor killed by SIGKILL,
 * twice in a row: every table is back with its entries, access and owner,
 * a mapping taken before keeps working, and new requests are served.
 */
START_TEST(test_supervisor_killed)
{
	protets_t	*p;
	protets_table_t	*keep;
	protets_info	 in;
	int		 round;

	td_start(&d, 2, NULL, NULL);
	p = td_connect(&d);
	keep = get(p, "sk1", PROTETS_PUBLIC);
	fill(keep, "sk1", 1000);
	protets_close(keep);
	protets_close(get(p, "sk2", PROTETS_PRIVATE));
	keep = get(p, "sk3", PROTETS_PROTECTED);
	fill(keep, "sk3", 10);
	protets_disconnect(p);
	for (round = 0; round < 2; round++) {
		td_kill_supervisor(&d);
		verify("sk1", 1000);
		verify("sk3", 10 + round);
		/* Our old mapping is the same segment: writes land. */
		ck_assert_int_eq(protets_insert(keep, "sk3:x", 5, "v", 1), 0);
		ck_assert_int_eq(protets_insert(keep, "sk3:x", 5, "v", 1), 0);
		ck_assert_int_eq(protets_delete(keep, "sk3:x", 5), 0);
		fill(keep, "sk3", 11 + round);
	}
	p = td_connect(&d);
	ck_assert_int_eq(protets_info_get(p, "sk2", &in), 0);
	ck_assert_int_eq(in.access, PROTETS_PRIVATE);
	ck_assert_uint_eq(in.owner_uid, getuid());
	ck_assert_int_eq(protets_info_get(p, "sk3", &in), 0);
	ck_assert_int_eq(in.access, PROTETS_PROTECTED);
	protets_close(get(p, "sk4", PROTETS_PUBLIC));
	protets_disconnect(p);
	protets_close(keep);
	ck_assert(log_has("supervisor died: taking over as protetsd with 3 "
	    "segments"));
	td_stop(&d);
	/* The old workers, orphaned to us, are gone. */
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}
END_TEST

/* A child dying in a loop is restarted with a delay, and comes back. */
START_TEST(test_restart_throttle)
{
	pid_t	 w;
	int	 i;

	td_start(&d, 2, "restart_burst = 2\nrestart_window_ms = 60000\n"
	    "restart_delay_ms = 500", NULL);
	for (i = 0; i < 3; i++) {
		w = td_pid(&d, "worker", 0);
		ck_assert_int_gt(w, 0);
		kill(w, SIGKILL);
		td_wait_new(&d, "worker", 0, w);
	}
	ck_assert(log_has("worker 0 restarting too often; next try in 500 ms"));
	ck_assert_int_eq(kill(d.pid, 0), 0);	/* the supervisor lives on */
	daemon_serves();
	td_stop(&d);
}
END_TEST

/* SIGHUP re-reads the file; a broken file keeps the running settings. */
START_TEST(test_reload)
{
	protets_t	*p;
	protets_table_t	*t;
	protets_opts	 o = { .max_size = 8u << 20 };
	FILE		*f;

	td_start(&d, 2, NULL, NULL);
	p = td_connect(&d);
	ck_assert_int_eq(protets_get(p, "a", &o, &t), 0);
	protets_close(t);
	ck_assert_ptr_nonnull(f = fopen(d.conf, "a"));
	fputs("[tables]\nmax_size = 4M\ndefault_size = 1M\n", f);
	fclose(f);
	kill(d.pid, SIGHUP);
	tu_msleep(300);
	ck_assert_int_eq(protets_get(p, "b", &o, &t), PROTETS_ELIMIT);
	ck_assert(log_has("configuration reloaded"));
	ck_assert_ptr_nonnull(f = fopen(d.conf, "a"));
	fputs("bogus_key = 1\n", f);
	fclose(f);
	kill(d.pid, SIGHUP);
	tu_msleep(300);
	ck_assert(log_has("keeping the old configuration"));
	ck_assert_int_eq(protets_get(p, "b", &o, &t), PROTETS_ELIMIT);
	o.max_size = 0;		/* the reloaded default_size, 1M */
	ck_assert_int_eq(protets_get(p, "c", &o, &t), 0);
	protets_close(t);
	protets_disconnect(p);
	td_stop(&d);
}
END_TEST

/* Segments are sealed: nobody can shrink, grow or reseal them. */
START_TEST(test_seals)
{
	protets_t	*p = td_connect(&d);
	protets_table_t	*t = get(p, "sealed", PROTETS_PUBLIC);
	int		 fd, seals;

	ck_assert_int_ge(fd = tu_table_fd("sealed"), 0);
	seals = fcntl(fd, F_GET_SEALS);
	ck_assert_int_eq(seals & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL),
	    F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	ck_assert_int_eq(seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE), 0);
	ck_assert_int_eq(ftruncate(fd, 4096), -1);
	ck_assert_int_eq(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), -1);
	protets_close(t);
	protets_disconnect(p);
}
END_TEST

/* More tables on one worker than fit in one SCM_RIGHTS message: the
 * handoff and the re-collection go in batches, and nothing is missed. */
START_TEST(test_many_tables)
{
	protets_t	*p;
	protets_table_t	*t;
	protets_opts	 o = { .access = PROTETS_PUBLIC, .max_size = 64 << 10 };
	char		 name[32], cmd[PATH_MAX + 64], out[64];
	int		 i;

	td_start(&d, 1, NULL, NULL);
	p = td_connect(&d);
	for (i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "m%d", i);
		ck_assert_int_eq(protets_get(p, name, &o, &t), 0);
		ck_assert_int_eq(protets_insert(t, name, strlen(name), "v", 1),
		    0);
		protets_close(t);
	}
	protets_disconnect(p);
	td_kill(&d, "worker", 0);
	td_kill(&d, "monitor", -1);
	td_kill(&d, "worker", 0);
	p = td_connect(&d);
	for (i = 0; i < 300; i++) {
		char	 buf[4];
		size_t	 n;

		snprintf(name, sizeof(name), "m%d", i);
		ck_assert_int_eq(protets_open(p, name, &t), 0);
		ck_assert_int_eq(protets_lookup(t, name, strlen(name), buf,
		    sizeof(buf), &n), 0);
		protets_close(t);
	}
	protets_disconnect(p);
	/* ps shows each process's role and load. */
	snprintf(cmd, sizeof(cmd), "tr '\\0' ' ' < /proc/%d/cmdline",
	    (int)td_pid(&d, "worker", 0));
	ck_assert_int_eq(tu_sh(out, sizeof(out), "%s", cmd), 0);
	ck_assert_msg(strncmp(out, "protetsd: worker 0 (300 tables) ", 32) == 0,
	    "title: %s", out);
	snprintf(cmd, sizeof(cmd), "tr '\\0' ' ' < /proc/%d/cmdline",
	    (int)td_pid(&d, "monitor", -1));
	ck_assert_int_eq(tu_sh(out, sizeof(out), "%s", cmd), 0);
	ck_assert_msg(strncmp(out, "protetsd: monitor (300 segments) ", 33) == 0,
	    "title: %s", out);
	ck_assert(log_has("handed 300 segments to worker 0"));
	td_stop(&d);
}
END_TEST

/*
 * A worker whose RLIMIT_NOFILE is too low for its slot's segments sees
 * the handoff truncated: it must say so and never serve a partial slot
 * (which would drop tables); once the limit is raised, all is back.
 */
START_TEST(test_handoff_rlimit)
{
	struct rlimit	 low, old;
	protets_t	*p;
	protets_table_t	*t;
	protets_opts	 o = { .access = PROTETS_PUBLIC, .max_size = 64 << 10 };
	char		 name[16];
	pid_t		 w;
	int		 i;

	td_start(&d, 1, "restart_burst = 2\nrestart_delay_ms = 200", NULL);
	p = td_connect(&d);
	for (i = 0; i < 60; i++) {
		snprintf(name, sizeof(name), "r%d", i);
		ck_assert_int_eq(protets_get(p, name, &o, &t), 0);
		protets_close(t);
	}
	protets_disconnect(p);
	/* The soft limit only: raising a hard one needs CAP_SYS_RESOURCE. */
	ck_assert_int_eq(prlimit(d.pid, RLIMIT_NOFILE, NULL, &old), 0);
	low.rlim_cur = 40;
	low.rlim_max = old.rlim_max;
	ck_assert_int_eq(prlimit(d.pid, RLIMIT_NOFILE, &low, NULL), 0);
	w = td_pid(&d, "worker", 0);
	kill(w, SIGKILL);
	for (i = 0; i < 300 && !log_has("handoff from the monitor truncated");
	    i++)
		tu_msleep(10);
	ck_assert(log_has("handoff from the monitor truncated"));
	ck_assert_int_eq(prlimit(d.pid, RLIMIT_NOFILE, &old, NULL), 0);
	/* The next (throttled) successor gets everything. */
	p = td_connect(&d);
	for (i = 0; i < 60; i++) {
		snprintf(name, sizeof(name), "r%d", i);
		ck_assert_int_eq(protets_open(p, name, &t), 0);
		protets_close(t);
	}
	protets_disconnect(p);
	ck_assert(!log_has("LOST"));
	td_stop(&d);
}
END_TEST

static int
td_count_proc(const protets_proc *pr, void *arg)
{
	(void)pr;
	(void)arg;
	return 0;
}

static int
procs_ok(protets_t *p)
{
	return protets_procs(p, td_count_proc, NULL);
}

/* Per-uid limits from the configuration, each refused with ELIMIT. */
/* Bytes allocated to the segment of a table this process has mapped. */
static uint64_t
allocated(const char *name)
{
	struct stat	st;
	int		fd = tu_table_fd(name);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	return (uint64_t)st.st_blocks * 512;
}

/*
 * preallocate = yes: a new table's memory is all allocated when the get
 * returns (no fault left to fail later); without it, only what was
 * written.
 */
START_TEST(test_preallocate)
{
	protets_opts	 o = { .access = PROTETS_PUBLIC, .max_size = 8 << 20 };
	protets_t	*p;
	protets_table_t	*t, *u;

	td_start(&d, 2, "[tables]\npreallocate = yes", NULL);
	p = td_connect(&d);
	ck_assert_int_eq(protets_get(p, "pre", &o, &t), 0);
	ck_assert_uint_ge(allocated("pre"), 8 << 20);
	ck_assert_int_eq(protets_insert(t, "k", 1, "v", 1), 0);
	protets_close(t);
	protets_disconnect(p);
	td_stop(&d);

	td_start(&d, 2, NULL, NULL);
	p = td_connect(&d);
	ck_assert_int_eq(protets_get(p, "lazy", &o, &u), 0);
	ck_assert_uint_lt(allocated("lazy"), 1 << 20);
	protets_close(u);
	protets_disconnect(p);
	td_stop(&d);
}
END_TEST

START_TEST(test_uid_limits)
{
	pid_t	 c;

	td_start(&d, 2, "max_connections_per_uid = 3\n[tables]\n"
	    "max_tables_per_uid = 2\nmax_bytes_per_uid = 3M", NULL);
	c = fork();
	if (c == 0) {
		protets_t	*q[4];
		protets_table_t	*u;
		protets_opts	 o = { .access = PROTETS_PUBLIC,
				    .max_size = 1 << 20 };
		int		 i, rc = -1;

		if (getuid() == 0)
			CHILD_CHECK(setgid(65534) == 0 && setuid(65534) == 0);
		for (i = 0; i < 3; i++) {
			CHILD_CHECK(protets_connect(d.sock, &q[i]) == 0);
			CHILD_CHECK(procs_ok(q[i]) == 0);
		}
		/* The 4th connection is refused on its first request. */
		CHILD_CHECK(protets_connect(d.sock, &q[3]) == 0);
		CHILD_CHECK(procs_ok(q[3]) == PROTETS_ELIMIT);
		protets_disconnect(q[3]);
		/* Once one closes, a new one is admitted. */
		protets_disconnect(q[2]);
		for (i = 0; i < 100 && rc != 0; i++) {
			usleep(10000);
			CHILD_CHECK(protets_connect(d.sock, &q[2]) == 0);
			if ((rc = procs_ok(q[2])) != 0)
				protets_disconnect(q[2]);
		}
		CHILD_CHECK(rc == 0);
		/* Tables: two, then the count limit. */
		CHILD_CHECK(protets_get(q[0], "u1", &o, &u) == 0);
		protets_close(u);
		CHILD_CHECK(protets_get(q[0], "u2", &o, &u) == 0);
		protets_close(u);
		CHILD_CHECK(protets_get(q[0], "u3", &o, &u) == PROTETS_ELIMIT);
		/* Bytes: 1M + 3M would exceed 3M. */
		CHILD_CHECK(protets_drop(q[0], "u2") == 0);
		o.max_size = 3 << 20;
		CHILD_CHECK(protets_get(q[0], "u4", &o, &u) == PROTETS_ELIMIT);
		o.max_size = 2 << 20;
		CHILD_CHECK(protets_get(q[0], "u4", &o, &u) == 0);
		protets_close(u);
		_exit(0);
	}
	ck_assert_int_eq(tu_wait_child(c), 0);
	ck_assert(log_has("max_tables_per_uid (2) reached for uid"));
	ck_assert(log_has("max_connections_per_uid (3) reached for uid"));
	ck_assert(log_has("max_bytes_per_uid (3145728) would be exceeded"));
	/* Root is not limited. */
	daemon_serves();
	td_stop(&d);
}
END_TEST

/* write_concurrency: validated, recorded in the table, kept on reopen. */
START_TEST(test_write_concurrency)
{
	protets_opts	 o = { .type = PROTETS_BAG, .max_size = 1 << 20,
			    .write_concurrency = 4 };
	protets_t	*p;
	protets_table_t	*t;
	protets_info	 in;
	protets_kv	 kv[64];
	char		 k[64][16], msg[128];
	uint64_t	 n;
	int		 i;

	ck_assert_int_eq(protets_connect(d.sock, &p), 0);
	o.write_concurrency = 3;
	ck_assert_int_eq(protets_get(p, "wc", &o, &t), PROTETS_EINVAL);
	o.write_concurrency = 32;
	ck_assert_int_eq(protets_get(p, "wc", &o, &t), PROTETS_EINVAL);
	o.write_concurrency = 16;
	o.max_size = 256 << 10;
	ck_assert_int_eq(protets_get(p, "wc", &o, &t), PROTETS_EINVAL);
	o.write_concurrency = 2;
	o.type = PROTETS_ORDERED_SET;
	ck_assert_int_eq(protets_get(p, "wc", &o, &t), PROTETS_EINVAL);
	o.type = PROTETS_BAG;
	o.max_size = 1 << 20;
	o.write_concurrency = 4;
	ck_assert_int_eq(protets_get(p, "wc", &o, &t), 0);
	for (i = 0; i < 64; i++) {
		snprintf(k[i], sizeof(k[i]), "key%d", i);
		kv[i].key = k[i];
		kv[i].klen = strlen(k[i]);
		kv[i].val = "v";
		kv[i].vlen = 1;
	}
	ck_assert_int_eq(protets_insert_many(t, kv, 64), 0);
	protets_close(t);
	ck_assert_int_eq(protets_open(p, "wc", &t), 0);
	ck_assert_int_eq(protets_count(t, &n), 0);
	ck_assert_uint_eq(n, 64);
	ck_assert_int_eq(protets_check(t, msg, sizeof(msg)), 0);
	protets_close(t);
	/* info tells it; a table without it has one lock */
	ck_assert_int_eq(protets_info_get(p, "wc", &in), 0);
	ck_assert_uint_eq(in.write_concurrency, 4);
	o.write_concurrency = 0;
	ck_assert_int_eq(protets_get(p, "wc1", &o, &t), 0);
	protets_close(t);
	ck_assert_int_eq(protets_info_get(p, "wc1", &in), 0);
	ck_assert_uint_eq(in.write_concurrency, 1);
	protets_disconnect(p);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("daemon");
	TCase	*tc = tcase_create("recovery");
	TCase	*tb = tcase_create("input");
	TCase	*tn = tcase_create("lifecycle");

	tcase_add_checked_fixture(tc, setup3, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_seed_scenario);
	tcase_add_test(tc, test_worker_kills);
	tcase_add_test(tc, test_monitor_then_worker);
	tcase_add_test(tc, test_monitor_then_worker_10ms);
	tcase_add_test(tc, test_fds_stable);
	tcase_add_test(tc, test_client_unaffected);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(tb, setup3, teardown);
	tcase_set_timeout(tb, 60);
	tcase_add_test(tb, test_bad_frames);
	tcase_add_test(tb, test_pushed_fds);
	tcase_add_test(tb, test_errors);
	tcase_add_test(tb, test_drop);
	tcase_add_test(tb, test_access);
	tcase_add_test(tb, test_set_access);
	tcase_add_test(tb, test_registry);
	tcase_add_test(tb, test_seals);
	tcase_add_test(tb, test_write_concurrency);
	suite_add_tcase(s, tb);

	tcase_add_checked_fixture(tn, notify_setup, NULL);
	tcase_set_timeout(tn, 60);
	tcase_add_test(tn, test_sd_notify);
	tcase_add_test(tn, test_shutdown);
	tcase_add_test(tn, test_supervisor_killed);
	tcase_add_test(tn, test_restart_throttle);
	tcase_add_test(tn, test_reload);
	tcase_add_test(tn, test_many_tables);
	tcase_add_test(tn, test_handoff_rlimit);
	tcase_add_test(tn, test_uid_limits);
	tcase_add_test(tn, test_preallocate);
	suite_add_tcase(s, tn);

	return tu_run(s);
}
