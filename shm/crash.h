/*
 * shm/crash.h - test-only crash points.
 *
 * CRASH_POINT() marks a step of a write (after each logged store, after
 * each allocator or index step, inside recovery).  It compiles to nothing
 * unless PROTETS_CRASHTEST is defined; then the k-th point passed after
 * crash_at(k) raises SIGKILL (or SIGSTOP, crash_signal), so that
 * tests can kill or stop a writer at every step and check that the next
 * locker recovers and that readers see the last commit meanwhile.
 *
 * CRASH_READ_POINT() marks a step of a reader (the start of each attempt of
 * tbl_check, the moment a reader starts counting how long it has tried),
 * counted apart from the writers' points: crash_read_at(k) stops or
 * kills a reader at its k-th point, so that a test can make a writer move
 * at that exact moment of the read.
 *
 * CRASH_OV_VOIDED() is true, in a test that armed it (crash_ov_void),
 * where a reader checks whether the writer moved while it copied the undo
 * log: every overlay is then voided, as by a writer that adds records all
 * the time, and the reader's budget (lk_waited_too_long) is what ends it.
 */
#ifndef PROTETS_SHM_CRASH_H
#define PROTETS_SHM_CRASH_H

#ifdef PROTETS_CRASHTEST
/* Pass one crash point: SIGKILL the process if it is the chosen one. */
void		crash_point(void);
/* Kill at the k-th point from now (k >= 1); 0 disarms.  Resets the count. */
void		crash_at(unsigned long k);
/* Points passed since the last crash_at. */
unsigned long	crash_steps(void);
/*
 * The signal raised at the chosen point: SIGKILL (the default), or
 * SIGSTOP to leave a writer stopped with its operation half done (it goes
 * on when continued).
 */
void		crash_signal(int sig);
#define CRASH_POINT()	crash_point()
/* The same for readers' points, with a count of their own. */
void		crash_read_point(void);
void		crash_read_at(unsigned long k);
#define CRASH_READ_POINT()		crash_read_point()
void		crash_ov_void(int on);
int		crash_ov_voided(void);
#define CRASH_OV_VOIDED()		crash_ov_voided()
#else
#define CRASH_POINT()	do { } while (0)
#define CRASH_READ_POINT()		do { } while (0)
#define CRASH_OV_VOIDED()		0
#endif

#endif /* PROTETS_SHM_CRASH_H */
