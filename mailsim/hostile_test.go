package mailsim_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mailprobe/mailprobe_exporter/dialogue"
	"github.com/mailprobe/mailprobe_exporter/mailsim"
)

// TestHostileBehaviours checks that each hostile behaviour misbehaves as
// documented, and ends its side of the session once the client is gone.
func TestHostileBehaviours(t *testing.T) {
	cases := []struct {
		behaviour mailsim.Behaviour
		stage     dialogue.Stage
		failure   dialogue.Failure
		quits     int64
	}{
		{mailsim.SlowBanner, dialogue.StageBanner, dialogue.FailureTimeout, 0},
		{mailsim.ResetAfterEHLO, dialogue.StageMail, dialogue.FailureNetwork, 0},
		{mailsim.HugeLine, dialogue.StageEHLO, dialogue.FailureProtocol, 0},
		{mailsim.ManyLines, dialogue.StageEHLO, dialogue.FailureProtocol, 0},
		{mailsim.Garbage, dialogue.StageEHLO, dialogue.FailureProtocol, 0},
		{mailsim.NoQuitReply, dialogue.StageDone, dialogue.FailureNone, 1},
	}
	for _, c := range cases {
		t.Run(string(c.behaviour), func(t *testing.T) {
			s := &mailsim.SMTPServer{Name: "mx.mailsim.test", Behaviour: c.behaviour,
				Users: map[string]bool{"alice": true}}
			if err := s.Listen("127.0.0.1:0"); err != nil {
				t.Fatal(err)
			}
			sess := dialogue.Run(context.Background(), params(s))
			if sess.Stage != c.stage || sess.Failure != c.failure {
				t.Errorf("stopped at %s with %q (%s), want %s with %q",
					sess.Stage, sess.Failure, sess.Err, c.stage, c.failure)
			}
			waitClosed(t, s)
			if q, d := s.Stats().Quits.Load(), s.Stats().Data.Load(); q != c.quits || d != 0 {
				t.Errorf("%d QUIT and %d DATA seen, want %d and 0", q, d, c.quits)
			}
			if err := s.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
			goleak.VerifyNone(t)
		})
	}
}

// params are those of a dialogue with s that gives up soon.
func params(s *mailsim.SMTPServer) dialogue.Params {
	return dialogue.Params{
		Addr:           netip.MustParseAddrPort(s.Addr().String()),
		MXName:         s.Name,
		HeloName:       "probe.mailsim.test",
		MailFrom:       "probe@mailsim.test",
		Recipients:     []string{"alice@mailsim.test"},
		StartTLS:       "opportunistic",
		BannerTimeout:  1500 * time.Millisecond,
		CommandTimeout: time.Second,
	}
}

// waitClosed waits until s has ended every session on its side.
func waitClosed(t *testing.T, s *mailsim.SMTPServer) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for s.Stats().Open.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions still open on the server", s.Stats().Open.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
