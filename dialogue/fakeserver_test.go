package dialogue

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// drainWait bounds how long a fake server waits for the client to close.
const drainWait = 5 * time.Second

// step is one move of a scripted SMTP server.
type step func(c *scriptConn) error

// Sentinels that end a script early: errHungUp when the server closed the
// connection itself, errDrained when a step already read until the client
// closed.
var (
	errHungUp  = errors.New("server hung up")
	errDrained = errors.New("drained")
)

// scriptConn is the server side of one scripted connection.
type scriptConn struct {
	conn     net.Conn
	br       *bufio.Reader
	lines    []string // lines received, endings included
	sawClose bool     // the client closed the connection
}

// serverResult is what a scripted server saw.
type serverResult struct {
	lines    []string // lines received, endings included
	err      error    // a step of the script failed
	hungUp   bool     // the script ended the connection itself
	sawClose bool     // the client closed the connection
}

// fakeServer plays a script to the first client that connects.
type fakeServer struct {
	ln   net.Listener
	done chan struct{}
	res  serverResult
}

// startScript listens on 127.0.0.1:0 and plays steps to one client.
func startScript(t *testing.T, steps ...step) *fakeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	s := &fakeServer{ln: ln, done: make(chan struct{})}
	go s.serve(steps)
	t.Cleanup(func() {
		_ = ln.Close()
		<-s.done
	})
	return s
}

// addr is the address the server listens on.
func (s *fakeServer) addr() netip.AddrPort {
	return s.ln.Addr().(*net.TCPAddr).AddrPort()
}

// wait returns what the server saw once its script and drain are over.
func (s *fakeServer) wait(t *testing.T) serverResult {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(2 * drainWait):
		t.Fatal("fake server still running")
	}
	return s.res
}

func (s *fakeServer) serve(steps []step) {
	defer close(s.done)
	conn, err := s.ln.Accept()
	_ = s.ln.Close()
	if err != nil {
		s.res.err = fmt.Errorf("accept: %w", err)
		return
	}
	c := &scriptConn{conn: conn, br: bufio.NewReader(conn)}
	defer func() { _ = c.conn.Close() }()
	err = c.play(steps)
	switch {
	case errors.Is(err, errHungUp):
		s.res.hungUp = true
	case errors.Is(err, errDrained):
	default:
		s.res.err = err
		c.drain()
	}
	s.res.lines, s.res.sawClose = c.lines, c.sawClose
}

// play runs the steps in order; the first error ends the script.
func (c *scriptConn) play(steps []step) error {
	for i, st := range steps {
		if err := st(c); err != nil {
			if errors.Is(err, errHungUp) || errors.Is(err, errDrained) {
				return err
			}
			return fmt.Errorf("step %d: %w", i, err)
		}
	}
	return nil
}

// drain reads the lines the client still sends and notes whether the
// client closed the connection within drainWait.
func (c *scriptConn) drain() {
	_ = c.conn.SetReadDeadline(time.Now().Add(drainWait))
	for {
		line, err := c.br.ReadString('\n')
		if line != "" {
			c.lines = append(c.lines, line)
		}
		if err != nil {
			c.sawClose = !errors.Is(err, os.ErrDeadlineExceeded)
			return
		}
	}
}

// discard throws away what the client sends, which need not be lines
// (a TLS ClientHello), until the client closes; it ends the script.
func discard() step {
	return func(c *scriptConn) error {
		_ = c.conn.SetReadDeadline(time.Now().Add(drainWait))
		_, err := io.Copy(io.Discard, c.br)
		c.sawClose = !errors.Is(err, os.ErrDeadlineExceeded)
		return errDrained
	}
}

// say writes s.
func say(s string) step {
	return func(c *scriptConn) error {
		_, err := io.WriteString(c.conn, s)
		return err
	}
}

// flood writes s and ignores a failed write: the client may close the
// connection before it took everything.
func flood(s string) step {
	return func(c *scriptConn) error {
		_, _ = io.WriteString(c.conn, s)
		return nil
	}
}

// trickle writes s one octet at a time, every interval.
func trickle(s string, every time.Duration) step {
	return func(c *scriptConn) error {
		for i := 0; i < len(s); i++ {
			if _, err := c.conn.Write([]byte{s[i]}); err != nil {
				return nil // the client gave up, as it should
			}
			time.Sleep(every)
		}
		return nil
	}
}

// expect reads one line and checks that it starts with verb, in any case.
func expect(verb string) step {
	return func(c *scriptConn) error {
		_ = c.conn.SetReadDeadline(time.Now().Add(drainWait))
		line, err := c.br.ReadString('\n')
		if line != "" {
			c.lines = append(c.lines, line)
		}
		if err != nil {
			return fmt.Errorf("expect %s: %w", verb, err)
		}
		if !strings.HasPrefix(strings.ToUpper(line), strings.ToUpper(verb)) {
			return fmt.Errorf("expect %s: got %q", verb, line)
		}
		return nil
	}
}

// pause waits d.
func pause(d time.Duration) step {
	return func(*scriptConn) error {
		time.Sleep(d)
		return nil
	}
}

// silence waits d and fails if the client sends anything meanwhile.
func silence(d time.Duration) step {
	return func(c *scriptConn) error {
		_ = c.conn.SetReadDeadline(time.Now().Add(d))
		b, err := c.br.Peek(1)
		if len(b) > 0 {
			return fmt.Errorf("client spoke during silence: %q", b)
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			return fmt.Errorf("silence: %w", err)
		}
		return nil
	}
}

// hangup closes the connection.
func hangup() step {
	return func(c *scriptConn) error {
		_ = c.conn.Close()
		return errHungUp
	}
}

// reset aborts the connection with a TCP RST.
func reset() step {
	return func(c *scriptConn) error {
		_ = c.conn.(*net.TCPConn).SetLinger(0)
		_ = c.conn.Close()
		return errHungUp
	}
}

// serveTLS runs the server side of a TLS handshake; with wantFail, a
// failed handshake is what the script expects and ends it.
func serveTLS(cfg *tls.Config, wantFail bool) step {
	return func(c *scriptConn) error {
		_ = c.conn.SetDeadline(time.Now().Add(drainWait))
		tc := tls.Server(c.conn, cfg)
		err := tc.Handshake()
		_ = c.conn.SetDeadline(time.Time{})
		switch {
		case err != nil && wantFail:
			_ = c.conn.Close()
			return errHungUp
		case err != nil:
			return fmt.Errorf("tls handshake: %w", err)
		case wantFail:
			return errors.New("tls handshake succeeded")
		}
		c.conn, c.br = tc, bufio.NewReader(tc)
		return nil
	}
}

// script joins groups of steps.
func script(groups ...[]step) []step {
	var out []step
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
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

// answer reads one command starting with verb and answers it.
func answer(verb, reply string) []step {
	return []step{expect(verb), say(reply)}
}

// mutex guards a buffer written by another goroutine.
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
