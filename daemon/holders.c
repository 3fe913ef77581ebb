/*
 * holders.c - which processes hold a table: the pids the worker handed a
 * description of its segment to (SO_PEERCRED of the connection its GET
 * reply went out on), checked when asked.
 *
 * The table is in use while any description handed out lives, in an fd
 * or in a mapping (proto.c's OFD lock says whether); the kernel does not
 * say whose.  So each table keeps the last WT_HANDED pids it was handed
 * to, and hd_holders names those that may still hold it:
 *
 * - a pid that is gone (kill(pid, 0): ESRCH) is forgotten;
 * - a pid whose /proc/PID the worker may read (same uid, or root, and
 *   not hidden by ProtectProc=) is named only if one of its fds, or one
 *   of its mappings, is the segment (same inode): a process that closed
 *   the table (protets_close) and lives on is not named;
 * - a live pid the worker may not look into is named: it may hold it, as
 *   is one past the request's budget of fd entries (HD_FD_BUDGET: a
 *   process of a million fds must not stall the worker's loop).
 *
 * Not named: a child forked by a holder (it inherits the fd and the
 * mapping without asking), and holders of a table a restarted worker
 * took over (the list lives in the worker).  When the list overflowed,
 * handed_lost says that some pids were forgotten.  A pid reused by an
 * unrelated process is told apart only where /proc/PID is readable.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "worker.h"

/* What a segment's fd links to starts so (segment.c names them). */
#define HD_MEMFD	"/memfd:protets:"
/* The fd entries one request may read, over all its pids. */
#define HD_FD_BUDGET	65536

/* Is pid alive (a process of another uid too)? */
static int
hd_alive(pid_t pid)
{
	return kill(pid, 0) == 0 || errno == EPERM;
}

/*
 * Does one of pid's fds refer to the inode?  1, 0, or -1: cannot see (or
 * the budget, the fd entries a request may read in all, ran out: a
 * process of a million fds must not stall the worker).  Only a memfd's
 * link is stat'ed: a fd on a hung FUSE or NFS file is never followed.
 */
static int
hd_fds(pid_t pid, const struct stat *seg, long *budget)
{
	struct dirent	*de;
	struct stat	 st;
	char		 path[64], link[32];
	ssize_t		 n;
	DIR		*dir;
	int		 found = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	if ((dir = opendir(path)) == NULL)
		return -1;
	while (!found && (de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (--*budget < 0) {
			found = -1;
			break;
		}
		n = readlinkat(dirfd(dir), de->d_name, link, sizeof(link) - 1);
		if (n < (ssize_t)sizeof(HD_MEMFD) - 1 ||
		    memcmp(link, HD_MEMFD, sizeof(HD_MEMFD) - 1) != 0)
			continue;
		found = fstatat(dirfd(dir), de->d_name, &st, 0) == 0 &&
		    st.st_ino == seg->st_ino && st.st_dev == seg->st_dev;
	}
	closedir(dir);
	return found;
}

/* Does one of pid's mappings have the inode (a memfd)?  1, 0, -1. */
static int
hd_maps(pid_t pid, const struct stat *seg)
{
	unsigned long long	 ino;
	char			 path[64], *line = NULL;
	size_t			 cap = 0;
	FILE			*f;
	int			 found = 0;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	while (!found && getline(&line, &cap, f) != -1)
		found = sscanf(line, "%*s %*s %*s %*s %llu", &ino) == 1 &&
		    ino == (unsigned long long)seg->st_ino &&
		    strstr(line, "/memfd:") != NULL;
	free(line);
	fclose(f);
	return found;
}

/*
 * May pid hold the segment?  Gone: 0; seen holding or not: 1 or 0;
 * alive, not to be looked into (or past the budget): 1.  Its mappings
 * first: a client maps what it holds, and maps are few.
 */
static int
hd_holds(pid_t pid, const struct stat *seg, long *budget)
{
	int	fds, maps;

	if (!hd_alive(pid))
		return 0;
	if ((maps = hd_maps(pid, seg)) == 1)
		return 1;
	if ((fds = hd_fds(pid, seg, budget)) == 1)
		return 1;
	return fds == -1 || maps == -1;
}

/* Forget the pids that are gone; then the oldest, if still full. */
static void
hd_prune(struct wtable *t)
{
	int	i, n = 0;

	for (i = 0; i < t->nhanded; i++)
		if (hd_alive(t->handed[i]))
			t->handed[n++] = t->handed[i];
	t->nhanded = n;
	if (n < WT_HANDED)
		return;
	memmove(t->handed, t->handed + 1, (WT_HANDED - 1) * sizeof(pid_t));
	t->nhanded--;
	t->handed_lost = 1;
}

void
hd_handed(struct wtable *t, pid_t pid)
{
	int	i;

	if (pid <= 0)
		return;
	for (i = 0; i < t->nhanded; i++)
		if (t->handed[i] == pid)
			return;
	if (t->nhanded == WT_HANDED)
		hd_prune(t);
	t->handed[t->nhanded++] = pid;
}

int
hd_holders(struct wtable *t, pid_t *out, int max)
{
	struct stat	seg;
	long		budget = HD_FD_BUDGET;
	int		i, n = 0, kept = 0;

	if (fstat(t->fd, &seg) == -1)
		return 0;
	for (i = 0; i < t->nhanded; i++) {
		if (!hd_alive(t->handed[i]))
			continue;	/* forgotten */
		t->handed[kept++] = t->handed[i];
		if (n < max && hd_holds(t->handed[i], &seg, &budget))
			out[n++] = t->handed[i];
	}
	t->nhanded = kept;
	return n;
}

/* "pids 12, 34" for a message; lost: some may be missing. */
void
hd_format(const pid_t *pids, int n, int lost, char *buf, size_t sz)
{
	size_t	len;
	int	i;

	if (n == 0) {
		snprintf(buf, sz, "no process it was handed to (a child "
		    "forked by one, or one from before a worker restart)");
		return;
	}
	len = (size_t)snprintf(buf, sz, "pid%s", n > 1 ? "s" : "");
	for (i = 0; i < n && len < sz; i++)
		len += (size_t)snprintf(buf + len, sz - len, "%s %d",
		    i ? "," : "", (int)pids[i]);
	if (lost && len < sz)
		snprintf(buf + len, sz - len, " (and perhaps others)");
}
