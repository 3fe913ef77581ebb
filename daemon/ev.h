/*
 * ev.h - a minimal epoll event loop, one per process (after redis' ae.c).
 *
 * Timers are timerfds and signals signalfds, so everything is an fd.
 */
#ifndef PROTETS_EV_H
#define PROTETS_EV_H

#include <stdint.h>
#include <sys/epoll.h>

typedef void (*ev_fn)(int fd, uint32_t events, void *arg);

/* Create the loop.  0 or -1 with errno. */
int	ev_init(void);
/* Close the loop (in a child that does not use its parent's). */
void	ev_close(void);
/* Watch fd for events (EPOLLIN, EPOLLOUT...).  0 or -1 with errno. */
int	ev_add(int fd, uint32_t events, ev_fn fn, void *arg);
int	ev_mod(int fd, uint32_t events);
/* Stop watching fd; call before closing it. */
void	ev_del(int fd);
/* Wait up to timeout_ms (-1: forever) and run the callbacks that fired. */
int	ev_dispatch(int timeout_ms);

/* A timerfd that fires once after ms (ms > 0), or -1 with errno. */
int	ev_timer_once(int ms);
/* A timerfd that fires every ms. */
int	ev_timer_every(int ms);
/* Read (consume) a timerfd's expiry count. */
void	ev_timer_ack(int fd);

#endif
