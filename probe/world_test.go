package probe_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe_exporter/config"
	"github.com/mailprobe/mailprobe_exporter/mailsim"
	"github.com/mailprobe/mailprobe_exporter/probe"
	"github.com/mailprobe/mailprobe_exporter/resolve"
)

// startWorld starts the simulated world and loads its configuration
// through the real loader.
func startWorld(t *testing.T) (*mailsim.World, *config.Config) {
	t.Helper()
	w, err := mailsim.StartWorld()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	path := filepath.Join(t.TempDir(), "world.yml")
	if err := os.WriteFile(path, []byte(w.Config(time.Minute)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return w, cfg
}

func newProber(w *mailsim.World, cfg *config.Config) *probe.Prober {
	return &probe.Prober{
		Resolver: &resolve.Resolver{Servers: cfg.DNS.Servers, Timeout: cfg.DNS.Timeout},
		Gate:     &probe.IPGate{Limit: 1},
		RootCAs:  w.Roots,
	}
}

func TestWorldOutcomes(t *testing.T) {
	w, cfg := startWorld(t)
	p := newProber(w, cfg)
	t.Run("targets", func(t *testing.T) { probeAll(t, p, cfg) })
	for name, s := range w.Servers {
		if n := s.Stats().Data.Load(); n != 0 {
			t.Errorf("%s received DATA %d times", name, n)
		}
		if s.Behaviour != mailsim.Tarpit &&
			s.Stats().Sessions.Load() != s.Stats().Quits.Load() {
			t.Errorf("%s: %d sessions, %d QUIT", name,
				s.Stats().Sessions.Load(), s.Stats().Quits.Load())
		}
	}
}

// probeAll probes every target of cfg at once and checks its outcome
// against its "expect" label.
func probeAll(t *testing.T, p *probe.Prober, cfg *config.Config) {
	for _, tgt := range cfg.Targets {
		t.Run(tgt.Name, func(t *testing.T) {
			t.Parallel()
			tgt.Settings.BannerTimeout = time.Second
			res := p.Probe(context.Background(), tgt)
			if string(res.Class) != tgt.Labels["expect"] {
				t.Fatalf("class = %s (stage %s, %d %s %q), want %s",
					res.Class, res.Stage, res.Code, res.Enhanced, res.Text, tgt.Labels["expect"])
			}
			if res.Success() != (res.Class == probe.Accepted) {
				t.Errorf("Success() = %v for %s", res.Success(), res.Class)
			}
		})
	}
}

func findTarget(t *testing.T, cfg *config.Config, name string) config.Target {
	t.Helper()
	for _, tgt := range cfg.Targets {
		if tgt.Name == name {
			return tgt
		}
	}
	t.Fatalf("no target %s", name)
	return config.Target{}
}

func TestRejectedRecipientReportsReply(t *testing.T) {
	w, cfg := startWorld(t)
	res := newProber(w, cfg).Probe(context.Background(),
		findTarget(t, cfg, "nobody@ok."+mailsim.Suffix))
	if res.Class != probe.Rejected || res.Stage != "rcpt" || res.Code != 550 ||
		res.Enhanced != "5.1.1" {
		t.Fatalf("got %s at %s: %d %s", res.Class, res.Stage, res.Code, res.Enhanced)
	}
	if len(res.Legs) != 1 || !res.Legs[0].Deciding {
		t.Fatalf("legs = %+v, want one deciding leg", res.Legs)
	}
	tls := res.Legs[0].Session.TLS
	if tls == nil || !tls.Trusted {
		t.Fatalf("TLS state = %+v, want a trusted session", tls)
	}
}

func TestDeadPrimaryMovesToBackup(t *testing.T) {
	w, cfg := startWorld(t)
	tgt := findTarget(t, cfg, "alice@backup."+mailsim.Suffix)
	tgt.Settings.MX = config.MXWalk
	res := newProber(w, cfg).Probe(context.Background(), tgt)
	if res.Class != probe.Accepted || len(res.Legs) != 2 {
		t.Fatalf("got %s with %d legs, want accepted after 2", res.Class, len(res.Legs))
	}
	if res.Legs[0].Class != probe.ConnectError || res.Legs[0].Deciding {
		t.Errorf("first leg = %s deciding=%v, want a non-deciding connect_error",
			res.Legs[0].Class, res.Legs[0].Deciding)
	}
	if !res.Legs[1].Deciding || res.Legs[1].MX != "mx1.ok."+mailsim.Suffix {
		t.Errorf("second leg = %+v, want the deciding backup", res.Legs[1])
	}
}

func TestPrimaryModeProbesOnlyLowestPreference(t *testing.T) {
	w, cfg := startWorld(t)
	tgt := findTarget(t, cfg, "alice@backup."+mailsim.Suffix)
	tgt.Settings.MX = config.MXPrimary
	res := newProber(w, cfg).Probe(context.Background(), tgt)
	if res.Class != probe.ConnectError || len(res.Legs) != 1 {
		t.Fatalf("got %s with %d legs, want connect_error from the primary only",
			res.Class, len(res.Legs))
	}
}

func TestGreylistedThenAccepted(t *testing.T) {
	w, cfg := startWorld(t)
	tgt := findTarget(t, cfg, "alice@grey."+mailsim.Suffix)
	w.Servers["mx.grey."+mailsim.Suffix].Delay = 0
	p := newProber(w, cfg)
	first := p.Probe(context.Background(), tgt)
	if first.Class != probe.Greylisted || first.Code != 450 {
		t.Fatalf("first probe = %s %d, want greylisted 450", first.Class, first.Code)
	}
	second := p.Probe(context.Background(), tgt)
	if second.Class != probe.Accepted {
		t.Fatalf("second probe = %s, want accepted", second.Class)
	}
}

func TestNullMXMakesNoConnection(t *testing.T) {
	w, cfg := startWorld(t)
	res := newProber(w, cfg).Probe(context.Background(),
		findTarget(t, cfg, "nullmx."+mailsim.Suffix))
	if res.Class != probe.NullMX || len(res.Legs) != 0 {
		t.Fatalf("got %s with %d legs, want null_mx and no leg", res.Class, len(res.Legs))
	}
}

func TestGateKeepsOneConnectionPerIP(t *testing.T) {
	w, cfg := startWorld(t)
	p := newProber(w, cfg)
	dial := &countingDialer{}
	p.Dial = dial.DialContext
	tgt := findTarget(t, cfg, "alice@ok."+mailsim.Suffix)
	done := make(chan struct{})
	for i := 0; i < 8; i++ {
		go func() {
			p.Probe(context.Background(), tgt)
			done <- struct{}{}
		}()
	}
	for i := 0; i < 8; i++ {
		<-done
	}
	if dial.total.Load() != 8 || dial.maxOpen.Load() != 1 {
		t.Fatalf("%d connections, most open at once %d; want 8 and 1",
			dial.total.Load(), dial.maxOpen.Load())
	}
	s := w.Servers["mx1.ok."+mailsim.Suffix].Stats()
	if s.Quits.Load() != 8 {
		t.Errorf("QUIT sent in %d of 8 sessions", s.Quits.Load())
	}
}

// countingDialer counts the prober's connections, as the prober sees them:
// a connection is open from its dial until the prober closes it.
type countingDialer struct {
	mu      sync.Mutex
	open    int
	total   atomic.Int64
	maxOpen atomic.Int64
}

func (d *countingDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.open++
	d.total.Add(1)
	d.maxOpen.Store(max(d.maxOpen.Load(), int64(d.open)))
	d.mu.Unlock()
	return &countedConn{Conn: c, d: d}, nil
}

type countedConn struct {
	net.Conn
	d    *countingDialer
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() {
		c.d.mu.Lock()
		c.d.open--
		c.d.mu.Unlock()
	})
	return c.Conn.Close()
}
