// Package smtpscript is a scripted SMTP server for tests: it listens on
// loopback and plays one script of steps to each connection that arrives,
// recording what the client sent and whether it closed the connection.
package smtpscript

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"
)

// DrainWait bounds how long a server waits for the client to close a
// connection once its script is played.
const DrainWait = 5 * time.Second

// Step is one move of a script on one connection. A step ends the script
// early by returning an error: a failure, or one of the sentinels of the
// steps that close or drain the connection themselves.
type Step func(c *Conn) error

// Sentinels that end a script early: errHungUp when the server closed the
// connection itself, errDrained when a step already read until the client
// closed.
var (
	errHungUp  = errors.New("server hung up")
	errDrained = errors.New("drained")
)

// Conn is the server side of one scripted connection.
type Conn struct {
	conn     net.Conn
	br       *bufio.Reader
	lines    []string
	sawClose bool
}

// Record is what the server saw on one connection.
type Record struct {
	Lines    []string // lines received, endings included
	Err      error    // a step of the script failed
	HungUp   bool     // the script ended the connection itself
	SawClose bool     // the client closed the connection
}

// Server plays one script per connection, to the connections in the
// order they arrive, one connection at a time.
type Server struct {
	ln      net.Listener
	scripts [][]Step
	done    chan struct{}

	mu      sync.Mutex
	records []Record
}

// Start listens on 127.0.0.1:0 and plays scripts to the connections that
// arrive. The listener is closed once the last script's connection is
// accepted, so a connection beyond the last script is refused. The server
// is stopped when the test ends.
func Start(t testing.TB, scripts ...[]Step) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	s := &Server{ln: ln, scripts: scripts, done: make(chan struct{})}
	go s.serve()
	t.Cleanup(func() { s.Stop(t) })
	return s
}

// Addr is the address the server listens on.
func (s *Server) Addr() netip.AddrPort {
	return s.ln.Addr().(*net.TCPAddr).AddrPort()
}

// Port is the TCP port the server listens on.
func (s *Server) Port() int {
	return s.ln.Addr().(*net.TCPAddr).Port
}

// Wait returns what the server saw once every script and its drain are
// over; it fails the test if that takes longer than twice DrainWait.
func (s *Server) Wait(t testing.TB) []Record {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(2 * DrainWait):
		t.Fatal("scripted server still running")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.records
}

// Stop closes the listener, so no further connection is played, and
// returns what Wait returns.
func (s *Server) Stop(t testing.TB) []Record {
	t.Helper()
	_ = s.ln.Close()
	return s.Wait(t)
}

func (s *Server) serve() {
	defer close(s.done)
	defer func() { _ = s.ln.Close() }()
	for i, script := range s.scripts {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		if i == len(s.scripts)-1 {
			_ = s.ln.Close()
		}
		rec := play(conn, script)
		s.mu.Lock()
		s.records = append(s.records, rec)
		s.mu.Unlock()
	}
}

// play runs one script on conn, then, unless the script ended the
// connection, reads what the client still sends until it closes.
func play(conn net.Conn, script []Step) Record {
	c := &Conn{conn: conn, br: bufio.NewReader(conn)}
	defer func() { _ = c.conn.Close() }()
	var rec Record
	err := c.run(script)
	switch {
	case errors.Is(err, errHungUp):
		rec.HungUp = true
	case errors.Is(err, errDrained):
	default:
		rec.Err = err
		c.drain()
	}
	rec.Lines, rec.SawClose = c.lines, c.sawClose
	return rec
}

// run plays the steps in order; the first error ends the script.
func (c *Conn) run(script []Step) error {
	for i, st := range script {
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
// client closed the connection within DrainWait.
func (c *Conn) drain() {
	_ = c.conn.SetReadDeadline(time.Now().Add(DrainWait))
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
