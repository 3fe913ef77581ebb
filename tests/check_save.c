/*
 * check_save.c - protets_save / protets_load: round trips of every table
 * type, the verification of the file (every corruption is PROTETS_EFILE
 * and creates nothing), all-or-nothing loads, atomic saves.
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>

#include "clock.h"
#include "testutil.h"

static struct td	 d;
static protets_t	*p;
static char		 dir[64];		/* files of the test, 0755 */

static void
setup(void)
{
	td_start(&d, 2, NULL, NULL);
	p = td_connect(&d);
	snprintf(dir, sizeof(dir), "/tmp/check_save.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(chmod(dir, 0755), 0);
}

static void
teardown(void)
{
	char	 out[64];

	protets_disconnect(p);
	td_stop(&d);
	tu_sh(out, sizeof(out), "rm -rf %s", dir);
}

static const char *
fpath(const char *name)
{
	static char	 buf[2][PATH_MAX];
	static int	 i;

	i = !i;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name);
	return buf[i];
}

static protets_table_t *
mk(const char *name, protets_type type, protets_access access)
{
	protets_opts	 o = { .type = type, .access = access };
	protets_table_t	*t;
	int		 rc;

	rc = protets_get(p, name, &o, &t);
	ck_assert_msg(rc == 0, "get %s: %s", name, protets_strerror(rc));
	return t;
}

static void
put(protets_table_t *t, const void *k, size_t kl, const void *v, size_t vl)
{
	int	 rc = protets_insert(t, k, kl, v, vl);

	ck_assert_msg(rc == 0, "insert: %s", protets_strerror(rc));
}

/* Every entry of a table, as one sorted array of "klen key vlen val". */
struct snap {
	char	**rec;
	size_t	 *len;
	size_t	  n, cap;
};

static int
snap_one(const void *k, size_t kl, const void *v, size_t vl, void *arg)
{
	struct snap	*s = arg;
	char		*r;

	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 64;
		ck_assert_ptr_nonnull(s->rec = realloc(s->rec,
		    s->cap * sizeof(*s->rec)));
		ck_assert_ptr_nonnull(s->len = realloc(s->len,
		    s->cap * sizeof(*s->len)));
	}
	ck_assert_ptr_nonnull(r = malloc(16 + kl + vl));
	memcpy(r, &kl, 8);
	memcpy(r + 8, k, kl);
	memcpy(r + 8 + kl, &vl, 8);
	memcpy(r + 16 + kl, v, vl);
	s->len[s->n] = 16 + kl + vl;
	s->rec[s->n++] = r;
	return 0;
}

/* Sort by whole record bytes (length-prefixed, so a total order). */
static int
rec_cmp(const void *a, const void *b)
{
	const char	*x = *(char *const *)a, *y = *(char *const *)b;
	size_t		 xk, yk, xv, yv, xl, yl;
	int		 c;

	memcpy(&xk, x, 8);
	memcpy(&yk, y, 8);
	memcpy(&xv, x + 8 + xk, 8);
	memcpy(&yv, y + 8 + yk, 8);
	xl = 16 + xk + xv;
	yl = 16 + yk + yv;
	if ((c = memcmp(x, y, xl < yl ? xl : yl)) != 0)
		return c;
	return xl < yl ? -1 : xl > yl;
}

static void
snap_take(protets_table_t *t, struct snap *s)
{
	memset(s, 0, sizeof(*s));
	ck_assert_int_eq(protets_foldl(t, snap_one, s), 0);
	qsort(s->rec, s->n, sizeof(*s->rec), rec_cmp);
}

static void
snap_free(struct snap *s)
{
	size_t	 i;

	for (i = 0; i < s->n; i++)
		free(s->rec[i]);
	free(s->rec);
	free(s->len);
}

/* The same multiset of entries. */
static void
same_entries(protets_table_t *a, protets_table_t *b)
{
	struct snap	 x, y;
	size_t		 i;

	snap_take(a, &x);
	snap_take(b, &y);
	ck_assert_uint_eq(x.n, y.n);
	for (i = 0; i < x.n; i++) {
		ck_assert_uint_eq(x.len[i] > 0, 1);
		ck_assert_int_eq(rec_cmp(&x.rec[i], &y.rec[i]), 0);
	}
	snap_free(&x);
	snap_free(&y);
}

/* The values of key, in order, joined by ','. */
static int
join_one(const void *k, size_t kl, const void *v, size_t vl, void *arg)
{
	(void)k;
	(void)kl;
	strncat(arg, v, vl);
	strcat(arg, ",");
	return 0;
}

static void
values_are(protets_table_t *t, const char *key, const char *want)
{
	char	 got[256] = "";

	ck_assert_int_eq(protets_lookup_each(t, key, strlen(key), join_one,
	    got), 0);
	ck_assert_str_eq(got, want);
}

/* Entries every type can hold: binary keys and values, empty values. */
static void
fill_mixed(protets_table_t *t)
{
	static const char	 k1[] = { 'a', 0, 'b', 0 }, v1[] = { 0, 0, 1 };
	char			 k[32], v[64];
	int			 i;

	put(t, k1, sizeof(k1), v1, sizeof(v1));
	put(t, "\0", 1, "", 0);
	put(t, "empty", 5, "", 0);
	for (i = 0; i < 500; i++) {
		snprintf(k, sizeof(k), "key%d", i);
		snprintf(v, sizeof(v), "value %d", i * 7);
		put(t, k, strlen(k), v, strlen(v));
	}
}

static void
roundtrip(const char *name, protets_type type, protets_access access)
{
	protets_table_t	*t, *u;
	char		 copy[64];
	uint64_t	 n;

	t = mk(name, type, access);
	fill_mixed(t);
	if (type == PROTETS_BAG || type == PROTETS_DUPLICATE_BAG) {
		put(t, "k", 1, "v3", 2);
		put(t, "k", 1, "v1", 2);
		put(t, "k", 1, "v2", 2);
		put(t, "k", 1, "v1", 2);	/* a no-op on a bag */
	}
	ck_assert_int_eq(protets_save(t, fpath(name)), 0);
	snprintf(copy, sizeof(copy), "%s.copy", name);
	ck_assert_int_eq(protets_load(p, fpath(name), copy, NULL, &u), 0);
	ck_assert_str_eq(protets_table_name(u), copy);
	ck_assert_int_eq(protets_table_type(u), type);
	ck_assert_int_eq(protets_table_access(u), access);
	same_entries(t, u);
	if (type == PROTETS_BAG)
		values_are(u, "k", "v3,v1,v2,");
	if (type == PROTETS_DUPLICATE_BAG)
		values_are(u, "k", "v3,v1,v2,v1,");
	ck_assert_int_eq(protets_count(u, &n), 0);
	ck_assert_uint_eq(n, type == PROTETS_SET || type ==
	    PROTETS_ORDERED_SET ? 503 : type == PROTETS_BAG ? 506 : 507);
	ck_assert_int_eq(protets_check(u, NULL, 0), 0);
	protets_close(u);
	/* Under its own name, once the original is gone. */
	protets_close(t);
	ck_assert_int_eq(protets_drop(p, name), 0);
	ck_assert_int_eq(protets_load(p, fpath(name), NULL, NULL, &u), 0);
	ck_assert_str_eq(protets_table_name(u), name);
	ck_assert_int_eq(protets_open(p, copy, &t), 0);
	same_entries(t, u);
	protets_close(t);
	protets_close(u);
}

START_TEST(test_roundtrip_set)
{
	roundtrip("s", PROTETS_SET, PROTETS_PROTECTED);
}
END_TEST

START_TEST(test_roundtrip_bag)
{
	roundtrip("b", PROTETS_BAG, PROTETS_PUBLIC);
}
END_TEST

START_TEST(test_roundtrip_duplicate_bag)
{
	roundtrip("db", PROTETS_DUPLICATE_BAG, PROTETS_PRIVATE);
}
END_TEST

/* Runs as soon as the daemon creates ordered sets. */
START_TEST(test_roundtrip_ordered_set)
{
	protets_opts	 o = { .type = PROTETS_ORDERED_SET };
	protets_table_t	*t;
	int		 rc;

	if ((rc = protets_get(p, "probe", &o, &t)) == PROTETS_EINVAL) {
		fprintf(stderr, "test_roundtrip_ordered_set: skipped, the "
		    "daemon does not create ordered sets\n");
		return;
	}
	ck_assert_int_eq(rc, 0);
	protets_close(t);
	roundtrip("os", PROTETS_ORDERED_SET, PROTETS_PROTECTED);
}
END_TEST

START_TEST(test_empty)
{
	protets_table_t	*t, *u;
	uint64_t	 n = 1;

	t = mk("e", PROTETS_DUPLICATE_BAG, PROTETS_PUBLIC);
	ck_assert_int_eq(protets_save(t, fpath("e")), 0);
	ck_assert_int_eq(protets_load(p, fpath("e"), "e2", NULL, &u), 0);
	ck_assert_int_eq(protets_count(u, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(protets_table_type(u), PROTETS_DUPLICATE_BAG);
	protets_close(t);
	protets_close(u);
	/* tp may be NULL. */
	ck_assert_int_eq(protets_load(p, fpath("e"), "e3", NULL, NULL), 0);
	ck_assert_int_eq(protets_open(p, "e3", &u), 0);
	protets_close(u);
}
END_TEST

/* 100,000 entries, with one largest key and one largest value. */
START_TEST(test_large)
{
	protets_opts	 o = { .max_size = 64 << 20 };
	protets_table_t	*t, *u;
	char		 k[32], v[64], buf[64];
	char		*big;
	size_t		 vl;
	uint64_t	 n;
	int		 i;

	ck_assert_int_eq(protets_get(p, "big", &o, &t), 0);
	for (i = 0; i < 100000; i++) {
		snprintf(k, sizeof(k), "k%09d", i);
		snprintf(v, sizeof(v), "v%d", i);
		put(t, k, strlen(k), v, strlen(v));
	}
	ck_assert_ptr_nonnull(big = malloc(PROTETS_VALUE_MAX));
	memset(big, 'x', PROTETS_VALUE_MAX);
	put(t, big, PROTETS_KEY_MAX, big, PROTETS_VALUE_MAX);
	ck_assert_int_eq(protets_save(t, fpath("big")), 0);
	ck_assert_int_eq(protets_load(p, fpath("big"), "big2", NULL, &u), 0);
	ck_assert_int_eq(protets_count(u, &n), 0);
	ck_assert_uint_eq(n, 100001);
	for (i = 0; i < 100000; i++) {
		snprintf(k, sizeof(k), "k%09d", i);
		snprintf(v, sizeof(v), "v%d", i);
		ck_assert_int_eq(protets_lookup(u, k, strlen(k), buf,
		    sizeof(buf), &vl), 0);
		ck_assert_uint_eq(vl, strlen(v));
		ck_assert(memcmp(buf, v, vl) == 0);
	}
	ck_assert_int_eq(protets_lookup(u, big, PROTETS_KEY_MAX, NULL, 0,
	    &vl), PROTETS_ERANGE);
	ck_assert_uint_eq(vl, PROTETS_VALUE_MAX);
	/* The saved segment size is the loaded table's. */
	ck_assert_int_eq(protets_check(u, NULL, 0), 0);
	free(big);
	protets_close(t);
	protets_close(u);
}
END_TEST

struct order {
	int	 next, bad;
};

static int
order_one(const void *k, size_t kl, const void *v, size_t vl, void *arg)
{
	struct order	*o = arg;
	char		 want[16];

	(void)k;
	(void)kl;
	snprintf(want, sizeof(want), "%05d", o->next++);
	if (vl != 200 || memcmp(v, want, 5) != 0)
		o->bad++;
	return 0;
}

/*
 * A load reads the file in many regions at once: the values of a key
 * longer than a region still come back in their order.
 */
START_TEST(test_bag_regions)
{
	protets_table_t	*t, *u;
	struct order	 o = { 0, 0 };
	char		 k[32], v[200];
	int		 i;

	t = mk("r", PROTETS_DUPLICATE_BAG, PROTETS_PUBLIC);
	memset(v, '.', sizeof(v));
	for (i = 0; i < 20000; i++) {
		snprintf(k, sizeof(k), "other %d", i);
		put(t, k, strlen(k), v, 20);
	}
	for (i = 0; i < 2000; i++) {
		snprintf(v, sizeof(v), "%05d", i);
		put(t, "long", 4, v, 200);
	}
	ck_assert_int_eq(protets_save(t, fpath("r")), 0);
	ck_assert_int_eq(protets_load(p, fpath("r"), "r2", NULL, &u), 0);
	ck_assert_int_eq(protets_lookup_each(u, "long", 4, order_one, &o), 0);
	ck_assert_int_eq(o.next, 2000);
	ck_assert_int_eq(o.bad, 0);
	same_entries(t, u);
	protets_close(t);
	protets_close(u);
}
END_TEST

/*
 * Values of many keys inserted interleaved (k0 v0, k1 v0, ..., k0 v1, ...):
 * a bucket chain mixes keys, and the file spans many regions; each key's
 * values must come back in their order.
 */
START_TEST(test_bag_interleaved)
{
	protets_table_t	*t, *u;
	char		 k[32], v[64], want[256], got[256];
	int		 i, j;

	t = mk("il", PROTETS_DUPLICATE_BAG, PROTETS_PUBLIC);
	for (j = 0; j < 5; j++)
		for (i = 0; i < 3000; i++) {
			snprintf(k, sizeof(k), "k%d", i);
			snprintf(v, sizeof(v), "v%d-%030d", j, i);
			put(t, k, strlen(k), v, strlen(v));
		}
	ck_assert_int_eq(protets_save(t, fpath("il")), 0);
	ck_assert_int_eq(protets_load(p, fpath("il"), "il2", NULL, &u), 0);
	for (i = 0; i < 3000; i++) {
		snprintf(k, sizeof(k), "k%d", i);
		want[0] = got[0] = '\0';
		for (j = 0; j < 5; j++) {
			snprintf(v, sizeof(v), "v%d-%030d,", j, i);
			strcat(want, v);
		}
		ck_assert_int_eq(protets_lookup_each(u, k, strlen(k), join_one,
		    got), 0);
		ck_assert_str_eq(got, want);
	}
	same_entries(t, u);
	protets_close(t);
	protets_close(u);
}
END_TEST

START_TEST(test_exists)
{
	protets_table_t	*t, *u, *x;
	protets_info	 before, after;

	t = mk("a", PROTETS_SET, PROTETS_PUBLIC);
	fill_mixed(t);
	ck_assert_int_eq(protets_save(t, fpath("a")), 0);
	u = mk("other", PROTETS_BAG, PROTETS_PROTECTED);
	put(u, "mine", 4, "keep", 4);
	ck_assert_int_eq(protets_info_get(p, "other", &before), 0);
	ck_assert_int_eq(protets_load(p, fpath("a"), "other", NULL, &x),
	    PROTETS_EXISTS);
	ck_assert_int_eq(protets_load(p, fpath("a"), NULL, NULL, &x),
	    PROTETS_EXISTS);
	ck_assert_int_eq(protets_info_get(p, "other", &after), 0);
	ck_assert_uint_eq(after.id, before.id);
	ck_assert_uint_eq(after.entries, 1);
	ck_assert_int_eq(after.type, PROTETS_BAG);
	values_are(u, "mine", "keep,");
	ck_assert_int_eq(protets_info_get(p, "a", &after), 0);
	ck_assert_uint_eq(after.entries, 503);
	protets_close(t);
	protets_close(u);
}
END_TEST

START_TEST(test_opts)
{
	protets_opts	 o = { .access = PROTETS_PRIVATE, .max_size = 1 << 20 };
	protets_table_t	*t, *u;
	protets_info	 in;

	t = mk("o", PROTETS_BAG, PROTETS_PUBLIC);
	fill_mixed(t);
	ck_assert_int_eq(protets_save(t, fpath("o")), 0);
	ck_assert_int_eq(protets_load(p, fpath("o"), "o2", &o, &u), 0);
	ck_assert_int_eq(protets_table_access(u), PROTETS_PRIVATE);
	ck_assert_int_eq(protets_info_get(p, "o2", &in), 0);
	ck_assert_uint_eq(in.bytes_quota, 1 << 20);
	same_entries(t, u);
	protets_close(u);
	/* The type is the file's. */
	o.type = PROTETS_SET;
	ck_assert_int_eq(protets_load(p, fpath("o"), "o3", &o, &u),
	    PROTETS_EINVAL);
	o.type = PROTETS_BAG;
	ck_assert_int_eq(protets_load(p, fpath("o"), "o3", &o, NULL), 0);
	/* Bad names, missing files. */
	ck_assert_int_eq(protets_load(p, fpath("o"), "", NULL, NULL),
	    PROTETS_EINVAL);
	ck_assert_int_eq(protets_load(p, fpath("none"), "o4", NULL, NULL),
	    ENOENT);
	ck_assert_int_eq(protets_load(p, dir, "o4", NULL, NULL), EISDIR);
	/* A FIFO nobody writes to: refused at once, not waited on. */
	ck_assert_int_eq(mkfifo(fpath("fifo"), 0600), 0);
	ck_assert_int_eq(protets_load(p, fpath("fifo"), "o4", NULL, NULL),
	    PROTETS_EFILE);
	ck_assert_int_eq(protets_info_get(p, "o4", &in), PROTETS_NOTFOUND);
	/* write_concurrency is the caller's (a file does not record it). */
	o = (protets_opts){ .write_concurrency = 3 };
	ck_assert_int_eq(protets_load(p, fpath("o"), "o6", &o, NULL),
	    PROTETS_EINVAL);
	o.write_concurrency = 4;
	ck_assert_int_eq(protets_load(p, fpath("o"), "o6", &o, &u), 0);
	same_entries(t, u);
	protets_close(u);
	/* The saved access, given once the table is whole; a new handle. */
	ck_assert_int_eq(protets_load(p, fpath("o"), "o5", NULL, &u), 0);
	ck_assert_int_eq(protets_table_access(u), PROTETS_PUBLIC);
	ck_assert_int_eq(protets_info_get(p, "o5", &in), 0);
	ck_assert_int_eq(in.access, PROTETS_PUBLIC);
	protets_close(u);
	ck_assert_int_eq(protets_save(t, ""), PROTETS_EINVAL);
	protets_close(t);
}
END_TEST

/* A file built by hand, with a right checksum unless told otherwise. */
struct fb {
	unsigned char	 b[1 << 16];
	size_t		 n;
};

static void
fb_put(struct fb *f, const void *p_, size_t n)
{
	ck_assert_uint_le(f->n + n, sizeof(f->b));
	memcpy(f->b + f->n, p_, n);
	f->n += n;
}

static void
fb_32(struct fb *f, uint32_t v)
{
	v = htole32(v);
	fb_put(f, &v, 4);
}

static void
fb_64(struct fb *f, uint64_t v)
{
	v = htole64(v);
	fb_put(f, &v, 8);
}

static void
fb_hdr(struct fb *f, uint32_t version, uint32_t type, const char *name)
{
	f->n = 0;
	fb_put(f, "\x7fPROTETS", 8);
	fb_32(f, version);
	fb_32(f, type);
	fb_32(f, PROTETS_PUBLIC);
	fb_32(f, 0);
	fb_64(f, 1 << 20);
	fb_32(f, (uint32_t)strlen(name));
	fb_put(f, name, strlen(name));
}

static void
fb_rec(struct fb *f, uint32_t kl, uint32_t vl, const char *k, const char *v)
{
	fb_32(f, kl);
	fb_32(f, vl);
	fb_put(f, k, strlen(k));
	fb_put(f, v, strlen(v));
}

static void
fb_end(struct fb *f, uint64_t count)
{
	fb_32(f, 0);
	fb_32(f, 0);
	fb_64(f, count);
	fb_64(f, XXH3_64bits(f->b, f->n));
}

static void
write_file(const char *path, const void *b, size_t n)
{
	int	 fd;

	ck_assert_int_ge(fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644),
	    0);
	ck_assert_int_eq(write(fd, b, n), (ssize_t)n);
	close(fd);
}

static int
count_tables_one(const protets_info *in, void *arg)
{
	(void)in;
	(*(int *)arg)++;
	return 0;
}

static int
count_tables(void)
{
	int	 n = 0;

	ck_assert_int_eq(protets_list(p, count_tables_one, &n), 0);
	return n;
}

/* b[0..n) is refused with PROTETS_EFILE, and no table appears. */
static void
refused(const void *b, size_t n, const char *what)
{
	protets_info	 in;
	int		 before = count_tables(), rc;

	write_file(fpath("bad"), b, n);
	rc = protets_load(p, fpath("bad"), "loaded", NULL, NULL);
	ck_assert_msg(rc == PROTETS_EFILE, "%s: got %s", what,
	    protets_strerror(rc));
	ck_assert_int_eq(protets_info_get(p, "loaded", &in),
	    PROTETS_NOTFOUND);
	ck_assert_int_eq(count_tables(), before);
}

START_TEST(test_hand_built)
{
	static struct fb	 f;
	protets_table_t		*t;

	/* The builder is right: its file loads. */
	fb_hdr(&f, 1, PROTETS_DUPLICATE_BAG, "hb");
	fb_rec(&f, 1, 2, "k", "v1");
	fb_rec(&f, 1, 2, "k", "v1");
	fb_end(&f, 2);
	write_file(fpath("hb"), f.b, f.n);
	ck_assert_int_eq(protets_load(p, fpath("hb"), NULL, NULL, &t), 0);
	values_are(t, "k", "v1,v1,");
	protets_close(t);

	fb_hdr(&f, 2, PROTETS_SET, "hb");
	fb_end(&f, 0);
	refused(f.b, f.n, "future version");
	fb_hdr(&f, 0, PROTETS_SET, "hb");
	fb_end(&f, 0);
	refused(f.b, f.n, "version 0");
	fb_hdr(&f, 1, 0, "hb");
	fb_end(&f, 0);
	refused(f.b, f.n, "type 0");
	fb_hdr(&f, 1, 5, "hb");
	fb_end(&f, 0);
	refused(f.b, f.n, "type 5");
	fb_hdr(&f, 1, PROTETS_SET, "");
	fb_end(&f, 0);
	refused(f.b, f.n, "empty name");
	fb_hdr(&f, 1, PROTETS_SET, "hb");
	f.b[20] = 1;					/* flags */
	fb_end(&f, 0);
	refused(f.b, f.n, "flags");
	fb_hdr(&f, 1, PROTETS_SET, "hb");
	memcpy(f.b, "\x7fPROTETZ", 8);
	fb_end(&f, 0);
	refused(f.b, f.n, "magic");
	/* Counts that do not match the records. */
	fb_hdr(&f, 1, PROTETS_SET, "hb");
	fb_rec(&f, 1, 1, "k", "v");
	fb_end(&f, 2);
	refused(f.b, f.n, "count 2 of 1");
	fb_hdr(&f, 1, PROTETS_SET, "hb");
	fb_rec(&f, 1, 1, "k", "v");
	fb_end(&f, 0);
	refused(f.b, f.n, "count 0 of 1");
	/* Lengths over the limits, or past the end of the file. */
	fb_hdr(&f, 1, PROTETS_SET, "hb");
	fb_rec(&f, PROTETS_KEY_MAX + 1, 0, "k", "");
	fb_end(&f, 1);
	refused(f.b, f.n, "klen over the limit");
	fb_hdr(&f, 1, PROTETS_SET, "hb");
	fb_rec(&f, 1, PROTETS_VALUE_MAX + 1, "k", "");
	fb_end(&f, 1);
	refused(f.b, f.n, "vlen over the limit");
	fb_hdr(&f, 1, PROTETS_SET, "hb");
	fb_rec(&f, 1, 4000, "k", "v");
	fb_end(&f, 1);
	refused(f.b, f.n, "vlen past the end");
	fb_hdr(&f, 1, PROTETS_SET, "hb");
	fb_rec(&f, 0xffffffffu, 0xffffffffu, "k", "v");
	fb_end(&f, 1);
	refused(f.b, f.n, "lengths 2^32-1");
	fb_hdr(&f, 1, PROTETS_SET, "hb");
	fb_32(&f, 0);
	fb_32(&f, 5);				/* end marker with a vlen */
	fb_64(&f, 0);
	fb_64(&f, XXH3_64bits(f.b, f.n));
	refused(f.b, f.n, "end marker");
	/* A right checksum, then more. */
	fb_hdr(&f, 1, PROTETS_SET, "hb");
	fb_end(&f, 0);
	fb_put(&f, "x", 1);
	refused(f.b, f.n, "trailing byte");
	refused("", 0, "empty file");
}
END_TEST

/* Every truncation and every flipped byte of a saved file. */
START_TEST(test_corrupt)
{
	protets_table_t	*t;
	unsigned char	 good[4096], bad[4096];
	char		 what[64];
	ssize_t		 n;
	int		 fd, i;

	t = mk("c", PROTETS_BAG, PROTETS_PUBLIC);
	put(t, "k1", 2, "v1", 2);
	put(t, "k1", 2, "v2", 2);
	put(t, "\0k", 2, "", 0);
	ck_assert_int_eq(protets_save(t, fpath("c")), 0);
	ck_assert_int_ge(fd = open(fpath("c"), O_RDONLY), 0);
	ck_assert_int_gt(n = read(fd, good, sizeof(good)), 0);
	close(fd);
	for (i = 0; i < n; i++) {
		snprintf(what, sizeof(what), "truncated to %d of %zd", i, n);
		refused(good, (size_t)i, what);
	}
	for (i = 0; i < n; i++) {
		memcpy(bad, good, (size_t)n);
		bad[i] ^= 0x01;
		snprintf(what, sizeof(what), "bit 0 of byte %d flipped", i);
		refused(bad, (size_t)n, what);
		bad[i] ^= 0x81;
		snprintf(what, sizeof(what), "bit 7 of byte %d flipped", i);
		refused(bad, (size_t)n, what);
	}
	memcpy(bad, good, (size_t)n);
	memcpy(bad + n, "garbage", 7);
	refused(bad, (size_t)n + 7, "trailing garbage");
	/* The file itself was good all along. */
	ck_assert_int_eq(protets_load(p, fpath("c"), "c2", NULL, NULL), 0);
	protets_close(t);
}
END_TEST

/* A table too small for the file: the half-filled table is dropped. */
START_TEST(test_full)
{
	protets_opts	 o = { .max_size = 128 << 10 };
	protets_table_t	*t;
	protets_info	 in;
	char		 k[32];
	int		 i, before;

	t = mk("f", PROTETS_SET, PROTETS_PUBLIC);
	for (i = 0; i < 20000; i++) {
		snprintf(k, sizeof(k), "key %d", i);
		put(t, k, strlen(k), "some value of 32 bytes.........", 32);
	}
	ck_assert_int_eq(protets_save(t, fpath("f")), 0);
	before = count_tables();
	ck_assert_int_eq(protets_load(p, fpath("f"), "f2", &o, NULL),
	    PROTETS_EFULL);
	ck_assert_int_eq(protets_info_get(p, "f2", &in), PROTETS_NOTFOUND);
	ck_assert_int_eq(count_tables(), before);
	/* The name is free again, and the saved size is big enough. */
	ck_assert_int_eq(protets_load(p, fpath("f"), "f2", NULL, NULL), 0);
	ck_assert_int_eq(protets_info_get(p, "f2", &in), 0);
	ck_assert_uint_eq(in.entries, 20000);
	protets_close(t);
}
END_TEST

static int
dir_entries(const char *path)
{
	DIR		*dp;
	struct dirent	*de;
	int		 n = 0;

	ck_assert_ptr_nonnull(dp = opendir(path));
	while ((de = readdir(dp)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	closedir(dp);
	return n;
}

static int
file_is(const char *path, const char *want)
{
	char	 buf[256];
	ssize_t	 n;
	int	 fd;

	if ((fd = open(path, O_RDONLY)) == -1)
		return 0;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	return n == (ssize_t)strlen(want) && memcmp(buf, want, (size_t)n) == 0;
}

/*
 * A save that fails half-way (the file size limit stops its writes)
 * leaves the previous file at the path intact and no temporary behind.
 */
START_TEST(test_atomic_save)
{
	protets_table_t	*t;
	struct stat	 st;
	char		 k[32];
	pid_t		 c;
	int		 i;

	t = mk("at", PROTETS_SET, PROTETS_PUBLIC);
	for (i = 0; i < 5000; i++) {
		snprintf(k, sizeof(k), "key %d", i);
		put(t, k, strlen(k), "a value that takes some room....", 32);
	}
	write_file(fpath("at"), "previous", 8);
	c = fork();
	if (c == 0) {
		struct rlimit	 rl = { 100000, 100000 };

		signal(SIGXFSZ, SIG_IGN);
		CHILD_CHECK(setrlimit(RLIMIT_FSIZE, &rl) == 0);
		CHILD_CHECK(protets_save(t, fpath("at")) == EFBIG);
		_exit(0);
	}
	ck_assert_int_eq(tu_wait_child(c), 0);
	ck_assert(file_is(fpath("at"), "previous"));
	ck_assert_int_eq(dir_entries(dir), 1);
	/* Unlimited, it replaces the file, 0600 whatever the umask. */
	umask(022);
	ck_assert_int_eq(protets_save(t, fpath("at")), 0);
	ck_assert_int_eq(stat(fpath("at"), &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	ck_assert_int_gt(st.st_size, 5000 * 40);
	ck_assert_int_eq(dir_entries(dir), 1);
	/* No directory, or one we may not write. */
	ck_assert_int_eq(protets_save(t, fpath("no/such/file")), ENOENT);
	ck_assert_int_eq(dir_entries(dir), 1);
	protets_close(t);
	c = fork();
	if (c == 0) {
		protets_t	*q;
		protets_table_t	*u;

		if (getuid() == 0)
			CHILD_CHECK(setgid(65534) == 0 && setuid(65534) == 0);
		CHILD_CHECK(protets_connect(d.sock, &q) == 0);
		CHILD_CHECK(protets_open(q, "at", &u) == 0);
		CHILD_CHECK(protets_save(u, fpath("at")) == EACCES);
		CHILD_CHECK(protets_save(u, fpath("new")) == EACCES);
		_exit(0);
	}
	ck_assert_int_eq(tu_wait_child(c), 0);
	ck_assert_int_eq(dir_entries(dir), 1);
	ck_assert_int_eq(stat(fpath("at"), &st), 0);
	ck_assert_int_gt(st.st_size, 5000 * 40);
}
END_TEST

/*
 * A load refused by the per-uid byte limit (the memory the uid's tables
 * hold) creates nothing; once the uid holds less, the load goes through.
 */
START_TEST(test_uid_limit)
{
	protets_opts	 o = { .access = PROTETS_PUBLIC, .max_size = 8 << 20 };
	protets_table_t	*t;
	pid_t		 c;

	td_start(&d, 2, "[tables]\nmax_bytes_per_uid = 3M", NULL);
	p = td_connect(&d);
	snprintf(dir, sizeof(dir), "/tmp/check_save.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(chmod(dir, 0755), 0);
	ck_assert_int_eq(protets_get(p, "u", &o, &t), 0);
	fill_mixed(t);
	ck_assert_int_eq(protets_save(t, fpath("u")), 0);
	ck_assert_int_eq(chmod(fpath("u"), 0644), 0);
	protets_close(t);
	c = fork();
	if (c == 0) {
		protets_opts	 none = { .max_size = 0 };
		protets_table_t	*big;
		protets_info	 in;
		protets_t	*q;
		int64_t		 end = clk_now_ms() + 10000;
		int		 rc;

		if (getuid() == 0)
			CHILD_CHECK(setgid(65534) == 0 && setuid(65534) == 0);
		CHILD_CHECK(protets_connect(d.sock, &q) == 0);
		/* The uid's tables hold over 3M: no load. */
		CHILD_CHECK(protets_get(q, "big", &none, &big) == 0);
		CHILD_CHECK(tu_fill_bytes(big, 4 << 20) == 0);
		protets_close(big);
		while ((rc = protets_load(q, fpath("u"), "u2", NULL, NULL)) ==
		    0 && clk_now_ms() < end) {
			CHILD_CHECK(protets_drop(q, "u2") == 0);
			tu_msleep(10);
		}
		CHILD_CHECK(rc == PROTETS_ELIMIT);
		CHILD_CHECK(protets_info_get(q, "u2", &in) ==
		    PROTETS_NOTFOUND);
		CHILD_CHECK(protets_drop(q, "big") == 0);
		CHILD_CHECK(protets_load(q, fpath("u"), "u2", NULL, NULL) ==
		    0);
		CHILD_CHECK(protets_info_get(q, "u2", &in) == 0);
		CHILD_CHECK(in.entries == 503 && in.owner_uid == getuid() &&
		    in.bytes_quota == 8 << 20);
		_exit(0);
	}
	ck_assert_int_eq(tu_wait_child(c), 0);
	teardown();
}
END_TEST

/*
 * A save (the daemon's snapshots and its save at a stop write the same way,
 * common/savefile.c) killed at every point of its writing: RLIMIT_FSIZE
 * kills the saver (SIGXFSZ, default action) the moment the file would pass
 * k bytes, for k every 4 KiB up to the whole file and at the file's last
 * byte.  Each time the file there is the previous one, whole; once the
 * limit lets the save finish, the new one.
 */
START_TEST(test_save_killed_at_every_write)
{
	protets_table_t	*t;
	struct stat	 st;
	char		 k[32], tmp[PATH_MAX + 16];
	off_t		 size, lim;
	pid_t		 c;
	int		 i, st2, killed = 0;

	t = mk("kw", PROTETS_SET, PROTETS_PUBLIC);
	for (i = 0; i < 3000; i++) {
		snprintf(k, sizeof(k), "key %d", i);
		put(t, k, strlen(k), "a value that takes some room....", 32);
	}
	/* Its size, from a save elsewhere. */
	ck_assert_int_eq(protets_save(t, fpath("whole")), 0);
	ck_assert_int_eq(stat(fpath("whole"), &st), 0);
	size = st.st_size;
	for (lim = 0; lim < size; lim = lim + 4096 < size - 1 ? lim + 4096 :
	    lim == size - 1 ? size : size - 1) {
		write_file(fpath("kw"), "previous", 8);
		c = fork();
		if (c == 0) {
			struct rlimit	 rl = { (rlim_t)lim, (rlim_t)lim };

			signal(SIGXFSZ, SIG_DFL);
			CHILD_CHECK(setrlimit(RLIMIT_FSIZE, &rl) == 0);
			(void)protets_save(t, fpath("kw"));
			_exit(0);
		}
		ck_assert_int_eq(waitpid(c, &st2, 0), c);
		ck_assert_msg(WIFSIGNALED(st2) && WTERMSIG(st2) == SIGXFSZ,
		    "limit %lld: status %d", (long long)lim, st2);
		killed++;
		ck_assert_msg(file_is(fpath("kw"), "previous"),
		    "limit %lld: the file is not the previous one",
		    (long long)lim);
		/* What the killed saver left beside it: its temporary file. */
		snprintf(tmp, sizeof(tmp), "rm -f %s.??????", fpath("kw"));
		ck_assert_int_eq(system(tmp), 0);
	}
	ck_assert_int_gt(killed, 10);
	ck_assert_int_eq(protets_save(t, fpath("kw")), 0);
	ck_assert_int_eq(stat(fpath("kw"), &st), 0);
	ck_assert_int_eq(st.st_size, size);
	protets_close(t);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("save");
	TCase	*tc = tcase_create("save");
	TCase	*tl = tcase_create("limits");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_roundtrip_set);
	tcase_add_test(tc, test_roundtrip_bag);
	tcase_add_test(tc, test_roundtrip_duplicate_bag);
	tcase_add_test(tc, test_roundtrip_ordered_set);
	tcase_add_test(tc, test_empty);
	tcase_add_test(tc, test_large);
	tcase_add_test(tc, test_bag_regions);
	tcase_add_test(tc, test_bag_interleaved);
	tcase_add_test(tc, test_exists);
	tcase_add_test(tc, test_opts);
	tcase_add_test(tc, test_hand_built);
	tcase_add_test(tc, test_corrupt);
	tcase_add_test(tc, test_full);
	tcase_add_test(tc, test_atomic_save);
	tcase_add_test(tc, test_save_killed_at_every_write);
	suite_add_tcase(s, tc);
	tcase_set_timeout(tl, 60);
	tcase_add_test(tl, test_uid_limit);
	suite_add_tcase(s, tl);
	return tu_run(s);
}
