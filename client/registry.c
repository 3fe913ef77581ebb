/*
 * registry.c - see registry.h.
 *
 * fd ownership: pt_map.fd belongs to the mapping; an fd handed to
 * pt_map_get for a segment already mapped is closed at once.
 */
#include <urcu-bp.h>
#include <urcu/rculfhash.h>

#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "protets.h"
#include "registry.h"

struct reg_entry {
	struct cds_lfht_node	 node;
	dev_t			 dev;
	ino_t			 ino;
	long			 refs;		/* uatomic; 0: being removed */
	struct pt_map		 map;
};

struct reg_key {
	dev_t	 dev;
	ino_t	 ino;
	int	 writable;
};

static struct cds_lfht	*reg_ht;
static pthread_once_t	 reg_once = PTHREAD_ONCE_INIT;

static void
reg_init(void)
{
	reg_ht = cds_lfht_new(16, 16, 0, CDS_LFHT_AUTO_RESIZE, NULL);
}

static unsigned long
reg_hash(const struct reg_key *k)
{
	uint64_t h = (uint64_t)k->ino * 0x9E3779B97F4A7C15ull ^
	    (uint64_t)k->dev ^ (uint64_t)k->writable;

	return (unsigned long)(h ^ (h >> 29));
}

static int
reg_match(struct cds_lfht_node *node, const void *key)
{
	const struct reg_entry	*e = caa_container_of(node, struct reg_entry,
				    node);
	const struct reg_key	*k = key;

	return e->dev == k->dev && e->ino == k->ino &&
	    e->map.writable == k->writable;
}

/* Take a reference unless the entry is already on its way out. */
static int
reg_ref(struct reg_entry *e)
{
	long	 r = uatomic_read(&e->refs);

	while (r > 0) {
		long seen = uatomic_cmpxchg(&e->refs, r, r + 1);

		if (seen == r)
			return 1;
		r = seen;
	}
	return 0;
}

static struct reg_entry *
reg_lookup(const struct reg_key *k)
{
	struct cds_lfht_iter	 it;
	struct cds_lfht_node	*node;
	struct reg_entry	*e = NULL;

	rcu_read_lock();
	cds_lfht_lookup(reg_ht, reg_hash(k), reg_match, k, &it);
	node = cds_lfht_iter_get_node(&it);
	if (node != NULL) {
		e = caa_container_of(node, struct reg_entry, node);
		if (!reg_ref(e))
			e = NULL;
	}
	rcu_read_unlock();
	return e;
}

static void
reg_unmap(struct reg_entry *e)
{
	if (e->map.base != NULL)
		munmap(e->map.base, e->map.size);
	close(e->map.fd);
	free(e);
}

static int
reg_map(struct reg_entry *e, int fd, size_t size, int writable)
{
	e->map.fd = fd;
	e->map.size = size;
	e->map.writable = writable;
	e->map.base = mmap(NULL, size, PROT_READ | (writable ? PROT_WRITE :
	    0), MAP_SHARED, fd, 0);
	if (e->map.base == MAP_FAILED) {
		e->map.base = NULL;
		return errno;
	}
	/*
	 * Never in a core dump: dumping the reservation would fault in
	 * every page of it (a read fault on a memfd's hole allocates), up to
	 * max_size bytes of memory, and write them out.
	 */
	(void)madvise(e->map.base, size, MADV_DONTDUMP);
	return tbl_open(&e->map.tbl, e->map.base, size, writable);
}

int
pt_map_get(int fd, int writable, struct pt_map **out)
{
	struct reg_entry	*e, *old;
	struct cds_lfht_node	*n;
	struct reg_key		 k;
	struct stat		 st;
	int			 rc;

	pthread_once(&reg_once, reg_init);
	if (reg_ht == NULL || fstat(fd, &st) == -1 || st.st_size <= 0) {
		rc = reg_ht == NULL ? ENOMEM : errno ? errno : PROTETS_ECORRUPT;
		close(fd);
		return rc;
	}
	k.dev = st.st_dev;
	k.ino = st.st_ino;
	k.writable = writable;
	if ((e = reg_lookup(&k)) != NULL) {
		close(fd);		/* the shared mapping has its own */
		*out = &e->map;
		return 0;
	}
	if ((e = calloc(1, sizeof(*e))) == NULL) {
		close(fd);
		return ENOMEM;
	}
	e->dev = k.dev;
	e->ino = k.ino;
	e->refs = 1;
	if ((rc = reg_map(e, fd, (size_t)st.st_size, writable)) != 0) {
		reg_unmap(e);
		return rc;
	}
	for (;;) {
		rcu_read_lock();
		n = cds_lfht_add_unique(reg_ht, reg_hash(&k), reg_match, &k,
		    &e->node);
		old = n == &e->node ? NULL :
		    caa_container_of(n, struct reg_entry, node);
		if (old == NULL || reg_ref(old)) {
			rcu_read_unlock();
			break;
		}
		rcu_read_unlock();
		/* The other entry is being removed: let it go, retry. */
		synchronize_rcu();
	}
	if (old != NULL) {
		/* Another thread mapped it first: use that mapping. */
		reg_unmap(e);
		e = old;
	}
	*out = &e->map;
	return 0;
}

void
pt_map_put(struct pt_map *m)
{
	struct reg_entry *e = caa_container_of(m, struct reg_entry, map);

	if (uatomic_sub_return(&e->refs, 1) != 0)
		return;
	rcu_read_lock();
	cds_lfht_del(reg_ht, &e->node);
	rcu_read_unlock();
	/* No reader may still be looking at it when we unmap. */
	synchronize_rcu();
	reg_unmap(e);
}
