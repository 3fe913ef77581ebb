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
static unsigned long	crash_at;
static unsigned long	crash_steps;
static int		crash_sig = SIGKILL;
static unsigned long	read_at;
static unsigned long	read_steps;
static int		ov_voided;

void
tbl_crash_point(void)
{
	crash_steps++;
	if (crash_at != 0 && crash_steps == crash_at)
		raise(crash_sig);
}

void
tbl_crash_signal(int sig)
{
	crash_sig = sig;
}

void
tbl_crash_at(unsigned long k)
{
	crash_at = k;
	crash_steps = 0;
}

unsigned long
tbl_crash_steps(void)
{
	return crash_steps;
}

void
tbl_read_point(void)
{
	read_steps++;
	if (read_at != 0 && read_steps == read_at)
		raise(crash_sig);
}

void
tbl_crash_read_at(unsigned long k)
{
	read_at = k;
	read_steps = 0;
}

void
tbl_crash_ov_voided(int on)
{
	ov_voided = on;
}

int
tbl_ov_voided(void)
{
	return ov_voided;
}
#else
/* ISO C wants a translation unit to declare something. */
typedef int tbl_crash_unused;
#endif
