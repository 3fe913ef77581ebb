/*
 * shm/crash.h - test-only crash points.
 *
 * TBL_CRASHPOINT() marks a step of a write (after each logged store, after
 * each allocator or index step, inside recovery).  It compiles to nothing
 * unless PROTETS_CRASHTEST is defined; then the k-th point passed after
 * tbl_crash_at(k) raises SIGKILL (or SIGSTOP, tbl_crash_signal), so that
 * tests can kill or stop a writer at every step and check that the next
 * locker recovers and that readers see the last commit meanwhile.
 *
 * TBL_READPOINT() marks a step of a reader (the start of each attempt of
 * tbl_check, the moment a reader starts counting how long it has tried),
 * counted apart from the writers' points: tbl_crash_read_at(k) stops or
 * kills a reader at its k-th point, so that a test can make a writer move
 * at that exact moment of the read.
 *
 * TBL_OV_VOIDED() is true, in a test that armed it (tbl_crash_ov_voided),
 * where a reader checks whether the writer moved while it copied the undo
 * log: every overlay is then voided, as by a writer that adds records all
 * the time, and the reader's budget (lk_waited_too_long) is what ends it.
 */
#ifndef PROTETS_SHM_CRASH_H
#define PROTETS_SHM_CRASH_H

#ifdef PROTETS_CRASHTEST
/* Pass one crash point: SIGKILL the process if it is the chosen one. */
void		tbl_crash_point(void);
/* Kill at the k-th point from now (k >= 1); 0 disarms.  Resets the count. */
void		tbl_crash_at(unsigned long k);
/* Points passed since the last tbl_crash_at. */
unsigned long	tbl_crash_steps(void);
/*
 * The signal raised at the chosen point: SIGKILL (the default), or
 * SIGSTOP to leave a writer stopped with its operation half done (it goes
 * on when continued).
 */
void		tbl_crash_signal(int sig);
#define TBL_CRASHPOINT()	tbl_crash_point()
/* The same for readers' points, with a count of their own. */
void		tbl_read_point(void);
void		tbl_crash_read_at(unsigned long k);
#define TBL_READPOINT()		tbl_read_point()
void		tbl_crash_ov_voided(int on);
int		tbl_ov_voided(void);
#define TBL_OV_VOIDED()		tbl_ov_voided()
#else
#define TBL_CRASHPOINT()	do { } while (0)
#define TBL_READPOINT()		do { } while (0)
#define TBL_OV_VOIDED()		0
#endif

#endif /* PROTETS_SHM_CRASH_H */
