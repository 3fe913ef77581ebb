/*
 * pn.h - the protets NIF's internal interface (erlang/c_src/).
 */
#ifndef PN_H
#define PN_H

#include <stddef.h>

#include <erl_nif.h>

#include "protets.h"

/* A connection to the daemon, a resource. */
struct pn_conn {
	protets_t	*p;
};

struct pn_tab {
	_Atomic int	 users;		/* operations running on t */
	_Atomic int	 closed;	/* set by drop: no new operation */
	_Atomic int	 unmapped;	/* t closed (pn_tab_unmap) */
	protets_table_t	*t;		/* NULL once closed by drop */
	struct pn_conn	*conn;		/* kept: info, save */
	int		 exact;		/* hash types: =:= keys */
	int		 type;
	int		 keypos;
	char		 name[PROTETS_NAME_MAX + 1];
	struct pn_tab	*next, *prev;	/* pn_reg */
};

/* protets_nif.c: the atom naming error code rc (protets' own, or errno's). */
const char	*pn_code_name(int rc);

/*
 * pn_tab.c: the resources of connections and tables, and their state.
 * PN_TAB: the usual head of a table operation: tab from argv[0], or
 * badarg.
 */
#define PN_TAB(env, fn, argc, argv, tab) do {				\
	(void)(fn);							\
	(void)(argc);							\
	if (!pn_tab_get((env), (argv)[0], &(tab)))			\
		return enif_make_badarg(env);				\
} while (0)

/* The meta entry's key: byte 0, which no encoded term starts with. */
extern const unsigned char pn_meta_key[1];

extern ErlNifResourceType	*pn_conn_rt, *pn_tab_rt;
extern ErlNifMutex		*pn_reg_lock, *pn_cas_lock;
extern struct pn_tab		*pn_reg;
extern _Atomic long		 pn_closing;	/* marked by drop, not unmapped */
extern ERL_NIF_TERM		 pn_a_ok, pn_a_true, pn_a_false, pn_a_error,
				 pn_a_end, pn_a_perr, pn_a_sys;

void	pn_conn_dtor(ErlNifEnv *env, void *obj);
void	pn_tab_dtor(ErlNifEnv *env, void *obj);
void	pn_tab_unmap(struct pn_tab *tab);
void	pn_tab_put(struct pn_tab *tab);
int	pn_tab_get(ErlNifEnv *env, ERL_NIF_TERM h, struct pn_tab **out);
void	pn_tab_close(struct pn_tab *tab);
void	pn_closing_wait(void);
int	pn_is_meta(const void *k, size_t klen);
int	pn_meta_read(ErlNifEnv *env, protets_table_t *t);
int	pn_meta_write(ErlNifEnv *env, protets_table_t *t, int keypos,
	    ERL_NIF_TERM name);
int	pn_meta_keypos(ErlNifEnv *env, protets_table_t *t, int want,
	    ERL_NIF_TERM name, int *had);
ERL_NIF_TERM pn_tab_new(ErlNifEnv *env, struct pn_conn *c,
	    protets_table_t *t, int keypos);
ERL_NIF_TERM pn_tab_got(ErlNifEnv *env, struct pn_conn *c,
	    protets_table_t *t, int want, ERL_NIF_TERM name);

/*
 * Encode term t as an order-keeping key (pn_key.c) into buf (cap bytes);
 * exact: numbers keep their kind (1 and 1.0 differ), for the hash types.
 * Returns 0 and sets *len, or -1: a term that cannot be a key (a pid,
 * reference, fun, port, map, a bitstring of odd bits) or too long.
 */
int	pn_key_encode(ErlNifEnv *env, ERL_NIF_TERM t, int exact,
	    unsigned char *buf, size_t cap, size_t *len);

#endif /* PN_H */
