#!/bin/sh
# systemd-analyze verify on the shipped unit, with its paths pointing at
# this build (verify checks that ExecStart exists and is executable).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed -e "s|@SBINDIR@|$top/$build|g" -e "s|@SYSCONFDIR@|$top|g" \
	"$top/systemd/protetsd.service.in" >"$tmp/protetsd.service"
out=$(SYSTEMD_LOG_LEVEL=notice systemd-analyze verify "$tmp/protetsd.service" 2>&1) || {
	echo "$out"; exit 1; }
# verify exits 0 on some warnings: treat any line about our unit as failure.
if echo "$out" | grep -q "protetsd.service"; then
	echo "$out"; exit 1
fi
echo "protetsd.service: verified"
