package scheduler

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/go-kit/log"
	"go.uber.org/goleak"

	"github.com/mailprobe/mailprobe_exporter/config"
	"github.com/mailprobe/mailprobe_exporter/probe"
	"github.com/mailprobe/mailprobe_exporter/store"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fakeProber counts probes in flight, overall and per target, and can
// hold every probe until released.
type fakeProber struct {
	mu       sync.Mutex
	inFlight map[string]int
	total    int
	maxTotal int
	overlap  bool
	probes   int
	hold     chan struct{} // nil: return at once
	started  chan string
}

func newFake(hold bool) *fakeProber {
	f := &fakeProber{inFlight: map[string]int{}, started: make(chan string, 100)}
	if hold {
		f.hold = make(chan struct{})
	}
	return f
}

func (f *fakeProber) Probe(ctx context.Context, t config.Target) probe.Result {
	f.mu.Lock()
	f.inFlight[t.Name]++
	f.total++
	f.probes++
	f.overlap = f.overlap || f.inFlight[t.Name] > 1
	f.maxTotal = max(f.maxTotal, f.total)
	f.mu.Unlock()
	f.started <- t.Name
	if f.hold != nil {
		select {
		case <-f.hold:
		case <-ctx.Done():
		}
	}
	f.mu.Lock()
	f.inFlight[t.Name]--
	f.total--
	f.mu.Unlock()
	return probe.Result{Target: t.Name, Class: probe.Accepted, Start: time.Now()}
}

func cfg(concurrency int, interval time.Duration, names ...string) *config.Config {
	c := &config.Config{Limits: config.Limits{Concurrency: concurrency, PerIPConnections: 1}}
	for _, n := range names {
		c.Targets = append(c.Targets, config.Target{
			Name: n, Domain: "example.org", Recipients: []string{n},
			Settings: config.Settings{Interval: interval, Timeout: interval},
		})
	}
	return c
}

func TestPhaseIsStableAndSpread(t *testing.T) {
	const n, interval = 10000, time.Minute
	var deciles [10]int
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("user%d@customer%d.example", i, i%97)
		p := Phase(name, interval)
		if p != Phase(name, interval) || p < 0 || p >= interval {
			t.Fatalf("phase of %s is %v: not stable or out of range", name, p)
		}
		deciles[p*10/interval]++
	}
	for i, c := range deciles {
		if c < n/10*8/10 || c > n/10*12/10 {
			t.Errorf("decile %d holds %d of %d targets: not spread", i, c, n)
		}
	}
}

func TestNextRunIsAtThePhaseAfterNow(t *testing.T) {
	now := time.Date(2026, 1, 1, 10, 0, 30, 0, time.UTC)
	cases := []struct {
		phase time.Duration
		want  time.Time
	}{
		{40 * time.Second, now.Add(10 * time.Second)},
		{30 * time.Second, now.Add(time.Minute)},
		{10 * time.Second, now.Add(40 * time.Second)},
	}
	for _, c := range cases {
		if got := nextRun(now, time.Minute, c.phase); !got.Equal(c.want) {
			t.Errorf("phase %v: next run %v, want %v", c.phase, got, c.want)
		}
	}
}

func TestProbeNowQueuesBehindTheProbeInFlight(t *testing.T) {
	f := newFake(true)
	s := New(f, store.New(), log.NewNopLogger())
	defer s.Stop()
	s.Apply(cfg(4, time.Hour, "a@example.org"))

	first := make(chan error, 1)
	go func() { _, err := s.ProbeNow(context.Background(), "a@example.org"); first <- err }()
	<-f.started
	second := make(chan error, 1)
	go func() { _, err := s.ProbeNow(context.Background(), "a@example.org"); second <- err }()

	select {
	case <-f.started:
		t.Fatal("a second probe started while the first was in flight")
	case <-time.After(100 * time.Millisecond):
	}
	f.hold <- struct{}{}
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	<-f.started
	f.hold <- struct{}{}
	if err := <-second; err != nil {
		t.Fatal(err)
	}
	if f.overlap {
		t.Fatal("two probes of one target overlapped")
	}
}

func TestGlobalConcurrencyLimit(t *testing.T) {
	f := newFake(true)
	s := New(f, store.New(), log.NewNopLogger())
	defer s.Stop()
	var names []string
	for i := 0; i < 6; i++ {
		names = append(names, fmt.Sprintf("u%d@example.org", i))
	}
	s.Apply(cfg(2, time.Hour, names...))
	var wg sync.WaitGroup
	for _, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.ProbeNow(context.Background(), n)
		}()
	}
	// Two probes start and hold; a third must wait for one of them.
	<-f.started
	<-f.started
	for released := 0; released < len(names); released++ {
		select {
		case <-f.started:
			t.Fatal("a third probe started while two held the limit of 2")
		case <-time.After(50 * time.Millisecond):
		}
		f.hold <- struct{}{}
		if released+2 < len(names) {
			<-f.started
		}
	}
	wg.Wait()
	if f.maxTotal != 2 {
		t.Fatalf("at most %d probes ran at once, want exactly the limit 2", f.maxTotal)
	}
}

func TestScheduledProbesRepeatAndRecord(t *testing.T) {
	f := newFake(false)
	st := store.New()
	s := New(f, st, log.NewNopLogger())
	s.Apply(cfg(4, 20*time.Millisecond, "a@example.org"))
	deadline := time.After(5 * time.Second)
	for n := 0; n < 3; {
		select {
		case <-f.started:
			n++
		case <-deadline:
			t.Fatal("fewer than 3 scheduled probes within 5s at a 20ms interval")
		}
	}
	s.Stop()
	e, _ := st.Get("a@example.org")
	if e.Probes < 2 {
		t.Fatalf("store holds %d probes, want the finished ones", e.Probes)
	}
}

func TestRemovedTargetStops(t *testing.T) {
	f := newFake(false)
	s := New(f, store.New(), log.NewNopLogger())
	defer s.Stop()
	s.Apply(cfg(4, time.Hour, "a@example.org", "b@example.org"))
	s.Apply(cfg(4, time.Hour, "b@example.org"))
	_, err := s.ProbeNow(context.Background(), "a@example.org")
	if !errors.Is(err, ErrUnknownTarget) {
		t.Fatalf("probe-now of a removed target: err = %v, want ErrUnknownTarget", err)
	}
	if _, err := s.ProbeNow(context.Background(), "b@example.org"); err != nil {
		t.Fatalf("kept target: %v", err)
	}
}

func TestChangedTargetWaitsForItsOldProbe(t *testing.T) {
	f := newFake(true)
	s := New(f, store.New(), log.NewNopLogger())
	defer s.Stop()
	s.Apply(cfg(4, time.Hour, "a@example.org"))
	go s.ProbeNow(context.Background(), "a@example.org")
	<-f.started
	s.Apply(cfg(4, 2*time.Hour, "a@example.org")) // cancels the old runner
	done := make(chan error, 1)
	go func() { _, err := s.ProbeNow(context.Background(), "a@example.org"); done <- err }()
	<-f.started
	f.hold <- struct{}{}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if f.overlap {
		t.Fatal("the new runner probed while the old probe was in flight")
	}
}
