/*
 * check_cli.c - the protets command line: its output formats and exit
 * statuses are a contract that scripts depend on.
 */
#include <sys/mman.h>
#include <sys/wait.h>

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

static struct td	d;
static char		cli[PATH_MAX];
static char		out[65536];

static void
setup(void)
{
	td_start(&d, 3, NULL, NULL);
	tu_bin("protets", cli, sizeof(cli));
}

static void
teardown(void)
{
	td_stop(&d);
}

/* Run "protets -s SOCK args"; stdout in out, stderr dropped. */
static int
run(const char *args)
{
	return tu_sh(out, sizeof(out), "%s -s %s %s 2>/dev/null", cli, d.sock,
	    args);
}

/*
 * A usage error is one line on stderr naming what is wrong and what is
 * accepted, exit 2, before any daemon is dialled (the socket here does
 * not exist: a usage error must not wait for it).
 */
static const struct {
	const char	*args, *says;
} usage_cases[] = {
	{ "", "protets: no command (protets --help for usage)" },
	{ "frobnicate", "protets: frobnicate: unknown command" },
	{ "insert onlyname", "protets: insert takes NAME KEY VALUE" },
	{ "insert t k v x", "protets: insert takes NAME KEY VALUE; too many" },
	{ "ls x", "protets: ls takes [-l] [--format F]; too many given" },
	{ "dump t --format xml", "protets: dump: --format xml: not raw, tsv "
	    "or json" },
	{ "lookup t a --format tsv", "protets: lookup takes NAME KEY; too many "
	    "given (options go before NAME)" },
	{ "member --format tsv t a", "protets: member: --format: not an option "
	    "of member" },
	{ "lookup -e t 'a\\q'", "protets: KEY a\\\\q: a bad escape (-e: C "
	    "escapes" },
	{ "lookup -e t 'a\\'", "protets: KEY a\\\\: a bad escape" },
	{ "insert --format raw t -", "protets: insert: --format raw: records "
	    "are read as tsv or json" },
	{ "select t --limit x", "protets: --limit: x: not an integer" },
	{ "select t --limit -1", "protets: --limit: -1: not a count" },
	{ "select t --default 1", "protets: select: --default: not an option "
	    "of select" },
	{ "update-counter --threshold 1 t c 1", "protets: update-counter: "
	    "--threshold and --set-value go together" },
	{ "update-counter --set-value 1 t c 1", "protets: update-counter: "
	    "--threshold and --set-value go together" },
	{ "update-counter --default x t c 1", "protets: --default: x: not an "
	    "integer" },
	{ "select-count t --from ''", "protets: select-count: a key of 0 "
	    "bytes" },
	{ "first t k", "protets: first takes NAME; too many given" },
	{ "next t", "protets: next takes NAME KEY" },
	{ "get foo --bogus", "protets: --bogus: unknown option" },
	{ "get foo --type", "protets: --type needs a value" },
	{ "get foo --type hash", "protets: --type hash: not set, ordered_set, "
	    "bag or duplicate_bag" },
	{ "get foo --access open", "protets: --access open: not public, "
	    "protected or private" },
	{ "get bar --size abc", "protets: --size abc: not a size in bytes" },
	{ "get bar --write-concurrency 32", "protets: --write-concurrency 32: "
	    "not a power of two from 1 to 16" },
	{ "get bar --write-concurrency 3", "protets: --write-concurrency 3: "
	    "not a power of two from 1 to 16" },
	{ "get bar -xy", "protets: -x: unknown option" },
	{ "get a b", "protets: get takes one NAME, then options" },
	{ "load f --type set", "protets: --type: a saved table has its type" },
	{ "update-counter foo c abc", "protets: update-counter: abc: not an "
	    "integer" },
	{ "set-access foo open", "protets: set-access: open: not public" },
	{ "select foo --bogus", "protets: select: --bogus: unknown option" },
	{ "-x procs", "protets: -x: unknown option" },
	{ "-s", "protets: -s needs a SOCKET" },
};

START_TEST(test_usage)
{
	size_t	i;

	for (i = 0; i < sizeof(usage_cases) / sizeof(usage_cases[0]); i++) {
		ck_assert_msg(tu_sh(out, sizeof(out), "%s -s /nonexistent/sock "
		    "%s 2>&1", cli, usage_cases[i].args) == 2,
		    "%s: exit status", usage_cases[i].args);
		ck_assert_msg(strncmp(out, usage_cases[i].says,
		    strlen(usage_cases[i].says)) == 0 &&
		    strchr(out, '\n') == out + strlen(out) - 1,
		    "%s: said \"%s\"", usage_cases[i].args, out);
	}
	/* a key or a value over the limit: which, and the limit */
	ck_assert_int_eq(tu_sh(out, sizeof(out), "%s -s /nonexistent/sock "
	    "insert t \"$(head -c 4097 /dev/zero | tr '\\0' k)\" v 2>&1", cli),
	    2);
	ck_assert_str_eq(out, "protets: insert: a key of 4097 bytes: keys are 1 "
	    "to 4096 bytes\n");
	ck_assert_int_eq(tu_sh(out, sizeof(out), "%s -s /nonexistent/sock "
	    "lookup t '' 2>&1", cli), 2);
	ck_assert_str_eq(out, "protets: lookup: a key of 0 bytes: keys are 1 to "
	    "4096 bytes\n");
	ck_assert_int_eq(tu_sh(out, sizeof(out), "%s --help", cli), 0);
	ck_assert_ptr_nonnull(strstr(out, "usage: protets"));
	ck_assert_int_eq(tu_sh(out, sizeof(out), "%s --version", cli), 0);
	ck_assert_str_eq(out, "protets 0.1\n");
	tu_bin("protetsd", out, sizeof(out));
	{
		char	d_bin[PATH_MAX];

		strcpy(d_bin, out);
		ck_assert_int_eq(tu_sh(out, sizeof(out), "%s --version",
		    d_bin), 0);
		ck_assert_str_eq(out, "protetsd 0.1\n");
		ck_assert_int_eq(tu_sh(out, sizeof(out), "%s --help", d_bin),
		    0);
		ck_assert_ptr_nonnull(strstr(out, "usage: protetsd"));
	}
	/* not a usage error: the daemon is not there, and where */
	ck_assert_int_eq(tu_sh(out, sizeof(out), "PROTETS_CONNECT_TIMEOUT_MS=0 "
	    "%s -s /nonexistent/sock procs 2>&1", cli), 3);
	ck_assert_str_eq(out, "protets: connect: daemon unreachable: nothing "
	    "listening at /nonexistent/sock\n");
}
END_TEST

START_TEST(test_table_commands)
{
	ck_assert_int_eq(run("get foo"), 0);
	ck_assert_str_eq(out, "foo\tset\tprotected\tread-write\n");
	ck_assert_int_eq(run("get bar --type set --access public"), 0);
	ck_assert_str_eq(out, "bar\tset\tpublic\tread-write\n");
	/* an existing table asked for as another is refused, and says so */
	ck_assert_int_eq(tu_sh(out, sizeof(out), "%s -s %s get bar --type bag "
	    "2>&1", cli, d.sock), 5);
	ck_assert_str_eq(out, "protets: bar: the table exists with other "
	    "options: table bar exists: set, public, write_concurrency 1\n");
	ck_assert_int_eq(run("get bar --create-only"), 5);
	ck_assert_int_eq(run("get baz --create-only"), 0);
	ck_assert_int_eq(run("drop baz"), 0);
	/* the daemon's words on a size it refuses */
	ck_assert_int_eq(tu_sh(out, sizeof(out), "%s -s %s get big --size 100T "
	    "2>&1", cli, d.sock), 5);
	ck_assert_ptr_nonnull(strstr(out, "exceeds max_size"));
	ck_assert_int_eq(run("insert foo k v"), 0);
	ck_assert_int_eq(run("insert foo k2 'two words'"), 0);
	ck_assert_int_eq(run("lookup foo k"), 0);
	ck_assert_str_eq(out, "v\n");
	ck_assert_int_eq(run("insert foo k v2"), 0);	/* set: replaces */
	ck_assert_int_eq(run("lookup foo k"), 0);
	ck_assert_str_eq(out, "v2\n");
	ck_assert_int_eq(run("lookup foo nokey"), 1);
	ck_assert_int_eq(run("lookup nosuchtable k"), 1);
	ck_assert_int_eq(run("insert nosuchtable k v"), 1);
	ck_assert_int_eq(run("dump foo | sort"), 0);
	ck_assert_str_eq(out, "k\tv2\nk2\ttwo words\n");
	ck_assert_int_eq(run("count foo"), 0);
	ck_assert_str_eq(out, "2\n");
	ck_assert_int_eq(run("check foo"), 0);
	ck_assert_str_eq(out, "foo: ok\n");
	ck_assert_int_eq(run("delete foo k"), 0);
	ck_assert_int_eq(run("lookup foo k"), 1);
	ck_assert_int_eq(run("drop foo"), 0);
	ck_assert_int_eq(run("drop foo"), 1);
	ck_assert_int_eq(run("lookup foo k2"), 1);
}
END_TEST

START_TEST(test_ls_info_procs)
{
	char	 line[256], pidstr[32];
	char	*p, *q;
	pid_t	 w;

	ck_assert_int_eq(run("get t1 --access public"), 0);
	ck_assert_int_eq(run("insert t1 a 1"), 0);
	ck_assert_int_eq(run("insert t1 b 2"), 0);
	w = td_pid(&d, "worker", td_table_worker(&d, "t1"));
	ck_assert_int_eq(run("ls"), 0);
	snprintf(line, sizeof(line), "t1\tset\tpublic\t2\t%u\t%d\n",
	    (unsigned)getuid(), (int)w);
	ck_assert_str_eq(out, line);
	/* ls -l: a header, bytes in use and size too */
	ck_assert_int_eq(run("ls -l"), 0);
	ck_assert_msg(strncmp(out, "NAME\tTYPE\tACCESS\tENTRIES\tUSED\tSIZE\t"
	    "OWNER\tWORKER\nt1\tset\tpublic\t2\t", 45) == 0, "ls -l: %s", out);
	{
		int	tabs = 0;

		for (p = strchr(out, '\n') + 1; *p != '\0' && *p != '\n'; p++)
			tabs += *p == '\t';
		ck_assert_int_eq(tabs, 7);
	}
	ck_assert_int_eq(run("ls -x"), 2);
	ck_assert_int_eq(run("info t1"), 0);
	ck_assert_ptr_nonnull(strstr(out, "name: t1\n"));
	ck_assert_ptr_nonnull(strstr(out, "type: set\n"));
	ck_assert_ptr_nonnull(strstr(out, "access: public\n"));
	ck_assert_ptr_nonnull(strstr(out, "entries: 2\n"));
	ck_assert_ptr_nonnull(strstr(out, "write_concurrency: 1\n"));
	ck_assert_ptr_nonnull(strstr(out, "bytes: "));
	/* sizes read as ls -h has them: "size: 67108864 (64MB)" */
	ck_assert_ptr_nonnull(p = strstr(out, "\nsize: "));
	ck_assert_ptr_nonnull(p = strchr(p, '('));
	ck_assert_ptr_nonnull(q = strchr(p, ')'));
	ck_assert_int_le(q - p - 1, 5);
	ck_assert(q[-1] == 'B' && q[-2] != 'B');
	snprintf(line, sizeof(line), "worker_pid: %d\n", (int)w);
	ck_assert_ptr_nonnull(strstr(out, line));
	ck_assert_int_eq(run("info nosuch"), 1);
	ck_assert_int_eq(run("procs"), 0);
	snprintf(line, sizeof(line), "supervisor %d\n", (int)d.pid);
	ck_assert_ptr_nonnull(strstr(out, line));
	snprintf(pidstr, sizeof(pidstr), "monitor %d\n",
	    (int)td_pid(&d, "monitor", -1));
	ck_assert_ptr_nonnull(strstr(out, pidstr));
	snprintf(pidstr, sizeof(pidstr), "worker %d\n", (int)w);
	ck_assert_ptr_nonnull(strstr(out, pidstr));
	/* -l: a header, and the tables (segments, for the monitor) held */
	ck_assert_int_eq(run("procs -l"), 0);
	ck_assert_int_eq(strncmp(out, "ROLE PID TABLES\nsupervisor ", 27), 0);
	/* (the counts are published as the processes get to it: no value) */
	snprintf(pidstr, sizeof(pidstr), "\nworker %d ", (int)w);
	ck_assert_ptr_nonnull(strstr(out, pidstr));
	ck_assert_int_eq(run("procs -x"), 2);
	ck_assert_int_eq(tu_sh(out, sizeof(out), "%s -s %s procs | grep -c "
	    "'^worker '", cli, d.sock), 0);
	ck_assert_str_eq(out, "3\n");
}
END_TEST

START_TEST(test_socket_sources)
{
	/* $PROTETS_SOCKET, then the socket of $PROTETS_CONF. */
	ck_assert_int_eq(tu_sh(out, sizeof(out), "PROTETS_SOCKET=%s %s procs",
	    d.sock, cli), 0);
	ck_assert_int_eq(tu_sh(out, sizeof(out), "PROTETS_CONF=%s %s procs",
	    d.conf, cli), 0);
	ck_assert_int_eq(tu_sh(out, sizeof(out), "PROTETS_SOCKET=/nonexistent"
	    " %s procs 2>/dev/null", cli), 3);
}
END_TEST

START_TEST(test_permission)
{
	if (getuid() != 0 || access("/usr/bin/setpriv", X_OK) != 0) {
		fprintf(stderr, "test_permission: needs root and setpriv\n");
		return;
	}
	ck_assert_int_eq(run("get prot"), 0);
	ck_assert_int_eq(run("insert prot k v"), 0);
	ck_assert_int_eq(run("get priv --access private"), 0);
	ck_assert_int_eq(tu_sh(out, sizeof(out), "setpriv --reuid=65534 "
	    "--regid=65534 --clear-groups %s -s %s insert prot k w 2>&1",
	    cli, d.sock), 4);
	ck_assert_ptr_nonnull(strstr(out, "permission denied"));
	ck_assert_int_eq(tu_sh(out, sizeof(out), "setpriv --reuid=65534 "
	    "--regid=65534 --clear-groups %s -s %s lookup prot k", cli,
	    d.sock), 0);
	ck_assert_str_eq(out, "v\n");
	ck_assert_int_eq(tu_sh(out, sizeof(out), "setpriv --reuid=65534 "
	    "--regid=65534 --clear-groups %s -s %s lookup priv k 2>/dev/null",
	    cli, d.sock), 4);
	ck_assert_int_eq(tu_sh(out, sizeof(out), "setpriv --reuid=65534 "
	    "--regid=65534 --clear-groups %s -s %s drop prot 2>/dev/null",
	    cli, d.sock), 4);
	ck_assert_int_eq(run("lookup prot k"), 0);
	ck_assert_str_eq(out, "v\n");
	/* set-access: the owner opens the table to writes by others. */
	ck_assert_int_eq(tu_sh(out, sizeof(out), "setpriv --reuid=65534 "
	    "--regid=65534 --clear-groups %s -s %s set-access prot public "
	    "2>/dev/null", cli, d.sock), 4);
	ck_assert_int_eq(run("set-access prot public"), 0);
	ck_assert_int_eq(run("info prot"), 0);
	ck_assert_ptr_nonnull(strstr(out, "access: public"));
	ck_assert_int_eq(tu_sh(out, sizeof(out), "setpriv --reuid=65534 "
	    "--regid=65534 --clear-groups %s -s %s insert prot k w", cli,
	    d.sock), 0);
	ck_assert_int_eq(run("lookup prot k"), 0);
	ck_assert_str_eq(out, "w\n");
	ck_assert_int_eq(run("set-access prot everyone"), 2);
	ck_assert_int_eq(run("set-access nosuch public"), 1);
}
END_TEST

/* The ETS operations through the CLI and the library (bags, counters, ...). */
/*
 * The commands, one row a case, run in order against one daemon (a row
 * may depend on the rows before it): the command line after "protets -s
 * SOCK" (a shell command: it may pipe into sort), what is given on
 * standard input (NULL: nothing), the exit status, standard output
 * exactly (NULL: not looked at) and a fragment of standard error (NULL:
 * not looked at; "": must be empty).
 */
struct cli_case {
	const char	*args, *in;
	int		 status;
	const char	*out, *err;
};

static void
run_cases(const struct cli_case *c, size_t ncases)
{
	char	 in[PATH_MAX + 8], errf[PATH_MAX + 8], err[4096];
	FILE	*f;
	size_t	 i, n;
	int	 rc;

	snprintf(in, sizeof(in), "%s/stdin", d.dir);
	snprintf(errf, sizeof(errf), "%s/stderr", d.dir);
	for (i = 0; i < ncases; i++) {
		ck_assert_ptr_nonnull(f = fopen(in, "w"));
		if (c[i].in != NULL)
			fputs(c[i].in, f);
		fclose(f);
		rc = tu_sh(out, sizeof(out), "{ %s -s %s %s; } <%s 2>%s", cli,
		    d.sock, c[i].args, in, errf);
		ck_assert_ptr_nonnull(f = fopen(errf, "r"));
		n = fread(err, 1, sizeof(err) - 1, f);
		err[n] = '\0';
		fclose(f);
		ck_assert_msg(rc == c[i].status, "%s: exit %d, not %d (stderr "
		    "%s)", c[i].args, rc, c[i].status, err);
		ck_assert_msg(c[i].out == NULL || strcmp(out, c[i].out) == 0,
		    "%s: printed \"%s\"", c[i].args, out);
		ck_assert_msg(c[i].err == NULL || (c[i].err[0] == '\0' ?
		    err[0] == '\0' : strstr(err, c[i].err) != NULL),
		    "%s: said \"%s\"", c[i].args, err);
	}
}

/* bags and duplicate bags: values of one key, delete-object, delete. */
static const struct cli_case bag_cases[] = {
	{ "get b --type bag --access public", NULL, 0,
	    "b\tbag\tpublic\tread-write\n", NULL },
	{ "get db --type duplicate_bag", NULL, 0,
	    "db\tduplicate_bag\tprotected\tread-write\n", NULL },
	{ "insert b k v1", NULL, 0, NULL, NULL },
	{ "insert b k v2", NULL, 0, NULL, NULL },
	{ "insert b k v1", NULL, 0, NULL, NULL },	/* no-op on a bag */
	{ "insert b k2 w", NULL, 0, NULL, NULL },
	{ "lookup b k", NULL, 0, "v1\nv2\n", NULL },
	{ "count b", NULL, 0, "3\n", NULL },
	{ "insert db k v1", NULL, 0, NULL, NULL },
	{ "insert db k v2", NULL, 0, NULL, NULL },
	{ "insert db k v1", NULL, 0, NULL, NULL },
	{ "lookup db k", NULL, 0, "v1\nv2\nv1\n", NULL },
	{ "dump db", NULL, 0, "k\tv1\nk\tv2\nk\tv1\n", NULL },
	{ "check db", NULL, 0, NULL, NULL },
	/* delete-object: the object (every copy on a duplicate bag) */
	{ "delete-object db k v1", NULL, 0, NULL, NULL },
	{ "lookup db k", NULL, 0, "v2\n", NULL },
	{ "delete-object b k nosuch", NULL, 0, NULL, NULL },
	/* delete: every value */
	{ "delete b k", NULL, 0, NULL, NULL },
	{ "lookup b k", NULL, 1, NULL, NULL },
	{ "lookup b k2", NULL, 0, "w\n", NULL },
	{ "info b | grep ^type:", NULL, 0, "type: bag\n", NULL },
	/* ordered_set: see test_ordered_cli */
	{ "get os --type ordered_set", NULL, 0, NULL, NULL },
	{ "info os | grep ^type:", NULL, 0, "type: ordered_set\n", NULL },
};

START_TEST(test_bag_cli)
{
	run_cases(bag_cases, sizeof(bag_cases) / sizeof(bag_cases[0]));
}
END_TEST

/* insert-new, take, delete-object, update-counter, select --prefix, clear. */
static const struct cli_case ops_cases[] = {
	{ "get t --access public", NULL, 0, NULL, NULL },
	/* insert-new */
	{ "insert-new t k v", NULL, 0, NULL, NULL },
	{ "insert-new t k w", NULL, 1, NULL, "exists" },
	{ "lookup t k", NULL, 0, "v\n", NULL },
	{ "insert-new t", NULL, 2, NULL, NULL },
	{ "insert-new nosuch k v", NULL, 1, NULL, NULL },
	/* take */
	{ "take t k", NULL, 0, "v\n", NULL },
	{ "take t k", NULL, 1, "", NULL },
	{ "lookup t k", NULL, 1, NULL, NULL },
	{ "take t", NULL, 2, NULL, NULL },
	/* delete-object on a set: only the same value */
	{ "insert t d 1", NULL, 0, NULL, NULL },
	{ "delete-object t d 2", NULL, 0, NULL, NULL },
	{ "lookup t d", NULL, 0, NULL, NULL },
	{ "delete-object t d 1", NULL, 0, NULL, NULL },
	{ "lookup t d", NULL, 1, NULL, NULL },
	{ "delete-object t d", NULL, 2, NULL, NULL },
	/* update-counter: starts from 0, text values */
	{ "update-counter t c 5", NULL, 0, "5\n", NULL },
	{ "update-counter t c -7", NULL, 0, "-2\n", NULL },
	{ "lookup t c", NULL, 0, "-2\n", NULL },
	{ "insert t c 9223372036854775806", NULL, 0, NULL, NULL },
	{ "update-counter t c 1", NULL, 0, "9223372036854775807\n", NULL },
	{ "update-counter t c 1", NULL, 5, NULL, NULL },	/* overflow */
	{ "insert t s abc", NULL, 0, NULL, NULL },
	{ "update-counter t s 1", NULL, 5,
	    NULL, NULL },	/* not a number */
	{ "update-counter t c x", NULL, 2, NULL, NULL },
	{ "update-counter t c 1x", NULL, 2, NULL, NULL },
	{ "update-counter t c", NULL, 2, NULL, NULL },
	{ "get b --type bag", NULL, 0, NULL, NULL },
	{ "update-counter b c 1", NULL, 5, NULL, NULL },	/* not a set */
	/* select --prefix, like dump */
	{ "insert t user:1 alice", NULL, 0, NULL, NULL },
	{ "insert t user:2 bob", NULL, 0, NULL, NULL },
	{ "insert t group:1 admins", NULL, 0, NULL, NULL },
	{ "select t --prefix user: | sort", NULL, 0,
	    "user:1\talice\nuser:2\tbob\n", NULL },
	{ "select t --prefix nothing", NULL, 0, "", NULL },
	{ "select t --prefix", NULL, 2, NULL, NULL },
	{ "select t --bogus x", NULL, 2, NULL, NULL },
	{ "select nosuch --prefix x", NULL, 1, NULL, NULL },
	{ "select t | wc -l", NULL, 0, "5\n", NULL },
	/* clear */
	{ "clear t", NULL, 0, NULL, NULL },
	{ "count t", NULL, 0, "0\n", NULL },
	{ "dump t", NULL, 0, "", NULL },
	{ "check t", NULL, 0, NULL, NULL },
	{ "insert t again 1", NULL, 0, NULL, NULL },
	{ "count t", NULL, 0, "1\n", NULL },
	{ "clear nosuch", NULL, 1, NULL, NULL },
	{ "clear", NULL, 2, NULL, NULL },
};

START_TEST(test_ops_cli)
{
	run_cases(ops_cases, sizeof(ops_cases) / sizeof(ops_cases[0]));
}
END_TEST

static int
collect(const void *k, size_t klen, const void *v, size_t vlen, void *arg)
{
	char	*s = arg;
	size_t	 l = strlen(s);

	(void)k;
	(void)klen;
	memcpy(s + l, v, vlen);
	s[l + vlen] = ',';
	s[l + vlen + 1] = '\0';
	return 0;
}

/* The library on a mapped table, read-only mapping included. */
START_TEST(test_ops_lib)
{
	protets_t		*p;
	protets_table_t		*t;
	protets_opts		 o = { .type = PROTETS_DUPLICATE_BAG,
				    .access = PROTETS_PUBLIC };
	protets_kv		 kv[3] = { { "a", 1, "1", 1 }, { "a", 1, "2", 1 },
				    { "b", 1, "3", 1 } };
	protets_match		 m = { "a", 1, NULL, NULL, NULL, 0, NULL, 0 };
	char			 s[256] = "", key[PROTETS_KEY_MAX];
	size_t			 klen;
	uint64_t		 n;
	int			 steps = 0, rc;

	p = td_connect(&d);
	ck_assert_int_eq(protets_get(p, "lib", &o, &t), 0);
	ck_assert_int_eq(protets_insert_new_many(t, kv, 3), 0);
	ck_assert_int_eq(protets_insert_new_many(t, kv, 3), PROTETS_EXISTS);
	ck_assert_int_eq(protets_insert_many(t, kv, 3), 0);
	ck_assert_int_eq(protets_lookup_each(t, "a", 1, collect, s), 0);
	ck_assert_str_eq(s, "1,2,1,2,");
	ck_assert_int_eq(protets_member(t, "b", 1), 0);
	ck_assert_int_eq(protets_select_count(t, &m, &n), 0);
	ck_assert_uint_eq(n, 4);
	for (rc = protets_first(t, key, sizeof(key), &klen); rc == 0;
	    rc = protets_next(t, key, klen, key, sizeof(key), &klen))
		steps++;
	ck_assert_int_eq(rc, PROTETS_NOTFOUND);
	ck_assert_int_eq(steps, 2);
	s[0] = '\0';
	ck_assert_int_eq(protets_take(t, "b", 1, collect, s), 0);
	ck_assert_str_eq(s, "3,3,");
	ck_assert_int_eq(protets_delete_object(t, "a", 1, "1", 1), 0);
	ck_assert_int_eq(protets_select_delete(t, NULL, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(protets_update_counter(t, "c", 1, 1, NULL, NULL),
	    PROTETS_EINVAL);
	ck_assert_int_eq(protets_delete_all_objects(t), 0);
	ck_assert_int_eq(protets_count(t, &n), 0);
	ck_assert_uint_eq(n, 0);
	protets_close(t);
	protets_disconnect(p);
}
END_TEST

/* save and load: silent on success, exit statuses of the contract. */
START_TEST(test_save_load_cli)
{
	char	 cmd[4 * PATH_MAX], f[PATH_MAX + 8];

	snprintf(f, sizeof(f), "%s/saved", d.dir);
	ck_assert_int_eq(run("get sv --type bag"), 0);
	ck_assert_int_eq(run("insert sv k 1"), 0);
	ck_assert_int_eq(run("insert sv k 2"), 0);
	ck_assert_int_eq(run("insert sv j 'a b'"), 0);
	snprintf(cmd, sizeof(cmd), "save sv %s", f);
	ck_assert_int_eq(run(cmd), 0);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(tu_sh(out, sizeof(out), "stat -c %%a %s", f), 0);
	ck_assert_str_eq(out, "600\n");
	snprintf(cmd, sizeof(cmd), "load %s sv2", f);
	ck_assert_int_eq(run(cmd), 0);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(run("dump sv2 | sort"), 0);
	ck_assert_str_eq(out, "j\ta b\nk\t1\nk\t2\n");
	ck_assert_int_eq(run("info sv2"), 0);
	ck_assert_ptr_nonnull(strstr(out, "type: bag\naccess: protected\n"));
	/* Its saved name is taken: exit 5, the table untouched. */
	snprintf(cmd, sizeof(cmd), "%s -s %s load %s 2>&1", cli, d.sock, f);
	ck_assert_int_eq(tu_sh(out, sizeof(out), "%s", cmd), 5);
	ck_assert_ptr_nonnull(strstr(out, "already exists"));
	snprintf(cmd, sizeof(cmd), "load %s sv3 --access public --size 1M", f);
	ck_assert_int_eq(run(cmd), 0);
	ck_assert_int_eq(run("info sv3"), 0);
	ck_assert_ptr_nonnull(strstr(out, "access: public\n"));
	ck_assert_ptr_nonnull(strstr(out, "quota: 1048576 "));
	ck_assert_int_eq(run("count sv3"), 0);
	ck_assert_str_eq(out, "3\n");
	/* A corrupt file: exit 5, no table. */
	ck_assert_int_eq(tu_sh(out, sizeof(out), "printf x >> %s", f), 0);
	snprintf(cmd, sizeof(cmd), "%s -s %s load %s bad 2>&1", cli, d.sock,
	    f);
	ck_assert_int_eq(tu_sh(out, sizeof(out), "%s", cmd), 5);
	ck_assert_ptr_nonnull(strstr(out, "malformed or corrupt"));
	ck_assert_int_eq(run("info bad"), 1);
	/* Missing table, missing file or directory, usage. */
	snprintf(cmd, sizeof(cmd), "save nosuch %s", f);
	ck_assert_int_eq(run(cmd), 1);
	snprintf(cmd, sizeof(cmd), "save sv %s/no/such", d.dir);
	ck_assert_int_eq(run(cmd), 5);
	snprintf(cmd, sizeof(cmd), "load %s/none sv4", d.dir);
	ck_assert_int_eq(run(cmd), 5);
	ck_assert_int_eq(run("save sv"), 2);
	ck_assert_int_eq(run("load"), 2);
	ck_assert_int_eq(run("load a b c"), 2);
	ck_assert_int_eq(run("load a --size 0"), 2);
	ck_assert_int_eq(run("load a --type set"), 2);
}
END_TEST

/* ordered_set: dump and select in key order; select --from/--to. */
/* an ordered_set walks in key order and seeks a range; a hash
 * table filters by it. */
static const struct cli_case ordered_cases[] = {
	{ "get os --type ordered_set", NULL, 0,
	    "os\tordered_set\tprotected\tread-write\n", NULL },
	{ "insert os c 3", NULL, 0, NULL, NULL },
	{ "insert os a 1", NULL, 0, NULL, NULL },
	{ "insert os d 4", NULL, 0, NULL, NULL },
	{ "insert os ab 12", NULL, 0, NULL, NULL },
	{ "insert os b 2", NULL, 0, NULL, NULL },
	/* no sort: key order */
	{ "dump os", NULL, 0, "a\t1\nab\t12\nb\t2\nc\t3\nd\t4\n", NULL },
	{ "select os --from ab --to c", NULL, 0, "ab\t12\nb\t2\nc\t3\n", NULL },
	{ "select os --from b", NULL, 0, "b\t2\nc\t3\nd\t4\n", NULL },
	{ "select os --to ab", NULL, 0, "a\t1\nab\t12\n", NULL },
	{ "select os --from aa --to bb", NULL, 0, "ab\t12\nb\t2\n", NULL },
	{ "select os --from c --to b", NULL, 0, "", NULL },
	{ "select os --prefix a --to aa", NULL, 0, "a\t1\n", NULL },
	{ "select os --from", NULL, 2, NULL, NULL },
	{ "check os", NULL, 0, NULL, NULL },
	/* a hash table: the range filters */
	{ "get hs", NULL, 0, NULL, NULL },
	{ "insert hs x 1", NULL, 0, NULL, NULL },
	{ "insert hs y 2", NULL, 0, NULL, NULL },
	{ "insert hs z 3", NULL, 0, NULL, NULL },
	{ "select hs --from y | sort", NULL, 0, "y\t2\nz\t3\n", NULL },
	{ "select hs --from x --to y | sort", NULL, 0, "x\t1\ny\t2\n", NULL },
};

START_TEST(test_ordered_cli)
{
	run_cases(ordered_cases,
	    sizeof(ordered_cases) / sizeof(ordered_cases[0]));
}
END_TEST

/* The data commands: formats, stdin, the whole API. */
static const struct cli_case data_cases[] = {
	{ "get f --access public", NULL, 0, "f\tset\tpublic\tread-write\n",
	    "" },
	/* get of an existing table: its options, or exit 5 saying what it is */
	{ "get f --access public --type set", NULL, 0,
	    "f\tset\tpublic\tread-write\n", "" },
	{ "get f --type bag --access public", NULL, 5, "", "protets: f: the "
	    "table exists with other options: table f exists: set, public, "
	    "write_concurrency 1\n" },
	{ "get f --access protected", NULL, 5, "", "table f exists: set, "
	    "public" },
	{ "get f --write-concurrency 2", NULL, 5, "", "table f exists: set, "
	    "public, write_concurrency 1" },
	{ "get f --write-concurrency 1", NULL, 0, NULL, "" },
	/* the two entries that raw output cannot tell apart */
	{ "insert -e f 'a\\tb' 'x\\ny'", NULL, 0, "", "" },
	{ "insert f a \"$(printf 'b\\tx\\ny')\"", NULL, 0, "", "" },
	{ "dump f | LC_ALL=C sort", NULL, 0, "a\tb\tx\na\tb\tx\ny\ny\n",
	    NULL },
	{ "dump f --format tsv | LC_ALL=C sort", NULL, 0,
	    "a\tb\\tx\\ny\na\\tb\tx\\ny\n", "" },
	{ "dump --format json f | LC_ALL=C sort", NULL, 0,
	    "{\"key\":\"a\",\"value\":\"b\\tx\\ny\"}\n"
	    "{\"key\":\"a\\tb\",\"value\":\"x\\ny\"}\n", "" },
	{ "lookup -e --format tsv f 'a\\tb'", NULL, 0, "x\\ny\n", "" },
	{ "lookup --format json f a", NULL, 0,
	    "{\"key\":\"a\",\"value\":\"b\\tx\\ny\"}\n", "" },
	/* a key with a NUL byte: shown, looked up, a member */
	{ "insert -e f 'k\\0z' '\\\\v\\377'", NULL, 0, "", "" },
	{ "lookup -e --format tsv f 'k\\0z'", NULL, 0, "\\\\v\\377\n", "" },
	{ "lookup -e --format json f 'k\\0z'", NULL, 0, "{\"key\":\"k\\u0000z\","
	    "\"value_base64\":\"XHb/\"}\n", "" },
	{ "member -e f 'k\\0z'", NULL, 0, "", "" },
	{ "member f k", NULL, 1, "", "" },
	{ "member nosuch k", NULL, 1, "", "no table named nosuch" },
	{ "take -e --format tsv f 'k\\0z'", NULL, 0, "\\\\v\\377\n", "" },
	{ "lookup --format raw f a", NULL, 0, "b\tx\ny\n", "" },
	/* records from standard input, tsv by default */
	{ "get g --access public", NULL, 0, NULL, "" },
	{ "insert g -", "a\tb\nc\\td\te\\n\n", 0, "", "" },
	{ "dump g --format tsv | LC_ALL=C sort", NULL, 0,
	    "a\tb\nc\\td\te\\n\n", "" },
	{ "insert g -", "x\t1\ny\n", 5, "", "protets: insert: stdin line 2: "
	    "no TAB between key and value (1 records written before it)\n" },
	{ "lookup g x", NULL, 0, "1\n", "" },
	{ "insert g -", "p\t1\tq\n", 5, "", "stdin line 1: more than one TAB" },
	{ "insert g -", "p\\q\t1\n", 5, "", "stdin line 1: a bad escape in "
	    "the key" },
	{ "insert g -", "\n", 5, "", "stdin line 1: an empty line" },
	{ "insert g -", "\t1\n", 5, "", "stdin line 1: a key of 0 bytes: keys "
	    "are 1 to 4096 bytes" },
	{ "insert --format json g -", "{\"key\":\"j\",\"value_base64\":\"AAE=\"}"
	    "\n{\"key_base64\":\"/w==\",\"value\":\"\\u0000\"}\n", 0, "", "" },
	{ "lookup --format tsv g j", NULL, 0, "\\0\\001\n", "" },
	{ "lookup -e --format tsv g '\\377'", NULL, 0, "\\0\n", "" },
	{ "insert --format json g -", "{\"key\":\"j\"}\n", 5, "", "stdin line "
	    "1: no \"value\" (or \"value_base64\")" },
	{ "insert --format json g -", "{\"key\":\"j\",\"value\":1}\n", 5, "",
	    "stdin line 1: \"value\": not a string" },
	{ "insert --format json g -", "{\"key\":\"j\",\"key_base64\":\"AA==\","
	    "\"value\":\"\"}\n", 5, "", "stdin line 1: two keys" },
	{ "insert --format json g -", "{\"key\":\"j\",\"value\":\"v\",\"x\":\"\"}"
	    "\n", 5, "", "stdin line 1: \"x\": not key, key_base64" },
	{ "insert --format json g -", "{\"key_base64\":\"@\",\"value\":\"\"}\n",
	    5, "", "stdin line 1: \"key_base64\": not base64" },
	{ "insert --format json g -", "[]\n", 5, "", "not a JSON object" },
	{ "insert --format json g -", "{\"key\n", 5, "", "stdin line 1: not "
	    "JSON" },
	{ "insert nosuch -", "a\tb\n", 1, "", "no table named nosuch" },
	/* json read fast (the form written here) or by jansson: the same */
	{ "insert --format json g -", "{\"value\":\"v\\/\\b\",\"key\":"
	    "\"k\\u0041\\u007f\"}\n{ \"key\" : \"s\\u00e9\", \"value\":"
	    "\"\\ud83d\\ude00\" }\n", 0, "", "" },
	{ "lookup -e --format tsv g 'kA\177'", NULL, 0, "v/\\b\n", "" },
	{ "lookup -e --format tsv g 's\303\251'", NULL, 0,
	    "\\360\\237\\230\\200\n", "" },
	{ "insert --format json g -", "{\"key\":\"a\",\"value\":\"b\",}\n",
	    5, "", "stdin line 1: not JSON" },
	{ "insert --format json g -", "{\"key\":\"a\"\"value\":\"b\"}\n",
	    5, "", "stdin line 1: not JSON" },
	{ "insert --format json g -", "{\"key\":\"a\",\"value\":\"\\q\"}\n",
	    5, "", "stdin line 1: not JSON" },
	/* \u and exactly four hex digits: no space, sign or 0x in them */
	{ "insert --format json g -", "{\"key\":\"d\\u0 7f\",\"value\":\"\"}\n",
	    5, "", "stdin line 1: not JSON" },
	{ "insert --format json g -", "{\"key\":\"a\\u 07f\",\"value\":\"\"}\n",
	    5, "", "stdin line 1: not JSON" },
	{ "insert --format json g -", "{\"key\":\"b\\u+07f\",\"value\":\"\"}\n",
	    5, "", "stdin line 1: not JSON" },
	{ "insert --format json g -", "{\"key\":\"c\\u0x7f\",\"value\":\"\"}\n",
	    5, "", "stdin line 1: not JSON" },
	{ "insert --format json g -", "{\"key\":\"e\\u007\"}\n",
	    5, "", "stdin line 1: not JSON" },
	{ "delete --format json g -", "{\"key\":\"kA\\u007f\"}\n{\"key\":"
	    "\"s\u00e9\"}\n", 0, "", "" },
	{ "member -e g 'kA\177'", NULL, 1, "", "" },
	/* insert-new: the records whose key is absent, exit 1 if any was */
	{ "insert-new g -", "a\tz\nn\tm\n", 1, "", "protets: insert-new: 1 of "
	    "2 keys were present (those records not inserted)\n" },
	{ "lookup g a", NULL, 0, "b\n", "" },
	{ "lookup g n", NULL, 0, "m\n", "" },
	{ "insert-new g -", "n2\tm\n", 0, "", "" },
	/* delete: a key a line; a tsv value, a json value ignored */
	{ "delete g -", "a\nn\tignored\n", 0, "", "" },
	{ "member g a", NULL, 1, "", "" },
	{ "member g n", NULL, 1, "", "" },
	{ "delete --format json g -", "{\"key\":\"j\"}\n{\"key\":\"x\","
	    "\"value\":\"1\"}\n", 0, "", "" },
	{ "member g j", NULL, 1, "", "" },
	{ "member g x", NULL, 1, "", "" },
	/* a KEY may start with '-': the options come before NAME */
	{ "insert g -dash v", NULL, 0, "", "" },
	{ "lookup g -dash", NULL, 0, "v\n", "" },
	{ "insert -e g '\\055' one", NULL, 0, "", "" },
	{ "lookup g -", NULL, 0, "one\n", "" },	/* not stdin: a key */
	{ "delete -e g '\\055'", NULL, 0, "", "" },
	{ "member g -", NULL, 1, "", "" },
	{ "insert-new -e g '-\\tdash' w", NULL, 0, "", "" },
	{ "insert-new -e g '-\\tdash' w", NULL, 1, "", "protets: insert-new: "
	    "-\\tdash: key or table already exists" },
	{ "delete-object -e g '-\\tdash' 'x'", NULL, 0, "", "" },
	{ "member -e g '-\\tdash'", NULL, 0, "", "" },
	{ "delete-object -e g '-\\tdash' 'w'", NULL, 0, "", "" },
	{ "member -e g '-\\tdash'", NULL, 1, "", "" },
	/* first/next/last/prev on an ordered_set */
	{ "get o --type ordered_set", NULL, 0, NULL, "" },
	{ "insert o -", "c\t3\na\t1\nd\t4\nab\t12\nb\t2\n", 0, "", "" },
	{ "first o", NULL, 0, "a\n", "" },
	{ "last o", NULL, 0, "d\n", "" },
	{ "next o ab", NULL, 0, "b\n", "" },
	{ "next o aa", NULL, 0, "ab\n", "" },	/* need not be there */
	{ "prev o ab", NULL, 0, "a\n", "" },
	{ "prev o bb", NULL, 0, "b\n", "" },
	{ "next o d", NULL, 1, "", "" },	/* the end: nothing said */
	{ "prev o a", NULL, 1, "", "" },
	{ "first --format json o", NULL, 0, "{\"key\":\"a\"}\n", "" },
	{ "next -e --format tsv o '\\001'", NULL, 0, "a\n", "" },
	{ "first nosuch", NULL, 1, "", "no table named nosuch" },
	{ "get e --type ordered_set", NULL, 0, NULL, "" },
	{ "first e", NULL, 1, "", "" },
	{ "last e", NULL, 1, "", "" },
	/* select --limit, --reverse */
	{ "select o --limit 2", NULL, 0, "a\t1\nab\t12\n", "" },
	{ "select o --limit 0", NULL, 0, "", "" },
	{ "select o --reverse", NULL, 0, "d\t4\nc\t3\nb\t2\nab\t12\na\t1\n",
	    "" },
	{ "select o --reverse --limit 2", NULL, 0, "d\t4\nc\t3\n", "" },
	{ "select o --reverse --prefix a", NULL, 0, "ab\t12\na\t1\n", "" },
	{ "select o --reverse --from ab --to c", NULL, 0,
	    "c\t3\nb\t2\nab\t12\n", "" },
	{ "select o --reverse --to bb", NULL, 0, "b\t2\nab\t12\na\t1\n", "" },
	{ "select o --reverse --from aa --to bb --limit 1", NULL, 0, "b\t2\n",
	    "" },
	{ "select o --reverse --prefix a --to aa", NULL, 0, "a\t1\n", "" },
	{ "select o --reverse --prefix c --from a", NULL, 0, "c\t3\n", "" },
	{ "select o --reverse --prefix z", NULL, 0, "", "" },
	{ "select --format json o --reverse --limit 1", NULL, 0,
	    "{\"key\":\"d\",\"value\":\"4\"}\n", "" },
	{ "select f --reverse", NULL, 2, "", "protets: select: --reverse: f is "
	    "a set; only an ordered_set has an order\n" },
	/* select-count, select-delete */
	{ "select-count o --prefix a", NULL, 0, "2\n", "" },
	{ "select-count o --from b", NULL, 0, "3\n", "" },
	{ "select-count o", NULL, 0, "5\n", "" },
	{ "select-count -e o --to '\\141\\142'", NULL, 0, "2\n", "" },
	{ "select-delete o --prefix a", NULL, 0, "2\n", "" },
	{ "select o", NULL, 0, "b\t2\nc\t3\nd\t4\n", "" },
	{ "select-delete o --from x", NULL, 0, "0\n", "" },
	{ "select-delete nosuch", NULL, 1, "", "no table named nosuch" },
	/* update-counter's options */
	{ "update-counter f c 5", NULL, 0, "5\n", "" },
	{ "update-counter --default 10 f c2 1", NULL, 0, "11\n", "" },
	{ "update-counter --default 10 f c 1", NULL, 0, "6\n", "" },
	{ "update-counter --threshold 10 --set-value 0 f c 6", NULL, 0, "0\n",
	    "" },
	{ "update-counter --threshold 10 --set-value 0 f c 10", NULL, 0,
	    "10\n", "" },
	{ "update-counter f c -13", NULL, 0, "-3\n", "" },
	{ "update-counter --threshold -5 --set-value 100 f c -3", NULL, 0,
	    "100\n", "" },
	{ "update-counter -e --default -1 f '\\tc' 0", NULL, 0, "-1\n", "" },
	{ "lookup -e f '\\tc'", NULL, 0, "-1\n", "" },
	/* ls --format */
	{ "ls --format json | grep -c '^{\"name\":\"o\",\"type\":\"ordered_set\","
	    "\"access\":\"protected\",\"entries\":3,\"bytes_used\":'", NULL, 0,
	    "1\n", "" },
	{ "ls --format tsv | grep -c '^g\tset\tpublic\t4\t'", NULL, 0, "1\n",
	    "" },
	{ "ls -l --format tsv | head -1", NULL, 0, "NAME\tTYPE\tACCESS\tENTRIES"
	    "\tUSED\tSIZE\tOWNER\tWORKER\n", "" },
};

START_TEST(test_data_cases)
{
	run_cases(data_cases, sizeof(data_cases) / sizeof(data_cases[0]));
}
END_TEST

/* Round-trips: an entry as one allocation, key then value. */
struct rt_ent {
	size_t	 klen, vlen;
	char	*b;
};

struct rt_set {
	struct rt_ent	*e;
	size_t		 n, cap;
};

static int
rt_collect(const void *k, size_t klen, const void *v, size_t vlen, void *arg)
{
	struct rt_set	*s = arg;

	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 1024;
		ck_assert_ptr_nonnull(s->e = realloc(s->e, s->cap *
		    sizeof(*s->e)));
	}
	ck_assert_ptr_nonnull(s->e[s->n].b = malloc(klen + vlen + 1));
	memcpy(s->e[s->n].b, k, klen);
	memcpy(s->e[s->n].b + klen, v, vlen);
	s->e[s->n].klen = klen;
	s->e[s->n].vlen = vlen;
	s->n++;
	return 0;
}

static int
rt_cmp(const void *a, const void *b)
{
	const struct rt_ent	*x = a, *y = b;
	int			 c;

	if (x->klen != y->klen)
		return x->klen < y->klen ? -1 : 1;
	if (x->vlen != y->vlen)
		return x->vlen < y->vlen ? -1 : 1;
	c = memcmp(x->b, y->b, x->klen + x->vlen);
	return c;
}

/* Every entry of t, sorted. */
static void
rt_read(protets_table_t *t, struct rt_set *s)
{
	memset(s, 0, sizeof(*s));
	ck_assert_int_eq(protets_foldl(t, rt_collect, s), 0);
	qsort(s->e, s->n, sizeof(*s->e), rt_cmp);
}

static void
rt_free(struct rt_set *s)
{
	size_t	i;

	for (i = 0; i < s->n; i++)
		free(s->e[i].b);
	free(s->e);
}

/*
 * n random bytes, the ones escapes are about more often than others;
 * ascii 1: printable ASCII; 2: any byte below 0x80 (json's fast path).
 */
static void
rt_bytes(unsigned *seed, char *b, size_t n, int ascii)
{
	static const char	hard[] = { '\0', '\t', '\n', '\r', '\\', '"',
				    0x7f, (char)0x80, (char)0xff, (char)0xc3,
				    (char)0xa9, ' ', '0', '7' };
	size_t			i;

	for (i = 0; i < n; i++) {
		if (ascii == 1)
			b[i] = (char)(0x20 + rand_r(seed) % 0x5f);
		else if (ascii == 2)
			b[i] = (char)(rand_r(seed) % 0x80);
		else if (rand_r(seed) % 2)
			b[i] = hard[rand_r(seed) % sizeof(hard)];
		else
			b[i] = (char)rand_r(seed);
	}
}

/*
 * dump --format F | insert --format F NAME - gives back every entry, byte
 * for byte: random keys and values with NUL, TAB, newlines, backslashes,
 * bytes that are not UTF-8 and some that are, records of ASCII alone
 * (json's fast path reads them), a 1 MiB value of any bytes and one
 * of control bytes (1 MiB of \u00XX escapes, json's fast path), copies on a
 * duplicate_bag.  The json is read by Python's parser too.
 * PROTETS_SEED replays a run.
 */
START_TEST(test_binary_roundtrip)
{
	static const char *const fmts[] = { "tsv", "json" };
	protets_opts		 o = { .type = PROTETS_DUPLICATE_BAG,
				    .access = PROTETS_PUBLIC,
				    .max_size = 64 << 20 };
	protets_t		*p = td_connect(&d);
	protets_table_t		*src, *dst;
	struct rt_set		 a, b;
	char			 k[64], *v, name[16];
	unsigned		 seed;
	size_t			 i, j, klen, vlen;

	seed = getenv("PROTETS_SEED") ? (unsigned)atoi(getenv("PROTETS_SEED")) :
	    (unsigned)time(NULL) ^ (unsigned)getpid();
	ck_assert_ptr_nonnull(v = malloc(PROTETS_VALUE_MAX));
	ck_assert_int_eq(protets_get(p, "rt", &o, &src), 0);
	for (i = 0; i < 3000; i++) {
		klen = 1 + (size_t)rand_r(&seed) % sizeof(k);
		vlen = (size_t)rand_r(&seed) % 200;
		rt_bytes(&seed, k, klen, i % 4 == 0 ? 1 : i % 4 == 2 ? 2 : 0);
		rt_bytes(&seed, v, vlen, i % 4 == 1 ? 1 : i % 4 == 2 ? 2 : 0);
		ck_assert_int_eq(protets_insert(src, k, klen, v, vlen), 0);
		if (i % 100 == 0)	/* a copy, on a duplicate_bag */
			ck_assert_int_eq(protets_insert(src, k, klen, v, vlen),
			    0);
	}
	rt_bytes(&seed, v, PROTETS_VALUE_MAX, 0);
	ck_assert_int_eq(protets_insert(src, "\0big", 4, v, PROTETS_VALUE_MAX),
	    0);
	/* 1 MiB of control bytes: \u00XX escapes, json's fast path */
	for (j = 0; j < PROTETS_VALUE_MAX; j++)
		v[j] = (char)(1 + j % 0x1f);
	ck_assert_int_eq(protets_insert(src, "\0ctl", 4, v, PROTETS_VALUE_MAX),
	    0);
	rt_read(src, &a);
	ck_assert_uint_eq(a.n, 3032);
	for (i = 0; i < 2; i++) {
		snprintf(name, sizeof(name), "rt_%s", fmts[i]);
		ck_assert_int_eq(protets_get(p, name, &o, &dst), 0);
		ck_assert_msg(tu_sh(out, sizeof(out), "%s -s %s dump rt "
		    "--format %s | %s -s %s insert --format %s %s - 2>&1", cli,
		    d.sock, fmts[i], cli, d.sock, fmts[i], name) == 0,
		    "%s (PROTETS_SEED=%u): %s", fmts[i], seed, out);
		rt_read(dst, &b);
		ck_assert_msg(a.n == b.n, "%s (PROTETS_SEED=%u): %zu entries, "
		    "not %zu", fmts[i], seed, b.n, a.n);
		for (j = 0; j < a.n; j++)
			ck_assert_msg(rt_cmp(&a.e[j], &b.e[j]) == 0, "%s "
			    "(PROTETS_SEED=%u): entry %zu differs", fmts[i],
			    seed, j);
		rt_free(&b);
		protets_close(dst);
	}
	ck_assert_msg(tu_sh(out, sizeof(out), "%s -s %s dump rt --format json "
	    "| python3 -c 'import json, sys\n"
	    "n = sum(1 for l in sys.stdin if json.loads(l))\n"
	    "print(n)' 2>&1", cli, d.sock) == 0, "python: %s", out);
	ck_assert_str_eq(out, "3032\n");
	rt_free(&a);
	free(v);
	protets_close(src);
	protets_disconnect(p);
}
END_TEST

/*
 * A process holding a table: opens it, says so on ready, closes it when
 * told on go (a byte), says so again, waits for go to close.  fork_too:
 * it forks a child that inherits the mapping and keeps it, and exits
 * (the child waits on go): a holder the daemon never handed the table.
 */
static pid_t
holder_start(const char *name, int ready[2], int go[2], int fork_too)
{
	protets_t	*p;
	protets_table_t	*t;
	pid_t		 pid;
	char		 c;

	ck_assert_int_eq(pipe(ready), 0);
	ck_assert_int_eq(pipe(go), 0);
	if ((pid = fork()) != 0) {
		close(ready[1]);
		close(go[0]);
		ck_assert_int_eq(read(ready[0], &c, 1), 1);
		return pid;
	}
	close(ready[0]);
	close(go[1]);
	CHILD_CHECK(protets_connect(d.sock, &p) == 0);
	CHILD_CHECK(protets_open(p, name, &t) == 0);
	protets_disconnect(p);
	if (fork_too && fork() != 0)
		_exit(0);	/* the child holds it now */
	CHILD_CHECK(write(ready[1], "r", 1) == 1);
	CHILD_CHECK(read(go[0], &c, 1) == 1);
	protets_close(t);
	CHILD_CHECK(write(ready[1], "c", 1) == 1);
	(void)read(go[0], &c, 1);	/* EOF: the test is done */
	_exit(0);
}

/* The last line of out (info's "holders:" line), with its newline. */
static const char *
last_line(void)
{
	size_t	n = strlen(out);

	while (n > 0 && out[n - 1] == '\n')
		n--;
	while (n > 0 && out[n - 1] != '\n')
		n--;
	return out + n;
}

/*
 * info names the processes holding a table, drop in use names them
 * too; one that closed the table and lives on is not named; a child
 * forked by a holder is not known by pid, and drop says so.
 */
START_TEST(test_holders)
{
	char	 want[128], c;
	int	 ready[2], go[2];
	pid_t	 pid;

	ck_assert_int_eq(run("get ht"), 0);
	ck_assert_int_eq(run("info ht"), 0);
	ck_assert_str_eq(last_line(), "holders:\n");
	pid = holder_start("ht", ready, go, 0);
	snprintf(want, sizeof(want), "holders: %d\n", (int)pid);
	ck_assert_int_eq(run("info ht"), 0);
	ck_assert_str_eq(last_line(), want);
	ck_assert_int_eq(tu_sh(out, sizeof(out), "%s -s %s drop ht 2>&1", cli,
	    d.sock), 5);
	snprintf(want, sizeof(want), "protets: ht: table in use: ht is held "
	    "open by pid %d\n", (int)pid);
	ck_assert_str_eq(out, want);
	/* closed, alive: not named, and the table may go */
	ck_assert_int_eq(write(go[1], "g", 1), 1);
	ck_assert_int_eq(read(ready[0], &c, 1), 1);
	ck_assert_int_eq(run("info ht"), 0);
	ck_assert_str_eq(last_line(), "holders:\n");
	ck_assert_int_eq(run("drop ht"), 0);
	close(go[1]);
	close(ready[0]);
	ck_assert_int_eq(tu_wait_child(pid), 0);
	/* held by a child the daemon never handed it to */
	ck_assert_int_eq(run("get hf"), 0);
	pid = holder_start("hf", ready, go, 1);
	ck_assert_int_eq(tu_wait_child(pid), 0);	/* the parent is gone */
	ck_assert_int_eq(tu_sh(out, sizeof(out), "%s -s %s drop hf 2>&1", cli,
	    d.sock), 5);
	ck_assert_str_eq(out, "protets: hf: table in use: hf is held open by "
	    "no process it was handed to (a child forked by one, or one from "
	    "before a worker restart)\n");
	ck_assert_int_eq(run("info hf"), 0);
	ck_assert_str_eq(last_line(), "holders:\n");
	ck_assert_int_eq(write(go[1], "g", 1), 1);
	ck_assert_int_eq(read(ready[0], &c, 1), 1);
	close(go[1]);
	close(ready[0]);
	ck_assert_int_eq(run("drop hf"), 0);
}
END_TEST

START_TEST(test_stalled_lock_cli)
{
	protets_opts	 o = { .access = PROTETS_PUBLIC, .max_size = 1 << 20 };
	protets_t	*p = td_connect(&d);
	protets_table_t	*t;
	char		 want[128];
	pid_t		 pid;

	ck_assert_int_eq(protets_get(p, "lk", &o, &t), 0);
	ck_assert_int_eq(protets_insert(t, "k", 1, "old", 3), 0);
	pid = tu_stopped_holder("lk");
	ck_assert_int_eq(tu_sh(out, sizeof(out), "PROTETS_LOCK_TIMEOUT_MS=200 "
	    "%s -s %s insert lk k v 2>&1", cli, d.sock), 5);
	snprintf(want, sizeof(want), "protets: table 'lk': write lock held by "
	    "pid %d for more than 200 ms\n", (int)pid);
	ck_assert_str_eq(out, want);
	ck_assert_int_eq(tu_sh(out, sizeof(out), "PROTETS_LOCK_TIMEOUT_MS=0 "
	    "%s -s %s update-counter lk c 1 2>&1", cli, d.sock), 5);
	ck_assert_ptr_nonnull(strstr(out, "held by pid"));
	ck_assert_int_eq(run("lookup lk k"), 0);
	ck_assert_str_eq(out, "old\n");
	/* the library: the handle's own timeout, the holder named */
	ck_assert_int_eq(protets_set_lock_timeout(t, -1), PROTETS_EINVAL);
	ck_assert_int_eq(protets_set_lock_timeout(t, 50), 0);
	ck_assert_int_eq(protets_lock_timeout(t), 50);
	ck_assert_int_eq(protets_insert(t, "k", 1, "x", 1), PROTETS_ELOCKED);
	ck_assert_int_eq(protets_lock_holder(t), pid);
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
	ck_assert_int_eq(run("insert lk k v"), 0);
	ck_assert_int_eq(run("lookup lk k"), 0);
	ck_assert_str_eq(out, "v\n");
	ck_assert_int_eq(run("check lk"), 0);
	/* this thread's failure is remembered until its next lock */
	ck_assert_int_eq(protets_lock_holder(t), pid);
	ck_assert_int_eq(protets_insert(t, "k", 1, "z", 1), 0);
	ck_assert_int_eq(protets_lock_holder(t), 0);
	protets_close(t);
	protets_disconnect(p);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("cli");
	TCase	*tc = tcase_create("cli");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_usage);
	tcase_add_test(tc, test_table_commands);
	tcase_add_test(tc, test_ls_info_procs);
	tcase_add_test(tc, test_socket_sources);
	tcase_add_test(tc, test_permission);
	tcase_add_test(tc, test_bag_cli);
	tcase_add_test(tc, test_ops_cli);
	tcase_add_test(tc, test_ops_lib);
	tcase_add_test(tc, test_save_load_cli);
	tcase_add_test(tc, test_ordered_cli);
	tcase_add_test(tc, test_stalled_lock_cli);
	tcase_add_test(tc, test_data_cases);
	tcase_add_test(tc, test_binary_roundtrip);
	tcase_add_test(tc, test_holders);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
