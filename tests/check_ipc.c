/*
 * check_ipc.c - fd passing (fdpass.c) and daemon messages (ipc.c).
 */
#include <sys/resource.h>
#include <sys/socket.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fdpass.h"
#include "ipc.h"
#include "testutil.h"

static int
nfds_open(void)
{
	int	 fd, n = 0;

	for (fd = 0; fd < 4096; fd++)
		if (fcntl(fd, F_GETFD) != -1)
			n++;
	return n;
}

START_TEST(test_pass_max)
{
	int		 sv[2], fds[FDPASS_MAX], got[FDPASS_MAX], n, i;
	uint64_t	 ids[FDPASS_MAX], rid[FDPASS_MAX];
	struct ipc_hdr	 h;
	ssize_t		 r;

	ck_assert_int_eq(ipc_pair(sv), 0);
	for (i = 0; i < FDPASS_MAX; i++) {
		ck_assert_int_ge(fds[i] = dup(0), 0);
		ids[i] = (uint64_t)i * 7;
	}
	ck_assert_int_eq(ipc_send(sv[0], IPC_SEG_ADD, 9, ids, sizeof(ids),
	    fds, FDPASS_MAX, 0), 0);
	r = ipc_recv(sv[1], &h, rid, sizeof(rid), got, FDPASS_MAX);
	ck_assert_int_eq(r, (ssize_t)sizeof(ids));
	ck_assert_uint_eq(h.type, IPC_SEG_ADD);
	ck_assert_uint_eq(h.seq, 9);
	ck_assert_uint_eq(h.nfds, FDPASS_MAX);
	ck_assert_int_eq(memcmp(ids, rid, sizeof(ids)), 0);
	for (i = 0; i < FDPASS_MAX; i++) {
		/* Received fds are close-on-exec (MSG_CMSG_CLOEXEC). */
		ck_assert_int_eq(fcntl(got[i], F_GETFD) & FD_CLOEXEC,
		    FD_CLOEXEC);
		close(got[i]);
		close(fds[i]);
	}
	n = FDPASS_MAX + 1;
	ck_assert_int_eq(ipc_send(sv[0], IPC_SEG_ADD, 0, NULL, 0, fds, n, 0),
	    -1);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* More fds than the receiver accepts: all closed, EPROTO, no leak. */
START_TEST(test_too_many_fds)
{
	int	 sv[2], fds[10], got[4], i, before, nfds;
	char	 b = 'x';

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	for (i = 0; i < 10; i++)
		fds[i] = dup(0);
	ck_assert_int_eq(fdpass_send(sv[0], &b, 1, fds, 10, 0), 1);
	for (i = 0; i < 10; i++)
		close(fds[i]);
	before = nfds_open();
	errno = 0;
	ck_assert_int_eq(fdpass_recv(sv[1], &b, 1, got, 4, &nfds, 0), -1);
	ck_assert_int_eq(errno, EPROTO);
	ck_assert_int_eq(nfds, 0);
	ck_assert_int_eq(nfds_open(), before);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* A header announcing other fds than arrived is refused. */
START_TEST(test_header_mismatch)
{
	int		 sv[2], fd, got[4], before;
	struct ipc_hdr	 h = { .type = IPC_SEG_ADD, .len = 0, .nfds = 2 };
	struct ipc_hdr	 rh;
	char		 buf[64];

	ck_assert_int_eq(ipc_pair(sv), 0);
	fd = dup(0);
	ck_assert_int_eq(fdpass_send(sv[0], &h, sizeof(h), &fd, 1, 0),
	    (ssize_t)sizeof(h));
	close(fd);
	before = nfds_open();
	errno = 0;
	ck_assert_int_eq(ipc_recv(sv[1], &rh, buf, sizeof(buf), got, 4), -1);
	ck_assert_int_eq(errno, EPROTO);
	ck_assert_int_eq(nfds_open(), before);
	/* A short datagram, too. */
	ck_assert_int_eq(send(sv[0], "ab", 2, 0), 2);
	ck_assert_int_eq(ipc_recv(sv[1], &rh, buf, sizeof(buf), got, 4), -1);
	ck_assert_int_eq(errno, EPROTO);
	/* EOF is type 0. */
	close(sv[0]);
	ck_assert_int_eq(ipc_recv(sv[1], &rh, buf, sizeof(buf), got, 4), 0);
	ck_assert_uint_eq(rh.type, 0);
	close(sv[1]);
}
END_TEST

/*
 * Beyond RLIMIT_NOFILE the kernel drops fds silently (MSG_CTRUNC): the
 * receiver must notice, not carry on with fewer segments.
 */
START_TEST(test_rlimit_truncation)
{
	struct rlimit	 rl, low;
	int		 sv[2], fds[32], got[32], i, nfill;
	static int	 filler[4096];
	struct ipc_hdr	 h;
	uint64_t	 ids[32] = { 0 };

	ck_assert_int_eq(ipc_pair(sv), 0);
	for (i = 0; i < 32; i++)
		fds[i] = dup(0);
	ck_assert_int_eq(ipc_send(sv[0], IPC_SEG_HANDOFF, 0, ids, sizeof(ids),
	    fds, 32, 0), 0);
	getrlimit(RLIMIT_NOFILE, &rl);
	low = rl;
	low.rlim_cur = 0;
	for (i = 0; i < 4096; i++)
		if (fcntl(i, F_GETFD) != -1)
			low.rlim_cur = (rlim_t)i + 1;
	low.rlim_cur += 64;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	/* Fill every free slot, then free exactly 5. */
	for (nfill = 0; nfill < 4096 && (filler[nfill] = dup(0)) != -1; nfill++)
		;
	for (i = 0; i < 5; i++)
		close(filler[--nfill]);
	errno = 0;
	ck_assert_int_eq(ipc_recv(sv[1], &h, ids, sizeof(ids), got, 32), -1);
	ck_assert_int_eq(errno, EPROTO);
	while (nfill > 0)
		close(filler[--nfill]);
	setrlimit(RLIMIT_NOFILE, &rl);
	for (i = 0; i < 32; i++)
		close(fds[i]);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("ipc");
	TCase	*tc = tcase_create("ipc");

	tcase_add_test(tc, test_pass_max);
	tcase_add_test(tc, test_too_many_fds);
	tcase_add_test(tc, test_header_mismatch);
	tcase_add_test(tc, test_rlimit_truncation);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
