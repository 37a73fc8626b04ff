package mailsim

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// Behaviours of broken and hostile peers, for soak runs and for tests of
// a prober's bounds. Each misbehaves in one way; where it lets a dialogue
// go on, it answers as Accept does.
const (
	SlowBanner     Behaviour = "slow_banner"      // greets one octet a second
	ResetAfterEHLO Behaviour = "reset_after_ehlo" // answers EHLO, resets at the next command
	HugeLine       Behaviour = "huge_line"        // answers EHLO with a line of 1 MiB
	ManyLines      Behaviour = "many_lines"       // answers EHLO with 10,000 lines
	Garbage        Behaviour = "garbage"          // greets with raw octets, answers EHLO with junk
	NoQuitReply    Behaviour = "no_quit_reply"    // never answers QUIT, waits for the close
)

// Sizes of the oversized replies: far beyond the 512 octets of a line
// (RFC 5321 §4.5.3.1.5) and any real reply's line count.
const (
	hugeLineLen   = 1 << 20
	manyLinesN    = 10000
	slowBannerGap = time.Second
)

// garbageText holds octets that are not UTF-8, control octets and an
// invisible character.
const garbageText = "\xff\xfe\x00\x1b[31m\x7f\u200b\xc3("

// serveHostile serves one connection of a hostile behaviour.
func (s *SMTPServer) serveHostile(c net.Conn) {
	c.SetDeadline(time.Now().Add(5 * time.Minute))
	ss := newSession(s, c)
	greeting := fmt.Sprintf("220 %s ESMTP mailsim", s.Name)
	switch s.Behaviour {
	case SlowBanner:
		if ss.trickle(greeting+"\r\n", slowBannerGap) {
			ss.serveUntil("")
		}
	case NoQuitReply:
		ss.reply("%s", greeting)
		if ss.serveUntil("QUIT") {
			s.stats.Quits.Add(1)
			ss.waitForClose()
		}
	case ResetAfterEHLO:
		ss.reply("%s", greeting)
		if ss.serveUntil("EHLO") {
			ss.ehlo()
			ss.resetAtNextCommand()
		}
	default:
		ss.reply("220 %s %s", s.Name, garbageText)
		if ss.serveUntil("EHLO") {
			ss.misreply()
			ss.waitForClose()
		}
	}
}

// newSession starts the state of one connection.
func newSession(s *SMTPServer, c net.Conn) *session {
	return &session{srv: s, conn: c, r: bufio.NewReaderSize(c, maxLine)}
}

// serveUntil answers commands as Accept does until one with verb, which
// it leaves unanswered; "" serves the whole session. It reports whether
// that command arrived.
func (ss *session) serveUntil(verb string) bool {
	for {
		line, err := ss.readLine()
		if err != nil {
			return false
		}
		first, _, _ := strings.Cut(line, " ")
		if verb != "" && strings.EqualFold(first, verb) {
			return true
		}
		if !ss.command(line) {
			return false
		}
	}
}

// trickle writes s one octet every gap; it reports false when the client
// went away or the server closed first.
func (ss *session) trickle(s string, gap time.Duration) bool {
	for i := 0; i < len(s); i++ {
		if _, err := ss.conn.Write([]byte{s[i]}); err != nil {
			return false
		}
		select {
		case <-time.After(gap):
		case <-ss.srv.closed:
			return false
		}
	}
	return true
}

// misreply answers EHLO as the behaviour misbehaves.
func (ss *session) misreply() {
	var b strings.Builder
	switch ss.srv.Behaviour {
	case HugeLine:
		b.WriteString("250-" + strings.Repeat("x", hugeLineLen) + "\r\n250 OK\r\n")
	case ManyLines:
		for i := range manyLinesN {
			fmt.Fprintf(&b, "250-%s line %d\r\n", ss.srv.Name, i)
		}
		b.WriteString("250 OK\r\n")
	default:
		b.WriteString(garbageText + " junk " + garbageText + "\r\n")
	}
	io.WriteString(ss.conn, b.String())
}

// resetAtNextCommand aborts the connection with a TCP RST once the client
// sent its next command, so the reply before it was surely delivered.
func (ss *session) resetAtNextCommand() {
	if _, err := ss.readLine(); err != nil {
		return
	}
	if tc, ok := ss.conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	ss.conn.Close()
}

// waitForClose reads and drops what the client sends until it closes the
// connection, or the deadline or the server's Close ends the wait.
func (ss *session) waitForClose() {
	io.Copy(io.Discard, ss.r)
}
