// Package mailsim is a small simulated mail world on loopback: an
// authoritative DNS server and SMTP servers with chosen behaviours
// (accepting, rejecting, greylisting, blocking, tarpitting). Tests and the
// demo probe it; it never sends mail anywhere.
package mailsim

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Behaviour is how a simulated MX answers.
type Behaviour string

// Behaviours.
const (
	Accept       Behaviour = "accept"        // known users 250, others 550 5.1.1
	Greylist     Behaviour = "greylist"      // 450 4.2.0 until a triplet is Delay old
	Block        Behaviour = "block"         // 550 5.7.1 to every RCPT: the client is listed
	RefuseBanner Behaviour = "refuse_banner" // 554 greeting
	Tarpit       Behaviour = "tarpit"        // accepts and never greets
)

// maxLine bounds a command line, as RFC 5321 §4.5.3.1.4 bounds it to 512
// octets; a little more is tolerated.
const maxLine = 1024

// SMTPServer is one simulated MX on one address.
type SMTPServer struct {
	Name      string
	Behaviour Behaviour
	Users     map[string]bool // local parts accepted, lower case
	Delay     time.Duration   // greylisting delay
	TLS       *tls.Config     // STARTTLS offered when set
	Hold      time.Duration   // how long the tarpit holds a connection

	ln     net.Listener
	wg     sync.WaitGroup
	mu     sync.Mutex
	seen   map[string]time.Time // greylisting triplets
	conns  map[net.Conn]bool
	closed chan struct{}
	stats  Stats
}

// Stats count what clients did, for tests to assert politeness.
type Stats struct {
	Sessions atomic.Int64 // connections accepted
	Quits    atomic.Int64 // sessions that sent QUIT
	Data     atomic.Int64 // DATA commands received: must stay 0
	Open     atomic.Int64 // connections open now
	MaxOpen  atomic.Int64 // most connections open at once
}

// Listen starts s on addr, e.g. "127.0.0.21:2525".
func (s *SMTPServer) Listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen for %s: %w", s.Name, err)
	}
	s.ln = ln
	s.seen = map[string]time.Time{}
	s.conns = map[net.Conn]bool{}
	s.closed = make(chan struct{})
	s.wg.Add(1)
	go s.accept()
	return nil
}

// Addr is the address s listens on.
func (s *SMTPServer) Addr() net.Addr { return s.ln.Addr() }

// Stats returns the server's counters.
func (s *SMTPServer) Stats() *Stats { return &s.stats }

// Close stops s and ends every session.
func (s *SMTPServer) Close() error {
	close(s.closed)
	err := s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

func (s *SMTPServer) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.track(c, true)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.track(c, false)
			defer c.Close()
			s.serve(c)
		}()
	}
}

func (s *SMTPServer) track(c net.Conn, open bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if open {
		s.conns[c] = true
		s.stats.Sessions.Add(1)
		n := s.stats.Open.Add(1)
		if n > s.stats.MaxOpen.Load() {
			s.stats.MaxOpen.Store(n)
		}
		return
	}
	delete(s.conns, c)
	s.stats.Open.Add(-1)
}

// session is the state of one connection.
type session struct {
	srv  *SMTPServer
	conn net.Conn
	r    *bufio.Reader
	from string
	tls  bool
}

func (s *SMTPServer) serve(c net.Conn) {
	switch s.Behaviour {
	case SlowBanner, ResetAfterEHLO, HugeLine, ManyLines, Garbage, NoQuitReply:
		s.serveHostile(c)
		return
	}
	if s.Behaviour == Tarpit {
		hold := s.Hold
		if hold == 0 {
			hold = 10 * time.Minute
		}
		select {
		case <-time.After(hold):
		case <-s.closed:
		}
		return
	}
	c.SetDeadline(time.Now().Add(5 * time.Minute))
	ss := &session{srv: s, conn: c, r: bufio.NewReaderSize(c, maxLine)}
	if s.Behaviour == RefuseBanner {
		ss.reply("554 5.7.1 %s no SMTP service here", s.Name)
		if line, err := ss.readLine(); err == nil {
			ss.command(line)
		}
		return
	}
	ss.reply("220 %s ESMTP mailsim", s.Name)
	for {
		line, err := ss.readLine()
		if err != nil {
			return
		}
		if !ss.command(line) {
			return
		}
	}
}

var errLineTooLong = errors.New("line too long")

func (ss *session) readLine() (string, error) {
	line, err := ss.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return "", errLineTooLong
	}
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(line), "\r\n"), nil
}

func (ss *session) reply(format string, args ...any) {
	fmt.Fprintf(ss.conn, format+"\r\n", args...)
}

// command answers one command line; false ends the session.
func (ss *session) command(line string) bool {
	verb, arg, _ := strings.Cut(line, " ")
	switch strings.ToUpper(verb) {
	case "EHLO":
		ss.ehlo()
	case "HELO":
		ss.reply("250 %s", ss.srv.Name)
	case "STARTTLS":
		return ss.startTLS()
	case "MAIL":
		ss.from = strings.ToLower(arg)
		ss.reply("250 2.1.0 Ok")
	case "RCPT":
		ss.rcpt(strings.ToLower(arg))
	case "RSET":
		ss.from = ""
		ss.reply("250 2.0.0 Ok")
	case "NOOP":
		ss.reply("250 2.0.0 Ok")
	case "DATA":
		ss.srv.stats.Data.Add(1)
		ss.reply("554 5.5.1 This simulated MX takes no messages")
	case "QUIT":
		ss.srv.stats.Quits.Add(1)
		ss.reply("221 2.0.0 Bye")
		return false
	default:
		ss.reply("502 5.5.2 Command not recognised")
	}
	return true
}

func (ss *session) ehlo() {
	lines := []string{ss.srv.Name, "PIPELINING", "SIZE 10240000"}
	if ss.srv.TLS != nil && !ss.tls {
		lines = append(lines, "STARTTLS")
	}
	lines = append(lines, "ENHANCEDSTATUSCODES", "8BITMIME")
	for i, l := range lines {
		sep := "-"
		if i == len(lines)-1 {
			sep = " "
		}
		ss.reply("250%s%s", sep, l)
	}
}

func (ss *session) startTLS() bool {
	if ss.srv.TLS == nil || ss.tls {
		ss.reply("454 4.7.0 TLS not available")
		return true
	}
	ss.reply("220 2.0.0 Ready to start TLS")
	tc := tls.Server(ss.conn, ss.srv.TLS)
	if err := tc.Handshake(); err != nil {
		return false
	}
	ss.conn, ss.tls = tc, true
	ss.r = bufio.NewReaderSize(tc, maxLine)
	return true
}

func (ss *session) rcpt(arg string) {
	addr := strings.TrimSuffix(strings.TrimPrefix(arg, "to:<"), ">")
	local, _, _ := strings.Cut(addr, "@")
	switch ss.srv.Behaviour {
	case Block:
		ss.reply("550 5.7.1 Service unavailable; client host blocked using a test list")
		return
	case Greylist:
		if ss.greylisted(addr) {
			ss.reply("450 4.2.0 <%s>: Recipient address rejected: Greylisted, try again later",
				addr)
			return
		}
	}
	if !ss.srv.Users[local] {
		ss.reply("550 5.1.1 <%s>: Recipient address rejected: User unknown", addr)
		return
	}
	ss.reply("250 2.1.5 Ok")
}

// greylisted records the triplet and reports whether it is still too new.
func (ss *session) greylisted(rcpt string) bool {
	host, _, _ := net.SplitHostPort(ss.conn.RemoteAddr().String())
	key := host + "|" + ss.from + "|" + rcpt
	ss.srv.mu.Lock()
	defer ss.srv.mu.Unlock()
	first, ok := ss.srv.seen[key]
	if !ok {
		ss.srv.seen[key] = time.Now()
		return true
	}
	return time.Since(first) < ss.srv.Delay
}

var _ io.Closer = (*SMTPServer)(nil)
