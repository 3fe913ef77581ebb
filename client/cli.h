/*
 * cli.h - what the two files of the protets command share: cli.c (the
 * commands) and cli_io.c (the output formats, escaped operands and the
 * records read from standard input).
 */
#ifndef PROTETS_CLI_H
#define PROTETS_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "protets.h"

#define EX_NOTFOUND	1
#define EX_USAGE	2
#define EX_UNREACH	3
#define EX_PERM		4
#define EX_OTHER	5

/*
 * Output formats: raw (the bytes as they are, the default: what scripts
 * read before --format existed), tsv (C escapes, vis(3)) and json (one
 * object per line, "_base64" members for bytes that are not UTF-8).
 */
enum cli_fmt {
	CLI_RAW,
	CLI_TSV,
	CLI_JSON
};

/* Bytes: a key, a value, a bound, as given or decoded. */
struct cli_bytes {
	const char	*p;
	size_t		 len;
};

/* What a stdin command does with each record. */
enum cio_op {
	CIO_INSERT,
	CIO_INSERT_NEW,
	CIO_DELETE
};

/* The options a data command takes (struct cli_cmd's opts). */
#define CLI_O_FMT	0x01	/* --format raw|tsv|json */
#define CLI_O_ESC	0x02	/* -e: KEY, VALUE and bounds in C escapes */
#define CLI_O_MATCH	0x04	/* --prefix --from --to */
#define CLI_O_LIMIT	0x08	/* --limit N --reverse */
#define CLI_O_COUNTER	0x10	/* --default --threshold --set-value */
#define CLI_O_LONG	0x20	/* -l */
#define CLI_O_STDIN	0x40	/* NAME - : records from standard input */

/* A data command's options and operands, parsed before connecting. */
struct cli_args {
	const char		*cmd;
	enum cli_fmt		 fmt;
	int			 fmt_set;	/* --format given */
	int			 esc, l, reverse, from_stdin;
	int			 has_limit;
	uint64_t		 limit;
	protets_match		 m;
	protets_counter_opts	 co;
	int64_t			 incr;
	const char		*name;
	struct cli_bytes	 key, val;
};

void	cli_usage_error(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
int	cli_fail(const char *, int);
int	cli_wfail(protets_table_t *, const char *, int);

protets_table_t *cli_open(protets_t *, const char *);

/* The data commands (cli_data.c). */
int	cld_insert(protets_t *, struct cli_args *);
int	cld_insert_new(protets_t *, struct cli_args *);
int	cld_delete(protets_t *, struct cli_args *);
int	cld_delete_object(protets_t *, struct cli_args *);
int	cld_lookup(protets_t *, struct cli_args *);
int	cld_take(protets_t *, struct cli_args *);
int	cld_member(protets_t *, struct cli_args *);
int	cld_update_counter(protets_t *, struct cli_args *);
int	cld_walk(protets_t *, struct cli_args *);
int	cld_dump(protets_t *, struct cli_args *);
int	cld_select(protets_t *, struct cli_args *);
int	cld_select_count(protets_t *, struct cli_args *);
int	cld_select_delete(protets_t *, struct cli_args *);
int	cld_ls(protets_t *, struct cli_args *);

int	cio_fmt_parse(const char *, enum cli_fmt *);
/* KEY<TAB>VALUE (raw, tsv) or {"key":..,"value":..} (json), a line. */
void	cio_record(enum cli_fmt, const void *, size_t, const void *, size_t);
/* A value of a key (lookup, take): VALUE, or the json record. */
void	cio_value(enum cli_fmt, const void *, size_t, const void *, size_t);
/* A key alone (first, next, ...): KEY, or {"key":..}. */
void	cio_key(enum cli_fmt, const void *, size_t);
/* One field of a tsv line, escaped. */
void	cio_tsv(const void *, size_t);
/* "member":"text" or "member_base64":"..." of a json object. */
void	cio_json_member(const char *, const void *, size_t);
/*
 * An operand as given, or (esc) decoded from its C escapes into
 * memory that lives as long as the command; what names it in an error.
 */
void	cio_operand(const char *, int, const char *, struct cli_bytes *);
/* Records from standard input in format f (raw reads as tsv). */
int	cio_stdin(protets_table_t *, enum cio_op, enum cli_fmt, const char *);

#endif /* PROTETS_CLI_H */
