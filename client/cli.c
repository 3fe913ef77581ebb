/*
 * cli.c - protets, the command-line client.
 *
 * Exit status: 0 success; 1 key or table not found; 2 usage error;
 * 3 daemon unreachable; 4 permission denied; 5 any other error, with a
 * one-line message on stderr.  The output formats are a contract that
 * scripts depend on (see protets(1)).
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <libutil.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cli_stats.h"
#include "conf.h"
#include "escape.h"
#include "protets.h"

static const char	*cli_sock;

/*
 * A table name as printed: the daemon refuses control characters in new
 * names, but a table made before that, recovered from its segment, may
 * still have one; it is shown as a C escape.  Returns name or buf.
 */
static const char *
cli_name(const char *name, char buf[4 * PROTETS_NAME_MAX + 1])
{
	return escape_line(name, buf, 4 * PROTETS_NAME_MAX + 1);
}

static void
usage(FILE *f, int status)
{
	fprintf(f,
"usage: protets [-s SOCKET] COMMAND [ARGS]\n"
"\n"
"  get NAME [--type set|ordered_set|bag|duplicate_bag]\n"
"           [--access public|protected|private] [--size BYTES]\n"
"           [--write-concurrency N] [--create-only] [--volatile]\n"
"                          create the table if missing (--volatile: never\n"
"                          written to disk, gone after a stop)\n"
"  insert NAME KEY VALUE   insert (replace, on sets)\n"
"  insert NAME -           insert the records of standard input\n"
"  insert-new NAME KEY VALUE | NAME -\n"
"                          insert only if KEY is absent (exit 1 if present)\n"
"  lookup NAME KEY         print each value of KEY on its own line\n"
"  member NAME KEY         exit 0 if KEY is there, 1 if not\n"
"  take NAME KEY           remove KEY, printing each value it had\n"
"  delete NAME KEY | NAME -\n"
"                          delete KEY (every value, on bags), or the keys\n"
"                          of the records of standard input\n"
"  delete-object NAME KEY VALUE\n"
"                          delete the entries equal to KEY VALUE\n"
"  update-counter [--default V] [--threshold T --set-value S]\n"
"           NAME KEY INCR  add INCR to the integer value of KEY (V, 0 by\n"
"                          default, if missing; S if the result passes T)\n"
"                          and print the result\n"
"  first NAME, last NAME   print the first (last) key\n"
"  next NAME KEY, prev NAME KEY\n"
"                          print the key after (before) KEY; exit 1 at the\n"
"                          end\n"
"  clear NAME              delete every entry\n"
"  select NAME [--prefix P] [--from A] [--to B] [--limit N] [--reverse]\n"
"                          print the entries whose key starts with P and\n"
"                          lies in A..B (at most N; --reverse: backwards,\n"
"                          ordered_set)\n"
"  select-count NAME [--prefix P] [--from A] [--to B]\n"
"  select-delete NAME [--prefix P] [--from A] [--to B]\n"
"                          count (delete) those entries, print how many\n"
"  dump NAME               print every entry\n"
"  count NAME              print the number of entries\n"
"  check NAME              verify the table's structure\n"
"  drop NAME               delete the table\n"
"  save NAME FILE          write the table to FILE (atomically, mode 0600)\n"
"  load FILE [NAME] [--access public|protected|private] [--size BYTES]\n"
"           [--write-concurrency N]\n"
"                          create the table saved in FILE (as NAME), with\n"
"                          every entry, or nothing (exit 5 if NAME exists)\n"
"  resize NAME SIZE        set the table's size (a quota: what it may hold;\n"
"                          none: up to what it can ever hold), online\n"
"  set-access NAME public|protected|private\n"
"                          change the table's access (owner or root)\n"
"  ls [-l]                 one table per line: NAME TYPE ACCESS ENTRIES\n"
"                          [USED SIZE] OWNER_UID WORKER_PID (tab-separated;\n"
"                          -l: with a header, bytes in use and size)\n"
"  info NAME               \"key: value\" lines, the last \"holders:\" and\n"
"                          the pids holding the table\n"
"  procs [-l]              one line per daemon process: ROLE PID (-l: with\n"
"                          a header, and the tables each holds)\n"
"  stats [NAME]            the daemon's counts, or the table's operations\n"
"                          (\"key: value\" lines)\n"
"  metrics                 every count in the Prometheus text format\n"
"  top [-n COUNT]          a live view of the daemon and its busiest\n"
"                          tables, once a second; q quits\n"
"\n"
"Options of the commands on entries, before NAME when there is a KEY:\n"
"  --format raw|tsv|json   dump, select, lookup, take, first, next, last,\n"
"                          prev, ls print KEY<TAB>VALUE lines as they are\n"
"                          (raw, the default), with C escapes (tsv), or\n"
"                          as {\"key\":..,\"value\":..} lines (json, with\n"
"                          \"key_base64\"/\"value_base64\" for non-UTF-8);\n"
"                          NAME - reads tsv (the default) or json\n"
"  -e, --escaped           KEY, VALUE, P, A and B are given in C escapes\n"
"                          (\\t \\n \\\\ \\0 \\377 ...)\n"
"\n"
"The socket is -s, else $PROTETS_SOCKET, else the \"socket\" setting of\n"
"$PROTETS_CONF or %s.\n"
"Exit status: 0 ok, 1 not found, 2 usage, 3 daemon unreachable,\n"
"4 permission denied, 5 other errors.\n", PROTETS_CONF_PATH);
	exit(status);
}

/*
 * A usage error: one line saying what is wrong and what is accepted, a
 * pointer to --help, exit 2 (not the whole help: it hid the reason).
 */
void
cli_usage_error(const char *fmt, ...)
{
	va_list	 ap;

	fputs("protets: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (protets --help for usage)\n", stderr);
	exit(EX_USAGE);
}

/* Report err on stderr and map it to an exit status. */
int
cli_fail(const char *what, int err)
{
	const char	*m = protets_errmsg();

	/* the daemon's own words, when it gave some */
	if (m[0] != '\0')
		fprintf(stderr, "protets: %s: %s: %s\n", what,
		    protets_strerror(err), m);
	else
		fprintf(stderr, "protets: %s: %s\n", what,
		    protets_strerror(err));
	switch (err) {
	case PROTETS_NOTFOUND:
		return EX_NOTFOUND;
	case PROTETS_ECONNECT:
		return EX_UNREACH;
	case PROTETS_EACCES:
	case EACCES:
	case EPERM:
		return EX_PERM;
	case PROTETS_EINVAL:
		return EX_USAGE;
	default:
		return EX_OTHER;
	}
}

/*
 * A write's failure, reported while t is still open: PROTETS_ELOCKED
 * names the process holding the lock (exit status as any other error).
 */
int
cli_wfail(protets_table_t *t, const char *what, int err)
{
	pid_t	pid;

	if (err != PROTETS_ELOCKED)
		return cli_fail(what, err);
	if ((pid = protets_lock_holder(t)) > 0)
		fprintf(stderr, "protets: table '%s': write lock held by pid "
		    "%d for more than %d ms\n", protets_table_name(t),
		    (int)pid, protets_lock_timeout(t));
	else
		fprintf(stderr, "protets: table '%s': write lock held for "
		    "more than %d ms\n", protets_table_name(t),
		    protets_lock_timeout(t));
	return EX_OTHER;
}

static protets_t *
cli_connect(void)
{
	protets_t	*p;
	int		 rc;

	if ((rc = protets_connect(cli_sock, &p)) != 0)
		exit(cli_fail("connect", rc));
	return p;
}

protets_table_t *
cli_open(protets_t *p, const char *name)
{
	protets_table_t	*t;
	int		 rc;

	if ((rc = protets_open(p, name, &t)) != 0)
		exit(cli_fail(name, rc));
	return t;
}

/*
 * The table options of get and of load (--type for get only: a saved
 * table has its type): fill o and leave optind at the first operand.
 */
static void
cli_table_opts(int argc, char **argv, protets_opts *o, int with_type)
{
	static const struct option opts[] = {
		{ "type", required_argument, NULL, 't' },
		{ "access", required_argument, NULL, 'a' },
		{ "size", required_argument, NULL, 'z' },
		{ "write-concurrency", required_argument, NULL, 'w' },
		{ "create-only", no_argument, NULL, 'c' },
		{ "volatile", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*errstr;
	int		 ch;

	memset(o, 0, sizeof(*o));
	optind = 1;
	opterr = 0;	/* ours say it, below */
	while ((ch = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (ch) {
		case 't':
			if (!with_type)
				cli_usage_error("--type: a saved table has its "
				    "type");
			if (protets_type_parse(optarg, &o->type) != 0)
				cli_usage_error("--type %s: not set, "
				    "ordered_set, bag or duplicate_bag",
				    optarg);
			break;
		case 'a':
			if (protets_access_parse(optarg, &o->access) != 0)
				cli_usage_error("--access %s: not public, "
				    "protected or private", optarg);
			break;
		case 'z':
			if (conf_parse_size(optarg, &o->max_size) != 0 ||
			    o->max_size == 0)
				cli_usage_error("--size %s: not a size in "
				    "bytes (a number, K, M, G or T after it)",
				    optarg);
			break;
		case 'w':
			o->write_concurrency = (uint32_t)strtonum(optarg, 1,
			    PROTETS_WRITE_CONCURRENCY_MAX, &errstr);
			if (errstr != NULL || (o->write_concurrency &
			    (o->write_concurrency - 1)) != 0)
				cli_usage_error("--write-concurrency %s: not "
				    "a power of two from 1 to %d", optarg,
				    PROTETS_WRITE_CONCURRENCY_MAX);
			break;
		case 'c':
			if (!with_type)
				cli_usage_error("--create-only: for get");
			o->flags |= PROTETS_CREATE_ONLY;
			break;
		case 'v':
			if (!with_type)
				cli_usage_error("--volatile: for get");
			o->flags |= PROTETS_VOLATILE;
			break;
		case ':':
			cli_usage_error("%s needs a value", argv[optind - 1]);
		default:
			if (optopt != 0)
				cli_usage_error("-%c: unknown option", optopt);
			cli_usage_error("%s: unknown option", argv[optind -
			    1]);
		}
	}
}

static int
cli_get(protets_t *p, int argc, char **argv)
{
	protets_opts	 o;
	protets_table_t	*t;
	char		 vis[4 * PROTETS_NAME_MAX + 1];
	int		 rc;

	cli_table_opts(argc, argv, &o, 1);	/* cli_get_check vetted them */
	if ((rc = protets_get(p, argv[optind], &o, &t)) != 0)
		return cli_fail(argv[optind], rc);
	printf("%s\t%s\t%s\t%s\n", cli_name(protets_table_name(t), vis),
	    protets_type_name(protets_table_type(t)),
	    protets_access_name(protets_table_access(t)),
	    protets_table_writable(t) ? "read-write" : "read-only");
	protets_close(t);
	return 0;
}

static int
cli_count(protets_t *p, char **argv)
{
	protets_table_t	*t = cli_open(p, argv[0]);
	uint64_t	 n;
	int		 rc;

	if ((rc = protets_count(t, &n)) == 0)
		printf("%llu\n", (unsigned long long)n);
	protets_close(t);
	return rc ? cli_fail("count", rc) : 0;
}

static int
cli_clear(protets_t *p, char **argv)
{
	protets_table_t	*t = cli_open(p, argv[0]);
	int		 rc;

	rc = protets_delete_all_objects(t);
	if (rc != 0)
		rc = cli_wfail(t, "clear", rc);
	protets_close(t);
	return rc;
}

static int
cli_check(protets_t *p, char **argv)
{
	protets_table_t	*t = cli_open(p, argv[0]);
	char		 msg[256] = "";
	int		 rc;

	rc = protets_check(t, msg, sizeof(msg));
	protets_close(t);
	if (rc != 0) {
		fprintf(stderr, "protets: %s: %s: %s\n", argv[0],
		    protets_strerror(rc), msg);
		return EX_OTHER;
	}
	printf("%s: ok\n", argv[0]);
	return 0;
}

static int
cli_set_access(protets_t *p, char **argv)
{
	protets_access	 a;
	int		 rc;

	/* cli_access_check vetted it */
	(void)protets_access_parse(argv[1], &a);
	if ((rc = protets_set_access(p, argv[0], a)) != 0)
		return cli_fail(argv[0], rc);
	return 0;
}

/* resize NAME SIZE: the table's quota, online; 0 or "none": no quota. */
static int
cli_resize(protets_t *p, char **argv)
{
	uint64_t	 size = 0;
	int		 rc;

	/* cli_resize_check vetted it */
	if (strcmp(argv[1], "none") != 0)
		(void)conf_parse_size(argv[1], &size);
	if ((rc = protets_resize(p, argv[0], size)) != 0)
		return cli_fail(argv[0], rc);
	return 0;
}

static int
cli_drop(protets_t *p, char **argv)
{
	int	 rc;

	if ((rc = protets_drop(p, argv[0])) != 0)
		return cli_fail(argv[0], rc);
	return 0;
}

static void
cli_human(const char *key, uint64_t v)
{
	char	 buf[16];

	/* 6: at most 5 characters, as ls -h ("4.1KB", "64MB", "40B") */
	humanize_number(buf, 6, (int64_t)v, "B", HN_AUTOSCALE,
	    HN_DECIMAL | HN_NOSPACE);
	printf("%s: %llu (%s)\n", key, (unsigned long long)v, buf);
}

/* info's last line: "holders: PID ..." (nothing after: none). */
static int
cli_info_holders(protets_t *p, const char *name)
{
	pid_t	 pids[64];
	size_t	 n, i;
	int	 more = 0, rc;

	if ((rc = protets_holders(p, name, pids, 64, &n, &more)) != 0)
		return cli_fail(name, rc);
	fputs("holders:", stdout);
	for (i = 0; i < n; i++)
		printf(" %d", (int)pids[i]);
	puts(more ? " ..." : "");
	return 0;
}

static int
cli_info(protets_t *p, char **argv)
{
	protets_info	 in;
	char		 when[64], vis[4 * PROTETS_NAME_MAX + 1];
	time_t		 tt;
	int		 rc;

	if ((rc = protets_info_get(p, argv[0], &in)) != 0)
		return cli_fail(argv[0], rc);
	tt = (time_t)in.created;
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&tt));
	printf("name: %s\n", cli_name(in.name, vis));
	printf("id: %llu\n", (unsigned long long)in.id);
	printf("type: %s\n", protets_type_name(in.type));
	printf("access: %s\n", protets_access_name(in.access));
	printf("owner_uid: %u\n", in.owner_uid);
	printf("entries: %llu\n", (unsigned long long)in.entries);
	if (in.write_concurrency != 0)
		printf("write_concurrency: %u\n", in.write_concurrency);
	cli_human("bytes", in.bytes_used);
	/* A daemon from before quotas sends none of these: memory is 0. */
	if (in.bytes_memory != 0) {
		if (in.bytes_quota != 0)
			cli_human("quota", in.bytes_quota);
		else
			printf("quota: none\n");
		cli_human("free", in.bytes_free);
		cli_human("largest_fit", in.largest_fit);
		cli_human("memory", in.bytes_memory);
	}
	cli_human("size", in.bytes_size);
	printf("worker: %d\n", (int)in.worker);
	printf("worker_pid: %d\n", (int)in.worker_pid);
	printf("created: %s\n", when);
	return cli_info_holders(p, argv[0]);
}

/* procs: nothing, or -l. */
static void
cli_dash_l_check(int argc, char **argv)
{
	if (argc > 2 || (argc == 2 && strcmp(argv[1], "-l") != 0))
		cli_usage_error("%s takes -l or nothing", argv[0]);
}

static int
cli_procs_one(const protets_proc *pr, void *arg)
{
	if (*(const int *)arg)
		printf("%s %d %u\n", pr->role, (int)pr->pid, pr->tables);
	else
		printf("%s %d\n", pr->role, (int)pr->pid);
	return 0;
}

/* procs [-l]: ROLE PID, and with -l a header and the tables held. */
static int
cli_procs(protets_t *p, int argc, char **argv)
{
	int	 l = argc == 2, rc;

	(void)argv;
	if (l)
		printf("ROLE PID TABLES\n");
	if ((rc = protets_procs(p, cli_procs_one, &l)) != 0)
		return cli_fail("procs", rc);
	return 0;
}

static int
cli_save(protets_t *p, char **argv)
{
	protets_table_t	*t = cli_open(p, argv[0]);
	int		 rc;

	rc = protets_save(t, argv[1]);
	protets_close(t);
	return rc ? cli_fail(argv[1], rc) : 0;
}

/* load FILE [NAME] [--access A] [--size BYTES] [--write-concurrency N]:
 * prints nothing on success. */
static int
cli_load(protets_t *p, int argc, char **argv)
{
	protets_opts	 o;
	int		 rc;

	cli_table_opts(argc, argv, &o, 0);	/* cli_load_check vetted them */
	rc = protets_load(p, argv[optind], argc - optind == 2 ?
	    argv[optind + 1] : NULL, &o, NULL);
	return rc ? cli_fail(argv[optind], rc) : 0;
}

/*
 * Checks run before connecting: a usage error must not wait for a daemon
 * (argv from the command on, as the handlers get it).
 */
static void
cli_get_check(int argc, char **argv)
{
	protets_opts	o;

	cli_table_opts(argc, argv, &o, 1);
	if (argc - optind != 1)
		cli_usage_error("get takes one NAME, then options");
}

static void
cli_load_check(int argc, char **argv)
{
	protets_opts	o;

	cli_table_opts(argc, argv, &o, 0);
	if (argc - optind != 1 && argc - optind != 2)
		cli_usage_error("load takes FILE [NAME], then options");
}

static void
cli_access_check(int argc, char **argv)
{
	protets_access	a;

	(void)argc;
	if (protets_access_parse(argv[2], &a) != 0)
		cli_usage_error("set-access: %s: not public, protected or "
		    "private", argv[2]);
}

static void
cli_resize_check(int argc, char **argv)
{
	uint64_t	size;

	(void)argc;
	if (strcmp(argv[2], "none") != 0 &&
	    conf_parse_size(argv[2], &size) != 0)
		cli_usage_error("resize: %s: not a size in bytes (a number, K, "
		    "M, G or T after it; none or 0: no quota)", argv[2]);
}

/*
 * The commands: their operand count (-1: variable, at least one; -2: any)
 * and the handler, of one of three kinds: the operands after the command
 * (args), the whole command line from the command on (line), or the
 * options and operands of a data command parsed into struct cli_args
 * (data, with the options opts allows).
 */
struct cli_cmd {
	const char	*name;
	int		 nargs;
	const char	*operands;	/* as a usage error says them */
	unsigned int	 opts;		/* CLI_O_* (data commands) */
	/* its options and operands, checked before connecting (or NULL) */
	void		(*check)(int, char **);
	int		(*args)(protets_t *, char **);
	int		(*line)(protets_t *, int, char **);
	int		(*data)(protets_t *, struct cli_args *);
};

#define O_KEY		(CLI_O_ESC | CLI_O_FMT)
#define O_SEL		(CLI_O_ESC | CLI_O_MATCH)
#define O_IN		(CLI_O_ESC | CLI_O_FMT | CLI_O_STDIN)

static const struct cli_cmd cli_cmds[] = {
	{ "get", -1, "NAME [options]", 0, cli_get_check, NULL, cli_get, NULL },
	{ "insert", 3, "NAME KEY VALUE", O_IN, NULL, NULL, NULL, cld_insert },
	{ "lookup", 2, "NAME KEY", O_KEY, NULL, NULL, NULL, cld_lookup },
	{ "delete", 2, "NAME KEY", O_IN, NULL, NULL, NULL, cld_delete },
	{ "dump", 1, "NAME", CLI_O_FMT, NULL, NULL, NULL, cld_dump },
	{ "count", 1, "NAME", 0, NULL, cli_count, NULL, NULL },
	{ "check", 1, "NAME", 0, NULL, cli_check, NULL, NULL },
	{ "drop", 1, "NAME", 0, NULL, cli_drop, NULL, NULL },
	{ "ls", 0, "[-l] [--format F]", CLI_O_FMT | CLI_O_LONG, NULL, NULL,
	    NULL, cld_ls },
	{ "info", 1, "NAME", 0, NULL, cli_info, NULL, NULL },
	{ "procs", -2, "[-l]", 0, cli_dash_l_check, NULL, cli_procs, NULL },
	{ "insert-new", 3, "NAME KEY VALUE", O_IN, NULL, NULL, NULL,
	    cld_insert_new },
	{ "take", 2, "NAME KEY", O_KEY, NULL, NULL, NULL, cld_take },
	{ "delete-object", 3, "NAME KEY VALUE", CLI_O_ESC, NULL, NULL, NULL,
	    cld_delete_object },
	{ "member", 2, "NAME KEY", CLI_O_ESC, NULL, NULL, NULL, cld_member },
	{ "update-counter", 3, "NAME KEY INCREMENT", CLI_O_ESC |
	    CLI_O_COUNTER, NULL, NULL, NULL, cld_update_counter },
	{ "first", 1, "NAME", CLI_O_FMT, NULL, NULL, NULL, cld_walk },
	{ "next", 2, "NAME KEY", O_KEY, NULL, NULL, NULL, cld_walk },
	{ "last", 1, "NAME", CLI_O_FMT, NULL, NULL, NULL, cld_walk },
	{ "prev", 2, "NAME KEY", O_KEY, NULL, NULL, NULL, cld_walk },
	{ "clear", 1, "NAME", 0, NULL, cli_clear, NULL, NULL },
	{ "select", 1, "NAME", O_SEL | CLI_O_FMT | CLI_O_LIMIT, NULL, NULL,
	    NULL, cld_select },
	{ "select-count", 1, "NAME", O_SEL, NULL, NULL, NULL,
	    cld_select_count },
	{ "select-delete", 1, "NAME", O_SEL, NULL, NULL, NULL,
	    cld_select_delete },
	{ "set-access", 2, "NAME public|protected|private", 0,
	    cli_access_check, cli_set_access, NULL, NULL },
	{ "resize", 2, "NAME SIZE", 0, cli_resize_check, cli_resize, NULL,
	    NULL },
	{ "save", 2, "NAME FILE", 0, NULL, cli_save, NULL, NULL },
	{ "load", -1, "FILE [NAME] [options]", 0, cli_load_check, NULL,
	    cli_load, NULL },
	/* cli_stats.c */
	{ "stats", -2, "[NAME]", 0, cli_stats_check, NULL, cli_stats, NULL },
	{ "metrics", 0, "", 0, NULL, NULL, cli_metrics, NULL },
	{ "top", -2, "[-n COUNT]", 0, cli_top_check, NULL, cli_top, NULL },
	{ NULL, 0, NULL, 0, NULL, NULL, NULL, NULL }
};

/* A signed integer operand or option value, whole; what names it. */
static int64_t
cli_int(const char *s, const char *what)
{
	long long	 v;
	char		*end;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0')
		cli_usage_error("%s: %s: not an integer", what, s);
	return (int64_t)v;
}

/* A KEY (also a bound: --from, --to) within the limits. */
static void
cli_key_check(const char *cmd, const struct cli_bytes *b)
{
	if (b->len == 0 || b->len > PROTETS_KEY_MAX) {
		fprintf(stderr, "protets: %s: a key of %zu bytes: keys are 1 "
		    "to %d bytes\n", cmd, b->len, PROTETS_KEY_MAX);
		exit(EX_USAGE);
	}
}

static const struct option cli_data_opts[] = {
	{ "format", required_argument, NULL, 'F' },
	{ "escaped", no_argument, NULL, 'e' },
	{ "prefix", required_argument, NULL, 'p' },
	{ "from", required_argument, NULL, 'f' },
	{ "to", required_argument, NULL, 't' },
	{ "limit", required_argument, NULL, 'n' },
	{ "reverse", no_argument, NULL, 'r' },
	{ "default", required_argument, NULL, 'd' },
	{ "threshold", required_argument, NULL, 'T' },
	{ "set-value", required_argument, NULL, 'S' },
	{ NULL, 0, NULL, 0 }
};

/* Which CLI_O_* option ch (of cli_data_opts, or -l) belongs to. */
static unsigned int
cli_opt_class(int ch)
{
	switch (ch) {
	case 'F':
		return CLI_O_FMT;
	case 'e':
		return CLI_O_ESC;
	case 'p': case 'f': case 't':
		return CLI_O_MATCH;
	case 'n': case 'r':
		return CLI_O_LIMIT;
	case 'd': case 'T': case 'S':
		return CLI_O_COUNTER;
	default:
		return CLI_O_LONG;
	}
}

/* One option of a data command into a; raw bounds into bound[3]. */
static void
cli_data_opt(const struct cli_cmd *c, int ch, const char *arg,
    struct cli_args *a, const char *bound[3], int *thr)
{
	switch (ch) {
	case 'F':
		if (cio_fmt_parse(arg, &a->fmt) != 0)
			cli_usage_error("%s: --format %s: not raw, tsv or "
			    "json", c->name, arg);
		a->fmt_set = 1;
		break;
	case 'e':
		a->esc = 1;
		break;
	case 'l':
		a->l = 1;
		break;
	case 'p': case 'f': case 't':
		bound[ch == 'p' ? 0 : ch == 'f' ? 1 : 2] = arg;
		break;
	case 'n':
		a->limit = (uint64_t)cli_int(arg, "--limit");
		if ((int64_t)a->limit < 0)
			cli_usage_error("--limit: %s: not a count", arg);
		a->has_limit = 1;
		break;
	case 'r':
		a->reverse = 1;
		break;
	case 'd':
		a->co.dflt = cli_int(arg, "--default");
		break;
	case 'T':
		a->co.threshold = cli_int(arg, "--threshold");
		*thr |= 1;
		break;
	case 'S':
		a->co.setvalue = cli_int(arg, "--set-value");
		*thr |= 2;
		break;
	}
}

/*
 * A data command's options: the options come before the operands when
 * there is a KEY or VALUE (it may start with '-'), anywhere otherwise.
 */
static void
cli_data_opts_parse(const struct cli_cmd *c, int argc, char **argv,
    struct cli_args *a, const char *bound[3])
{
	int	ch, li, thr = 0;

	optind = 1;
	opterr = 0;	/* ours say it, below */
	for (li = -1; (ch = getopt_long(argc, argv, strstr(c->operands,
	    "KEY") ? "+:el" : ":el", cli_data_opts, &li)) != -1; li = -1) {
		if (ch == ':')
			cli_usage_error("%s: %s needs a value", c->name,
			    argv[optind - 1]);
		if (ch == '?' && optopt != 0)
			cli_usage_error("%s: -%c: unknown option", c->name,
			    optopt);
		if (ch == '?')
			cli_usage_error("%s: %s: unknown option", c->name,
			    argv[optind - 1]);
		if (!(cli_opt_class(ch) & c->opts)) {
			if (li >= 0)
				cli_usage_error("%s: --%s: not an option of %s",
				    c->name, cli_data_opts[li].name, c->name);
			cli_usage_error("%s: -%c: not an option of %s",
			    c->name, ch, c->name);
		}
		cli_data_opt(c, ch, optarg, a, bound, &thr);
	}
	if (thr == 1 || thr == 2)
		cli_usage_error("update-counter: --threshold and --set-value "
		    "go together");
	a->co.has_threshold = thr == 3;
}

/* The operands: NAME, KEY, VALUE, INCREMENT, or NAME - (stdin). */
static void
cli_data_operands(const struct cli_cmd *c, int n, char **ops,
    struct cli_args *a)
{
	if ((c->opts & CLI_O_STDIN) && n == 2 && strcmp(ops[1], "-") == 0)
		a->from_stdin = 1;
	else if (n != c->nargs)
		cli_usage_error("%s takes %s%s%s", c->name, c->operands[0] ?
		    c->operands : "no operand", n > c->nargs ? "; too many "
		    "given" : "", n > c->nargs && strstr(c->operands, "KEY") ?
		    " (options go before NAME)" : "");
	if (a->fmt_set && a->from_stdin && a->fmt == CLI_RAW)
		cli_usage_error("%s: --format raw: records are read as tsv or "
		    "json", c->name);
	if (n > 0)
		a->name = ops[0];
	if (n < 2 || a->from_stdin)
		return;
	cio_operand(ops[1], a->esc, "KEY", &a->key);
	cli_key_check(c->name, &a->key);
	if (n < 3)
		return;
	if (strcmp(c->name, "update-counter") == 0) {
		a->incr = cli_int(ops[2], "update-counter");
		return;
	}
	cio_operand(ops[2], a->esc, "VALUE", &a->val);
	if (a->val.len > PROTETS_VALUE_MAX) {
		fprintf(stderr, "protets: %s: a value of %zu bytes: values are "
		    "at most %u bytes\n", c->name, a->val.len,
		    PROTETS_VALUE_MAX);
		exit(EX_USAGE);
	}
}

/* The bounds of the select commands, decoded (-e) and checked. */
static void
cli_data_bounds(const struct cli_cmd *c, const char *bound[3],
    struct cli_args *a)
{
	struct cli_bytes	b;

	if (bound[0] != NULL) {
		cio_operand(bound[0], a->esc, "--prefix", &b);
		if (b.len > PROTETS_KEY_MAX)
			cli_key_check(c->name, &b);
		a->m.prefix = b.p;
		a->m.plen = b.len;
	}
	if (bound[1] != NULL) {
		cio_operand(bound[1], a->esc, "--from", &b);
		cli_key_check(c->name, &b);
		a->m.from = b.p;
		a->m.flen = b.len;
	}
	if (bound[2] != NULL) {
		cio_operand(bound[2], a->esc, "--to", &b);
		cli_key_check(c->name, &b);
		a->m.to = b.p;
		a->m.tlen = b.len;
	}
	if (a->m.prefix == NULL)
		a->m.prefix = "";
}

/* Parse a data command's line (argv from the command on) into a. */
static void
cli_data_parse(const struct cli_cmd *c, int argc, char **argv,
    struct cli_args *a)
{
	const char	*bound[3] = { NULL, NULL, NULL };

	memset(a, 0, sizeof(*a));
	a->cmd = c->name;
	a->fmt = CLI_RAW;
	a->co.has_default = 1;	/* a missing counter starts from 0 */
	cli_data_opts_parse(c, argc, argv, a, bound);
	cli_data_operands(c, argc - optind, argv + optind, a);
	cli_data_bounds(c, bound, a);
	if (a->from_stdin && !a->fmt_set)
		a->fmt = CLI_TSV;
}

/* The global options (before the command); argc, argv at the command. */
static void
cli_global_opts(int *argc, char ***argv)
{
	/* Options stop at the command: a key may start with '-'. */
	while (*argc > 1 && (*argv)[1][0] == '-') {
		if (strcmp((*argv)[1], "--help") == 0 ||
		    strcmp((*argv)[1], "-h") == 0)
			usage(stdout, 0);
		if (strcmp((*argv)[1], "--version") == 0 ||
		    strcmp((*argv)[1], "-V") == 0) {
			printf("protets %d.%d\n", PROTETS_VERSION_MAJOR,
			    PROTETS_VERSION_MINOR);
			exit(0);
		}
		if (strcmp((*argv)[1], "-s") == 0) {
			if (*argc < 3)
				cli_usage_error("-s needs a SOCKET");
			cli_sock = (*argv)[2];
			*argc -= 2;
			*argv += 2;
			continue;
		}
		cli_usage_error("%s: unknown option (-s SOCKET, -h, -V)",
		    (*argv)[1]);
	}
}

int
main(int argc, char *argv[])
{
	static struct cli_args	 a;
	const struct cli_cmd	*c;
	protets_t		*p;
	int			 rc;

	cli_global_opts(&argc, &argv);
	if (argc < 2)
		cli_usage_error("no command");
	for (c = cli_cmds; c->name != NULL; c++)
		if (strcmp(c->name, argv[1]) == 0)
			break;
	if (c->name == NULL)
		cli_usage_error("%s: unknown command", argv[1]);
	if (c->data != NULL)
		cli_data_parse(c, argc - 1, argv + 1, &a);
	else {
		if ((c->nargs >= 0 && argc - 2 != c->nargs) ||
		    (c->nargs == -1 && argc < 3))
			cli_usage_error("%s takes %s%s", c->name,
			    c->operands[0] ? c->operands : "no operand",
			    argc - 2 > c->nargs && c->nargs >= 0 ?
			    "; too many given" : "");
		if (c->check != NULL)
			c->check(argc - 1, argv + 1);
	}
	p = cli_connect();
	if (c->data != NULL)
		rc = c->data(p, &a);
	else if (c->line != NULL)
		rc = c->line(p, argc - 1, argv + 1);
	else
		rc = c->args(p, argv + 2);
	protets_disconnect(p);
	if (fflush(stdout) != 0 && rc == 0) {
		fprintf(stderr, "protets: standard output: %s\n",
		    strerror(errno));
		rc = EX_OTHER;
	}
	return rc;
}
