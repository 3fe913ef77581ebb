/*
 * shm/crash.c - test-only crash points (see crash.h).
 */
#include <signal.h>

#include "crash.h"

#ifdef PROTETS_CRASHTEST
/*
 * Plain globals: crash tests run one writer per process.  The counter is
 * per process, and a forked child inherits the armed value.
 */
static unsigned long	write_at;
static unsigned long	write_steps;
static int		kill_sig = SIGKILL;
static unsigned long	read_at;
static unsigned long	read_steps;
static int		ov_voided;

void
crash_point(void)
{
	write_steps++;
	if (write_at != 0 && write_steps == write_at)
		raise(kill_sig);
}

void
crash_signal(int sig)
{
	kill_sig = sig;
}

void
crash_at(unsigned long k)
{
	write_at = k;
	write_steps = 0;
}

unsigned long
crash_steps(void)
{
	return write_steps;
}

void
crash_read_point(void)
{
	read_steps++;
	if (read_at != 0 && read_steps == read_at)
		raise(kill_sig);
}

void
crash_read_at(unsigned long k)
{
	read_at = k;
	read_steps = 0;
}

void
crash_ov_void(int on)
{
	ov_voided = on;
}

int
crash_ov_voided(void)
{
	return ov_voided;
}
#else
/* ISO C wants a translation unit to declare something. */
typedef int crash_unused;
#endif
