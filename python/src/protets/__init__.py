"""protets: ETS-like tables in shared memory, shared by every process.

A table lives in protetsd, the daemon; a process maps it and reads and
writes it at memory speed, with no round trip.  Workers of gunicorn,
uWSGI, Celery or a multiprocessing pool share caches and counters
through it, and so do programs in C or any other language::

    import protets
    conn = protets.connect()                      # $PROTETS_SOCKET or the config's
    hits = conn.get("hits", access="public")      # created if it does not exist
    n = hits.update_counter("/index", 1, default=0)   # atomic, in every worker
    hits["greeting"] = "hello"                    # str is stored as UTF-8
    hits["greeting"]                              # b'hello': values come back as bytes

Keys and values are bytes (str is accepted and encoded as UTF-8; bytearray,
memoryview and other buffers too); what comes back is always ``bytes``.  A
counter is a value holding the decimal text of an int64 (``b"42"``).

A :class:`Table` is a ``MutableMapping`` (``t[k] = v``, ``t[k]`` raising
``KeyError``, ``del t[k]``, ``in``, ``len``, iteration in the table's order,
``get``, ``setdefault``, ``pop``, ``update``, ``clear``) with the ETS
operations besides: ``insert_new``, ``insert_many`` (atomic), ``take``,
``update_counter``, ``lookup_all`` (bags), ``delete_object``, ``select``,
``first``/``next``/``last``/``prev``, ``save`` / ``Connection.load``,
``info``, ``check``.  ``keys()``, ``values()`` and ``items()`` return lists
made in one walk of the table (each entry read consistently), not views.

On a bag or duplicate_bag, ``t[k]`` is the key's first value, ``t[k] = v``
adds an entry, ``del t[k]`` removes them all; ``lookup_all(k)`` has every
value.

Errors are the classes of :mod:`protets._errors`, all under
:class:`protets.Error` (``Locked`` is a ``TimeoutError``, ``AccessDenied`` a
``PermissionError``, ``Unreachable`` a ``ConnectionError``, ``TooBig`` and
``InvalidArgument`` ``ValueError``s, ``RangeError`` an ``OverflowError``);
system errors are ``OSError``s.

Threads and processes: a Connection and a Table may be used by many
threads; every call into the library releases the GIL while the process
has another thread (a write may wait for a lock another process holds,
any call may wait for the daemon; a process of one thread keeps the GIL
and saves its hand-over).  A
table opened before ``os.fork()`` (or a multiprocessing fork) works in the
child; a connection used in a child reconnects by itself; a table pickled
(multiprocessing's spawn) is opened again by name where it is unpickled.
Tables ride out a worker's or the whole daemon's restart (they follow
their table).
"""
from collections.abc import MutableMapping as _MutableMapping

from ._errors import (AccessDenied, BadFile, Busy, Corrupt, DaemonError,
                      Error, Exists, FormatMismatch, Full, InvalidArgument,
                      LimitReached, Locked, Mismatch, NotFound,
                      ProtocolError, RangeError, Stale, TooBig, TryAgain,
                      Unreachable, VersionMismatch)
from . import _protets
from ._protets import (KEY_MAX, NAME_MAX, VALUE_MAX, WRITE_CONCURRENCY_MAX,
                       Connection, connect, default_socket)

__version__ = "0.1.0"

__all__ = [
    "connect", "default_socket", "Connection", "Table",
    "KEY_MAX", "NAME_MAX", "VALUE_MAX", "WRITE_CONCURRENCY_MAX",
    "Error", "NotFound", "Exists", "InvalidArgument", "AccessDenied", "Full",
    "TooBig", "Corrupt", "FormatMismatch", "ProtocolError",
    "VersionMismatch", "Unreachable", "Busy", "RangeError", "LimitReached",
    "TryAgain", "DaemonError", "Locked", "BadFile", "Mismatch", "Stale",
]


class Table(_protets.Table, _MutableMapping):
    """A protets table mapped into this process (Connection.get/open/load).

    The mapping operations run in C (the base class); MutableMapping adds
    ``update``, ``popitem``, ``==`` and the ``Mapping`` checks.  A table is
    a context manager: ``with conn.get("t") as t: ...`` closes it.
    """

    __slots__ = ()

    def __reduce__(self):
        # pickled (multiprocessing's spawn, a Queue): opened again by name
        return (_reopen, (self.socket, self.name))


def _reopen(socket, name):
    with connect(socket) as c:
        return c.open(name)


_protets._set_table_class(Table)
