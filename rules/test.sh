#!/bin/sh
# Checks the Prometheus rules and runs their unit tests with promtool
# (Debian package "prometheus"). Exits non-zero on the first failure.
set -eu

cd "$(dirname "$0")"

if ! command -v promtool >/dev/null 2>&1; then
	echo "rules/test.sh: promtool not found; install the prometheus package" >&2
	exit 1
fi

promtool check rules mailprobe.rules.yml
promtool test rules mailprobe.rules.test.yml
