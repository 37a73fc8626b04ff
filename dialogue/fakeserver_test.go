package dialogue

import (
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/mailprobe/mailprobe_exporter/internal/smtpscript"
)

// The scripted SMTP server is shared with other packages' tests; these
// short names keep the scripts of this package readable.
type (
	step         = smtpscript.Step
	serverResult = smtpscript.Record
)

var (
	say      = smtpscript.Say
	trickle  = smtpscript.Trickle
	expect   = smtpscript.Expect
	answer   = smtpscript.Answer
	pause    = smtpscript.Pause
	silence  = smtpscript.Silence
	hangup   = smtpscript.Hangup
	reset    = smtpscript.Reset
	discard  = smtpscript.Discard
	serveTLS = smtpscript.ServeTLS
	script   = smtpscript.Join
)

// fakeServer plays a script to the first client that connects.
type fakeServer struct {
	srv *smtpscript.Server
}

// startScript listens on 127.0.0.1:0 and plays steps to one client.
func startScript(t *testing.T, steps ...step) *fakeServer {
	t.Helper()
	return &fakeServer{srv: smtpscript.Start(t, steps)}
}

// addr is the address the server listens on.
func (s *fakeServer) addr() netip.AddrPort {
	return s.srv.Addr()
}

// wait returns what the server saw once its script and drain are over.
func (s *fakeServer) wait(t *testing.T) serverResult {
	t.Helper()
	recs := s.srv.Wait(t)
	if len(recs) != 1 {
		t.Fatalf("fake server saw %d connections, want 1", len(recs))
	}
	return recs[0]
}

// flood writes s and ignores a failed write: the client may close the
// connection before it took everything.
func flood(s string) step {
	return smtpscript.Flood([]byte(s))
}

// Common exchanges of the scripts.
var (
	greet     = []step{say("220 mx.test ESMTP ready\r\n")}
	ehloPlain = []step{expect("EHLO"), say("250-mx.test\r\n250 PIPELINING\r\n")}
	ehloTLS   = []step{expect("EHLO"), say("250-mx.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n")}
	mailOK    = []step{expect("MAIL FROM:<probe@probe.test>"), say("250 2.1.0 ok\r\n")}
	rcptOK    = []step{expect("RCPT TO:<alice@customer.test>"), say("250 2.1.5 ok\r\n")}
	goodbye   = []step{expect("RSET"), say("250 2.0.0 ok\r\n"),
		expect("QUIT"), say("221 2.0.0 bye\r\n")}
)

// lockedBuffer is a buffer that a mutex guards, written by another
// goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
