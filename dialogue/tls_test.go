package dialogue

import (
	"crypto/tls"
	"strings"
	"testing"
	"time"
)

// tlsVerbs are the commands of a full dialogue with STARTTLS.
var tlsVerbs = []string{"EHLO", "STARTTLS", "EHLO", "MAIL", "RCPT", "RSET", "QUIT"}

// overTLS is a dialogue that upgrades to TLS with cert, whose server
// offers STARTTLS again over TLS, and runs to its end.
func overTLS(cert tls.Certificate) []step {
	return script(greet, ehloTLS, answer("STARTTLS", "220 2.0.0 go ahead\r\n"),
		[]step{serveTLS(serverTLS(cert))}, ehloTLS, mailOK, rcptOK, goodbye)
}

// checkTLS checks the recorded TLS session.
func checkTLS(trusted bool, errHas string) func(*testing.T, Session) {
	return func(t *testing.T, s Session) {
		if s.TLS == nil {
			t.Fatal("no TLS state")
		}
		st := *s.TLS
		if st.Trusted != trusted || !strings.Contains(st.VerifyErr, errHas) ||
			(trusted && st.VerifyErr != "") {
			t.Errorf("trusted %t verify error %q, want %t %q",
				st.Trusted, st.VerifyErr, trusted, errHas)
		}
		if st.Version != "TLS 1.3" || st.Cipher == "" || st.NotAfter.IsZero() ||
			st.Subject == "" {
			t.Errorf("tls state %+v", st)
		}
		if s.Phases[StageStartTLS] <= 0 {
			t.Errorf("phases %v lack starttls", s.Phases)
		}
	}
}

func TestStartTLS(t *testing.T) {
	pki := getPKI(t)
	done := want{stage: StageDone, verbs: tlsVerbs, rcpts: []int{250}}
	runCases(t, []dialogueCase{
		{
			name:  "certificate of a trusted CA",
			steps: overTLS(pki.Good),
			want:  done,
			check: checkTLS(true, ""),
		},
		{
			name:  "expired certificate is untrusted and the dialogue goes on",
			steps: overTLS(pki.Expired),
			want:  done,
			check: checkTLS(false, "expired"),
		},
		{
			name:  "certificate for another host is untrusted and the dialogue goes on",
			steps: overTLS(pki.WrongHost),
			want:  done,
			check: checkTLS(false, "other.test"),
		},
		{
			name:  "self-signed certificate is untrusted and the dialogue goes on",
			steps: overTLS(pki.SelfSigned),
			want:  done,
			check: checkTLS(false, "unknown authority"),
		},
		{
			name:   "system roots do not trust the test CA",
			steps:  overTLS(pki.Good),
			params: func(p *Params) { p.RootCAs = nil },
			want:   done,
			check:  checkTLS(false, "unknown authority"),
		},
		{
			name:   "required policy is met by STARTTLS",
			steps:  overTLS(pki.Good),
			params: required,
			want:   done,
			check:  checkTLS(true, ""),
		},
		{
			name:   "never policy skips an offered STARTTLS",
			steps:  script(greet, ehloTLS, mailOK, rcptOK, goodbye),
			params: func(p *Params) { p.StartTLS = "never" },
			want:   want{stage: StageDone, verbs: plainVerbs, rcpts: []int{250}},
			check:  checkNoTLS,
		},
		{
			name:  "opportunistic policy goes on in plain text without STARTTLS",
			steps: script(greet, ehloPlain, mailOK, rcptOK, goodbye),
			want:  want{stage: StageDone, verbs: plainVerbs, rcpts: []int{250}},
			check: checkNoTLS,
		},
		{
			name: "opportunistic policy goes on in plain text after 454",
			steps: script(greet, ehloTLS, answer("STARTTLS", "454 4.7.0 TLS not available\r\n"),
				mailOK, rcptOK, goodbye),
			want: want{stage: StageDone, rcpts: []int{250},
				verbs: []string{"EHLO", "STARTTLS", "MAIL", "RCPT", "RSET", "QUIT"}},
			check: checkNoTLS,
		},
		{
			name: "required policy fails on 454",
			steps: script(greet, ehloTLS, answer("STARTTLS", "454 4.7.0 TLS not available\r\n"),
				answer("QUIT", "221 bye\r\n")),
			params: required,
			want: want{stage: StageStartTLS, failure: FailureTLS, code: 454, enhanced: "4.7.0",
				verbs: []string{"EHLO", "STARTTLS", "QUIT"}},
		},
		{
			name:   "required policy fails when STARTTLS is not offered",
			steps:  script(greet, ehloPlain, answer("QUIT", "221 bye\r\n")),
			params: required,
			want: want{stage: StageStartTLS, failure: FailureTLS, errHas: "not offered",
				verbs: []string{"EHLO", "QUIT"}},
		},
		{
			name: "required policy fails after HELO",
			steps: script(greet, answer("EHLO", "502 no\r\n"), answer("HELO", "250 mx.test\r\n"),
				answer("QUIT", "221 bye\r\n")),
			params: required,
			want: want{stage: StageStartTLS, failure: FailureTLS, errHas: "not offered",
				verbs: []string{"EHLO", "HELO", "QUIT"}},
		},
		{
			name: "plain text after the 220 to STARTTLS fails TLS",
			steps: script(greet, ehloTLS,
				answer("STARTTLS", "220 go ahead\r\n250-injected\r\n250 lines\r\n"),
				[]step{discard()}),
			want: want{stage: StageTLS, failure: FailureTLS, errHas: "plain text",
				verbs: []string{"EHLO", "STARTTLS"}},
			check: checkNoTLS,
		},
		{
			name: "plain text instead of a handshake fails TLS",
			steps: script(greet, ehloTLS, answer("STARTTLS", "220 go ahead\r\n"),
				[]step{pause(100 * time.Millisecond), flood("250 this is not TLS\r\n"), discard()}),
			want: want{stage: StageTLS, failure: FailureTLS, errHas: "handshake",
				verbs: []string{"EHLO", "STARTTLS"}},
			check: checkNoTLS,
		},
		{
			name: "close during the handshake fails TLS",
			steps: script(greet, ehloTLS, answer("STARTTLS", "220 go ahead\r\n"),
				[]step{hangup()}),
			want:  want{stage: StageTLS, failure: FailureTLS, errHas: "handshake", anyVerbs: true},
			check: checkNoTLS,
		},
		{
			name: "handshake without an answer times out",
			steps: script(greet, ehloTLS, answer("STARTTLS", "220 go ahead\r\n"),
				[]step{discard()}),
			params: func(p *Params) { p.CommandTimeout = 300 * time.Millisecond },
			budget: time.Second,
			want: want{stage: StageTLS, failure: FailureTimeout, errHas: "timeout",
				verbs: []string{"EHLO", "STARTTLS"}},
		},
		{
			name: "TLS 1.0 server is still probed",
			steps: script(greet, ehloTLS, answer("STARTTLS", "220 go ahead\r\n"),
				[]step{serveTLS(tls10(pki.Good))}, ehloPlain, mailOK, rcptOK, goodbye),
			want: done,
			check: func(t *testing.T, s Session) {
				if s.TLS == nil || s.TLS.Version != "TLS 1.0" || !s.TLS.Trusted {
					t.Errorf("tls state %+v", s.TLS)
				}
			},
		},
		{
			name: "421 to the EHLO over TLS",
			steps: script(greet, ehloTLS, answer("STARTTLS", "220 go ahead\r\n"),
				[]step{serveTLS(serverTLS(pki.Good))},
				answer("EHLO", "421 4.3.2 bye\r\n")),
			want: want{stage: StageEHLO, failure: FailureReply, code: 421, enhanced: "4.3.2",
				verbs: []string{"EHLO", "STARTTLS", "EHLO"}},
		},
		{
			name:  "421 to STARTTLS under the opportunistic policy",
			steps: script(greet, ehloTLS, answer("STARTTLS", "421 4.3.2 bye\r\n")),
			want: want{stage: StageStartTLS, failure: FailureReply, code: 421,
				enhanced: "4.3.2", verbs: []string{"EHLO", "STARTTLS"}},
		},
	})
}

// required sets the "required" STARTTLS policy.
func required(p *Params) { p.StartTLS = "required" }

// checkNoTLS fails if a TLS session was recorded.
func checkNoTLS(t *testing.T, s Session) {
	t.Helper()
	if s.TLS != nil {
		t.Errorf("tls state %+v, want none", *s.TLS)
	}
}

// tls10 is a server configuration that speaks TLS 1.0 only.
func tls10(cert tls.Certificate) *tls.Config {
	cfg := serverTLS(cert)
	cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS10, tls.VersionTLS10
	return cfg
}
