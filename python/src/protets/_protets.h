/*
 * _protets.h - what the files of the protets extension share (_protets.c,
 * conn.c, table.c, walk.c): the objects, the borrowed buffers of arguments, the
 * collector of walks, and the functions each file offers the others.
 * _protets.c's top comment has the extension's contract.
 */
#ifndef PROTETS_PY_H
#define PROTETS_PY_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <sys/types.h>

#include "protets.h"

/* The values a walk's callback stops with: never a library code. */
#define CL_STOP		0x7fff0001
#define CL_NOMEM	0x7fff0002

/* Method table casts: fastcall and keyword functions as PyCFunction. */
#define KW	(PyCFunction)(void (*)(void))
#define FAST	(PyCFunction)(void (*)(void))

/*
 * NOGIL_BEGIN ... NOGIL_END: a library call, with the GIL released when
 * another thread could want it: any other thread state in this
 * interpreter, or another interpreter.  A process of one Python thread
 * keeps it (nobody can be kept waiting), which spares each call the
 * GIL's hand-over (about 350 instructions, 18% of a Python lookup;
 * bench/README.md).  A thread started later finds the GIL released, as
 * it is created with it held.
 */
static inline int
py_alone(void)
{
	PyThreadState	*ts = PyThreadState_Get();

	/* the interpreter's list of threads (CPython's struct _ts) */
	return ts->prev == NULL && ts->next == NULL &&
	    PyInterpreterState_Next(PyInterpreterState_Head()) == NULL;
}

#define NOGIL_BEGIN	{ PyThreadState *nogil_ts = py_alone() ? NULL :	\
			    PyEval_SaveThread();
#define NOGIL_END	if (nogil_ts != NULL)				\
				PyEval_RestoreThread(nogil_ts);		\
			}

/* A connection (conn.c). */
typedef struct {
	PyObject_HEAD
	protets_t	*p;
	pid_t		 pid;		/* the process that opened p */
	int		 users;		/* calls in flight */
	int		 closing;
	char		 sock[108];
} ConnObject;

/* A mapped table (table.c). */
typedef struct {
	PyObject_HEAD
	protets_table_t	*t;
	ConnObject	*conn;		/* for info(); a reference */
	int		 users;		/* calls in flight */
	int		 closing;
} TableObject;

extern PyTypeObject ConnType, TableType, IterType;

/* Errors (_protets.c): raise return code rc; always NULL. */
PyObject	*pe_raise(int rc, const char *errmsg, pid_t holder);
PyObject	*pe_closed(const char *what);

/* A key or value as a C buffer, borrowed from its object (_protets.c). */
struct pb {
	const char	*p;
	Py_ssize_t	 n;
	Py_buffer	 view;
	int		 has_view;
};
int		 pb_get(PyObject *obj, struct pb *b, const char *what);
void		 pb_release(struct pb *b);

/* The entries a walk hands its callback, in a C buffer (_protets.c). */
enum cl_mode { CL_KEYS, CL_VALUES, CL_ITEMS };
struct cl {
	char		*buf;		/* records: klen, vlen, key, value */
	size_t		 len, cap;
	size_t		 n;
	size_t		 limit;		/* stop after limit entries; 0: none */
	const char	*skip;		/* a key not collected (select's stop) */
	size_t		 skiplen;
};
int		 cl_add(const void *key, size_t klen, const void *val,
		    size_t vlen, void *arg);
PyObject	*cl_list(struct cl *c, enum cl_mode mode);

/* What a request returned, and the daemon's words on it (conn.c). */
struct cn_res {
	int	rc;
	char	msg[256];
};
void		 cn_note(struct cn_res *r, int rc);
PyObject	*cn_raise(const struct cn_res *r);
PyObject	*cn_info_named(ConnObject *self, const char *name);
PyObject	*cn_connect(PyObject *mod, PyObject *args, PyObject *kw);
PyObject	*pi_dict(const protets_info *i);

/* table.c */
PyObject	*tb_wrap(ConnObject *conn, protets_table_t *t);
PyObject	*tb_set_class(PyObject *mod, PyObject *cls);
/* Run one library call on self's handle: 0, or -1 with an exception. */
int		 tb_begin(TableObject *self);
void		 tb_end(TableObject *self);
/* Raise the exception of rc (the holder's pid, errmsg); NULL. */
PyObject	*tb_raise(TableObject *self, int rc);

/* walk.c: Table's walks, its methods of those names. */
PyObject	*tb_lookup_all(TableObject *self, PyObject *key);
PyObject	*tb_take(TableObject *self, PyObject *key);
PyObject	*tb_pop(TableObject *self, PyObject *const *args,
		    Py_ssize_t nargs);
PyObject	*tb_keys(TableObject *self, PyObject *unused);
PyObject	*tb_values(TableObject *self, PyObject *unused);
PyObject	*tb_items(TableObject *self, PyObject *unused);
PyObject	*tb_select(TableObject *self, PyObject *args, PyObject *kw);
PyObject	*tb_select_count(TableObject *self, PyObject *args,
		    PyObject *kw);
PyObject	*tb_select_delete(TableObject *self, PyObject *args,
		    PyObject *kw);

#endif
