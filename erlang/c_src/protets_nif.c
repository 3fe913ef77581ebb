/*
 * protets_nif.c - the protets module's NIF: Erlang objects in protets
 * tables (erlang/src/protets.erl is the API; erlang/README.md the manual).
 *
 * A table handle is a resource holding a protets_table_t; its destructor
 * closes the mapping.  An object {K, ...} is stored under the key
 * pn_key_encode(element(KeyPos, Obj)) with term_to_binary(Obj) as its
 * value, so a set holds one object per key and a bag its objects in
 * insertion order, as in ETS.
 *
 * Schedulers.  Reads on a mapped table never wait (readers take no lock),
 * so they run on the normal schedulers.  Writes too: every handle has a
 * lock timeout of 0, so a write that meets a lock held by another process
 * returns PROTETS_ELOCKED at once and changes nothing; the NIF then
 * reschedules itself on a dirty I/O scheduler, where it retries, backing
 * off from 50 us to 10 ms, for up to PN_LOCK_WAIT_MS, then raises
 * {protets_error, elocked, ...}.  Calls to the daemon (connect, get, drop,
 * info, save, load) and walks of a whole table run on dirty schedulers
 * from the start.
 *
 * protets:drop/1 must close this node's handles of the table first (the
 * daemon refuses to drop a table a process holds).  Every operation
 * counts itself in the handle's users (an atomic add and subtract, never
 * a wait) and then reads its closed flag; drop sets the flag.  Both sides
 * use sequentially consistent atomics, so either the operation sees the
 * flag (and raises badarg, as ETS does on a deleted table) or drop sees
 * the operation.  Whoever sees the users at 0 with the flag set, drop or
 * the last operation, unmaps (pn_tab_unmap: once, by an atomic exchange)
 * and counts the handle out of pn_closing, which drop counted it into;
 * drop waits, on its dirty scheduler and holding no lock, for pn_closing
 * to reach 0 before it asks the daemon.  So the registry's mutex is only
 * ever held for a walk of the list: a handle's destructor, on a normal
 * scheduler, never waits behind a write stalled on a table's lock.
 *
 * update_counter, update_element and friends are read-modify-writes done
 * in Erlang around pn_cas: replace the object of a key if its stored bytes
 * are still the ones read.  The compare and the write happen under one
 * mutex of this node, which makes them atomic against this node's
 * processes only (libprotets has no compare-and-swap): see the README.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <erl_nif.h>

#include "protets.h"
#include "pn.h"

#define PN_LOCK_WAIT_MS	PROTETS_LOCK_TIMEOUT_MS
#define PN_BATCH_MAX	4096
#define PN_DROP_WAIT_MS	1000

/* ------------------------------------------------------------------ */
/* Errors. */

const char *
pn_code_name(int rc)
{
	static const char *const names[] = {
		"notfound", "exists", "einval", "eacces", "efull", "etoobig",
		"ecorrupt", "eformat", "eproto", "eversion", "econnect",
		"ebusy", "erange", "elimit", "eagain", "edaemon", "elocked",
		"efile", "emismatch", "estale"
	};

	if (rc <= PROTETS_ERRMAX && rc >= PROTETS_ERRMIN)
		return names[PROTETS_ERRMAX - rc];
	return "errno";
}

/* {error, Code, Message}: the daemon's words when it gave any. */
static ERL_NIF_TERM
pn_error(ErlNifEnv *env, int rc)
{
	const char	*msg = protets_errmsg();

	if (msg[0] == '\0')
		msg = protets_strerror(rc);
	return enif_make_tuple3(env, pn_a_error,
	    enif_make_atom(env, pn_code_name(rc)),
	    enif_make_string(env, msg, ERL_NIF_LATIN1));
}

/*
 * Raise an operation's error as ETS would: badarg for a bad argument or
 * a write to a read-only table, system_limit for a too large object or
 * batch; {protets_error, Code, Message} for the engine's own.
 */
static ERL_NIF_TERM
pn_raise(ErlNifEnv *env, int rc)
{
	switch (rc) {
	case PROTETS_EINVAL:
	case PROTETS_EACCES:
		return enif_make_badarg(env);
	case PROTETS_ETOOBIG:
	case PROTETS_ELIMIT:
		return enif_raise_exception(env, pn_a_sys);
	default:
		return enif_raise_exception(env, enif_make_tuple3(env,
		    pn_a_perr, enif_make_atom(env, pn_code_name(rc)),
		    enif_make_string(env, protets_strerror(rc),
		    ERL_NIF_LATIN1)));
	}
}

/* ------------------------------------------------------------------ */
/* Waiting: only on dirty schedulers. */

struct pn_wait {
	int		dirty;
	int64_t		deadline;	/* ms, monotonic; 0: not started */
	unsigned	sleep_us;
};

static int64_t
pn_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
pn_wait_init(struct pn_wait *w)
{
	w->dirty = enif_thread_type() != ERL_NIF_THR_NORMAL_SCHEDULER;
	w->deadline = 0;
	w->sleep_us = 50;
}

/* After a write returned rc: wait and try again? Dirty schedulers only. */
static int
pn_again(struct pn_wait *w, int rc)
{
	struct timespec	ts;
	int64_t		now;

	if (rc != PROTETS_ELOCKED || !w->dirty)
		return 0;
	now = pn_now_ms();
	if (w->deadline == 0)
		w->deadline = now + PN_LOCK_WAIT_MS;
	if (now >= w->deadline)
		return 0;
	ts.tv_sec = 0;
	ts.tv_nsec = (long)w->sleep_us * 1000;
	nanosleep(&ts, NULL);
	if (w->sleep_us < 10000)
		w->sleep_us *= 2;
	return 1;
}

typedef ERL_NIF_TERM (*pn_fn)(ErlNifEnv *, int, const ERL_NIF_TERM *);

static ERL_NIF_TERM
pn_dirty(ErlNifEnv *env, pn_fn fn, int argc, const ERL_NIF_TERM *argv)
{
	return enif_schedule_nif(env, "protets_dirty",
	    ERL_NIF_DIRTY_JOB_IO_BOUND, fn, argc, argv);
}

/* ------------------------------------------------------------------ */
/* Keys and objects. */

struct pn_key {
	unsigned char	buf[PROTETS_KEY_MAX];
	size_t		len;
};

static int
pn_key(ErlNifEnv *env, const struct pn_tab *tab, ERL_NIF_TERM k,
    struct pn_key *out)
{
	return pn_key_encode(env, k, tab->exact, out->buf, sizeof(out->buf),
	    &out->len) == 0;
}

/* The key of object o (a tuple of at least keypos elements). */
static int
pn_obj_key(ErlNifEnv *env, const struct pn_tab *tab, ERL_NIF_TERM o,
    struct pn_key *out)
{
	const ERL_NIF_TERM	*el;
	int			 n;

	if (!enif_get_tuple(env, o, &n, &el) || n < tab->keypos)
		return 0;
	return pn_key(env, tab, el[tab->keypos - 1], out);
}

static int
pn_decode(ErlNifEnv *env, const void *v, size_t vlen, ERL_NIF_TERM *out)
{
	return enif_binary_to_term(env, v, vlen, out, 0) != 0;
}

/* ------------------------------------------------------------------ */
/* Daemon calls (dirty I/O). */

/* connect(Socket :: binary() | undefined) -> Conn | {error, ...} */
static ERL_NIF_TERM
pn_connect(ErlNifEnv *env, int argc, const ERL_NIF_TERM *argv)
{
	char		 path[4096];
	ErlNifBinary	 b;
	struct pn_conn	*c;
	protets_t	*p;
	ERL_NIF_TERM	 r;
	int		 rc;

	(void)argc;
	if (enif_inspect_binary(env, argv[0], &b)) {
		if (b.size == 0 || b.size >= sizeof(path))
			return enif_make_badarg(env);
		memcpy(path, b.data, b.size);
		path[b.size] = '\0';
		rc = protets_connect(path, &p);
	} else
		rc = protets_connect(NULL, &p);
	if (rc != 0)
		return pn_error(env, rc);
	c = enif_alloc_resource(pn_conn_rt, sizeof(*c));
	c->p = p;
	r = enif_make_resource(env, c);
	enif_release_resource(c);
	return r;
}

static int
pn_name(ErlNifEnv *env, ERL_NIF_TERM t, char *buf)
{
	ErlNifBinary	b;

	if (!enif_inspect_binary(env, t, &b) || b.size == 0 ||
	    b.size > PROTETS_NAME_MAX)
		return 0;
	memcpy(buf, b.data, b.size);
	buf[b.size] = '\0';
	return 1;
}

/*
 * get(Conn, Name, Type, Access, WriteConcurrency, KeyPos, ErlName) ->
 * {ok, Tab} | error; KeyPos 0: the table's own
 */
static ERL_NIF_TERM
pn_get(ErlNifEnv *env, int argc, const ERL_NIF_TERM *argv)
{
	char		 name[PROTETS_NAME_MAX + 1];
	struct pn_conn	*c;
	protets_opts	 o;
	protets_table_t	*t;
	int		 type, access, wc, keypos, rc;

	(void)argc;
	memset(&o, 0, sizeof(o));
	if (!enif_get_resource(env, argv[0], pn_conn_rt, (void **)&c) ||
	    !pn_name(env, argv[1], name) ||
	    !enif_get_int(env, argv[2], &type) ||
	    !enif_get_int(env, argv[3], &access) ||
	    !enif_get_int(env, argv[4], &wc) || wc < 0 ||
	    !enif_get_int(env, argv[5], &keypos) || keypos < 0)
		return enif_make_badarg(env);
	o.type = (protets_type)type;
	o.access = (protets_access)access;
	o.write_concurrency = (uint32_t)wc;
	if ((rc = protets_get(c->p, name, &o, &t)) != 0)
		return pn_error(env, rc);
	return pn_tab_got(env, c, t, keypos, argv[6]);
}

/*
 * drop(Conn, Name) -> ok | error: this node's handles of the table
 * closed first (they raise badarg from then on).  The daemon may still
 * count one of them as held for a few milliseconds after it was closed
 * (a drop right after a get and a close answers PROTETS_EBUSY now and
 * then, reproduced with 300 get/insert/drop rounds: about 1 in 15); so
 * PROTETS_EBUSY is asked again, 1 ms then up to 32 ms apart, for up to
 * PN_DROP_WAIT_MS before it is returned: a table another process holds
 * stays busy that long and is then reported.
 */
static ERL_NIF_TERM
pn_drop(ErlNifEnv *env, int argc, const ERL_NIF_TERM *argv)
{
	char		 name[PROTETS_NAME_MAX + 1];
	struct pn_conn	*c;
	struct pn_tab	*tab;
	struct timespec	 ts = { 0, 1000000 };
	int64_t		 deadline = pn_now_ms() + PN_DROP_WAIT_MS;
	int		 rc;

	(void)argc;
	if (!enif_get_resource(env, argv[0], pn_conn_rt, (void **)&c) ||
	    !pn_name(env, argv[1], name))
		return enif_make_badarg(env);
	enif_mutex_lock(pn_reg_lock);
	for (tab = pn_reg; tab != NULL; tab = tab->next) {
		if (strcmp(tab->name, name) != 0)
			continue;
		pn_tab_close(tab);
	}
	enif_mutex_unlock(pn_reg_lock);
	pn_closing_wait();
	while ((rc = protets_drop(c->p, name)) == PROTETS_EBUSY &&
	    pn_now_ms() < deadline) {
		nanosleep(&ts, NULL);
		if (ts.tv_nsec < 32000000)
			ts.tv_nsec *= 2;
	}
	if (rc != 0)
		return pn_error(env, rc);
	return pn_a_ok;
}

/*
 * info(Tab) -> {Name, Type, Access, OwnerUid, WorkerPid, Entries,
 * BytesUsed, BytesMemory, WriteConcurrency, KeyPos} | error
 */
static ERL_NIF_TERM
pn_info(ErlNifEnv *env, int argc, const ERL_NIF_TERM *argv)
{
	struct pn_tab	*tab;
	protets_info	 in;
	ERL_NIF_TERM	 f[10];
	int		 rc;

	PN_TAB(env, pn_info, argc, argv, tab);
	rc = protets_info_get(tab->conn->p, tab->name, &in);
	pn_tab_put(tab);
	if (rc != 0)
		return pn_error(env, rc);
	f[0] = enif_make_string(env, in.name, ERL_NIF_LATIN1);
	f[1] = enif_make_atom(env, protets_type_name(in.type));
	f[2] = enif_make_atom(env, protets_access_name(in.access));
	f[3] = enif_make_uint(env, in.owner_uid);
	f[4] = enif_make_int(env, in.worker_pid);
	f[5] = enif_make_uint64(env, in.entries);
	f[6] = enif_make_uint64(env, in.bytes_used);
	f[7] = enif_make_uint64(env, in.bytes_memory);
	f[8] = enif_make_uint(env, in.write_concurrency);
	f[9] = enif_make_int(env, tab->keypos);
	return enif_make_tuple_from_array(env, f, 10);
}

static int
pn_path(ErlNifEnv *env, ERL_NIF_TERM t, char *buf, size_t bufsz)
{
	ErlNifBinary	b;

	if (!enif_inspect_binary(env, t, &b) || b.size == 0 ||
	    b.size >= bufsz || memchr(b.data, 0, b.size) != NULL)
		return 0;
	memcpy(buf, b.data, b.size);
	buf[b.size] = '\0';
	return 1;
}

/* save(Tab, Path) -> ok | error */
static ERL_NIF_TERM
pn_save(ErlNifEnv *env, int argc, const ERL_NIF_TERM *argv)
{
	char		 path[4096];
	struct pn_tab	*tab;
	int		 rc;

	if (!pn_path(env, argv[1], path, sizeof(path)))
		return enif_make_badarg(env);
	PN_TAB(env, pn_save, argc, argv, tab);
	rc = protets_save(tab->t, path);
	pn_tab_put(tab);
	return rc == 0 ? pn_a_ok : pn_error(env, rc);
}

/* load(Conn, Path) -> {ok, Tab} | error: the keypos the file's meta entry has */
static ERL_NIF_TERM
pn_load(ErlNifEnv *env, int argc, const ERL_NIF_TERM *argv)
{
	char		 path[4096];
	struct pn_conn	*c;
	protets_table_t	*t;
	int		 rc;

	(void)argc;
	if (!enif_get_resource(env, argv[0], pn_conn_rt, (void **)&c) ||
	    !pn_path(env, argv[1], path, sizeof(path)))
		return enif_make_badarg(env);
	if ((rc = protets_load(c->p, path, NULL, NULL, &t)) != 0)
		return pn_error(env, rc);
	return pn_tab_got(env, c, t, 0, enif_make_atom(env, "undefined"));
}

/* ------------------------------------------------------------------ */
/* Writes. */

struct pn_batch {
	protets_kv	*kv;
	ErlNifBinary	*val;
	unsigned char	*keys;		/* the encoded keys, one after another */
	size_t		 klen, kcap;
	size_t		 n;
};

static void
pn_batch_free(struct pn_batch *b)
{
	size_t	i;

	for (i = 0; i < b->n; i++)
		enif_release_binary(&b->val[i]);
	enif_free(b->kv);
	enif_free(b->val);
	enif_free(b->keys);
}

/* One object into the batch's slot b->n (its key's offset in kv[].key). */
static int
pn_batch_add(ErlNifEnv *env, const struct pn_tab *tab, struct pn_batch *b,
    ERL_NIF_TERM o)
{
	struct pn_key	 k;
	unsigned char	*nk;
	size_t		 i = b->n;

	if (!pn_obj_key(env, tab, o, &k))
		return 0;
	if (b->klen + k.len > b->kcap) {
		nk = enif_realloc(b->keys, 2 * (b->kcap + k.len));
		if (nk == NULL)
			return 0;
		b->keys = nk;
		b->kcap = 2 * (b->kcap + k.len);
	}
	if (!enif_term_to_binary(env, o, &b->val[i]))
		return 0;
	memcpy(b->keys + b->klen, k.buf, k.len);
	b->kv[i].key = (const void *)(uintptr_t)b->klen;
	b->kv[i].klen = k.len;
	b->kv[i].val = b->val[i].data;
	b->kv[i].vlen = b->val[i].size;
	b->klen += k.len;
	b->n++;
	return 1;
}

/* The keys' offsets become pointers, once the key buffer stops moving. */
static void
pn_batch_fix(struct pn_batch *b)
{
	size_t	i;

	for (i = 0; i < b->n; i++)
		b->kv[i].key = b->keys + (uintptr_t)b->kv[i].key;
}

/*
 * The objects of t (a tuple or a list of tuples): 1; 0: badarg; -1:
 * more than one batch may hold (system_limit).
 */
static int
pn_batch_make(ErlNifEnv *env, const struct pn_tab *tab, ERL_NIF_TERM t,
    struct pn_batch *b)
{
	ERL_NIF_TERM	h;
	unsigned	len = 1;

	memset(b, 0, sizeof(*b));
	if (enif_is_list(env, t) && (!enif_get_list_length(env, t, &len)))
		return 0;
	if (len > PN_BATCH_MAX)
		return -1;
	if (len == 0)
		return 1;
	b->kv = enif_alloc(len * sizeof(*b->kv));
	b->val = enif_alloc(len * sizeof(*b->val));
	if (b->kv == NULL || b->val == NULL)
		return 0;
	if (!enif_is_list(env, t)) {
		if (!pn_batch_add(env, tab, b, t))
			return 0;
	} else {
		while (enif_get_list_cell(env, t, &h, &t))
			if (!pn_batch_add(env, tab, b, h))
				return 0;
	}
	pn_batch_fix(b);
	return 1;
}

static ERL_NIF_TERM
pn_insert_any(ErlNifEnv *env, int argc, const ERL_NIF_TERM *argv, pn_fn self,
    int isnew)
{
	struct pn_tab	*tab;
	struct pn_batch	 b;
	struct pn_wait	 w;
	int		 rc, ok;

	PN_TAB(env, self, argc, argv, tab);
	if ((ok = pn_batch_make(env, tab, argv[1], &b)) <= 0) {
		pn_batch_free(&b);
		pn_tab_put(tab);
		return ok == 0 ? enif_make_badarg(env) :
		    enif_raise_exception(env, pn_a_sys);
	}
	pn_wait_init(&w);
	do {
		if (b.n == 0)
			rc = 0;
		else if (isnew)
			rc = protets_insert_new_many(tab->t, b.kv, b.n);
		else
			rc = protets_insert_many(tab->t, b.kv, b.n);
	} while (pn_again(&w, rc));
	pn_batch_free(&b);
	pn_tab_put(tab);
	if (rc == PROTETS_ELOCKED && !w.dirty)
		return pn_dirty(env, self, argc, argv);
	if (isnew && rc == PROTETS_EXISTS)
		return pn_a_false;
	return rc == 0 ? pn_a_true : pn_raise(env, rc);
}

/* insert(Tab, ObjOrList) -> true */
static ERL_NIF_TERM
pn_insert(ErlNifEnv *env, int argc, const ERL_NIF_TERM *argv)
{
	return pn_insert_any(env, argc, argv, pn_insert, 0);
}

/* insert_new(Tab, ObjOrList) -> boolean() */
static ERL_NIF_TERM
pn_insert_new(ErlNifEnv *env, int argc, const ERL_NIF_TERM *argv)
{
	return pn_insert_any(env, argc, argv, pn_insert_new, 1);
}

/* delete(Tab, Key) -> true */
static ERL_NIF_TERM
pn_delete(ErlNifEnv *env, int argc, const ERL_NIF_TERM *argv)
{
	struct pn_tab	*tab;
	struct pn_key	 k;
	struct pn_wait	 w;
	int		 rc;

	PN_TAB(env, pn_delete, argc, argv, tab);
	if (!pn_key(env, tab, argv[1], &k)) {
		pn_tab_put(tab);
		return enif_make_badarg(env);
	}
	pn_wait_init(&w);
	do
		rc = protets_delete(tab->t, k.buf, k.len);
	while (pn_again(&w, rc));
	pn_tab_put(tab);
	if (rc == PROTETS_ELOCKED && !w.dirty)
		return pn_dirty(env, pn_delete, argc, argv);
	return rc == 0 ? pn_a_true : pn_raise(env, rc);
}

/* delete_object(Tab, Obj) -> true */
static ERL_NIF_TERM
pn_delete_object(ErlNifEnv *env, int argc, const ERL_NIF_TERM *argv)
{
	struct pn_tab	*tab;
	struct pn_key	 k;
	struct pn_wait	 w;
	ErlNifBinary	 v;
	int		 rc;

	PN_TAB(env, pn_delete_object, argc, argv, tab);
	if (!pn_obj_key(env, tab, argv[1], &k) ||
	    !enif_term_to_binary(env, argv[1], &v)) {
		pn_tab_put(tab);
		return enif_make_badarg(env);
	}
	pn_wait_init(&w);
	do
		rc = protets_delete_object(tab->t, k.buf, k.len, v.data,
		    v.size);
	while (pn_again(&w, rc));
	enif_release_binary(&v);
	pn_tab_put(tab);
	if (rc == PROTETS_ELOCKED && !w.dirty)
		return pn_dirty(env, pn_delete_object, argc, argv);
	return rc == 0 ? pn_a_true : pn_raise(env, rc);
}

/* The stored bytes of key k into *out (a new binary); 0, or an error. */
static int
pn_lookup_raw(struct pn_tab *tab, const struct pn_key *k, ErlNifBinary *out)
{
	size_t	vlen;
	int	rc;

	if (!enif_alloc_binary(256, out))
		return ENOMEM;
	for (;;) {
		rc = protets_lookup(tab->t, k->buf, k->len, out->data,
		    out->size, &vlen);
		if (rc == PROTETS_ERANGE && enif_realloc_binary(out, vlen))
			continue;
		if (rc == 0)
			enif_realloc_binary(out, vlen);
		else
			enif_release_binary(out);
		return rc;
	}
}

/* delete_all_objects(Tab) -> true; dirty I/O */
static ERL_NIF_TERM
pn_delete_all(ErlNifEnv *env, int argc, const ERL_NIF_TERM *argv)
{
	struct pn_tab	*tab;
	struct pn_wait	 w;
	struct pn_key	 meta;
	ErlNifBinary	 mv;
	int		 rc;

	PN_TAB(env, pn_delete_all, argc, argv, tab);
	meta.buf[0] = 0;
	meta.len = 1;
	if (pn_lookup_raw(tab, &meta, &mv) != 0)
		mv.size = 0;
	pn_wait_init(&w);
	do
		rc = protets_delete_all_objects(tab->t);
	while (pn_again(&w, rc));
	/* the meta entry back (a get meanwhile may have written it) */
	if (rc == 0 && mv.size > 0) {
		pn_wait_init(&w);
		do
			rc = protets_insert_new(tab->t, pn_meta_key, 1, mv.data,
			    mv.size);
		while (pn_again(&w, rc));
		if (rc == PROTETS_EXISTS)
			rc = 0;
	}
	if (mv.size > 0)
		enif_release_binary(&mv);
	pn_tab_put(tab);
	return rc == 0 ? pn_a_true : pn_raise(env, rc);
}

struct pn_acc {
	ErlNifEnv	*env;
	ERL_NIF_TERM	 list;		/* reversed */
	int		 bad;
};

static int
pn_acc_fn(const void *key, size_t klen, const void *val, size_t vlen,
    void *arg)
{
	struct pn_acc	*a = arg;
	ERL_NIF_TERM	 o;

	if (key != NULL && pn_is_meta(key, klen))
		return 0;
	if (!pn_decode(a->env, val, vlen, &o)) {
		a->bad = 1;
		return 1;
	}
	a->list = enif_make_list_cell(a->env, o, a->list);
	return 0;
}

static ERL_NIF_TERM
pn_acc_result(struct pn_acc *a)
{
	ERL_NIF_TERM	r;

	enif_make_reverse_list(a->env, a->list, &r);
	return r;
}

/* take(Tab, Key) -> [Obj] */
static ERL_NIF_TERM
pn_take(ErlNifEnv *env, int argc, const ERL_NIF_TERM *argv)
{
	struct pn_tab	*tab;
	struct pn_key	 k;
	struct pn_wait	 w;
	struct pn_acc	 a = { env, enif_make_list(env, 0), 0 };
	int		 rc;

	PN_TAB(env, pn_take, argc, argv, tab);
	if (!pn_key(env, tab, argv[1], &k)) {
		pn_tab_put(tab);
		return enif_make_badarg(env);
	}
	pn_wait_init(&w);
	do
		rc = protets_take(tab->t, k.buf, k.len, pn_acc_fn, &a);
	while (pn_again(&w, rc));
	pn_tab_put(tab);
	if (rc == PROTETS_ELOCKED && !w.dirty)
		return pn_dirty(env, pn_take, argc, argv);
	if (rc == PROTETS_NOTFOUND)
		return enif_make_list(env, 0);
	if (rc != 0)
		return pn_raise(env, rc);
	return pn_acc_result(&a);
}


/*
 * cas(Tab, Old, New) -> boolean(): put object New if its key holds the
 * bytes Old (a binary), or holds nothing (Old = undefined); under this
 * node's cas mutex (set types only: update_counter, update_element).
 */
static ERL_NIF_TERM
pn_cas(ErlNifEnv *env, int argc, const ERL_NIF_TERM *argv)
{
	struct pn_tab	*tab;
	struct pn_key	 k;
	struct pn_wait	 w;
	ErlNifBinary	 old, cur, v;
	int		 rc, isnew;

	PN_TAB(env, pn_cas, argc, argv, tab);
	isnew = !enif_inspect_binary(env, argv[1], &old);
	if (!pn_obj_key(env, tab, argv[2], &k) ||
	    !enif_term_to_binary(env, argv[2], &v)) {
		pn_tab_put(tab);
		return enif_make_badarg(env);
	}
	pn_wait_init(&w);
	if (w.dirty)
		enif_mutex_lock(pn_cas_lock);
	else if (enif_mutex_trylock(pn_cas_lock) != 0) {
		rc = PROTETS_ELOCKED;
		goto out;
	}
	do {
		if (isnew) {
			rc = protets_insert_new(tab->t, k.buf, k.len, v.data,
			    v.size);
			continue;
		}
		rc = pn_lookup_raw(tab, &k, &cur);
		if (rc != 0)
			break;
		if (cur.size != old.size ||
		    memcmp(cur.data, old.data, old.size) != 0)
			rc = PROTETS_EXISTS;
		else
			rc = protets_insert(tab->t, k.buf, k.len, v.data,
			    v.size);
		enif_release_binary(&cur);
	} while (pn_again(&w, rc));
	enif_mutex_unlock(pn_cas_lock);
out:
	enif_release_binary(&v);
	pn_tab_put(tab);
	if (rc == PROTETS_ELOCKED && !w.dirty)
		return pn_dirty(env, pn_cas, argc, argv);
	if (rc == PROTETS_EXISTS || rc == PROTETS_NOTFOUND)
		return pn_a_false;
	return rc == 0 ? pn_a_true : pn_raise(env, rc);
}

/* ------------------------------------------------------------------ */
/* Reads. */

/* lookup(Tab, Key) -> [Obj] */
static ERL_NIF_TERM
pn_lookup(ErlNifEnv *env, int argc, const ERL_NIF_TERM *argv)
{
	unsigned char	 buf[1024];
	struct pn_tab	*tab;
	struct pn_key	 k;
	struct pn_acc	 a = { env, enif_make_list(env, 0), 0 };
	ErlNifBinary	 big;
	size_t		 vlen;
	int		 rc;

	PN_TAB(env, pn_lookup, argc, argv, tab);
	if (!pn_key(env, tab, argv[1], &k)) {
		pn_tab_put(tab);
		return enif_make_badarg(env);
	}
	if (tab->exact && tab->type != PROTETS_SET)
		rc = protets_lookup_each(tab->t, k.buf, k.len, pn_acc_fn, &a);
	else {
		rc = protets_lookup(tab->t, k.buf, k.len, buf, sizeof(buf),
		    &vlen);
		if (rc == 0)
			rc = pn_acc_fn(NULL, 0, buf, vlen, &a);
		else if (rc == PROTETS_ERANGE) {
			rc = pn_lookup_raw(tab, &k, &big);
			if (rc == 0) {
				rc = pn_acc_fn(NULL, 0, big.data, big.size,
				    &a);
				enif_release_binary(&big);
			}
		}
	}
	pn_tab_put(tab);
	if (rc == PROTETS_NOTFOUND)
		return enif_make_list(env, 0);
	if (a.bad)
		return pn_raise(env, PROTETS_ECORRUPT);
	if (rc != 0)
		return pn_raise(env, rc);
	return pn_acc_result(&a);
}

/* lookup_raw(Tab, Key) -> binary() | undefined: set types, for cas */
static ERL_NIF_TERM
pn_lookup_raw_nif(ErlNifEnv *env, int argc, const ERL_NIF_TERM *argv)
{
	struct pn_tab	*tab;
	struct pn_key	 k;
	ErlNifBinary	 v;
	int		 rc;

	PN_TAB(env, pn_lookup_raw_nif, argc, argv, tab);
	if (!pn_key(env, tab, argv[1], &k)) {
		pn_tab_put(tab);
		return enif_make_badarg(env);
	}
	rc = pn_lookup_raw(tab, &k, &v);
	pn_tab_put(tab);
	if (rc == PROTETS_NOTFOUND)
		return enif_make_atom(env, "undefined");
	if (rc != 0)
		return pn_raise(env, rc);
	return enif_make_binary(env, &v);
}

/* member(Tab, Key) -> boolean() */
static ERL_NIF_TERM
pn_member(ErlNifEnv *env, int argc, const ERL_NIF_TERM *argv)
{
	struct pn_tab	*tab;
	struct pn_key	 k;
	int		 rc;

	PN_TAB(env, pn_member, argc, argv, tab);
	if (!pn_key(env, tab, argv[1], &k)) {
		pn_tab_put(tab);
		return enif_make_badarg(env);
	}
	rc = protets_member(tab->t, k.buf, k.len);
	pn_tab_put(tab);
	if (rc == PROTETS_NOTFOUND)
		return pn_a_false;
	return rc == 0 ? pn_a_true : pn_raise(env, rc);
}

/*
 * The key term of the entries at encoded key kb: element KeyPos of its
 * first object.  0, PROTETS_NOTFOUND (gone meanwhile), or an error.
 */
static int
pn_key_term(ErlNifEnv *env, struct pn_tab *tab, const unsigned char *kb,
    size_t klen, ERL_NIF_TERM *out)
{
	struct pn_acc		 a = { env, enif_make_list(env, 0), 0 };
	const ERL_NIF_TERM	*el;
	ERL_NIF_TERM		 o, rest;
	int			 rc, n;

	rc = protets_lookup_each(tab->t, kb, klen, pn_acc_fn, &a);
	if (rc != 0)
		return rc;
	if (a.bad || !enif_get_list_cell(env, pn_acc_result(&a), &o, &rest) ||
	    !enif_get_tuple(env, o, &n, &el) || n < tab->keypos)
		return PROTETS_ECORRUPT;
	*out = el[tab->keypos - 1];
	return 0;
}

/*
 * first/last (argc 1), next/prev (argc 2): the key term, or
 * '$end_of_table'.  A key deleted between the step and the read of its
 * object is stepped over, and so is the meta entry.
 */
static ERL_NIF_TERM
pn_step(ErlNifEnv *env, int argc, const ERL_NIF_TERM *argv, pn_fn self,
    int back)
{
	struct pn_tab	*tab;
	struct pn_key	 k, nk;
	ERL_NIF_TERM	 r = pn_a_end;
	int		 rc;

	PN_TAB(env, self, argc, argv, tab);
	if (argc == 2 && !pn_key(env, tab, argv[1], &k)) {
		pn_tab_put(tab);
		return enif_make_badarg(env);
	}
	if (argc == 1)
		rc = back ? protets_last(tab->t, nk.buf, sizeof(nk.buf),
		    &nk.len) : protets_first(tab->t, nk.buf, sizeof(nk.buf),
		    &nk.len);
	else
		rc = back ? protets_prev(tab->t, k.buf, k.len, nk.buf,
		    sizeof(nk.buf), &nk.len) : protets_next(tab->t, k.buf,
		    k.len, nk.buf, sizeof(nk.buf), &nk.len);
	while (rc == 0 && (pn_is_meta(nk.buf, nk.len) || (rc = pn_key_term(env,
	    tab, nk.buf, nk.len, &r)) == PROTETS_NOTFOUND)) {
		k = nk;
		rc = back ? protets_prev(tab->t, k.buf, k.len, nk.buf,
		    sizeof(nk.buf), &nk.len) : protets_next(tab->t, k.buf,
		    k.len, nk.buf, sizeof(nk.buf), &nk.len);
	}
	pn_tab_put(tab);
	if (rc == PROTETS_NOTFOUND)
		return pn_a_end;
	return rc == 0 ? r : pn_raise(env, rc);
}

static ERL_NIF_TERM
pn_first(ErlNifEnv *env, int argc, const ERL_NIF_TERM *argv)
{
	return pn_step(env, argc, argv, pn_first, 0);
}

static ERL_NIF_TERM
pn_last(ErlNifEnv *env, int argc, const ERL_NIF_TERM *argv)
{
	return pn_step(env, argc, argv, pn_last, 1);
}

static ERL_NIF_TERM
pn_next(ErlNifEnv *env, int argc, const ERL_NIF_TERM *argv)
{
	return pn_step(env, argc, argv, pn_next, 0);
}

static ERL_NIF_TERM
pn_prev(ErlNifEnv *env, int argc, const ERL_NIF_TERM *argv)
{
	return pn_step(env, argc, argv, pn_prev, 1);
}

/* tab2list(Tab) -> [Obj], in key order on an ordered_set; dirty CPU */
static ERL_NIF_TERM
pn_tab2list(ErlNifEnv *env, int argc, const ERL_NIF_TERM *argv)
{
	struct pn_tab	*tab;
	struct pn_acc	 a = { env, enif_make_list(env, 0), 0 };
	int		 rc;

	PN_TAB(env, pn_tab2list, argc, argv, tab);
	rc = protets_foldl(tab->t, pn_acc_fn, &a);
	pn_tab_put(tab);
	if (a.bad)
		return pn_raise(env, PROTETS_ECORRUPT);
	if (rc != 0)
		return pn_raise(env, rc);
	return pn_acc_result(&a);
}

/* count(Tab) -> integer() */
static ERL_NIF_TERM
pn_count(ErlNifEnv *env, int argc, const ERL_NIF_TERM *argv)
{
	struct pn_tab	*tab;
	uint64_t	 n;
	int		 rc;

	PN_TAB(env, pn_count, argc, argv, tab);
	rc = protets_count(tab->t, &n);
	if (rc == 0 && n > 0 && protets_member(tab->t, pn_meta_key, 1) == 0)
		n--;
	pn_tab_put(tab);
	return rc == 0 ? enif_make_uint64(env, n) : pn_raise(env, rc);
}

/* props(Tab) -> {Type, KeyPos, Name, Writable} (no daemon call) */
static ERL_NIF_TERM
pn_props(ErlNifEnv *env, int argc, const ERL_NIF_TERM *argv)
{
	struct pn_tab	*tab;
	ERL_NIF_TERM	 r;

	PN_TAB(env, pn_props, argc, argv, tab);
	r = enif_make_tuple4(env,
	    enif_make_atom(env, protets_type_name(tab->type)),
	    enif_make_int(env, tab->keypos),
	    enif_make_string(env, tab->name, ERL_NIF_LATIN1),
	    protets_table_writable(tab->t) ? pn_a_true : pn_a_false);
	pn_tab_put(tab);
	return r;
}

/* meta(Tab) -> the meta entry's term, or undefined */
static ERL_NIF_TERM
pn_meta(ErlNifEnv *env, int argc, const ERL_NIF_TERM *argv)
{
	struct pn_tab	*tab;
	struct pn_key	 k;
	ErlNifBinary	 v;
	ERL_NIF_TERM	 r;
	int		 rc;

	PN_TAB(env, pn_meta, argc, argv, tab);
	k.buf[0] = 0;
	k.len = 1;
	rc = pn_lookup_raw(tab, &k, &v);
	pn_tab_put(tab);
	if (rc != 0)
		return enif_make_atom(env, "undefined");
	rc = pn_decode(env, v.data, v.size, &r);
	enif_release_binary(&v);
	return rc ? r : enif_make_atom(env, "undefined");
}

/* ------------------------------------------------------------------ */

static int
pn_load_nif(ErlNifEnv *env, void **priv, ERL_NIF_TERM info)
{
	(void)priv;
	(void)info;
	pn_conn_rt = enif_open_resource_type(env, NULL, "protets_conn",
	    pn_conn_dtor, ERL_NIF_RT_CREATE, NULL);
	pn_tab_rt = enif_open_resource_type(env, NULL, "protets_tab",
	    pn_tab_dtor, ERL_NIF_RT_CREATE, NULL);
	pn_reg_lock = enif_mutex_create("protets_reg");
	pn_cas_lock = enif_mutex_create("protets_cas");
	if (pn_conn_rt == NULL || pn_tab_rt == NULL || pn_reg_lock == NULL ||
	    pn_cas_lock == NULL)
		return 1;
	pn_a_ok = enif_make_atom(env, "ok");
	pn_a_true = enif_make_atom(env, "true");
	pn_a_false = enif_make_atom(env, "false");
	pn_a_error = enif_make_atom(env, "error");
	pn_a_end = enif_make_atom(env, "$end_of_table");
	pn_a_perr = enif_make_atom(env, "protets_error");
	pn_a_sys = enif_make_atom(env, "system_limit");
	return 0;
}

#define DIO	ERL_NIF_DIRTY_JOB_IO_BOUND
#define DCPU	ERL_NIF_DIRTY_JOB_CPU_BOUND

static ErlNifFunc pn_funcs[] = {
	{ "nif_connect", 1, pn_connect, DIO },
	{ "nif_get", 7, pn_get, DIO },
	{ "nif_drop", 2, pn_drop, DIO },
	{ "nif_info", 1, pn_info, DIO },
	{ "nif_save", 2, pn_save, DIO },
	{ "nif_load", 2, pn_load, DIO },
	{ "nif_insert", 2, pn_insert, 0 },
	{ "nif_insert_new", 2, pn_insert_new, 0 },
	{ "nif_delete", 2, pn_delete, 0 },
	{ "nif_delete_object", 2, pn_delete_object, 0 },
	{ "nif_delete_all_objects", 1, pn_delete_all, DIO },
	{ "nif_take", 2, pn_take, 0 },
	{ "nif_cas", 3, pn_cas, 0 },
	{ "nif_lookup", 2, pn_lookup, 0 },
	{ "nif_lookup_raw", 2, pn_lookup_raw_nif, 0 },
	{ "nif_member", 2, pn_member, 0 },
	{ "nif_first", 1, pn_first, 0 },
	{ "nif_last", 1, pn_last, 0 },
	{ "nif_next", 2, pn_next, 0 },
	{ "nif_prev", 2, pn_prev, 0 },
	{ "nif_tab2list", 1, pn_tab2list, DCPU },
	{ "nif_count", 1, pn_count, 0 },
	{ "nif_props", 1, pn_props, 0 },
	{ "nif_meta", 1, pn_meta, 0 },
};

ERL_NIF_INIT(protets, pn_funcs, pn_load_nif, NULL, NULL, NULL)
