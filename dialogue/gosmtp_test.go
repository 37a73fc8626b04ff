package dialogue

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"go.uber.org/goleak"
)

// smtpBackend is a well-behaved server's mailbox logic: it records what
// each session was asked and rejects the recipients it does not know.
type smtpBackend struct {
	mu       sync.Mutex
	calls    []string
	loggedIn int
	data     bool
}

func (b *smtpBackend) NewSession(*smtp.Conn) (smtp.Session, error) {
	b.record("session")
	b.mu.Lock()
	b.loggedIn++
	b.mu.Unlock()
	return &smtpSession{b: b}, nil
}

func (b *smtpBackend) record(call string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls = append(b.calls, call)
}

// snapshot returns the calls so far, the sessions still open and whether
// DATA was ever called.
func (b *smtpBackend) snapshot() ([]string, int, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.calls), b.loggedIn, b.data
}

type smtpSession struct{ b *smtpBackend }

func (s *smtpSession) Reset() { s.b.record("reset") }

func (s *smtpSession) Logout() error {
	s.b.record("logout")
	s.b.mu.Lock()
	s.b.loggedIn--
	s.b.mu.Unlock()
	return nil
}

func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	s.b.record("mail " + from)
	return nil
}

func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.b.record("rcpt " + to)
	if strings.HasPrefix(to, "unknown@") {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1},
			Message: "no such user"}
	}
	return nil
}

func (s *smtpSession) Data(io.Reader) error {
	s.b.mu.Lock()
	s.b.data = true
	s.b.mu.Unlock()
	return errors.New("no DATA expected")
}

// startSMTP runs a go-smtp server on 127.0.0.1:0, with STARTTLS when cfg
// is not nil. The wire is copied to wire.
func startSMTP(t *testing.T, cfg *tls.Config, wire io.Writer) (*smtpBackend, *net.TCPAddr) {
	t.Helper()
	be := &smtpBackend{}
	srv := smtp.NewServer(be)
	srv.Domain = "mx.test"
	srv.TLSConfig = cfg
	srv.Debug = wire
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-served
	})
	return be, ln.Addr().(*net.TCPAddr)
}

func TestWellBehavedServer(t *testing.T) {
	pki := getPKI(t)
	cases := []struct {
		name      string
		tls       *tls.Config
		policy    string
		stage     Stage
		failure   Failure
		wantCalls []string
		wantTLS   bool
	}{
		{
			name: "STARTTLS and two recipients", tls: serverTLS(pki.Good),
			policy: "required", stage: StageDone, wantTLS: true,
			wantCalls: []string{"session", "logout", "session", "mail probe@probe.test",
				"rcpt alice@customer.test", "rcpt unknown@customer.test", "reset", "logout"},
		},
		{
			name: "plain text without STARTTLS", policy: "opportunistic", stage: StageDone,
			wantCalls: []string{"session", "mail probe@probe.test",
				"rcpt alice@customer.test", "rcpt unknown@customer.test", "reset", "logout"},
		},
		{
			name: "required TLS from a server without it", policy: "required",
			stage: StageStartTLS, failure: FailureTLS,
			wantCalls: []string{"session", "logout"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var wire lockedBuffer
			be, addr := startSMTP(t, c.tls, &wire)
			p := baseParams(t, addr.AddrPort())
			p.StartTLS = c.policy
			p.Recipients = []string{"alice@customer.test", "unknown@customer.test"}

			start := time.Now()
			s := Run(context.Background(), p)
			if took := time.Since(start); took > defaultBudget {
				t.Errorf("Run took %v, budget %v", took, defaultBudget)
			}
			if s.Stage != c.stage || s.Failure != c.failure {
				t.Errorf("stage %q failure %q (%s), want %q %q",
					s.Stage, s.Failure, s.Err, c.stage, c.failure)
			}
			if c.failure == FailureNone {
				checkWellBehavedSession(t, s, c.wantTLS)
			}
			calls := waitLogout(t, be)
			if !slices.Equal(calls, c.wantCalls) {
				t.Errorf("server calls %q, want %q", calls, c.wantCalls)
			}
			checkWire(t, wire.String())
			if t.Failed() {
				logTranscript(t, s)
			}
		})
	}
	goleak.VerifyNone(t)
}

// checkWellBehavedSession checks a session that ran to its end.
func checkWellBehavedSession(t *testing.T, s Session, wantTLS bool) {
	t.Helper()
	if (s.TLS != nil) != wantTLS || (wantTLS && !s.TLS.Trusted) {
		t.Errorf("tls %+v, want tls %t and trusted", s.TLS, wantTLS)
	}
	if !s.ESMTP || !slices.Contains(s.Extensions, "ENHANCEDSTATUSCODES") ||
		slices.Contains(s.Extensions, "STARTTLS") {
		t.Errorf("esmtp %t extensions %v", s.ESMTP, s.Extensions)
	}
	if len(s.Rcpts) != 2 || s.Rcpts[0].Reply.Code != 250 ||
		s.Rcpts[1].Reply.Code != 550 || s.Rcpts[1].Reply.Enhanced != "5.1.1" ||
		s.Rcpts[1].Reply.Text != "no such user" {
		t.Errorf("rcpts %+v", s.Rcpts)
	}
	for _, ph := range Phases {
		if _, ok := s.Phases[ph]; !ok && (ph != StageStartTLS || wantTLS) {
			t.Errorf("phases %v lack %s", s.Phases, ph)
		}
	}
}

// waitLogout waits until the server has closed every session, which it
// does when the client has gone, and returns the calls it saw.
func waitLogout(t *testing.T, be *smtpBackend) []string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		calls, open, data := be.snapshot()
		if data {
			t.Error("server received DATA")
		}
		if open == 0 && len(calls) > 0 {
			return calls
		}
		if time.Now().After(deadline) {
			t.Fatalf("sessions still open after 5s; calls %q", calls)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkWire checks the commands the server read: CRLF endings and only
// the allowed verbs. Server replies start with a digit.
func checkWire(t *testing.T, wire string) {
	t.Helper()
	for _, line := range strings.SplitAfter(wire, "\n") {
		if line == "" || (line[0] >= '0' && line[0] <= '9') {
			continue
		}
		verb := strings.ToUpper(firstWord(strings.TrimSpace(line)))
		if !strings.HasSuffix(line, "\r\n") || !slices.Contains(sentVerbs, verb) {
			t.Errorf("server read %q", line)
		}
	}
}
