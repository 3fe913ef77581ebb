/*
 * check_wire.c - protocol encoding and decoding.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "protets.h"

#include "testutil.h"
#include "wire.h"

START_TEST(test_get_roundtrip)
{
	struct wire_get	 g = { .flags = WIRE_GET_CREATE, .type = 2,
			    .access = 3, .max_size = 1 << 20,
			    .write_concurrency = 4 }, o;
	struct wbuf	 w;
	struct rbuf	 r;

	strcpy(g.name, "foo bar");
	wbuf_init(&w);
	wire_put_get(&w, &g);
	ck_assert_int_eq(w.err, 0);
	rbuf_init(&r, w.data, w.len);
	ck_assert_int_eq(wire_get_get(&r, &o), 0);
	ck_assert_str_eq(o.name, "foo bar");
	ck_assert_uint_eq(o.flags, WIRE_GET_CREATE);
	ck_assert_uint_eq(o.type, 2);
	ck_assert_uint_eq(o.access, 3);
	ck_assert_uint_eq(o.max_size, 1 << 20);
	ck_assert_uint_eq(o.write_concurrency, 4);
	/* A GET of a client before write_concurrency: one lock. */
	rbuf_init(&r, w.data, w.len - 4);
	ck_assert_int_eq(wire_get_get(&r, &o), 0);
	ck_assert_uint_eq(o.max_size, 1 << 20);
	ck_assert_uint_eq(o.write_concurrency, 0);
	/* Any other truncation is a protocol error, never an overread. */
	for (size_t n = 0; n < w.len; n++) {
		if (n == w.len - 4)
			continue;
		rbuf_init(&r, w.data, n);
		ck_assert_int_ne(wire_get_get(&r, &o), 0);
	}
	/* Trailing bytes are refused too. */
	wbuf_u32(&w, 0);
	rbuf_init(&r, w.data, w.len);
	ck_assert_int_eq(wire_get_get(&r, &o), PROTETS_EPROTO);
	wbuf_free(&w);
}
END_TEST

START_TEST(test_names)
{
	char		 big[PROTETS_NAME_MAX + 2], name[PROTETS_NAME_MAX + 1];
	struct wbuf	 w;
	struct rbuf	 r;

	ck_assert_int_eq(wire_name_valid("a", 1), 0);
	ck_assert_int_eq(wire_name_valid("", 0), PROTETS_EINVAL);
	ck_assert_int_eq(wire_name_valid("a\0b", 3), PROTETS_EINVAL);
	/*
	 * Control characters: a new name may not hold one (a tab or a
	 * newline would forge ls lines); an old table's name still travels.
	 */
	ck_assert_int_eq(wire_name_valid("a\tb", 3), 0);
	ck_assert_int_eq(wire_name_printable("a\tb", 3), PROTETS_EINVAL);
	ck_assert_int_eq(wire_name_printable("a\nb", 3), PROTETS_EINVAL);
	ck_assert_int_eq(wire_name_printable("\x1b[2J", 4), PROTETS_EINVAL);
	ck_assert_int_eq(wire_name_printable("a\x7f", 2), PROTETS_EINVAL);
	ck_assert_int_eq(wire_name_printable("caf\xc3\xa9 x", 7), 0);
	memset(big, 'x', sizeof(big));
	ck_assert_int_eq(wire_name_valid(big, PROTETS_NAME_MAX), 0);
	ck_assert_int_eq(wire_name_valid(big, PROTETS_NAME_MAX + 1),
	    PROTETS_EINVAL);
	/* An embedded NUL on the wire is refused, not truncated. */
	wbuf_init(&w);
	wbuf_str(&w, "a\0b", 3);
	rbuf_init(&r, w.data, w.len);
	ck_assert_int_eq(wire_get_name(&r, name), PROTETS_EINVAL);
	wbuf_free(&w);
	/* A declared length beyond the payload. */
	wbuf_init(&w);
	wbuf_u16(&w, 200);
	wbuf_put(&w, "abc", 3);
	rbuf_init(&r, w.data, w.len);
	ck_assert_int_eq(wire_get_name(&r, name), PROTETS_EPROTO);
	wbuf_free(&w);
}
END_TEST

START_TEST(test_info_roundtrip)
{
	protets_info	 in, out;
	struct wbuf	 w;
	struct rbuf	 r;
	uint32_t	 flags;

	memset(&in, 0, sizeof(in));
	strcpy(in.name, "t");
	in.type = PROTETS_BAG;
	in.access = PROTETS_PUBLIC;
	in.owner_uid = 1000;
	in.worker = 2;
	in.worker_pid = 4242;
	in.id = 77;
	in.created = 1700000000;
	in.entries = 5;
	in.bytes_used = 4096;
	in.bytes_size = 1 << 24;
	in.write_concurrency = 16;
	wbuf_init(&w);
	wire_put_info(&w, &in, WIRE_INFO_WRITABLE);
	rbuf_init(&r, w.data, w.len);
	ck_assert_int_eq(wire_get_info(&r, &out, &flags), 0);
	ck_assert_int_eq(rbuf_end(&r), 0);
	ck_assert_uint_eq(flags, WIRE_INFO_WRITABLE);
	ck_assert_int_eq(memcmp(&in, &out, sizeof(in)), 0);
	wbuf_free(&w);
}
END_TEST

START_TEST(test_header_checks)
{
	struct wire_hdr	 h;

	wire_hdr_make(&h, WIRE_GET, 10, 1, 0);
	ck_assert_int_eq(wire_hdr_check_request(&h), 0);
	h.version = 99;
	ck_assert_int_eq(wire_hdr_check_request(&h), PROTETS_EVERSION);
	wire_hdr_make(&h, WIRE_GET, WIRE_MAX_REQUEST + 1, 1, 0);
	ck_assert_int_eq(wire_hdr_check_request(&h), PROTETS_EPROTO);
	wire_hdr_make(&h, WIRE_GET | WIRE_REPLY, 0, 1, 0);
	ck_assert_int_eq(wire_hdr_check_request(&h), PROTETS_EPROTO);
	wire_hdr_make(&h, WIRE_GET, 0, 1, 5);
	ck_assert_int_eq(wire_hdr_check_request(&h), PROTETS_EPROTO);
}
END_TEST

START_TEST(test_strerror)
{
	int	 e;

	for (e = PROTETS_ERRMIN; e <= PROTETS_ERRMAX; e++) {
		ck_assert_ptr_nonnull(protets_strerror(e));
		ck_assert_str_ne(protets_strerror(e), "unknown error");
	}
	ck_assert_str_eq(protets_strerror(PROTETS_NOTFOUND),
	    "no such key or table");
	ck_assert_str_eq(protets_strerror(-1), "unknown error");
	ck_assert_str_eq(protets_strerror(0), "success");
}
END_TEST

/*
 * A fake daemon answering every request with status `refuse` for its
 * first `nrefuse` requests, then 0; it exits with the number it read.
 */
static pid_t
fake_daemon(const char *path, int nrefuse, int refuse)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	struct wire_hdr		 h;
	char			 buf[512];
	pid_t			 pid;
	int			 ls, c, n = 0;

	strcpy(sun.sun_path, path);
	unlink(path);
	ck_assert_int_ge(ls = socket(AF_UNIX, SOCK_STREAM, 0), 0);
	ck_assert_int_eq(bind(ls, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(listen(ls, 4), 0);
	ck_assert_int_ge(pid = fork(), 0);
	if (pid > 0) {
		close(ls);
		return pid;
	}
	if ((c = accept(ls, NULL, NULL)) == -1)
		_exit(255);
	while (recv(c, &h, sizeof(h), MSG_WAITALL) == sizeof(h) &&
	    h.len <= sizeof(buf) &&
	    recv(c, buf, h.len, MSG_WAITALL) == (ssize_t)h.len) {
		wire_hdr_make(&h, h.op | WIRE_REPLY, 0, h.seq,
		    n < nrefuse ? refuse : 0);
		n++;
		if (send(c, &h, sizeof(h), MSG_NOSIGNAL) != sizeof(h))
			break;
	}
	_exit(n);
}

/*
 * The daemon answers PROTETS_EAGAIN when a worker could not pass a
 * request on to the one owning the table (restarting): nothing was done,
 * and the library asks again, up to 6 times; a request refused for longer
 * returns PROTETS_EAGAIN.  (The fault suite met it once on open.)
 */
START_TEST(test_client_asks_again)
{
	char		 path[64];
	protets_t	*p;
	pid_t		 pid;
	int		 st, i;
	const struct { int nrefuse, rc, nread; } c[] = {
		{ 2, 0, 3 },			/* two refusals, then done */
		{ 100, PROTETS_EAGAIN, 6 },	/* refused for good */
		{ 100, PROTETS_NOTFOUND, 1 },	/* another error: at once */
	};

	snprintf(path, sizeof(path), "/tmp/protets-fake-%d.sock",
	    (int)getpid());
	for (i = 0; i < 3; i++) {
		pid = fake_daemon(path, c[i].nrefuse,
		    i == 2 ? PROTETS_NOTFOUND : PROTETS_EAGAIN);
		ck_assert_int_eq(protets_connect(path, &p), 0);
		ck_assert_int_eq(protets_drop(p, "t"), c[i].rc);
		protets_disconnect(p);
		ck_assert_int_eq(waitpid(pid, &st, 0), pid);
		ck_assert(WIFEXITED(st));
		ck_assert_int_eq(WEXITSTATUS(st), c[i].nread);
	}
	unlink(path);
}
END_TEST

START_TEST(test_names_of_types)
{
	protets_type	 t;
	protets_access	 a;

	ck_assert_int_eq(protets_type_parse("ordered_set", &t), 0);
	ck_assert_int_eq(t, PROTETS_ORDERED_SET);
	ck_assert_str_eq(protets_type_name(PROTETS_DUPLICATE_BAG),
	    "duplicate_bag");
	ck_assert_int_eq(protets_type_parse("hash", &t), PROTETS_EINVAL);
	ck_assert_int_eq(protets_access_parse("private", &a), 0);
	ck_assert_int_eq(a, PROTETS_PRIVATE);
	ck_assert_int_eq(protets_access_parse("open", &a), PROTETS_EINVAL);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("wire");
	TCase	*tc = tcase_create("wire");

	tcase_add_test(tc, test_get_roundtrip);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_info_roundtrip);
	tcase_add_test(tc, test_header_checks);
	tcase_add_test(tc, test_strerror);
	tcase_add_test(tc, test_names_of_types);
	tcase_add_test(tc, test_client_asks_again);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
