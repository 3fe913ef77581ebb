/*
 * cli_io.c - the bytes of the protets command: its output formats, keys
 * and values given escaped on the command line, records read from
 * standard input.
 *
 * Formats (protets(1), FORMATS).  raw: the bytes as they are, KEY<TAB>
 * VALUE lines; what scripts read before there was a choice, ambiguous
 * when a key or value holds a TAB or a newline.  tsv: the same lines,
 * each field escaped by vis(3) (VIS_CSTYLE | VIS_OCTAL: \t \n \r \\ \0
 * and \ooo for every other control byte and every byte of 0x80 and over;
 * the command never calls setlocale, so this does not depend on the
 * locale) and decoded by unvis(3); a field without such a byte is
 * written as it is.  json: one object per line, {"key":K,"value":V}: a
 * key or value that is valid UTF-8 is a JSON string (NUL and the other
 * control characters as \u00XX), any other as "key_base64" or
 * "value_base64" (RFC 4648 base64), so that every byte string has one
 * lossless form; jansson reads them back.
 *
 * Records from standard input (insert NAME -, insert-new NAME -, delete
 * NAME -) are read a line at a time (getline), decoded into an arena and
 * written in batches of CIO_BATCH: protets_insert_many (split in two
 * when too large for one atomic operation), protets_insert_new_many (a
 * batch where a key exists is done one record at a time, to tell which),
 * protets_delete per key.  A bad line stops the command after the lines
 * before it were written, and the message says which line, what is wrong
 * and how many records were written: nothing is lost unsaid.
 */
#define LIBBSD_OPENBSD_VIS	/* vis(3) of OpenBSD, strnvisx of NetBSD */
#include <vis.h>

#include <arpa/nameser.h>
#include <errno.h>
#include <stdarg.h>
#include <jansson.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "escape.h"

#define CIO_VIS		(VIS_CSTYLE | VIS_OCTAL | VIS_TAB | VIS_NL)
/* What may follow a backslash: the escapes of vis(3). */
#define CIO_UNVIS	"\\tnrabvfsE01234567xM^$"
#define CIO_BATCH	256	/* records per write (bench/README.md) */
/* Decoded bytes per batch: a record is never longer than its line. */
#define CIO_ARENA	(8u << 20)

/* A growing scratch buffer for the encoders. */
static char	*cio_buf;
static size_t	 cio_cap;

static char *
cio_room(size_t need)
{
	char	*p;

	if (need <= cio_cap)
		return cio_buf;
	if ((p = realloc(cio_buf, need)) == NULL) {
		fprintf(stderr, "protets: out of memory (%zu bytes)\n", need);
		exit(EX_OTHER);
	}
	cio_buf = p;
	cio_cap = need;
	return p;
}

int
cio_fmt_parse(const char *s, enum cli_fmt *f)
{
	if (strcmp(s, "raw") == 0)
		*f = CLI_RAW;
	else if (strcmp(s, "tsv") == 0)
		*f = CLI_TSV;
	else if (strcmp(s, "json") == 0)
		*f = CLI_JSON;
	else
		return -1;
	return 0;
}

/* Does b, n bytes, need escaping in tsv? */
static int
cio_tsv_needs(const unsigned char *b, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (b[i] < 0x20 || b[i] >= 0x7f || b[i] == '\\')
			return 1;
	return 0;
}

void
cio_tsv(const void *s, size_t n)
{
	char	*src, *dst;
	int	 len;

	if (!cio_tsv_needs(s, n)) {
		fwrite(s, 1, n, stdout);
		return;
	}
	/*
	 * vis(3) writes a NUL as \0, or \000 before a digit: it looks at
	 * the byte after each, and libbsd's looks past the end after the
	 * last one.  So the field is copied with a letter after it, which
	 * encodes as itself and is not written.
	 */
	src = cio_room(5 * (n + 1) + 1);
	dst = src + n + 1;
	memcpy(src, s, n);
	src[n] = 'x';
	len = strnvisx(dst, 4 * (n + 1) + 1, src, n + 1, CIO_VIS);
	fwrite(dst, 1, (size_t)len - 1, stdout);
}

/* Is s, n bytes, well-formed UTF-8 (no overlong form, no surrogate)? */
static int
cio_utf8(const unsigned char *s, size_t n)
{
	size_t		i = 0, j, k;
	uint32_t	c, min;

	while (i < n) {
		if ((c = s[i]) < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			k = 1, c &= 0x1f, min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			k = 2, c &= 0x0f, min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			k = 3, c &= 0x07, min = 0x10000;
		} else
			return 0;
		if (n - i - 1 < k)
			return 0;
		for (j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return 0;
			c = c << 6 | (s[i + j] & 0x3f);
		}
		if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
			return 0;
		i += k + 1;
	}
	return 1;
}

/* s as the inside of a JSON string (s is UTF-8). */
static void
cio_json_text(const unsigned char *s, size_t n)
{
	size_t	i, run = 0;

	for (i = 0; i < n; i++) {
		if (s[i] >= 0x20 && s[i] != '"' && s[i] != '\\' &&
		    s[i] != 0x7f)
			continue;
		fwrite(s + run, 1, i - run, stdout);
		run = i + 1;
		switch (s[i]) {
		case '"':
			fputs("\\\"", stdout);
			break;
		case '\\':
			fputs("\\\\", stdout);
			break;
		case '\n':
			fputs("\\n", stdout);
			break;
		case '\t':
			fputs("\\t", stdout);
			break;
		case '\r':
			fputs("\\r", stdout);
			break;
		default:
			printf("\\u%04x", s[i]);
		}
	}
	fwrite(s + run, 1, n - run, stdout);
}

void
cio_json_member(const char *name, const void *s, size_t n)
{
	char	*dst;
	int	 len;

	if (cio_utf8(s, n)) {
		printf("\"%s\":\"", name);
		cio_json_text(s, n);
		putchar('"');
		return;
	}
	dst = cio_room(4 * (n / 3 + 1) + 1);
	len = b64_ntop(s, n, dst, 4 * (n / 3 + 1) + 1);
	printf("\"%s_base64\":\"%.*s\"", name, len, dst);
}

void
cio_record(enum cli_fmt f, const void *k, size_t klen, const void *v,
    size_t vlen)
{
	switch (f) {
	case CLI_RAW:
		fwrite(k, 1, klen, stdout);
		putchar('\t');
		fwrite(v, 1, vlen, stdout);
		break;
	case CLI_TSV:
		cio_tsv(k, klen);
		putchar('\t');
		cio_tsv(v, vlen);
		break;
	case CLI_JSON:
		putchar('{');
		cio_json_member("key", k, klen);
		putchar(',');
		cio_json_member("value", v, vlen);
		putchar('}');
		break;
	}
	putchar('\n');
}

void
cio_value(enum cli_fmt f, const void *k, size_t klen, const void *v,
    size_t vlen)
{
	switch (f) {
	case CLI_RAW:
		fwrite(v, 1, vlen, stdout);
		putchar('\n');
		break;
	case CLI_TSV:
		cio_tsv(v, vlen);
		putchar('\n');
		break;
	case CLI_JSON:
		cio_record(f, k, klen, v, vlen);
		break;
	}
}

void
cio_key(enum cli_fmt f, const void *k, size_t klen)
{
	switch (f) {
	case CLI_RAW:
		fwrite(k, 1, klen, stdout);
		break;
	case CLI_TSV:
		cio_tsv(k, klen);
		break;
	case CLI_JSON:
		putchar('{');
		cio_json_member("key", k, klen);
		putchar('}');
		break;
	}
	putchar('\n');
}

/*
 * Decode the C escapes of s (n bytes) into dst (n bytes are enough):
 * what unvis(3) reads; a backslash left dangling at the end, or before
 * a character that starts no escape of vis(3), is an error.
 * Returns the length, or -1.
 */
static ssize_t
cio_unvis(const char *s, size_t n, char *dst)
{
	size_t	i = 0, o = 0;
	int	st = 0;
	char	c;

	if (memchr(s, '\\', n) == NULL) {
		memcpy(dst, s, n);
		return (ssize_t)n;
	}
	/* not unvis's fallback of "\\q" to "q": a typo is an error */
	for (i = 0; i < n; i++)
		if (s[i] == '\\' && (i + 1 == n || strchr(CIO_UNVIS,
		    s[++i]) == NULL || s[i] == '\0'))
			return -1;
	i = 0;
	while (i < n) {
		switch (unvis(&c, (unsigned char)s[i], &st, 0)) {
		case UNVIS_VALID:
			dst[o++] = c;
			i++;
			break;
		case UNVIS_VALIDPUSH:	/* s[i] ended an escape: again */
			dst[o++] = c;
			break;
		case UNVIS_NOCHAR:
			i++;
			break;
		default:
			return -1;
		}
	}
	switch (unvis(&c, '\0', &st, UNVIS_END)) {
	case UNVIS_VALID:
		dst[o++] = c;
		/* FALLTHROUGH */
	case UNVIS_NOCHAR:
		return (ssize_t)o;
	default:
		return -1;
	}
}

void
cio_operand(const char *s, int esc, const char *what, struct cli_bytes *b)
{
	char	*dst, vis[4 * 64 + 1];
	size_t	 n = strlen(s);
	ssize_t	 len;

	b->p = s;
	b->len = n;
	if (!esc)
		return;
	if ((dst = malloc(n + 1)) == NULL) {
		fprintf(stderr, "protets: out of memory (%zu bytes)\n", n);
		exit(EX_OTHER);
	}
	if ((len = cio_unvis(s, n, dst)) < 0)
		cli_usage_error("%s %.64s: a bad escape (-e: C escapes as "
		    "vis(3) writes them: \\t \\n \\\\ \\ooo ...)", what,
		    escape_line(s, vis, sizeof(vis)));
	dst[len] = '\0';	/* a C string too, for messages */
	b->p = dst;
	b->len = (size_t)len;
}

/* Reading records: the state of one stdin command. */
struct cio_in {
	protets_table_t	*t;
	enum cio_op	 op;
	enum cli_fmt	 fmt;
	const char	*cmd;
	char		*arena;
	size_t		 used;
	protets_kv	 kv[CIO_BATCH];
	size_t		 n;
	unsigned long long line;	/* lines read */
	unsigned long long done;	/* records written */
	unsigned long long present;	/* insert-new: keys already there */
	char		 err[128];	/* what is wrong with the line */
};

static int __attribute__((format(printf, 2, 3)))
cio_bad(struct cio_in *in, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(in->err, sizeof(in->err), fmt, ap);
	va_end(ap);
	return -1;
}

/* Insert kv[0..n), split in two when too large for one operation. */
static int
cio_insert(struct cio_in *in, const protets_kv *kv, size_t n)
{
	int	rc;

	rc = protets_insert_many(in->t, kv, n);
	if (rc == 0)
		in->done += n;
	else if (rc == PROTETS_ELIMIT && n > 1 &&
	    (rc = cio_insert(in, kv, n / 2)) == 0)
		rc = cio_insert(in, kv + n / 2, n - n / 2);
	return rc;
}

/* insert-new: the batch, or one record at a time when a key exists. */
static int
cio_insert_new(struct cio_in *in)
{
	size_t	i;
	int	rc;

	if ((rc = protets_insert_new_many(in->t, in->kv, in->n)) !=
	    PROTETS_EXISTS && rc != PROTETS_ELIMIT) {
		if (rc == 0)
			in->done += in->n;
		return rc;
	}
	for (i = 0; i < in->n; i++) {
		rc = protets_insert_new(in->t, in->kv[i].key, in->kv[i].klen,
		    in->kv[i].val, in->kv[i].vlen);
		if (rc == PROTETS_EXISTS)
			in->present++;
		else if (rc != 0)
			return rc;
		else
			in->done++;
	}
	return 0;
}

static int
cio_delete(struct cio_in *in)
{
	size_t	i;
	int	rc;

	for (i = 0; i < in->n; i++) {
		if ((rc = protets_delete(in->t, in->kv[i].key,
		    in->kv[i].klen)) != 0)
			return rc;
		in->done++;
	}
	return 0;
}

/* Write the batch; a failure is reported here. */
static int
cio_flush(struct cio_in *in)
{
	char	what[160];
	int	rc;

	if (in->n == 0)
		return 0;
	if (in->op == CIO_INSERT)
		rc = cio_insert(in, in->kv, in->n);
	else if (in->op == CIO_INSERT_NEW)
		rc = cio_insert_new(in);
	else
		rc = cio_delete(in);
	if (rc != 0) {
		snprintf(what, sizeof(what), "%s: stdin lines %llu-%llu (%llu "
		    "records written before)", in->cmd, in->line - in->n + 1,
		    in->line, in->done);
		return cli_wfail(in->t, what, rc);
	}
	in->n = 0;
	in->used = 0;
	return 0;
}

/* A decoded key or value into the arena: *p and *len. */
static int
cio_field(struct cio_in *in, const char *s, size_t n, const void **p,
    size_t *len, const char *what)
{
	ssize_t	 l;

	if ((l = cio_unvis(s, n, in->arena + in->used)) < 0)
		return cio_bad(in, "a bad escape in the %s", what);
	*p = in->arena + in->used;
	*len = (size_t)l;
	in->used += (size_t)l;
	return 0;
}

/* A tsv line (no newline): KEY<TAB>VALUE, or KEY alone for delete. */
static int
cio_tsv_line(struct cio_in *in, char *s, size_t n, protets_kv *kv)
{
	char	*tab = memchr(s, '\t', n);
	size_t	 klen = tab != NULL ? (size_t)(tab - s) : n;

	if (tab == NULL && in->op != CIO_DELETE)
		return cio_bad(in, "no TAB between key and value");
	if (tab != NULL && memchr(tab + 1, '\t', n - klen - 1) != NULL)
		return cio_bad(in, "more than one TAB (a TAB in a key or "
		    "value is written \\t)");
	if (cio_field(in, s, klen, &kv->key, &kv->klen, "key") != 0)
		return -1;
	if (in->op == CIO_DELETE)
		return 0;
	return cio_field(in, tab + 1, n - klen - 1, &kv->val, &kv->vlen,
	    "value");
}

/* A member of a json record into kv; *seen: the members had. */
static int
cio_json_field(struct cio_in *in, const char *name, json_t *v,
    protets_kv *kv, int *seen)
{
	static const char *const names[] = { "key", "key_base64", "value",
	    "value_base64" };
	const void	**p;
	size_t		 *len, i;
	int		  l;

	for (i = 0; i < 4 && strcmp(names[i], name) != 0; i++)
		continue;
	if (i == 4)
		return cio_bad(in, "\"%.32s\": not key, key_base64, value "
		    "or value_base64", name);
	if (!json_is_string(v))
		return cio_bad(in, "\"%s\": not a string", name);
	if (*seen & (i < 2 ? 1 : 2))
		return cio_bad(in, "two %ss", i < 2 ? "key" : "value");
	*seen |= i < 2 ? 1 : 2;
	p = i < 2 ? &kv->key : &kv->val;
	len = i < 2 ? &kv->klen : &kv->vlen;
	*p = in->arena + in->used;
	if (i % 2 == 0) {
		*len = json_string_length(v);
		memcpy(in->arena + in->used, json_string_value(v), *len);
	} else {
		/* the decoded bytes are fewer than the line's */
		if ((l = b64_pton(json_string_value(v), (unsigned char *)
		    in->arena + in->used, CIO_ARENA - in->used)) < 0)
			return cio_bad(in, "\"%s\": not base64", name);
		*len = (size_t)l;
	}
	in->used += *len;
	return 0;
}

/*
 * The fast path of a json line: the form this command writes, ASCII,
 * {"key":"...","value":"..."} (either order, either _base64), no
 * space; a string with only the escapes \" \\ \/ \b \f \n \r \t and
 * \u0000 to \u007f.  Anything else (another byte, a space, another
 * escape, a bad base64) returns 0 having kept nothing, and jansson,
 * which has the last word on JSON, reads the line.  Returns 1 with kv
 * filled, or 0.
 */
/*
 * The four hex digits of a \uXXXX escape, exactly four (no sign, no
 * space, no 0x: what sscanf's %x would take); 0x10000 if they are not.
 */
static unsigned int
cio_hex4(const char *s)
{
	unsigned int	u = 0;
	int		i, d;

	for (i = 0; i < 4; i++) {
		if (s[i] >= '0' && s[i] <= '9')
			d = s[i] - '0';
		else if ((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'f')
			d = (s[i] | 0x20) - 'a' + 10;
		else
			return 0x10000;
		u = u << 4 | (unsigned int)d;
	}
	return u;
}

static const char *
cio_fast_str(const char *s, const char *end, char *dst, size_t *len)
{
	static const char	from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char		*e;
	size_t			 o = 0;
	unsigned int		 u;

	if (s >= end || *s++ != '"')
		return NULL;
	while (s < end && *s != '"') {
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			return NULL;
		if (*s != '\\') {
			dst[o++] = *s++;
			continue;
		}
		if (++s >= end)
			return NULL;
		if ((e = strchr(from, *s)) != NULL && *s != '\0') {
			dst[o++] = to[e - from];
			s++;
			continue;
		}
		if (*s != 'u' || end - s < 5 || (u = cio_hex4(s + 1)) >= 0x80)
			return NULL;
		dst[o++] = (char)u;
		s += 5;
	}
	if (s >= end)
		return NULL;
	*len = o;
	return s + 1;
}

static int
cio_json_fast(struct cio_in *in, const char *s, size_t n, protets_kv *kv)
{
	static const char *const names[] = { "\"key\":", "\"key_base64\":",
	    "\"value\":", "\"value_base64\":" };
	const char	*end = s + n;
	char		*dst = in->arena + in->used, *b64;
	size_t		 i, len, l, off = 0;
	int		 seen = 0, dec;

	if (n < 2 || s[0] != '{' || end[-1] != '}')
		return 0;
	for (s++; s < end - 1;) {
		for (i = 0; i < 4; i++)
			if ((size_t)(end - s) > (l = strlen(names[i])) &&
			    memcmp(s, names[i], l) == 0)
				break;
		if (i == 4 || (seen & (i < 2 ? 1 : 2)))
			return 0;
		seen |= i < 2 ? 1 : 2;
		if ((s = cio_fast_str(s + l, end, dst + off, &len)) == NULL)
			return 0;
		if (i % 2 == 1) {	/* base64: decoded in place */
			b64 = dst + off;
			b64[len] = '\0';	/* the line had room */
			if (strspn(b64, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij"
			    "klmnopqrstuvwxyz0123456789+/=") != len ||
			    (dec = b64_pton(b64, (unsigned char *)b64,
			    len + 1)) < 0)
				return 0;
			len = (size_t)dec;
		}
		if (i < 2) {
			kv->key = dst + off;
			kv->klen = len;
		} else {
			kv->val = dst + off;
			kv->vlen = len;
		}
		off += len;
		if (s < end - 1 && (*s++ != ',' || s == end - 1))
			return 0;	/* no comma, or one before the '}' */
	}
	if (s != end - 1 || !(seen & 1) || (!(seen & 2) &&
	    in->op != CIO_DELETE))
		return 0;
	in->used += off;
	return 1;
}

static int
cio_json_line(struct cio_in *in, const char *s, size_t n, protets_kv *kv)
{
	json_error_t	 e;
	json_t		*o, *v;
	const char	*name;
	int		 seen = 0, rc = 0;

	if (cio_json_fast(in, s, n, kv))
		return 0;
	memset(kv, 0, sizeof(*kv));
	if ((o = json_loadb(s, n, JSON_ALLOW_NUL, &e)) == NULL)
		return cio_bad(in, "not JSON: %.80s (column %d)", e.text,
		    e.column);
	if (!json_is_object(o)) {
		json_decref(o);
		return cio_bad(in, "not a JSON object");
	}
	json_object_foreach(o, name, v)
		if ((rc = cio_json_field(in, name, v, kv, &seen)) != 0)
			break;
	json_decref(o);
	if (rc != 0)
		return rc;
	if (!(seen & 1))
		return cio_bad(in, "no \"key\" (or \"key_base64\")");
	if (!(seen & 2) && in->op != CIO_DELETE)
		return cio_bad(in, "no \"value\" (or \"value_base64\")");
	return 0;
}

/* One line (no newline) into the batch. */
static int
cio_line(struct cio_in *in, char *s, size_t n)
{
	protets_kv	*kv = &in->kv[in->n];
	int		 rc;

	memset(kv, 0, sizeof(*kv));
	if (n == 0)
		return cio_bad(in, "an empty line");
	if (in->fmt == CLI_JSON)
		rc = cio_json_line(in, s, n, kv);
	else
		rc = cio_tsv_line(in, s, n, kv);
	if (rc != 0)
		return rc;
	if (kv->klen == 0 || kv->klen > PROTETS_KEY_MAX)
		return cio_bad(in, "a key of %zu bytes: keys are 1 to %d bytes",
		    kv->klen, PROTETS_KEY_MAX);
	if (kv->vlen > PROTETS_VALUE_MAX)
		return cio_bad(in, "a value of %zu bytes: values are at most "
		    "%u bytes", kv->vlen, PROTETS_VALUE_MAX);
	in->n++;
	return 0;
}

/* Read, decode and write every line of standard input. */
static int
cio_read(struct cio_in *in)
{
	char	*line = NULL;
	size_t	 cap = 0;
	ssize_t	 n;
	int	 rc = 0;

	while ((n = getline(&line, &cap, stdin)) >= 0) {
		if (n > 0 && line[n - 1] == '\n')
			n--;
		if (in->n == CIO_BATCH || in->used + (size_t)n > CIO_ARENA)
			if ((rc = cio_flush(in)) != 0)
				break;
		in->line++;
		if ((size_t)n > CIO_ARENA)
			rc = cio_bad(in, "a line of %zd bytes: no record is "
			    "that long", n);
		else
			rc = cio_line(in, line, (size_t)n);
		if (rc != 0)
			break;
	}
	free(line);
	if (rc > 0)		/* a write failed: said */
		return rc;
	if (rc == 0 && ferror(stdin))
		rc = cio_bad(in, "read: %s", strerror(errno));
	in->line -= rc != 0;	/* the bad line is not in the batch */
	if ((n = cio_flush(in)) != 0)
		return (int)n;
	if (rc != 0) {
		fprintf(stderr, "protets: %s: stdin line %llu: %s (%llu "
		    "records written before it)\n", in->cmd, in->line + 1,
		    in->err, in->done);
		return EX_OTHER;
	}
	return 0;
}

int
cio_stdin(protets_table_t *t, enum cio_op op, enum cli_fmt fmt,
    const char *cmd)
{
	struct cio_in	*in;
	int		 rc;

	if ((in = calloc(1, sizeof(*in))) == NULL ||
	    (in->arena = malloc(CIO_ARENA)) == NULL) {
		fprintf(stderr, "protets: %s: out of memory\n", cmd);
		free(in);
		return EX_OTHER;
	}
	in->t = t;
	in->op = op;
	in->fmt = fmt;
	in->cmd = cmd;
	rc = cio_read(in);
	if (rc == 0 && in->present > 0) {
		fprintf(stderr, "protets: insert-new: %llu of %llu keys were "
		    "present (those records not inserted)\n", in->present,
		    in->present + in->done);
		rc = EX_NOTFOUND;
	}
	free(in->arena);
	free(in);
	return rc;
}
