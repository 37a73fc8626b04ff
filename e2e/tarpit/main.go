// Command tarpit accepts SMTP connections and never sends a greeting, the way
// a tarpitting mail server stalls clients it distrusts. The end-to-end test
// points an MX record at it to check the exporter's banner timeout.
//
// Every connection is held for a bounded time and the number of held
// connections is capped, so a misbehaving client cannot pile them up.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"sync/atomic"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.13:25", "address to accept connections on")
	hold := flag.Duration("hold", 30*time.Second, "how long each connection is held")
	maxConns := flag.Int64("max-conns", 32, "connections held at once; more are closed")
	flag.Parse()

	if err := run(*listen, *hold, *maxConns); err != nil {
		fmt.Fprintln(os.Stderr, "tarpit:", err)
		os.Exit(1)
	}
}

func run(addr string, hold time.Duration, maxConns int64) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	log.Printf("tarpit listening on %s, holding connections for %s", ln.Addr(), hold)

	var held atomic.Int64
	for {
		conn, err := ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("accept on %s: %w", addr, err)
		}
		if held.Add(1) > maxConns {
			held.Add(-1)
			conn.Close()
			continue
		}
		go func() {
			defer held.Add(-1)
			stall(conn, hold)
		}()
	}
}

// stall reads and drops whatever the client sends, answers nothing, and
// closes the connection when the hold time is up or the client leaves.
func stall(conn net.Conn, hold time.Duration) {
	defer conn.Close()

	start := time.Now()
	if err := conn.SetDeadline(start.Add(hold)); err != nil {
		return
	}
	n, _ := io.Copy(io.Discard, conn)
	log.Printf("released %s after %s (%d bytes ignored)",
		conn.RemoteAddr(), time.Since(start).Round(time.Millisecond), n)
}
