/*
 * ipc.c - see ipc.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ipc.h"
#include "log.h"

int
ipc_send(int sock, uint32_t type, uint32_t seq, const void *data, size_t len,
    const int *fds, int nfds, int flags)
{
	unsigned char	*buf;
	struct ipc_hdr	 h = { .type = type, .len = (uint32_t)len,
			    .nfds = (uint32_t)nfds, .seq = seq };
	ssize_t		 n;

	if (len > IPC_MAX_PAYLOAD || nfds < 0 || nfds > FDPASS_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	if ((buf = malloc(sizeof(h) + len)) == NULL)
		return -1;
	memcpy(buf, &h, sizeof(h));
	if (len > 0)
		memcpy(buf + sizeof(h), data, len);
	n = fdpass_send(sock, buf, sizeof(h) + len, fds, nfds, flags);
	free(buf);
	if (n == -1)
		return -1;
	if ((size_t)n != sizeof(h) + len) {
		errno = EMSGSIZE;
		return -1;
	}
	return 0;
}

ssize_t
ipc_recv(int sock, struct ipc_hdr *h, void *buf, size_t cap, int *fds,
    int maxfds)
{
	unsigned char	*tmp;
	ssize_t		 n;
	int		 nfds, e;

	if ((tmp = malloc(sizeof(*h) + IPC_MAX_PAYLOAD)) == NULL)
		return -1;
	n = fdpass_recv(sock, tmp, sizeof(*h) + IPC_MAX_PAYLOAD, fds,
	    maxfds, &nfds, MSG_DONTWAIT);
	if (n <= 0) {
		e = errno;
		free(tmp);
		memset(h, 0, sizeof(*h));
		errno = e;
		return n;
	}
	if ((size_t)n < sizeof(*h))
		goto bad;
	memcpy(h, tmp, sizeof(*h));
	/* Count what arrived: fds beyond RLIMIT_NOFILE vanish silently. */
	if (h->len != (size_t)n - sizeof(*h) || h->len > cap ||
	    h->nfds != (uint32_t)nfds)
		goto bad;
	if (h->len > 0)
		memcpy(buf, tmp + sizeof(*h), h->len);
	free(tmp);
	return (ssize_t)h->len;
bad:
	free(tmp);
	fdpass_close_all(fds, nfds);
	errno = EPROTO;
	return -1;
}

ssize_t
ipc_read(int sock, struct ipc_hdr *h, void *buf, size_t cap, int *fds,
    int maxfds, const char *chan)
{
	ssize_t	 n;

	n = ipc_recv(sock, h, buf, cap, fds, maxfds);
	if (n == -1 && errno != EAGAIN)
		log_warn("%s", chan);
	return n;
}

int
ipc_pair(int sv[2])
{
	return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv);
}
