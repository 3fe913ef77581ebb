"""conftest.py - a private protetsd for the tests, as tests/testutil.c.

Daemon() writes a configuration (socket, pidfile, workers) into a fresh
/tmp/protets-test.XXXXXX directory, starts $PROTETS_BUILD/protetsd (default
build/) in the foreground on it, and waits until the monitor and every
worker answer `procs`.  stop() sends SIGTERM to that pid and waits; the
directory goes too unless KEEP_TEST_DIRS is set.  Its log is <dir>/log.

The session's summary ends with a line in check(3)'s format
("100%: Checks: N, Failures: F, Errors: E"), which tests/run.sh adds up
with the C suites'.
"""
import ctypes
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

import protets

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD = os.path.abspath(os.environ.get("PROTETS_BUILD",
                                       os.path.join(ROOT, "build")))
# A deadline on waiting for a condition, never a duration asserted.
WAIT_S = 30


def wait_for(cond, what, timeout=WAIT_S):
    """Poll cond() until it is true; fail the test after timeout seconds."""
    end = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > end:
            pytest.fail("timed out waiting for " + what)
        time.sleep(0.005)


def _term_with_parent():
    """In the daemon's child before exec: SIGTERM when the test process
    dies, so that a crashed test (ASan's abort) leaves no daemon behind."""
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class Daemon:
    def __init__(self, workers=2, extra=""):
        self.dir = tempfile.mkdtemp(prefix="protets-test.", dir="/tmp")
        os.chmod(self.dir, 0o755)   # other uids reach the socket
        self.conf = os.path.join(self.dir, "protets.conf")
        self.sock = os.path.join(self.dir, "sock")
        self.log = os.path.join(self.dir, "log")
        self.workers = workers
        self.proc = None
        with open(self.conf, "w") as f:
            f.write("[daemon]\nsocket = sock\npidfile = protetsd.pid\n"
                    "workers = %d\nrestart_burst = 1000\n"
                    "restart_window_ms = 1000\n%s\n[tables]\n"
                    "default_size = 16M\nmax_size = 1G\n" % (workers, extra))
        self.launch()

    def launch(self):
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [os.path.join(BUILD, "protetsd"), "-d", "-c", self.conf],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                preexec_fn=_term_with_parent)
        wait_for(self._up, "protetsd to come up (see %s)" % self.log)

    def _up(self):
        if self.proc.poll() is not None:
            pytest.fail("protetsd exited (%s); see %s" %
                        (self.proc.returncode, self.log))
        try:
            with protets.connect(self.sock) as c:
                procs = c.procs()
        except protets.Error:
            return False
        return len(procs) == self.workers + 2 and \
            any(p["role"] == "monitor" and p["pid"] for p in procs)

    def connect(self):
        return protets.connect(self.sock)

    def pid(self, role, slot=-1):
        with self.connect() as c:
            for p in c.procs():
                if p["role"] == role and (slot < 0 or p["slot"] == slot):
                    return p["pid"]
        return 0

    def kill_worker(self, slot):
        """SIGKILL a worker; wait until the supervisor replaced it."""
        old = self.pid("worker", slot)
        assert old > 0
        os.kill(old, signal.SIGKILL)
        wait_for(lambda: self.pid("worker", slot) not in (0, old),
                 "worker %d to be replaced" % slot)

    def term(self):
        """An orderly stop (SIGTERM to the supervisor); the exit status."""
        if self.proc is None:
            return None
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait()
        self.proc = None
        return rc

    def stop(self):
        self.term()
        if not os.environ.get("KEEP_TEST_DIRS"):
            shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def daemon():
    d = Daemon()
    yield d
    d.stop()


@pytest.fixture
def conn(daemon):
    c = daemon.connect()
    yield c
    c.close()


_names = iter(range(1 << 30))


@pytest.fixture
def name(request):
    """A table name of this test's own."""
    return "%s-%d" % (request.node.name[:200], next(_names))


def pytest_terminal_summary(terminalreporter):
    st = terminalreporter.stats
    passed = len(st.get("passed", []))
    failed = len(st.get("failed", []))
    errors = len(st.get("error", []))
    total = passed + failed + errors
    pct = 100 * passed // total if total else 0
    terminalreporter.write_line("%d%%: Checks: %d, Failures: %d, Errors: %d"
                                % (pct, total, failed, errors))
