package probe_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe_exporter/config"
	"github.com/mailprobe/mailprobe_exporter/probe"
)

// defaultHostileBudget is the time a probe may take in a case that sets
// no budget of its own.
const defaultHostileBudget = 3 * time.Second

// outcome is the part of a Result that a case asserts.
type outcome struct {
	class    probe.Class
	stage    string
	code     int
	enhanced string
}

// hostileCase is a peer that misbehaves in one way, and what the probe of
// a target whose only MX it is must record.
type hostileCase struct {
	name     string
	scripts  [][]move // one per connection the probe must open
	rcpts    []string // "" means alice@customer.test
	settings func(*config.Settings)
	budget   time.Duration
	want     outcome
	verbs    [][]string // commands per connection; nil: not checked
	maxAlloc uint64     // octets the probe may allocate; 0: not checked
	check    func(*testing.T, probe.Result)
}

// runHostile runs each case as a subtest.
func runHostile(t *testing.T, cases []hostileCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { runHostileCase(t, c) })
	}
}

// runHostileCase probes the scripted peer and checks the recorded result,
// the time taken, the memory allocated, the connections the peer saw, and
// that no goroutine or descriptor is left.
func runHostileCase(t *testing.T, c hostileCase) {
	base := takeBaseline(t)
	peer := startPeer(t, c.scripts...)
	tgt := hostileTarget(peer.port(), c.rcpts)
	if c.settings != nil {
		c.settings(&tgt.Settings)
	}
	p := &probe.Prober{Resolver: fixedMX{}, Gate: &probe.IPGate{Limit: 1},
		RootCAs: getPKI(t).Roots}

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	res := p.Probe(context.Background(), tgt)
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	conns := peer.stop(t)

	checkOutcome(t, res, c.want)
	if budget := cmp(c.budget, defaultHostileBudget); took > budget {
		t.Errorf("probe took %v, budget %v", took, budget)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; c.maxAlloc > 0 && alloc > c.maxAlloc {
		t.Errorf("probe allocated %d octets, bound %d", alloc, c.maxAlloc)
	}
	checkConns(t, conns, len(c.scripts), c.verbs)
	if c.check != nil {
		c.check(t, res)
	}
	if t.Failed() {
		logLegs(t, res)
	}
	base.check(t)
}

// cmp returns d, or def when d is zero.
func cmp(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// checkOutcome compares the recorded result with w.
func checkOutcome(t *testing.T, res probe.Result, w outcome) {
	t.Helper()
	got := outcome{res.Class, res.Stage, res.Code, res.Enhanced}
	if got != w {
		t.Errorf("result %+v (text %q), want %+v", got, res.Text, w)
	}
	if res.Success() != (w.class == probe.Accepted) {
		t.Errorf("Success() = %t for %s", res.Success(), res.Class)
	}
}

// logLegs shows the transcripts of a failed case.
func logLegs(t *testing.T, res probe.Result) {
	t.Helper()
	for _, leg := range res.Legs {
		t.Logf("leg %s %s: %s", leg.MX, leg.IP, leg.Class)
		for _, l := range leg.Session.Transcript {
			t.Logf("%8v %c %s", l.At.Round(time.Millisecond), l.Dir, l.Text)
		}
	}
}

// Common exchanges of the scripts.
var (
	greet     = []move{say("220 mx.customer.test ESMTP\r\n")}
	ehloPlain = answer("EHLO", "250-mx.customer.test\r\n250 PIPELINING\r\n")
	ehloEnh   = answer("EHLO", "250-mx.customer.test\r\n250-PIPELINING\r\n"+
		"250 ENHANCEDSTATUSCODES\r\n")
	ehloTLS = answer("EHLO", "250-mx.customer.test\r\n250-ENHANCEDSTATUSCODES\r\n"+
		"250 STARTTLS\r\n")
	mailOK   = answer("MAIL FROM:<probe@probe.test>", "250 2.1.0 ok\r\n")
	rcptOK   = answer("RCPT TO:<alice@customer.test>", "250 2.1.5 ok\r\n")
	goodbye  = moves(answer("RSET", "250 2.0.0 ok\r\n"), answer("QUIT", "221 2.0.0 bye\r\n"))
	upToMail = moves(greet, ehloPlain, mailOK)
)

// Commands of common dialogues.
var (
	fullVerbs = []string{"EHLO", "MAIL", "RCPT", "RSET", "QUIT"}
	tlsVerbs  = []string{"EHLO", "STARTTLS", "EHLO", "MAIL", "RCPT", "RSET", "QUIT"}
)

// accepted is the outcome of a probe whose recipient got "250 2.1.5".
var accepted = outcome{probe.Accepted, "rcpt", 250, "2.1.5"}

// one wraps the script and commands of a single connection.
func one(script ...[]move) [][]move { return [][]move{moves(script...)} }

func oneVerbs(verbs ...string) [][]string { return [][]string{verbs} }

func TestHostileGreeting(t *testing.T) {
	cases := []hostileCase{
		{
			name:     "accepted but never greeted: timeout at the banner",
			scripts:  one(),
			settings: func(s *config.Settings) { s.BannerTimeout = 300 * time.Millisecond },
			budget:   time.Second,
			want:     outcome{probe.Timeout, "banner", 0, ""},
			verbs:    oneVerbs(),
		},
		{
			name:     "greeting of one octet a second: timeout at the banner",
			scripts:  one([]move{trickle("220 mx.customer.test ESMTP\r\n", time.Second)}),
			settings: func(s *config.Settings) { s.BannerTimeout = 1500 * time.Millisecond },
			budget:   2500 * time.Millisecond,
			want:     outcome{probe.Timeout, "banner", 0, ""},
			verbs:    oneVerbs(),
		},
		{
			name: "multi-line greeting with a pause: nothing is sent before its last line",
			scripts: one([]move{say("220-mx.customer.test first line\r\n"),
				silence(500 * time.Millisecond), say("220 mx.customer.test last line\r\n")},
				ehloPlain, mailOK, rcptOK, goodbye),
			want:  accepted,
			verbs: oneVerbs(fullVerbs...),
		},
		{
			name:    "accepted connection closed before the greeting",
			scripts: one([]move{hangup()}),
			want:    outcome{probe.ConnectError, "banner", 0, ""},
		},
		{
			name:    "accepted connection reset before the greeting",
			scripts: one([]move{pause(50 * time.Millisecond), reset()}),
			want:    outcome{probe.ConnectError, "banner", 0, ""},
		},
		{
			name:    "greeting 421 and close",
			scripts: one([]move{say("421 4.3.2 mx.customer.test busy\r\n"), hangup()}),
			want:    outcome{probe.RefusedBanner, "banner", 421, "4.3.2"},
		},
	}
	for _, g := range []struct {
		line     string
		code     int
		enhanced string
	}{
		{"421 4.3.2 too busy, come back later", 421, "4.3.2"},
		{"554 5.7.1 no SMTP service for you", 554, "5.7.1"},
		{"554 no SMTP service here", 554, ""},
		{"521 5.3.2 mx.customer.test does not accept mail", 521, "5.3.2"},
	} {
		cases = append(cases, hostileCase{
			name:    fmt.Sprintf("greeting %q gets QUIT and no EHLO", g.line),
			scripts: one([]move{say(g.line + "\r\n")}, answer("QUIT", "221 bye\r\n")),
			want:    outcome{probe.RefusedBanner, "banner", g.code, g.enhanced},
			verbs:   oneVerbs("QUIT"),
		})
	}
	runHostile(t, cases)
}

func TestHostileHello(t *testing.T) {
	runHostile(t, []hostileCase{
		{
			name: "EHLO unrecognised: HELO instead",
			scripts: one(greet, answer("EHLO", "500 5.5.1 command unrecognized\r\n"),
				answer("HELO", "250 mx.customer.test\r\n"), mailOK, rcptOK, goodbye),
			want:  accepted,
			verbs: oneVerbs("EHLO", "HELO", "MAIL", "RCPT", "RSET", "QUIT"),
		},
		{
			name: "EHLO not implemented: HELO instead",
			scripts: one(greet, answer("EHLO", "502 command not implemented\r\n"),
				answer("HELO", "250 mx.customer.test\r\n"), mailOK, rcptOK, goodbye),
			want:  accepted,
			verbs: oneVerbs("EHLO", "HELO", "MAIL", "RCPT", "RSET", "QUIT"),
		},
		{
			name: "HELO refused by policy after EHLO: blocked",
			scripts: one(greet, answer("EHLO", "502 no\r\n"),
				answer("HELO", "550 5.7.1 your HELO name is not welcome\r\n"),
				answer("QUIT", "221 bye\r\n")),
			want:  outcome{probe.Blocked, "helo", 550, "5.7.1"},
			verbs: oneVerbs("EHLO", "HELO", "QUIT"),
		},
		{
			name: "sender refused: blocked before RCPT",
			scripts: one(greet, ehloEnh, answer("MAIL", "553 5.1.8 sender domain unknown\r\n"),
				answer("QUIT", "221 bye\r\n")),
			want:  outcome{probe.Blocked, "mail", 553, "5.1.8"},
			verbs: oneVerbs("EHLO", "MAIL", "QUIT"),
		},
	})
}

// stagePrefix brings a dialogue to a stage and reads its command.
type stagePrefix struct {
	stage  string
	before []move
	verb   string
	verbs  []string // what the peer has received at that point
}

// stagePrefixes reach each stage where a peer may misbehave.
var stagePrefixes = []stagePrefix{
	{"ehlo", greet, "EHLO", []string{"EHLO"}},
	{"helo", moves(greet, answer("EHLO", "500 what?\r\n")), "HELO", []string{"EHLO", "HELO"}},
	{"starttls", moves(greet, ehloTLS), "STARTTLS", []string{"EHLO", "STARTTLS"}},
	{"mail", moves(greet, ehloPlain), "MAIL", []string{"EHLO", "MAIL"}},
	{"rcpt", upToMail, "RCPT", []string{"EHLO", "MAIL", "RCPT"}},
}

func TestHostileEachStage(t *testing.T) {
	var cases []hostileCase
	for _, st := range stagePrefixes {
		reach := moves(st.before, []move{expect(st.verb)})
		cases = append(cases, []hostileCase{
			{
				name:    "421 at " + st.stage + " then close: tempfail, no QUIT",
				scripts: one(reach, []move{say("421 4.3.2 shutting down\r\n"), hangup()}),
				want:    outcome{probe.Tempfail, st.stage, 421, "4.3.2"},
				verbs:   oneVerbs(st.verbs...),
			},
			{
				name:    "connection closed at " + st.stage,
				scripts: one(reach, []move{hangup()}),
				want:    outcome{probe.ConnectError, st.stage, 0, ""},
				verbs:   oneVerbs(st.verbs...),
			},
			{
				name:    "connection reset at " + st.stage,
				scripts: one(reach, []move{reset()}),
				want:    outcome{probe.ConnectError, st.stage, 0, ""},
				verbs:   oneVerbs(st.verbs...),
			},
			{
				name:     "no reply at " + st.stage,
				scripts:  one(reach),
				settings: func(s *config.Settings) { s.CommandTimeout = 300 * time.Millisecond },
				budget:   time.Second,
				want:     outcome{probe.Timeout, st.stage, 0, ""},
				verbs:    oneVerbs(st.verbs...),
			},
		}...)
	}
	runHostile(t, cases)
}

func TestHostileEnding(t *testing.T) {
	upToRcpt := moves(upToMail, rcptOK)
	runHostile(t, []hostileCase{
		{
			name:    "connection closed at RSET keeps the decided outcome",
			scripts: one(upToRcpt, []move{expect("RSET"), hangup()}),
			want:    accepted,
		},
		{
			name:    "connection reset at QUIT keeps the decided outcome",
			scripts: one(upToRcpt, answer("RSET", "250 ok\r\n"), []move{expect("QUIT"), reset()}),
			want:    accepted,
			verbs:   oneVerbs(fullVerbs...),
		},
		{
			name:     "QUIT never answered: the wait is bounded",
			scripts:  one(upToRcpt, answer("RSET", "250 ok\r\n"), []move{expect("QUIT")}),
			settings: func(s *config.Settings) { s.CommandTimeout = 10 * time.Second },
			budget:   2500 * time.Millisecond,
			want:     accepted,
			verbs:    oneVerbs(fullVerbs...),
		},
		{
			name: "probe timeout ends a peer that stalls every reply",
			scripts: one([]move{
				trickle("220 mx.customer.test ESMTP ready\r\n", 100*time.Millisecond)}),
			settings: stallSettings,
			budget:   1500 * time.Millisecond,
			want:     outcome{probe.Timeout, "banner", 0, ""},
			verbs:    oneVerbs(),
		},
	})
}

// stallSettings give the whole probe less time than its banner wait.
func stallSettings(s *config.Settings) {
	s.Timeout = 800 * time.Millisecond
	s.BannerTimeout = 5 * time.Second
	s.CommandTimeout = 5 * time.Second
}

func TestHostileReplies(t *testing.T) {
	megabyte := []byte("250-" + strings.Repeat("a", 1<<20) + "\r\n")
	thousands := []byte(strings.Repeat("250-mx.customer.test\r\n", 10000) + "250 OK\r\n")
	// Short enough that only the bound on lines, not on octets, stops them.
	short := []byte(strings.Repeat("250-\r\n", 10000) + "250 OK\r\n")
	runHostile(t, []hostileCase{
		{
			name:  "bare LF line endings",
			verbs: oneVerbs(fullVerbs...),
			scripts: one([]move{say("220-mx.customer.test\n220 ESMTP\n")},
				answer("EHLO", "250-mx.customer.test\n250 SIZE 1000\n"),
				answer("MAIL", "250 2.1.0 ok\n"), answer("RCPT", "250 2.1.5 ok\n"),
				answer("RSET", "250 ok\n"), answer("QUIT", "221 bye\n")),
			want: accepted,
		},
		{
			name:     "reply line of a megabyte: protocol error, bounded memory",
			scripts:  one(greet, []move{expect("EHLO"), flood(megabyte)}),
			want:     outcome{probe.ProtocolError, "ehlo", 0, ""},
			verbs:    oneVerbs("EHLO"),
			maxAlloc: 256 << 10,
		},
		{
			name:     "reply of ten thousand short lines: protocol error, bounded memory",
			scripts:  one(greet, []move{expect("EHLO"), flood(short)}),
			want:     outcome{probe.ProtocolError, "ehlo", 0, ""},
			verbs:    oneVerbs("EHLO"),
			maxAlloc: 256 << 10,
		},
		{
			name:     "reply of ten thousand lines: protocol error, bounded memory",
			scripts:  one(greet, []move{expect("EHLO"), flood(thousands)}),
			want:     outcome{probe.ProtocolError, "ehlo", 0, ""},
			verbs:    oneVerbs("EHLO"),
			maxAlloc: 256 << 10,
		},
		{
			name:    "reply code changing between lines: protocol error",
			scripts: one(greet, answer("EHLO", "250-mx.customer.test\r\n251 SIZE\r\n")),
			want:    outcome{probe.ProtocolError, "ehlo", 0, ""},
			verbs:   oneVerbs("EHLO"),
		},
		{
			name: "final line that is only a code",
			scripts: one([]move{say("220-mx.customer.test\r\n220\r\n")},
				answer("EHLO", "250-mx.customer.test\r\n250\r\n"), mailOK,
				answer("RCPT", "250-2.1.5 ok\r\n250\r\n"), goodbye),
			want:  accepted,
			verbs: oneVerbs(fullVerbs...),
		},
		{
			name:    "greeting code 199: protocol error",
			scripts: one([]move{say("199 mx.customer.test\r\n")}),
			want:    outcome{probe.ProtocolError, "banner", 0, ""},
			verbs:   oneVerbs(),
		},
		{
			name:    "greeting code 600: protocol error",
			scripts: one([]move{say("600 mx.customer.test\r\n")}),
			want:    outcome{probe.ProtocolError, "banner", 0, ""},
			verbs:   oneVerbs(),
		},
		{
			name:    "a line without a code: protocol error",
			scripts: one(greet, answer("EHLO", "hello there\r\n")),
			want:    outcome{probe.ProtocolError, "ehlo", 0, ""},
			verbs:   oneVerbs("EHLO"),
		},
		{
			name:    "RCPT answered 354: protocol error",
			scripts: one(upToMail, answer("RCPT", "354 go ahead\r\n"), goodbye),
			want:    outcome{probe.ProtocolError, "rcpt", 354, ""},
			verbs:   oneVerbs(fullVerbs...),
		},
		{
			name:    "reply before the first command: protocol error",
			scripts: one([]move{say("220 mx.customer.test\r\n250 ok\r\n")}),
			want:    outcome{probe.ProtocolError, "banner", 0, ""},
			verbs:   oneVerbs(),
		},
		{
			name:    "two replies to RCPT: protocol error",
			scripts: one(upToMail, answer("RCPT", "250 2.1.5 ok\r\n550 5.1.1 no\r\n")),
			want:    outcome{probe.ProtocolError, "rcpt", 0, ""},
			verbs:   oneVerbs("EHLO", "MAIL", "RCPT"),
		},
		{
			name: "control and non-UTF-8 octets are escaped in the text",
			scripts: one([]move{say("220 mx \x00\x1b[2J\xff\r\n")}, ehloEnh, mailOK,
				answer("RCPT", "550 5.1.1 \xff\xfe\x00\x1b[31m nobody\\here\r\n"), goodbye),
			want:  outcome{probe.Rejected, "rcpt", 550, "5.1.1"},
			verbs: oneVerbs(fullVerbs...),
			check: func(t *testing.T, res probe.Result) {
				if want := `\xff\xfe\x00\x1b[31m nobody\\here`; res.Text != want {
					t.Errorf("text %q, want %q", res.Text, want)
				}
			},
		},
	})
}
