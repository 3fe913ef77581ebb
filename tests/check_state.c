/*
 * check_state.c - the state directory (state_dir): an orderly stop saves
 * every table and the next start loads them; a mapping held across the
 * stop is retired (PROTETS_ESTALE, nothing lands in an orphan); a drop is
 * not undone by the next start; a damaged file is set aside, not lost.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "protets.h"
#include "testutil.h"

static struct td	d;

/* A table's entries as "key=value\n" lines, in fold order. */
struct dump {
	char	*buf;
	size_t	 len, cap;
};

static int
dump_one(const void *k, size_t klen, const void *v, size_t vlen, void *arg)
{
	struct dump	*dp = arg;

	if (dp->len + klen + vlen + 2 > dp->cap) {
		dp->cap = (dp->cap + klen + vlen + 2) * 2;
		ck_assert_ptr_nonnull(dp->buf = realloc(dp->buf, dp->cap));
	}
	memcpy(dp->buf + dp->len, k, klen);
	dp->len += klen;
	dp->buf[dp->len++] = '=';
	memcpy(dp->buf + dp->len, v, vlen);
	dp->len += vlen;
	dp->buf[dp->len++] = '\n';
	return 0;
}

static int
line_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The dump of table name: fold order for an ordered_set, else its lines
 * sorted (a hash table's fold order depends on its index's history; a
 * bag's order of values within a key is checked by key_values).
 */
static char *
dump_of(protets_t *p, const char *name)
{
	protets_table_t	*t;
	struct dump	 dp = { NULL, 0, 0 };
	char		*lines[4096], *s, *out;
	size_t		 n = 0, i;

	ck_assert_int_eq(protets_open(p, name, &t), 0);
	ck_assert_int_eq(protets_foldl(t, dump_one, &dp), 0);
	dump_one("", 0, "", 0, &dp);
	dp.buf[dp.len - 2] = '\0';
	if (protets_table_type(t) == PROTETS_ORDERED_SET) {
		protets_close(t);
		return dp.buf;
	}
	protets_close(t);
	for (s = strtok(dp.buf, "\n"); s != NULL && n < 4096;
	    s = strtok(NULL, "\n"))
		lines[n++] = s;
	ck_assert_uint_lt(n, 4096);
	qsort(lines, n, sizeof(lines[0]), line_cmp);
	ck_assert_ptr_nonnull(out = calloc(1, dp.len + 1));
	for (i = 0; i < n; i++) {
		strcat(out, lines[i]);
		strcat(out, "\n");
	}
	free(dp.buf);
	return out;
}

/* A bag key's values, in the table's order, as "v1,v2,...". */
static int
kv_collect(const void *k, size_t klen, const void *v, size_t vlen, void *arg)
{
	char	*out = arg;

	if (klen == 5 && memcmp(k, "k0001", 5) == 0) {
		strncat(out, v, vlen);
		strcat(out, ",");
	}
	return 0;
}

static void
key_values(protets_t *p, char *out)
{
	protets_table_t	*t;

	out[0] = '\0';
	ck_assert_int_eq(protets_open(p, "bag", &t), 0);
	ck_assert_int_eq(protets_foldl(t, kv_collect, out), 0);
	protets_close(t);
}

static protets_table_t *
make(protets_t *p, const char *name, protets_type type, unsigned wc)
{
	protets_opts	 o = { .type = type, .access = PROTETS_PROTECTED,
			       .write_concurrency = wc };
	protets_table_t	*t;

	ck_assert_int_eq(protets_get(p, name, &o, &t), 0);
	return t;
}

static void
fill(protets_table_t *t, int n)
{
	char	k[32], v[32];
	int	i;

	for (i = 0; i < n; i++) {
		snprintf(k, sizeof(k), "k%04d", i);
		snprintf(v, sizeof(v), "v%d", i * 7);
		ck_assert_int_eq(protets_insert(t, k, strlen(k), v,
		    strlen(v)), 0);
	}
}

static protets_t *
conn(void)
{
	protets_t	*p;

	ck_assert_int_eq(protets_connect(d.sock, &p), 0);
	return p;
}

#define NTAB	4
static const char *names[NTAB] = { "set", "oset", "bag", "sharded" };

START_TEST(test_stop_start_keeps_tables)
{
	protets_t	*p;
	protets_table_t	*t[NTAB], *held, *vheld;
	protets_info	 info;
	char		*before[NTAB], *after, buf[32], vals[2][64];
	size_t		 vlen;
	int		 i, st;

	td_start(&d, 2, "state_dir = state", NULL);
	p = conn();
	t[0] = make(p, names[0], PROTETS_SET, 0);
	t[1] = make(p, names[1], PROTETS_ORDERED_SET, 0);
	t[2] = make(p, names[2], PROTETS_BAG, 0);
	t[3] = make(p, names[3], PROTETS_SET, 4);
	for (i = 0; i < NTAB; i++)
		fill(t[i], 500 + i);
	/* a bag's key with values in insertion order */
	ck_assert_int_eq(protets_insert(t[2], "k0001", 5, "second", 6), 0);
	ck_assert_int_eq(protets_insert(t[2], "k0001", 5, "first", 5), 0);
	for (i = 0; i < NTAB; i++) {
		before[i] = dump_of(p, names[i]);
		protets_close(t[i]);
	}
	key_values(p, vals[0]);
	ck_assert_str_eq(vals[0], "v7,second,first,");
	ck_assert_int_eq(protets_open(p, "set", &held), 0);
	/* Volatile: never on disk, so gone after the stop. */
	{
		protets_opts	vo = { .flags = PROTETS_VOLATILE };

		ck_assert_int_eq(protets_get(p, "vol", &vo, &vheld), 0);
		fill(vheld, 50);
	}
	protets_disconnect(p);

	/* Not back: a held mapping's operation fails (after this long). */
	setenv("PROTETS_CONNECT_TIMEOUT_MS", "100", 1);
	st = td_term(&d);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "protetsd exit status %d; see %s", st, d.log);
	ck_assert(td_log_has(&d, "catalog of 4 tables saved"));
	ck_assert_int_eq(tu_sh(buf, sizeof(buf), "ls %s/state | grep -c "
	    "'^table-[0-9]*\\.pts$'", d.dir), 0);
	ck_assert_int_eq(atoi(buf), 4);	/* each worker saved its own */
	/* The mapping held across the stop is retired: no write lands. */
	ck_assert_int_eq(protets_insert(held, "late", 4, "x", 1),
	    PROTETS_ESTALE);
	ck_assert_int_eq(protets_lookup(held, "k0001", 5, buf, sizeof(buf),
	    &vlen), PROTETS_ESTALE);
	protets_close(held);
	/* Retired too, though not saved: nothing written into an orphan. */
	ck_assert_int_eq(protets_insert(vheld, "late", 4, "x", 1),
	    PROTETS_ESTALE);
	protets_close(vheld);
	unsetenv("PROTETS_CONNECT_TIMEOUT_MS");

	td_launch(&d, NULL);
	ck_assert(td_log_has(&d, "4 tables loaded"));
	p = conn();
	for (i = 0; i < NTAB; i++) {
		after = dump_of(p, names[i]);
		ck_assert_msg(strcmp(before[i], after) == 0,
		    "%s differs after stop + start", names[i]);
		free(after);
	}
	key_values(p, vals[1]);
	ck_assert_str_eq(vals[1], vals[0]);
	ck_assert_int_eq(protets_info_get(p, "sharded", &info), 0);
	ck_assert_uint_eq(info.write_concurrency, 4);
	ck_assert_int_eq(info.access, PROTETS_PROTECTED);
	ck_assert_uint_eq(info.owner_uid, getuid());
	ck_assert_int_eq(protets_info_get(p, "vol", &info), PROTETS_NOTFOUND);
	ck_assert_int_eq(protets_open(p, "set", &held), 0);
	ck_assert_int_eq(protets_lookup(held, "late", 4, buf, sizeof(buf),
	    &vlen), PROTETS_NOTFOUND);
	/* Written after the load, dropped: neither survives a kill -9. */
	ck_assert_int_eq(protets_insert(held, "new", 3, "1", 1), 0);
	protets_close(held);
	ck_assert_int_eq(protets_drop(p, "bag"), 0);
	protets_disconnect(p);
	td_kill_all(&d);
	td_launch(&d, NULL);
	p = conn();
	ck_assert_int_eq(protets_info_get(p, "bag", &info), PROTETS_NOTFOUND);
	after = dump_of(p, "set");
	ck_assert_str_eq(after, before[0]);	/* as of the last stop */
	free(after);
	protets_disconnect(p);
	for (i = 0; i < NTAB; i++)
		free(before[i]);
	td_stop(&d);
}
END_TEST

/* A damaged file: that table set aside (renamed .bad), the others load. */
START_TEST(test_bad_file_set_aside)
{
	protets_t	*p;
	protets_table_t	*t;
	protets_info	 info;
	char		 path[PATH_MAX + 64], bad[PATH_MAX + 80];
	struct stat	 sb;
	int		 fd;
	uint64_t	 id;

	td_start(&d, 1, "state_dir = state", NULL);
	p = conn();
	t = make(p, "a", PROTETS_SET, 0);
	fill(t, 100);
	protets_close(t);
	t = make(p, "b", PROTETS_SET, 0);
	fill(t, 100);
	protets_close(t);
	ck_assert_int_eq(protets_info_get(p, "a", &info), 0);
	id = info.id;
	protets_disconnect(p);
	ck_assert_int_eq(WEXITSTATUS(td_term(&d)), 0);
	snprintf(path, sizeof(path), "%s/state/table-%llu.pts", d.dir,
	    (unsigned long long)id);
	ck_assert_int_ge(fd = open(path, O_WRONLY), 0);
	ck_assert_int_eq(pwrite(fd, "X", 1, 100), 1);
	close(fd);
	td_launch(&d, NULL);
	ck_assert(td_log_has(&d, "1 tables loaded"));
	ck_assert(td_log_has(&d, "its file, if any, is kept as table-"));
	snprintf(bad, sizeof(bad), "%s.bad", path);
	ck_assert_int_eq(stat(bad, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 0777, 0600);
	p = conn();
	ck_assert_int_eq(protets_info_get(p, "a", &info), PROTETS_NOTFOUND);
	ck_assert_int_eq(protets_info_get(p, "b", &info), 0);
	ck_assert_uint_eq(info.entries, 100);
	id = info.id;
	protets_disconnect(p);
	/*
	 * A configuration that lowered max_size below the table's size (its
	 * quota, 16M) loses nothing: the table is loaded with its quota, in
	 * a segment that holds it.
	 */
	ck_assert_int_eq(WEXITSTATUS(td_term(&d)), 0);
	FILE *f = fopen(d.conf, "a");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "[tables]\nmax_size = 8M\ndefault_size = 4M\n");
	fclose(f);
	td_launch(&d, NULL);
	ck_assert(td_log_has(&d, "1 tables loaded"));
	p = conn();
	ck_assert_int_eq(protets_info_get(p, "b", &info), 0);
	ck_assert_uint_eq(info.entries, 100);
	ck_assert_uint_eq(info.id, id);
	ck_assert_uint_eq(info.bytes_quota, 16 << 20);
	ck_assert_uint_ge(info.bytes_size, 16 << 20);
	protets_disconnect(p);
	td_stop(&d);
}
END_TEST

/* How many lines of the daemon's log hold needle. */
static int
log_count(const char *needle)
{
	char	cmd[PATH_MAX + 128], out[32];

	snprintf(cmd, sizeof(cmd), "grep -cF '%s' %s", needle, d.log);
	tu_sh(out, sizeof(out), "%s", cmd);
	return atoi(out);
}

/* Wait (a condition, bounded) until the log holds needle n times. */
static void
wait_log(const char *needle, int n)
{
	int	i;

	for (i = 0; i < 3000 && log_count(needle) < n; i++)
		tu_msleep(10);
	ck_assert_msg(log_count(needle) >= n, "no %d x '%s' in %s", n,
	    needle, d.log);
}

static void
fill_gen(protets_table_t *t, int n, int gen)
{
	char	k[32], v[64];
	int	i;

	for (i = 0; i < n; i++) {
		snprintf(k, sizeof(k), "k%06d", i);
		snprintf(v, sizeof(v), "generation %d of key %d ...........",
		    gen, i);
		ck_assert_int_eq(protets_insert(t, k, strlen(k), v,
		    strlen(v)), 0);
	}
}

/*
 * Every key of a table filled by fill_gen is there, of a generation >= min;
 * the generation of them all, or -1 when they are of several (a snapshot
 * is not a point in time: one taken while they were rewritten).
 */
static int
gen_of(protets_t *p, const char *name, int n, int min)
{
	protets_table_t	*t;
	char		 k[32], v[64];
	size_t		 vlen;
	int		 i, g, first = -1, mixed = 0;

	ck_assert_int_eq(protets_open(p, name, &t), 0);
	for (i = 0; i < n; i++) {
		snprintf(k, sizeof(k), "k%06d", i);
		ck_assert_int_eq(protets_lookup(t, k, strlen(k), v,
		    sizeof(v) - 1, &vlen), 0);
		v[vlen] = '\0';
		ck_assert_int_eq(sscanf(v, "generation %d", &g), 1);
		ck_assert_int_ge(g, min);
		if (i == 0)
			first = g;
		else if (g != first)
			mixed = 1;
	}
	protets_close(t);
	return mixed ? -1 : first;
}

/*
 * Periodic snapshots bound what a kill of every process (as a power loss)
 * costs: the tables come back as of the last snapshot; a table that did
 * not change is not written again; and a kill at any moment of a snapshot
 * (here: 6 kills at random times while 100,000 entries are rewritten and
 * saved every second) leaves a whole file: the start loads every table,
 * none set aside.
 */
START_TEST(test_snapshot_survives_kill)
{
	protets_t	*p;
	protets_table_t	*t;
	struct timespec	 ts;
	int		 i, n = 100000, loaded;

	td_start(&d, 1, "state_dir = state\nsnapshot_interval = 1", NULL);
	p = conn();
	t = make(p, "snap", PROTETS_SET, 0);
	fill_gen(t, n, 1);
	protets_close(t);
	protets_disconnect(p);
	/*
	 * Not the first snapshot logged: it may have begun while the table
	 * was being filled.  One that finds the table as its file (nothing
	 * written) comes after a file of all of it, the catalog before it.
	 */
	wait_log("snapshot: 0 tables saved, 1 unchanged", 1);
	ck_assert(td_log_has(&d, "catalog of 1 tables saved"));
	td_kill_all(&d);
	td_launch(&d, NULL);
	p = conn();
	ck_assert_int_eq(gen_of(p, "snap", n, 1), 1);
	protets_disconnect(p);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	srandom((unsigned)ts.tv_nsec);
	for (i = 0, loaded = 1; i < 6; i++) {
		p = conn();
		ck_assert_int_eq(protets_open(p, "snap", &t), 0);
		fill_gen(t, n, i + 2);
		protets_close(t);
		protets_disconnect(p);
		/* Mid-snapshot, or between two: either way a whole file. */
		tu_msleep((int)(random() % 1200));
		td_kill_all(&d);
		td_launch(&d, NULL);
		loaded++;
		wait_log("1 tables loaded from", loaded);
		ck_assert_int_eq(log_count("not loaded:"), 0);
		p = conn();
		(void)gen_of(p, "snap", n, 1);
		protets_disconnect(p);
	}
	/*
	 * A generation written whole, then a snapshot that finds the file
	 * there the same as the table (unchanged: nothing written), so the
	 * file holds all of that generation: what a kill finds after it.
	 */
	p = conn();
	ck_assert_int_eq(protets_open(p, "snap", &t), 0);
	fill_gen(t, n, 50);
	protets_close(t);
	protets_disconnect(p);
	i = log_count("snapshot: 0 tables saved, 1 unchanged");
	wait_log("snapshot: 0 tables saved, 1 unchanged", i + 1);
	td_kill_all(&d);
	td_launch(&d, NULL);
	p = conn();
	ck_assert_int_eq(gen_of(p, "snap", n, 1), 50);
	protets_disconnect(p);
	/* Once saved, a table that did not change is not written again. */
	wait_log("snapshot: 0 tables saved, 1 unchanged", log_count(
	    "snapshot: 0 tables saved, 1 unchanged") + 1);
	ck_assert_int_eq(WEXITSTATUS(td_term(&d)), 0);
	ck_assert(td_log_has(&d, "stop: 0 tables saved, 1 unchanged"));
	td_stop(&d);
}
END_TEST

/* A writer thread: acknowledged keys w<i>, and its errors. */
struct writer {
	protets_table_t	*t;
	volatile int	 stop;
	int		 n;		/* keys tried */
	int		 acked;
	int		 errors;
	int		 last_error;
	unsigned char	 ok[1 << 20];
};

static void *
writer_main(void *arg)
{
	struct writer	*w = arg;
	char		 k[32];
	int		 rc;

	while (!w->stop && w->n < (int)sizeof(w->ok)) {
		snprintf(k, sizeof(k), "w%d", w->n);
		if ((rc = protets_insert(w->t, k, strlen(k), "x", 1)) == 0) {
			w->ok[w->n] = 1;
			__atomic_add_fetch(&w->acked, 1, __ATOMIC_RELEASE);
		} else {
			w->errors++;
			w->last_error = rc;
		}
		w->n++;
	}
	return NULL;
}

static void
wait_acked(struct writer *w, int n)
{
	int	i;

	for (i = 0; i < 3000 && __atomic_load_n(&w->acked,
	    __ATOMIC_ACQUIRE) < n; i++)
		tu_msleep(10);
	ck_assert_int_ge(w->acked, n);
}

/* A daemon with a state directory and room for a writer's table. */
#define WRITER_CONF	"state_dir = state\n[tables]\nmax_size = 1G\n[daemon]"

/* Table name (128 MiB: room for every key the writer may try, 1M of
 * some 48 bytes) and a writer on it, 1000 writes in. */
static void
writer_start(struct writer *w, pthread_t *th, const char *name)
{
	protets_opts	 o = { .type = PROTETS_SET, .max_size = 128 << 20 };
	protets_t	*p = conn();

	/* The writer waits out a stop, exec or load on a loaded machine. */
	setenv("PROTETS_CONNECT_TIMEOUT_MS", "30000", 1);
	ck_assert_int_eq(protets_get(p, name, &o, &w->t), 0);
	protets_disconnect(p);
	ck_assert_int_eq(pthread_create(th, NULL, writer_main, w), 0);
	wait_acked(w, 1000);
}

/*
 * 1000 more writes after before, then the writer stops: it met no error,
 * and a fresh client finds every write it was told succeeded, and none
 * it was refused.
 */
static void
writer_finish(struct writer *w, pthread_t th, const char *name, int before)
{
	protets_t	*p;
	protets_table_t	*t;
	char		 k[32], v[8];
	size_t		 vlen;
	int		 i;

	wait_acked(w, before + 1000);
	w->stop = 1;
	pthread_join(th, NULL);
	unsetenv("PROTETS_CONNECT_TIMEOUT_MS");
	ck_assert_msg(w->errors == 0, "%d errors, the last %s", w->errors,
	    protets_strerror(w->last_error));
	protets_close(w->t);
	p = conn();
	ck_assert_int_eq(protets_open(p, name, &t), 0);
	for (i = 0; i < w->n; i++) {
		snprintf(k, sizeof(k), "w%d", i);
		ck_assert_int_eq(protets_lookup(t, k, strlen(k), v, sizeof(v),
		    &vlen), w->ok[i] ? 0 : PROTETS_NOTFOUND);
	}
	protets_close(t);
	protets_disconnect(p);
}

/* A second table, beside the writer's, to find again after an upgrade. */
static void
other_make(protets_type type)
{
	protets_t	*p = conn();
	protets_table_t	*t = make(p, "other", type, 0);

	fill(t, 300);
	protets_close(t);
	protets_disconnect(p);
}

static void
other_there(void)
{
	protets_t	*p = conn();
	protets_table_t	*t;
	char		 v[8];
	size_t		 vlen;

	ck_assert_int_eq(protets_open(p, "other", &t), 0);
	ck_assert_int_eq(protets_lookup(t, "k0299", 5, v, sizeof(v), &vlen),
	    0);
	protets_close(t);
	protets_disconnect(p);
}

/*
 * A writer holding its handle across stop + start follows the table into
 * the segment loaded from the state directory: no error, and every write
 * it was told succeeded is there for a fresh client, none into an orphan.
 */
START_TEST(test_writer_follows)
{
	static struct writer	 w;
	pthread_t		 th;
	int			 before;

	td_start(&d, 2, WRITER_CONF, NULL);
	writer_start(&w, &th, "w");
	ck_assert_int_eq(WEXITSTATUS(td_term(&d)), 0);
	before = w.acked;
	td_launch(&d, NULL);
	writer_finish(&w, th, "w", before);
	td_stop(&d);
}
END_TEST

/*
 * SIGUSR2: the binary at protetsd's path execs in place (the same pid),
 * every table kept in memory; a writer holding its mapping throughout
 * gets no error, and every write it was told succeeded is there.
 */
START_TEST(test_upgrade_in_place)
{
	static struct writer	 w;
	pthread_t		 th;
	int			 before;

	td_start(&d, 2, WRITER_CONF, NULL);
	other_make(PROTETS_ORDERED_SET);
	writer_start(&w, &th, "u");
	ck_assert_int_eq(kill(d.pid, SIGUSR2), 0);
	wait_log("upgraded in place", 1);
	wait_log("ready:", 2);
	before = w.acked;
	writer_finish(&w, th, "u", before);
	ck_assert(td_log_has(&d, "2 tables kept"));
	ck_assert_int_eq(log_count("tables saved"), 0);	/* no file */
	ck_assert_int_eq(waitpid(d.pid, NULL, WNOHANG), 0);	/* same pid */
	other_there();
	td_stop(&d);
}
END_TEST

/*
 * Put at dir/protetsd, as make install does (a new file renamed over the
 * old), a script that runs first, then execs the real protetsd.
 */
static void
new_binary(const char *dir, const char *first, const char *real)
{
	char	path[PATH_MAX + 32], out[64];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/protetsd.new", dir);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fprintf(f, "#!/bin/sh\n%s\nexec %s \"$@\"\n", first, real);
	fclose(f);
	ck_assert_int_eq(chmod(path, 0755), 0);
	ck_assert_int_eq(tu_sh(out, sizeof(out), "mv %s %s/protetsd", path,
	    dir), 0);
}

/*
 * SIGUSR2 to a binary of another table layout: here a script put at
 * protetsd's path that says another layout to --layout and otherwise
 * execs the real protetsd.  Every table goes over through the state
 * directory, and a writer holding its mapping follows it into the new
 * segment with no error and no write lost.
 */
START_TEST(test_upgrade_other_layout)
{
	static struct writer	 w;
	pthread_t		 th;
	char			 real[PATH_MAX], bin[PATH_MAX], dir[] =
				     "/tmp/protets-bin.XXXXXX", out[64];
	const char		*old = getenv("BUILD");
	char			 oldbuild[PATH_MAX];
	int			 before;

	snprintf(oldbuild, sizeof(oldbuild), "%s", old ? old : "");
	ck_assert_ptr_nonnull(realpath(tu_bin("protetsd", bin, sizeof(bin)),
	    real));
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(tu_sh(out, sizeof(out), "cp %s %s/protetsd", real,
	    dir), 0);
	setenv("BUILD", dir, 1);
	td_start(&d, 2, WRITER_CONF, NULL);
	if (oldbuild[0] != '\0')
		setenv("BUILD", oldbuild, 1);
	else
		unsetenv("BUILD");
	other_make(PROTETS_BAG);
	writer_start(&w, &th, "u");
	/* A new binary that refuses the configuration: the daemon runs on. */
	new_binary(dir, "[ \"$1\" = -n ] && exit 1", real);
	ck_assert_int_eq(kill(d.pid, SIGUSR2), 0);
	wait_log("upgrade refused", 1);
	ck_assert_int_eq(log_count("ready:"), 1);
	/* The "new binary" of another layout. */
	new_binary(dir, "[ \"$1\" = --layout ] && "
	    "{ echo 'protets layout 99 (a test)'; exit 0; }", real);
	ck_assert_int_eq(kill(d.pid, SIGUSR2), 0);
	wait_log("2 tables loaded from", 1);
	wait_log("ready:", 2);
	ck_assert(td_log_has(&d, "another table layout"));
	before = w.acked;
	writer_finish(&w, th, "u", before);
	ck_assert_int_eq(waitpid(d.pid, NULL, WNOHANG), 0);	/* same pid */
	other_there();
	td_stop(&d);
	tu_sh(out, sizeof(out), "rm -rf %s", dir);
}
END_TEST

static Suite *
state_suite(void)
{
	Suite	*s = suite_create("state");
	TCase	*tc = tcase_create("stop");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_stop_start_keeps_tables);
	tcase_add_test(tc, test_bad_file_set_aside);
	tcase_add_test(tc, test_snapshot_survives_kill);
	tcase_add_test(tc, test_writer_follows);
	tcase_add_test(tc, test_upgrade_in_place);
	tcase_add_test(tc, test_upgrade_other_layout);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_run(state_suite());
}
