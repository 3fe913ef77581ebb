/*
 * check_hostile.c - broken and hostile clients: what the kernel refuses a
 * reader of a protected table, clients killed in every state, stalled and
 * flooding connections.  The daemon keeps serving everyone else and leaks
 * nothing.
 */
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
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

#include "clock.h"
#include "layout.h"
#include "owner.h"
#include "protets_int.h"
#include "testutil.h"
#include "wire.h"

static struct td	d;

static int
noop_proc(const protets_proc *pr, void *arg)
{
	(void)pr;
	(void)arg;
	return 0;
}

static void
setup(void)
{
	td_start(&d, 2, NULL, NULL);
}

static void
teardown(void)
{
	td_stop(&d);
}

static void
make_table(const char *name, protets_access access)
{
	protets_t	*p = td_connect(&d);
	protets_opts	 o = { .access = access, .max_size = 1 << 20 };
	protets_table_t	*t;

	ck_assert_int_eq(protets_get(p, name, &o, &t), 0);
	ck_assert_int_eq(protets_insert(t, "k", 1, "v", 1), 0);
	protets_close(t);
	protets_disconnect(p);
}

/*
 * Another uid holding a protected table has a read-only fd: every way of
 * writing through it is refused by the kernel, and reads work.
 */
START_TEST(test_protected_is_read_only)
{
	pid_t	 c;

	if (getuid() != 0) {
		fprintf(stderr, "test_protected_is_read_only: needs root\n");
		return;
	}
	make_table("ro", PROTETS_PROTECTED);
	c = fork();
	if (c == 0) {
		protets_t	*q;
		protets_table_t	*u;
		void		*p;
		char		 buf[8];
		size_t		 n;
		int		 fd;

		CHILD_CHECK(setgid(65534) == 0 && setuid(65534) == 0);
		CHILD_CHECK(protets_connect(d.sock, &q) == 0);
		CHILD_CHECK(protets_open(q, "ro", &u) == 0);
		CHILD_CHECK(protets_lookup(u, "k", 1, buf, sizeof(buf), &n) ==
		    0 && n == 1 && buf[0] == 'v');
		CHILD_CHECK((fd = tu_table_fd("ro")) >= 0);
		CHILD_CHECK((fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDONLY);
		/* mmap PROT_WRITE, MAP_SHARED */
		CHILD_CHECK(mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		    MAP_SHARED, fd, 0) == MAP_FAILED && errno == EACCES);
		/* mprotect a read-only shared mapping to writable */
		CHILD_CHECK((p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd,
		    0)) != MAP_FAILED);
		CHILD_CHECK(mprotect(p, 4096, PROT_READ | PROT_WRITE) == -1 &&
		    errno == EACCES);
		/* write(2), ftruncate(2), sealing */
		CHILD_CHECK(pwrite(fd, "x", 1, 0) == -1 && errno == EBADF);
		CHILD_CHECK(ftruncate(fd, 0) == -1);
		CHILD_CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE) == -1);
		/* reopening it read-write through /proc is refused too */
		{
			char path[64];

			snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
			CHILD_CHECK(open(path, O_RDWR) == -1);
		}
		/* and the library refuses writes up front */
		CHILD_CHECK(protets_insert(u, "x", 1, "y", 1) ==
		    PROTETS_EACCES);
		_exit(0);
	}
	ck_assert_int_eq(tu_wait_child(c), 0);
}
END_TEST

/*
 * A reader of another uid's protected table tries to lock it against
 * everyone: an exclusive flock (which the daemon's old mark of a held
 * table, a shared flock, let it take: every later get failed and drop
 * said "in use" for as long as it lived), and an OFD write lock, which
 * its read-only description may not take.  The owner's get goes on
 * working; drop says "in use" while the reader holds the table, and
 * drops it once the reader is gone.
 */
START_TEST(test_reader_cannot_lock_out)
{
	protets_t	*p;
	protets_table_t	*t;
	int		 rp[2], gp[2];
	char		 ch;
	pid_t		 c;

	if (getuid() != 0) {
		fprintf(stderr, "test_reader_cannot_lock_out: needs root\n");
		return;
	}
	make_table("lk", PROTETS_PROTECTED);
	ck_assert_int_eq(pipe(rp), 0);
	ck_assert_int_eq(pipe(gp), 0);
	c = fork();
	if (c == 0) {
		struct flock	 fl = { .l_type = F_WRLCK,
				        .l_whence = SEEK_SET };
		protets_t	*q;
		protets_table_t	*u;
		int		 fd;

		CHILD_CHECK(setgid(65534) == 0 && setuid(65534) == 0);
		CHILD_CHECK(protets_connect(d.sock, &q) == 0);
		CHILD_CHECK(protets_open(q, "lk", &u) == 0);
		CHILD_CHECK((fd = tu_table_fd("lk")) >= 0);
		(void)flock(fd, LOCK_EX | LOCK_NB);
		CHILD_CHECK(fcntl(fd, F_OFD_SETLK, &fl) == -1 &&
		    errno == EBADF);
		CHILD_CHECK(write(rp[1], "r", 1) == 1);
		CHILD_CHECK(read(gp[0], &ch, 1) == 1);
		_exit(0);
	}
	ck_assert_int_eq(read(rp[0], &ch, 1), 1);
	p = td_connect(&d);
	ck_assert_int_eq(protets_open(p, "lk", &t), 0);
	ck_assert_int_eq(protets_insert(t, "k2", 2, "v", 1), 0);
	protets_close(t);
	ck_assert_int_eq(protets_drop(p, "lk"), PROTETS_EBUSY);
	ck_assert_int_eq(write(gp[1], "g", 1), 1);
	ck_assert_int_eq(tu_wait_child(c), 0);
	ck_assert_int_eq(protets_drop(p, "lk"), 0);
	protets_disconnect(p);
	close(rp[0]);
	close(rp[1]);
	close(gp[0]);
	close(gp[1]);
}
END_TEST

/*
 * 1,000 clients killed in the middle of their session, holding many
 * tables: the daemon's fds and memory do not grow.
 */
START_TEST(test_killed_clients_leak_nothing)
{
	char	 path[64], line[256];
	long	 rss0 = 0, rss1 = 0;
	int	 i, fds0, fds1;
	FILE	*f;

	for (i = 0; i < 8; i++) {
		char name[16];

		snprintf(name, sizeof(name), "h%d", i);
		make_table(name, PROTETS_PUBLIC);
	}
	fds0 = td_fd_total(&d);
	for (i = 0; i < 1000; i++) {
		pid_t	 c = fork();

		if (c == 0) {
			protets_t	*q;
			protets_table_t	*u;
			char		 name[16];
			int		 j;

			CHILD_CHECK(protets_connect(d.sock, &q) == 0);
			for (j = 0; j < 8; j++) {
				snprintf(name, sizeof(name), "h%d", j);
				CHILD_CHECK(protets_open(q, name, &u) == 0);
			}
			/* killed while reading, or mid-request */
			if (i % 2)
				for (;;)
					protets_count(u, &(uint64_t){0});
			for (;;)
				protets_procs(q, noop_proc, NULL);
		}
		tu_msleep(i % 3);
		kill(c, SIGKILL);
		waitpid(c, NULL, 0);
		if (i == 100) {
			/* memory of the worker after warming up */
			snprintf(path, sizeof(path), "/proc/%d/status",
			    (int)td_pid(&d, "worker", 0));
			ck_assert_ptr_nonnull(f = fopen(path, "r"));
			while (fgets(line, sizeof(line), f))
				sscanf(line, "VmRSS: %ld", &rss0);
			fclose(f);
		}
	}
	fds1 = td_fd_total(&d);
	ck_assert_msg(fds1 <= fds0, "fds grew %d -> %d", fds0, fds1);
	snprintf(path, sizeof(path), "/proc/%d/status",
	    (int)td_pid(&d, "worker", 0));
	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	while (fgets(line, sizeof(line), f))
		sscanf(line, "VmRSS: %ld", &rss1);
	fclose(f);
#ifndef __SANITIZE_ADDRESS__
	/* (ASan keeps freed memory in quarantine: RSS says nothing there.) */
	ck_assert_msg(rss1 <= rss0 + 512, "worker RSS grew %ld -> %ld kB",
	    rss0, rss1);
#endif
	/* and the tables are all still free to drop */
	{
		protets_t *p = td_connect(&d);

		for (i = 0; i < 8; i++) {
			char name[16];

			snprintf(name, sizeof(name), "h%d", i);
			ck_assert_int_eq(protets_drop(p, name), 0);
		}
		protets_disconnect(p);
	}
}
END_TEST

/* A well-behaved client gets its answer while the others misbehave. */
static void
others_served(void)
{
	protets_t	*p = td_connect(&d);
	protets_table_t	*t;

	ck_assert_int_eq(protets_open(p, "busy", &t), 0);
	protets_close(t);
	protets_disconnect(p);
}

/*
 * Slow writers (a byte at a time), clients that pipeline 10,000 requests
 * and never read a reply, and half-open connections block nobody.
 */
START_TEST(test_slow_and_flooding_clients)
{
	struct wire_hdr	 h;
	unsigned char	*flood;
	size_t		 i, len;
	int		 slow[8], fl[4], k;

	make_table("busy", PROTETS_PUBLIC);
	/* slow: half a header each, and then nothing */
	for (k = 0; k < 8; k++) {
		slow[k] = td_raw_connect(&d);
		ck_assert_int_eq(write(slow[k], "\1\0", 2), 2);
	}
	others_served();
	/* flood: 10,000 pipelined PROCS, replies never read */
	len = 10000 * sizeof(h);
	ck_assert_ptr_nonnull(flood = malloc(len));
	for (i = 0; i < 10000; i++) {
		wire_hdr_make(&h, WIRE_PROCS, 0, (uint32_t)i + 1, 0);
		memcpy(flood + i * sizeof(h), &h, sizeof(h));
	}
	for (k = 0; k < 4; k++) {
		fl[k] = td_raw_connect(&d);
		fcntl(fl[k], F_SETFL, O_NONBLOCK);
		/* as much as the socket takes; the daemon stops reading */
		for (i = 0; i < len; ) {
			ssize_t n = write(fl[k], flood + i, len - i);

			if (n <= 0)
				break;
			i += (size_t)n;
		}
	}
	for (k = 0; k < 20; k++) {
		others_served();
		/* a byte per round from the slow ones */
		ck_assert_int_eq(write(slow[k % 8], "\0", 1), 1);
	}
	/* half-open: the flooders go away without reading anything */
	for (k = 0; k < 4; k++)
		shutdown(fl[k], SHUT_WR);
	others_served();
	for (k = 0; k < 4; k++)
		close(fl[k]);
	for (k = 0; k < 8; k++)
		close(slow[k]);
	free(flood);
	others_served();
}
END_TEST

/* Connections per worker are bounded: past max_connections the rest wait
 * in the backlog, and are served once others leave. */
START_TEST(test_connection_bound)
{
	protets_t	*p[12];
	int		 i;

	td_stop(&d);
	/* the per-uid limit (auto: 2 here) is not what this is about */
	td_start(&d, 1, "max_connections = 4\nmax_connections_per_uid = 0",
	    NULL);
	for (i = 0; i < 4; i++)
		p[i] = td_connect(&d);
	/* a 5th is accepted only once one of the 4 goes */
	{
		int	 s = td_raw_connect(&d);
		struct	 wire_hdr h;
		struct	 pollfd pfd = { .fd = s, .events = POLLIN };

		wire_hdr_make(&h, WIRE_PROCS, 0, 1, 0);
		ck_assert_int_eq(write(s, &h, sizeof(h)), sizeof(h));
		/* our 4 idle connections do not count: td_connect's did
		 * nothing yet, so they are accepted and held */
		ck_assert_int_eq(protets_procs(p[0], noop_proc, NULL), 0);
		ck_assert_int_eq(poll(&pfd, 1, 300), 0);
		protets_disconnect(p[1]);
		ck_assert_int_eq(poll(&pfd, 1, 3000), 1);
		close(s);
	}
	protets_disconnect(p[0]);
	protets_disconnect(p[2]);
	protets_disconnect(p[3]);
}
END_TEST

static long
vm_size_kb(pid_t pid)
{
	char	 path[64], line[256];
	long	 kb = 0;
	FILE	*f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	while (fgets(line, sizeof(line), f))
		sscanf(line, "VmSize: %ld", &kb);
	fclose(f);
	return kb;
}

/*
 * A worker out of memory for a new segment answers a clear error (the
 * errno), and loses nothing it already had.
 */
START_TEST(test_worker_out_of_memory)
{
	struct rlimit	 rl, low;
	protets_t	*p;
	protets_table_t	*t;
	protets_opts	 o = { .access = PROTETS_PUBLIC, .max_size = 64 << 20 };
	pid_t		 w;
	char		 buf[8];
	size_t		 n;
	int		 rc;

#ifdef __SANITIZE_ADDRESS__
	/* ASan's own mappings do not live within RLIMIT_AS. */
	fprintf(stderr, "test_worker_out_of_memory: skipped under ASan\n");
	return;
#endif
	td_stop(&d);
	td_start(&d, 1, NULL, NULL);
	make_table("kept", PROTETS_PUBLIC);
	p = td_connect(&d);
	w = td_pid(&d, "worker", 0);
	ck_assert_int_eq(prlimit(w, RLIMIT_AS, NULL, &rl), 0);
	/* Room to serve a request, not to map a 64 MiB segment. */
	low = rl;
	low.rlim_cur = (rlim_t)(vm_size_kb(w) + 8192) * 1024;
	ck_assert_int_eq(prlimit(w, RLIMIT_AS, &low, NULL), 0);
	rc = protets_get(p, "new", &o, &t);
	ck_assert_msg(rc == ENOMEM, "get: %s", protets_strerror(rc));
	ck_assert_int_eq(prlimit(w, RLIMIT_AS, &rl, NULL), 0);
	/* Nothing lost, and the same request works again. */
	ck_assert_int_eq(protets_open(p, "kept", &t), 0);
	ck_assert_int_eq(protets_lookup(t, "k", 1, buf, sizeof(buf), &n), 0);
	protets_close(t);
	ck_assert_int_eq(protets_get(p, "new", &o, &t), 0);
	protets_close(t);
	protets_disconnect(p);
}
END_TEST

/* The lowest fd number a process does not use. */
static int
lowest_free_fd(pid_t pid)
{
	char	 path[64];
	int	 fd;

	for (fd = 0; fd < 65536; fd++) {
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, fd);
		if (access(path, F_OK) == -1)
			return fd;
	}
	return -1;
}

/*
 * A worker with no fd left refuses new clients with EMFILE, instead of
 * spinning on a listening socket it cannot accept from.
 */
START_TEST(test_worker_out_of_fds)
{
	struct rlimit	 rl, low;
	protets_t	*p;
	pid_t		 w;
	int		 rc;

	td_stop(&d);
	td_start(&d, 1, NULL, NULL);
	w = td_pid(&d, "worker", 0);
	tu_msleep(200);		/* until the worker closed our query */
	ck_assert_int_eq(prlimit(w, RLIMIT_NOFILE, NULL, &rl), 0);
	low = rl;
	low.rlim_cur = (rlim_t)lowest_free_fd(w);
	ck_assert_int_eq(prlimit(w, RLIMIT_NOFILE, &low, NULL), 0);
	ck_assert_int_eq(protets_connect(d.sock, &p), 0);
	rc = protets_procs(p, noop_proc, NULL);
	ck_assert_msg(rc == EMFILE, "procs: %s", protets_strerror(rc));
	protets_disconnect(p);
	ck_assert_int_eq(prlimit(w, RLIMIT_NOFILE, &rl, NULL), 0);
	p = td_connect(&d);
	ck_assert_int_eq(protets_procs(p, noop_proc, NULL), 0);
	protets_disconnect(p);
}
END_TEST

/*
 * Names and privacy (trust issue, item 5): a name with a control
 * character is refused (a tab or a newline would forge a field or a line
 * of ls, or of the daemon's log); another uid neither lists a private
 * table nor reads its owner and entry count through info; its owner and
 * root do both.
 */
static int
count_named(const protets_info *in, void *arg)
{
	int	*n = arg;

	if (strcmp(in->name, "secret") == 0)
		n[0]++;
	if (strcmp(in->name, "shown") == 0)
		n[1]++;
	return 0;
}

START_TEST(test_names_and_privacy)
{
	static const char *const bad[] = { "a\tb", "forged\nline", "\x1b[2J",
	    "del\x7f" };
	protets_t	*p;
	protets_table_t	*t;
	protets_info	 in;
	size_t		 i;
	int		 n[2] = { 0, 0 };
	pid_t		 c;

	p = td_connect(&d);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_int_eq(protets_get(p, bad[i], NULL, &t),
		    PROTETS_EINVAL);
	ck_assert_int_eq(protets_get(p, "caf\xc3\xa9", NULL, &t), 0);
	protets_close(t);
	protets_disconnect(p);
	make_table("secret", PROTETS_PRIVATE);
	make_table("shown", PROTETS_PROTECTED);
	p = td_connect(&d);
	ck_assert_int_eq(protets_list(p, count_named, n), 0);
	ck_assert_int_eq(n[0], 1);
	ck_assert_int_eq(n[1], 1);
	ck_assert_int_eq(protets_info_get(p, "secret", &in), 0);
	ck_assert_uint_eq(in.entries, 1);
	protets_disconnect(p);
	if (getuid() != 0) {
		fprintf(stderr, "test_names_and_privacy: other uid needs root\n");
		return;
	}
	c = fork();
	if (c == 0) {
		protets_t	*q;
		int		 m[2] = { 0, 0 };

		CHILD_CHECK(setgid(65534) == 0 && setuid(65534) == 0);
		CHILD_CHECK(protets_connect(d.sock, &q) == 0);
		CHILD_CHECK(protets_list(q, count_named, m) == 0);
		CHILD_CHECK(m[0] == 0 && m[1] == 1);
		CHILD_CHECK(protets_info_get(q, "secret", &in) ==
		    PROTETS_EACCES);
		/* asked for as another type: still refused, telling nothing */
		{
			protets_opts	 bo = { .type = PROTETS_BAG };
			protets_table_t	*bt;

			CHILD_CHECK(protets_get(q, "secret", &bo, &bt) ==
			    PROTETS_EACCES);
			CHILD_CHECK(strstr(protets_errmsg(), "set") == NULL);
		}
		CHILD_CHECK(protets_info_get(q, "shown", &in) == 0 &&
		    in.entries == 1);
		_exit(0);
	}
	ck_assert_int_eq(tu_wait_child(c), 0);
}
END_TEST

/*
 * A writer of a public table jams its lock: a made-up owner in the lock
 * word (this test's process: alive, never unlocking), the sequence odd, the undo log
 * over-full.  REPAIR and INFO, which anyone may send, made the owning
 * worker wait up to 10 s each for that lock (trust issue); the worker now
 * never waits for a table's lock, nor spins on a log no writer leaves.
 * Twenty of each are answered (REPAIR: ELOCKED, the holder is alive) in
 * a fraction of the 10 s a single REPAIR took, with a fraction of the
 * 100 ms of the worker's CPU a single INFO took, and the worker serves
 * everyone else.
 */
/*
 * A writer adding records all the time: n from 1 up to the log's
 * capacity, again and again (never back to a value a reader just saw,
 * but once a lap).
 */
struct toggler {
	uint64_t	*n;
	int		 stop;
};

static void *
toggler_run(void *arg)
{
	struct toggler	*tg = arg;
	uint64_t	 i;

	while (!__atomic_load_n(&tg->stop, __ATOMIC_RELAXED))
		for (i = 1; i < TBL_UNDO_CAP; i++)
			__atomic_store_n(tg->n, i, __ATOMIC_RELEASE);
	return NULL;
}

/* CPU time (user + system) process pid has used, in ms. */
static uint64_t
cpu_ms(pid_t pid)
{
	char			 path[64], buf[1024], *p;
	unsigned long long	 ut = 0, st = 0;
	FILE			*f;
	size_t			 n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	ck_assert((f = fopen(path, "r")) != NULL);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* after "(comm)": state is field 3; utime, stime are 14 and 15 */
	ck_assert((p = strrchr(buf, ')')) != NULL);
	ck_assert_int_eq(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u "
	    "%*u %*u %llu %llu", &ut, &st), 2);
	return (ut + st) * 1000 / (uint64_t)sysconf(_SC_CLK_TCK);
}

/*
 * A lock word (owner.h) naming this process, alive, as the holder of a
 * lock of the segment mapped at base: its pid namespace in the table's
 * first entry, its start time from /proc.
 */
static uint64_t
forged_owner(unsigned char *base)
{
	struct stat		 st;
	char			 buf[1024], *p;
	unsigned long long	 start;
	FILE			*f;
	size_t			 n;

	ck_assert_int_eq(stat("/proc/self/ns/pid", &st), 0);
	*(uint64_t *)(void *)(base + TBL_NS_OFF) = (uint64_t)st.st_ino;
	ck_assert((f = fopen("/proc/self/stat", "r")) != NULL);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	ck_assert((p = strrchr(buf, ')')) != NULL);
	ck_assert_int_eq(sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u "
	    "%*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu", &start), 1);
	return (uint64_t)getpid() | 1ULL << OW_NS_SHIFT |
	    (uint64_t)(uint32_t)start << OW_START_SHIFT;
}

START_TEST(test_jammed_lock_blocks_nobody)
{
	protets_t		*p = td_connect(&d);
	protets_table_t		*t = tu_get(p, "jam", PROTETS_PUBLIC);
	protets_info		 in;
	struct tbl_stripe	*s;
	struct tbl_undo		*u;
	unsigned char		*base;
	uint64_t		 t0, ms, cpu0, cpu;
	pid_t			 w;
	int			 fd, i;

	tu_fill(t, "j", 10);
	ck_assert_int_ge(fd = tu_table_fd("jam"), 0);
	base = mmap(NULL, TBL_HEAP_OFF, PROT_READ | PROT_WRITE, MAP_SHARED,
	    fd, 0);
	ck_assert(base != MAP_FAILED);
	s = (struct tbl_stripe *)(void *)(base + TBL_STRIPE_OFF);
	u = (struct tbl_undo *)(void *)(base + TBL_UNDO_OFF);
	s->lock = forged_owner(base);
	s->seq |= 1;
	u->n = TBL_UNDO_CAP + 1;
	w = td_pid(&d, "worker", td_table_worker(&d, "jam"));
	t0 = clk_now_ms();
	cpu0 = cpu_ms(w);
	for (i = 0; i < 20; i++) {
		ck_assert_int_eq(pt_repair(d.sock, "jam"), PROTETS_ELOCKED);
		ck_assert_int_eq(protets_info_get(p, "jam", &in), 0);
	}
	td_serves(&d);
	cpu = cpu_ms(w) - cpu0;
	ms = clk_now_ms() - t0;
	fprintf(stderr, "jammed lock: 20 REPAIR + 20 INFO in %llu ms, the "
	    "worker's CPU %llu ms\n", (unsigned long long)ms,
	    (unsigned long long)cpu);
	/* one REPAIR waited 10 s; one INFO spun 100 ms of CPU */
	ck_assert_uint_lt(ms, 5000);
	ck_assert_uint_lt(cpu, 500);
	/*
	 * A log that reads well, but a writer adding records all the time:
	 * INFO gives up on the count after 1 ms of the worker's CPU (it
	 * spent a reader's 100 ms).
	 */
	{
		struct toggler	 tg = { &u->n, 0 };
		pthread_t	 th;
		uint64_t	*st = (uint64_t *)(void *)(base + TBL_STATE_OFF);

		for (i = 0; i < TBL_UNDO_CAP; i++) {
			u->rec[i].off = TBL_STATE_FIELD(entries);
			u->rec[i].old = st[TBL_STATE_FIELD(entries) / 8 -
			    TBL_STATE_OFF / 8];
		}
		u->n = 1;
		ck_assert_int_eq(pthread_create(&th, NULL, toggler_run, &tg),
		    0);
		cpu0 = cpu_ms(w);
		for (i = 0; i < 50; i++)
			ck_assert_int_eq(protets_info_get(p, "jam", &in), 0);
		cpu = cpu_ms(w) - cpu0;
		__atomic_store_n(&tg.stop, 1, __ATOMIC_RELAXED);
		pthread_join(th, NULL);
		fprintf(stderr, "jammed lock, a moving log: 50 INFO, the "
		    "worker's CPU %llu ms\n", (unsigned long long)cpu);
		/* 1 ms each at most, and what the requests cost (with a
		 * reader's 100 ms budget: 180 ms for 20) */
		ck_assert_uint_lt(cpu, 200);
	}
	/* unjammed, the table is whole again */
	u->n = 0;
	s->lock = 0;
	ck_assert_int_eq(pt_repair(d.sock, "jam"), 0);
	ck_assert_int_eq(tu_present(t, "j", 10), 10);
	munmap(base, TBL_HEAP_OFF);
	protets_close(t);
	protets_disconnect(p);
}
END_TEST

/*
 * A writer of a public table aims the locks at a victim's memory: a thread
 * keeps writing, where glibc's robust mutex had them, a robust kind and
 * robust-list links holding the address of the victim's canary (every
 * stripe's lock line, every slot of update_counter's), and fills the
 * namespace table with the same.  glibc wrote through those links when
 * the victim or the worker unlocked (trust issue); the lock words are
 * numbers, those bytes are padding, and nothing follows anything.  The
 * victim writes on (each answer 0, or ELOCKED: a holder that cannot be
 * judged counts as alive), its canary untouched; the worker answers
 * REPAIR and INFO and lives on; the table is whole.
 */
static uint64_t	canary[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

struct aim {
	unsigned char	*seg;
	uint64_t	 nshards, shard_size;
	int		 stop;
};

/* glibc's pthread_mutex_t: int kind at 16, list prev at 24, next at 32. */
static void
aim_mutex(unsigned char *m)
{
	uint32_t	kind = 16 | 128;	/* ROBUST_NORMAL | PSHARED */

	__atomic_store_n((uint32_t *)(void *)(m + 16), kind,
	    __ATOMIC_RELAXED);
	__atomic_store_n((uint64_t *)(void *)(m + 24),
	    (uint64_t)(uintptr_t)&canary[0], __ATOMIC_RELAXED);
	__atomic_store_n((uint64_t *)(void *)(m + 32),
	    (uint64_t)(uintptr_t)&canary[2], __ATOMIC_RELAXED);
}

static void *
aim_run(void *arg)
{
	struct aim	*a = arg;
	uint64_t	 k, i;

	while (!__atomic_load_n(&a->stop, __ATOMIC_RELAXED))
		for (k = 0; k < a->nshards; k++) {
			unsigned char	*b = a->seg + k * a->shard_size;

			aim_mutex(b + TBL_STRIPE_OFF);
			for (i = 0; i < TBL_FP_SLOTS; i++)
				aim_mutex(b + TBL_FP_OFF + 128 + 128 * i);
		}
	return NULL;
}

static void
aim_ns(struct aim *a)
{
	uint64_t	*w, k, i;

	for (k = 0; k < a->nshards; k++) {
		w = (uint64_t *)(void *)(a->seg + k * a->shard_size +
		    TBL_NS_OFF);
		for (i = 0; i < TBL_NS_SLOTS; i++)
			w[i] = (uint64_t)(uintptr_t)&canary[i % 8];
	}
}

/* The victim: writes, counters (lock-free ones too), deletes. */
static int
victim(const char *name)
{
	protets_t	*p = td_connect(&d);
	protets_table_t	*t = NULL;
	char		 k[32];
	int64_t		 r;
	int		 i, e, bad = 0, ok = 0;

	if (protets_open(p, name, &t) != 0)
		return 10;
	protets_set_lock_timeout(t, 20);
	for (i = 0; i < 300; i++) {
		snprintf(k, sizeof(k), "v%d", i % 40);
		e = i % 3 == 0 ? protets_insert(t, k, strlen(k), "x", 1) :
		    i % 3 == 1 ? protets_update_counter(t, "n", 1, 1, NULL,
		    &r) : protets_delete(t, k, strlen(k));
		if (e != 0 && e != PROTETS_ELOCKED && e != PROTETS_NOTFOUND)
			bad++;
		ok += e == 0 || e == PROTETS_NOTFOUND;
	}
	for (i = 0; i < 8; i++)
		if (canary[i] != (uint64_t)i + 1)
			return 20;
	protets_close(t);
	protets_disconnect(p);
	/* the lock words themselves untouched: the writes go through */
	return bad ? 30 : ok < 250 ? 40 : 0;
}

START_TEST(test_lock_words_aimed_at_a_victim)
{
	protets_t		*p = td_connect(&d);
	protets_opts		 o = { .access = PROTETS_PUBLIC,
				       .write_concurrency = 4 };
	protets_table_t		*t = NULL;
	protets_info		 in;
	struct tbl_hdr		*h;
	struct stat		 st;
	struct aim		 a;
	pthread_t		 th;
	pid_t			 w, c;
	int			 fd, i, e;

	ck_assert_int_eq(protets_get(p, "aim", &o, &t), 0);
	tu_fill(t, "a", 50);
	ck_assert_int_eq(protets_insert(t, "n", 1, "0", 1), 0);
	ck_assert_int_ge(fd = tu_table_fd("aim"), 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	a.seg = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE,
	    MAP_SHARED, fd, 0);
	ck_assert(a.seg != MAP_FAILED);
	h = (struct tbl_hdr *)(void *)a.seg;
	ck_assert_uint_eq(h->nshards, 4);
	a.nshards = h->nshards;
	a.shard_size = h->shard_size;
	a.stop = 0;
	w = td_pid(&d, "worker", td_table_worker(&d, "aim"));
	ck_assert_int_eq(pthread_create(&th, NULL, aim_run, &a), 0);
	for (i = 0; i < 3; i++) {
		if (i == 2)
			aim_ns(&a);
		if ((c = fork()) == 0)
			_exit(victim("aim"));
		e = pt_repair(d.sock, "aim");
		ck_assert(e == 0 || e == PROTETS_ELOCKED);
		ck_assert_int_eq(protets_info_get(p, "aim", &in), 0);
		ck_assert_int_eq(tu_wait_child(c), 0);
	}
	__atomic_store_n(&a.stop, 1, __ATOMIC_RELAXED);
	pthread_join(th, NULL);
	/* the worker lived through it, and serves */
	ck_assert_int_eq(td_pid(&d, "worker", td_table_worker(&d, "aim")), w);
	td_serves(&d);
	/* the table is whole, and takes writes */
	ck_assert_int_eq(pt_repair(d.sock, "aim"), 0);
	ck_assert_int_eq(tu_present(t, "a", 50), 50);
	ck_assert_int_eq(protets_insert(t, "after", 5, "y", 1), 0);
	munmap(a.seg, (size_t)st.st_size);
	protets_close(t);
	protets_disconnect(p);
}
END_TEST

/* Leave table name's sequence odd: a write cut short, to be repaired. */
static void
unclean(const char *name)
{
	struct tbl_stripe	*st;
	unsigned char		*base;
	int			 fd;

	ck_assert_int_ge(fd = tu_table_fd(name), 0);
	base = mmap(NULL, TBL_HEAP_OFF, PROT_READ | PROT_WRITE, MAP_SHARED,
	    fd, 0);
	ck_assert(base != MAP_FAILED);
	st = (struct tbl_stripe *)(void *)(base + TBL_STRIPE_OFF);
	st->seq |= 1;
	munmap(base, TBL_HEAP_OFF);
}

/*
 * REPAIR, which anyone may send, runs in a confined child of the worker's
 * when there is something to repair: a repair that crashes (fault
 * injected: PROTETS_TEST_CHECK_CRASH, see daemon/sandbox.c) answers
 * PROTETS_ECORRUPT, is logged, and the worker lives on and serves;
 * another table's repair goes through (its sequence even again).
 */
START_TEST(test_repair_in_a_child)
{
	protets_t	*p;
	protets_table_t	*ta, *tb;
	pid_t		 w;

	td_stop(&d);
	td_start(&d, 2, NULL, "PROTETS_TEST_CHECK_CRASH=crashme");
	p = td_connect(&d);
	ta = tu_get(p, "crashme", PROTETS_PUBLIC);
	tb = tu_get(p, "fine", PROTETS_PUBLIC);
	ck_assert_int_eq(protets_insert(ta, "k", 1, "v", 1), 0);
	ck_assert_int_eq(protets_insert(tb, "k", 1, "v", 1), 0);
	w = td_pid(&d, "worker", td_table_worker(&d, "crashme"));
	unclean("crashme");
	unclean("fine");
	protets_close(ta);
	protets_close(tb);
	protets_disconnect(p);
	ck_assert_int_eq(pt_repair(d.sock, "crashme"), PROTETS_ECORRUPT);
	ck_assert_int_eq(pt_repair(d.sock, "fine"), 0);
	ck_assert_int_eq(td_pid(&d, "worker", td_table_worker(&d,
	    "crashme")), w);
	td_serves(&d);
	/* SIGSEGV, the default action restored first (sandbox.c) */
	ck_assert(td_log_has(&d, "table crashme: its repair died of signal"));
	/* the repaired one is quiet now: a second REPAIR forks nothing */
	ck_assert_int_eq(pt_repair(d.sock, "fine"), 0);
	p = td_connect(&d);
	ck_assert_int_eq(protets_open(p, "fine", &tb), 0);
	ck_assert_int_eq(protets_insert(tb, "k2", 2, "v", 1), 0);
	protets_close(tb);
	protets_disconnect(p);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("hostile");
	TCase	*tc = tcase_create("hostile");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_protected_is_read_only);
	tcase_add_test(tc, test_reader_cannot_lock_out);
	tcase_add_test(tc, test_killed_clients_leak_nothing);
	tcase_add_test(tc, test_slow_and_flooding_clients);
	tcase_add_test(tc, test_connection_bound);
	tcase_add_test(tc, test_worker_out_of_memory);
	tcase_add_test(tc, test_worker_out_of_fds);
	tcase_add_test(tc, test_names_and_privacy);
	tcase_add_test(tc, test_jammed_lock_blocks_nobody);
	tcase_add_test(tc, test_lock_words_aimed_at_a_victim);
	tcase_add_test(tc, test_repair_in_a_child);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
