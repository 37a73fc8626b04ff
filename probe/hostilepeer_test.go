package probe_test

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// peerDrainWait bounds how long a scripted peer waits for the prober to
// close a connection once its script is played.
const peerDrainWait = 5 * time.Second

// move is one step of a scripted SMTP peer on one connection.
type move func(c *peerConn) error

// errPeerHungUp ends a script whose peer closed the connection itself.
var errPeerHungUp = errors.New("peer hung up")

// peerConn is the peer's side of one connection.
type peerConn struct {
	conn  net.Conn
	br    *bufio.Reader
	lines []string // lines received, endings included
}

// connRecord is what the peer saw on one connection.
type connRecord struct {
	lines     []string
	err       error // a move of the script failed
	hungUp    bool  // the peer closed the connection itself
	sawClosed bool  // the prober closed the connection
}

// scriptedPeer plays one script per connection, to the connections in the
// order they arrive, one connection at a time.
type scriptedPeer struct {
	ln      net.Listener
	scripts [][]move
	done    chan struct{}

	mu    sync.Mutex
	conns []connRecord
}

// startPeer listens on 127.0.0.1:0 and plays scripts to the connections
// that arrive; a connection beyond the last script is refused, as the
// listener is closed by then.
func startPeer(t *testing.T, scripts ...[]move) *scriptedPeer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	p := &scriptedPeer{ln: ln, scripts: scripts, done: make(chan struct{})}
	go p.serve()
	t.Cleanup(func() { p.stop(t) })
	return p
}

// port is the TCP port the peer listens on.
func (p *scriptedPeer) port() int {
	return p.ln.Addr().(*net.TCPAddr).Port
}

// stop closes the listener and waits for the connection being played.
func (p *scriptedPeer) stop(t *testing.T) []connRecord {
	t.Helper()
	_ = p.ln.Close()
	select {
	case <-p.done:
	case <-time.After(2 * peerDrainWait):
		t.Fatal("scripted peer still running")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.conns
}

func (p *scriptedPeer) serve() {
	defer close(p.done)
	defer func() { _ = p.ln.Close() }()
	for _, script := range p.scripts {
		conn, err := p.ln.Accept()
		if err != nil {
			return
		}
		rec := play(conn, script)
		p.mu.Lock()
		p.conns = append(p.conns, rec)
		p.mu.Unlock()
	}
}

// play runs one script on conn, then reads what the prober still sends
// until it closes the connection.
func play(conn net.Conn, script []move) connRecord {
	c := &peerConn{conn: conn, br: bufio.NewReader(conn)}
	defer func() { _ = c.conn.Close() }()
	var rec connRecord
	for i, m := range script {
		err := m(c)
		if errors.Is(err, errPeerHungUp) {
			rec.hungUp = true
			break
		}
		if err != nil {
			rec.err = fmt.Errorf("move %d: %w", i, err)
			break
		}
	}
	if !rec.hungUp {
		rec.sawClosed = c.drain()
	}
	rec.lines = c.lines
	return rec
}

// drain reads until the prober closes the connection, and reports
// whether it did within peerDrainWait.
func (c *peerConn) drain() bool {
	_ = c.conn.SetReadDeadline(time.Now().Add(peerDrainWait))
	for {
		line, err := c.br.ReadString('\n')
		if line != "" {
			c.lines = append(c.lines, line)
		}
		if err != nil {
			return !errors.Is(err, os.ErrDeadlineExceeded)
		}
	}
}

// say writes s; a failed write fails the script.
func say(s string) move {
	return func(c *peerConn) error {
		_, err := io.WriteString(c.conn, s)
		return err
	}
}

// flood writes b and ignores a failed write: the prober is expected to
// give up before it took everything.
func flood(b []byte) move {
	return func(c *peerConn) error {
		_, _ = c.conn.Write(b)
		return nil
	}
}

// trickle writes s one octet every interval, until the prober goes away.
func trickle(s string, every time.Duration) move {
	return func(c *peerConn) error {
		for i := 0; i < len(s); i++ {
			if _, err := c.conn.Write([]byte{s[i]}); err != nil {
				return nil
			}
			time.Sleep(every)
		}
		return nil
	}
}

// expect reads one line and checks that it starts with prefix, in any case.
func expect(prefix string) move {
	return func(c *peerConn) error {
		_ = c.conn.SetReadDeadline(time.Now().Add(peerDrainWait))
		line, err := c.br.ReadString('\n')
		if line != "" {
			c.lines = append(c.lines, line)
		}
		if err != nil {
			return fmt.Errorf("expect %s: %w", prefix, err)
		}
		if !strings.HasPrefix(strings.ToUpper(line), strings.ToUpper(prefix)) {
			return fmt.Errorf("expect %s: got %q", prefix, line)
		}
		return nil
	}
}

// answer reads one command starting with prefix and sends reply.
func answer(prefix, reply string) []move {
	return []move{expect(prefix), say(reply)}
}

// silence waits d and fails if the prober sends anything meanwhile.
func silence(d time.Duration) move {
	return func(c *peerConn) error {
		_ = c.conn.SetReadDeadline(time.Now().Add(d))
		b, err := c.br.Peek(1)
		if len(b) > 0 {
			return fmt.Errorf("prober spoke during a silence: %q", b)
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			return fmt.Errorf("silence: %w", err)
		}
		return nil
	}
}

// pause waits d.
func pause(d time.Duration) move {
	return func(*peerConn) error {
		time.Sleep(d)
		return nil
	}
}

// hangup closes the connection.
func hangup() move {
	return func(c *peerConn) error {
		_ = c.conn.Close()
		return errPeerHungUp
	}
}

// reset aborts the connection with a TCP RST.
func reset() move {
	return func(c *peerConn) error {
		_ = c.conn.(*net.TCPConn).SetLinger(0)
		_ = c.conn.Close()
		return errPeerHungUp
	}
}

// startTLS runs the server side of a TLS handshake with cfg and goes on
// over TLS.
func startTLS(cfg *tls.Config) move {
	return func(c *peerConn) error {
		_ = c.conn.SetDeadline(time.Now().Add(peerDrainWait))
		tc := tls.Server(c.conn, cfg)
		if err := tc.Handshake(); err != nil {
			return fmt.Errorf("tls handshake: %w", err)
		}
		_ = c.conn.SetDeadline(time.Time{})
		c.conn, c.br = tc, bufio.NewReader(tc)
		return nil
	}
}

// discard reads whatever the prober sends, lines or not, until it closes
// the connection; the drain that follows then sees the close at once.
func discard() move {
	return func(c *peerConn) error {
		_ = c.conn.SetReadDeadline(time.Now().Add(peerDrainWait))
		_, err := io.Copy(io.Discard, c.br)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return errors.New("prober did not close the connection")
		}
		return nil
	}
}

// moves joins groups of moves into one script.
func moves(groups ...[]move) []move {
	var out []move
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}
