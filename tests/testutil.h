/*
 * testutil.h - helpers for tests that run a real protetsd.
 */
#ifndef PROTETS_TESTUTIL_H
#define PROTETS_TESTUTIL_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

#include "protets.h"

struct td {
	char	dir[PATH_MAX];		/* private temporary directory */
	char	conf[PATH_MAX];
	char	sock[PATH_MAX];
	char	log[PATH_MAX];
	pid_t	pid;			/* the supervisor */
	int	workers;
};

/* Path of a built program ("protetsd", "protets") under $BUILD. */
const char	*tu_bin(const char *name, char *buf, size_t sz);

/* Start a daemon with `workers` workers; extra is appended to [daemon]
 * (may be NULL); env, if not NULL, is one "K=V" added to its environment.
 * Waits until every process is up.  Aborts the test on failure. */
void	td_start(struct td *, int workers, const char *extra, const char *env);
/* Start the daemon of d again, in its directory, with its configuration
 * (after it stopped); waits as td_start does. */
void	td_launch(struct td *, const char *env);
/* SIGTERM, wait, remove the directory. */
void	td_stop(struct td *);
/* SIGKILL every daemon process at once (systemctl kill -s KILL, a crash
 * of the machine as far as memory goes), keeping the directory. */
void	td_kill_all(struct td *);
/* SIGTERM and wait (an orderly stop), keeping the directory; wait status. */
int	td_term(struct td *);
/* Pid of a daemon process: role "supervisor", "monitor", or "worker"
 * with slot; 0 if none. */
pid_t	td_pid(struct td *, const char *role, int slot);
/* Wait until the process in role/slot runs with a pid other than old. */
pid_t	td_wait_new(struct td *, const char *role, int slot, pid_t old);
/* SIGKILL a process and wait until the supervisor replaced it. */
pid_t	td_kill(struct td *, const char *role, int slot);
/* SIGKILL the supervisor, and wait until the monitor replaced it and the
 * new processes hold every table again.  Makes the caller a child
 * subreaper (the old monitor becomes its child; td_stop reaps it). */
pid_t	td_kill_supervisor(struct td *);
/* Open fds summed over every daemon process. */
int	td_fd_total(struct td *);
/* Once the daemon serves again and has settled (100 ms), its fds are
 * no more than before; aborts the test if they grew. */
void	td_fds_settled(struct td *, int before);
/* Connect, aborting the test on failure. */
protets_t *td_connect(struct td *);
/* A raw stream socket connected to the daemon (bad-input tests). */
int	td_raw_connect(struct td *);
/* Worker slot owning a table. */
int	td_table_worker(struct td *, const char *name);
/* A table through a fresh connection and mapping has the n entries of
 * tu_fill(prefix name), and no more. */
void	td_verify(struct td *, const char *name, int n);
/* The daemon still creates and hands out a table ("still-alive"). */
void	td_serves(struct td *);
/* Does the daemon's log hold needle? */
int	td_log_has(struct td *, const char *needle);
/* get the table, aborting the test on failure. */
protets_table_t *tu_get(protets_t *p, const char *name, protets_access a);
/* Insert "prefix:i" = "value-i-prefix" for i in [0, n). */
void	tu_fill(protets_table_t *t, const char *prefix, int n);
/* n when t has exactly those entries' values, else -1. */
int	tu_present(protets_table_t *t, const char *prefix, int n);
/* Run a shell command line; returns its exit status; output to out. */
int	tu_sh(char *out, size_t outsz, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* Run a suite (check's default fork mode); the exit status for main. */
struct Suite;
int	tu_run(struct Suite *);
/* A child's exit status (128 + signal when killed), for assertions made in
 * other processes: CHILD_CHECK exits 100 + line % 100 when c is false. */
int	tu_wait_child(pid_t pid);
#define CHILD_CHECK(c)	do { if (!(c)) _exit(100 + (__LINE__ % 100)); } while (0)
/* The fd this process holds for a mapped table (through /proc/self/fd),
 * or -1. */
int	tu_table_fd(const char *name);
/*
 * Insert 1000-byte values under "fill<i>" until at least n bytes went in:
 * 0, or the first error.
 */
int	tu_fill_bytes(protets_table_t *t, uint64_t n);
/*
 * protets_get name with o until it answers want, dropping what a get
 * created meanwhile: the daemon's per-uid figures are counted every
 * second.  0, or the last answer when 10 s went by.
 */
int	tu_get_until(protets_t *p, const char *name, const protets_opts *o,
	    int want);
/*
 * A process holding table name's write lock mid-operation, stopped
 * (SIGSTOP): it maps the segment this process holds (tu_table_fd) itself
 * and changes key "k"'s value through the engine.  Its pid; the caller
 * resumes or kills it.
 */
pid_t	tu_stopped_holder(const char *name);
/* Sleep ms milliseconds. */
void	tu_msleep(int ms);

#endif
