package dialogue

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// defaultBudget is the time Run may take in a case that sets none.
const defaultBudget = 3 * time.Second

// sentVerbs are the only commands the dialogue may send.
var sentVerbs = []string{"EHLO", "HELO", "STARTTLS", "MAIL", "RCPT", "RSET", "QUIT"}

// want is the expected outcome of a dialogue.
type want struct {
	stage    Stage
	failure  Failure
	code     int    // Session.Reply.Code; 0 when no reply stopped it
	enhanced string // Session.Reply.Enhanced
	errHas   string // part of Session.Err
	verbs    []string
	anyVerbs bool  // the verbs the server saw are not checked
	rcpts    []int // codes of Session.Rcpts
}

// dialogueCase is one scripted dialogue.
type dialogueCase struct {
	name   string
	steps  []step
	params func(*Params)
	// ctxTimeout and cancelAfter, when set, end ctx early.
	ctxTimeout  time.Duration
	cancelAfter time.Duration
	budget      time.Duration
	want        want
	check       func(t *testing.T, s Session)
}

// baseParams are the parameters of most cases.
func baseParams(t *testing.T, addr netip.AddrPort) Params {
	return Params{
		Addr:           addr,
		MXName:         "mx.test",
		HeloName:       "probe.test",
		MailFrom:       "probe@probe.test",
		Recipients:     []string{"alice@customer.test"},
		StartTLS:       "opportunistic",
		BannerTimeout:  time.Second,
		CommandTimeout: time.Second,
		RootCAs:        getPKI(t).Roots,
	}
}

// runCases runs each case as a subtest.
func runCases(t *testing.T, cases []dialogueCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { runCase(t, c) })
	}
}

// runCase plays the script, runs the dialogue against it and checks the
// session, the time taken, what the server saw and that no goroutine is
// left.
func runCase(t *testing.T, c dialogueCase) {
	srv := startScript(t, c.steps...)
	p := baseParams(t, srv.addr())
	if c.params != nil {
		c.params(&p)
	}
	ctx, cancel := caseContext(c)
	defer cancel()

	start := time.Now()
	s := Run(ctx, p)
	took := time.Since(start)
	res := srv.wait(t)

	checkSession(t, s, c.want)
	if budget := orDefault(c.budget, defaultBudget); took > budget {
		t.Errorf("Run took %v, budget %v", took, budget)
	}
	checkServer(t, res, c.want)
	if c.check != nil {
		c.check(t, s)
	}
	if t.Failed() {
		logTranscript(t, s)
	}
	goleak.VerifyNone(t)
}

// caseContext is the context of a case: a generous guard, or the case's
// own shorter deadline or cancellation.
func caseContext(c dialogueCase) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), orDefault(c.ctxTimeout, time.Minute))
	if c.cancelAfter == 0 {
		return ctx, cancel
	}
	timer := time.AfterFunc(c.cancelAfter, cancel)
	return ctx, func() { timer.Stop(); cancel() }
}

// orDefault returns d, or def when d is zero.
func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// checkSession compares the outcome of a dialogue with w.
func checkSession(t *testing.T, s Session, w want) {
	t.Helper()
	if s.Stage != w.stage || s.Failure != w.failure {
		t.Errorf("stage %q failure %q (err %q), want %q %q",
			s.Stage, s.Failure, s.Err, w.stage, w.failure)
	}
	switch {
	case w.code == 0 && s.Reply != nil:
		t.Errorf("reply %+v, want none", *s.Reply)
	case w.code != 0 && s.Reply == nil:
		t.Errorf("no reply, want %d", w.code)
	case w.code != 0 && (s.Reply.Code != w.code || s.Reply.Enhanced != w.enhanced):
		t.Errorf("reply %d %q, want %d %q", s.Reply.Code, s.Reply.Enhanced, w.code, w.enhanced)
	}
	if !strings.Contains(s.Err, w.errHas) {
		t.Errorf("err %q, want it to hold %q", s.Err, w.errHas)
	}
	if (w.failure == FailureNone || w.failure == FailureReply) && s.Err != "" {
		t.Errorf("err %q, want none", s.Err)
	}
	var codes []int
	for _, r := range s.Rcpts {
		codes = append(codes, r.Reply.Code)
	}
	if !slices.Equal(codes, w.rcpts) {
		t.Errorf("rcpt codes %v, want %v", codes, w.rcpts)
	}
	if len(s.Transcript) == 0 || s.Duration <= 0 || s.Start.IsZero() {
		t.Errorf("transcript of %d lines, duration %v, start %v",
			len(s.Transcript), s.Duration, s.Start)
	}
}

// checkServer checks what the server received: CRLF-ended lines, only the
// allowed commands, never DATA, the expected verbs, and the client's close.
func checkServer(t *testing.T, res serverResult, w want) {
	t.Helper()
	if res.Err != nil {
		t.Errorf("server script: %v", res.Err)
	}
	var verbs []string
	for _, line := range res.Lines {
		if !strings.HasSuffix(line, "\r\n") {
			t.Errorf("line %q does not end in CRLF", line)
		}
		verb := strings.ToUpper(firstWord(strings.TrimSpace(line)))
		if !slices.Contains(sentVerbs, verb) {
			t.Errorf("server received %q", line)
		}
		verbs = append(verbs, verb)
	}
	if !w.anyVerbs && !slices.Equal(verbs, w.verbs) {
		t.Errorf("server received %v, want %v", verbs, w.verbs)
	}
	if !res.HungUp && !res.SawClose {
		t.Error("server did not see the client close the connection")
	}
}

// logTranscript shows the dialogue of a failed case.
func logTranscript(t *testing.T, s Session) {
	t.Helper()
	for _, l := range s.Transcript {
		t.Logf("%8v %c %s", l.At.Round(time.Millisecond), l.Dir, l.Text)
	}
}
