"""setup.py - builds the protets._protets extension (see pyproject.toml).

The extension links libprotets' static archive (PROTETS_BUILD/libprotets.a,
default ../build, made by `make`) into itself, so it needs no installed
libprotets.so and no rpath: the module built from a checkout is the
library of that checkout, and `make python-install` copies one file.  The
archive's protets_* symbols are not exported from the module
(--exclude-libs), so a process that also loads libprotets.so keeps the two
apart.  Its dependencies (liburcu, libxxhash, libinih, libbsd) are linked
as the shared libraries pkg-config names.

PROTETS_CFLAGS adds compiler flags (make passes the project's warnings
and -Werror, and under SAN=1 the sanitizers).
"""
import os
import shlex
import subprocess

from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BUILD = os.path.abspath(os.environ.get("PROTETS_BUILD",
                                       os.path.join(ROOT, "build")))
PKGS = ["libbsd-overlay", "liburcu-bp", "liburcu-cds", "libxxhash", "inih"]


def pkg_libs():
    out = subprocess.run(["pkg-config", "--libs"] + PKGS, check=True,
                         capture_output=True, text=True).stdout
    return shlex.split(out)


archive = os.path.join(BUILD, "libprotets.a")
if not os.path.exists(archive):
    raise SystemExit("setup.py: %s is missing: run `make` first "
                     "(or set PROTETS_BUILD)" % archive)

ext = Extension(
    "protets._protets",
    sources=["src/protets/_protets.c", "src/protets/conn.c",
             "src/protets/table.c", "src/protets/walk.c"],
    include_dirs=[os.path.join(ROOT, "include")],
    # hidden: the module exports PyInit__protets alone
    extra_compile_args=["-std=gnu11", "-D_GNU_SOURCE",
                        "-fvisibility=hidden"] +
    shlex.split(os.environ.get("PROTETS_CFLAGS", "")),
    extra_objects=[archive],
    extra_link_args=["-Wl,--exclude-libs,ALL"] + pkg_libs() +
    shlex.split(os.environ.get("PROTETS_LDFLAGS", "")),
    depends=[archive, os.path.join(ROOT, "include", "protets.h"),
             "src/protets/_protets.h"],
)

setup(ext_modules=[ext])
