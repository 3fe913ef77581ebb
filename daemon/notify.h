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
/* $WATCHDOG_USEC for this process, or 0. */
uint64_t notify_watchdog_usec(void);

#endif
