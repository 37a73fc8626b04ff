// Package store keeps the configured targets and the latest results of
// their probes, for the collector and the status pages. Readers get
// copies, so a scrape never sees half a result.
package store

import (
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/mailprobe/mailprobe_exporter/config"
	"github.com/mailprobe/mailprobe_exporter/probe"
)

// DurationBuckets are the upper bounds of the probe duration histogram.
var DurationBuckets = []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120}

// History bounds, in runs of like probes: failures are kept longer than
// successes, since they are what an operator comes to read.
const (
	keepSuccesses = 20
	keepFailures  = 100
)

// Event is a run of consecutive probes of a target that ended alike: the
// same class, stage, code and enhanced code. Text and Duration are those
// of the latest probe of the run. Folding runs keeps a target that fails
// the same way every cycle at one event, not one per probe.
type Event struct {
	Time     time.Time // end of the latest probe of the run
	First    time.Time // end of the first probe of the run
	Count    int       // probes in the run
	Class    probe.Class
	Stage    string
	Code     int
	Enhanced string
	Text     string
	Duration time.Duration
}

// alike reports whether ev continues the run of e.
func (e Event) alike(ev Event) bool {
	return e.Class == ev.Class && e.Stage == ev.Stage && e.Code == ev.Code &&
		e.Enhanced == ev.Enhanced
}

// Entry is the state of one target.
type Entry struct {
	Target config.Target
	// Last is the latest result; nil until the first probe ends.
	Last *probe.Result
	// LastFailure is the latest failed result, kept for its transcripts.
	LastFailure *probe.Result
	// Since is when the target entered its current class.
	Since    time.Time
	Probes   uint64
	Failures uint64
	// Buckets counts probe durations per DurationBuckets bound
	// (not cumulative); DurationSum is their sum in seconds.
	Buckets     []uint64
	DurationSum float64
	History     []Event // oldest first
}

// Change tells the caller of Record what a result changed, for logging.
type Change struct {
	Previous probe.Class // "" on the first probe
	Changed  bool
}

// Store holds one Entry per configured target.
type Store struct {
	mu      sync.RWMutex
	entries map[string]*Entry
	reload  ReloadStatus
}

// ReloadStatus is the outcome of the latest configuration load.
type ReloadStatus struct {
	Successful  bool
	Time        time.Time // of this load
	SuccessTime time.Time // of the latest successful load
	Err         string
}

// New returns an empty store.
func New() *Store {
	return &Store{entries: map[string]*Entry{}}
}

// SetTargets makes targets the configured set. A target whose
// configuration is unchanged keeps its results and history; a changed one
// starts afresh; a removed one is forgotten.
func (s *Store) SetTargets(targets []config.Target) {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := make(map[string]*Entry, len(targets))
	for _, t := range targets {
		if old, ok := s.entries[t.Name]; ok && old.Target.Key() == t.Key() {
			next[t.Name] = old
			continue
		}
		next[t.Name] = &Entry{Target: t, Buckets: make([]uint64, len(DurationBuckets))}
	}
	s.entries = next
}

// Record stores the result of a probe of a configured target and reports
// whether the target changed class. Results of removed targets are dropped.
func (s *Store) Record(r probe.Result) Change {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[r.Target]
	if !ok {
		return Change{}
	}
	ch := Change{Changed: e.Last == nil || e.Last.Class != r.Class}
	if e.Last != nil {
		ch.Previous = e.Last.Class
	}
	end := r.Start.Add(r.Duration)
	if ch.Changed {
		e.Since = end
	}
	e.Last = &r
	e.Probes++
	if !r.Success() {
		e.Failures++
		e.LastFailure = &r
	}
	e.observe(r.Duration.Seconds())
	e.remember(Event{
		Time: end, First: end, Count: 1, Class: r.Class, Stage: r.Stage, Code: r.Code,
		Enhanced: r.Enhanced, Text: r.Text, Duration: r.Duration,
	})
	return ch
}

func (e *Entry) observe(seconds float64) {
	e.DurationSum += seconds
	i := sort.SearchFloat64s(DurationBuckets, seconds)
	if i < len(e.Buckets) {
		e.Buckets[i]++
	}
}

// remember adds ev to the history: to the latest run when alike, else as
// a new run, dropping the oldest success run beyond keepSuccesses and the
// oldest failure run beyond keepFailures.
func (e *Entry) remember(ev Event) {
	if n := len(e.History); n > 0 && e.History[n-1].alike(ev) {
		last := &e.History[n-1]
		ev.First, ev.Count = last.First, last.Count+1
		*last = ev
		return
	}
	e.History = append(e.History, ev)
	ok := ev.Class == probe.Accepted
	n, limit := 0, keepFailures
	if ok {
		limit = keepSuccesses
	}
	for _, h := range e.History {
		if (h.Class == probe.Accepted) == ok {
			n++
		}
	}
	if n <= limit {
		return
	}
	i := slices.IndexFunc(e.History, func(h Event) bool {
		return (h.Class == probe.Accepted) == ok
	})
	e.History = slices.Delete(e.History, i, i+1)
}

// Snapshot returns a copy of every entry without its history, sorted by
// target name. Results are shared, not copied: they are never changed once
// recorded. Get returns one entry with its history.
func (s *Store) Snapshot() []Entry {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Entry, 0, len(s.entries))
	for _, e := range s.entries {
		c := *e
		c.Buckets = slices.Clone(e.Buckets)
		c.History = nil
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Target.Name < out[j].Target.Name })
	return out
}

// Get returns a copy of the entry of one target.
func (s *Store) Get(name string) (Entry, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, ok := s.entries[name]
	if !ok {
		return Entry{}, false
	}
	c := *e
	c.Buckets = slices.Clone(e.Buckets)
	c.History = slices.Clone(e.History)
	return c, true
}

// SetReload records the outcome of a configuration load.
func (s *Store) SetReload(err error, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reload.Time = at
	s.reload.Successful = err == nil
	s.reload.Err = ""
	if err != nil {
		s.reload.Err = err.Error()
		return
	}
	s.reload.SuccessTime = at
}

// Reload returns the outcome of the latest configuration load.
func (s *Store) Reload() ReloadStatus {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.reload
}
