/*
 * pn.h - the protets NIF's internal interface (erlang/c_src/).
 */
#ifndef PN_H
#define PN_H

#include <stddef.h>

#include <erl_nif.h>

/*
 * Encode term t as an order-keeping key (pn_key.c) into buf (cap bytes);
 * exact: numbers keep their kind (1 and 1.0 differ), for the hash types.
 * Returns 0 and sets *len, or -1: a term that cannot be a key (a pid,
 * reference, fun, port, map, a bitstring of odd bits) or too long.
 */
int	pn_key_encode(ErlNifEnv *env, ERL_NIF_TERM t, int exact,
	    unsigned char *buf, size_t cap, size_t *len);

#endif /* PN_H */
