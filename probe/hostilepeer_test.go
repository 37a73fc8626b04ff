package probe_test

import (
	"testing"

	"github.com/mailprobe/mailprobe_exporter/internal/smtpscript"
)

// The scripted SMTP peer is shared with other packages' tests; these
// short names keep the hostile scripts of this package readable.
type (
	move       = smtpscript.Step
	connRecord = smtpscript.Record
)

var (
	say      = smtpscript.Say
	flood    = smtpscript.Flood
	trickle  = smtpscript.Trickle
	expect   = smtpscript.Expect
	answer   = smtpscript.Answer
	silence  = smtpscript.Silence
	pause    = smtpscript.Pause
	hangup   = smtpscript.Hangup
	reset    = smtpscript.Reset
	startTLS = smtpscript.ServeTLS
	discard  = smtpscript.Discard
	moves    = smtpscript.Join
)

// scriptedPeer plays one script per connection, to the connections in the
// order they arrive, one connection at a time.
type scriptedPeer struct {
	srv *smtpscript.Server
}

// startPeer listens on 127.0.0.1:0 and plays scripts to the connections
// that arrive; a connection beyond the last script is refused.
func startPeer(t *testing.T, scripts ...[]move) *scriptedPeer {
	t.Helper()
	return &scriptedPeer{srv: smtpscript.Start(t, scripts...)}
}

// port is the TCP port the peer listens on.
func (p *scriptedPeer) port() int {
	return p.srv.Port()
}

// stop closes the listener and waits for the connection being played.
func (p *scriptedPeer) stop(t *testing.T) []connRecord {
	t.Helper()
	return p.srv.Stop(t)
}
