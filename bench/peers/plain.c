/*
 * plain.c - the upper bound: the standard workload on a private,
 * in-process, single-process C chained hash table with no locks at all
 * (one malloc'd node per entry holding key, value and full hash; a bucket
 * array of pointers, a power of two >= 2N, so chains stay short and most
 * misses stop at an empty bucket: about two cache misses per lookup_hit,
 * one or two per lookup_miss).
 *
 * lookup_hit_2proc forks two processes that read the table they inherited
 * (copy-on-write pages, never written).
 *
 *	plain [-n N] [-r RUNS]		prints "plain PHASE OPS_PER_SEC"
 */
#include "peer.h"

struct node {
	struct node	*next;
	uint64_t	 hash;
	uint32_t	 klen, vlen;
	char		 data[];	/* key, then value */
};

static struct node	**bucket;
static uint64_t		  mask;

static uint64_t
hash(const void *k, size_t len)
{
	const unsigned char	*p = k;
	uint64_t		 h = 0x9e3779b97f4a7c15ull ^ len, w;

	for (; len >= 8; len -= 8, p += 8) {
		memcpy(&w, p, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	if (len > 0) {
		w = 0;
		memcpy(&w, p, len);
		h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
	}
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ull;
	return h ^ (h >> 32);
}

static struct node *
find(const void *k, size_t klen, uint64_t h)
{
	struct node *e;

	for (e = bucket[h & mask]; e != NULL; e = e->next)
		if (e->hash == h && e->klen == klen &&
		    memcmp(e->data, k, klen) == 0)
			return e;
	return NULL;
}

static void
put(const void *k, size_t klen, const void *v, size_t vlen)
{
	uint64_t	 h = hash(k, klen);
	struct node	*e = find(k, klen, h), **pp;

	if (e != NULL && e->vlen == vlen) {
		memcpy(e->data + klen, v, vlen);
		return;
	}
	if (e != NULL) {
		for (pp = &bucket[h & mask]; *pp != e; pp = &(*pp)->next)
			;
		*pp = e->next;
		free(e);
	}
	e = (struct node *)xmalloc(sizeof(*e) + klen + vlen);
	e->hash = h;
	e->klen = (uint32_t)klen;
	e->vlen = (uint32_t)vlen;
	memcpy(e->data, k, klen);
	memcpy(e->data + klen, v, vlen);
	e->next = bucket[h & mask];
	bucket[h & mask] = e;
}

static int
get(const void *k, size_t klen, void *buf, size_t bufsz, size_t *vlen)
{
	struct node *e = find(k, klen, hash(k, klen));

	if (e == NULL)
		return -1;
	*vlen = e->vlen;
	memcpy(buf, e->data + klen, e->vlen < bufsz ? e->vlen : bufsz);
	return 0;
}

static void
del(const void *k, size_t klen)
{
	uint64_t	 h = hash(k, klen);
	struct node	**pp, *e;

	for (pp = &bucket[h & mask]; (e = *pp) != NULL; pp = &e->next)
		if (e->hash == h && e->klen == klen &&
		    memcmp(e->data, k, klen) == 0) {
			*pp = e->next;
			free(e);
			return;
		}
}

/* Create-or-increment; the value is a native int64. */
static int64_t
incr(const void *k, size_t klen, int64_t by)
{
	uint64_t	 h = hash(k, klen);
	struct node	*e = find(k, klen, h);
	int64_t		 v = 0;

	if (e == NULL) {
		put(k, klen, &v, sizeof(v));
		e = find(k, klen, h);
	}
	memcpy(&v, e->data + klen, sizeof(v));
	v += by;
	memcpy(e->data + klen, &v, sizeof(v));
	return v;
}

static int
lookups(int p, const char *order)
{
	char		 buf[VALLEN];
	size_t		 i, vlen;
	unsigned	 sum = 0;

	(void)p;
	for (i = 0; i < n; i++) {
		if (get(order + i * KEYLEN, KEYLEN, buf, sizeof(buf), &vlen)
		    != 0 || vlen != VALLEN)
			return 1;
		sum += (unsigned char)buf[5];
	}
	return sum == 0;
}

static void
prep_none(int p)
{
	(void)p;
}

static void
run(void)
{
	char		 buf[VALLEN], k[16];
	size_t		 i, vlen;
	int64_t		 sum = 0, v;
	double		 t0;

	for (mask = 1; mask < 2 * n; mask <<= 1)
		;
	bucket = calloc(mask, sizeof(*bucket));
	if (bucket == NULL)
		fail("calloc", strerror(ENOMEM));
	mask--;

	t0 = now();
	for (i = 0; i < n; i++)
		put(keys + i * KEYLEN, KEYLEN, vals + i * VALLEN, VALLEN);
	record("insert", (double)n / (now() - t0));

	t0 = now();
	if (lookups(0, hit0) != 0)
		fail("lookup_hit", "a key is missing");
	record("lookup_hit", (double)n / (now() - t0));

	t0 = now();
	for (i = 0; i < n; i++)
		if (get(miss + i * KEYLEN, KEYLEN, buf, sizeof(buf), &vlen)
		    == 0)
			fail("lookup_miss", "a miss key is present");
	record("lookup_miss", (double)n / (now() - t0));

	t0 = now();
	for (i = 0; i < n; i++)
		incr(ctr + i * CTRLEN, CTRLEN, 1);
	record("counter", (double)n / (now() - t0));
	for (i = 0; i < NCTR; i++) {
		snprintf(k, sizeof(k), "ctr:%04zu", i);
		if (get(k, CTRLEN, &v, sizeof(v), &vlen) == 0)
			sum += v;
	}
	if (sum != (int64_t)n)
		fail("counter", "the counters do not sum to N");

	record("lookup_hit_2proc", two_proc(prep_none, lookups, NULL));

	t0 = now();
	for (i = 0; i < n; i++)
		del(keys + i * KEYLEN, KEYLEN);
	record("delete", (double)n / (now() - t0));

	for (i = 0; i < NCTR; i++) {
		snprintf(k, sizeof(k), "ctr:%04zu", i);
		del(k, CTRLEN);
	}
	free(bucket);
}

int
main(int argc, char *argv[])
{
	int r;

	peer_args(argc, argv, "plain [-n N] [-r RUNS]", NULL, NULL);
	workload_init();
	for (r = 0; r < runs; r++) {
		fprintf(stderr, "plain: run %d/%d\n", r + 1, runs);
		run();
	}
	report("plain");
	return 0;
}
