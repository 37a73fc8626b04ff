package probe_test

import (
	"context"
	"testing"

	"github.com/mailprobe/mailprobe_exporter/config"
	"github.com/mailprobe/mailprobe_exporter/mailsim"
)

// benchmarkProbe probes one target of the simulated world over and over,
// in parallel, with the per-address limit raised so the gate does not
// serialise the benchmark.
func benchmarkProbe(b *testing.B, name string, starttls string) {
	w, err := mailsim.StartWorld()
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	cfg, err := config.Parse([]byte(w.Config(60_000_000_000)), "world.yml")
	if err != nil {
		b.Fatal(err)
	}
	p := newProber(w, cfg)
	p.Gate = nil
	var tgt config.Target
	for _, t := range cfg.Targets {
		if t.Name == name {
			tgt = t
		}
	}
	tgt.Settings.StartTLS = starttls
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if res := p.Probe(context.Background(), tgt); !res.Success() {
				b.Errorf("probe ended %s: %s", res.Class, res.Text)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "probes/s")
}

// BenchmarkProbeAcceptedPlain measures a whole accepted probe (DNS and a
// dialogue up to RCPT TO) against the in-process simulated MX, without TLS.
func BenchmarkProbeAcceptedPlain(b *testing.B) {
	benchmarkProbe(b, "alice@ok."+mailsim.Suffix, config.StartTLSNever)
}

// BenchmarkProbeAcceptedSTARTTLS is the same with a TLS handshake.
func BenchmarkProbeAcceptedSTARTTLS(b *testing.B) {
	benchmarkProbe(b, "alice@ok."+mailsim.Suffix, config.StartTLSOpportunistic)
}
