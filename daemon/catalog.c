/*
 * catalog.c - see catalog.h.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "catalog.h"
#include "log.h"
#include "segment.h"
#include "wire.h"

int
cat_create(struct catalog *c, uint32_t nentries, uint32_t nworkers)
{
	pthread_mutexattr_t	 a;
	void			*base;
	size_t			 size;

	size = sizeof(struct cat_hdr) + (size_t)nentries *
	    sizeof(struct cat_entry);
	size = (size + 4095) & ~(size_t)4095;
	if ((c->fd = seg_create("catalog", size, 1)) == -1)
		return -1;
	if (seg_map(c->fd, 1, &base, &c->size) == -1) {
		close(c->fd);
		return -1;
	}
	c->hdr = base;
	c->hdr->magic = CAT_MAGIC;
	c->hdr->version = CAT_VERSION;
	c->hdr->nentries = nentries;
	c->hdr->nworkers = nworkers;
	c->hdr->next_id = 1;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&c->hdr->lock, &a);
	pthread_mutexattr_destroy(&a);
	return 0;
}

void
cat_destroy(struct catalog *c)
{
	if (c->hdr != NULL)
		munmap(c->hdr, c->size);
	if (c->fd != -1)
		close(c->fd);
	c->hdr = NULL;
	c->fd = -1;
}

void
cat_lock(struct catalog *c)
{
	int	 rc;

	rc = pthread_mutex_lock(&c->hdr->lock);
	if (rc == EOWNERDEAD) {
		/*
		 * Every catalog change is a single atomic store, so the
		 * dead holder left nothing half-done: just recover.
		 */
		log_warnx("catalog: previous lock holder died; recovered");
		pthread_mutex_consistent(&c->hdr->lock);
	} else if (rc != 0)
		fatalx("catalog lock: %s", strerror(rc));
}

void
cat_unlock(struct catalog *c)
{
	pthread_mutex_unlock(&c->hdr->lock);
}

uint32_t
cat_state(const struct cat_entry *e)
{
	return __atomic_load_n(&e->state, __ATOMIC_ACQUIRE);
}

void
cat_set_state(struct cat_entry *e, uint32_t s)
{
	__atomic_store_n(&e->state, s, __ATOMIC_RELEASE);
}

struct cat_entry *
cat_find(struct catalog *c, const char *name)
{
	size_t		 len = strlen(name);
	uint32_t	 i;

	for (i = 0; i < c->hdr->nentries; i++) {
		struct cat_entry *e = &c->hdr->entries[i];

		if (cat_state(e) != CAT_FREE && e->name_len == len &&
		    memcmp(e->name, name, len) == 0)
			return e;
	}
	return NULL;
}

struct cat_entry *
cat_find_id(struct catalog *c, uint64_t id)
{
	uint32_t	 i;

	for (i = 0; i < c->hdr->nentries; i++) {
		struct cat_entry *e = &c->hdr->entries[i];

		if (cat_state(e) != CAT_FREE && e->id == id)
			return e;
	}
	return NULL;
}

struct cat_entry *
cat_alloc(struct catalog *c, uint32_t max_tables)
{
	struct cat_entry	*free_e = NULL;
	uint32_t		 i, used = 0;

	for (i = 0; i < c->hdr->nentries; i++) {
		struct cat_entry *e = &c->hdr->entries[i];

		if (cat_state(e) != CAT_FREE)
			used++;
		else if (free_e == NULL)
			free_e = e;
	}
	if (used >= max_tables)
		return NULL;
	if (free_e != NULL) {
		memset(free_e, 0, sizeof(*free_e));
		free_e->id = c->hdr->next_id++;
	}
	return free_e;
}

uint32_t
cat_count_slot(struct catalog *c, int slot)
{
	uint32_t	 i, n = 0;

	for (i = 0; i < c->hdr->nentries; i++)
		if (cat_state(&c->hdr->entries[i]) != CAT_FREE &&
		    c->hdr->entries[i].worker == slot)
			n++;
	return n;
}

uint32_t
cat_count_uid(struct catalog *c, uint32_t uid)
{
	uint32_t	 i, n = 0;

	for (i = 0; i < c->hdr->nentries; i++)
		if (cat_state(&c->hdr->entries[i]) != CAT_FREE &&
		    c->hdr->entries[i].owner_uid == uid)
			n++;
	return n;
}

int
cat_least_loaded(struct catalog *c)
{
	uint32_t	 n, best = UINT32_MAX;
	int		 slot, pick = 0;

	for (slot = 0; slot < (int)c->hdr->nworkers; slot++) {
		n = cat_count_slot(c, slot);
		if (n < best) {
			best = n;
			pick = slot;
		}
	}
	return pick;
}

void
cat_set_proc(struct cat_proc *p, pid_t pid, uint32_t count)
{
	__atomic_store_n(&p->count, count, __ATOMIC_RELAXED);
	__atomic_store_n(&p->pid, (int32_t)pid, __ATOMIC_RELEASE);
}

pid_t
cat_proc_pid(const struct cat_proc *p)
{
	return __atomic_load_n(&p->pid, __ATOMIC_ACQUIRE);
}

uint32_t
cat_proc_count(const struct cat_proc *p)
{
	return __atomic_load_n(&p->count, __ATOMIC_RELAXED);
}

uint64_t
cat_bytes_uid(struct catalog *c, uint32_t uid)
{
	uint64_t	 sum = 0;
	uint32_t	 i;

	for (i = 0; i < c->hdr->nentries; i++)
		if (cat_state(&c->hdr->entries[i]) != CAT_FREE &&
		    c->hdr->entries[i].owner_uid == uid)
			sum += __atomic_load_n(&c->hdr->entries[i].used,
			    __ATOMIC_RELAXED);
	return sum;
}

uint32_t
cat_conn_total(struct catalog *c, uint32_t uid)
{
	uint32_t	 total = 0;
	int		 w, i;

	for (w = 0; w < (int)c->hdr->nworkers; w++)
		for (i = 0; i < CAT_UID_SLOTS; i++) {
			struct cat_uidconn *u = &c->hdr->conns[w][i];
			uint32_t n = __atomic_load_n(&u->count, __ATOMIC_ACQUIRE);

			if (n > 0 && __atomic_load_n(&u->uid,
			    __ATOMIC_RELAXED) == uid)
				total += n;
		}
	return total;
}

int
cat_conn_add(struct catalog *c, int slot, uint32_t uid, int delta)
{
	struct cat_uidconn	*row = c->hdr->conns[slot], *free_u = NULL;
	int			 i;

	for (i = 0; i < CAT_UID_SLOTS; i++) {
		if (row[i].count > 0 && row[i].uid == uid) {
			__atomic_store_n(&row[i].count,
			    row[i].count + (uint32_t)delta, __ATOMIC_RELEASE);
			return 0;
		}
		if (row[i].count == 0 && free_u == NULL)
			free_u = &row[i];
	}
	if (delta < 0 || free_u == NULL)
		return -1;
	__atomic_store_n(&free_u->uid, uid, __ATOMIC_RELAXED);
	__atomic_store_n(&free_u->count, 1, __ATOMIC_RELEASE);
	return 0;
}

void
cat_conn_reset(struct catalog *c, int slot)
{
	int	 i;

	for (i = 0; i < CAT_UID_SLOTS; i++)
		__atomic_store_n(&c->hdr->conns[slot][i].count, 0,
		    __ATOMIC_RELEASE);
}

_Static_assert(PROTETS_ERRMAX - PROTETS_ERRMIN + 1 < CAT_STAT_ERRS &&
    WIRE_OP_MAX < CAT_STAT_REQS, "room for every code and request");

void
cat_stat_reply(struct catalog *c, unsigned op, int32_t status)
{
	unsigned	e;

	CAT_STAT_ADD(c, requests[op < CAT_STAT_REQS ? op : 0], 1);
	if (status == 0)
		return;
	if (status >= PROTETS_ERRMIN && status <= PROTETS_ERRMAX)
		e = (unsigned)(PROTETS_ERRMAX - status);
	else
		e = CAT_STAT_ERRS - 1;
	if (e >= CAT_STAT_ERRS)
		e = CAT_STAT_ERRS - 1;
	CAT_STAT_ADD(c, errors[e], 1);
}
