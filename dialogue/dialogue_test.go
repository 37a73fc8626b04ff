package dialogue

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// plainVerbs are the commands of a full dialogue without STARTTLS.
var plainVerbs = []string{"EHLO", "MAIL", "RCPT", "RSET", "QUIT"}

func TestBanner(t *testing.T) {
	runCases(t, []dialogueCase{
		{
			name: "multi-line banner is read whole before anything is sent",
			steps: script([]step{say("220-mx.test first line\r\n"),
				silence(300 * time.Millisecond), say("220 mx.test last line\r\n")},
				ehloPlain, mailOK, rcptOK, goodbye),
			want: want{stage: StageDone, verbs: plainVerbs, rcpts: []int{250}},
			check: func(t *testing.T, s Session) {
				if s.Banner == nil || s.Banner.Text != "mx.test first line\nmx.test last line" {
					t.Errorf("banner %+v", s.Banner)
				}
			},
		},
		{
			name:   "missing banner times out at the banner",
			params: func(p *Params) { p.BannerTimeout = 300 * time.Millisecond },
			budget: time.Second,
			want:   want{stage: StageBanner, failure: FailureTimeout, errHas: "i/o timeout"},
		},
		{
			name:   "banner sent one octet a second is cut by the banner timeout",
			steps:  []step{trickle("220 mx.test ESMTP ready\r\n", time.Second)},
			params: func(p *Params) { p.BannerTimeout = 1500 * time.Millisecond },
			budget: 2500 * time.Millisecond,
			want:   want{stage: StageBanner, failure: FailureTimeout},
		},
		{
			name:       "context deadline cuts a longer banner timeout",
			params:     func(p *Params) { p.BannerTimeout = 10 * time.Second },
			ctxTimeout: 300 * time.Millisecond,
			budget:     time.Second,
			want: want{stage: StageBanner, failure: FailureTimeout,
				errHas: "context deadline exceeded"},
		},
		{
			name:  "greeting 554 gets QUIT and no EHLO",
			steps: script(greeting("554 5.7.1 no service here\r\n"), answer("QUIT", "221 bye\r\n")),
			want: want{stage: StageBanner, failure: FailureReply, code: 554,
				enhanced: "5.7.1", verbs: []string{"QUIT"}},
		},
		{
			name: "greeting 521 gets QUIT and no EHLO",
			steps: script(greeting("521 5.3.2 mx.test takes no mail\r\n"),
				answer("QUIT", "221 bye\r\n")),
			want: want{stage: StageBanner, failure: FailureReply, code: 521,
				enhanced: "5.3.2", verbs: []string{"QUIT"}},
		},
		{
			name: "greeting 421 gets QUIT and no EHLO",
			steps: script(greeting("421 4.3.2 busy, come back later\r\n"),
				[]step{expect("QUIT"), hangup()}),
			want: want{stage: StageBanner, failure: FailureReply, code: 421,
				enhanced: "4.3.2", anyVerbs: true},
		},
		{
			name:  "greeting 421 and close",
			steps: script(greeting("421 mx.test closing\r\n"), []step{hangup()}),
			want:  want{stage: StageBanner, failure: FailureReply, code: 421, anyVerbs: true},
		},
		{
			name:  "connection closed before the banner",
			steps: []step{hangup()},
			want:  want{stage: StageBanner, failure: FailureNetwork, errHas: "EOF"},
		},
		{
			name:  "connection reset before the banner",
			steps: []step{pause(50 * time.Millisecond), reset()},
			want:  want{stage: StageBanner, failure: FailureNetwork, errHas: "reset"},
		},
		{
			name:  "banner code 199 is a protocol error",
			steps: greeting("199 mx.test\r\n"),
			want:  want{stage: StageBanner, failure: FailureProtocol, errHas: "out of range"},
		},
		{
			name:  "banner code 600 is a protocol error",
			steps: greeting("600 mx.test\r\n"),
			want:  want{stage: StageBanner, failure: FailureProtocol, errHas: "out of range"},
		},
		{
			name:  "banner code changing between lines is a protocol error",
			steps: greeting("220-mx.test\r\n250 mx.test\r\n"),
			want:  want{stage: StageBanner, failure: FailureProtocol, errHas: "changed"},
		},
		{
			name:  "line after the banner before EHLO is unsolicited",
			steps: greeting("220 mx.test\r\n250 ok\r\n"),
			want:  want{stage: StageBanner, failure: FailureProtocol, errHas: "unsolicited"},
		},
		{
			name: "control and non-UTF-8 octets are escaped",
			steps: script(greeting("220 mx.test \x00\x1b[31m\xff\xfe\\ \u00e9t\u00e9\r\n"),
				ehloPlain, mailOK, rcptOK, goodbye),
			want: want{stage: StageDone, verbs: plainVerbs, rcpts: []int{250}},
			check: func(t *testing.T, s Session) {
				wantText := `mx.test \x00\x1b[31m\xff\xfe\\ été`
				if s.Banner == nil || s.Banner.Text != wantText {
					t.Errorf("banner %+v, want text %q", s.Banner, wantText)
				}
				checkTranscriptPrintable(t, s)
			},
		},
	})
}

func TestHello(t *testing.T) {
	var cases []dialogueCase
	for _, code := range []int{500, 502, 504, 550} {
		cases = append(cases, dialogueCase{
			name: fmt.Sprintf("EHLO refused with %d falls back to HELO", code),
			steps: script(greet, answer("EHLO", fmt.Sprintf("%d 5.5.1 what?\r\n", code)),
				answer("HELO", "250 mx.test\r\n"), mailOK, rcptOK, goodbye),
			want: want{stage: StageDone, rcpts: []int{250},
				verbs: []string{"EHLO", "HELO", "MAIL", "RCPT", "RSET", "QUIT"}},
			check: func(t *testing.T, s Session) {
				if s.ESMTP || len(s.Extensions) != 0 || s.Phases[StageEHLO] <= 0 {
					t.Errorf("esmtp %t extensions %v phases %v", s.ESMTP, s.Extensions, s.Phases)
				}
			},
		})
	}
	cases = append(cases, []dialogueCase{
		{
			name: "EHLO refused for now stops the dialogue",
			steps: script(greet, answer("EHLO", "451 4.3.0 try later\r\n"),
				answer("QUIT", "221\r\n")),
			want: want{stage: StageEHLO, failure: FailureReply, code: 451, enhanced: "4.3.0",
				verbs: []string{"EHLO", "QUIT"}},
		},
		{
			name: "HELO refused after EHLO",
			steps: script(greet, answer("EHLO", "502 not here\r\n"),
				answer("HELO", "550 5.7.1 go away\r\n"), answer("QUIT", "221\r\n")),
			want: want{stage: StageHELO, failure: FailureReply, code: 550, enhanced: "5.7.1",
				verbs: []string{"EHLO", "HELO", "QUIT"}},
		},
		{
			name: "EHLO keywords are parsed",
			steps: script(greet, answer("EHLO", "250-mx.test greets probe.test\r\n"+
				"250-size 1000\r\n250-8BITMIME\r\n250-AUTH PLAIN LOGIN\r\n250-bad_word\r\n"+
				"250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n"), mailOK, rcptOK, goodbye),
			want: want{stage: StageDone, verbs: plainVerbs, rcpts: []int{250}},
			check: func(t *testing.T, s Session) {
				wantExt := []string{"SIZE", "8BITMIME", "AUTH", "ENHANCEDSTATUSCODES"}
				if !s.ESMTP || !slices.Equal(s.Extensions, wantExt) {
					t.Errorf("esmtp %t extensions %v, want %v", s.ESMTP, s.Extensions, wantExt)
				}
			},
		},
		{
			name: "final line of only a code is valid",
			steps: script(greeting("220-mx.test\r\n220\r\n"),
				answer("EHLO", "250-mx.test\r\n250-PIPELINING\r\n250\r\n"),
				mailOK, rcptOK, goodbye),
			want: want{stage: StageDone, verbs: plainVerbs, rcpts: []int{250}},
			check: func(t *testing.T, s Session) {
				if !slices.Equal(s.Extensions, []string{"PIPELINING"}) {
					t.Errorf("extensions %v", s.Extensions)
				}
			},
		},
		{
			name: "bare LF line endings are accepted",
			steps: script(greeting("220 mx.test\n"), answer("EHLO", "250-mx.test\n250 SIZE\n"),
				answer("MAIL", "250 ok\n"), answer("RCPT", "250 ok\n"),
				answer("RSET", "250 ok\n"), answer("QUIT", "221 bye\n")),
			want: want{stage: StageDone, verbs: plainVerbs, rcpts: []int{250}},
		},
		{
			name: "a megabyte line is a protocol error",
			steps: script(greet,
				[]step{expect("EHLO"), flood("250-" + strings.Repeat("a", 1<<20))}),
			want: want{stage: StageEHLO, failure: FailureProtocol,
				errHas: "longer than 2048 octets", verbs: []string{"EHLO"}},
		},
		{
			name: "a reply of 10000 lines is a protocol error",
			steps: script(greet,
				[]step{expect("EHLO"), flood(strings.Repeat("250-mx.test\r\n", 10000))}),
			want: want{stage: StageEHLO, failure: FailureProtocol,
				errHas: "longer than 100 lines", verbs: []string{"EHLO"}},
			check: func(t *testing.T, s Session) {
				if n := len(s.Transcript); n > 40 {
					t.Errorf("transcript of %d lines", n)
				}
			},
		},
		{
			name:  "line after the EHLO reply is unsolicited",
			steps: script(greet, answer("EHLO", "250 mx.test\r\n250 ok\r\n")),
			want: want{stage: StageEHLO, failure: FailureProtocol, errHas: "unsolicited",
				verbs: []string{"EHLO"}},
		},
		{
			name:  "bad separator after the code is a protocol error",
			steps: script(greet, answer("EHLO", "250*mx.test\r\n")),
			want: want{stage: StageEHLO, failure: FailureProtocol, errHas: "separator",
				verbs: []string{"EHLO"}},
		},
		{
			name:  "raw octets in a malformed line are escaped once",
			steps: script(greet, answer("EHLO", "25\xda\\ junk\r\n")),
			want: want{stage: StageEHLO, failure: FailureProtocol,
				errHas: `malformed reply line 25\xda\\ junk`, verbs: []string{"EHLO"}},
		},
	}...)
	runCases(t, cases)
}

// stageScript reaches a stage of the dialogue and reads its command.
type stageScript struct {
	stage  Stage
	before []step
	verb   string
	verbs  []string // what the server has received then
	rcpts  []int    // Session.Rcpts after a 421 there
}

// stageScripts reach each stage where the server may misbehave.
var stageScripts = []stageScript{
	{stage: StageEHLO, before: greet, verb: "EHLO", verbs: []string{"EHLO"}},
	{stage: StageHELO, before: script(greet, answer("EHLO", "500 what?\r\n")),
		verb: "HELO", verbs: []string{"EHLO", "HELO"}},
	{stage: StageStartTLS, before: script(greet, ehloTLS), verb: "STARTTLS",
		verbs: []string{"EHLO", "STARTTLS"}},
	{stage: StageMail, before: script(greet, ehloPlain), verb: "MAIL",
		verbs: []string{"EHLO", "MAIL"}},
	{stage: StageRcpt, before: script(greet, ehloPlain, mailOK), verb: "RCPT",
		verbs: []string{"EHLO", "MAIL", "RCPT"}, rcpts: []int{421}},
}

func TestEachStage(t *testing.T) {
	var cases []dialogueCase
	for _, st := range stageScripts {
		reach := script(st.before, []step{expect(st.verb)})
		cases = append(cases, []dialogueCase{
			{
				name:  fmt.Sprintf("421 at %s closes without QUIT", st.stage),
				steps: script(reach, []step{say("421 4.3.2 shutting down\r\n")}),
				want: want{stage: st.stage, failure: FailureReply, code: 421,
					enhanced: "4.3.2", verbs: st.verbs, rcpts: st.rcpts},
			},
			{
				name:  fmt.Sprintf("close at %s is a network failure", st.stage),
				steps: script(reach, []step{hangup()}),
				want: want{stage: st.stage, failure: FailureNetwork, errHas: "EOF",
					verbs: st.verbs},
			},
			{
				name:  fmt.Sprintf("reset at %s is a network failure", st.stage),
				steps: script(reach, []step{reset()}),
				want: want{stage: st.stage, failure: FailureNetwork, errHas: "reset",
					verbs: st.verbs},
			},
			{
				name:   fmt.Sprintf("no reply at %s times out", st.stage),
				steps:  reach,
				params: func(p *Params) { p.CommandTimeout = 300 * time.Millisecond },
				budget: time.Second,
				want: want{stage: st.stage, failure: FailureTimeout, errHas: "i/o timeout",
					verbs: st.verbs},
			},
		}...)
	}
	runCases(t, cases)
}

func TestEnding(t *testing.T) {
	upToRcpt := script(greet, ehloPlain, mailOK, rcptOK)
	runCases(t, []dialogueCase{
		{
			name:  "close after RSET keeps the outcome",
			steps: script(upToRcpt, []step{expect("RSET"), hangup()}),
			want:  want{stage: StageDone, rcpts: []int{250}, anyVerbs: true},
		},
		{
			name:   "QUIT never answered costs at most two seconds",
			steps:  script(upToRcpt, answer("RSET", "250 ok\r\n"), []step{expect("QUIT")}),
			params: func(p *Params) { p.CommandTimeout = 10 * time.Second },
			budget: 2500 * time.Millisecond,
			want:   want{stage: StageDone, rcpts: []int{250}, verbs: plainVerbs},
		},
		{
			name:   "RSET never answered skips QUIT",
			steps:  script(upToRcpt, []step{expect("RSET")}),
			params: func(p *Params) { p.CommandTimeout = 300 * time.Millisecond },
			budget: time.Second,
			want: want{stage: StageDone, rcpts: []int{250},
				verbs: []string{"EHLO", "MAIL", "RCPT", "RSET"}},
		},
		{
			name:        "cancelled context stops a waiting dialogue",
			steps:       script(greet, []step{expect("EHLO")}),
			params:      func(p *Params) { p.CommandTimeout = 10 * time.Second },
			cancelAfter: 300 * time.Millisecond,
			budget:      time.Second,
			want: want{stage: StageEHLO, failure: FailureTimeout, errHas: "context canceled",
				verbs: []string{"EHLO"}},
		},
	})
}

func TestMail(t *testing.T) {
	runCases(t, []dialogueCase{
		{
			name: "MAIL refused stops before RCPT",
			steps: script(greet, ehloPlain, answer("MAIL", "550 5.7.1 sender rejected\r\n"),
				answer("QUIT", "221 bye\r\n")),
			want: want{stage: StageMail, failure: FailureReply, code: 550, enhanced: "5.7.1",
				verbs: []string{"EHLO", "MAIL", "QUIT"}},
		},
		{
			name: "empty sender sends the null reverse path",
			steps: script(greet, ehloPlain, answer("MAIL FROM:<>\r\n", "250 ok\r\n"),
				rcptOK, goodbye),
			params: func(p *Params) { p.MailFrom = "" },
			want:   want{stage: StageDone, verbs: plainVerbs, rcpts: []int{250}},
		},
		{
			name:   "a recipient with a line break is never sent",
			steps:  script(greet, ehloPlain, mailOK),
			params: func(p *Params) { p.Recipients = []string{"alice@customer.test\r\nDATA"} },
			want: want{stage: StageRcpt, failure: FailureProtocol, errHas: "control character",
				verbs: []string{"EHLO", "MAIL"}},
		},
	})
}

func TestRcptReplies(t *testing.T) {
	replies := []struct{ line, enhanced string }{
		{"250 2.1.5 ok", "2.1.5"}, {"250 ok", ""},
		{"251 2.1.5 user not local, will forward", "2.1.5"}, {"251 user not local", ""},
		{"252 2.1.5 cannot verify, will try", "2.1.5"}, {"252 cannot VRFY user", ""},
		{"450 4.2.0 greylisted, come back later", "4.2.0"}, {"450 greylisted", ""},
		{"451 4.3.0 local error", "4.3.0"}, {"451 local error", ""},
		{"452 4.2.2 mailbox full", "4.2.2"}, {"452 insufficient storage", ""},
		{"550 5.1.1 no such user", "5.1.1"}, {"550 no such user", ""},
		{"551 5.1.6 user moved", "5.1.6"}, {"553 5.1.3 bad address syntax", "5.1.3"},
		{"550 5.7.1 blocked by policy", "5.7.1"}, {"554 5.7.1 relay access denied", "5.7.1"},
		{"550 4.1.1 class of another reply", ""}, {"550 5.1.1234 detail too long", ""},
	}
	var cases []dialogueCase
	for _, r := range replies {
		ehlo := ehloPlain
		if r.enhanced != "" {
			ehlo = answer("EHLO", "250-mx.test\r\n250 ENHANCEDSTATUSCODES\r\n")
		}
		code, _ := strconv.Atoi(r.line[:3])
		cases = append(cases, dialogueCase{
			name: fmt.Sprintf("RCPT answered %q", r.line),
			steps: script(greet, ehlo, mailOK, answer("RCPT", r.line+"\r\n"),
				goodbye),
			want: want{stage: StageDone, verbs: plainVerbs, rcpts: []int{code}},
			check: func(t *testing.T, s Session) {
				if got := s.Rcpts[0]; got.Recipient != "alice@customer.test" ||
					got.Reply.Enhanced != r.enhanced || got.Reply.Text == "" {
					t.Errorf("rcpt %+v, want enhanced %q", got, r.enhanced)
				}
			},
		})
	}
	runCases(t, cases)
}

func TestRcptSequence(t *testing.T) {
	three := func(p *Params) {
		p.Recipients = []string{"alice@customer.test", "bob@customer.test", "carol@customer.test"}
	}
	upToMail := script(greet, ehloPlain, mailOK)
	runCases(t, []dialogueCase{
		{
			name: "452 after the first recipient defers the rest",
			steps: script(upToMail, answer("RCPT TO:<alice", "250 ok\r\n"),
				answer("RCPT TO:<bob", "452 4.5.3 too many recipients\r\n"), goodbye),
			params: three,
			want: want{stage: StageDone, rcpts: []int{250},
				verbs: []string{"EHLO", "MAIL", "RCPT", "RCPT", "RSET", "QUIT"}},
			check: checkDeferred("bob@customer.test", "carol@customer.test"),
		},
		{
			name: "552 5.5.3 after the first recipient defers the rest",
			steps: script(upToMail, answer("RCPT", "550 5.1.1 unknown\r\n"),
				answer("RCPT", "250 ok\r\n"), answer("RCPT", "552 5.5.3 too many\r\n"), goodbye),
			params: three,
			want: want{stage: StageDone, rcpts: []int{550, 250},
				verbs: []string{"EHLO", "MAIL", "RCPT", "RCPT", "RCPT", "RSET", "QUIT"}},
			check: checkDeferred("carol@customer.test"),
		},
		{
			name: "452 to the first recipient is its reply",
			steps: script(upToMail, answer("RCPT", "452 4.5.3 too many\r\n"),
				answer("RCPT", "250 ok\r\n"), answer("RCPT", "250 ok\r\n"), goodbye),
			params: three,
			want: want{stage: StageDone, rcpts: []int{452, 250, 250},
				verbs: []string{"EHLO", "MAIL", "RCPT", "RCPT", "RCPT", "RSET", "QUIT"}},
			check: checkDeferred(),
		},
		{
			name: "421 to the second recipient stops",
			steps: script(upToMail, answer("RCPT", "250 ok\r\n"),
				answer("RCPT", "421 4.4.2 timeout\r\n")),
			params: three,
			want: want{stage: StageRcpt, failure: FailureReply, code: 421, enhanced: "4.4.2",
				rcpts: []int{250, 421}, verbs: []string{"EHLO", "MAIL", "RCPT", "RCPT"}},
			check: checkDeferred(),
		},
	})
}

// checkDeferred checks Session.Deferred.
func checkDeferred(rcpts ...string) func(*testing.T, Session) {
	return func(t *testing.T, s Session) {
		if !slices.Equal(s.Deferred, rcpts) {
			t.Errorf("deferred %v, want %v", s.Deferred, rcpts)
		}
	}
}

// greeting is the server's first words.
func greeting(banner string) []step {
	return []step{say(banner)}
}

// checkTranscriptPrintable fails on a transcript line with a control byte.
func checkTranscriptPrintable(t *testing.T, s Session) {
	t.Helper()
	for _, l := range s.Transcript {
		if strings.ContainsFunc(l.Text, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			t.Errorf("transcript line %q holds a control character", l.Text)
		}
	}
}

func TestConnect(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().(*net.TCPAddr).AddrPort()
	_ = ln.Close()

	hang := func(ctx context.Context, _, _ string) (net.Conn, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	cases := []struct {
		name    string
		p       Params
		failure Failure
	}{
		{"refused connection", Params{Addr: closed}, FailureConnect},
		{"connect bounded by the command timeout",
			Params{Addr: closed, Dial: hang, CommandTimeout: 300 * time.Millisecond},
			FailureTimeout},
		{"invalid address", Params{Addr: netip.AddrPort{}}, FailureConnect},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			s := Run(context.Background(), c.p)
			if took := time.Since(start); took > time.Second {
				t.Errorf("Run took %v", took)
			}
			if s.Stage != StageConnect || s.Failure != c.failure || s.Err == "" {
				t.Errorf("stage %q failure %q err %q, want connect %q",
					s.Stage, s.Failure, s.Err, c.failure)
			}
			if _, ok := s.Phases[StageConnect]; !ok {
				t.Errorf("phases %v lack connect", s.Phases)
			}
			goleak.VerifyNone(t)
		})
	}
}
