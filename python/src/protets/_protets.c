/*
 * _protets.c - the CPython extension over libprotets: its module, the
 * errors it raises, the arguments it borrows and the walks' collector.
 * conn.c has the Connection type, table.c the Table type (the C base of
 * protets.Table) and its key iterator; _protets.h what they share.
 *
 * Contract.  Keys and values go in as bytes, str (encoded UTF-8) or any
 * object with the buffer protocol, and come out as bytes.  Every error
 * code of the library is raised as the class protets._errors.BY_CODE
 * names for it (a positive errno as the OSError Python picks); a missing
 * key in t[k] / del t[k] is a plain KeyError, as with a dict.
 *
 * The GIL.  Every call into the library runs with the GIL released
 * (NOGIL_BEGIN, _protets.h) whenever another thread could want it:
 * writes may wait for a lock another process holds, and every
 * operation, reads too, may meet a retired segment and ask the daemon
 * for the table (protets.h, PROTETS_ESTALE).  A process with one Python
 * thread keeps it, and saves the hand-over.  Nothing that may run
 * without the GIL touches a Python object: arguments are borrowed
 * as C buffers first (pb_*), and the callbacks of walks (select, take,
 * items, lookup_all) copy entries into a C buffer (cl_*) that is turned
 * into Python objects once the call returned.
 *
 * Handles and threads.  Another thread may close a table or connection
 * while a call on it runs without the GIL.  Each object counts the calls
 * in flight (changed with the GIL held); close() marks it closing and the
 * last call to leave frees the handle, so no call ever uses a freed one.
 *
 * fork.  A table keeps working in a forked child (the library works out
 * the child's identity in its atfork handler; the mapping is inherited).
 * A connection's socket must not be shared by two processes, so a
 * connection used in a process other than the one that opened it first
 * opens a new one to the same socket (the child's copy of the old one is
 * closed, or left alone if a call was in flight at the fork).
 */
#include "_protets.h"	/* first: Python.h before any system header */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static PyObject	*by_code;	/* protets._errors.BY_CODE */
static PyObject	*base_error;	/* protets._errors.Error */

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

/*
 * Raise the exception of return code rc; errmsg, if not empty, is the
 * daemon's words on it.  holder is the lock holder's pid for ELOCKED.
 * Returns NULL for the callers' convenience.
 */
PyObject *
pe_raise(int rc, const char *errmsg, pid_t holder)
{
	PyObject	*cls = NULL, *exc, *code;

	if (rc > 0) {
		errno = rc;
		return PyErr_SetFromErrno(PyExc_OSError);
	}
	if (rc == CL_NOMEM)
		return PyErr_NoMemory();
	if ((code = PyLong_FromLong(rc)) == NULL)
		return NULL;
	if (by_code != NULL)
		cls = PyDict_GetItemWithError(by_code, code);	/* borrowed */
	Py_DECREF(code);
	if (cls == NULL && PyErr_Occurred())
		return NULL;
	if (cls == NULL)
		cls = base_error != NULL ? base_error : PyExc_RuntimeError;
	if (errmsg != NULL && errmsg[0] != '\0')
		exc = PyObject_CallFunction(cls, "(ss)", protets_strerror(rc),
		    errmsg);
	else
		exc = PyObject_CallFunction(cls, "(s)", protets_strerror(rc));
	if (exc == NULL)
		return NULL;
	if (rc == PROTETS_ELOCKED) {
		PyObject	*h = PyLong_FromLong(holder);

		if (h == NULL || PyObject_SetAttrString(exc, "holder", h) < 0) {
			Py_XDECREF(h);
			Py_DECREF(exc);
			return NULL;
		}
		Py_DECREF(h);
	}
	PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
	Py_DECREF(exc);
	return NULL;
}

PyObject *
pe_closed(const char *what)
{
	PyErr_Format(PyExc_ValueError, "operation on a closed %s", what);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Arguments: a key or value as a C buffer                             */
/* ------------------------------------------------------------------ */

/*
 * Borrow obj's bytes: bytes as they are, str as its cached UTF-8 (no
 * copy), anything else through the buffer protocol (pb_release after).
 * what names the argument in the TypeError.
 */
int
pb_get(PyObject *obj, struct pb *b, const char *what)
{
	b->has_view = 0;
	if (PyBytes_Check(obj)) {
		b->p = PyBytes_AS_STRING(obj);
		b->n = PyBytes_GET_SIZE(obj);
		return 0;
	}
	if (PyUnicode_Check(obj)) {
		b->p = PyUnicode_AsUTF8AndSize(obj, &b->n);
		return b->p != NULL ? 0 : -1;
	}
	if (PyObject_CheckBuffer(obj) &&
	    PyObject_GetBuffer(obj, &b->view, PyBUF_SIMPLE) == 0) {
		b->has_view = 1;
		b->p = b->view.buf;
		b->n = b->view.len;
		return 0;
	}
	PyErr_Clear();
	PyErr_Format(PyExc_TypeError, "%s must be bytes or str, not %.100s",
	    what, Py_TYPE(obj)->tp_name);
	return -1;
}

void
pb_release(struct pb *b)
{
	if (b->has_view)
		PyBuffer_Release(&b->view);
	b->has_view = 0;
}

/* ------------------------------------------------------------------ */
/* Collector: the entries a walk hands its callback, in a C buffer     */
/* ------------------------------------------------------------------ */

static int
cl_grow(struct cl *c, size_t need)
{
	size_t	 cap = c->cap ? c->cap : 4096;
	char	*nb;

	while (cap - c->len < need)
		cap *= 2;
	if ((nb = realloc(c->buf, cap)) == NULL)
		return -1;
	c->buf = nb;
	c->cap = cap;
	return 0;
}

/* protets_fold_fn: runs without the GIL. */
int
cl_add(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
	struct cl	*c = arg;
	size_t		 need = 2 * sizeof(size_t) + klen + vlen;

	if (c->skip != NULL && klen == c->skiplen &&
	    memcmp(key, c->skip, klen) == 0)
		return 0;
	if (c->cap - c->len < need && cl_grow(c, need) < 0)
		return CL_NOMEM;
	memcpy(c->buf + c->len, &klen, sizeof(size_t));
	memcpy(c->buf + c->len + sizeof(size_t), &vlen, sizeof(size_t));
	if (klen > 0)		/* an empty value may come as NULL */
		memcpy(c->buf + c->len + 2 * sizeof(size_t), key, klen);
	if (vlen > 0)
		memcpy(c->buf + c->len + 2 * sizeof(size_t) + klen, val, vlen);
	c->len += need;
	c->n++;
	return c->limit != 0 && c->n >= c->limit ? CL_STOP : 0;
}

/* One record as a Python object: its key, its value, or both. */
static PyObject *
cl_item(const char *r, enum cl_mode mode)
{
	size_t		 klen, vlen;
	const char	*k = r + 2 * sizeof(size_t);

	memcpy(&klen, r, sizeof(size_t));
	memcpy(&vlen, r + sizeof(size_t), sizeof(size_t));
	if (mode == CL_KEYS)
		return PyBytes_FromStringAndSize(k, (Py_ssize_t)klen);
	if (mode == CL_VALUES)
		return PyBytes_FromStringAndSize(k + klen, (Py_ssize_t)vlen);
	return Py_BuildValue("(y#y#)", k, (Py_ssize_t)klen, k + klen,
	    (Py_ssize_t)vlen);
}

/* The collected entries as a list; frees the buffer. */
PyObject *
cl_list(struct cl *c, enum cl_mode mode)
{
	PyObject	*l, *o;
	size_t		 i, off = 0, klen, vlen;

	if ((l = PyList_New((Py_ssize_t)c->n)) == NULL)
		goto out;
	for (i = 0; i < c->n; i++) {
		if ((o = cl_item(c->buf + off, mode)) == NULL) {
			Py_CLEAR(l);
			goto out;
		}
		PyList_SET_ITEM(l, (Py_ssize_t)i, o);
		memcpy(&klen, c->buf + off, sizeof(size_t));
		memcpy(&vlen, c->buf + off + sizeof(size_t), sizeof(size_t));
		off += 2 * sizeof(size_t) + klen + vlen;
	}
out:
	free(c->buf);
	c->buf = NULL;
	return l;
}

/* ------------------------------------------------------------------ */
/* Module                                                              */
/* ------------------------------------------------------------------ */

static PyObject *
mod_default_socket(PyObject *mod, PyObject *unused)
{
	char	 buf[108];
	int	 rc;

	(void)mod;
	(void)unused;
	if ((rc = protets_default_socket(buf, sizeof(buf))) != 0)
		return pe_raise(rc, NULL, 0);
	return PyUnicode_DecodeFSDefault(buf);
}

static PyMethodDef mod_methods[] = {
	{ "connect", KW cn_connect, METH_VARARGS | METH_KEYWORDS,
	  "connect(socket=None) -> Connection\n\n"
	  "Connect to protetsd at socket (None: $PROTETS_SOCKET, else the\n"
	  "configuration's socket).  A daemon restarting is dialled again for\n"
	  "up to connect_timeout_ms; Unreachable after." },
	{ "default_socket", mod_default_socket, METH_NOARGS,
	  "default_socket() -> str: the socket connect() uses when given none." },
	{ "_set_table_class", tb_set_class, METH_O, NULL },
	{ NULL, NULL, 0, NULL }
};

static struct PyModuleDef mod_def = {
	PyModuleDef_HEAD_INIT,
	.m_name = "protets._protets",
	.m_doc = "The C extension of the protets package (see protets).",
	.m_size = -1,
	.m_methods = mod_methods,
};

static int
mod_errors(void)
{
	PyObject	*m;

	if ((m = PyImport_ImportModule("protets._errors")) == NULL)
		return -1;
	by_code = PyObject_GetAttrString(m, "BY_CODE");
	base_error = PyObject_GetAttrString(m, "Error");
	Py_DECREF(m);
	return by_code != NULL && base_error != NULL ? 0 : -1;
}

static int
mod_constants(PyObject *m)
{
	return PyModule_AddIntConstant(m, "KEY_MAX", PROTETS_KEY_MAX) < 0 ||
	    PyModule_AddIntConstant(m, "VALUE_MAX", PROTETS_VALUE_MAX) < 0 ||
	    PyModule_AddIntConstant(m, "NAME_MAX", PROTETS_NAME_MAX) < 0 ||
	    PyModule_AddIntConstant(m, "WRITE_CONCURRENCY_MAX",
	    PROTETS_WRITE_CONCURRENCY_MAX) < 0 ? -1 : 0;
}

PyMODINIT_FUNC PyInit__protets(void);

PyMODINIT_FUNC
PyInit__protets(void)
{
	PyObject	*m;

	if (PyType_Ready(&ConnType) < 0 || PyType_Ready(&TableType) < 0 ||
	    PyType_Ready(&IterType) < 0 || mod_errors() < 0)
		return NULL;
	if ((m = PyModule_Create(&mod_def)) == NULL)
		return NULL;
	Py_INCREF(&ConnType);
	Py_INCREF(&TableType);
	if (PyModule_AddObject(m, "Connection", (PyObject *)&ConnType) < 0 ||
	    PyModule_AddObject(m, "Table", (PyObject *)&TableType) < 0 ||
	    mod_constants(m) < 0) {
		Py_DECREF(m);
		return NULL;
	}
	return m;
}

