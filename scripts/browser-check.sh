#!/usr/bin/env bash
# Loads the status page and a failing target's page of the --demo exporter
# in headless Chromium, checks that the pages carry the replies a user
# needs, and writes docs/status.png and docs/target.png.
#
# Everything stays on loopback: the exporter listens on 127.0.0.1 on a
# port of the kernel's choosing, and Chromium may resolve no name and
# reaches anything but loopback only through a proxy that does not exist.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
exporter_pid=""

cleanup() {
	if [[ -n $exporter_pid ]]; then
		kill "$exporter_pid" 2>/dev/null || true
		wait "$exporter_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

fail() {
	echo "browser-check: $*" >&2
	exit 1
}

need_chromium() {
	command -v chromium >/dev/null && return
	echo "browser-check: installing chromium" >&2
	local sudo=""
	[[ $(id -u) -eq 0 ]] || sudo=sudo
	$sudo apt-get update >&2
	$sudo apt-get install -y --no-install-recommends chromium >&2
}

start_exporter() {
	(cd "$repo" && go build -o "$work/mailprobe_exporter" .)
	"$work/mailprobe_exporter" --demo --web.listen-address=127.0.0.1:0 \
		>"$work/exporter.log" 2>&1 &
	exporter_pid=$!
	local addr=""
	for _ in $(seq 100); do
		addr=$(sed -n 's/.*msg="Listening on" address=\(127\.0\.0\.1:[0-9]*\).*/\1/p' \
			"$work/exporter.log" | head -n1)
		[[ -n $addr ]] && break
		kill -0 "$exporter_pid" 2>/dev/null || fail "exporter ended: $(cat "$work/exporter.log")"
		sleep 0.1
	done
	[[ -n $addr ]] || fail "exporter did not say where it listens"
	base="http://$addr"
}

# wait_for_results waits until every example of the demo has a result.
wait_for_results() {
	local page=""
	for _ in $(seq 120); do
		page=$(curl -fsS "$base/" || true)
		if grep -qE '[0-9]+ targets:' <<<"$page" && ! grep -q 'not probed yet' <<<"$page"; then
			return
		fi
		sleep 1
	done
	fail "not every example was probed within two minutes"
}

# browse runs headless Chromium on a URL with the given extra flags.
browse() {
	local url=$1
	shift
	local profile
	profile=$(mktemp -d "$work/profile.XXXXXX")
	timeout 90 chromium --headless --no-sandbox --disable-gpu --disable-quic \
		--no-first-run --disable-background-networking --disable-component-update \
		--disable-sync --disable-default-apps --disable-extensions --no-pings \
		--disable-domain-reliability --disable-client-side-phishing-detection \
		--proxy-server=http://127.0.0.1:9 \
		--host-resolver-rules='MAP * ~NOTFOUND, EXCLUDE 127.0.0.1' \
		--hide-scrollbars --user-data-dir="$profile" "$@" "$url" \
		2>>"$work/chromium.log"
}

# expect_texts checks that the DOM in file $1 holds every later argument.
expect_texts() {
	local file=$1
	shift
	for text in "$@"; do
		grep -qF -- "$text" "$file" || fail "$(basename "$file") lacks '$text'"
	done
}

need_chromium
start_exporter
wait_for_results

failing="$base/target?name=nobody%40ok.mailsim.test"
browse "$base/" --dump-dom >"$work/status.html"
expect_texts "$work/status.html" 'Mail probe status' 'nobody@ok.mailsim.test' \
	'rejected' '550' '5.1.1' 'accepted' 'refused_banner' 'nxdomain' \
	'dead.backup.mailsim.test'
browse "$failing" --dump-dom >"$work/target.html"
expect_texts "$work/target.html" 'rejected' '550' '5.1.1' 'RCPT TO:' \
	'MAIL FROM:' 'User unknown' 'TLS 1.3' 'DNS answer' 'Probe now' \
	'mailprobe_success{'

shots=${SHOTS_DIR:-$repo/docs}
mkdir -p "$shots"
browse "$base/" --screenshot="$shots/status.png" --window-size=1280,900 >/dev/null
browse "$failing" --screenshot="$shots/target.png" --window-size=1280,900 >/dev/null
browse "$base/" --screenshot="$shots/status-phone.png" --window-size=390,844 >/dev/null
for png in status target status-phone; do
	[[ -s $shots/$png.png ]] || fail "no screenshot $shots/$png.png"
done
echo "browser-check: pages hold the expected texts; screenshots in $shots"
