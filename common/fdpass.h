/*
 * fdpass.h - sending and receiving file descriptors over Unix sockets.
 *
 * Shared by the daemon's internal channels and by the client library.
 * Received fds always arrive with FD_CLOEXEC (MSG_CMSG_CLOEXEC); a short
 * control buffer (MSG_CTRUNC) is an error, never a silent truncation.
 */
#ifndef PROTETS_FDPASS_H
#define PROTETS_FDPASS_H

#include <stddef.h>
#include <sys/types.h>

/* The kernel's limit of fds in one SCM_RIGHTS message. */
#define FDPASS_MAX	253

/*
 * Send len bytes (len >= 1) and nfds fds in one sendmsg.  The caller keeps
 * ownership of fds: the receiver gets duplicates.  Returns the number of
 * bytes sent, or -1 with errno set.
 */
ssize_t fdpass_send(int sock, const void *buf, size_t len,
    const int *fds, int nfds, int flags);

/*
 * Receive up to len bytes and up to maxfds fds in one recvmsg.  On return
 * *nfds holds the number of fds received; the caller owns them.  Returns
 * bytes received (0 on EOF), or -1 with errno set.  If the control buffer
 * was too small (more fds were sent than maxfds), every fd received is
 * closed and errno is EPROTO.
 */
ssize_t fdpass_recv(int sock, void *buf, size_t len, int *fds, int maxfds,
    int *nfds, int flags);

/* Close n fds from an array, ignoring errors; used to refuse fds. */
void fdpass_close_all(int *fds, int n);

#endif
