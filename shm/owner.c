/*
 * shm/owner.c - the engine's mutex: a lock word in the segment naming its
 * holder's process, a futex to sleep on, and the holder's death found out
 * by asking the kernel whether that process still runs.
 *
 * Why not glibc's robust mutex.  glibc keeps a robust mutex's list links
 * (__list.__prev/__next) in the mutex, that is in the segment, and writes
 * through them on unlock; any writer of a table could aim them at another
 * process's memory, the daemon's included, and a garbage mutex kind
 * aborts every locker on an assertion.  The kernel's robust list cannot
 * be used with entries of our own either: its entries sit at a fixed
 * offset from the futex word (in the segment again) and the list head is
 * glibc's.  Nothing here follows, or lets the kernel follow, a pointer
 * read from a segment: a lock word is a number, and the worst a writer
 * who forges one can do is to make a live holder look dead (two writers
 * then change that table at once: its data is damaged, and every offset
 * is bound-checked) or a dead one look alive (that table's writers time
 * out with PROTETS_ELOCKED).  Either way, that table only.
 *
 * The word (owner.h): the holder's pid, its pid namespace as an index in
 * the shard's namespace table (the namespaces' inode numbers, taken by
 * the first writer of each, never given back), the low 32 bits of the
 * process's start time (/proc/<pid>/stat, clock ticks since boot, less
 * its time namespace's boot offset), and a waiters bit.  Locking is one compare-and-swap of 0 to the caller's
 * word, unlocking one compare-and-swap back to 0 (of a word naming this
 * process only), and a FUTEX_WAKE when the waiters bit was set.  A thread that finds the word held sets the bit and sleeps
 * on the word's low half (the futex word) with a time-out; the holder's
 * unlock wakes it.  A dead holder never unlocks: at the first sleep, and
 * after each sleep that timed out, the sleeper asks whether the holder is
 * dead, and if so takes the word over by compare-and-swap (EOWNERDEAD:
 * the caller recovers what the dead holder left, lock_undo.c).
 *
 * Dead, for sure: no process has the pid (kill(pid, 0): ESRCH), or the
 * one that has it is a zombie with no thread left running, or started at
 * another time (the pid was reused).  Only a process of the holder's pid
 * namespace can tell, and only through a /proc of that namespace
 * (checked once per process: NSpid in /proc/self/status names one pid);
 * any other caller counts the holder alive, so a holder from another
 * namespace is never taken over by mistake, and a dead one is found by
 * the next writer of its own namespace (or waited for until
 * PROTETS_ELOCKED).  Start times are compared less each reader's
 * boot-time offset: time namespaces see other figures.  A /proc that
 * hides other users' processes (hidepid) makes them alive too, unless
 * kill says they are gone.
 *
 * Threads of one process share its word; a thread's own locks are told
 * apart by the lock module (lock_mutex.c, EDEADLK).  A forked child is
 * another process: the fork handler works out its own identity at once.
 * Not covered: a thread that exits holding a lock, or whose process calls
 * exec meanwhile (the process lives on under the same pid and start time:
 * the lock stays held until it exits), and a child forked by a raw system
 * call (no fork handler runs: it writes under its parent's identity).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "owner.h"

/* Sleeps on a held word: the first, then doubling up to the last. */
#define OW_SLEEP_MIN_NS		1000000L	/* 1 ms */
#define OW_SLEEP_MAX_NS		16000000L	/* 16 ms */

/*
 * This process as lock words name it; known 0 until worked out (again in
 * a forked child).  ns 0: no /proc of its own pid namespace, so its holds
 * cannot be judged, nor can it judge.  start: its start time in clock
 * ticks since boot as the initial time namespace counts them (the
 * /proc/<pid>/stat figure less this process's boot-time offset, boff:
 * each time namespace sees another figure).  Worked out under ow_id_mtx
 * and published once, complete, known last; a failure that may pass (no
 * fd free) leaves known 0, and the next lock tries again.
 */
static struct {
	int		known;
	pid_t		pid;
	uint64_t	ns;		/* pid namespace inode, 0: unknown */
	uint32_t	start;		/* start time, low 32 bits */
	int64_t		boff;		/* boot-time offset, clock ticks */
} ow_self;

static pthread_mutex_t	ow_id_mtx = PTHREAD_MUTEX_INITIALIZER;

/* This thread's word for a shard (its namespace index is per shard). */
#define OW_SEATS	64

static __thread struct {
	uint64_t	id;		/* tbl_view_id, 0: empty */
	uint64_t	word;
} ow_seats[OW_SEATS];

/* The pid in the word of the last dead holder this thread took over. */
static __thread pid_t ow_dead_last;

static pthread_once_t	ow_once = PTHREAD_ONCE_INIT;

/*
 * /proc reading without stdio or malloc: it also runs in a forked child
 * before fork returns (ow_forked), where only async-signal-safe calls may.
 */

/* "/proc/<pid>/<tail>" into buf (64 bytes). */
static const char *
ow_path(char *buf, pid_t pid, const char *tail)
{
	char		 d[16];
	unsigned	 v = (unsigned)pid, n = 0;
	size_t		 k;

	do
		d[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0 && n < sizeof(d));
	memcpy(buf, "/proc/", 6);
	for (k = 6; n > 0; )
		buf[k++] = d[--n];
	buf[k++] = '/';
	while (*tail != '\0' && k < 63)
		buf[k++] = *tail++;
	buf[k] = '\0';
	return buf;
}

/* Read path into buf (NUL-terminated); its length, or -1 (errno set). */
static ssize_t
ow_read(const char *path, char *buf, size_t sz)
{
	ssize_t	n;
	int	fd, e;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, buf, sz - 1);
	e = errno;
	close(fd);
	errno = e;
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return n;
}

/* The signed decimal at *p, spaces first skipped; *p moved past it. */
static int
ow_num(const char **p, int64_t *v)
{
	const char	*q = *p;
	int64_t		 x = 0;
	int		 neg = 0, any = 0;

	while (*q == ' ' || *q == '\t')
		q++;
	if (*q == '-') {
		neg = 1;
		q++;
	}
	for (; *q >= '0' && *q <= '9'; q++, any = 1)
		x = x * 10 + (*q - '0');
	*p = q;
	*v = neg ? -x : x;
	return any ? 0 : -1;
}

/*
 * Process pid's state letter, threads and start time (as this time
 * namespace sees it), from /proc/<pid>/stat.  0, or -1 (errno set: gone,
 * hidden, unreadable).
 */
static int
ow_stat(pid_t pid, char *state, int64_t *threads, int64_t *start)
{
	char		 path[64], buf[1024];
	const char	*p;
	int64_t		 v;
	int		 f;

	if (ow_read(ow_path(path, pid, "stat"), buf, sizeof(buf)) == -1)
		return -1;
	/* after "(comm)", which may hold anything: field 3, the state */
	if ((p = strrchr(buf, ')')) == NULL || p[1] != ' ' || p[2] == '\0') {
		errno = EINVAL;
		return -1;
	}
	*state = p[2];
	p += 3;
	for (f = 4; f <= 22; f++) {
		if (ow_num(&p, &v) == -1) {
			errno = EINVAL;
			return -1;
		}
		if (f == 20)
			*threads = v;
	}
	*start = v;
	return 0;
}

/*
 * This process's boot-time offset (its time namespace's), in ticks, in
 * *off: 0, or -1 when it could not be read (errno set; none to read, on
 * a kernel without time namespaces, is an offset of 0).
 */
static int
ow_boot_offset(int64_t *off)
{
	char		 buf[256];
	const char	*p;
	int64_t		 sec, nsec, hz = (int64_t)getauxval(AT_CLKTCK);

	*off = 0;
	if (ow_read("/proc/self/timens_offsets", buf, sizeof(buf)) == -1)
		return errno == ENOENT ? 0 : -1;
	if ((p = strstr(buf, "boottime")) == NULL)
		return 0;
	p += 8;
	if (ow_num(&p, &sec) == -1 || ow_num(&p, &nsec) == -1)
		return 0;
	if (hz <= 0)
		hz = 100;
	*off = sec * hz + nsec * hz / 1000000000;
	return 0;
}

/* Is /proc this process's own pid namespace's (NSpid names one pid)? */
static int
ow_proc_ours(pid_t pid)
{
	char		 buf[4096];
	const char	*p;
	int64_t		 v;
	int		 n = 0;

	if (ow_read("/proc/self/status", buf, sizeof(buf)) == -1 ||
	    (p = strstr(buf, "\nNSpid:")) == NULL)
		return 0;
	p += 7;
	while (ow_num(&p, &v) == 0)
		if (++n == 1 && v != (int64_t)pid)
			return 0;
	return n == 1;
}

/* Work out ow_self; under ow_id_mtx, or in a child before fork returns. */
static void
ow_work_out(void)
{
	struct stat	st;
	int64_t		start = 0, thr, boff = 0;
	uint64_t	ns = 0;
	pid_t		pid = getpid();
	char		state;
	int		passing = 0;

	/* errno 0 first: a step that fails without setting it fails for good */
	errno = 0;
	if (ow_proc_ours(pid) && stat("/proc/self/ns/pid", &st) == 0 &&
	    ow_boot_offset(&boff) == 0 &&
	    ow_stat(pid, &state, &thr, &start) == 0)
		ns = (uint64_t)st.st_ino;
	if (ns == 0)	/* an fd or memory short: may pass; else for good */
		passing = errno == EMFILE || errno == ENFILE ||
		    errno == ENOMEM || errno == EINTR || errno == EAGAIN;
	ow_self.pid = pid;
	ow_self.ns = ns;
	ow_self.start = (uint32_t)(start - boff);
	ow_self.boff = boff;
	if (!passing)
		__atomic_store_n(&ow_self.known, 1, __ATOMIC_RELEASE);
}

/*
 * A forked child is another process: its identity is worked out at once,
 * while the parent's fds are still all it has (not at its first lock,
 * when it may have used them up).
 */
static void
ow_forked(void)
{
	pthread_mutex_init(&ow_id_mtx, NULL);
	__atomic_store_n(&ow_self.known, 0, __ATOMIC_RELAXED);
	memset(ow_seats, 0, sizeof(ow_seats));
	ow_work_out();
}

static void
ow_init(void)
{
	(void)pthread_atfork(NULL, NULL, ow_forked);
}

static void
ow_identify(void)
{
	pthread_once(&ow_once, ow_init);
	pthread_mutex_lock(&ow_id_mtx);
	if (!__atomic_load_n(&ow_self.known, __ATOMIC_ACQUIRE))
		ow_work_out();
	pthread_mutex_unlock(&ow_id_mtx);
}

void
ow_prepare(void)
{
	if (!__atomic_load_n(&ow_self.known, __ATOMIC_ACQUIRE))
		ow_identify();
}

static uint64_t *
ow_nstab(const struct tbl *t)
{
	return (uint64_t *)(void *)(t->base + TBL_NS_OFF);
}

/* This process's index in t's namespace table, taking one; 0: none. */
static uint64_t
ow_nsid(const struct tbl *t)
{
	uint64_t	*ns = ow_nstab(t), v;
	unsigned	 i;

	if (ow_self.ns == 0)
		return 0;
	for (i = 0; i < TBL_NS_SLOTS; i++) {
		v = SH_LOAD(&ns[i]);
		if (v == 0 && __atomic_compare_exchange_n(&ns[i], &v,
		    ow_self.ns, 0, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
			return i + 1;
		if (v == ow_self.ns)
			return i + 1;
	}
	return 0;	/* full: this process's holds cannot be judged */
}

/* The word naming this process in t's shard (without the waiters bit). */
static uint64_t
ow_me(const struct tbl *t)
{
	uint64_t	id = tbl_view_id(t), w;
	unsigned	k = (unsigned)(id % OW_SEATS);

	if (__builtin_expect(ow_seats[k].id == id, 1))
		return ow_seats[k].word;
	ow_prepare();
	w = (uint64_t)ow_self.pid | ow_nsid(t) << OW_NS_SHIFT |
	    (uint64_t)ow_self.start << OW_START_SHIFT;
	if (__atomic_load_n(&ow_self.known, __ATOMIC_ACQUIRE)) {
		ow_seats[k].id = id;
		ow_seats[k].word = w;
	}
	return w;
}

/*
 * Is w's holder dead for sure?  full: zombies and reused pids too (a read
 * of /proc), else kill(pid, 0) alone.  Not dead: alive, or not for this
 * process to judge.
 */
static int
ow_dead(const struct tbl *t, uint64_t w, uint64_t me, int full)
{
	pid_t		pid = (pid_t)(w & OW_PID_MASK);
	uint64_t	nsid = w >> OW_NS_SHIFT & OW_NS_MASK;
	int64_t		start, thr = 0;
	char		state;

	if (((w ^ me) & ~OW_WAITERS) == 0)
		return 0;		/* another thread of this process */
	if (pid == 0 || nsid > TBL_NS_SLOTS)
		return 1;		/* no locker writes that */
	if (nsid == 0 || ow_self.ns == 0 ||
	    SH_LOAD(&ow_nstab(t)[nsid - 1]) != ow_self.ns)
		return 0;		/* another namespace: cannot tell */
	if (kill(pid, 0) == -1 && errno == ESRCH)
		return 1;
	if (!full || ow_stat(pid, &state, &thr, &start) != 0)
		return 0;		/* hidden, or just gone: asked again */
	/* a zombie leader whose other threads run is alive */
	if ((state == 'Z' || state == 'X') && thr <= 1)
		return 1;
	/*
	 * Another start time: the pid was reused.  Within a tick is the same:
	 * the kernel rounds the start time after adding the reader's offset,
	 * and offsets need not be whole ticks.
	 */
	return (uint32_t)((uint32_t)(start - ow_self.boff) -
	    (uint32_t)(w >> OW_START_SHIFT) + 1) > 2;
}

/* The futex: the word's low half. */
static uint32_t *
ow_futex(uint64_t *w)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	return (uint32_t *)(void *)w + 1;
#else
	return (uint32_t *)(void *)w;
#endif
}

static int
ow_try(const struct tbl *t, uint64_t *w, uint64_t me, int full)
{
	uint64_t	cur = 0;

	if (__atomic_compare_exchange_n(w, &cur, me, 0, __ATOMIC_ACQUIRE,
	    __ATOMIC_RELAXED))
		return 0;
	if (!ow_dead(t, cur, me, full))
		return EBUSY;
	/* waiters kept: they sleep on it still */
	if (__atomic_compare_exchange_n(w, &cur, me | (cur & OW_WAITERS), 0,
	    __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
		ow_dead_last = (pid_t)(cur & OW_PID_MASK);
		return EOWNERDEAD;
	}
	cur = 0;	/* moved meanwhile: freed, perhaps */
	return __atomic_compare_exchange_n(w, &cur, me, 0, __ATOMIC_ACQUIRE,
	    __ATOMIC_RELAXED) ? 0 : EBUSY;
}

int
ow_trylock(const struct tbl *t, uint64_t *w, int full)
{
	return ow_try(t, w, ow_me(t), full);
}

int
ow_take(const struct tbl *t, uint64_t *w)
{
	uint64_t	cur = 0;

	return __atomic_compare_exchange_n(w, &cur, ow_me(t), 0,
	    __ATOMIC_ACQUIRE, __ATOMIC_RELAXED) ? 0 : EBUSY;
}

static long
ow_ns_left(const struct timespec *deadline)
{
	struct timespec	now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)(deadline->tv_sec - now.tv_sec) * 1000000000L +
	    (deadline->tv_nsec - now.tv_nsec);
}

int
ow_lock(const struct tbl *t, uint64_t *w, const struct timespec *deadline)
{
	struct timespec	ts;
	uint64_t	me = ow_me(t), cur;
	long		sleep_ns = OW_SLEEP_MIN_NS, left;
	int		full = 0, slept = 0;

	for (;;) {
		cur = __atomic_load_n(w, __ATOMIC_RELAXED);
		if (cur == 0 || ow_dead(t, cur, me, full)) {
			/*
			 * Free, or its holder gone: take it, the waiters
			 * bit kept, and set after a sleep, as others may
			 * sleep on it too (the unlock then wakes one for
			 * nothing, at worst).
			 */
			if (__atomic_compare_exchange_n(w, &cur,
			    me | (slept ? OW_WAITERS : cur & OW_WAITERS), 0,
			    __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
				ow_dead_last = (pid_t)(cur & OW_PID_MASK);
				return cur == 0 ? 0 : EOWNERDEAD;
			}
			continue;
		}
		if ((cur & OW_WAITERS) == 0) {
			if (!__atomic_compare_exchange_n(w, &cur,
			    cur | OW_WAITERS, 0, __ATOMIC_RELAXED,
			    __ATOMIC_RELAXED))
				continue;
			cur |= OW_WAITERS;
		}
		if ((left = ow_ns_left(deadline)) <= 0)
			return ETIMEDOUT;
		if (left > sleep_ns)
			left = sleep_ns;
		ts.tv_sec = left / 1000000000L;
		ts.tv_nsec = left % 1000000000L;
		full = syscall(SYS_futex, ow_futex(w), FUTEX_WAIT,
		    (uint32_t)cur, &ts, NULL, 0) == -1 && errno == ETIMEDOUT;
		slept = 1;
		if (full && sleep_ns < OW_SLEEP_MAX_NS)
			sleep_ns *= 2;
	}
}

void
ow_unlock(uint64_t *w)
{
	uint64_t	cur = __atomic_load_n(w, __ATOMIC_RELAXED);

	/*
	 * Only this process's hold, by its pid (its start time may have been
	 * worked out only since it locked): one taken over from it meanwhile
	 * (a forged word made it look dead) is the taker's, and a forked
	 * child that inherited a held lock's bookkeeping does not free its
	 * parent's.
	 */
	do
		if ((cur & OW_PID_MASK) != (uint64_t)ow_self.pid)
			return;
	while (!__atomic_compare_exchange_n(w, &cur, 0, 0, __ATOMIC_RELEASE,
	    __ATOMIC_RELAXED));
	if (cur & OW_WAITERS)
		(void)syscall(SYS_futex, ow_futex(w), FUTEX_WAKE, 1, NULL,
		    NULL, 0);
}

int
ow_free(const uint64_t *w)
{
	return __atomic_load_n(w, __ATOMIC_RELAXED) == 0;
}

pid_t
ow_holder(const struct tbl *t, const uint64_t *w)
{
	uint64_t	v = __atomic_load_n(w, __ATOMIC_RELAXED);
	uint64_t	nsid = v >> OW_NS_SHIFT & OW_NS_MASK;

	if (v == 0 || nsid == 0 || nsid > TBL_NS_SLOTS)
		return 0;
	ow_prepare();
	if (ow_self.ns == 0 || SH_LOAD(&ow_nstab(t)[nsid - 1]) != ow_self.ns)
		return 0;
	return (pid_t)(v & OW_PID_MASK);
}

pid_t
ow_dead_pid(void)
{
	return ow_dead_last;
}
