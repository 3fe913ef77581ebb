#!/usr/bin/python3
"""metrics_check.py - parse `protets metrics` from stdin, or with --url URL
what an HTTP GET of URL answers (tried again for up to 10 s while nothing
listens), with a real Prometheus text parser (Debian's
python3-prometheus-client) and check it: every family typed, no sample
twice, and each argument NAME{LABEL=VALUE,...}=NUMBER (or NAME{...} alone:
present) holds.  --status N: the GET must answer HTTP status N (and its
body is not parsed).  Exit 0, or 1 with one line saying what is wrong.
Used by check_stats."""
import sys
import time
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families


def parse_arg(arg):
    want = None
    if "}" in arg:
        head, tail = arg.rsplit("}", 1)
        if tail.startswith("="):
            want = float(tail[1:])
        name, labels = head.split("{", 1)
        lab = {}
        for pair in labels.split(",") if labels else []:
            k, v = pair.split("=", 1)
            lab[k] = v
    else:
        name, _, value = arg.partition("=")
        want = float(value) if value else None
        lab = {}
    return name, lab, want


def fetch(url):
    """The body and status of GET url, once something listens there."""
    deadline = time.monotonic() + 10
    while True:
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                ctype = r.headers.get("Content-Type", "")
                if not ctype.startswith("text/plain; version=0.0.4"):
                    raise SystemExit("Content-Type %r" % ctype)
                return r.read().decode("utf-8"), r.status
        except urllib.error.HTTPError as e:
            return "", e.code
        except (ConnectionError, urllib.error.URLError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def main():
    args = sys.argv[1:]
    status = None
    if args[:1] == ["--url"]:
        text, got = fetch(args[1])
        args = args[2:]
        if args[:1] == ["--status"]:
            status = int(args[1])
            args = args[2:]
            if got != status:
                print("HTTP status %d, not %d" % (got, status))
                return 1
            return 0
        if got != 200:
            print("HTTP status %d" % got)
            return 1
    else:
        text = sys.stdin.read()
    samples = {}
    nfam = 0
    for fam in text_string_to_metric_families(text):
        nfam += 1
        if fam.type not in ("counter", "gauge"):
            print("family %s has type %s" % (fam.name, fam.type))
            return 1
        for s in fam.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            if key in samples:
                print("sample %s %s twice" % key)
                return 1
            samples[key] = s.value
    if nfam == 0:
        print("no metric at all")
        return 1
    for arg in args:
        name, lab, want = parse_arg(arg)
        key = (name, tuple(sorted(lab.items())))
        if key not in samples:
            print("no sample %s" % arg)
            return 1
        if want is not None and samples[key] != want:
            print("%s: %r, not %r" % (arg, samples[key], want))
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
