/*
 * check_grow.c - tables with no size to guess, through the daemon: a
 * table made without one grows to what its segment reserves (max_size);
 * a size is a quota that protets_resize raises and lowers online while
 * another process holds the table and writes; a full table says which
 * limit and what it holds.
 */
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "testutil.h"

static struct td	d;

static void
setup(void)
{
	/* default_size none, as shipped; a small max_size for the test */
	td_start(&d, 2, "[tables]\ndefault_size = 0\nmax_size = 64M", NULL);
}

static void
teardown(void)
{
	td_stop(&d);
}

/* No size: no quota, the whole reservation, next to nothing in use. */
START_TEST(test_no_size)
{
	protets_t	*p = td_connect(&d);
	protets_table_t	*t;
	protets_info	 in;

	ck_assert_int_eq(protets_get(p, "free", NULL, &t), 0);
	ck_assert_int_eq(protets_info_get(p, "free", &in), 0);
	ck_assert_uint_eq(in.bytes_quota, 0);
	ck_assert_uint_eq(in.bytes_size, 64 << 20);
	ck_assert_uint_lt(in.bytes_used, 64 << 10);
	ck_assert_uint_gt(in.bytes_free, 63 << 20);
	ck_assert_uint_ge(in.largest_fit, 1 << 20);
	/* 8M of entries: memory grows with them, nothing to resize */
	ck_assert_int_eq(tu_fill_bytes(t, 8 << 20), 0);
	ck_assert_int_eq(protets_info_get(p, "free", &in), 0);
	ck_assert_uint_gt(in.bytes_used, 8 << 20);
	ck_assert_uint_gt(in.bytes_memory, 8 << 20);
	ck_assert_uint_lt(in.bytes_memory, 12 << 20);
	ck_assert_uint_lt(in.bytes_free, (64 << 20) - in.bytes_memory +
	    (1 << 20));
	protets_close(t);
	protets_disconnect(p);
}
END_TEST

/* The memory the daemon counts for name (bytes_memory). */
static uint64_t
memory_of(protets_t *p, const char *name)
{
	protets_info	in;

	ck_assert_int_eq(protets_info_get(p, name, &in), 0);
	return in.bytes_memory;
}

/*
 * A reader's faults in the free middle of the reservation allocate pages
 * (a memfd's hole, read through a mapping): the worker punches them out
 * again within a few seconds, and the entries stay.
 */
START_TEST(test_middle_given_back)
{
	protets_t		*p = td_connect(&d);
	protets_table_t		*t;
	const volatile char	*base;
	struct stat		 sb;
	uint64_t		 n, i, sum = 0;
	int64_t			 end;
	int			 fd;

	ck_assert_int_eq(protets_get(p, "mid", NULL, &t), 0);
	ck_assert_int_eq(tu_fill_bytes(t, 1 << 20), 0);
	ck_assert_int_ge(fd = tu_table_fd("mid"), 0);
	ck_assert_int_eq(fstat(fd, &sb), 0);
	ck_assert_int_eq(sb.st_size, 64 << 20);
	base = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_SHARED, fd, 0);
	ck_assert(base != MAP_FAILED);
	for (i = 16 << 20; i < 48 << 20; i += 4096)
		sum += (uint64_t)base[i];
	ck_assert_uint_eq(sum, 0);
	ck_assert_uint_gt(memory_of(p, "mid"), 32 << 20);
	for (end = clk_now_ms() + 10000; memory_of(p, "mid") > 8 << 20 &&
	    clk_now_ms() < end;)
		tu_msleep(20);
	ck_assert_uint_le(memory_of(p, "mid"), 8 << 20);
	ck_assert_int_eq(protets_count(t, &n), 0);
	ck_assert_uint_eq(n, 1049);
	munmap((void *)(uintptr_t)base, (size_t)sb.st_size);
	protets_close(t);
	protets_disconnect(p);
}
END_TEST

/* What the writer saw, shared with the test. */
struct wstate {
	volatile int		stop;
	volatile uint64_t	ok;		/* inserts that went in */
	volatile uint64_t	full;		/* EFULL answers */
	volatile int		other;		/* any other error */
	char			msg[256];	/* errmsg of the last EFULL */
};

/* Insert 200-byte values under w0, w1, ... until told to stop. */
static void
writer(struct wstate *w)
{
	protets_t	*p;
	protets_table_t	*t;
	char		 k[32], v[200];
	int		 rc;

	memset(v, 'w', sizeof(v));
	CHILD_CHECK(protets_connect(d.sock, &p) == 0);
	CHILD_CHECK(protets_open(p, "q", &t) == 0);
	while (!w->stop) {
		snprintf(k, sizeof(k), "w%llu", (unsigned long long)w->ok);
		rc = protets_insert(t, k, strlen(k), v, sizeof(v));
		if (rc == 0)
			w->ok++;
		else if (rc == PROTETS_EFULL) {
			strlcpy(w->msg, protets_errmsg(), sizeof(w->msg));
			__atomic_add_fetch(&w->full, 1, __ATOMIC_RELEASE);
		} else
			w->other = rc;
	}
	protets_close(t);
	_exit(0);
}

/* Wait until the writer has at least n more EFULLs (full) or inserts. */
static int
wait_for(volatile uint64_t *what, uint64_t atleast)
{
	int64_t	end = clk_now_ms() + 30000;

	while (__atomic_load_n(what, __ATOMIC_ACQUIRE) < atleast &&
	    clk_now_ms() < end)
		tu_msleep(1);
	return *what >= atleast;
}

/*
 * A size is a quota, changed online while another process writes: up
 * (the writer goes on at once, nothing copied), down below what the table
 * holds (the writer gets EFULL saying so), none.  Nothing acknowledged is
 * lost, and the table checks whole.
 */
START_TEST(test_resize_online)
{
	protets_opts	 o = { .max_size = 1 << 20 };
	protets_t	*p = td_connect(&d);
	protets_table_t	*t;
	protets_info	 in;
	struct wstate	*w;
	uint64_t	 n;
	char		 msg[256];
	pid_t		 c;

	w = mmap(NULL, sizeof(*w), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert(w != MAP_FAILED);
	memset(w, 0, sizeof(*w));
	ck_assert_int_eq(protets_get(p, "q", &o, &t), 0);
	if ((c = fork()) == 0)
		writer(w);
	ck_assert(wait_for(&w->full, 1));
	ck_assert_ptr_nonnull(strstr(w->msg, "quota 1048576 bytes"));
	n = w->ok;
	ck_assert_int_eq(protets_resize(p, "q", 4 << 20), 0);
	ck_assert(wait_for(&w->ok, n + 5000));
	ck_assert_int_eq(protets_info_get(p, "q", &in), 0);
	ck_assert_uint_eq(in.bytes_quota, 4 << 20);
	/* down, below what it holds */
	n = w->full;
	ck_assert_int_eq(protets_resize(p, "q", 2 << 20), 0);
	ck_assert(wait_for(&w->full, n + 100));
	ck_assert_ptr_nonnull(strstr(w->msg, "quota 2097152 bytes"));
	/* none: up to the reservation */
	n = w->ok;
	ck_assert_int_eq(protets_resize(p, "q", 0), 0);
	ck_assert(wait_for(&w->ok, n + 5000));
	w->stop = 1;
	ck_assert_int_eq(tu_wait_child(c), 0);
	ck_assert_int_eq(w->other, 0);
	ck_assert_int_eq(protets_count(t, &n), 0);
	ck_assert_uint_eq(n, w->ok);
	ck_assert_int_eq(protets_check(t, msg, sizeof(msg)), 0);
	/* refused: past the reservation, below the minimum */
	ck_assert_int_eq(protets_resize(p, "q", 128 << 20), PROTETS_ELIMIT);
	ck_assert_ptr_nonnull(strstr(protets_errmsg(), "can ever hold"));
	ck_assert_int_eq(protets_resize(p, "q", 4096), PROTETS_EINVAL);
	ck_assert_ptr_nonnull(strstr(protets_errmsg(), "minimum"));
	ck_assert_int_eq(protets_resize(p, "nonesuch", 1 << 20),
	    PROTETS_NOTFOUND);
	protets_close(t);
	protets_disconnect(p);
	munmap(w, sizeof(*w));
}
END_TEST

/*
 * A stop and a start keep every table's quota, and load whole a table
 * that holds more than its quota (resized down below what it holds), a
 * full sharded table and a full ordered_set, whose entries go back in
 * another order than they came.
 */
START_TEST(test_quota_across_restart)
{
	protets_opts	 o = { .max_size = 1 << 20 };
	protets_opts	 os = { .max_size = 1 << 20, .write_concurrency = 4 };
	protets_opts	 oo = { .max_size = 1 << 20,
			     .type = PROTETS_ORDERED_SET };
	protets_t	*p;
	protets_table_t	*t;
	protets_info	 in;
	uint64_t	 n[3];
	const char	*names[3] = { "down", "shards", "ordered" };
	int		 i, rc;

	td_stop(&d);
	td_start(&d, 2, "state_dir = state\n[tables]\nmax_size = 64M", NULL);
	p = td_connect(&d);
	ck_assert_int_eq(protets_get(p, "down", &o, &t), 0);
	ck_assert_int_eq(tu_fill_bytes(t, 8 << 20), PROTETS_EFULL);
	protets_close(t);
	ck_assert_int_eq(protets_resize(p, "down", 512 << 10), 0);
	ck_assert_int_eq(protets_get(p, "shards", &os, &t), 0);
	ck_assert_int_eq(tu_fill_bytes(t, 8 << 20), PROTETS_EFULL);
	protets_close(t);
	ck_assert_int_eq(protets_get(p, "ordered", &oo, &t), 0);
	ck_assert_int_eq(tu_fill_bytes(t, 8 << 20), PROTETS_EFULL);
	protets_close(t);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(protets_info_get(p, names[i], &in), 0);
		n[i] = in.entries;
	}
	protets_disconnect(p);
	ck_assert_int_eq(WEXITSTATUS(td_term(&d)), 0);
	td_launch(&d, NULL);
	ck_assert(td_log_has(&d, "3 tables loaded"));
	p = td_connect(&d);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(protets_info_get(p, names[i], &in), 0);
		ck_assert_uint_eq(in.entries, n[i]);
		ck_assert_uint_eq(in.bytes_quota, i == 0 ? 512 << 10 : 1 << 20);
	}
	/* the quota holds after the load: "down" takes nothing new */
	ck_assert_int_eq(protets_open(p, "down", &t), 0);
	rc = tu_fill_bytes(t, 4096);
	ck_assert_int_eq(rc, PROTETS_EFULL);
	protets_close(t);
	protets_disconnect(p);
}
END_TEST

/* Only the owner (or root) resizes; a sharded table, each shard its share. */
START_TEST(test_resize_owner_shards)
{
	protets_opts	 o = { .access = PROTETS_PUBLIC, .max_size = 1 << 20,
			     .write_concurrency = 4 };
	protets_t	*p = td_connect(&d);
	protets_table_t	*t;
	protets_info	 in;
	uid_t		 owner = getuid();
	pid_t		 c;

	ck_assert_int_eq(protets_get(p, "sh", &o, &t), 0);
	ck_assert_int_eq(protets_resize(p, "sh", 8 << 20), 0);
	ck_assert_int_eq(tu_fill_bytes(t, 6 << 20), 0);
	ck_assert_int_eq(protets_info_get(p, "sh", &in), 0);
	ck_assert_uint_eq(in.bytes_quota, 8 << 20);
	ck_assert_uint_le(in.bytes_used, 8 << 20);
	if ((c = fork()) == 0) {
		protets_t	*q;

		if (getuid() == 0)
			CHILD_CHECK(setgid(65534) == 0 && setuid(65534) == 0);
		CHILD_CHECK(protets_connect(d.sock, &q) == 0);
		/* another uid only when the test runs as root */
		CHILD_CHECK(protets_resize(q, "sh", 16 << 20) ==
		    (getuid() == owner ? 0 : PROTETS_EACCES));
		_exit(0);
	}
	ck_assert_int_eq(tu_wait_child(c), 0);
	protets_close(t);
	protets_disconnect(p);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("grow");
	TCase	*tc = tcase_create("grow");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_no_size);
	tcase_add_test(tc, test_middle_given_back);
	tcase_add_test(tc, test_resize_online);
	tcase_add_test(tc, test_resize_owner_shards);
	tcase_add_test(tc, test_quota_across_restart);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
