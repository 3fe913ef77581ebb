"""The exceptions of protets: one class per PROTETS_E* code of protets.h.

Every error the library returns is raised as one of these classes, all
subclasses of :class:`protets.Error`, some of them also of the built-in
exception a Python program already catches for that kind of failure
(``PermissionError`` for an access mode, ``TimeoutError`` for a lock held
too long, ``ConnectionError`` for a daemon that is not there, ...).  A
system error (a positive errno value: ENOMEM, EMFILE, EDEADLK, a file
that cannot be written by ``save``) is raised as the ``OSError`` subclass
Python picks for that errno (``FileNotFoundError``, ...).

Each exception carries ``code`` (the negative PROTETS_E* value) and
``errmsg`` (the daemon's own words on it, "" when there are none).  The
C extension imports this module and raises through :data:`BY_CODE`.
A missing key is not an error of the library: ``t[k]`` raises a plain
``KeyError`` as a ``dict`` does.
"""


class Error(Exception):
    """Base class of every protets error; ``code`` is the PROTETS_E* value."""

    code = 0

    def __init__(self, message, errmsg=""):
        # str(e): the code's message, then the daemon's words if any
        super().__init__("%s: %s" % (message, errmsg) if errmsg else message)
        self.errmsg = errmsg


class NotFound(Error, LookupError):
    """PROTETS_NOTFOUND: no such table (open, drop, info) or key."""
    code = -30800


class Exists(Error):
    """PROTETS_EXISTS: the table exists (create_only, load) or the key
    (insert_many(new=True))."""
    code = -30801


class InvalidArgument(Error, ValueError):
    """PROTETS_EINVAL: a bad name, option, empty key, a value that is not a
    counter, an operation the table's type does not have."""
    code = -30802


class AccessDenied(Error, PermissionError):
    """PROTETS_EACCES: the access mode forbids this (a write to a protected
    table of another uid, a private table of another uid, drop by another
    uid)."""
    code = -30803


class Full(Error):
    """PROTETS_EFULL: the table has reached its max_size; nothing was
    written."""
    code = -30804


class TooBig(Error, ValueError):
    """PROTETS_ETOOBIG: a key above 4096 bytes or a value above 1 MiB."""
    code = -30805


class Corrupt(Error):
    """PROTETS_ECORRUPT: the segment failed validation."""
    code = -30806


class FormatMismatch(Error):
    """PROTETS_EFORMAT: the segment was built for another layout."""
    code = -30807


class ProtocolError(Error):
    """PROTETS_EPROTO: a malformed or unexpected message from the daemon."""
    code = -30808


class VersionMismatch(Error):
    """PROTETS_EVERSION: the daemon speaks another protocol version."""
    code = -30809


class Unreachable(Error, ConnectionError):
    """PROTETS_ECONNECT: nothing listened at the socket within the
    connect timeout."""
    code = -30810


class Busy(Error):
    """PROTETS_EBUSY: the table is held open by a process (drop)."""
    code = -30811


class RangeError(Error, OverflowError):
    """PROTETS_ERANGE: update_counter's result overflows int64 and there
    is no threshold; nothing was written."""
    code = -30812


class LimitReached(Error):
    """PROTETS_ELIMIT: a configured limit (max_tables, max_size, a per-uid
    limit) or one atomic operation's size (insert_many too large)."""
    code = -30813


class TryAgain(Error):
    """PROTETS_EAGAIN: transient (a worker restarting, a writer died
    mid-way and a reader could not repair, a walk met a moving table);
    nothing was done: try again."""
    code = -30814


class DaemonError(Error):
    """PROTETS_EDAEMON: a daemon-side failure; see its log."""
    code = -30815


class Locked(Error, TimeoutError):
    """PROTETS_ELOCKED: another process held the write lock for longer
    than the table's lock_timeout; nothing was written.  ``holder`` is
    that process's pid (0 if unknown)."""
    code = -30816
    holder = 0


class BadFile(Error):
    """PROTETS_EFILE: load: not a saved table, truncated, corrupt."""
    code = -30817


class Mismatch(Error):
    """PROTETS_EMISMATCH: get: the table exists with another type, access
    or write_concurrency; ``errmsg`` says what it is."""
    code = -30818


class Stale(Error):
    """PROTETS_ESTALE: the table was retired and did not come back in
    time (the daemon stopped), or its name is another table's now."""
    code = -30819


BY_CODE = {c.code: c for c in (
    NotFound, Exists, InvalidArgument, AccessDenied, Full, TooBig, Corrupt,
    FormatMismatch, ProtocolError, VersionMismatch, Unreachable, Busy,
    RangeError, LimitReached, TryAgain, DaemonError, Locked, BadFile,
    Mismatch, Stale)}

# Shown as protets.Full, not protets._errors.Full.
for _c in (Error,) + tuple(BY_CODE.values()):
    _c.__module__ = "protets"
del _c
