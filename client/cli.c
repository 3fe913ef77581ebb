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

#include "cli_stats.h"
#include "conf.h"
#include "escape.h"
#include "protets.h"

#define EX_NOTFOUND	1
#define EX_USAGE	2
#define EX_UNREACH	3
#define EX_PERM		4
#define EX_OTHER	5

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
"  insert-new NAME KEY VALUE\n"
"                          insert only if KEY is absent (exit 1 if present)\n"
"  lookup NAME KEY         print each value of KEY on its own line\n"
"  take NAME KEY           remove KEY, printing each value it had\n"
"  delete NAME KEY         delete KEY (every value, on bags)\n"
"  delete-object NAME KEY VALUE\n"
"                          delete the entries equal to KEY VALUE\n"
"  update-counter NAME KEY INCR\n"
"                          add INCR to the integer value of KEY (0 if\n"
"                          missing) and print the result\n"
"  clear NAME              delete every entry\n"
"  select NAME [--prefix P] [--from A] [--to B]\n"
"                          print the entries whose key starts with P\n"
"                          as KEY<TAB>VALUE\n"
"  dump NAME               print every entry as KEY<TAB>VALUE\n"
"  count NAME              print the number of entries\n"
"  check NAME              verify the table's structure\n"
"  drop NAME               delete the table\n"
"  save NAME FILE          write the table to FILE (atomically, mode 0600)\n"
"  load FILE [NAME] [--access public|protected|private] [--size BYTES]\n"
"           [--write-concurrency N]\n"
"                          create the table saved in FILE (as NAME), with\n"
"                          every entry, or nothing (exit 5 if NAME exists)\n"
"  set-access NAME public|protected|private\n"
"                          change the table's access (owner or root)\n"
"  ls [-l]                 one table per line: NAME TYPE ACCESS ENTRIES\n"
"                          [USED SIZE] OWNER_UID WORKER_PID (tab-separated;\n"
"                          -l: with a header, bytes in use and size)\n"
"  info NAME               \"key: value\" lines\n"
"  procs [-l]              one line per daemon process: ROLE PID (-l: with\n"
"                          a header, and the tables each holds)\n"
"  stats [NAME]            the daemon's counts, or the table's operations\n"
"                          (\"key: value\" lines)\n"
"  metrics                 every count in the Prometheus text format\n"
"  top [-n COUNT]          a live view of the daemon and its busiest\n"
"                          tables, once a second; q quits\n"
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
static void __attribute__((format(printf, 1, 2), noreturn))
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
static int
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
static int
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

static protets_table_t *
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
				    "ordered_set, bag or duplicate_bag", optarg);
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
cli_insert(protets_t *p, char **argv)
{
	protets_table_t	*t = cli_open(p, argv[0]);
	int		 rc;

	rc = protets_insert(t, argv[1], strlen(argv[1]), argv[2],
	    strlen(argv[2]));
	if (rc != 0)
		rc = cli_wfail(t, "insert", rc);
	protets_close(t);
	return rc;
}

static int
cli_print_value(const void *k, size_t klen, const void *v, size_t vlen,
    void *arg)
{
	(void)k;
	(void)klen;
	(void)arg;
	fwrite(v, 1, vlen, stdout);
	putchar('\n');
	return 0;
}

static int
cli_lookup(protets_t *p, char **argv)
{
	protets_table_t	*t = cli_open(p, argv[0]);
	int		 rc;

	rc = protets_lookup_each(t, argv[1], strlen(argv[1]),
	    cli_print_value, NULL);
	protets_close(t);
	return rc ? cli_fail(argv[1], rc) : 0;
}

static int
cli_insert_new(protets_t *p, char **argv)
{
	protets_table_t	*t = cli_open(p, argv[0]);
	int		 rc;

	rc = protets_insert_new(t, argv[1], strlen(argv[1]), argv[2],
	    strlen(argv[2]));
	if (rc == PROTETS_EXISTS) {
		fprintf(stderr, "protets: %s: %s\n", argv[1],
		    protets_strerror(rc));
		rc = EX_NOTFOUND;
	} else if (rc != 0)
		rc = cli_wfail(t, "insert-new", rc);
	protets_close(t);
	return rc;
}

static int
cli_take(protets_t *p, char **argv)
{
	protets_table_t	*t = cli_open(p, argv[0]);
	int		 rc;

	rc = protets_take(t, argv[1], strlen(argv[1]), cli_print_value,
	    NULL);
	if (rc != 0)
		rc = cli_wfail(t, argv[1], rc);
	protets_close(t);
	return rc;
}

static int
cli_delete_object(protets_t *p, char **argv)
{
	protets_table_t	*t = cli_open(p, argv[0]);
	int		 rc;

	rc = protets_delete_object(t, argv[1], strlen(argv[1]), argv[2],
	    strlen(argv[2]));
	if (rc != 0)
		rc = cli_wfail(t, "delete-object", rc);
	protets_close(t);
	return rc;
}

static int
cli_update_counter(protets_t *p, char **argv)
{
	protets_counter_opts	 o = { .has_default = 1, .dflt = 0 };
	protets_table_t		*t;
	long long		 incr;
	int64_t			 res;
	int			 rc;

	incr = strtoll(argv[2], NULL, 10);	/* cli_counter_check vetted it */
	t = cli_open(p, argv[0]);
	rc = protets_update_counter(t, argv[1], strlen(argv[1]),
	    (int64_t)incr, &o, &res);
	if (rc == PROTETS_EINVAL || rc == PROTETS_ERANGE) {
		/* Not a usage error: the stored value, or the table type. */
		fprintf(stderr, "protets: %s: %s\n", argv[1], rc ==
		    PROTETS_ERANGE ? "counter overflow" :
		    "not a counter (or not a set)");
		rc = EX_OTHER;
	} else if (rc != 0)
		rc = cli_wfail(t, "update-counter", rc);
	else
		printf("%lld\n", (long long)res);
	protets_close(t);
	return rc;
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

static int cli_dump_one(const void *, size_t, const void *, size_t, void *);

/* select's options into m; optind at NAME.  Usage errors exit. */
static void
cli_select_opts(int argc, char **argv, protets_match *m)
{
	static const struct option opts[] = {
		{ "prefix", required_argument, NULL, 'p' },
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 }
	};
	int		 ch;

	memset(m, 0, sizeof(*m));
	optind = 1;
	opterr = 0;	/* ours say it, below */
	while ((ch = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (ch) {
		case 'p':
			m->prefix = optarg;
			m->plen = strlen(optarg);
			break;
		case 'f':	/* inclusive bounds, in key order */
			m->from = optarg;
			m->flen = strlen(optarg);
			break;
		case 't':
			m->to = optarg;
			m->tlen = strlen(optarg);
			break;
		case ':':
			cli_usage_error("select: %s needs a value",
			    argv[optind - 1]);
		default:
			if (optopt != 0)
				cli_usage_error("select: -%c: unknown option; "
				    "--prefix, --from, --to", optopt);
			cli_usage_error("select: %s: unknown option; "
			    "--prefix, --from, --to", argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		cli_usage_error("select takes one NAME, then options");
}

static void
cli_select_check(int argc, char **argv)
{
	protets_match	m;

	cli_select_opts(argc, argv, &m);
}

static int
cli_select(protets_t *p, int argc, char **argv)
{
	protets_match	 m;
	protets_table_t	*t;
	int		 rc;

	cli_select_opts(argc, argv, &m);
	t = cli_open(p, argv[optind]);
	rc = protets_select(t, &m, cli_dump_one, NULL);
	protets_close(t);
	return rc ? cli_fail("select", rc) : 0;
}

static int
cli_delete(protets_t *p, char **argv)
{
	protets_table_t	*t = cli_open(p, argv[0]);
	int		 rc;

	rc = protets_delete(t, argv[1], strlen(argv[1]));
	if (rc != 0)
		rc = cli_wfail(t, "delete", rc);
	protets_close(t);
	return rc;
}

static int
cli_dump_one(const void *k, size_t klen, const void *v, size_t vlen,
    void *arg)
{
	(void)arg;
	fwrite(k, 1, klen, stdout);
	putchar('\t');
	fwrite(v, 1, vlen, stdout);
	putchar('\n');
	return 0;
}

static int
cli_dump(protets_t *p, char **argv)
{
	protets_table_t	*t = cli_open(p, argv[0]);
	int		 rc;

	rc = protets_foldl(t, cli_dump_one, NULL);
	protets_close(t);
	return rc ? cli_fail("dump", rc) : 0;
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

static int
cli_drop(protets_t *p, char **argv)
{
	int	 rc;

	if ((rc = protets_drop(p, argv[0])) != 0)
		return cli_fail(argv[0], rc);
	return 0;
}

struct cli_ls {
	protets_t	*p;
	int		 rc;
	int		 l;	/* ls -l: bytes used and size too */
};

static int
cli_ls_one(const protets_info *in, void *arg)
{
	struct cli_ls	*ls = arg;
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
	printf("%s\t%s\t%s\t%llu\t", cli_name(full.name, vis),
	    protets_type_name(full.type), protets_access_name(full.access),
	    (unsigned long long)full.entries);
	if (ls->l)
		printf("%llu\t%llu\t", (unsigned long long)full.bytes_used,
		    (unsigned long long)full.bytes_size);
	printf("%u\t%d\n", full.owner_uid, (int)full.worker_pid);
	return 0;
}

/* ls and procs: nothing, or -l. */
static void
cli_dash_l_check(int argc, char **argv)
{
	if (argc > 2 || (argc == 2 && strcmp(argv[1], "-l") != 0))
		cli_usage_error("%s takes -l or nothing", argv[0]);
}

static int
cli_ls(protets_t *p, int argc, char **argv)
{
	struct cli_ls	 ls = { p, 0, argc == 2 };
	int		 rc;

	(void)argv;
	if (ls.l)
		printf("NAME\tTYPE\tACCESS\tENTRIES\tUSED\tSIZE\tOWNER\t"
		    "WORKER\n");
	rc = protets_list(p, cli_ls_one, &ls);
	if (rc == 1)
		rc = ls.rc;
	return rc ? cli_fail("ls", rc) : 0;
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
	cli_human("size", in.bytes_size);
	printf("worker: %d\n", (int)in.worker);
	printf("worker_pid: %d\n", (int)in.worker_pid);
	printf("created: %s\n", when);
	return 0;
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
cli_counter_check(int argc, char **argv)
{
	char	*end;

	(void)argc;
	errno = 0;
	(void)strtoll(argv[3], &end, 10);
	if (errno != 0 || end == argv[3] || *end != '\0')
		cli_usage_error("update-counter: %s: not an integer", argv[3]);
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

/*
 * The commands: their operand count (-1: variable, at least one; -2: any)
 * and the handler, of one of two kinds: the operands after the command
 * (args), or the whole command line from the command on (line).
 */
struct cli_cmd {
	const char	*name;
	int		 nargs;
	const char	*operands;	/* as a usage error says them */
	/* its options and operands, checked before connecting (or NULL) */
	void		(*check)(int, char **);
	int		(*args)(protets_t *, char **);
	int		(*line)(protets_t *, int, char **);
};

static const struct cli_cmd cli_cmds[] = {
	{ "get", -1, "NAME [options]", cli_get_check, NULL, cli_get },
	{ "insert", 3, "NAME KEY VALUE", NULL, cli_insert, NULL },
	{ "lookup", 2, "NAME KEY", NULL, cli_lookup, NULL },
	{ "delete", 2, "NAME KEY", NULL, cli_delete, NULL },
	{ "dump", 1, "NAME", NULL, cli_dump, NULL },
	{ "count", 1, "NAME", NULL, cli_count, NULL },
	{ "check", 1, "NAME", NULL, cli_check, NULL },
	{ "drop", 1, "NAME", NULL, cli_drop, NULL },
	{ "ls", -2, "[-l]", cli_dash_l_check, NULL, cli_ls },
	{ "info", 1, "NAME", NULL, cli_info, NULL },
	{ "procs", -2, "[-l]", cli_dash_l_check, NULL, cli_procs },
	{ "insert-new", 3, "NAME KEY VALUE", NULL, cli_insert_new, NULL },
	{ "take", 2, "NAME KEY", NULL, cli_take, NULL },
	{ "delete-object", 3, "NAME KEY VALUE", NULL, cli_delete_object,
	    NULL },
	{ "update-counter", 3, "NAME KEY INCREMENT", cli_counter_check,
	    cli_update_counter, NULL },
	{ "clear", 1, "NAME", NULL, cli_clear, NULL },
	{ "select", -1, "NAME [options]", cli_select_check, NULL, cli_select },
	{ "set-access", 2, "NAME public|protected|private", cli_access_check,
	    cli_set_access, NULL },
	{ "save", 2, "NAME FILE", NULL, cli_save, NULL },
	{ "load", -1, "FILE [NAME] [options]", cli_load_check, NULL, cli_load },
	/* cli_stats.c */
	{ "stats", -2, "[NAME]", cli_stats_check, NULL, cli_stats },
	{ "metrics", 0, "", NULL, NULL, cli_metrics },
	{ "top", -2, "[-n COUNT]", cli_top_check, NULL, cli_top },
	{ NULL, 0, NULL, NULL, NULL, NULL }
};

/*
 * The KEY and VALUE operands of c (by its operands string) within the
 * limits, or a line saying which is too long, and what the limit is.
 */
static void
cli_kv_check(const struct cli_cmd *c, char **argv)
{
	const char	*w = c->operands;
	size_t		 len, i;

	for (i = 0; w != NULL && *w != '\0' && argv[i] != NULL; i++) {
		len = strlen(argv[i]);
		if (strncmp(w, "KEY", 3) == 0 && (w[3] == ' ' ||
		    w[3] == '\0') && (len == 0 || len > PROTETS_KEY_MAX)) {
			fprintf(stderr, "protets: %s: a key of %zu bytes: keys "
			    "are 1 to %d bytes\n", c->name, len,
			    PROTETS_KEY_MAX);
			exit(EX_USAGE);
		}
		if (strncmp(w, "VALUE", 5) == 0 && len > PROTETS_VALUE_MAX) {
			fprintf(stderr, "protets: %s: a value of %zu bytes: "
			    "values are at most %u bytes\n", c->name, len,
			    PROTETS_VALUE_MAX);
			exit(EX_USAGE);
		}
		if ((w = strchr(w, ' ')) != NULL)
			w++;
	}
}

static int
cli_run(protets_t *p, const struct cli_cmd *c, int argc, char **argv)
{
	if (c->line != NULL)
		return c->line(p, argc, argv);
	return c->args(p, argv + 1);
}

int
main(int argc, char *argv[])
{
	const struct cli_cmd	*c;
	protets_t		*p;
	int			 rc;

	/* Options stop at the command: a key may start with '-'. */
	while (argc > 1 && argv[1][0] == '-') {
		if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
			usage(stdout, 0);
		if (strcmp(argv[1], "--version") == 0 ||
		    strcmp(argv[1], "-V") == 0) {
			printf("protets %d.%d\n", PROTETS_VERSION_MAJOR,
			    PROTETS_VERSION_MINOR);
			return 0;
		}
		if (strcmp(argv[1], "-s") == 0) {
			if (argc < 3)
				cli_usage_error("-s needs a SOCKET");
			cli_sock = argv[2];
			argc -= 2;
			argv += 2;
			continue;
		}
		cli_usage_error("%s: unknown option (-s SOCKET, -h, -V)",
		    argv[1]);
	}
	if (argc < 2)
		cli_usage_error("no command");
	for (c = cli_cmds; c->name != NULL; c++)
		if (strcmp(c->name, argv[1]) == 0)
			break;
	if (c->name == NULL)
		cli_usage_error("%s: unknown command", argv[1]);
	if ((c->nargs >= 0 && argc - 2 != c->nargs) ||
	    (c->nargs == -1 && argc < 3))
		cli_usage_error("%s takes %s%s", c->name, c->operands[0] ?
		    c->operands : "no operand", argc - 2 > c->nargs &&
		    c->nargs >= 0 ? "; too many given" : "");
	if (c->check != NULL)
		c->check(argc - 1, argv + 1);
	cli_kv_check(c, argv + 2);
	p = cli_connect();
	rc = cli_run(p, c, argc - 1, argv + 1);
	protets_disconnect(p);
	return rc;
}
