#!/usr/bin/env bash
# End-to-end test of mailprobe_exporter on real parts.
#
# NSD serves the MX zones, Postfix plays the MX hosts (one smtpd service
# behind postgrey), a tarpit never greets, Prometheus scrapes the exporter
# with the rules of rules/ loaded, and the tests of this directory (build
# tag e2e) assert what Prometheus saw through its HTTP API, what Postfix
# logged, and that every query of dashboards/queries.txt returns data.
# Every server listens on loopback only, runs from a fresh work directory,
# and is stopped on exit, failure included. Nothing resolves names through
# /etc/resolv.conf.
#
# Run as root from the repository: bash e2e/run.sh
#
# Knobs (environment):
#   E2E_KEEP=1         keep the work directory after a passing run
#   E2E_INFRA_ONLY=1   start and check the servers only (no exporter)
#   E2E_HOLD=SECONDS   keep everything running that long before the tests
#   E2E_GREY_DELAY=N   postgrey delay in seconds (default 10)
#   E2E_WAIT=DURATION  bound of all the assertions' polling (default 3m)
set -Eeuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
readonly HERE ROOT
readonly PACKAGES=(postfix postgrey nsd prometheus bind9-dnsutils openssl)
readonly GREY_DELAY=${E2E_GREY_DELAY:-10}

# The MX hosts are distinct loopback addresses.
readonly MX_PLAIN=127.0.0.10 MX_GREY=127.0.0.11 MX_DEAD=127.0.0.12 MX_TARPIT=127.0.0.13

WORK=""          # work directory, made by setup_workdir
PIDS=()          # processes this script started ("postfix" for its master)
NAMES=()         # their names, for messages
USED_PORTS=" "   # ports handed out by pick_port
RULE_FILES=0     # rule files of rules/ loaded into Prometheus

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

# --- helpers ---------------------------------------------------------------

# tcp_open HOST PORT succeeds when something accepts TCP connections there.
tcp_open() {
    timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

# pick_port VAR stores in VAR a TCP port that nothing listens on locally.
pick_port() {
    local port i
    for ((i = 0; i < 100; i++)); do
        port=$((20000 + RANDOM % 40000))
        [[ $USED_PORTS == *" $port "* ]] && continue
        tcp_open 127.0.0.1 "$port" && continue
        USED_PORTS+="$port "
        printf -v "$1" '%s' "$port"
        return 0
    done
    die "no free TCP port found on 127.0.0.1"
}

# start_bg NAME LOG COMMAND... starts COMMAND in the background and records it.
start_bg() {
    local name=$1 log=$2
    shift 2
    "$@" >"$log" 2>&1 &
    PIDS+=("$!")
    NAMES+=("$name")
}

# wait_until SECONDS WHAT PID COMMAND... polls COMMAND until it succeeds; it
# fails early when PID (if not empty) has exited.
wait_until() {
    local limit=$1 what=$2 pid=$3
    shift 3
    local deadline=$((SECONDS + limit))
    until "$@"; do
        if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
            die "$what: process $pid exited"
        fi
        ((SECONDS < deadline)) || die "$what: not ready after ${limit}s"
        sleep 0.2
    done
}

# stop_pid PID NAME sends SIGTERM, then SIGKILL after 10 seconds. A
# negative PID names a process group this script made with setsid.
stop_pid() {
    local pid=$1 name=$2 i
    kill -TERM -- "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 50; i++)); do
        kill -0 -- "$pid" 2>/dev/null || break
        sleep 0.2
    done
    if kill -0 -- "$pid" 2>/dev/null; then
        say "$name (pid $pid) ignored SIGTERM; killing it"
        kill -KILL -- "$pid" 2>/dev/null || true
    fi
    ((pid < 0)) || wait "$pid" 2>/dev/null || true
}

stop_postfix() {
    local pidfile=$WORK/postfix/queue/pid/master.pid pid="" i
    [[ -r $pidfile ]] && pid=$(tr -d ' \n' <"$pidfile")
    postfix -c "$WORK/postfix/etc" stop >/dev/null 2>&1 || true
    [[ -n $pid ]] || return 0
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.2
    done
    say "postfix master (pid $pid) did not stop; killing it"
    kill -KILL "$pid" 2>/dev/null || true
}

show_logs() {
    local f
    for f in postfix/maillog postgrey.log nsd/nsd.log tarpit.log exporter.log prometheus.log; do
        [[ -s $WORK/$f ]] || continue
        printf '\n----- last lines of %s -----\n' "$WORK/$f" >&2
        tail -n 40 "$WORK/$f" >&2
    done
}

cleanup() {
    local rc=$? i
    trap - EXIT INT TERM
    set +e
    if [[ -n $WORK ]]; then
        ((rc == 0)) || show_logs
        # Last started, first stopped: the exporter leaves before its MX hosts.
        for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
            if [[ ${PIDS[i]} == postfix ]]; then
                stop_postfix
            else
                stop_pid "${PIDS[i]}" "${NAMES[i]}"
            fi
        done
        if ((rc == 0)) && [[ -z ${E2E_KEEP:-} ]]; then
            rm -rf "$WORK"
        else
            say "work directory kept: $WORK"
        fi
    fi
    ((rc == 0)) && say "end-to-end test passed" || say "end-to-end test FAILED (exit $rc)"
    exit "$rc"
}

# --- SMTP by hand, for the smoke checks --------------------------------------

# read_reply FD prints one (possibly multi-line) SMTP reply.
read_reply() {
    local line
    while IFS= read -r -t 5 line <&"$1"; do
        line=${line%$'\r'}
        printf '%s\n' "$line"
        [[ $line =~ ^[0-9]{3}- ]] || return 0
    done
    return 1
}

# smtp_talk IP PORT COMMAND... prints every reply of a dialogue that reads
# the banner, sends the commands, and always ends with QUIT.
smtp_talk() {
    local ip=$1 port=$2 fd cmd
    shift 2
    exec {fd}<>"/dev/tcp/$ip/$port" || return 1
    if read_reply "$fd"; then
        for cmd in "$@" QUIT; do
            printf '%s\r\n' "$cmd" >&"$fd"
            read_reply "$fd" || break
        done
    fi
    exec {fd}>&-
}

# smtp_greets IP PORT succeeds when a server greets and says goodbye.
smtp_greets() {
    local out
    out=$(smtp_talk "$1" "$2" 2>/dev/null) && grep -q '^221' <<<"$out"
}

# expect_rcpt IP RCPT PATTERN checks the RCPT reply of a hand-made session.
expect_rcpt() {
    local out
    out=$(smtp_talk "$1" "$SMTP_PORT" "EHLO smoke.e2e.test" "MAIL FROM:<smoke@e2e.test>" \
        "RCPT TO:<$2>" RSET)
    grep -Eq "$3" <<<"$out" || die "RCPT TO:<$2> at $1: want /$3/, got: $out"
}

# --- steps -----------------------------------------------------------------

install_packages() {
    local p missing=()
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$p")
    done
    ((${#missing[@]} == 0)) && return 0
    say "installing ${missing[*]}"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${PACKAGES[@]}"
}

setup_workdir() {
    WORK=$(mktemp -d /tmp/mailprobe-e2e.XXXXXX)
    chmod 755 "$WORK"
    mkdir -p "$WORK"/{nsd,postfix/etc,postgrey,prometheus} "$ROOT/e2e/work"
    say "work directory $WORK"
}

choose_ports() {
    local ip
    pick_port NSD_PORT
    pick_port GREY_PORT
    pick_port EXPORTER_PORT
    pick_port PROM_PORT

    # Port 25 like real MX hosts, unless something (a system MTA listening on
    # all addresses, say) already answers there.
    SMTP_PORT=25
    for ip in $MX_PLAIN $MX_GREY $MX_DEAD $MX_TARPIT; do
        tcp_open "$ip" 25 || continue
        say "port 25 is taken on $ip; the MX hosts use another port"
        pick_port SMTP_PORT
        break
    done
    for ip in $MX_PLAIN $MX_GREY $MX_DEAD $MX_TARPIT; do
        ! tcp_open "$ip" "$SMTP_PORT" || die "something already listens on $ip:$SMTP_PORT"
    done
    say "ports: smtp=$SMTP_PORT dns=$NSD_PORT postgrey=$GREY_PORT" \
        "exporter=$EXPORTER_PORT prometheus=$PROM_PORT"
}

write_zones() {
    local d=$WORK/nsd i ip
    {
        cat <<EOF
\$ORIGIN test.
\$TTL 300
@               SOA   ns.test. hostmaster.test. 1 3600 600 86400 300
@               NS    ns.test.
ns              A     127.0.0.1

; one MX host, the plain Postfix service
ok              MX    10 mx1.ok.test.
mx1.ok          A     $MX_PLAIN

; one MX host behind postgrey
grey            MX    10 mx.grey.test.
mx.grey         A     $MX_GREY

; the primary MX is dead (nothing listens), the backup works
deadfirst       MX    10 dead.deadfirst.test.
deadfirst       MX    20 mx1.ok.test.
dead.deadfirst  A     $MX_DEAD

; no MX record: the domain itself is the implicit MX
implicit        A     $MX_PLAIN

; null MX (RFC 7505); the address record must not be used for mail
nullmx          MX    0 .
nullmx          A     $MX_PLAIN

; the MX name is an alias
cname           MX    10 alias.cname.test.
alias.cname     CNAME mx1.ok.test.

; an MX host that accepts connections and never greets
tarpit          MX    10 mx.tarpit.test.
mx.tarpit       A     $MX_TARPIT

; thirty MX hosts: too large for a UDP answer, so TC=1 and a retry over TCP;
; the first two are dead, the others the plain Postfix service
EOF
        for ((i = 1; i <= 30; i++)); do
            ip=$MX_PLAIN
            ((i <= 2)) && ip=$MX_DEAD
            printf 'many            MX    %d mx%02d.many.test.\n' $((i * 10)) "$i"
            printf 'mx%02d.many       A     %s\n' "$i" "$ip"
        done
    } >"$d/test.zone"

    # servfail.test is declared without a zone file: NSD answers SERVFAIL.
    cat >"$d/nsd.conf" <<EOF
server:
    ip-address: 127.0.0.1@$NSD_PORT
    port: $NSD_PORT
    do-ip4: yes
    do-ip6: no
    username: ""
    chroot: ""
    zonesdir: "$d"
    pidfile: "$d/nsd.pid"
    zonelistfile: "$d/zone.list"
    xfrdfile: "$d/xfrd.state"
    xfrdir: "$d"
    database: ""
    logfile: "$d/nsd.log"
    server-count: 1
    verbosity: 1
    hide-version: yes
    rrl-ratelimit: 0
    # Cap UDP answers at 512 bytes even with EDNS0, so the 30 MX of
    # many.test come back truncated and must be fetched over TCP.
    ipv4-edns-size: 512
remote-control:
    control-enable: no
zone:
    name: test
    zonefile: test.zone
zone:
    name: servfail.test
    zonefile: servfail.zone
EOF
    nsd-checkzone test "$d/test.zone" >/dev/null || die "nsd-checkzone rejected test.zone"
    nsd-checkconf "$d/nsd.conf" || die "nsd-checkconf rejected nsd.conf"
}

# dns QUERY... asks our NSD, never the system resolver.
dns() {
    dig -4 @127.0.0.1 -p "$NSD_PORT" +time=2 +tries=1 "$@"
}

check_zones() {
    local out
    [[ $(dns +short ok.test MX) == "10 mx1.ok.test." ]] || die "ok.test MX"
    [[ $(dns +short mx1.ok.test A) == "$MX_PLAIN" ]] || die "mx1.ok.test A"
    [[ $(dns +short nullmx.test MX) == "0 ." ]] || die "nullmx.test MX"
    [[ $(dns +short alias.cname.test A | head -1) == "mx1.ok.test." ]] || die "CNAME"
    dns nosuch.test MX | grep -q 'status: NXDOMAIN' || die "nosuch.test is not NXDOMAIN"
    dns servfail.test MX | grep -q 'status: SERVFAIL' || die "servfail.test is not SERVFAIL"

    out=$(dns implicit.test MX)
    grep -q 'status: NOERROR' <<<"$out" && grep -q 'ANSWER: 0,' <<<"$out" ||
        die "implicit.test MX is not NODATA: $out"

    out=$(dns +bufsize=1232 +ignore +notcp many.test MX)
    grep -Eq 'flags:[a-z ]* tc[ ;]' <<<"$out" || die "many.test over UDP is not truncated: $out"
    [[ $(dns +tcp +short many.test MX | wc -l) == 30 ]] || die "many.test over TCP lacks 30 MX"
    say "DNS zones answer as intended"
}

start_nsd() {
    write_zones
    start_bg nsd "$WORK/nsd/stderr.log" nsd -d -c "$WORK/nsd/nsd.conf"
    wait_until 20 "nsd" "${PIDS[-1]}" tcp_open 127.0.0.1 "$NSD_PORT"
    wait_until 20 "nsd answers" "${PIDS[-1]}" eval 'dns +short ns.test A >/dev/null'
    check_zones
}

start_postgrey() {
    local d=$WORK/postgrey
    chown postgrey: "$d" 2>/dev/null || chmod 777 "$d"
    : >"$d/whitelist_clients"
    : >"$d/whitelist_recipients"
    start_bg postgrey "$WORK/postgrey.log" postgrey \
        --inet="127.0.0.1:$GREY_PORT" --dbdir="$d" --pidfile="$d/postgrey.pid" \
        --delay="$GREY_DELAY" --auto-whitelist-clients=0 --hostname=mx.grey.test \
        --whitelist-clients="$d/whitelist_clients" \
        --whitelist-recipients="$d/whitelist_recipients" \
        --greylist-text="Greylisted, try again in %s seconds"
    wait_until 30 "postgrey" "${PIDS[-1]}" tcp_open 127.0.0.1 "$GREY_PORT"
}

start_tarpit() {
    (cd "$ROOT" && go build -o "$WORK/tarpit" ./e2e/tarpit) || die "building the tarpit"
    start_bg tarpit "$WORK/tarpit.log" "$WORK/tarpit" -listen "$MX_TARPIT:$SMTP_PORT" \
        -hold 30s -max-conns 16
    wait_until 10 "tarpit" "${PIDS[-1]}" tcp_open "$MX_TARPIT" "$SMTP_PORT"
}

write_postfix_config() {
    local d=$WORK/postfix
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=mx1.ok.test" \
        -addext "subjectAltName=DNS:mx1.ok.test" \
        -keyout "$d/etc/key.pem" -out "$d/etc/cert.pem" 2>/dev/null ||
        die "openssl could not make a certificate"
    chmod 600 "$d/etc/key.pem"

    cat >"$d/etc/vmailbox" <<'EOF'
alice@ok.test        ok/alice/
postmaster@ok.test   ok/postmaster/
alice@grey.test      grey/alice/
alice@deadfirst.test deadfirst/alice/
alice@implicit.test  implicit/alice/
alice@cname.test     cname/alice/
postmaster@many.test many/postmaster/
EOF

    cat >"$d/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $d/queue
data_directory = $d/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.e2e.test
mydomain = e2e.test
myorigin = \$myhostname
mydestination =
local_recipient_maps =
relayhost =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
maillog_file = $d/maillog
maillog_file_prefixes = $WORK
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
biff = no
smtpd_banner = \$myhostname ESMTP
virtual_mailbox_domains = ok.test grey.test deadfirst.test implicit.test cname.test many.test
virtual_mailbox_maps = texthash:$d/etc/vmailbox
smtpd_reject_unlisted_recipient = yes
smtpd_relay_restrictions = reject_unauth_destination
smtpd_recipient_restrictions = reject_unlisted_recipient
grey_recipient_restrictions = reject_unlisted_recipient,
    check_policy_service inet:127.0.0.1:$GREY_PORT
smtpd_tls_security_level = may
smtpd_tls_cert_file = $d/etc/cert.pem
smtpd_tls_key_file = $d/etc/key.pem
smtpd_tls_loglevel = 0
# Probes open a queue file at MAIL FROM and never deliver, so Postfix's
# arrival-versus-delivery flow control would soon delay every RCPT reply
# by a second; real MX hosts that also deliver mail do not see that.
in_flow_delay = 0
EOF

    cat >"$d/etc/master.cf" <<EOF
# service         type  private unpriv chroot wakeup maxproc command
$MX_PLAIN:$SMTP_PORT  inet  n       -      n      -      -       smtpd
$MX_GREY:$SMTP_PORT  inet  n       -      n      -      -       smtpd
  -o smtpd_recipient_restrictions=\$grey_recipient_restrictions
  -o smtpd_tls_security_level=none
cleanup           unix  n       -      n      -      0       cleanup
qmgr              unix  n       -      n      300    1       qmgr
tlsmgr            unix  -       -      n      1000?  1       tlsmgr
rewrite           unix  -       -      n      -      -       trivial-rewrite
bounce            unix  -       -      n      -      0       bounce
defer             unix  -       -      n      -      0       bounce
trace             unix  -       -      n      -      0       bounce
verify            unix  -       -      n      -      1       verify
proxymap          unix  -       -      n      -      -       proxymap
smtp              unix  -       -      n      -      -       smtp
error             unix  -       -      n      -      -       error
retry             unix  -       -      n      -      -       error
discard           unix  -       -      n      -      -       discard
anvil             unix  -       -      n      -      1       anvil
scache            unix  -       -      n      -      1       scache
postlog           unix-dgram n  -      n      -      1       postlogd
EOF
}

start_postfix() {
    local d=$WORK/postfix out
    write_postfix_config
    mkdir -p "$d/queue"
    postfix -c "$d/etc" check || die "postfix check failed"
    PIDS+=(postfix)
    NAMES+=(postfix)
    postfix -c "$d/etc" start || die "postfix did not start"
    wait_until 30 "postfix on $MX_PLAIN" "" smtp_greets "$MX_PLAIN" "$SMTP_PORT"
    wait_until 30 "postfix on $MX_GREY" "" smtp_greets "$MX_GREY" "$SMTP_PORT"

    # The smoke checks use their own sender, so postgrey's triplets for the
    # exporter's probes stay fresh.
    out=$(smtp_talk "$MX_PLAIN" "$SMTP_PORT" "EHLO smoke.e2e.test")
    grep -q '^250.STARTTLS' <<<"$out" || die "$MX_PLAIN does not offer STARTTLS: $out"
    expect_rcpt "$MX_PLAIN" alice@ok.test '^250 '
    expect_rcpt "$MX_PLAIN" nobody@ok.test '^550 5\.1\.1 '
    expect_rcpt "$MX_GREY" nobody@grey.test '^550 5\.1\.1 '
    expect_rcpt "$MX_GREY" alice@grey.test '^450 4\.2\.0 .*Greylisted'
    say "postfix answers as intended"
}

start_exporter() {
    local cfg=$WORK/exporter.yml
    (cd "$ROOT" && go build -buildvcs=false -o "$WORK/mailprobe_exporter" .) ||
        die "building the exporter"
    cat >"$cfg" <<EOF
defaults:
  interval: 5s
  timeout: 5s
  banner_timeout: 3s
  command_timeout: 3s
  helo_name: e2e.mailprobe.test
  mail_from: probe@e2e.mailprobe.test
  port: $SMTP_PORT
dns:
  servers: ["127.0.0.1:$NSD_PORT"]
  timeout: 3s
targets:
  - address: alice@ok.test
    labels: {customer: ok, tier: gold}
  - address: nobody@ok.test
  - address: alice@grey.test
  - address: alice@deadfirst.test
  - address: alice@implicit.test
  - domain: nullmx.test
  - domain: nosuch.test
  - domain: servfail.test
  - address: alice@cname.test
  - domain: many.test
    mx: all
    max_mx_hosts: 5
  - domain: tarpit.test
EOF
    "$WORK/mailprobe_exporter" --config.file="$cfg" --config.check ||
        die "the exporter rejects $cfg"
    start_bg exporter "$WORK/exporter.log" "$WORK/mailprobe_exporter" \
        --config.file="$cfg" --web.listen-address="127.0.0.1:$EXPORTER_PORT" --log.level=debug
    wait_until 30 "exporter" "${PIDS[-1]}" tcp_open 127.0.0.1 "$EXPORTER_PORT"
}

# copy_rules puts the project's rule files into the work directory with
# every group evaluated each 2s, so the slow groups also run within the test.
copy_rules() {
    local f
    RULE_FILES=0
    mkdir -p "$1"
    for f in "$ROOT"/rules/*.rules.yml; do
        [[ -e $f ]] || continue
        sed -E 's/^( +interval:) *[0-9]+[smhd]$/\1 2s/' "$f" >"$1/${f##*/}"
        RULE_FILES=$((RULE_FILES + 1))
    done
    ((RULE_FILES == 0)) || promtool check rules "$1"/*.rules.yml >/dev/null ||
        die "promtool check rules failed on the rules in $1"
}

start_prometheus() {
    local d=$WORK/prometheus
    copy_rules "$d/rules"
    cat >"$d/prometheus.yml" <<EOF
global:
  scrape_interval: 2s
  scrape_timeout: 2s
  evaluation_interval: 2s
rule_files: ["$d/rules/*.rules.yml"]
scrape_configs:
  - job_name: mailprobe
    static_configs:
      - targets: ["127.0.0.1:$EXPORTER_PORT"]
EOF
    promtool check config "$d/prometheus.yml" >/dev/null || die "promtool check config"
    start_bg prometheus "$WORK/prometheus.log" prometheus \
        --config.file="$d/prometheus.yml" --storage.tsdb.path="$d/data" \
        --web.listen-address="127.0.0.1:$PROM_PORT"
    wait_until 60 "prometheus" "${PIDS[-1]}" tcp_open 127.0.0.1 "$PROM_PORT"
}

run_tests() {
    local QUERIES=""
    [[ -e $ROOT/dashboards/queries.txt ]] && QUERIES=$ROOT/dashboards/queries.txt
    say "running the assertions"
    # In the background, in a process group of its own, so that a signal to
    # this script stops the tests and their test binary at once.
    (
        cd "$ROOT"
        exec env E2E_PROMETHEUS_URL="http://127.0.0.1:$PROM_PORT" \
            E2E_EXPORTER_URL="http://127.0.0.1:$EXPORTER_PORT" \
            E2E_MAILLOG="$WORK/postfix/maillog" \
            E2E_GREY_DELAY="$GREY_DELAY" \
            E2E_WAIT="${E2E_WAIT:-3m}" \
            E2E_RULE_FILES="$RULE_FILES" \
            E2E_QUERIES="$QUERIES" \
            E2E_METRICS_OUT="$ROOT/e2e/work/metrics.txt" \
            setsid go test -tags e2e -count=1 -v -timeout 6m ./e2e/
    ) &
    local pid=$!
    PIDS+=("-$pid")
    NAMES+=("go test")
    wait "$pid"
}

main() {
    [[ $EUID -eq 0 ]] || die "run as root: the MX hosts listen on port 25"
    command -v go >/dev/null || die "go is not installed"
    install_packages

    trap cleanup EXIT
    trap 'exit 130' INT TERM
    setup_workdir
    choose_ports
    start_nsd
    start_postgrey
    start_tarpit
    start_postfix
    if [[ -z ${E2E_INFRA_ONLY:-} ]]; then
        # Prometheus first, so it sees the exporter's very first probes.
        start_prometheus
        start_exporter
    fi
    if [[ -n ${E2E_HOLD:-} ]]; then
        say "holding for ${E2E_HOLD}s (NSD on 127.0.0.1:$NSD_PORT)"
        sleep "$E2E_HOLD" &
        PIDS+=("$!")
        NAMES+=(sleep)
        wait "$!"
    fi
    [[ -n ${E2E_INFRA_ONLY:-} ]] && return 0
    run_tests
}

main "$@"
