package collector

import (
	"fmt"
	"io"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/mailprobe/mailprobe_exporter/config"
	"github.com/mailprobe/mailprobe_exporter/dialogue"
	"github.com/mailprobe/mailprobe_exporter/probe"
	"github.com/mailprobe/mailprobe_exporter/resolve"
	"github.com/mailprobe/mailprobe_exporter/store"
)

// typicalResult is an accepted probe over one TLS leg, with a transcript
// of the usual length.
func typicalResult(name, domain string, at time.Time) probe.Result {
	var lines []dialogue.Line
	for i := 0; i < 24; i++ {
		lines = append(lines, dialogue.Line{At: time.Duration(i) * time.Millisecond, Dir: '<',
			Text: "250-mx.example.net at your service, [192.0.2.1]"})
	}
	return probe.Result{
		Target: name, Domain: domain, Class: probe.Accepted, Stage: "rcpt", Code: 250,
		Enhanced: "2.1.5", Text: "Ok", Start: at, Duration: 80 * time.Millisecond,
		DNS: resolve.Answer{Status: resolve.StatusOK, Duration: time.Millisecond,
			Hosts:   []resolve.Host{{Name: "mx." + domain, Preference: 10}},
			Records: []string{domain + ".\t300\tIN\tMX\t10 mx." + domain + "."}},
		Legs: []probe.Leg{{
			MX: "mx." + domain, Preference: 10, IP: netip.MustParseAddr("192.0.2.1"),
			Class: probe.Accepted, Deciding: true,
			Session: dialogue.Session{
				Stage: dialogue.StageDone, Banner: &dialogue.Reply{Code: 220},
				Rcpts:      []dialogue.Rcpt{{Recipient: name, Reply: dialogue.Reply{Code: 250}}},
				Phases:     map[dialogue.Stage]time.Duration{dialogue.StageConnect: time.Millisecond},
				TLS:        &dialogue.TLSState{Version: "TLS 1.3", NotAfter: at, Trusted: true},
				Transcript: lines,
			},
		}},
	}
}

// filledStore holds n targets on n/4 domains, each probed 30 times.
func filledStore(n int) *store.Store {
	st := store.New()
	targets := make([]config.Target, n)
	for i := range targets {
		targets[i] = config.Target{
			Name:     fmt.Sprintf("user%d@customer%d.example", i, i/4),
			Domain:   fmt.Sprintf("customer%d.example", i/4),
			Labels:   map[string]string{"customer": fmt.Sprintf("c%d", i/4), "tier": "gold"},
			Settings: config.Settings{Interval: 5 * time.Minute, Timeout: time.Minute},
		}
	}
	st.SetTargets(targets)
	at := time.Now()
	for round := 0; round < 30; round++ {
		for _, t := range targets {
			st.Record(typicalResult(t.Name, t.Domain, at))
		}
	}
	return st
}

// BenchmarkScrape10000Targets measures one scrape of 10,000 targets:
// gathering and encoding the text exposition.
func BenchmarkScrape10000Targets(b *testing.B) {
	st := filledStore(10000)
	reg := prometheus.NewRegistry()
	reg.MustRegister(New(st))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		mfs, err := reg.Gather()
		if err != nil {
			b.Fatal(err)
		}
		enc := expfmt.NewEncoder(io.Discard, expfmt.NewFormat(expfmt.TypeTextPlain))
		for _, mf := range mfs {
			enc.Encode(mf)
		}
	}
}

// BenchmarkMemoryPerTarget reports the heap held per target once every
// target has a full history, as bytes/target.
func BenchmarkMemoryPerTarget(b *testing.B) {
	const n = 10000
	for i := 0; i < b.N; i++ {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		st := filledStore(n)
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "bytes/target")
		runtime.KeepAlive(st)
	}
}
