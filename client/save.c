/*
 * save.c - a table to a file and back (ets:tab2file / ets:file2tab): the
 * library's side of the saved-table file (common/savefile.c does the
 * file).  A load creates the table private, fills it, then gives it its
 * access mode, so that nobody sees it half-filled.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "protets_int.h"
#include "savefile.h"

static int
sv_fold(void *src, protets_fold_fn fn, void *arg)
{
	return protets_foldl(src, fn, arg);
}

static int
sv_insert(void *dst, const protets_kv *kv, size_t n)
{
	return protets_insert_many(dst, kv, n);
}

int
protets_save(protets_table_t *t, const char *path)
{
	const protets_info	*info;
	struct sf_meta		 m;

	if (t == NULL || path == NULL || *path == '\0')
		return PROTETS_EINVAL;
	info = pt_table_info(t);
	memset(&m, 0, sizeof(m));
	m.type = (uint32_t)protets_table_type(t);
	m.access = (uint32_t)protets_table_access(t);
	m.wc = info->write_concurrency;
	m.size = pt_table_quota(t);	/* the size asked for, 0: none */
	strlcpy(m.name, protets_table_name(t), sizeof(m.name));
	return sf_save(path, &m, sv_fold, t, NULL);
}

/* The table's name and options: the file's, unless the caller's. */
static int
sv_opts(const struct sf_meta *h, const char *name, const protets_opts *opts,
    protets_opts *o, const char **tname)
{
	memset(o, 0, sizeof(*o));
	o->type = (protets_type)h->type;
	o->access = (protets_access)h->access;
	o->max_size = h->size;
	o->write_concurrency = h->wc;
	*tname = name != NULL ? name : h->name;
	if (opts == NULL)
		return 0;
	if (opts->type != 0 && opts->type != o->type)
		return PROTETS_EINVAL;
	if (opts->access != 0)
		o->access = opts->access;
	if (opts->max_size != 0)
		o->max_size = opts->max_size;
	if (opts->write_concurrency != 0)
		o->write_concurrency = opts->write_concurrency;
	return 0;
}

/*
 * Create the table and fill it; on failure leave no table behind.  It is
 * created private, so that no other uid sees it half-filled or holds it
 * open when a failure drops it, and gets its access once it is whole.
 */
static int
sv_create(protets_t *p, int fd, const struct sf_plan *pl, const char *name,
    const protets_opts *opts, protets_table_t **tp)
{
	protets_table_t	*t;
	protets_opts	 o;
	protets_access	 access;
	const char	*tname;
	int		 rc, saved;

	if ((rc = sv_opts(sf_plan_meta(pl), name, opts, &o, &tname)) != 0)
		return rc;
	access = o.access;
	o.access = PROTETS_PRIVATE;
	if ((rc = pt_create(p, tname, &o, &t)) != 0)
		return rc;
	/*
	 * At its saved size: filled with no quota, then given it, so that a
	 * table saved holding more than its size (resized down since) loads
	 * whole, as does a full one whose entries land in another order.  A
	 * size the caller gives is kept while filling: too small, the load
	 * fails (PROTETS_EFULL) and leaves nothing.
	 */
	saved = o.max_size != 0 && (opts == NULL || opts->max_size == 0);
	if (saved)
		rc = protets_resize(p, tname, 0);
	if (rc == 0)
		rc = sf_fill(fd, pl, sv_insert, t);
	/* Our handle first: a table held open cannot be dropped. */
	protets_close(t);
	if (rc == 0 && saved)
		rc = protets_resize(p, tname, o.max_size);
	if (rc == 0 && access != PROTETS_PRIVATE)
		rc = protets_set_access(p, tname, access);
	if (rc != 0) {
		(void)protets_drop(p, tname);
		return rc;
	}
	/* Opened again: a handle's access is the one GET answered. */
	return tp != NULL ? protets_open(p, tname, tp) : 0;
}

int
protets_load(protets_t *p, const char *path, const char *name,
    const protets_opts *opts, protets_table_t **tp)
{
	struct sf_plan	*pl = NULL;
	int		 fd, rc;

	pt_errclear();
	if (p == NULL || path == NULL || (name != NULL &&
	    wire_name_valid(name, strlen(name)) != 0))
		return PROTETS_EINVAL;
	/* O_NONBLOCK: a FIFO is refused (sv_verify), not waited on. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1)
		return errno;
	if ((rc = sf_verify(fd, &pl)) == 0)
		rc = sv_create(p, fd, pl, name, opts, tp);
	sf_free(pl);
	close(fd);
	return rc;
}
