/*
 * shm/proc.c - what the lock module asks of the system: the process a
 * thread id belongs to (to name a lock's holder), a monotonic clock in
 * milliseconds (deadlines) and the calling thread's own CPU time (how long
 * a reader has really tried).  Declared in lock.h.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lock.h"

/* The pid of the thread whose id is tid: its Tgid, else tid itself. */
pid_t
lk_tid_pid(pid_t tid)
{
	char	path[64], buf[512], *p;
	ssize_t	n;
	long	v;
	int	fd;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return tid;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return tid;
	buf[n] = '\0';
	if ((p = strstr(buf, "\nTgid:")) == NULL)
		return tid;
	v = strtol(p + 6, NULL, 10);
	return v > 0 && v <= INT_MAX ? (pid_t)v : tid;
}

uint64_t
lk_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t
lk_cpu_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
		return lk_now_ms();
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
