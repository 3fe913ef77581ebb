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
#include <unistd.h>

#include "testutil.h"

/* test_stalled_lock_cli holds a table's lock through the engine. */
#include "entry.h"
#include "hash.h"
#include "lock.h"
#include "table.h"

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
START_TEST(test_bag_cli)
{
	ck_assert_int_eq(run("get b --type bag --access public"), 0);
	ck_assert_str_eq(out, "b\tbag\tpublic\tread-write\n");
	ck_assert_int_eq(run("get db --type duplicate_bag"), 0);
	ck_assert_str_eq(out, "db\tduplicate_bag\tprotected\tread-write\n");
	ck_assert_int_eq(run("insert b k v1"), 0);
	ck_assert_int_eq(run("insert b k v2"), 0);
	ck_assert_int_eq(run("insert b k v1"), 0);	/* no-op on a bag */
	ck_assert_int_eq(run("insert b k2 w"), 0);
	ck_assert_int_eq(run("lookup b k"), 0);
	ck_assert_str_eq(out, "v1\nv2\n");
	ck_assert_int_eq(run("count b"), 0);
	ck_assert_str_eq(out, "3\n");
	ck_assert_int_eq(run("insert db k v1"), 0);
	ck_assert_int_eq(run("insert db k v2"), 0);
	ck_assert_int_eq(run("insert db k v1"), 0);
	ck_assert_int_eq(run("lookup db k"), 0);
	ck_assert_str_eq(out, "v1\nv2\nv1\n");
	ck_assert_int_eq(run("dump db"), 0);
	ck_assert_str_eq(out, "k\tv1\nk\tv2\nk\tv1\n");
	ck_assert_int_eq(run("check db"), 0);
	/* delete-object: the object (every copy on a duplicate bag) */
	ck_assert_int_eq(run("delete-object db k v1"), 0);
	ck_assert_int_eq(run("lookup db k"), 0);
	ck_assert_str_eq(out, "v2\n");
	ck_assert_int_eq(run("delete-object b k nosuch"), 0);
	/* delete: every value */
	ck_assert_int_eq(run("delete b k"), 0);
	ck_assert_int_eq(run("lookup b k"), 1);
	ck_assert_int_eq(run("lookup b k2"), 0);
	ck_assert_str_eq(out, "w\n");
	ck_assert_int_eq(run("info b"), 0);
	ck_assert_ptr_nonnull(strstr(out, "type: bag\n"));
	/* ordered_set: see test_ordered_cli */
	ck_assert_int_eq(run("get os --type ordered_set"), 0);
	ck_assert_int_eq(run("info os"), 0);
	ck_assert_ptr_nonnull(strstr(out, "type: ordered_set\n"));
}
END_TEST

START_TEST(test_ops_cli)
{
	ck_assert_int_eq(run("get t --access public"), 0);
	/* insert-new */
	ck_assert_int_eq(run("insert-new t k v"), 0);
	ck_assert_int_eq(tu_sh(out, sizeof(out), "%s -s %s insert-new t k w "
	    "2>&1", cli, d.sock), 1);
	ck_assert_ptr_nonnull(strstr(out, "exists"));
	ck_assert_int_eq(run("lookup t k"), 0);
	ck_assert_str_eq(out, "v\n");
	ck_assert_int_eq(run("insert-new t"), 2);
	ck_assert_int_eq(run("insert-new nosuch k v"), 1);
	/* take */
	ck_assert_int_eq(run("take t k"), 0);
	ck_assert_str_eq(out, "v\n");
	ck_assert_int_eq(run("take t k"), 1);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(run("lookup t k"), 1);
	ck_assert_int_eq(run("take t"), 2);
	/* delete-object on a set: only the same value */
	ck_assert_int_eq(run("insert t d 1"), 0);
	ck_assert_int_eq(run("delete-object t d 2"), 0);
	ck_assert_int_eq(run("lookup t d"), 0);
	ck_assert_int_eq(run("delete-object t d 1"), 0);
	ck_assert_int_eq(run("lookup t d"), 1);
	ck_assert_int_eq(run("delete-object t d"), 2);
	/* update-counter: starts from 0, text values */
	ck_assert_int_eq(run("update-counter t c 5"), 0);
	ck_assert_str_eq(out, "5\n");
	ck_assert_int_eq(run("update-counter t c -7"), 0);
	ck_assert_str_eq(out, "-2\n");
	ck_assert_int_eq(run("lookup t c"), 0);
	ck_assert_str_eq(out, "-2\n");
	ck_assert_int_eq(run("insert t c 9223372036854775806"), 0);
	ck_assert_int_eq(run("update-counter t c 1"), 0);
	ck_assert_str_eq(out, "9223372036854775807\n");
	ck_assert_int_eq(run("update-counter t c 1"), 5);	/* overflow */
	ck_assert_int_eq(run("insert t s abc"), 0);
	ck_assert_int_eq(run("update-counter t s 1"), 5);	/* not a number */
	ck_assert_int_eq(run("update-counter t c x"), 2);
	ck_assert_int_eq(run("update-counter t c 1x"), 2);
	ck_assert_int_eq(run("update-counter t c"), 2);
	ck_assert_int_eq(run("get b --type bag"), 0);
	ck_assert_int_eq(run("update-counter b c 1"), 5);	/* not a set */
	/* select --prefix, like dump */
	ck_assert_int_eq(run("insert t user:1 alice"), 0);
	ck_assert_int_eq(run("insert t user:2 bob"), 0);
	ck_assert_int_eq(run("insert t group:1 admins"), 0);
	ck_assert_int_eq(run("select t --prefix user: | sort"), 0);
	ck_assert_str_eq(out, "user:1\talice\nuser:2\tbob\n");
	ck_assert_int_eq(run("select t --prefix nothing"), 0);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(run("select t --prefix"), 2);
	ck_assert_int_eq(run("select t --bogus x"), 2);
	ck_assert_int_eq(run("select nosuch --prefix x"), 1);
	ck_assert_int_eq(run("select t | wc -l"), 0);
	ck_assert_str_eq(out, "5\n");
	/* clear */
	ck_assert_int_eq(run("clear t"), 0);
	ck_assert_int_eq(run("count t"), 0);
	ck_assert_str_eq(out, "0\n");
	ck_assert_int_eq(run("dump t"), 0);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(run("check t"), 0);
	ck_assert_int_eq(run("insert t again 1"), 0);
	ck_assert_int_eq(run("count t"), 0);
	ck_assert_str_eq(out, "1\n");
	ck_assert_int_eq(run("clear nosuch"), 1);
	ck_assert_int_eq(run("clear"), 2);
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
	ck_assert_ptr_nonnull(strstr(out, "size: 1048576 "));
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
START_TEST(test_ordered_cli)
{
	ck_assert_int_eq(run("get os --type ordered_set"), 0);
	ck_assert_str_eq(out, "os\tordered_set\tprotected\tread-write\n");
	ck_assert_int_eq(run("insert os c 3"), 0);
	ck_assert_int_eq(run("insert os a 1"), 0);
	ck_assert_int_eq(run("insert os d 4"), 0);
	ck_assert_int_eq(run("insert os ab 12"), 0);
	ck_assert_int_eq(run("insert os b 2"), 0);
	ck_assert_int_eq(run("dump os"), 0);	/* no sort: key order */
	ck_assert_str_eq(out, "a\t1\nab\t12\nb\t2\nc\t3\nd\t4\n");
	ck_assert_int_eq(run("select os --from ab --to c"), 0);
	ck_assert_str_eq(out, "ab\t12\nb\t2\nc\t3\n");
	ck_assert_int_eq(run("select os --from b"), 0);
	ck_assert_str_eq(out, "b\t2\nc\t3\nd\t4\n");
	ck_assert_int_eq(run("select os --to ab"), 0);
	ck_assert_str_eq(out, "a\t1\nab\t12\n");
	ck_assert_int_eq(run("select os --from aa --to bb"), 0);
	ck_assert_str_eq(out, "ab\t12\nb\t2\n");
	ck_assert_int_eq(run("select os --from c --to b"), 0);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(run("select os --prefix a --to aa"), 0);
	ck_assert_str_eq(out, "a\t1\n");
	ck_assert_int_eq(run("select os --from"), 2);
	ck_assert_int_eq(run("check os"), 0);
	/* a hash table: the range filters */
	ck_assert_int_eq(run("get hs"), 0);
	ck_assert_int_eq(run("insert hs x 1"), 0);
	ck_assert_int_eq(run("insert hs y 2"), 0);
	ck_assert_int_eq(run("insert hs z 3"), 0);
	ck_assert_int_eq(run("select hs --from y | sort"), 0);
	ck_assert_str_eq(out, "y\t2\nz\t3\n");
	ck_assert_int_eq(run("select hs --from x --to y | sort"), 0);
	ck_assert_str_eq(out, "x\t1\ny\t2\n");
}
END_TEST

/*
 * A table whose write lock a stopped process holds mid-operation: a
 * writer fails after PROTETS_LOCK_TIMEOUT_MS naming the holder, a reader
 * answers the committed value, and once the holder is killed writers
 * go on.  The holder maps the segment itself and takes the engine's lock.
 */
static pid_t
cli_stopped_holder(protets_table_t *t)
{
	struct tbl	 tb;
	struct ix_pos	 pos;
	void		*base;
	pid_t		 pid;
	int		 fd, st;

	ck_assert_int_ge(fd = tu_table_fd("lk"), 0);
	base = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(base, MAP_FAILED);
	ck_assert_int_eq(tbl_open(&tb, base, 1 << 20, 1), 0);
	if ((pid = fork()) == 0) {
		CHILD_CHECK(lk_wbegin(&tb) == 0);
		CHILD_CHECK(ix_find(&tb, NULL, en_hash("k", 1), "k", 1,
		    &pos) == 0);
		en_setval(&tb, pos.eoff, &pos.eh, "new");
		raise(SIGSTOP);
		_exit(0);
	}
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(waitpid(pid, &st, WUNTRACED), pid);
	ck_assert(WIFSTOPPED(st));
	munmap(base, 1 << 20);
	(void)t;
	return pid;
}

START_TEST(test_stalled_lock_cli)
{
	protets_opts	 o = { .access = PROTETS_PUBLIC, .max_size = 1 << 20 };
	protets_t	*p = td_connect(&d);
	protets_table_t	*t;
	char		 want[128];
	pid_t		 pid;

	ck_assert_int_eq(protets_get(p, "lk", &o, &t), 0);
	ck_assert_int_eq(protets_insert(t, "k", 1, "old", 3), 0);
	pid = cli_stopped_holder(t);
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
	suite_add_tcase(s, tc);
	return tu_run(s);
}
