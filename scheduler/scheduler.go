// Package scheduler runs the probe of every target on its own interval,
// spread over the interval by a stable jitter, never two probes of one
// target at once, and at most a fixed number of probes at a time.
package scheduler

import (
	"context"
	"errors"
	"hash/fnv"
	"sync"
	"time"

	"github.com/go-kit/log"

	"github.com/mailprobe/mailprobe_exporter/config"
	"github.com/mailprobe/mailprobe_exporter/probe"
	"github.com/mailprobe/mailprobe_exporter/store"
)

// ErrUnknownTarget is returned by ProbeNow for a target not configured.
var ErrUnknownTarget = errors.New("unknown target")

// Prober probes one target.
type Prober interface {
	Probe(ctx context.Context, t config.Target) probe.Result
}

// Scheduler owns one runner per configured target.
type Scheduler struct {
	prober Prober
	store  *store.Store
	logger log.Logger
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	slots   chan struct{} // global concurrency limit
	runners map[string]*runner
	wg      sync.WaitGroup
}

// New returns a scheduler that records results in st. Nothing runs until
// Apply gives it targets.
func New(p Prober, st *store.Store, logger log.Logger) *Scheduler {
	ctx, cancel := context.WithCancel(context.Background())
	return &Scheduler{
		prober: p, store: st, logger: logger, ctx: ctx, cancel: cancel,
		slots:   make(chan struct{}, 1),
		runners: map[string]*runner{},
	}
}

// Apply makes cfg's targets the scheduled set. Unchanged targets go on
// undisturbed; a changed target's runner is replaced once its probe in
// flight, if any, has ended; removed targets stop.
func (s *Scheduler) Apply(cfg *config.Config) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cap(s.slots) != cfg.Limits.Concurrency {
		s.slots = make(chan struct{}, max(cfg.Limits.Concurrency, 1))
	}
	s.store.SetTargets(cfg.Targets)

	next := make(map[string]*runner, len(cfg.Targets))
	for _, t := range cfg.Targets {
		old := s.runners[t.Name]
		if old != nil && old.target.Key() == t.Key() {
			next[t.Name] = old
			continue
		}
		var after <-chan struct{}
		if old != nil {
			old.cancel()
			after = old.done
		}
		next[t.Name] = s.start(t, after)
	}
	for name, r := range s.runners {
		if _, kept := next[name]; !kept {
			r.cancel()
		}
	}
	s.runners = next
}

// Stop ends every runner and waits for the probes in flight to end.
func (s *Scheduler) Stop() {
	s.cancel()
	s.wg.Wait()
}

// ProbeNow probes the named target at once, after its probe in flight if
// there is one, and returns the result.
func (s *Scheduler) ProbeNow(ctx context.Context, name string) (probe.Result, error) {
	s.mu.Lock()
	r := s.runners[name]
	s.mu.Unlock()
	if r == nil {
		return probe.Result{}, ErrUnknownTarget
	}
	reply := make(chan probe.Result, 1)
	select {
	case r.now <- reply:
	case <-ctx.Done():
		return probe.Result{}, ctx.Err()
	case <-r.done:
		return probe.Result{}, ErrUnknownTarget
	}
	select {
	case res := <-reply:
		return res, nil
	case <-ctx.Done():
		return probe.Result{}, ctx.Err()
	case <-r.done:
		return probe.Result{}, ErrUnknownTarget
	}
}

// acquire takes a global probe slot; the returned func gives it back.
func (s *Scheduler) acquire(ctx context.Context) (func(), error) {
	s.mu.Lock()
	slots := s.slots
	s.mu.Unlock()
	select {
	case slots <- struct{}{}:
		return func() { <-slots }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Phase is the stable offset of a target's probes within its interval:
// derived from its name, so targets spread evenly and a restart keeps
// each target's rhythm.
func Phase(name string, interval time.Duration) time.Duration {
	if interval <= 0 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(name))
	return time.Duration(h.Sum64() % uint64(interval))
}

// nextRun is the first time after now at the target's phase.
func nextRun(now time.Time, interval, phase time.Duration) time.Time {
	base := now.Truncate(interval).Add(phase)
	for !base.After(now) {
		base = base.Add(interval)
	}
	return base
}
