// Package testdns serves a DNS handler for tests on one port of
// 127.0.0.1, over UDP and, when asked, TCP, and parses the zones that
// such handlers answer from.
package testdns

import (
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// Zone parses records, each in zone file syntax, into the records of each
// owner name, the names in lower case.
func Zone(records ...string) (map[string][]dns.RR, error) {
	zone := map[string][]dns.RR{}
	for _, text := range records {
		rr, err := dns.NewRR(text)
		if err != nil {
			return nil, fmt.Errorf("bad test record %q: %w", text, err)
		}
		name := strings.ToLower(rr.Header().Name)
		zone[name] = append(zone[name], rr)
	}
	return zone, nil
}

// Server is a DNS handler served on one port of 127.0.0.1.
type Server struct {
	// Addr is the address, host and port, the handler is served on.
	Addr string

	servers []*dns.Server
	done    []chan error
}

// Start serves h over UDP and, with withTCP, over TCP on the same port;
// without it, a TCP connection to the port is refused. The server stops
// when the test ends, if Stop has not stopped it before.
func Start(t testing.TB, h dns.Handler, withTCP bool) *Server {
	t.Helper()
	pc, ln := listenPair(t, withTCP)
	s := &Server{Addr: pc.LocalAddr().String()}
	s.run(t, &dns.Server{PacketConn: pc, Handler: h})
	if ln != nil {
		s.run(t, &dns.Server{Listener: ln, Handler: h})
	}
	t.Cleanup(func() { s.Stop(t) })
	return s
}

// Stop shuts the server down and waits for it; calling it again does
// nothing.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	for i, srv := range s.servers {
		if err := srv.Shutdown(); err != nil {
			t.Errorf("stop fake DNS server: %v", err)
		}
		<-s.done[i]
	}
	s.servers, s.done = nil, nil
}

// listenPair listens on a UDP port of 127.0.0.1 and, when withTCP is set,
// on the same TCP port, trying other ports while that one is taken.
func listenPair(t testing.TB, withTCP bool) (net.PacketConn, net.Listener) {
	t.Helper()
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("listen udp: %v", err)
		}
		if !withTCP {
			return pc, nil
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, ln
		}
		_ = pc.Close()
	}
	t.Fatal("no port free on both UDP and TCP")
	return nil, nil
}

// run starts srv and waits until it serves.
func (s *Server) run(t testing.TB, srv *dns.Server) {
	t.Helper()
	started := make(chan struct{})
	done := make(chan error, 1)
	srv.NotifyStartedFunc = func() { close(started) }
	go func() { done <- srv.ActivateAndServe() }()
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("start fake DNS server: %v", err)
	}
	s.servers = append(s.servers, srv)
	s.done = append(s.done, done)
}
