#!/usr/bin/env bash
# Runs every test of mailprobe_exporter, from a fresh Debian machine with Go:
# static checks, unit tests with the race detector, short fuzzing, the
# Prometheus rules' unit tests, and the end-to-end test on real Postfix,
# postgrey, NSD and Prometheus, which it installs (as root) and starts.
#
#   bash test.sh            everything
#   SKIP_E2E=1 bash test.sh everything but the end-to-end and browser tests
#   FUZZTIME=30s bash test.sh  fuzz each target longer (default 10s)
set -Eeuo pipefail
cd "$(dirname "$0")"

step() { printf '\n### %s\n' "$*"; }

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	printf 'not gofmt-formatted:\n%s\n' "$unformatted" >&2
	exit 1
fi

step "go vet"
go vet ./...

step "staticcheck"
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

step "unit tests (race detector)"
go test -race -count=1 ./...

step "fuzzing, ${FUZZTIME:-10s} per target"
for pkg in ./config ./dialogue; do
	for fuzz in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		go test -run '^$' -fuzz "^${fuzz}\$" -fuzztime "${FUZZTIME:-10s}" "$pkg"
	done
done

if [ -z "${SKIP_E2E:-}" ]; then
	step "end to end on real Postfix, postgrey, NSD and Prometheus"
	bash e2e/run.sh
fi

step "Prometheus rules (promtool comes with the end-to-end step's packages)"
if [ -n "${SKIP_E2E:-}" ] && ! command -v promtool >/dev/null 2>&1; then
	echo "skipped: promtool is not installed (SKIP_E2E=1 installs nothing)"
else
	sh rules/test.sh
fi

if [ -z "${SKIP_E2E:-}" ]; then
	step "status pages in headless Chromium"
	shots=$(mktemp -d)
	SHOTS_DIR=$shots bash scripts/browser-check.sh
	rm -rf "$shots"
fi

step "all tests passed"
