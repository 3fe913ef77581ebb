/*
 * wire.c - encoding and decoding of the client protocol; see wire.h and
 * docs/PROTOCOL.md.
 */
#include <stdlib.h>
#include <string.h>

#include "wire.h"

void
wbuf_init(struct wbuf *w)
{
	memset(w, 0, sizeof(*w));
}

void
wbuf_free(struct wbuf *w)
{
	free(w->data);
	memset(w, 0, sizeof(*w));
}

void
wbuf_put(struct wbuf *w, const void *p, size_t n)
{
	unsigned char	*d;
	size_t		 cap;

	if (w->err)
		return;
	if (w->len + n > w->cap) {
		cap = w->cap ? w->cap : 256;
		while (cap < w->len + n)
			cap *= 2;
		if ((d = realloc(w->data, cap)) == NULL) {
			w->err = 1;
			return;
		}
		w->data = d;
		w->cap = cap;
	}
	if (n > 0 && p != NULL)
		memcpy(w->data + w->len, p, n);
	w->len += n;
}

void
wbuf_u16(struct wbuf *w, uint16_t v)
{
	wbuf_put(w, &v, sizeof(v));
}

void
wbuf_u32(struct wbuf *w, uint32_t v)
{
	wbuf_put(w, &v, sizeof(v));
}

void
wbuf_u64(struct wbuf *w, uint64_t v)
{
	wbuf_put(w, &v, sizeof(v));
}

void
wbuf_str(struct wbuf *w, const char *s, size_t n)
{
	wbuf_u16(w, (uint16_t)n);
	wbuf_put(w, s, n);
}

void
rbuf_init(struct rbuf *r, const void *p, size_t n)
{
	r->data = p;
	r->len = n;
	r->off = 0;
	r->err = 0;
}

static int
rbuf_take(struct rbuf *r, void *dst, size_t n)
{
	if (r->err || n > r->len - r->off) {
		r->err = 1;
		memset(dst, 0, n);
		return -1;
	}
	memcpy(dst, r->data + r->off, n);
	r->off += n;
	return 0;
}

uint16_t
rbuf_u16(struct rbuf *r)
{
	uint16_t v;

	rbuf_take(r, &v, sizeof(v));
	return v;
}

uint32_t
rbuf_u32(struct rbuf *r)
{
	uint32_t v;

	rbuf_take(r, &v, sizeof(v));
	return v;
}

uint64_t
rbuf_u64(struct rbuf *r)
{
	uint64_t v;

	rbuf_take(r, &v, sizeof(v));
	return v;
}

size_t
rbuf_str(struct rbuf *r, char *dst, size_t max)
{
	uint16_t n = rbuf_u16(r);

	if (r->err || n > max || n > r->len - r->off) {
		r->err = 1;
		dst[0] = '\0';
		return 0;
	}
	memcpy(dst, r->data + r->off, n);
	dst[n] = '\0';
	r->off += n;
	return n;
}

int
rbuf_end(struct rbuf *r)
{
	return (r->err || r->off != r->len) ? PROTETS_EPROTO : 0;
}

void
wire_hdr_make(struct wire_hdr *h, uint16_t op, uint32_t len, uint32_t seq,
    int32_t status)
{
	h->version = WIRE_VERSION;
	h->op = op;
	h->len = len;
	h->seq = seq;
	h->status = status;
}

int
wire_hdr_check_request(const struct wire_hdr *h)
{
	if (h->version != WIRE_VERSION)
		return PROTETS_EVERSION;
	if (h->len > WIRE_MAX_REQUEST || (h->op & WIRE_REPLY) ||
	    h->status != 0)
		return PROTETS_EPROTO;
	return 0;
}

int
wire_name_valid(const char *name, size_t len)
{
	if (len == 0 || len > PROTETS_NAME_MAX || memchr(name, '\0', len))
		return PROTETS_EINVAL;
	return 0;
}

/*
 * A new table's name holds no control character (C0 or DEL): a name is
 * printed in ls and info lines, tab-separated, and in the daemon's log,
 * where a tab or a newline would forge a field or a line.  Only creation
 * checks it: a table made before, recovered from its segment, keeps its
 * name and stays reachable by it.  Other bytes (UTF-8) are the caller's.
 */
int
wire_name_printable(const char *name, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return PROTETS_EINVAL;
	return 0;
}

void
wire_put_name(struct wbuf *w, const char *name)
{
	wbuf_str(w, name, strlen(name));
}

/*
 * Names travel with their length, so that an embedded NUL is seen and
 * refused rather than silently truncating the name.
 */
int
wire_get_name(struct rbuf *r, char name[PROTETS_NAME_MAX + 1])
{
	uint16_t n = rbuf_u16(r);

	if (r->err || n > r->len - r->off)
		return PROTETS_EPROTO;
	if (wire_name_valid((const char *)r->data + r->off, n) != 0) {
		r->off += n;
		return PROTETS_EINVAL;
	}
	memcpy(name, r->data + r->off, n);
	name[n] = '\0';
	r->off += n;
	return 0;
}

void
wire_put_get(struct wbuf *w, const struct wire_get *g)
{
	wire_put_name(w, g->name);
	wbuf_u32(w, g->flags);
	wbuf_u32(w, g->type);
	wbuf_u32(w, g->access);
	wbuf_u64(w, g->max_size);
	/* Only when asked for: a daemon before it refuses a longer GET. */
	if (g->write_concurrency != 0)
		wbuf_u32(w, g->write_concurrency);
}

int
wire_get_get(struct rbuf *r, struct wire_get *g)
{
	int	 rc;

	rc = wire_get_name(r, g->name);
	g->flags = rbuf_u32(r);
	g->type = rbuf_u32(r);
	g->access = rbuf_u32(r);
	g->max_size = rbuf_u64(r);
	/* Clients before write_concurrency end here: their GET is shorter. */
	g->write_concurrency = 0;
	if (r->err == 0 && r->len - r->off >= 4)
		g->write_concurrency = rbuf_u32(r);
	if (rbuf_end(r) != 0)
		return PROTETS_EPROTO;
	return rc;
}

void
wire_put_info(struct wbuf *w, const protets_info *in, uint32_t flags)
{
	wire_put_name(w, in->name);
	/* Bits 8-15: write_concurrency (older clients ignore them). */
	wbuf_u32(w, (flags & 0xff) | (in->write_concurrency < 256 ?
	    in->write_concurrency : 0) << 8);
	wbuf_u32(w, (uint32_t)in->type);
	wbuf_u32(w, (uint32_t)in->access);
	wbuf_u32(w, in->owner_uid);
	wbuf_u32(w, (uint32_t)in->worker);
	wbuf_u32(w, (uint32_t)in->worker_pid);
	wbuf_u64(w, in->id);
	wbuf_u64(w, in->created);
	wbuf_u64(w, in->entries);
	wbuf_u64(w, in->bytes_used);
	wbuf_u64(w, in->bytes_size);
	if (flags & WIRE_INFO_EXT) {
		wbuf_u64(w, in->bytes_quota);
		wbuf_u64(w, in->bytes_free);
		wbuf_u64(w, in->largest_fit);
		wbuf_u64(w, in->bytes_memory);
	}
}

int
wire_get_info(struct rbuf *r, protets_info *in, uint32_t *flags)
{
	uint32_t f;

	memset(in, 0, sizeof(*in));
	if (wire_get_name(r, in->name) != 0)
		return PROTETS_EPROTO;
	f = rbuf_u32(r);
	if (flags != NULL)
		*flags = f & 0xff;
	in->write_concurrency = (f >> 8) & 0xff;
	in->type = (protets_type)rbuf_u32(r);
	in->access = (protets_access)rbuf_u32(r);
	in->owner_uid = rbuf_u32(r);
	in->worker = (int32_t)rbuf_u32(r);
	in->worker_pid = (pid_t)rbuf_u32(r);
	in->id = rbuf_u64(r);
	in->created = rbuf_u64(r);
	in->entries = rbuf_u64(r);
	in->bytes_used = rbuf_u64(r);
	in->bytes_size = rbuf_u64(r);
	if (f & WIRE_INFO_EXT) {
		in->bytes_quota = rbuf_u64(r);
		in->bytes_free = rbuf_u64(r);
		in->largest_fit = rbuf_u64(r);
		in->bytes_memory = rbuf_u64(r);
	}
	return r->err ? PROTETS_EPROTO : 0;
}

void
wire_put_proc(struct wbuf *w, const protets_proc *p)
{
	wbuf_str(w, p->role, strnlen(p->role, sizeof(p->role) - 1));
	wbuf_u32(w, (uint32_t)p->slot);
	wbuf_u32(w, (uint32_t)p->pid);
	wbuf_u32(w, p->tables);
}

int
wire_get_proc(struct rbuf *r, protets_proc *p)
{
	memset(p, 0, sizeof(*p));
	rbuf_str(r, p->role, sizeof(p->role) - 1);
	p->slot = (int32_t)rbuf_u32(r);
	p->pid = (pid_t)rbuf_u32(r);
	p->tables = rbuf_u32(r);
	return r->err ? PROTETS_EPROTO : 0;
}
