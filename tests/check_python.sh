#!/bin/sh
# check_python.sh - the Python package's pytest suite (python/tests), run
# on the package built in $BUILD/python/lib (make python), against
# $BUILD/protetsd.  tests/run.sh runs it beside the C suites: its last
# lines hold check(3)'s "Checks: N, Failures: F, Errors: E" (conftest.py).
#
# Under SAN=1 the extension is built with ASan/UBSan, whose runtime must
# be the first library of the process: it is preloaded, and leak
# detection is off (the interpreter's own allocations at exit are not the
# extension's).
: "${BUILD:=build}" "${PYTHON:=/usr/bin/python3}"
so=$(ls "$BUILD"/python/lib/protets/_protets*.so 2>/dev/null | head -1)
if [ -z "$so" ]; then
	echo "check_python: $BUILD/python/lib has no protets extension: make python"
	exit 1
fi
if ldd "$so" | grep -q libasan; then
	LD_PRELOAD="$(${CC:-cc} -print-file-name=libasan.so) $(${CC:-cc} -print-file-name=libubsan.so)"
	# last: the caller's (CI's detect_leaks=1) must not override it
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
	export LD_PRELOAD ASAN_OPTIONS
fi
PROTETS_BUILD=$BUILD PYTHONPATH="$BUILD/python/lib" \
PYTHONDONTWRITEBYTECODE=1 exec "$PYTHON" -m pytest -q -p no:cacheprovider \
    -rfEs python/tests
