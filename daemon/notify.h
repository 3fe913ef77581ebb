/*
 * notify.h - the systemd notify protocol, spoken directly: one datagram
 * to the AF_UNIX socket named by $NOTIFY_SOCKET ('@' = abstract).
 */
#ifndef PROTETS_NOTIFY_H
#define PROTETS_NOTIFY_H

#include <stdint.h>

/* 1 when $NOTIFY_SOCKET is set. */
int	notify_enabled(void);
/* Send "READY=1\nSTATUS=..." etc.  0 sent, 1 not under systemd, -1 error. */
int	notify_send(const char *msg);
/* The same, with fds attached (the fd store: FDSTORE=1). */
int	notify_send_fds(const char *msg, const int *fds, int nfds);
/* $WATCHDOG_USEC for this process, or 0. */
uint64_t notify_watchdog_usec(void);

/* One fd systemd passed us at start (LISTEN_FDS, LISTEN_FDNAMES). */
struct notify_fd {
	int	 fd;
	char	 name[256];
};

/*
 * Take the fds systemd passed to this process, if LISTEN_PID is ours:
 * returns their number (0 if none) and a malloc'ed array in *out, the
 * caller owning the fds (now close-on-exec).  Unsets the LISTEN_*
 * variables so that children do not see them.
 */
int	notify_listen_fds(struct notify_fd **out);

#endif
