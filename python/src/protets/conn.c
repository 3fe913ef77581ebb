/*
 * conn.c - protets.Connection: a connection to protetsd (protets_t), the
 * requests on it (get, open, drop, set_access, info, list, procs, load)
 * and protets.connect().  Each request runs without the GIL, counted in
 * users so that close() from another thread frees the handle only when
 * the last request left; in a forked child the connection first opens a
 * new one of its own (cn_refork: two processes must not share a socket).
 */
#include "_protets.h"	/* first: Python.h before any system header */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void
cn_note(struct cn_res *r, int rc)
{
	r->rc = rc;
	if (rc != 0)
		snprintf(r->msg, sizeof(r->msg), "%s", protets_errmsg());
	else
		r->msg[0] = '\0';
}

PyObject *
cn_raise(const struct cn_res *r)
{
	return pe_raise(r->rc, r->msg, 0);
}

/* A forked child's connection: a new one of its own, to the same socket. */
static int
cn_refork(ConnObject *self)
{
	struct cn_res	 r;
	protets_t	*p = NULL;

	if (self->users == 0)
		protets_disconnect(self->p);	/* the child's copy of the fd */
	self->p = NULL;
	self->users = 0;
	self->pid = getpid();
	NOGIL_BEGIN
	cn_note(&r, protets_connect(self->sock, &p));
	NOGIL_END
	if (r.rc != 0) {
		self->closing = 1;
		cn_raise(&r);
		return -1;
	}
	self->p = p;
	return 0;
}

/* Before a call on the connection: open, and this process's own. */
static int
cn_begin(ConnObject *self)
{
	if (self->closing || self->p == NULL) {
		pe_closed("connection");
		return -1;
	}
	if (self->pid != getpid() && cn_refork(self) < 0)
		return -1;
	self->users++;
	return 0;
}

static void
cn_end(ConnObject *self)
{
	if (--self->users == 0 && self->closing && self->p != NULL) {
		protets_disconnect(self->p);
		self->p = NULL;
	}
}

static void
cn_dealloc(ConnObject *self)
{
	if (self->p != NULL && self->pid == getpid())
		protets_disconnect(self->p);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Parse a type or access name (None: 0, the library's default). */
static int
cn_parse_type(PyObject *o, protets_type *out)
{
	const char	*s;

	*out = 0;
	if (o == NULL || o == Py_None)
		return 0;
	if ((s = PyUnicode_AsUTF8(o)) == NULL)
		return -1;
	if (protets_type_parse(s, out) != 0) {
		PyErr_Format(PyExc_ValueError, "unknown table type '%s' (set, "
		    "ordered_set, bag, duplicate_bag)", s);
		return -1;
	}
	return 0;
}

static int
cn_parse_access(PyObject *o, protets_access *out)
{
	const char	*s;

	*out = 0;
	if (o == NULL || o == Py_None)
		return 0;
	if ((s = PyUnicode_AsUTF8(o)) == NULL)
		return -1;
	if (protets_access_parse(s, out) != 0) {
		PyErr_Format(PyExc_ValueError, "unknown access mode '%s' "
		    "(public, protected, private)", s);
		return -1;
	}
	return 0;
}

static PyObject *
cn_get(ConnObject *self, PyObject *args, PyObject *kw)
{
	static char	*kwl[] = { "name", "type", "access", "max_size",
			    "write_concurrency", "create_only", "volatile",
			    NULL };
	const char	*name;
	PyObject	*type = NULL, *access = NULL;
	unsigned long long max_size = 0;
	unsigned int	 wc = 0;
	int		 create_only = 0, vol = 0;
	protets_opts	 o;
	protets_table_t	*t = NULL;
	struct cn_res	 r;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "s|OO$KIpp:get", kwl,
	    &name, &type, &access, &max_size, &wc, &create_only, &vol))
		return NULL;
	memset(&o, 0, sizeof(o));
	if (cn_parse_type(type, &o.type) < 0 ||
	    cn_parse_access(access, &o.access) < 0)
		return NULL;
	o.max_size = max_size;
	o.write_concurrency = wc;
	o.flags = (create_only ? PROTETS_CREATE_ONLY : 0) |
	    (vol ? PROTETS_VOLATILE : 0);
	if (cn_begin(self) < 0)
		return NULL;
	NOGIL_BEGIN
	cn_note(&r, protets_get(self->p, name, &o, &t));
	NOGIL_END
	cn_end(self);
	if (r.rc != 0)
		return cn_raise(&r);
	return tb_wrap(self, t);
}

static PyObject *
cn_open(ConnObject *self, PyObject *args)
{
	const char	*name;
	protets_table_t	*t = NULL;
	struct cn_res	 r;

	if (!PyArg_ParseTuple(args, "s:open", &name) || cn_begin(self) < 0)
		return NULL;
	NOGIL_BEGIN
	cn_note(&r, protets_open(self->p, name, &t));
	NOGIL_END
	cn_end(self);
	if (r.rc != 0)
		return cn_raise(&r);
	return tb_wrap(self, t);
}

static PyObject *
cn_drop(ConnObject *self, PyObject *args)
{
	const char	*name;
	struct cn_res	 r;

	if (!PyArg_ParseTuple(args, "s:drop", &name) || cn_begin(self) < 0)
		return NULL;
	NOGIL_BEGIN
	cn_note(&r, protets_drop(self->p, name));
	NOGIL_END
	cn_end(self);
	if (r.rc != 0)
		return cn_raise(&r);
	Py_RETURN_NONE;
}

static PyObject *
cn_set_access(ConnObject *self, PyObject *args)
{
	const char	*name;
	PyObject	*ao;
	protets_access	 a;
	struct cn_res	 r;

	if (!PyArg_ParseTuple(args, "sO:set_access", &name, &ao) ||
	    cn_parse_access(ao, &a) < 0)
		return NULL;
	if (a == 0)
		return PyErr_Format(PyExc_ValueError, "access mode required");
	if (cn_begin(self) < 0)
		return NULL;
	NOGIL_BEGIN
	cn_note(&r, protets_set_access(self->p, name, a));
	NOGIL_END
	cn_end(self);
	if (r.rc != 0)
		return cn_raise(&r);
	Py_RETURN_NONE;
}

/* A protets_info as a dict. */
PyObject *
pi_dict(const protets_info *i)
{
	return Py_BuildValue("{s:s,s:s,s:s,s:k,s:i,s:i,s:K,s:K,s:K,s:K,s:K,"
	    "s:k}", "name", i->name, "type", protets_type_name(i->type),
	    "access", protets_access_name(i->access), "owner_uid",
	    (unsigned long)i->owner_uid, "worker", (int)i->worker,
	    "worker_pid", (int)i->worker_pid, "id",
	    (unsigned long long)i->id, "created",
	    (unsigned long long)i->created, "entries",
	    (unsigned long long)i->entries, "bytes_used",
	    (unsigned long long)i->bytes_used, "bytes_size",
	    (unsigned long long)i->bytes_size, "write_concurrency",
	    (unsigned long)i->write_concurrency);
}

PyObject *
cn_info_named(ConnObject *self, const char *name)
{
	protets_info	 i;
	struct cn_res	 r;

	if (cn_begin(self) < 0)
		return NULL;
	NOGIL_BEGIN
	cn_note(&r, protets_info_get(self->p, name, &i));
	NOGIL_END
	cn_end(self);
	if (r.rc != 0)
		return cn_raise(&r);
	return pi_dict(&i);
}

static PyObject *
cn_info(ConnObject *self, PyObject *args)
{
	const char	*name;

	if (!PyArg_ParseTuple(args, "s:info", &name))
		return NULL;
	return cn_info_named(self, name);
}

/* list and procs: each item copied into a C array, without the GIL. */
struct cn_arr {
	void	*v;
	size_t	 n, cap, size;
};

static int
cn_arr_add(struct cn_arr *a, const void *item)
{
	void	*nv;

	if (a->n == a->cap) {
		a->cap = a->cap ? 2 * a->cap : 16;
		if ((nv = realloc(a->v, a->cap * a->size)) == NULL)
			return CL_NOMEM;
		a->v = nv;
	}
	memcpy((char *)a->v + a->n++ * a->size, item, a->size);
	return 0;
}

static int
cn_list_one(const protets_info *info, void *arg)
{
	return cn_arr_add(arg, info);
}

static int
cn_procs_one(const protets_proc *proc, void *arg)
{
	return cn_arr_add(arg, proc);
}

static PyObject *
cn_proc_dict(const protets_proc *p)
{
	return Py_BuildValue("{s:s,s:i,s:i,s:k}", "role", p->role, "slot",
	    (int)p->slot, "pid", (int)p->pid, "tables",
	    (unsigned long)p->tables);
}

static PyObject *
cn_arr_list(struct cn_arr *a, int procs)
{
	PyObject	*l, *o;
	size_t		 i;

	if ((l = PyList_New((Py_ssize_t)a->n)) == NULL)
		goto out;
	for (i = 0; i < a->n; i++) {
		o = procs ? cn_proc_dict((protets_proc *)a->v + i) :
		    pi_dict((protets_info *)a->v + i);
		if (o == NULL) {
			Py_CLEAR(l);
			break;
		}
		PyList_SET_ITEM(l, (Py_ssize_t)i, o);
	}
out:
	free(a->v);
	return l;
}

static PyObject *
cn_walk(ConnObject *self, int procs)
{
	struct cn_arr	 a = { NULL, 0, 0, procs ? sizeof(protets_proc) :
			    sizeof(protets_info) };
	struct cn_res	 r;

	if (cn_begin(self) < 0)
		return NULL;
	NOGIL_BEGIN
	cn_note(&r, procs ? protets_procs(self->p, cn_procs_one, &a) :
	    protets_list(self->p, cn_list_one, &a));
	NOGIL_END
	cn_end(self);
	if (r.rc != 0) {
		free(a.v);
		return cn_raise(&r);
	}
	return cn_arr_list(&a, procs);
}

static PyObject *
cn_list(ConnObject *self, PyObject *unused)
{
	(void)unused;
	return cn_walk(self, 0);
}

static PyObject *
cn_procs(ConnObject *self, PyObject *unused)
{
	(void)unused;
	return cn_walk(self, 1);
}

static PyObject *
cn_load(ConnObject *self, PyObject *args, PyObject *kw)
{
	static char	*kwl[] = { "path", "name", "access", "max_size",
			    "write_concurrency", NULL };
	PyObject	*path = NULL, *access = NULL;
	const char	*name = NULL;
	unsigned long long max_size = 0;
	unsigned int	 wc = 0;
	protets_opts	 o;
	protets_table_t	*t = NULL;
	struct cn_res	 r;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "O&|z$OKI:load", kwl,
	    PyUnicode_FSConverter, &path, &name, &access, &max_size, &wc))
		return NULL;
	memset(&o, 0, sizeof(o));
	if (cn_parse_access(access, &o.access) < 0 || cn_begin(self) < 0) {
		Py_DECREF(path);
		return NULL;
	}
	o.max_size = max_size;
	o.write_concurrency = wc;
	NOGIL_BEGIN
	cn_note(&r, protets_load(self->p, PyBytes_AS_STRING(path), name, &o,
	    &t));
	NOGIL_END
	cn_end(self);
	Py_DECREF(path);
	if (r.rc != 0)
		return cn_raise(&r);
	return tb_wrap(self, t);
}

static PyObject *
cn_close(ConnObject *self, PyObject *unused)
{
	(void)unused;
	self->closing = 1;
	if (self->users == 0 && self->p != NULL) {
		if (self->pid == getpid())
			protets_disconnect(self->p);
		self->p = NULL;
	}
	Py_RETURN_NONE;
}

static PyObject *
cn_enter(PyObject *self, PyObject *unused)
{
	(void)unused;
	Py_INCREF(self);
	return self;
}

static PyObject *
cn_exit(ConnObject *self, PyObject *args)
{
	(void)args;
	return cn_close(self, NULL);
}

static PyObject *
cn_socket(ConnObject *self, void *unused)
{
	(void)unused;
	return PyUnicode_DecodeFSDefault(self->sock);
}

static PyObject *
cn_closed(ConnObject *self, void *unused)
{
	(void)unused;
	return PyBool_FromLong(self->closing);
}

static PyObject *
cn_repr(ConnObject *self)
{
	return PyUnicode_FromFormat("<protets.Connection %s%s>", self->sock,
	    self->closing ? " closed" : "");
}

static PyMethodDef cn_methods[] = {
	{ "get", KW cn_get, METH_VARARGS | METH_KEYWORDS,
	  "get(name, type=None, access=None, *, max_size=0, "
	  "write_concurrency=0, create_only=False, volatile=False) -> Table\n\n"
	  "The table called name, created if it does not exist (type None:\n"
	  "'set', access None: 'protected'); an existing table is returned if\n"
	  "the type, access and write_concurrency given are its own, else\n"
	  "Mismatch.  create_only: Exists if the table exists." },
	{ "open", (PyCFunction)cn_open, METH_VARARGS,
	  "open(name) -> Table: the existing table; NotFound if none." },
	{ "drop", (PyCFunction)cn_drop, METH_VARARGS,
	  "drop(name): delete the table (its owner only; Busy while any\n"
	  "process holds it open)." },
	{ "set_access", (PyCFunction)cn_set_access, METH_VARARGS,
	  "set_access(name, access): change the table's access mode." },
	{ "info", (PyCFunction)cn_info, METH_VARARGS,
	  "info(name) -> dict: name, type, access, owner_uid, worker,\n"
	  "worker_pid, id, created, entries, bytes_used, bytes_size,\n"
	  "write_concurrency." },
	{ "list", (PyCFunction)cn_list, METH_NOARGS,
	  "list() -> [dict]: every table the caller may see (entries,\n"
	  "bytes_used and write_concurrency 0: use info())." },
	{ "procs", (PyCFunction)cn_procs, METH_NOARGS,
	  "procs() -> [dict]: the daemon's processes: role, slot, pid, tables." },
	{ "load", KW cn_load, METH_VARARGS | METH_KEYWORDS,
	  "load(path, name=None, *, access=None, max_size=0, "
	  "write_concurrency=0) -> Table\n\n"
	  "Create a table from a file Table.save wrote (all or nothing);\n"
	  "Exists if a table has that name, BadFile if the file is not right." },
	{ "close", (PyCFunction)cn_close, METH_NOARGS,
	  "close(): close the connection; its tables stay usable." },
	{ "__enter__", cn_enter, METH_NOARGS, NULL },
	{ "__exit__", (PyCFunction)cn_exit, METH_VARARGS, NULL },
	{ NULL, NULL, 0, NULL }
};

static PyGetSetDef cn_getset[] = {
	{ "socket", (getter)cn_socket, NULL, "the daemon's socket path", NULL },
	{ "closed", (getter)cn_closed, NULL, "True once closed", NULL },
	{ NULL, NULL, NULL, NULL, NULL }
};

PyTypeObject ConnType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "protets.Connection",
	.tp_basicsize = sizeof(ConnObject),
	.tp_dealloc = (destructor)cn_dealloc,
	.tp_repr = (reprfunc)cn_repr,
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "A connection to protetsd (protets.connect()).  It may be\n"
	    "shared by threads; used in a forked child, it reconnects.",
	.tp_methods = cn_methods,
	.tp_getset = cn_getset,
};

PyObject *
cn_connect(PyObject *mod, PyObject *args, PyObject *kw)
{
	static char	*kwl[] = { "socket", NULL };
	PyObject	*sock = NULL;
	ConnObject	*c;
	struct cn_res	 r;
	protets_t	*p = NULL;

	(void)mod;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "|O&:connect", kwl,
	    PyUnicode_FSConverter, &sock))
		return NULL;
	if ((c = PyObject_New(ConnObject, &ConnType)) == NULL) {
		Py_XDECREF(sock);
		return NULL;
	}
	c->p = NULL;
	c->users = c->closing = 0;
	c->pid = getpid();
	if (sock != NULL) {
		r.rc = (size_t)PyBytes_GET_SIZE(sock) < sizeof(c->sock) ?
		    0 : PROTETS_EINVAL;
		snprintf(c->sock, sizeof(c->sock), "%s",
		    PyBytes_AS_STRING(sock));
		Py_DECREF(sock);
	} else
		r.rc = protets_default_socket(c->sock, sizeof(c->sock));
	r.msg[0] = '\0';
	if (r.rc == 0) {
		NOGIL_BEGIN
		cn_note(&r, protets_connect(c->sock, &p));
		NOGIL_END
	}
	if (r.rc != 0) {
		Py_DECREF(c);
		return cn_raise(&r);
	}
	c->p = p;
	return (PyObject *)c;
}

