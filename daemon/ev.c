/*
 * ev.c - see ev.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "ev.h"

struct ev_slot {
	ev_fn		 fn;
	void		*arg;
	uint32_t	 gen;	/* tells a reused fd from a stale event */
};

static int		 ev_epfd = -1;
static struct ev_slot	*ev_slots;
static size_t		 ev_nslots;
static uint32_t		 ev_gen;

int
ev_init(void)
{
	ev_close();
	ev_epfd = epoll_create1(EPOLL_CLOEXEC);
	return ev_epfd == -1 ? -1 : 0;
}

void
ev_close(void)
{
	if (ev_epfd != -1)
		close(ev_epfd);
	ev_epfd = -1;
	free(ev_slots);
	ev_slots = NULL;
	ev_nslots = 0;
}

static int
ev_grow(int fd)
{
	struct ev_slot	*s;
	size_t		 n;

	if ((size_t)fd < ev_nslots)
		return 0;
	n = ev_nslots ? ev_nslots : 64;
	while (n <= (size_t)fd)
		n *= 2;
	if ((s = realloc(ev_slots, n * sizeof(*s))) == NULL)
		return -1;
	memset(s + ev_nslots, 0, (n - ev_nslots) * sizeof(*s));
	ev_slots = s;
	ev_nslots = n;
	return 0;
}

static uint64_t
ev_data(int fd)
{
	return ((uint64_t)ev_slots[fd].gen << 32) | (uint32_t)fd;
}

int
ev_add(int fd, uint32_t events, ev_fn fn, void *arg)
{
	struct epoll_event ee = { .events = events };

	if (fd < 0 || ev_grow(fd) == -1)
		return -1;
	ev_slots[fd].fn = fn;
	ev_slots[fd].arg = arg;
	ev_slots[fd].gen = ++ev_gen;
	ee.data.u64 = ev_data(fd);
	if (epoll_ctl(ev_epfd, EPOLL_CTL_ADD, fd, &ee) == -1) {
		ev_slots[fd].fn = NULL;
		return -1;
	}
	return 0;
}

int
ev_mod(int fd, uint32_t events)
{
	struct epoll_event ee = { .events = events };

	if (fd < 0 || (size_t)fd >= ev_nslots || ev_slots[fd].fn == NULL) {
		errno = EBADF;
		return -1;
	}
	ee.data.u64 = ev_data(fd);
	return epoll_ctl(ev_epfd, EPOLL_CTL_MOD, fd, &ee);
}

void
ev_del(int fd)
{
	if (fd < 0 || (size_t)fd >= ev_nslots || ev_slots[fd].fn == NULL)
		return;
	epoll_ctl(ev_epfd, EPOLL_CTL_DEL, fd, NULL);
	ev_slots[fd].fn = NULL;
	ev_slots[fd].arg = NULL;
}

int
ev_dispatch(int timeout_ms)
{
	struct epoll_event	 ev[64];
	int			 i, n;

	n = epoll_wait(ev_epfd, ev, 64, timeout_ms);
	if (n == -1)
		return errno == EINTR ? 0 : -1;
	for (i = 0; i < n; i++) {
		int		 fd = (int)(uint32_t)ev[i].data.u64;
		uint32_t	 gen = (uint32_t)(ev[i].data.u64 >> 32);

		/* A callback earlier in this batch may have removed fd. */
		if ((size_t)fd >= ev_nslots || ev_slots[fd].fn == NULL ||
		    ev_slots[fd].gen != gen)
			continue;
		ev_slots[fd].fn(fd, ev[i].events, ev_slots[fd].arg);
	}
	return n;
}

static int
ev_timer(int ms, int every)
{
	struct itimerspec	 its;
	int			 fd;

	memset(&its, 0, sizeof(its));
	its.it_value.tv_sec = ms / 1000;
	its.it_value.tv_nsec = (long)(ms % 1000) * 1000000L;
	if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
		its.it_value.tv_nsec = 1;
	if (every)
		its.it_interval = its.it_value;
	fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (fd == -1)
		return -1;
	if (timerfd_settime(fd, 0, &its, NULL) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

int
ev_timer_once(int ms)
{
	return ev_timer(ms, 0);
}

int
ev_timer_every(int ms)
{
	return ev_timer(ms, 1);
}

void
ev_timer_ack(int fd)
{
	uint64_t	 n;

	if (read(fd, &n, sizeof(n)) == -1 && errno != EAGAIN)
		return;
}
