package webui

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/mailprobe/mailprobe_exporter/scheduler"
	"github.com/mailprobe/mailprobe_exporter/store"
)

// probeNow probes a configured target at once and shows its page. Names
// are looked up among the configured targets only, so no request can aim
// a probe at a host of its choosing. Requests for a target whose probe-now
// is in flight wait for that probe instead of queueing another, and a
// target whose last probe ended less than MinProbeGap ago is not probed.
func (h *Handler) probeNow(w http.ResponseWriter, r *http.Request) {
	name := r.PostFormValue("name")
	e, found := h.opts.Store.Get(name)
	if !found {
		http.Error(w, "no such target", http.StatusNotFound)
		return
	}
	page := targetURL(name)
	limit := probeWaitLimit(e)
	fl := h.flights.join(name, limit, func() bool { return !h.tooSoon(name) },
		func(ctx context.Context) error {
			_, err := h.opts.Prober.ProbeNow(ctx, name)
			return err
		})
	if fl == nil {
		http.Redirect(w, r, page+"&recent=1", http.StatusSeeOther)
		return
	}
	err := fl.wait(r.Context())
	switch {
	case errors.Is(err, scheduler.ErrUnknownTarget):
		http.Error(w, "no such target", http.StatusNotFound)
	case err != nil:
		http.Error(w, "the probe did not finish ("+err.Error()+
			"); its result will show on the target page", http.StatusServiceUnavailable)
	default:
		http.Redirect(w, r, page, http.StatusSeeOther)
	}
}

// tooSoon reports whether the last probe of the target ended less than
// MinProbeGap ago.
func (h *Handler) tooSoon(name string) bool {
	e, found := h.opts.Store.Get(name)
	if !found || e.Last == nil {
		return false
	}
	end := e.Last.Start.Add(e.Last.Duration)
	return h.opts.Now().Sub(end) < h.opts.MinProbeGap
}

// probeWaitLimit bounds a probe-now: the probe in flight, then its own,
// each within the target's timeout, and a minute for a free probe slot.
func probeWaitLimit(e store.Entry) time.Duration {
	return 2*e.Target.Settings.Timeout + time.Minute
}

func targetURL(name string) string {
	return "/target?name=" + url.QueryEscape(name)
}

// flights are the probe-now requests in flight, one per target.
type flights struct {
	mu sync.Mutex
	m  map[string]*flight
}

// flight is one probe-now; done is closed when err is set.
type flight struct {
	done chan struct{}
	err  error
}

// join returns the flight of name, starting run in one when none is in
// flight and allowed says so; it returns nil when it starts nothing.
// The probe runs for at most limit, whether or not anyone still waits.
func (f *flights) join(name string, limit time.Duration, allowed func() bool,
	run func(context.Context) error) *flight {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fl := f.m[name]; fl != nil {
		return fl
	}
	if !allowed() {
		return nil
	}
	if f.m == nil {
		f.m = map[string]*flight{}
	}
	fl := &flight{done: make(chan struct{})}
	f.m[name] = fl
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), limit)
		defer cancel()
		fl.err = run(ctx)
		f.mu.Lock()
		delete(f.m, name)
		f.mu.Unlock()
		close(fl.done)
	}()
	return fl
}

// wait returns the flight's error once it has landed, or ctx's.
func (fl *flight) wait(ctx context.Context) error {
	select {
	case <-fl.done:
		return fl.err
	case <-ctx.Done():
		return ctx.Err()
	}
}
