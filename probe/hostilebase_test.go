package probe_test

import (
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mailprobe/mailprobe_exporter/config"
	"github.com/mailprobe/mailprobe_exporter/resolve"
)

// baseline is the state a probe must leave the process in: the same
// goroutines (checked with goleak) and no more open file descriptors.
type baseline struct {
	goroutines goleak.Option
	fds        int // -1 where /proc/self/fd cannot be read
}

// takeBaseline records the state before a case. A listener is opened and
// closed first, so the descriptors the runtime keeps for its network
// poller already exist and are counted.
func takeBaseline(t *testing.T) baseline {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	_ = ln.Close()
	return baseline{goroutines: goleak.IgnoreCurrent(), fds: countFDs()}
}

// check fails the test when goroutines or descriptors were left behind.
// Closing a descriptor can lag its last use a little, so the count gets a
// moment to come down.
func (b baseline) check(t *testing.T) {
	t.Helper()
	goleak.VerifyNone(t, b.goroutines)
	if b.fds < 0 {
		return
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		n := countFDs()
		if n <= b.fds {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%d file descriptors open after the case, %d before: %v",
				n, b.fds, openFDs())
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// countFDs counts the open descriptors of the process, or returns -1 on
// systems without /proc/self/fd.
func countFDs() int {
	if runtime.GOOS != "linux" {
		return -1
	}
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(entries)
}

// openFDs describes the open descriptors, for the message of a failure.
func openFDs() []string {
	entries, _ := os.ReadDir("/proc/self/fd")
	var out []string
	for _, e := range entries {
		target, _ := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		out = append(out, e.Name()+"->"+target)
	}
	return out
}

// fixedMX answers every MX resolution with one host on 127.0.0.1.
type fixedMX struct{}

func (fixedMX) ResolveMX(_ context.Context, domain string, _ resolve.Family) resolve.Answer {
	return resolve.Answer{
		Domain: domain, Status: resolve.StatusOK, Rcode: "NOERROR",
		Hosts: []resolve.Host{{
			Name: hostileMX, Preference: 10,
			Addrs: []netip.Addr{netip.MustParseAddr("127.0.0.1")},
		}},
	}
}

// hostileTarget is the target of the scripted cases: short waits, so a
// misbehaving peer costs little time, and the peer's port.
func hostileTarget(port int, rcpts []string) config.Target {
	s := config.DefaultSettings()
	s.Timeout = 10 * time.Second
	s.BannerTimeout = time.Second
	s.CommandTimeout = time.Second
	s.HeloName = "probe.test"
	s.MailFrom = "probe@probe.test"
	s.Port = port
	if len(rcpts) == 0 {
		rcpts = []string{"alice@customer.test"}
	}
	return config.Target{
		Name: rcpts[0], Domain: "customer.test", Recipients: rcpts, Settings: s,
	}
}

// allowedVerbs are the only commands a probe may send.
var allowedVerbs = []string{"EHLO", "HELO", "STARTTLS", "MAIL", "RCPT", "RSET", "QUIT"}

// checkConns checks what the peer saw on each connection: its script
// played through, CRLF-ended lines, only allowed commands (never DATA),
// and a connection the prober closed unless the peer hung up first. When
// verbs is not nil, it also checks the commands of each connection.
func checkConns(t *testing.T, conns []connRecord, want int, verbs [][]string) {
	t.Helper()
	if len(conns) != want {
		t.Errorf("%d connections, want %d", len(conns), want)
	}
	for i, c := range conns {
		if c.Err != nil {
			t.Errorf("connection %d: script: %v", i, c.Err)
		}
		if !c.HungUp && !c.SawClose {
			t.Errorf("connection %d: the prober did not close it", i)
		}
		got := connVerbs(t, i, c.Lines)
		if verbs != nil && i < len(verbs) && !slices.Equal(got, verbs[i]) {
			t.Errorf("connection %d: commands %v, want %v", i, got, verbs[i])
		}
	}
}

// connVerbs returns the verbs of lines and checks each line.
func connVerbs(t *testing.T, conn int, lines []string) []string {
	t.Helper()
	verbs := []string{}
	for _, line := range lines {
		if !strings.HasSuffix(line, "\r\n") {
			t.Errorf("connection %d: line %q does not end in CRLF", conn, line)
		}
		verb, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		verb = strings.ToUpper(verb)
		if !slices.Contains(allowedVerbs, verb) {
			t.Errorf("connection %d: prober sent %q", conn, line)
		}
		verbs = append(verbs, verb)
	}
	return verbs
}
