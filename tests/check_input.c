/*
 * check_input.c - protetsd refuses what it must and loses nothing: bad
 * frames, pushed fds, bad requests, drop of a table in use, access modes
 * enforced by the kernel, the client's registry, sealed segments,
 * write_concurrency.
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

START_TEST(test_bad_frames)
{
	struct wire_hdr	 h;
	unsigned char	 junk[64];
	int		 s, i, before;

	td_serves(&d);
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
		wbuf_u64(&w, 7);	/* past the optional flags */
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
	td_fds_settled(&d, before);
}
END_TEST

/* fds pushed at the daemon are closed and the request refused. */
START_TEST(test_pushed_fds)
{
	struct wire_hdr	 h;
	int		 s, fds[FDPASS_MAX], i, before, n;

	td_serves(&d);
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
	td_fds_settled(&d, before);
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
	/* the daemon's own words reach the caller */
	ck_assert_ptr_nonnull(strstr(protets_errmsg(), "exceeds max_size"));
	o.max_size = 4096;
	ck_assert_int_eq(protets_get(p, "x", &o, &t), PROTETS_EINVAL);
	ck_assert_ptr_nonnull(strstr(protets_errmsg(), "below the minimum"));
	ck_assert_int_eq(protets_open(p, "missing", &t), PROTETS_NOTFOUND);
	ck_assert_str_eq(protets_errmsg(), "no table named missing");
	ck_assert_int_eq(protets_drop(p, "missing"), PROTETS_NOTFOUND);
	ck_assert_int_eq(protets_open(p, "", &t), PROTETS_EINVAL);
	ck_assert_str_eq(protets_errmsg(), "");		/* not the daemon's */
	setenv("PROTETS_CONNECT_TIMEOUT_MS", "0", 1);	/* dial once */
	ck_assert_int_eq(protets_connect("/nonexistent/sock", &p),
	    PROTETS_ECONNECT);
	ck_assert_str_eq(protets_errmsg(),
	    "nothing listening at /nonexistent/sock");
	unsetenv("PROTETS_CONNECT_TIMEOUT_MS");
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

	t = tu_get(p, "d", PROTETS_PUBLIC);
	tu_fill(t, "d", 10);
	/* In use (by us): refused, and nothing lost. */
	ck_assert_int_eq(protets_drop(p, "d"), PROTETS_EBUSY);
	ck_assert_int_eq(tu_present(t, "d", 10), 10);
	protets_close(t);
	ck_assert_int_eq(protets_drop(p, "d"), 0);
	ck_assert_int_eq(protets_open(p, "d", &t), PROTETS_NOTFOUND);
	/* A new table of the same name starts empty. */
	t2 = tu_get(p, "d", PROTETS_PUBLIC);
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
	t = tu_get(p, "priv", PROTETS_PRIVATE);
	tu_fill(t, "priv", 3);
	protets_close(t);
	t = tu_get(p, "prot", PROTETS_PROTECTED);
	tu_fill(t, "prot", 3);
	protets_close(t);
	t = tu_get(p, "pub", PROTETS_PUBLIC);
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
	td_verify(&d, "prot", 3);
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

	t = tu_get(p, "acc", PROTETS_PROTECTED);
	tu_fill(t, "acc", 5);
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
	td_verify(&d, "acc", 5);
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

	a = tu_get(p, "shared", PROTETS_PUBLIC);
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

/* Segments are sealed: nobody can shrink, grow or reseal them. */
START_TEST(test_seals)
{
	protets_t	*p = td_connect(&d);
	protets_table_t	*t = tu_get(p, "sealed", PROTETS_PUBLIC);
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

/*
 * get of an existing table with options of its own that are not the
 * table's fails, saying what the table is (a caller asking for a private
 * table must not silently receive another's public one); options it does
 * not set, and max_size, are not compared.  PROTETS_CREATE_ONLY fails on
 * an existing table, as ets:new on an existing named table.
 */
START_TEST(test_get_options_must_match)
{
	protets_t	*p = td_connect(&d);
	protets_table_t	*t;
	protets_opts	 o = { .type = PROTETS_SET, .access = PROTETS_PROTECTED };

	ck_assert_int_eq(protets_get(p, "m", &o, &t), 0);
	protets_close(t);
	o.type = PROTETS_BAG;
	ck_assert_int_eq(protets_get(p, "m", &o, &t), PROTETS_EMISMATCH);
	ck_assert_str_eq(protets_errmsg(), "table m exists: set, protected, "
	    "write_concurrency 1");
	o.type = 0;
	o.access = PROTETS_PRIVATE;
	ck_assert_int_eq(protets_get(p, "m", &o, &t), PROTETS_EMISMATCH);
	o.access = 0;
	o.write_concurrency = 4;
	ck_assert_int_eq(protets_get(p, "m", &o, &t), PROTETS_EMISMATCH);
	/* what it is, or nothing said, or only a size: the table */
	o.write_concurrency = 1;
	o.type = PROTETS_SET;
	o.access = PROTETS_PROTECTED;
	o.max_size = 8 << 20;
	ck_assert_int_eq(protets_get(p, "m", &o, &t), 0);
	protets_close(t);
	ck_assert_int_eq(protets_get(p, "m", NULL, &t), 0);
	protets_close(t);
	/* create-only */
	memset(&o, 0, sizeof(o));
	o.flags = PROTETS_CREATE_ONLY;
	ck_assert_int_eq(protets_get(p, "m", &o, &t), PROTETS_EXISTS);
	ck_assert_int_eq(protets_get(p, "m-new", &o, &t), 0);
	protets_close(t);
	o.flags = 0x80;
	ck_assert_int_eq(protets_get(p, "m-new", &o, &t), PROTETS_EINVAL);
	protets_disconnect(p);
}
END_TEST

/* protets_delete_counted says whether the key was there, and how often. */
START_TEST(test_delete_counted)
{
	protets_t	*p = td_connect(&d);
	protets_table_t	*t, *b;
	protets_opts	 o = { .type = PROTETS_BAG };
	uint64_t	 n = 99;

	ck_assert_int_eq(protets_get(p, "dc", NULL, &t), 0);
	ck_assert_int_eq(protets_insert(t, "k", 1, "v", 1), 0);
	ck_assert_int_eq(protets_delete_counted(t, "k", 1, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(protets_delete_counted(t, "k", 1, &n), 0);
	ck_assert_uint_eq(n, 0);
	n = 99;
	ck_assert_int_eq(protets_delete_counted(t, "", 0, &n),
	    PROTETS_EINVAL);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(protets_get(p, "dcb", &o, &b), 0);
	ck_assert_int_eq(protets_insert(b, "k", 1, "1", 1), 0);
	ck_assert_int_eq(protets_insert(b, "k", 1, "2", 1), 0);
	ck_assert_int_eq(protets_insert(b, "k", 1, "3", 1), 0);
	ck_assert_int_eq(protets_delete_counted(b, "k", 1, &n), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(protets_member(b, "k", 1), PROTETS_NOTFOUND);
	protets_close(t);
	protets_close(b);
	protets_disconnect(p);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("input");
	TCase	*tc = tcase_create("input");

	tcase_add_checked_fixture(tc, setup3, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_bad_frames);
	tcase_add_test(tc, test_pushed_fds);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_drop);
	tcase_add_test(tc, test_access);
	tcase_add_test(tc, test_set_access);
	tcase_add_test(tc, test_registry);
	tcase_add_test(tc, test_seals);
	tcase_add_test(tc, test_write_concurrency);
	tcase_add_test(tc, test_get_options_must_match);
	tcase_add_test(tc, test_delete_counted);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
