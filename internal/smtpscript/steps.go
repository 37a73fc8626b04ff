package smtpscript

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"
)

// Say writes s; a failed write fails the script.
func Say(s string) Step {
	return func(c *Conn) error {
		_, err := io.WriteString(c.conn, s)
		return err
	}
}

// Flood writes b and ignores a failed write: the client may close the
// connection before it took everything. It takes octets, not a string, so
// that playing it allocates nothing in a test that measures the client's
// memory.
func Flood(b []byte) Step {
	return func(c *Conn) error {
		_, _ = c.conn.Write(b)
		return nil
	}
}

// Trickle writes s one octet at a time, every interval, until the client
// goes away.
func Trickle(s string, every time.Duration) Step {
	return func(c *Conn) error {
		for i := 0; i < len(s); i++ {
			if _, err := c.conn.Write([]byte{s[i]}); err != nil {
				return nil // the client gave up, as it should
			}
			time.Sleep(every)
		}
		return nil
	}
}

// Expect reads one line and checks that it starts with prefix, in any
// case.
func Expect(prefix string) Step {
	return func(c *Conn) error {
		_ = c.conn.SetReadDeadline(time.Now().Add(DrainWait))
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

// Answer reads one command starting with prefix and sends reply.
func Answer(prefix, reply string) []Step {
	return []Step{Expect(prefix), Say(reply)}
}

// Pause waits d.
func Pause(d time.Duration) Step {
	return func(*Conn) error {
		time.Sleep(d)
		return nil
	}
}

// Silence waits d and fails if the client sends anything meanwhile.
func Silence(d time.Duration) Step {
	return func(c *Conn) error {
		_ = c.conn.SetReadDeadline(time.Now().Add(d))
		b, err := c.br.Peek(1)
		if len(b) > 0 {
			return fmt.Errorf("client spoke during a silence: %q", b)
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			return fmt.Errorf("silence: %w", err)
		}
		return nil
	}
}

// Hangup closes the connection and ends the script.
func Hangup() Step {
	return func(c *Conn) error {
		_ = c.conn.Close()
		return errHungUp
	}
}

// Reset aborts the connection with a TCP RST and ends the script.
func Reset() Step {
	return func(c *Conn) error {
		_ = c.conn.(*net.TCPConn).SetLinger(0)
		_ = c.conn.Close()
		return errHungUp
	}
}

// Discard throws away what the client sends, which need not be lines (a
// TLS ClientHello), until the client closes; it ends the script.
func Discard() Step {
	return func(c *Conn) error {
		_ = c.conn.SetReadDeadline(time.Now().Add(DrainWait))
		_, err := io.Copy(io.Discard, c.br)
		c.sawClose = !errors.Is(err, os.ErrDeadlineExceeded)
		return errDrained
	}
}

// ServeTLS runs the server side of a TLS handshake with cfg and goes on
// over TLS; a failed handshake fails the script.
func ServeTLS(cfg *tls.Config) Step {
	return func(c *Conn) error {
		_ = c.conn.SetDeadline(time.Now().Add(DrainWait))
		tc := tls.Server(c.conn, cfg)
		err := tc.Handshake()
		_ = c.conn.SetDeadline(time.Time{})
		if err != nil {
			return fmt.Errorf("tls handshake: %w", err)
		}
		c.conn, c.br = tc, bufio.NewReader(tc)
		return nil
	}
}

// Join joins groups of steps into one script.
func Join(groups ...[]Step) []Step {
	var out []Step
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}
