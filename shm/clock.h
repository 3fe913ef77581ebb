/*
 * shm/clock.h - the tree's one clock: milliseconds of CLOCK_MONOTONIC,
 * for time-outs, deadlines and durations (never the time of day).  The
 * engine's lock waits, the library's connect time-out, the daemon's
 * deadlines and the tests all read it; signed, so that a deadline minus
 * now is a time left that can be negative.
 */
#ifndef PROTETS_SHM_CLOCK_H
#define PROTETS_SHM_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t
clk_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif /* PROTETS_SHM_CLOCK_H */
