/*
 * cli_data.c - the protets commands on a table's entries: one library
 * call each (protets.h names them), with the options and operands cli.c
 * parsed and decoded before connecting (struct cli_args), printing in
 * the format asked for (cli_io.c).
 *
 * select --reverse walks an ordered_set backwards with protets_last and
 * protets_prev from the greatest key the bounds allow, reading each
 * key's value as it passes (each at its own instant, as protets_select
 * reads each entry), and stops at the first key below the bounds: it
 * costs what it prints.  Only an ordered_set has an order to reverse.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "escape.h"

/* A fold's "stop here" that is not an error: --limit reached. */
#define CLD_STOP	1

int
cld_insert(protets_t *p, struct cli_args *a)
{
	protets_table_t	*t = cli_open(p, a->name);
	int		 rc;

	if (a->from_stdin)
		rc = cio_stdin(t, CIO_INSERT, a->fmt, "insert");
	else if ((rc = protets_insert(t, a->key.p, a->key.len, a->val.p,
	    a->val.len)) != 0)
		rc = cli_wfail(t, "insert", rc);
	protets_close(t);
	return rc;
}

int
cld_insert_new(protets_t *p, struct cli_args *a)
{
	protets_table_t	*t = cli_open(p, a->name);
	char		 vis[4 * 64 + 1];
	int		 rc;

	if (a->from_stdin)
		rc = cio_stdin(t, CIO_INSERT_NEW, a->fmt, "insert-new");
	else if ((rc = protets_insert_new(t, a->key.p, a->key.len, a->val.p,
	    a->val.len)) == PROTETS_EXISTS) {
		/* (a NUL in it ends what is shown) */
		fprintf(stderr, "protets: insert-new: %s: %s\n",
		    escape_line(a->key.p, vis, sizeof(vis)),
		    protets_strerror(rc));
		rc = EX_NOTFOUND;
	} else if (rc != 0)
		rc = cli_wfail(t, "insert-new", rc);
	protets_close(t);
	return rc;
}

int
cld_delete(protets_t *p, struct cli_args *a)
{
	protets_table_t	*t = cli_open(p, a->name);
	int		 rc;

	if (a->from_stdin)
		rc = cio_stdin(t, CIO_DELETE, a->fmt, "delete");
	else if ((rc = protets_delete(t, a->key.p, a->key.len)) != 0)
		rc = cli_wfail(t, "delete", rc);
	protets_close(t);
	return rc;
}

int
cld_delete_object(protets_t *p, struct cli_args *a)
{
	protets_table_t	*t = cli_open(p, a->name);
	int		 rc;

	rc = protets_delete_object(t, a->key.p, a->key.len, a->val.p,
	    a->val.len);
	if (rc != 0)
		rc = cli_wfail(t, "delete-object", rc);
	protets_close(t);
	return rc;
}

static int
cld_print_value(const void *k, size_t klen, const void *v, size_t vlen,
    void *arg)
{
	cio_value(*(enum cli_fmt *)arg, k, klen, v, vlen);
	return 0;
}

int
cld_lookup(protets_t *p, struct cli_args *a)
{
	protets_table_t	*t = cli_open(p, a->name);
	char		 vis[4 * 64 + 1];
	int		 rc;


	rc = protets_lookup_each(t, a->key.p, a->key.len, cld_print_value,
	    &a->fmt);
	protets_close(t);
	/* the key named, as ever (a NUL in it ends what is shown) */
	return rc ? cli_fail(escape_line(a->key.p, vis, sizeof(vis)), rc) : 0;
}

int
cld_take(protets_t *p, struct cli_args *a)
{
	protets_table_t	*t = cli_open(p, a->name);
	int		 rc;

	rc = protets_take(t, a->key.p, a->key.len, cld_print_value, &a->fmt);
	if (rc != 0)
		rc = cli_wfail(t, "take", rc);
	protets_close(t);
	return rc;
}

/* member: exit 0 (there) or 1 (not there), nothing printed. */
int
cld_member(protets_t *p, struct cli_args *a)
{
	protets_table_t	*t = cli_open(p, a->name);
	int		 rc;

	rc = protets_member(t, a->key.p, a->key.len);
	protets_close(t);
	if (rc == PROTETS_NOTFOUND)
		return EX_NOTFOUND;
	return rc ? cli_fail("member", rc) : 0;
}

int
cld_update_counter(protets_t *p, struct cli_args *a)
{
	protets_table_t	*t = cli_open(p, a->name);
	int64_t		 res;
	int		 rc;

	rc = protets_update_counter(t, a->key.p, a->key.len, a->incr, &a->co,
	    &res);
	if (rc == PROTETS_EINVAL || rc == PROTETS_ERANGE) {
		/* Not a usage error: the stored value, or the table type. */
		fprintf(stderr, "protets: update-counter: %s\n", rc ==
		    PROTETS_ERANGE ? "counter overflow (a --threshold and "
		    "--set-value bound it)" : "not a counter (or not a set)");
		rc = EX_OTHER;
	} else if (rc == PROTETS_NOTFOUND)
		rc = cli_fail("update-counter", rc);
	else if (rc != 0)
		rc = cli_wfail(t, "update-counter", rc);
	else
		printf("%lld\n", (long long)res);
	protets_close(t);
	return rc;
}

/*
 * first, last: the first (last) key; next, prev: the key after (before)
 * KEY.  Exit 1 with nothing printed at the end of the table.
 */
int
cld_walk(protets_t *p, struct cli_args *a)
{
	protets_table_t	*t = cli_open(p, a->name);
	char		 k[PROTETS_KEY_MAX];
	size_t		 klen;
	int		 rc;

	if (strcmp(a->cmd, "first") == 0)
		rc = protets_first(t, k, sizeof(k), &klen);
	else if (strcmp(a->cmd, "last") == 0)
		rc = protets_last(t, k, sizeof(k), &klen);
	else if (strcmp(a->cmd, "next") == 0)
		rc = protets_next(t, a->key.p, a->key.len, k, sizeof(k), &klen);
	else
		rc = protets_prev(t, a->key.p, a->key.len, k, sizeof(k), &klen);
	protets_close(t);
	if (rc == PROTETS_NOTFOUND)
		return EX_NOTFOUND;
	if (rc != 0)
		return cli_fail(a->cmd, rc);
	cio_key(a->fmt, k, klen);
	return 0;
}

/* A selected entry: printed, until --limit. */
static int
cld_print_record(const void *k, size_t klen, const void *v, size_t vlen,
    void *arg)
{
	struct cli_args	*a = arg;

	if (a->has_limit && a->limit == 0)
		return CLD_STOP;
	cio_record(a->fmt, k, klen, v, vlen);
	if (a->has_limit)
		a->limit--;
	return 0;
}

int
cld_dump(protets_t *p, struct cli_args *a)
{
	protets_table_t	*t = cli_open(p, a->name);
	int		 rc;

	rc = protets_foldl(t, cld_print_record, a);
	protets_close(t);
	return rc ? cli_fail("dump", rc) : 0;
}

/* Keys in ordered_set order: memcmp, then the shorter first. */
static int
cld_keycmp(const void *a, size_t alen, const void *b, size_t blen)
{
	int	c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

/*
 * Where a backward walk starts: the greatest key within --to and below
 * the keys past the prefix.  Returns as protets_last.
 */
static int
cld_rev_start(protets_table_t *t, const protets_match *m, char *k,
    size_t *klen)
{
	char	up[PROTETS_KEY_MAX];
	size_t	ulen = m->plen;
	int	rc;

	/* the least key past every key with the prefix: up (exclusive) */
	memcpy(up, m->prefix, ulen);
	while (ulen > 0 && (unsigned char)up[ulen - 1] == 0xff)
		ulen--;
	if (ulen > 0)
		up[ulen - 1]++;
	if (m->to != NULL && (ulen == 0 ||
	    cld_keycmp(m->to, m->tlen, up, ulen) < 0)) {
		if ((rc = protets_member(t, m->to, m->tlen)) == 0) {
			memcpy(k, m->to, m->tlen);
			*klen = m->tlen;
			return 0;
		}
		if (rc != PROTETS_NOTFOUND)
			return rc;
		return protets_prev(t, m->to, m->tlen, k, PROTETS_KEY_MAX,
		    klen);
	}
	if (ulen > 0)
		return protets_prev(t, up, ulen, k, PROTETS_KEY_MAX, klen);
	return protets_last(t, k, PROTETS_KEY_MAX, klen);
}

/* select --reverse on an ordered_set. */
static int
cld_select_rev(protets_table_t *t, struct cli_args *a)
{
	const protets_match	*m = &a->m;
	char			 k[PROTETS_KEY_MAX];
	size_t			 klen;
	int			 rc;

	for (rc = cld_rev_start(t, m, k, &klen); rc == 0;
	    rc = protets_prev(t, k, klen, k, sizeof(k), &klen)) {
		if (m->from != NULL && cld_keycmp(k, klen, m->from,
		    m->flen) < 0)
			break;
		if (cld_keycmp(k, klen, m->prefix, m->plen) < 0)
			break;		/* below every key with the prefix */
		if (klen < m->plen || memcmp(k, m->prefix, m->plen) != 0)
			continue;	/* past them, still coming down */
		rc = protets_lookup_each(t, k, klen, cld_print_record, a);
		if (rc == CLD_STOP || (a->has_limit && a->limit == 0))
			break;
		if (rc != 0 && rc != PROTETS_NOTFOUND)	/* gone meanwhile */
			return rc;
	}
	return rc == PROTETS_NOTFOUND || rc == CLD_STOP ? 0 : rc;
}

int
cld_select(protets_t *p, struct cli_args *a)
{
	protets_table_t	*t = cli_open(p, a->name);
	int		 rc;

	if (a->reverse && protets_table_type(t) != PROTETS_ORDERED_SET) {
		fprintf(stderr, "protets: select: --reverse: %s is a %s; only "
		    "an ordered_set has an order\n", a->name,
		    protets_type_name(protets_table_type(t)));
		protets_close(t);
		return EX_USAGE;
	}
	if (a->reverse)
		rc = cld_select_rev(t, a);
	else if ((rc = protets_select(t, &a->m, cld_print_record, a)) ==
	    CLD_STOP)
		rc = 0;
	protets_close(t);
	return rc ? cli_fail("select", rc) : 0;
}

int
cld_select_count(protets_t *p, struct cli_args *a)
{
	protets_table_t	*t = cli_open(p, a->name);
	uint64_t	 n;
	int		 rc;

	if ((rc = protets_select_count(t, &a->m, &n)) == 0)
		printf("%llu\n", (unsigned long long)n);
	protets_close(t);
	return rc ? cli_fail("select-count", rc) : 0;
}

/* select-delete: prints how many entries it deleted. */
int
cld_select_delete(protets_t *p, struct cli_args *a)
{
	protets_table_t	*t = cli_open(p, a->name);
	uint64_t	 n = 0;
	int		 rc;

	if ((rc = protets_select_delete(t, &a->m, &n)) != 0)
		rc = cli_wfail(t, "select-delete", rc);
	else
		printf("%llu\n", (unsigned long long)n);
	protets_close(t);
	return rc;
}

struct cld_ls {
	protets_t		*p;
	const struct cli_args	*a;
	int			 rc;
};

/* One table of ls, as a json object. */
static void
cld_ls_json(const protets_info *in)
{
	putchar('{');
	cio_json_member("name", in->name, strlen(in->name));
	printf(",\"type\":\"%s\",\"access\":\"%s\",\"entries\":%llu,"
	    "\"bytes_used\":%llu,\"bytes_size\":%llu,\"owner_uid\":%u,"
	    "\"worker_pid\":%d}\n", protets_type_name(in->type),
	    protets_access_name(in->access),
	    (unsigned long long)in->entries,
	    (unsigned long long)in->bytes_used,
	    (unsigned long long)in->bytes_size, in->owner_uid,
	    (int)in->worker_pid);
}

static int
cld_ls_one(const protets_info *in, void *arg)
{
	struct cld_ls	*ls = arg;
	protets_info	 full;
	char		 vis[4 * PROTETS_NAME_MAX + 1];
	int		 rc;

	/* The owning worker knows the entry count: ask it. */
	if ((rc = protets_info_get(ls->p, in->name, &full)) != 0) {
		/* dropped, or made private, meanwhile */
		if (rc == PROTETS_NOTFOUND || rc == PROTETS_EACCES)
			return 0;
		ls->rc = rc;
		return 1;
	}
	if (ls->a->fmt == CLI_JSON) {
		cld_ls_json(&full);
		return 0;
	}
	if (ls->a->fmt == CLI_TSV)
		cio_tsv(full.name, strlen(full.name));
	else
		fputs(escape_line(full.name, vis, sizeof(vis)), stdout);
	printf("\t%s\t%s\t%llu\t", protets_type_name(full.type),
	    protets_access_name(full.access),
	    (unsigned long long)full.entries);
	if (ls->a->l)
		printf("%llu\t%llu\t", (unsigned long long)full.bytes_used,
		    (unsigned long long)full.bytes_size);
	printf("%u\t%d\n", full.owner_uid, (int)full.worker_pid);
	return 0;
}

/* ls [-l] [--format F]: one table a line (json: every field). */
int
cld_ls(protets_t *p, struct cli_args *a)
{
	struct cld_ls	 ls = { p, a, 0 };
	int		 rc;

	if (a->l && a->fmt != CLI_JSON)
		printf("NAME\tTYPE\tACCESS\tENTRIES\tUSED\tSIZE\tOWNER\t"
		    "WORKER\n");
	rc = protets_list(p, cld_ls_one, &ls);
	if (rc == 1)
		rc = ls.rc;
	return rc ? cli_fail("ls", rc) : 0;
}
