package scheduler

import (
	"context"
	"time"

	"github.com/go-kit/log/level"

	"github.com/mailprobe/mailprobe_exporter/config"
	"github.com/mailprobe/mailprobe_exporter/probe"
	"github.com/mailprobe/mailprobe_exporter/store"
)

// runner probes one target, one probe at a time.
type runner struct {
	target config.Target
	cancel context.CancelFunc
	now    chan chan probe.Result // probe-now requests
	done   chan struct{}          // closed when the runner has ended
}

// start launches the runner of t once after is closed (nil: at once).
func (s *Scheduler) start(t config.Target, after <-chan struct{}) *runner {
	ctx, cancel := context.WithCancel(s.ctx)
	r := &runner{
		target: t, cancel: cancel,
		now:  make(chan chan probe.Result),
		done: make(chan struct{}),
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(r.done)
		if after != nil {
			select {
			case <-after:
			case <-ctx.Done():
				return
			}
		}
		s.loop(ctx, r)
	}()
	return r
}

func (s *Scheduler) loop(ctx context.Context, r *runner) {
	interval := r.target.Settings.Interval
	phase := Phase(r.target.Name, interval)
	timer := time.NewTimer(time.Until(nextRun(time.Now(), interval, phase)))
	defer timer.Stop()
	for {
		var waiters []chan probe.Result
		select {
		case <-ctx.Done():
			return
		case w := <-r.now:
			waiters = append(waiters, w)
		case <-timer.C:
			timer.Reset(time.Until(nextRun(time.Now(), interval, phase)))
		}
		res, ok := s.probeOnce(ctx, r.target)
		for _, w := range waiters {
			w <- res
		}
		if !ok {
			return
		}
	}
}

// probeOnce runs one probe within the global limit and records it. It
// reports false when the runner was stopped meanwhile; the result of a
// stopped probe is then not recorded.
func (s *Scheduler) probeOnce(ctx context.Context, t config.Target) (probe.Result, bool) {
	release, err := s.acquire(ctx)
	if err != nil {
		return probe.Result{}, false
	}
	res := s.prober.Probe(ctx, t)
	release()
	if ctx.Err() != nil {
		return res, false
	}
	s.report(t, res, s.store.Record(res))
	return res, true
}

// report logs a change of state at info, and every probe at debug.
func (s *Scheduler) report(t config.Target, res probe.Result, ch store.Change) {
	kv := []any{
		"target", t.Name, "result", res.Class, "stage", res.Stage,
		"code", res.Code, "enhanced", res.Enhanced, "text", res.Text,
		"duration", res.Duration.Round(time.Millisecond),
	}
	level.Debug(s.logger).Log(append([]any{"msg", "probe finished"}, kv...)...)
	if !ch.Changed {
		return
	}
	msg := "target state changed"
	switch {
	case res.Success():
		msg = "target reachable"
		if ch.Previous != "" {
			msg = "target recovered"
		}
	case ch.Previous == "" || ch.Previous == probe.Accepted:
		msg = "target unreachable"
	}
	kv = append(kv, "previous", ch.Previous)
	level.Info(s.logger).Log(append([]any{"msg", msg}, kv...)...)
}
