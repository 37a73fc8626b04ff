package probe_test

import (
	"net"
	"testing"
	"time"
	"runtime"
	"context"
	"strings"
	"github.com/mailprobe/mailprobe_exporter/probe"
)

func TestScratchFDLeak(t *testing.T) {
	base := takeBaseline(t)
	t.Logf("fds %d", base.fds)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	_ = ln
	base.check(t)
}

func TestScratchGoLeak(t *testing.T) {
	base := takeBaseline(t)
	go func() { time.Sleep(time.Hour) }()
	base.check(t)
}

func TestScratchAlloc(t *testing.T) {
	megabyte := []byte("250-" + strings.Repeat("a", 1<<20) + "\r\n")
	for _, sc := range [][]move{moves(greet, []move{expect("EHLO"), flood(megabyte)}), accepts} {
	peer := startPeer(t, sc)
	tgt := hostileTarget(peer.port(), nil)
	p := &probe.Prober{Resolver: fixedMX{}}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	res := p.Probe(context.Background(), tgt)
	runtime.ReadMemStats(&after)
	t.Logf("%s alloc %d", res.Class, after.TotalAlloc-before.TotalAlloc)
	peer.stop(t)
	}
}
