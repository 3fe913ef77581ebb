/*
 * notify.c - see notify.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fdpass.h"
#include "notify.h"

int
notify_enabled(void)
{
	const char *s = getenv("NOTIFY_SOCKET");

	return s != NULL && *s != '\0';
}

int
notify_send(const char *msg)
{
	return notify_send_fds(msg, NULL, 0);
}

int
notify_send_fds(const char *msg, const int *fds, int nfds)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	const char		*path = getenv("NOTIFY_SOCKET");
	socklen_t		 len;
	size_t			 plen;
	ssize_t			 n;
	int			 fd, e;

	if (path == NULL || *path == '\0')
		return 1;
	plen = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || plen >= sizeof(sun.sun_path)) {
		errno = EINVAL;
		return -1;
	}
	memcpy(sun.sun_path, path, plen);
	if (sun.sun_path[0] == '@')
		sun.sun_path[0] = '\0';
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen +
	    (path[0] == '/'));
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, len) == -1)
		n = -1;
	else
		n = fdpass_send(fd, msg, strlen(msg), fds, nfds, 0);
	e = errno;
	close(fd);
	errno = e;
	return n == (ssize_t)strlen(msg) ? 0 : -1;
}

uint64_t
notify_watchdog_usec(void)
{
	const char	*s = getenv("WATCHDOG_USEC");
	const char	*p = getenv("WATCHDOG_PID");
	char		*end;
	uint64_t	 v;

	if (s == NULL)
		return 0;
	if (p != NULL && atol(p) != (long)getpid())
		return 0;
	v = strtoull(s, &end, 10);
	return (*end == '\0') ? v : 0;
}

int
notify_listen_fds(struct notify_fd **out)
{
	const char	*pid = getenv("LISTEN_PID");
	const char	*nfds = getenv("LISTEN_FDS");
	const char	*names = getenv("LISTEN_FDNAMES");
	struct notify_fd *v;
	int		 i, n;

	*out = NULL;
	if (pid == NULL || nfds == NULL || atol(pid) != (long)getpid())
		return 0;
	n = atoi(nfds);
	if (n <= 0 || n > 65536)
		return 0;
	if ((v = calloc((size_t)n, sizeof(*v))) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		v[i].fd = 3 + i;	/* SD_LISTEN_FDS_START */
		fcntl(v[i].fd, F_SETFD, FD_CLOEXEC);
		snprintf(v[i].name, sizeof(v[i].name), "unknown");
	}
	/* LISTEN_FDNAMES: colon-separated, in the same order. */
	for (i = 0; names != NULL && *names != '\0' && i < n; i++) {
		size_t len = strcspn(names, ":");

		if (len >= sizeof(v[i].name))
			len = sizeof(v[i].name) - 1;
		memcpy(v[i].name, names, len);
		v[i].name[len] = '\0';
		names += strcspn(names, ":");
		if (*names == ':')
			names++;
	}
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	*out = v;
	return n;
}
