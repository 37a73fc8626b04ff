package store

import (
	"testing"
	"time"

	"github.com/mailprobe/mailprobe_exporter/config"
	"github.com/mailprobe/mailprobe_exporter/probe"
)

func tgt(name string, interval time.Duration) config.Target {
	return config.Target{
		Name: name, Domain: "example.org", Recipients: []string{name},
		Settings: config.Settings{Interval: interval, Timeout: interval},
	}
}

func result(name string, class probe.Class, at time.Time) probe.Result {
	return probe.Result{Target: name, Class: class, Start: at, Duration: time.Second}
}

func TestRecordTracksSinceAndCounters(t *testing.T) {
	st := New()
	st.SetTargets([]config.Target{tgt("a@example.org", time.Minute)})
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	steps := []struct {
		class   probe.Class
		changed bool
		since   time.Time
	}{
		{probe.Accepted, true, t0.Add(time.Second)},
		{probe.Accepted, false, t0.Add(time.Second)},
		{probe.Greylisted, true, t0.Add(2*time.Minute + time.Second)},
		{probe.Greylisted, false, t0.Add(2*time.Minute + time.Second)},
	}
	for i, s := range steps {
		ch := st.Record(result("a@example.org", s.class, t0.Add(time.Duration(i)*time.Minute)))
		if ch.Changed != s.changed {
			t.Errorf("step %d: changed = %v, want %v", i, ch.Changed, s.changed)
		}
		e, _ := st.Get("a@example.org")
		if !e.Since.Equal(s.since) {
			t.Errorf("step %d: since = %v, want %v", i, e.Since, s.since)
		}
	}
	e, _ := st.Get("a@example.org")
	if e.Probes != 4 || e.Failures != 2 || e.LastFailure == nil {
		t.Fatalf("probes %d failures %d last failure %v", e.Probes, e.Failures, e.LastFailure)
	}
}

func TestHistoryKeepsFailuresLongerThanSuccesses(t *testing.T) {
	st := New()
	st.SetTargets([]config.Target{tgt("a@example.org", time.Minute)})
	t0 := time.Now()
	for i := 0; i < 500; i++ {
		class := probe.Accepted
		if i%5 == 0 {
			class = probe.Timeout
		}
		st.Record(result("a@example.org", class, t0.Add(time.Duration(i)*time.Minute)))
	}
	e, _ := st.Get("a@example.org")
	var ok, failed int
	for _, h := range e.History {
		if h.Class == probe.Accepted {
			ok++
		} else {
			failed++
		}
	}
	if ok != keepSuccesses || failed != keepFailures {
		t.Fatalf("history holds %d successes and %d failures, want %d and %d",
			ok, failed, keepSuccesses, keepFailures)
	}
	for i := 1; i < len(e.History); i++ {
		if e.History[i].Time.Before(e.History[i-1].Time) {
			t.Fatal("history is not in time order")
		}
	}
}

func TestSetTargetsKeepsUnchangedAndDropsRemoved(t *testing.T) {
	st := New()
	st.SetTargets([]config.Target{tgt("a@example.org", time.Minute), tgt("b@example.org", time.Minute)})
	now := time.Now()
	st.Record(result("a@example.org", probe.Accepted, now))
	st.Record(result("b@example.org", probe.Accepted, now))

	st.SetTargets([]config.Target{tgt("a@example.org", time.Minute), tgt("b@example.org", time.Hour)})
	if a, _ := st.Get("a@example.org"); a.Last == nil {
		t.Error("unchanged target lost its result")
	}
	if b, _ := st.Get("b@example.org"); b.Last != nil {
		t.Error("changed target kept the result of its old configuration")
	}

	st.SetTargets([]config.Target{tgt("b@example.org", time.Hour)})
	if _, ok := st.Get("a@example.org"); ok {
		t.Error("removed target is still stored")
	}
	if ch := st.Record(result("a@example.org", probe.Accepted, now)); ch.Changed {
		t.Error("a result of a removed target was recorded")
	}
	if n := len(st.Snapshot()); n != 1 {
		t.Errorf("snapshot has %d entries, want 1", n)
	}
}

func TestDurationBuckets(t *testing.T) {
	st := New()
	st.SetTargets([]config.Target{tgt("a@example.org", time.Minute)})
	for _, d := range []time.Duration{40 * time.Millisecond, time.Second, 500 * time.Second} {
		st.Record(probe.Result{Target: "a@example.org", Class: probe.Accepted, Duration: d})
	}
	e, _ := st.Get("a@example.org")
	want := map[float64]uint64{0.05: 1, 1: 1}
	for i, bound := range DurationBuckets {
		if e.Buckets[i] != want[bound] {
			t.Errorf("bucket le=%v holds %d, want %d", bound, e.Buckets[i], want[bound])
		}
	}
	if e.DurationSum != 501.04 {
		t.Errorf("sum = %v, want 501.04", e.DurationSum)
	}
}

func TestLikeProbesFoldIntoOneRun(t *testing.T) {
	st := New()
	st.SetTargets([]config.Target{tgt("a@example.org", time.Minute)})
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	probes := []probe.Result{
		{Class: probe.Timeout, Stage: "banner", Text: "read tcp 127.0.0.1:40001: i/o timeout"},
		{Class: probe.Timeout, Stage: "banner", Text: "read tcp 127.0.0.1:40002: i/o timeout"},
		{Class: probe.Timeout, Stage: "banner", Text: "read tcp 127.0.0.1:40003: i/o timeout"},
		{Class: probe.Timeout, Stage: "rcpt", Text: "read tcp 127.0.0.1:40004: i/o timeout"},
		{Class: probe.Accepted, Stage: "rcpt", Code: 250},
		{Class: probe.Accepted, Stage: "rcpt", Code: 250},
	}
	for i, r := range probes {
		r.Target, r.Start = "a@example.org", t0.Add(time.Duration(i)*time.Minute)
		st.Record(r)
	}
	e, _ := st.Get("a@example.org")
	want := []struct {
		stage string
		count int
		first time.Time
		text  string
	}{
		{"banner", 3, t0, "read tcp 127.0.0.1:40003: i/o timeout"},
		{"rcpt", 1, t0.Add(3 * time.Minute), "read tcp 127.0.0.1:40004: i/o timeout"},
		{"rcpt", 2, t0.Add(4 * time.Minute), ""},
	}
	if len(e.History) != len(want) {
		t.Fatalf("history has %d runs, want %d: %+v", len(e.History), len(want), e.History)
	}
	for i, w := range want {
		h := e.History[i]
		if h.Stage != w.stage || h.Count != w.count || !h.First.Equal(w.first) || h.Text != w.text {
			t.Errorf("run %d = %s ×%d from %v %q, want %s ×%d from %v %q",
				i, h.Stage, h.Count, h.First, h.Text, w.stage, w.count, w.first, w.text)
		}
	}
	if last := e.History[2]; !last.Time.Equal(t0.Add(5 * time.Minute)) {
		t.Errorf("latest run ends %v, want the end of its latest probe", last.Time)
	}
}
