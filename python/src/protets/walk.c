/*
 * walk.c - protets.Table's walks: lookup_all, take, pop, keys, values,
 * items, select, select_count and select_delete.  Each runs the library
 * without the GIL into a collector (struct cl), then makes the Python
 * objects; the methods are in table.c's method table.
 */
#include "_protets.h"	/* first: Python.h before any system header */

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- walks: lookup_all, take, items, select ---- */

/* Run a walk without the GIL into c; raise on failure. */
#define TB_WALK(self, c, rc, call) do {					\
	if (tb_begin(self) < 0) {					\
		rc = INT_MIN;						\
		break;							\
	}								\
	NOGIL_BEGIN						\
	rc = (call);							\
	NOGIL_END						\
	if (rc == CL_STOP)						\
		rc = 0;							\
	if (rc != 0 && rc != PROTETS_NOTFOUND)				\
		tb_raise(self, rc);					\
	tb_end(self);							\
} while (0)

static PyObject *
tb_key_walk(TableObject *self, PyObject *key, int take)
{
	struct pb	 k;
	struct cl	 c;
	int		 rc;

	memset(&c, 0, sizeof(c));
	if (pb_get(key, &k, "key") < 0)
		return NULL;
	TB_WALK(self, &c, rc, take ? protets_take(self->t, k.p, (size_t)k.n,
	    cl_add, &c) : protets_lookup_each(self->t, k.p, (size_t)k.n,
	    cl_add, &c));
	pb_release(&k);
	if (rc != 0 && rc != PROTETS_NOTFOUND) {
		free(c.buf);
		return NULL;
	}
	return cl_list(&c, CL_VALUES);
}

PyObject *
tb_lookup_all(TableObject *self, PyObject *key)
{
	return tb_key_walk(self, key, 0);
}

PyObject *
tb_take(TableObject *self, PyObject *key)
{
	return tb_key_walk(self, key, 1);
}

/* t.pop(k[, default]): take's first value. */
PyObject *
tb_pop(TableObject *self, PyObject *const *args, Py_ssize_t nargs)
{
	PyObject	*l, *v;

	if (!_PyArg_CheckPositional("pop", nargs, 1, 2))
		return NULL;
	if ((l = tb_key_walk(self, args[0], 1)) == NULL)
		return NULL;
	if (PyList_GET_SIZE(l) > 0)
		v = PyList_GET_ITEM(l, 0);
	else if (nargs > 1)
		v = args[1];
	else {
		Py_DECREF(l);
		PyErr_SetObject(PyExc_KeyError, args[0]);
		return NULL;
	}
	Py_INCREF(v);
	Py_DECREF(l);
	return v;
}

static PyObject *
tb_fold(TableObject *self, enum cl_mode mode)
{
	struct cl	 c;
	int		 rc;

	memset(&c, 0, sizeof(c));
	TB_WALK(self, &c, rc, protets_foldl(self->t, cl_add, &c));
	if (rc != 0) {
		free(c.buf);
		return NULL;
	}
	return cl_list(&c, mode);
}

PyObject *
tb_keys(TableObject *self, PyObject *unused)
{
	(void)unused;
	return tb_fold(self, CL_KEYS);
}

PyObject *
tb_values(TableObject *self, PyObject *unused)
{
	(void)unused;
	return tb_fold(self, CL_VALUES);
}

PyObject *
tb_items(TableObject *self, PyObject *unused)
{
	(void)unused;
	return tb_fold(self, CL_ITEMS);
}

/* select's arguments as a protets_match; pb_release the three after. */
struct sel {
	struct pb	 prefix, start, stop;
	protets_match	 m;
	Py_ssize_t	 limit;
};

static int
sel_bound(PyObject *o, struct pb *b, const char *what)
{
	b->has_view = 0;
	b->p = NULL;
	b->n = 0;
	if (o == NULL || o == Py_None)
		return 0;
	return pb_get(o, b, what);
}

static void
sel_release(struct sel *s)
{
	pb_release(&s->prefix);
	pb_release(&s->start);
	pb_release(&s->stop);
}

static int
sel_parse(PyObject *args, PyObject *kw, struct sel *s, int with_limit)
{
	static char	*kwl[] = { "prefix", "start", "stop", "limit", NULL };
	static char	*kwl3[] = { "prefix", "start", "stop", NULL };
	PyObject	*p = NULL, *a = NULL, *z = NULL;

	memset(s, 0, sizeof(*s));
	if (!(with_limit ? PyArg_ParseTupleAndKeywords(args, kw, "|$OOOn", kwl,
	    &p, &a, &z, &s->limit) : PyArg_ParseTupleAndKeywords(args, kw,
	    "|$OOO", kwl3, &p, &a, &z)))
		return -1;
	if (s->limit < 0) {
		PyErr_SetString(PyExc_ValueError, "limit must be >= 0");
		return -1;
	}
	if (sel_bound(p, &s->prefix, "prefix") < 0 ||
	    sel_bound(a, &s->start, "start") < 0 ||
	    sel_bound(z, &s->stop, "stop") < 0) {
		sel_release(s);
		return -1;
	}
	s->m.prefix = s->prefix.p;
	s->m.plen = (size_t)s->prefix.n;
	s->m.from = s->start.p;
	s->m.flen = (size_t)s->start.n;
	/* stop is exclusive: the range's inclusive bound, and the key skipped */
	s->m.to = s->stop.p;
	s->m.tlen = (size_t)s->stop.n;
	return 0;
}

/* A predicate leaving out the stop key itself (stop is exclusive). */
static int
sel_pred(const void *key, size_t klen, const void *val, size_t vlen,
    void *arg)
{
	const struct pb	*stop = arg;

	(void)val;
	(void)vlen;
	return !(klen == (size_t)stop->n && memcmp(key, stop->p, klen) == 0);
}

static void
sel_exclusive(struct sel *s)
{
	if (s->stop.p != NULL) {
		s->m.pred = sel_pred;
		s->m.arg = &s->stop;
	}
}

PyObject *
tb_select(TableObject *self, PyObject *args, PyObject *kw)
{
	struct sel	 s;
	struct cl	 c;
	int		 rc;

	memset(&c, 0, sizeof(c));
	if (sel_parse(args, kw, &s, 1) < 0)
		return NULL;
	c.limit = (size_t)s.limit;
	c.skip = s.stop.p;
	c.skiplen = (size_t)s.stop.n;
	TB_WALK(self, &c, rc, protets_select(self->t, &s.m, cl_add, &c));
	sel_release(&s);
	if (rc != 0) {
		free(c.buf);
		return NULL;
	}
	return cl_list(&c, CL_ITEMS);
}

static PyObject *
tb_select_n(TableObject *self, PyObject *args, PyObject *kw, int del)
{
	struct sel	 s;
	uint64_t	 n = 0;
	int		 rc;

	if (sel_parse(args, kw, &s, 0) < 0)
		return NULL;
	sel_exclusive(&s);
	if (tb_begin(self) < 0) {
		sel_release(&s);
		return NULL;
	}
	NOGIL_BEGIN
	rc = del ? protets_select_delete(self->t, &s.m, &n) :
	    protets_select_count(self->t, &s.m, &n);
	NOGIL_END
	if (rc != 0)
		tb_raise(self, rc);
	tb_end(self);
	sel_release(&s);
	return rc != 0 ? NULL : PyLong_FromUnsignedLongLong(n);
}

PyObject *
tb_select_count(TableObject *self, PyObject *args, PyObject *kw)
{
	return tb_select_n(self, args, kw, 0);
}

PyObject *
tb_select_delete(TableObject *self, PyObject *args, PyObject *kw)
{
	return tb_select_n(self, args, kw, 1);
}
