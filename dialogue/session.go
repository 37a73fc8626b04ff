package dialogue

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"
)

// Default waits when Params leave them unset: RFC 5321 §4.5.3.2 asks a
// client to wait 5 minutes for the greeting and for most replies.
const (
	defaultBannerTimeout  = 5 * time.Minute
	defaultCommandTimeout = 5 * time.Minute
	// quitWait bounds RSET and QUIT: their replies change nothing.
	quitWait = 2 * time.Second
)

// stopError ends a dialogue at a stage.
type stopError struct {
	stage   Stage
	failure Failure
	reply   *Reply
	err     error
	// quit says the server still listens, so QUIT is worth sending.
	quit bool
}

func (e *stopError) Error() string {
	if e.reply != nil {
		return fmt.Sprintf("%s at %s: %d %s", e.failure, e.stage, e.reply.Code, e.reply.Text)
	}
	return fmt.Sprintf("%s at %s: %v", e.failure, e.stage, e.err)
}

// refused stops the dialogue at a negative reply. The server closes after
// 421 (RFC 5321 §3.8), so no QUIT follows one.
func refused(stage Stage, r Reply) *stopError {
	return &stopError{stage: stage, failure: FailureReply, reply: &r, quit: r.Code != 421}
}

// response is a reply with its lines as received.
type response struct {
	Reply
	lines []string
}

// dialog is the state of one running dialogue.
type dialog struct {
	ctx    context.Context
	p      Params
	s      Session
	tr     transcript
	raw    net.Conn // the TCP connection
	conn   net.Conn // raw, or the TLS connection over it
	rr     *replyReader
	open   bool // the server may still read commands
	inMail bool // MAIL was accepted, so RSET goes before QUIT
	tlsUp  bool
}

// newDialog prepares a dialogue; nothing happens on the network yet.
func newDialog(ctx context.Context, p Params) *dialog {
	now := time.Now()
	return &dialog{
		ctx: ctx,
		p:   p,
		s:   Session{Start: now, Phases: make(map[Stage]time.Duration)},
		tr:  transcript{start: now},
	}
}

// converse runs the steps of the dialogue in order, then says goodbye.
func (d *dialog) converse() {
	steps := []func() error{d.banner, d.hello, d.startTLS, d.mail, d.rcpts}
	for _, step := range steps {
		if err := step(); err != nil {
			d.stop(err)
			break
		}
	}
	if d.s.Failure == FailureNone {
		d.s.Stage = StageDone
	}
	d.farewell()
}

// stop records why the dialogue ended early.
func (d *dialog) stop(err error) {
	var se *stopError
	if !errors.As(err, &se) {
		se = &stopError{stage: d.s.Stage, failure: FailureNetwork, err: err}
	}
	d.s.Stage, d.s.Failure, d.s.Reply = se.stage, se.failure, se.reply
	if se.err != nil {
		d.s.Err = escape(se.err.Error(), maxTextLen)
	}
	d.open = d.open && se.quit
	d.tr.event("stopped: %v", se)
}

// connect opens the TCP connection, within CommandTimeout and ctx.
func (d *dialog) connect() error {
	start := time.Now()
	defer d.phase(StageConnect, start)
	if !d.p.Addr.IsValid() {
		return &stopError{stage: StageConnect, failure: FailureConnect,
			err: errors.New("connect: no valid address")}
	}
	ctx, cancel := context.WithTimeout(d.ctx, d.commandTimeout())
	defer cancel()

	addr := d.p.Addr.String()
	d.tr.event("connect to %s", addr)
	dial := d.p.Dial
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	conn, err := dial(ctx, "tcp", addr)
	if err != nil {
		f := FailureConnect
		if ctx.Err() != nil || isTimeout(err) {
			f = FailureTimeout
		}
		return &stopError{stage: StageConnect, failure: f, err: fmt.Errorf("connect: %w", err)}
	}

	d.raw, d.conn, d.open = conn, conn, true
	d.rr = newReplyReader(conn)
	d.tr.event("connected from %s", conn.LocalAddr())
	return nil
}

// watch closes the connection when ctx ends, which unblocks any read or
// write. The returned function stops watching; once it returns, no
// goroutine started by watch is left.
func (d *dialog) watch() (stop func()) {
	done := make(chan struct{})
	stopFunc := context.AfterFunc(d.ctx, func() {
		_ = d.raw.Close()
		close(done)
	})
	return func() {
		if !stopFunc() {
			<-done
		}
	}
}

// close closes the TCP connection. A TLS close_notify is not sent: QUIT
// already ended the session, and the alert could block on a stuck peer.
func (d *dialog) close() {
	_ = d.raw.Close()
	d.tr.event("closed")
}

// finish completes the session record.
func (d *dialog) finish() Session {
	d.s.Duration = time.Since(d.s.Start)
	d.s.Transcript = d.tr.lines()
	return d.s
}

// banner reads the greeting under BannerTimeout, before anything is sent.
func (d *dialog) banner() error {
	start := time.Now()
	defer d.phase(StageBanner, start)

	d.arm(d.bannerTimeout())
	r, err := d.receive(StageBanner)
	if err != nil {
		return err
	}
	d.s.Banner = &r.Reply
	if r.Code != 220 {
		// RFC 5321 §3.1: after a 554 greeting the client sends QUIT;
		// it is sent after any refusing greeting, bounded by quitWait.
		e := refused(StageBanner, r.Reply)
		e.quit = true
		return e
	}
	return d.checkQuiet(StageBanner)
}

// hello sends EHLO, and HELO if EHLO gets a permanent refusal.
func (d *dialog) hello() error {
	start := time.Now()
	defer d.phase(StageEHLO, start)

	r, err := d.command(StageEHLO, "EHLO "+d.p.HeloName)
	if err != nil {
		return err
	}
	if r.Code/100 == 2 {
		d.s.ESMTP, d.s.Extensions = true, extensions(r.lines)
		return nil
	}
	if r.Code/100 != 5 {
		return refused(StageEHLO, r.Reply)
	}

	d.s.ESMTP, d.s.Extensions = false, nil
	r, err = d.command(StageHELO, "HELO "+d.p.HeloName)
	if err != nil {
		return err
	}
	if r.Code/100 != 2 {
		return refused(StageHELO, r.Reply)
	}
	return nil
}

// mail opens the transaction.
func (d *dialog) mail() error {
	start := time.Now()
	defer d.phase(StageMail, start)

	r, err := d.command(StageMail, "MAIL FROM:<"+d.p.MailFrom+">")
	if err != nil {
		return err
	}
	if r.Code/100 != 2 {
		return refused(StageMail, r.Reply)
	}
	d.inMail = true
	return nil
}

// rcpts sends one RCPT per recipient and records every reply. A "too many
// recipients" reply after the first RCPT defers the rest to a new session
// (RFC 5321 §4.5.3.1.10); a 421 ends the dialogue.
func (d *dialog) rcpts() error {
	start := time.Now()
	defer d.phase(StageRcpt, start)

	for i, to := range d.p.Recipients {
		r, err := d.command(StageRcpt, "RCPT TO:<"+to+">")
		if err != nil {
			return err
		}
		if i > 0 && tooManyRecipients(r.Reply) {
			d.s.Deferred = append([]string(nil), d.p.Recipients[i:]...)
			d.tr.event("%d recipients deferred to a new session", len(d.s.Deferred))
			return nil
		}
		d.s.Rcpts = append(d.s.Rcpts, Rcpt{Recipient: to, Reply: r.Reply})
		if r.Code == 421 {
			return refused(StageRcpt, r.Reply)
		}
	}
	return nil
}

// tooManyRecipients tells a recipient limit from other refusals. Servers
// answer 452, or 552 as older ones do, with the enhanced code x.5.3.
func tooManyRecipients(r Reply) bool {
	return r.Code == 452 || r.Enhanced == "4.5.3" || r.Enhanced == "5.5.3"
}

// farewell sends RSET if a transaction is open, then QUIT, each with a
// short wait. Their failures are only recorded in the transcript.
func (d *dialog) farewell() {
	if !d.open {
		return
	}
	wait := min(quitWait, d.commandTimeout())
	if d.inMail {
		if _, err := d.exchange(StageRset, "RSET", wait); err != nil {
			d.tr.event("RSET failed: %v", err)
			return
		}
	}
	if _, err := d.exchange(StageQuit, "QUIT", wait); err != nil {
		d.tr.event("QUIT failed: %v", err)
	}
}

// command sends cmd and reads its reply under CommandTimeout. Data that
// follows the reply before anything else was sent answers no command: it
// is a protocol error.
func (d *dialog) command(stage Stage, cmd string) (response, error) {
	r, err := d.exchange(stage, cmd, d.commandTimeout())
	if err != nil {
		return r, err
	}
	return r, d.checkQuiet(stage)
}

// exchange sends cmd and reads its reply, both within timeout.
func (d *dialog) exchange(stage Stage, cmd string, timeout time.Duration) (response, error) {
	if err := d.ctx.Err(); err != nil {
		return response{}, d.failed(stage, err)
	}
	d.arm(timeout)
	if err := d.send(cmd); err != nil {
		return response{}, d.failed(stage, err)
	}
	return d.receive(stage)
}

// send writes one command line, ended by CRLF. A line that would carry a
// control character is not sent at all.
func (d *dialog) send(cmd string) error {
	if strings.ContainsFunc(cmd, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return fmt.Errorf("%w: refusing to send %s: control character",
			errProtocol, clip(cmd, 64))
	}
	d.tr.add('>', cmd)
	if _, err := io.WriteString(d.conn, cmd+"\r\n"); err != nil {
		return fmt.Errorf("send %s: %w", firstWord(cmd), err)
	}
	return nil
}

// receive reads one reply under the deadline already set.
func (d *dialog) receive(stage Stage) (response, error) {
	r, lines, err := d.rr.read()
	d.tr.reply(lines)
	if err != nil {
		return response{}, d.failed(stage, err)
	}
	return response{Reply: r, lines: lines}, nil
}

// checkQuiet fails if octets arrived that no command asked for.
func (d *dialog) checkQuiet(stage Stage) error {
	n := d.rr.buffered()
	if n == 0 {
		return nil
	}
	return &stopError{stage: stage, failure: FailureProtocol,
		err: fmt.Errorf("%w: %d unsolicited octets after the reply", errProtocol, n)}
}

// failed classifies an error of a read, a write or a handshake.
func (d *dialog) failed(stage Stage, err error) *stopError {
	f := FailureNetwork
	switch {
	case errors.Is(err, errProtocol):
		f = FailureProtocol
	case d.ctxEnded() != nil:
		f, err = FailureTimeout, fmt.Errorf("%w (%v)", d.ctxEnded(), err)
	case isTimeout(err):
		f = FailureTimeout
	}
	return &stopError{stage: stage, failure: f, err: err}
}

// ctxEnded returns why ctx ended, or nil. A connection deadline taken from
// ctx can pass a moment before ctx itself reports it.
func (d *dialog) ctxEnded() error {
	if err := context.Cause(d.ctx); err != nil {
		return err
	}
	if dl, ok := d.ctx.Deadline(); ok && !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	return nil
}

// arm sets the connection deadline to the earlier of ctx's and now+timeout.
func (d *dialog) arm(timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	if dl, ok := d.ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = d.conn.SetDeadline(deadline)
}

// phase adds the time since start to the duration of a phase.
func (d *dialog) phase(stage Stage, start time.Time) {
	d.s.Phases[stage] += time.Since(start)
}

func (d *dialog) bannerTimeout() time.Duration {
	if d.p.BannerTimeout > 0 {
		return d.p.BannerTimeout
	}
	return defaultBannerTimeout
}

func (d *dialog) commandTimeout() time.Duration {
	if d.p.CommandTimeout > 0 {
		return d.p.CommandTimeout
	}
	return defaultCommandTimeout
}

// offers reports whether the last EHLO reply listed keyword.
func (d *dialog) offers(keyword string) bool {
	for _, k := range d.s.Extensions {
		if k == keyword {
			return true
		}
	}
	return false
}

// extensions returns the EHLO keywords (RFC 5321 §4.1.1.1) of the lines of
// an EHLO reply, upper case, without parameters; the first line is the
// server's name. Malformed keywords are skipped.
func extensions(lines []string) []string {
	var kws []string
	seen := make(map[string]bool)
	for _, line := range lines[min(1, len(lines)):] {
		kw := strings.ToUpper(firstWord(lineText(line)))
		if !isKeyword(kw) || seen[kw] {
			continue
		}
		seen[kw] = true
		kws = append(kws, kw)
	}
	return kws
}

// isKeyword checks the ehlo-keyword syntax: a letter or digit, then
// letters, digits and hyphens.
func isKeyword(s string) bool {
	if s == "" || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// firstWord returns s up to its first space.
func firstWord(s string) string {
	w, _, _ := strings.Cut(s, " ")
	return w
}

// isTimeout reports whether err is a passed deadline.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}
