/*
 * pn_key.c - Erlang terms to protets keys that keep Erlang's term order.
 *
 * protets orders an ordered_set by memcmp of the key bytes, a key before
 * its extensions.  pn_key_encode writes a term so that memcmp of two
 * encodings orders them as Erlang's term order does (numbers < atoms <
 * tuples < [] < lists < binaries; the types in between, references, funs,
 * ports, pids and maps, are refused: see erlang/README.md), and so that
 * no encoding is a proper prefix of another (every part delimits itself):
 *
 *   number    0x10 (negative), 0x11 (zero) or 0x12 (positive); then, for
 *             a non-zero value |v| = 1.b1b2b3... x 2^E (exact: a float is
 *             a dyadic rational, an integer one too), E + 0x8000 in two
 *             bytes big-endian, then the bits b1 b2 ... up to the last 1,
 *             seven to a byte, each byte (bits << 1) | more (more: 1 if
 *             another byte follows); a power of two has the one byte 0x00.
 *             A negative number's bytes after the tag are complemented.
 *             Integers and floats so compare by value, as Erlang does.
 *   atom      0x20, then the UTF-8 name, escaped as a binary
 *   tuple     0x60, the arity in 4 bytes big-endian, then each element
 *             (Erlang compares tuples by size first)
 *   []        0x70
 *   [H|T]     0x71, H, then T (a list is [] or 0x71...; an improper tail
 *             is any term, which compares as Erlang compares it)
 *   binary    0x80, the bytes with each 0x00 written 0x00 0xff, then the
 *             terminator 0x00 0x01 (so a binary sorts before its
 *             extensions); bitstrings that are not whole bytes are refused
 *
 * With exact set (set, bag, duplicate_bag: ETS compares their keys with
 * =:=) each non-zero number and zero is followed by 0x00 for an integer,
 * 0x01 for a float, so 1 and 1.0 are two keys; an ordered_set compares
 * keys with == and leaves it out, so they are one key there, as in ETS.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "pn.h"

enum {
	PK_NEG = 0x10, PK_ZERO = 0x11, PK_POS = 0x12, PK_ATOM = 0x20,
	PK_TUPLE = 0x60, PK_NIL = 0x70, PK_CONS = 0x71, PK_BIN = 0x80
};

struct pk_out {
	unsigned char	*buf;
	size_t		 len;
	size_t		 cap;
	int		 exact;
};

static int
pk_put(struct pk_out *o, unsigned char c)
{
	if (o->len >= o->cap)
		return -1;
	o->buf[o->len++] = c;
	return 0;
}

/* Bytes, each 0x00 as 0x00 0xff, then 0x00 0x01. */
static int
pk_bytes(struct pk_out *o, const unsigned char *p, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (pk_put(o, p[i]) < 0)
			return -1;
		if (p[i] == 0 && pk_put(o, 0xff) < 0)
			return -1;
	}
	if (pk_put(o, 0) < 0 || pk_put(o, 1) < 0)
		return -1;
	return 0;
}

/* Bit i of a big-endian magnitude of n bytes, i from the least significant. */
static int
pk_bit(const unsigned char *m, size_t n, size_t i)
{
	return (m[n - 1 - i / 8] >> (i % 8)) & 1;
}

/*
 * A non-zero magnitude m (n bytes, big-endian, m[0] != 0), whose leading 1
 * stands for 2^e: the exponent and the bits after the leading one.
 */
static int
pk_mag(struct pk_out *o, const unsigned char *m, size_t n, long e, int neg)
{
	size_t	top, low, i, start = o->len;
	unsigned	grp = 0, ng = 0;
	long	be = e + 0x8000;

	if (be < 0 || be > 0xffff)
		return -1;
	top = 8 * n - 1 - (size_t)__builtin_clz(m[0]) + 24;
	for (low = 0; low < top && !pk_bit(m, n, low); low++)
		;
	if (pk_put(o, (unsigned char)(be >> 8)) < 0 ||
	    pk_put(o, (unsigned char)be) < 0)
		return -1;
	if (low == top) {
		if (pk_put(o, 0) < 0)
			return -1;
	} else {
		for (i = top; i-- > low;) {
			grp = (grp << 1) | (unsigned)pk_bit(m, n, i);
			if (++ng == 7 || i == low) {
				grp <<= 7 - ng;
				if (pk_put(o, (unsigned char)((grp << 1) |
				    (i != low))) < 0)
					return -1;
				grp = 0;
				ng = 0;
			}
		}
	}
	if (neg)
		for (i = start; i < o->len; i++)
			o->buf[i] = (unsigned char)~o->buf[i];
	return 0;
}

static int
pk_num_tail(struct pk_out *o, int isfloat)
{
	return o->exact ? pk_put(o, isfloat ? 1 : 0) : 0;
}

static int
pk_u64(struct pk_out *o, uint64_t v, int neg)
{
	unsigned char	m[8];
	size_t		n = 0, i;
	int		bits;

	for (i = 0; i < 8; i++) {
		unsigned char c = (unsigned char)(v >> (56 - 8 * i));
		if (n > 0 || c != 0)
			m[n++] = c;
	}
	bits = 64 - __builtin_clzll(v);
	if (pk_put(o, neg ? PK_NEG : PK_POS) < 0 ||
	    pk_mag(o, m, n, bits - 1, neg) < 0)
		return -1;
	return pk_num_tail(o, 0);
}

static int
pk_float(struct pk_out *o, double d)
{
	unsigned char	m[8];
	uint64_t	mant;
	int		e, i;

	if (d == 0.0) {
		if (pk_put(o, PK_ZERO) < 0)
			return -1;
		return pk_num_tail(o, 1);
	}
	/* d = f x 2^e, 0.5 <= |f| < 1: 53 bits, the leading one bit 52. */
	mant = (uint64_t)ldexp(fabs(frexp(d, &e)), 53);
	for (i = 0; i < 8; i++)
		m[i] = (unsigned char)(mant >> (56 - 8 * i));
	if (pk_put(o, d < 0 ? PK_NEG : PK_POS) < 0 ||
	    pk_mag(o, m + 1, 7, e - 1, d < 0) < 0)
		return -1;
	return pk_num_tail(o, 1);
}

/*
 * A bignum, through its external format: SMALL_BIG_EXT (110) or
 * LARGE_BIG_EXT (111), the digits little-endian.
 */
static int
pk_bignum(ErlNifEnv *env, struct pk_out *o, ERL_NIF_TERM t)
{
	ErlNifBinary	 b;
	unsigned char	*m = NULL;
	size_t		 n, hdr, i;
	int		 neg, rc = -1, bits;

	if (!enif_term_to_binary(env, t, &b))
		return -1;
	if (b.size >= 4 && b.data[1] == 110) {
		n = b.data[2];
		hdr = 3;
	} else if (b.size >= 7 && b.data[1] == 111) {
		n = (size_t)b.data[2] << 24 | (size_t)b.data[3] << 16 |
		    (size_t)b.data[4] << 8 | b.data[5];
		hdr = 6;
	} else
		goto out;
	if (b.size < hdr + 1 + n || n == 0 || n > 4096)
		goto out;
	neg = b.data[hdr];
	while (n > 0 && b.data[hdr + n] == 0)
		n--;
	if (n == 0 || (m = enif_alloc(n)) == NULL)
		goto out;
	for (i = 0; i < n; i++)
		m[i] = b.data[hdr + n - i];
	bits = (int)(8 * n) - __builtin_clz(m[0]) + 24;
	if (pk_put(o, neg ? PK_NEG : PK_POS) == 0 &&
	    pk_mag(o, m, n, bits - 1, neg) == 0)
		rc = pk_num_tail(o, 0);
out:
	enif_free(m);
	enif_release_binary(&b);
	return rc;
}

static int
pk_number(ErlNifEnv *env, struct pk_out *o, ERL_NIF_TERM t)
{
	ErlNifSInt64	i;
	double		d;

	if (enif_get_int64(env, t, &i)) {
		if (i == 0) {
			if (pk_put(o, PK_ZERO) < 0)
				return -1;
			return pk_num_tail(o, 0);
		}
		return pk_u64(o, i < 0 ? -(uint64_t)i : (uint64_t)i, i < 0);
	}
	if (enif_get_double(env, t, &d))
		return pk_float(o, d);
	return pk_bignum(env, o, t);
}

static int pk_term(ErlNifEnv *, struct pk_out *, ERL_NIF_TERM, int);

static int
pk_tuple(ErlNifEnv *env, struct pk_out *o, ERL_NIF_TERM t, int depth)
{
	const ERL_NIF_TERM	*el;
	int			 n, i;

	if (!enif_get_tuple(env, t, &n, &el))
		return -1;
	if (pk_put(o, PK_TUPLE) < 0 || pk_put(o, (unsigned char)(n >> 24)) < 0 ||
	    pk_put(o, (unsigned char)(n >> 16)) < 0 ||
	    pk_put(o, (unsigned char)(n >> 8)) < 0 ||
	    pk_put(o, (unsigned char)n) < 0)
		return -1;
	for (i = 0; i < n; i++)
		if (pk_term(env, o, el[i], depth + 1) < 0)
			return -1;
	return 0;
}

static int
pk_list(ErlNifEnv *env, struct pk_out *o, ERL_NIF_TERM t, int depth)
{
	ERL_NIF_TERM	h;

	while (enif_get_list_cell(env, t, &h, &t)) {
		if (pk_put(o, PK_CONS) < 0 || pk_term(env, o, h, depth + 1) < 0)
			return -1;
	}
	if (enif_is_empty_list(env, t))
		return pk_put(o, PK_NIL);
	return pk_term(env, o, t, depth + 1);
}

/*
 * An atom's name in UTF-8 into u (1024 bytes): through enif_get_atom for
 * a Latin-1 name (OTP 25 has no UTF-8 there), else through the external
 * format's ATOM_UTF8_EXT (118) or SMALL_ATOM_UTF8_EXT (119).
 */
static int
pk_atom_utf8(ErlNifEnv *env, ERL_NIF_TERM t, unsigned char *u, size_t *len)
{
	char		l1[256];
	ErlNifBinary	b;
	size_t		i, n = 0, m, hdr;
	int		r;

	r = enif_get_atom(env, t, l1, sizeof(l1), ERL_NIF_LATIN1);
	if (r > 0) {
		for (i = 0; i < (size_t)r - 1; i++) {
			unsigned char c = (unsigned char)l1[i];
			if (c < 0x80)
				u[n++] = c;
			else {
				u[n++] = (unsigned char)(0xc0 | c >> 6);
				u[n++] = (unsigned char)(0x80 | (c & 0x3f));
			}
		}
		*len = n;
		return 0;
	}
	if (!enif_term_to_binary(env, t, &b))
		return -1;
	r = -1;
	if (b.size >= 3 && b.data[1] == 119) {
		m = b.data[2];
		hdr = 3;
	} else if (b.size >= 4 && b.data[1] == 118) {
		m = (size_t)b.data[2] << 8 | b.data[3];
		hdr = 4;
	} else
		goto out;
	if (m <= 1024 && b.size >= hdr + m) {
		memcpy(u, b.data + hdr, m);
		*len = m;
		r = 0;
	}
out:
	enif_release_binary(&b);
	return r;
}

static int
pk_atom(ErlNifEnv *env, struct pk_out *o, ERL_NIF_TERM t)
{
	unsigned char	name[1024];
	size_t		n;

	if (pk_atom_utf8(env, t, name, &n) < 0 || pk_put(o, PK_ATOM) < 0)
		return -1;
	return pk_bytes(o, name, n);
}

static int
pk_term(ErlNifEnv *env, struct pk_out *o, ERL_NIF_TERM t, int depth)
{
	ErlNifBinary	b;

	if (depth > 256)
		return -1;
	switch (enif_term_type(env, t)) {
	case ERL_NIF_TERM_TYPE_INTEGER:
	case ERL_NIF_TERM_TYPE_FLOAT:
		return pk_number(env, o, t);
	case ERL_NIF_TERM_TYPE_ATOM:
		return pk_atom(env, o, t);
	case ERL_NIF_TERM_TYPE_TUPLE:
		return pk_tuple(env, o, t, depth);
	case ERL_NIF_TERM_TYPE_LIST:
		return pk_list(env, o, t, depth);
	case ERL_NIF_TERM_TYPE_BITSTRING:
		if (!enif_inspect_binary(env, t, &b))
			return -1;
		if (pk_put(o, PK_BIN) < 0)
			return -1;
		return pk_bytes(o, b.data, b.size);
	default:
		return -1;	/* refs, funs, ports, pids, maps */
	}
}

int
pn_key_encode(ErlNifEnv *env, ERL_NIF_TERM t, int exact, unsigned char *buf,
    size_t cap, size_t *len)
{
	struct pk_out	o = { buf, 0, cap, exact };

	if (pk_term(env, &o, t, 0) < 0)
		return -1;
	*len = o.len;
	return 0;
}
