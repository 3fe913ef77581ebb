/*
 * notify.c - see notify.h.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

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
	n = sendto(fd, msg, strlen(msg), MSG_NOSIGNAL,
	    (struct sockaddr *)&sun, len);
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
