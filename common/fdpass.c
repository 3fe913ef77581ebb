/*
 * fdpass.c - SCM_RIGHTS helpers; see fdpass.h.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fdpass.h"

ssize_t
fdpass_send(int sock, const void *buf, size_t len, const int *fds, int nfds,
    int flags)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * FDPASS_MAX)];
	} cmsg;
	struct iovec	 iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr	 msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr	*c;
	ssize_t		 n;

	if (nfds < 0 || nfds > FDPASS_MAX || len == 0) {
		errno = EINVAL;
		return -1;
	}
	if (nfds > 0) {
		memset(&cmsg, 0, sizeof(cmsg));
		msg.msg_control = cmsg.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
	}
	do {
		n = sendmsg(sock, &msg, flags | MSG_NOSIGNAL);
	} while (n == -1 && errno == EINTR);
	return n;
}

/* Collect every fd of every SCM_RIGHTS header; close what does not fit. */
static int
fdpass_collect(struct msghdr *msg, int *fds, int maxfds, int *nfds)
{
	struct cmsghdr	*c;
	int		 overflow = 0;

	*nfds = 0;
	for (c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
		size_t	 i, n;
		int	 fd;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (*nfds < maxfds)
				fds[(*nfds)++] = fd;
			else {
				close(fd);
				overflow = 1;
			}
		}
	}
	return overflow;
}

ssize_t
fdpass_recv(int sock, void *buf, size_t len, int *fds, int maxfds, int *nfds,
    int flags)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * FDPASS_MAX)];
	} cmsg;
	struct iovec	 iov = { .iov_base = buf, .iov_len = len };
	struct msghdr	 msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t		 n;
	int		 overflow;

	*nfds = 0;
	if (maxfds < 0 || maxfds > FDPASS_MAX)
		maxfds = FDPASS_MAX;
	/*
	 * Always offer room for the kernel's maximum, so that fds a peer
	 * pushes at us arrive and can be counted and closed, instead of
	 * being dropped silently with MSG_CTRUNC.
	 */
	msg.msg_control = cmsg.buf;
	msg.msg_controllen = sizeof(cmsg.buf);
	do {
		n = recvmsg(sock, &msg, flags | MSG_CMSG_CLOEXEC);
	} while (n == -1 && errno == EINTR);
	if (n == -1)
		return -1;
	overflow = fdpass_collect(&msg, fds, maxfds, nfds);
	if (overflow || (msg.msg_flags & MSG_CTRUNC)) {
		fdpass_close_all(fds, *nfds);
		*nfds = 0;
		errno = EPROTO;
		return -1;
	}
	return n;
}

void
fdpass_close_all(int *fds, int n)
{
	int	 i;

	for (i = 0; i < n; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}
