#!/usr/bin/env bash
# Soak run: the exporter probes 1,000 targets on misbehaving simulated MX
# hosts (tools/soakworld, all on loopback) every 15 seconds, and its
# goroutines, open file descriptors and resident memory must stay flat.
#
#   bash scripts/soak.sh                  ten minutes
#   DURATION=120 bash scripts/soak.sh     a shorter run
#
# Every SAMPLE seconds (default 30) it reads go_goroutines,
# process_open_fds, process_resident_memory_bytes, the probes done and the
# number of targets in each result class from the exporter's /metrics, and
# prints one row of a Markdown table. Samples of the first WARMUP seconds
# (default 60) are left out of the verdict; of the others, the maxima of
# the last third may exceed those of the first third by at most 10 % for
# goroutines, 10 % or 16 descriptors, whichever is more (the connections
# in flight, up to 64, make the count swing), and 20 % for resident
# memory; else it exits 1. A leak of one descriptor or goroutine in a
# hundred probes would add hundreds in between. It stops exactly the two
# processes it started.
set -Eeuo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-600}
SAMPLE=${SAMPLE:-30}
WARMUP=${WARMUP:-60}
MAX_GOROUTINES_PCT=10
MAX_FDS_PCT=10
MIN_FDS_SLACK=16
MAX_RSS_PCT=20

work=$(mktemp -d)
pids=()
cleanup() {
	local status=$?
	if [ "$status" -ne 0 ]; then
		tail -n 20 "$work"/*.log >&2 || true
	fi
	for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# free_port prints a TCP port of 127.0.0.1 that nothing listens on.
free_port() {
	local p
	for _ in $(seq 100); do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	echo "no free port found" >&2
	return 1
}

# wait_for runs its arguments until they succeed, for at most 10 seconds.
wait_for() {
	for _ in $(seq 100); do
		if "$@" >/dev/null 2>&1; then return; fi
		sleep 0.1
	done
	echo "gave up waiting for: $*" >&2
	return 1
}

go build -o "$work/mailprobe_exporter" .
go build -o "$work/soakworld" ./tools/soakworld

"$work/soakworld" >"$work/world.out" 2>"$work/world.log" &
pids+=($!)
wait_for test -s "$work/world.out"
config=$(head -n 1 "$work/world.out")

port=$(free_port)
url="http://127.0.0.1:$port"
"$work/mailprobe_exporter" --config.file="$config" \
	--web.listen-address="127.0.0.1:$port" --log.level=warn 2>"$work/exporter.log" &
pids+=($!)
wait_for curl -fsS "$url/-/ready"

classes=(accepted rejected greylisted tempfail blocked refused_banner tls_error timeout
	connect_error protocol_error)

# sample prints one row: elapsed seconds, goroutines, descriptors, RSS in
# MiB, probes done, then the targets in each class of $classes.
sample() {
	local elapsed=$1 metrics
	metrics=$(curl -fsS "$url/metrics")
	awk -v t="$elapsed" -v classes="${classes[*]}" '
		$1 == "go_goroutines" { g = $2 }
		$1 == "process_open_fds" { f = $2 }
		$1 == "process_resident_memory_bytes" { r = $2 }
		/^mailprobe_probes_total\{/ { probes += $NF }
		/^mailprobe_result\{/ && $NF == 1 {
			match($0, /result="[a-z_]+"/)
			n[substr($0, RSTART + 8, RLENGTH - 9)]++
		}
		END {
			printf "%d %d %d %.1f %d", t, g, f, r / 1048576, probes
			split(classes, c, " ")
			for (i = 1; i in c; i++) printf " %d", n[c[i]]
			printf "\n"
		}' <<<"$metrics"
}

header="| s | goroutines | fds | RSS MiB | probes |"
rule="|---:|---:|---:|---:|---:|"
for c in "${classes[@]}"; do
	header+=" $c |"
	rule+="---:|"
done
echo "$header"
echo "$rule"

start=$SECONDS
: >"$work/samples"
while :; do
	sleep "$SAMPLE"
	elapsed=$((SECONDS - start))
	row=$(sample "$elapsed")
	echo "$row" >>"$work/samples"
	echo "| ${row// / | } |"
	if [ "$elapsed" -ge "$DURATION" ]; then break; fi
done

# verdict compares the maxima of the first and last thirds of the samples
# after the warm-up.
awk -v warmup="$WARMUP" -v pg="$MAX_GOROUTINES_PCT" -v pf="$MAX_FDS_PCT" \
	-v sf="$MIN_FDS_SLACK" -v pr="$MAX_RSS_PCT" '
	$1 > warmup { n++; g[n] = $2; f[n] = $3; r[n] = $4 }
	function check(name, v, pct, slack,    i, third, a, b, limit) {
		third = int(n / 3)
		for (i = 1; i <= third; i++) if (v[i] > a) a = v[i]
		for (i = n - third + 1; i <= n; i++) if (v[i] > b) b = v[i]
		limit = a * pct / 100
		if (limit < slack) limit = slack
		printf "%s: first third max %s, last third max %s, growth %+g (limit +%g) %s\n",
			name, a, b, b - a, limit, (b - a > limit ? "FAIL" : "ok")
		return (b - a > limit)
	}
	END {
		if (n < 3) { print "too few samples after the warm-up"; exit 1 }
		bad = check("goroutines", g, pg, 0)
		bad += check("open fds", f, pf, sf)
		bad += check("RSS MiB", r, pr, 0)
		exit (bad > 0)
	}' "$work/samples"
