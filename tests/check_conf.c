/*
 * check_conf.c - protets.conf parsing.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "testutil.h"

static char	conf_path[] = "/tmp/protets-conf.XXXXXX";

static int
load_as(int client, const char *text, struct conf *c, char *err,
    size_t errsz)
{
	int	 fd;
	FILE	*f;

	strcpy(conf_path, "/tmp/protets-conf.XXXXXX");
	ck_assert_int_ne(fd = mkstemp(conf_path), -1);
	f = fdopen(fd, "w");
	fputs(text, f);
	fclose(f);
	fd = client ? conf_load_client(c, conf_path, err, errsz) :
	    conf_load(c, conf_path, err, errsz);
	unlink(conf_path);
	return fd;
}

static int
load(const char *text, struct conf *c, char *err, size_t errsz)
{
	return load_as(0, text, c, err, errsz);
}

START_TEST(test_repo_conf)
{
	struct conf	 c;
	char		 err[512];

	/* The shipped file must load, and keep its paths in the checkout. */
	ck_assert_msg(conf_load(&c, "protets.conf", err, sizeof(err)) == 0,
	    "%s", err);
	ck_assert_int_eq(c.workers, 3);
	ck_assert_ptr_nonnull(strstr(c.socket, "/run/protets.sock"));
	ck_assert_int_eq(c.socket[0], '/');
	ck_assert_uint_eq(c.default_size, 0);
	ck_assert_uint_eq(c.max_size, 16ull << 30);
	ck_assert_int_eq(c.preallocate, 0);
	ck_assert_int_eq(c.connect_timeout_ms, 5000);
}
END_TEST

START_TEST(test_values)
{
	struct conf	 c;
	char		 err[512];

	ck_assert_int_eq(load("[daemon]\nsocket = /x/s\nworkers = 5\n"
	    "socket_mode = 0600\nlog_level = debug\n[tables]\n"
	    "default_size = 1M\nmax_size = 2G\nmax_tables = 7\n"
	    "preallocate = yes\n", &c, err, sizeof(err)), 0);
	ck_assert_str_eq(c.socket, "/x/s");
	ck_assert_int_eq(c.workers, 5);
	ck_assert_uint_eq(c.socket_mode, 0600);
	ck_assert_int_eq(c.debug, 1);
	ck_assert_uint_eq(c.default_size, 1u << 20);
	ck_assert_uint_eq(c.max_size, 2ull << 30);
	ck_assert_int_eq(c.max_tables, 7);
	ck_assert_int_eq(c.preallocate, 1);
	/* a restart under systemd takes a few hundred ms: 5 s by default */
	ck_assert_int_eq(c.connect_timeout_ms, CONF_CONNECT_TIMEOUT_MS);
	ck_assert_int_eq(CONF_CONNECT_TIMEOUT_MS, 5000);
	ck_assert_int_eq(load("[daemon]\nconnect_timeout_ms = 0\n", &c, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(c.connect_timeout_ms, 0);
	ck_assert_int_ne(load("[daemon]\nconnect_timeout_ms = -1\n", &c, err,
	    sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "connect_timeout_ms"));
}
END_TEST

START_TEST(test_relative_path)
{
	struct conf	 c;
	char		 err[512];

	ck_assert_int_eq(load("[daemon]\nsocket = sub/s.sock\n", &c, err,
	    sizeof(err)), 0);
	ck_assert_str_eq(c.socket, "/tmp/sub/s.sock");
}
END_TEST

/*
 * The per-uid limits are on by default ("auto"): half of the daemon's
 * connections, a quarter of its tables, tables adding up to half of the
 * machine's memory (trust issue: with 0, one uid held 800 idle
 * connections and starved everyone).  A number sets one; 0 turns it off.
 */
START_TEST(test_uid_limits_auto)
{
	struct conf	 c;
	char		 err[512];
	uint64_t	 mem = (uint64_t)sysconf(_SC_PHYS_PAGES) *
			    (uint64_t)sysconf(_SC_PAGESIZE);

	ck_assert_int_eq(load("[daemon]\nworkers = 3\nmax_connections = 256\n"
	    "[tables]\nmax_tables = 1000\n", &c, err, sizeof(err)), 0);
	ck_assert_int_eq(c.max_connections_per_uid, 384);
	ck_assert_int_eq(c.max_tables_per_uid, 250);
	ck_assert_uint_eq(c.max_bytes_per_uid, mem / 2 > c.max_size ?
	    mem / 2 : c.max_size);
	ck_assert_int_eq(load("[daemon]\nmax_connections_per_uid = auto\n"
	    "[tables]\nmax_tables_per_uid = auto\nmax_bytes_per_uid = auto\n",
	    &c, err, sizeof(err)), 0);
	ck_assert_int_gt(c.max_connections_per_uid, 0);
	ck_assert_int_gt(c.max_tables_per_uid, 0);
	ck_assert_uint_eq(c.max_bytes_per_uid, mem / 2 > c.max_size ?
	    mem / 2 : c.max_size);
	ck_assert_int_eq(load("[tables]\nmax_size = 1T\n", &c, err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(c.max_bytes_per_uid, 1ULL << 40);
	ck_assert_int_eq(load("[daemon]\nmax_connections_per_uid = 0\n"
	    "[tables]\nmax_tables_per_uid = 5\nmax_bytes_per_uid = 0\n",
	    &c, err, sizeof(err)), 0);
	ck_assert_int_eq(c.max_connections_per_uid, 0);
	ck_assert_int_eq(c.max_tables_per_uid, 5);
	ck_assert_uint_eq(c.max_bytes_per_uid, 0);
	ck_assert_int_eq(load("[tables]\nmax_tables_per_uid = some\n", &c, err,
	    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "max_tables_per_uid"));
}
END_TEST

/*
 * A client reads only socket, connect_timeout_ms and lock_timeout_ms: a
 * typo in a daemon setting (which the daemon refuses) must not stop every
 * client from finding the socket (check-systemd: after a reload with a
 * typo, every protets command failed with "invalid argument").
 */
START_TEST(test_client_reads_its_keys)
{
	struct conf	 c;
	char		 err[512];

	ck_assert_int_eq(load_as(1, "[daemon]\nsocket = /x/s\nsocket_mod = 1\n"
	    "workers = many\n[tables]\nlock_timeout_ms = 7\nbogus = 1\n[more]\n"
	    "x = 1\n", &c, err, sizeof(err)), 0);
	ck_assert_str_eq(c.socket, "/x/s");
	ck_assert_int_eq(c.lock_timeout_ms, 7);
	/* lines inih cannot parse, too */
	ck_assert_int_eq(load_as(1, "[daemon]\nworkers 2\nsocket = /y/s\n"
	    "[tables\n", &c, err, sizeof(err)), 0);
	ck_assert_str_eq(c.socket, "/y/s");
	ck_assert_int_eq(load("[daemon]\nworkers 2\n", &c, err, sizeof(err)),
	    -1);
	/* its own keys are checked */
	ck_assert_int_eq(load_as(1, "[daemon]\nconnect_timeout_ms = soon\n", &c,
	    err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "connect_timeout_ms"));
	/* the daemon refuses what the client ignored */
	ck_assert_int_eq(load("[daemon]\nsocket_mod = 1\n", &c, err,
	    sizeof(err)), -1);
}
END_TEST

START_TEST(test_errors)
{
	struct conf	 c;
	char		 err[512];

	ck_assert_int_eq(load("[daemon]\nbogus = 1\n", &c, err, sizeof(err)),
	    -1);
	ck_assert_ptr_nonnull(strstr(err, ":2: unknown key [daemon] bogus"));
	ck_assert_int_eq(load("[nope]\nx = 1\n", &c, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "unknown section"));
	ck_assert_int_eq(load("[daemon]\nworkers = 0\n", &c, err,
	    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "bad value for [daemon] workers"));
	ck_assert_int_eq(load("[daemon]\nworkers = 3x\n", &c, err,
	    sizeof(err)), -1);
	ck_assert_int_eq(load("[tables]\ndefault_size = 12Q\n", &c, err,
	    sizeof(err)), -1);
	ck_assert_int_eq(load("[tables]\ndefault_size = 2G\nmax_size = 1G\n",
	    &c, err, sizeof(err)), -1);
	ck_assert_int_eq(load("[daemon]\nlog_level = loud\n", &c, err,
	    sizeof(err)), -1);
	ck_assert_int_eq(load("[tables]\npreallocate = maybe\n", &c, err,
	    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "bad value for [tables] preallocate"));
	ck_assert_int_eq(load("[daemon]\nfdstore = sometimes\n", &c, err,
	    sizeof(err)), -1);
	/* metrics_listen: address literals and a port */
	ck_assert_int_eq(load("[daemon]\nmetrics_listen = 127.0.0.1:9417\n",
	    &c, err, sizeof(err)), 0);
	ck_assert_str_eq(c.metrics_addr, "127.0.0.1");
	ck_assert_int_eq(c.metrics_port, 9417);
	ck_assert_int_eq(load("[daemon]\nmetrics_listen = [::1]:80\n", &c,
	    err, sizeof(err)), 0);
	ck_assert_str_eq(c.metrics_addr, "::1");
	ck_assert_int_eq(c.metrics_port, 80);
	ck_assert_int_eq(load("[daemon]\nmetrics_listen =\n", &c, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(c.metrics_port, 0);
	ck_assert_int_eq(load("[daemon]\nmetrics_listen = localhost:80\n",
	    &c, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err,
	    "bad value for [daemon] metrics_listen"));
	ck_assert_int_eq(load("[daemon]\nmetrics_listen = 127.0.0.1\n", &c,
	    err, sizeof(err)), -1);
	ck_assert_int_eq(load("[daemon]\nmetrics_listen = 127.0.0.1:0\n",
	    &c, err, sizeof(err)), -1);
	ck_assert_int_eq(load("[daemon]\nmetrics_listen = ::1:80\n", &c,
	    err, sizeof(err)), -1);
	ck_assert_int_eq(conf_load(&c, "/nonexistent/protets.conf", err,
	    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "No such file"));
}
END_TEST

START_TEST(test_sizes)
{
	uint64_t	 v;

	ck_assert_int_eq(conf_parse_size("4096", &v), 0);
	ck_assert_uint_eq(v, 4096);
	ck_assert_int_eq(conf_parse_size("3k", &v), 0);
	ck_assert_uint_eq(v, 3072);
	ck_assert_int_eq(conf_parse_size("1T", &v), 0);
	ck_assert_uint_eq(v, 1ull << 40);
	ck_assert_int_eq(conf_parse_size("-1", &v), -1);
	ck_assert_int_eq(conf_parse_size("", &v), -1);
	ck_assert_int_eq(conf_parse_size("99999999999999T", &v), -1);
	ck_assert_int_eq(conf_parse_size("1MB", &v), -1);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("conf");
	TCase	*tc = tcase_create("conf");

	tcase_add_test(tc, test_repo_conf);
	tcase_add_test(tc, test_values);
	tcase_add_test(tc, test_relative_path);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_uid_limits_auto);
	tcase_add_test(tc, test_client_reads_its_keys);
	tcase_add_test(tc, test_sizes);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
