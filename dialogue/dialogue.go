// Package dialogue walks one SMTP server through the dialogue of a
// delivery attempt up to RCPT TO, and never further: no DATA is ever sent.
package dialogue

import (
	"context"
	"crypto/x509"
	"net"
	"net/netip"
	"time"
)

// Stage names a step of the dialogue.
type Stage string

// Stages, in dialogue order. StageDone means every step succeeded.
const (
	StageConnect  Stage = "connect"
	StageBanner   Stage = "banner"
	StageEHLO     Stage = "ehlo"
	StageHELO     Stage = "helo"
	StageStartTLS Stage = "starttls"
	StageTLS      Stage = "tls" // the handshake itself
	StageMail     Stage = "mail"
	StageRcpt     Stage = "rcpt"
	StageRset     Stage = "rset"
	StageQuit     Stage = "quit"
	StageDone     Stage = "done"
)

// Phases are the stages whose durations are measured, in order.
var Phases = []Stage{StageConnect, StageBanner, StageEHLO, StageStartTLS, StageMail, StageRcpt}

// Reply is one complete, possibly multi-line, SMTP reply.
type Reply struct {
	Code     int    // three-digit reply code
	Enhanced string // RFC 3463 status code as sent, e.g. "5.1.1"; "" if none
	Text     string // reply text without codes, lines joined by "\n", bounded
}

// Failure says why a dialogue stopped before its end.
type Failure string

// Failure kinds. FailureNone means the dialogue ran to StageDone, the
// replies to RCPT, negative ones included, being in Session.Rcpts. A
// negative reply that stopped the dialogue earlier (a refusing greeting,
// EHLO, MAIL, or a 421 anywhere) is FailureReply, with Session.Reply set;
// STARTTLS refused under the "required" policy is FailureTLS, also with
// Session.Reply set.
const (
	FailureNone     Failure = ""
	FailureReply    Failure = "reply"    // a negative reply; see Session.Reply
	FailureTimeout  Failure = "timeout"  // a deadline passed
	FailureConnect  Failure = "connect"  // TCP connect failed
	FailureNetwork  Failure = "network"  // connection reset or closed mid-dialogue
	FailureTLS      Failure = "tls"      // STARTTLS refused under "required", or handshake failed
	FailureProtocol Failure = "protocol" // malformed, oversized or unsolicited reply
)

// Rcpt is the reply to one RCPT TO.
type Rcpt struct {
	Recipient string
	Reply     Reply
}

// TLSState describes the TLS session after STARTTLS.
type TLSState struct {
	Version   string // e.g. "TLS 1.3"
	Cipher    string
	NotAfter  time.Time // expiry of the leaf certificate
	Subject   string    // leaf subject common name
	Trusted   bool      // chain verifies against the roots for the MX name
	VerifyErr string    // why it does not, if it does not
}

// Line is one line of the transcript.
type Line struct {
	At   time.Duration // since the start of the dialogue
	Dir  byte          // '>' sent, '<' received, '*' event (connect, TLS, error)
	Text string        // the line, control bytes escaped, bounded
}

// Params are the inputs of one dialogue with one MX IP.
type Params struct {
	Addr       netip.AddrPort
	MXName     string // host name of the MX, for certificate checks
	HeloName   string
	MailFrom   string   // "" sends MAIL FROM:<>
	Recipients []string // sent in one session, in order
	StartTLS   string   // config.StartTLS* policy
	// BannerTimeout bounds the wait for the whole greeting, all its lines
	// together; 0 means the 5 minutes of RFC 5321 §4.5.3.2.
	BannerTimeout time.Duration
	// CommandTimeout bounds the TCP connect, the TLS handshake and the
	// wait for each reply other than the banner; 0 means 5 minutes.
	// RSET and QUIT wait at most 2 seconds.
	CommandTimeout time.Duration
	// Dial opens the TCP connection; nil uses a net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// RootCAs verify the server certificate; nil uses the system roots.
	RootCAs *x509.CertPool
}

// Session is the record of one dialogue.
type Session struct {
	Stage      Stage   // where the dialogue stopped; StageDone if it ran through
	Failure    Failure // why it stopped early
	Reply      *Reply  // the negative reply that stopped it, if one did
	Err        string  // detail of a non-reply failure
	Banner     *Reply
	ESMTP      bool      // EHLO was accepted
	Extensions []string  // EHLO keywords, upper case
	TLS        *TLSState // set when STARTTLS succeeded
	Rcpts      []Rcpt    // replies to RCPT TO, in order
	// Deferred are recipients not tried because the server answered 452
	// "too many recipients": they need a new session.
	Deferred   []string
	Phases     map[Stage]time.Duration
	Start      time.Time
	Duration   time.Duration
	Transcript []Line
}

// Run walks the server at p.Addr through the dialogue. Every deadline comes
// from ctx, the banner and each command having their own, shorter, one.
// Run always closes the connection before it returns, and leaves no
// goroutine behind.
//
// A deadline, of ctx or of a step, gives FailureTimeout, and so does the
// end of ctx by cancellation. A command line that would carry a control
// character is never sent: it stops the dialogue with FailureProtocol.
func Run(ctx context.Context, p Params) Session {
	d := newDialog(ctx, p)
	if err := d.connect(); err != nil {
		d.stop(err)
		return d.finish()
	}

	stopWatching := d.watch()
	d.converse()
	d.close()
	stopWatching()
	return d.finish()
}
