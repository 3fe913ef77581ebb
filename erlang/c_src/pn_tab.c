/*
 * pn_tab.c - the protets NIF's handles: connections and tables as
 * resources (their destructors close what they hold), a table handle's
 * life (users, closed, unmapped: protets_nif.c's top comment says how
 * drop and the operations meet), the node's register of handles, and the
 * meta entry that keeps a table's keypos.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <erl_nif.h>

#include "pn.h"
#include "protets.h"

ErlNifResourceType	*pn_conn_rt, *pn_tab_rt;
ErlNifMutex		*pn_reg_lock, *pn_cas_lock;
struct pn_tab		*pn_reg;
_Atomic long		 pn_closing;	/* marked by drop, not unmapped */
ERL_NIF_TERM		 pn_a_ok, pn_a_true, pn_a_false, pn_a_error,
				 pn_a_end, pn_a_perr, pn_a_sys;

/* ------------------------------------------------------------------ */
/* Resources. */

void
pn_conn_dtor(ErlNifEnv *env, void *obj)
{
	struct pn_conn	*c = obj;

	(void)env;
	if (c->p != NULL)
		protets_disconnect(c->p);
}

void
pn_tab_dtor(ErlNifEnv *env, void *obj)
{
	struct pn_tab	*tab = obj;

	(void)env;
	enif_mutex_lock(pn_reg_lock);
	if (tab->prev != NULL)
		tab->prev->next = tab->next;
	else if (pn_reg == tab)
		pn_reg = tab->next;
	if (tab->next != NULL)
		tab->next->prev = tab->prev;
	enif_mutex_unlock(pn_reg_lock);
	/* drop unmaps every handle it marked before it could be freed */
	if (!atomic_exchange(&tab->unmapped, 1) && tab->t != NULL)
		protets_close(tab->t);
	if (tab->conn != NULL)
		enif_release_resource(tab->conn);
}

/* Unmap a handle drop closed, once; count it out of pn_closing. */
void
pn_tab_unmap(struct pn_tab *tab)
{
	if (atomic_exchange(&tab->unmapped, 1))
		return;
	protets_close(tab->t);
	atomic_fetch_sub(&pn_closing, 1);
}

void
pn_tab_put(struct pn_tab *tab)
{
	if (atomic_fetch_sub(&tab->users, 1) == 1 &&
	    atomic_load(&tab->closed))
		pn_tab_unmap(tab);
}

/* The table of term h, counted in its users: 1; 0: not a table or a closed one. */
int
pn_tab_get(ErlNifEnv *env, ERL_NIF_TERM h, struct pn_tab **out)
{
	struct pn_tab	*tab;

	if (!enif_get_resource(env, h, pn_tab_rt, (void **)&tab))
		return 0;
	atomic_fetch_add(&tab->users, 1);
	if (atomic_load(&tab->closed)) {
		pn_tab_put(tab);
		return 0;
	}
	*out = tab;
	return 1;
}

/*
 * Close the handle (drop, under pn_reg_lock): no new operation starts;
 * it is unmapped now if none runs, else by the last one to finish.
 */
void
pn_tab_close(struct pn_tab *tab)
{
	if (atomic_load(&tab->closed))
		return;
	atomic_fetch_add(&pn_closing, 1);
	atomic_store(&tab->closed, 1);
	if (atomic_load(&tab->users) == 0)
		pn_tab_unmap(tab);
}

/* Wait for every handle drop closed to be unmapped (dirty scheduler). */
void
pn_closing_wait(void)
{
	struct timespec	ts = { 0, 100000 };

	while (atomic_load(&pn_closing) > 0)
		nanosleep(&ts, NULL);
}

/*
 * A table's keypos lives in its meta entry: the key <<0>> (no encoded
 * term starts with the byte 0, so no object's key is it; it sorts first)
 * and the value term_to_binary({protets_meta, 1, KeyPos, Name}), Name
 * the Erlang term protets:get/2 was given (undefined from file2tab; a
 * name too long for the daemon is a hash there: erlang/README.md).  Every walk,
 * count and list here steps over it; protets save/load carry it, so
 * file2tab gets the keypos back.
 */
const unsigned char pn_meta_key[1] = { 0 };

int
pn_is_meta(const void *k, size_t klen)
{
	return klen == 1 && *(const unsigned char *)k == 0;
}

/* The keypos t's meta entry records: > 0; 0: none (or not ours). */
int
pn_meta_read(ErlNifEnv *env, protets_table_t *t)
{
	unsigned char		 buf[64];
	const ERL_NIF_TERM	*el;
	ERL_NIF_TERM		 v;
	size_t			 vlen;
	int			 n, kp;

	if (protets_lookup(t, pn_meta_key, 1, buf, sizeof(buf), &vlen) != 0 ||
	    !enif_binary_to_term(env, buf, vlen, &v, 0) ||
	    !enif_get_tuple(env, v, &n, &el) || n < 3 ||
	    !enif_get_int(env, el[2], &kp) || kp < 1)
		return 0;
	return kp;
}

int
pn_meta_write(ErlNifEnv *env, protets_table_t *t, int keypos,
    ERL_NIF_TERM name)
{
	ErlNifBinary	b;
	int		rc;

	if (!enif_term_to_binary(env, enif_make_tuple4(env,
	    enif_make_atom(env, "protets_meta"), enif_make_int(env, 1),
	    enif_make_int(env, keypos), name), &b))
		return ENOMEM;
	rc = protets_insert_new(t, pn_meta_key, 1, b.data, b.size);
	enif_release_binary(&b);
	return rc;
}

/*
 * The keypos of table t, just got (dirty scheduler): its meta entry's,
 * which want (0: any) must be; a table without one, writable, is given
 * one (want, or 1).  Returns the keypos, or a negative error
 * (PROTETS_EMISMATCH: *had is the table's).
 */
int
pn_meta_keypos(ErlNifEnv *env, protets_table_t *t, int want,
    ERL_NIF_TERM name, int *had)
{
	int	kp, rc, i, dflt = want > 0 ? want : 1;

	for (i = 0; i < 3; i++) {
		if ((kp = pn_meta_read(env, t)) > 0) {
			*had = kp;
			return want == 0 || want == kp ? kp : PROTETS_EMISMATCH;
		}
		if (!protets_table_writable(t))
			return dflt;
		if ((rc = pn_meta_write(env, t, dflt, name)) == 0)
			return dflt;
		if (rc != PROTETS_EXISTS)
			return rc;
	}
	return dflt;
}

ERL_NIF_TERM
pn_tab_new(ErlNifEnv *env, struct pn_conn *c, protets_table_t *t, int keypos)
{
	struct pn_tab	*tab;
	ERL_NIF_TERM	 r;

	tab = enif_alloc_resource(pn_tab_rt, sizeof(*tab));
	memset(tab, 0, sizeof(*tab));
	tab->t = t;
	tab->conn = c;
	enif_keep_resource(c);
	tab->type = protets_table_type(t);
	tab->exact = tab->type != PROTETS_ORDERED_SET;
	tab->keypos = keypos;
	strncpy(tab->name, protets_table_name(t), PROTETS_NAME_MAX);
	protets_set_lock_timeout(t, 0);
	enif_mutex_lock(pn_reg_lock);
	tab->next = pn_reg;
	if (pn_reg != NULL)
		pn_reg->prev = tab;
	pn_reg = tab;
	enif_mutex_unlock(pn_reg_lock);
	r = enif_make_resource(env, tab);
	enif_release_resource(tab);
	return r;
}

/*
 * A table just got, with keypos want (0: the table's) and Erlang name
 * name: {ok, Tab} or error.
 */
ERL_NIF_TERM
pn_tab_got(ErlNifEnv *env, struct pn_conn *c, protets_table_t *t, int want,
    ERL_NIF_TERM name)
{
	char	msg[PROTETS_NAME_MAX + 64];
	int	kp, had = 0;

	if ((kp = pn_meta_keypos(env, t, want, name, &had)) > 0)
		return enif_make_tuple2(env, pn_a_ok, pn_tab_new(env, c, t, kp));
	if (kp == PROTETS_EMISMATCH)
		snprintf(msg, sizeof(msg), "table %s exists with keypos %d",
		    protets_table_name(t), had);
	else
		snprintf(msg, sizeof(msg), "%s", protets_strerror(kp));
	protets_close(t);
	return enif_make_tuple3(env, pn_a_error,
	    enif_make_atom(env, pn_code_name(kp)),
	    enif_make_string(env, msg, ERL_NIF_LATIN1));
}
