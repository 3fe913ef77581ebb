/*
 * check_cli.c - the protets command line: its output formats and exit
 * statuses are a contract that scripts depend on.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

START_TEST(test_usage)
{
	ck_assert_int_eq(tu_sh(out, sizeof(out), "%s 2>&1", cli), 2);
	ck_assert_ptr_nonnull(strstr(out, "usage: protets"));
	ck_assert_int_eq(tu_sh(out, sizeof(out), "%s --help", cli), 0);
	ck_assert_ptr_nonnull(strstr(out, "usage: protets"));
	ck_assert_int_eq(run("frobnicate"), 2);
	ck_assert_int_eq(run("insert onlyname"), 2);
	ck_assert_int_eq(run("get foo --bogus"), 2);
	ck_assert_int_eq(run("get foo --type hash"), 2);
	ck_assert_int_eq(run("get foo --access open"), 2);
	ck_assert_int_eq(run("-x procs"), 2);
	ck_assert_int_eq(tu_sh(out, sizeof(out), "%s -s /nonexistent/sock "
	    "procs 2>&1", cli), 3);
	ck_assert_ptr_nonnull(strstr(out, "daemon unreachable"));
}
END_TEST

START_TEST(test_table_commands)
{
	ck_assert_int_eq(run("get foo"), 0);
	ck_assert_str_eq(out, "foo\tset\tprotected\tread-write\n");
	ck_assert_int_eq(run("get bar --type set --access public"), 0);
	ck_assert_str_eq(out, "bar\tset\tpublic\tread-write\n");
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
	pid_t	 w;

	ck_assert_int_eq(run("get t1 --access public"), 0);
	ck_assert_int_eq(run("insert t1 a 1"), 0);
	ck_assert_int_eq(run("insert t1 b 2"), 0);
	w = td_pid(&d, "worker", td_table_worker(&d, "t1"));
	ck_assert_int_eq(run("ls"), 0);
	snprintf(line, sizeof(line), "t1\tset\tpublic\t2\t%u\t%d\n",
	    (unsigned)getuid(), (int)w);
	ck_assert_str_eq(out, line);
	ck_assert_int_eq(run("info t1"), 0);
	ck_assert_ptr_nonnull(strstr(out, "name: t1\n"));
	ck_assert_ptr_nonnull(strstr(out, "type: set\n"));
	ck_assert_ptr_nonnull(strstr(out, "access: public\n"));
	ck_assert_ptr_nonnull(strstr(out, "entries: 2\n"));
	ck_assert_ptr_nonnull(strstr(out, "bytes: "));
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
	suite_add_tcase(s, tc);
	return tu_run(s);
}
