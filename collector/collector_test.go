package collector

import (
	"bytes"
	"flag"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"github.com/prometheus/common/expfmt"

	"github.com/mailprobe/mailprobe_exporter/config"
	"github.com/mailprobe/mailprobe_exporter/dialogue"
	"github.com/mailprobe/mailprobe_exporter/probe"
	"github.com/mailprobe/mailprobe_exporter/resolve"
	"github.com/mailprobe/mailprobe_exporter/store"
)

var update = flag.Bool("update", false, "rewrite the golden exposition file")

var epoch = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func target(name, domain string, labels map[string]string) config.Target {
	return config.Target{
		Name: name, Domain: domain, Recipients: []string{name}, Labels: labels,
		Settings: config.Settings{Interval: time.Minute, Timeout: time.Minute},
	}
}

// fixture is a store with an accepting target, a rejected one whose
// primary MX is dead, one not probed yet and one with a null MX.
func fixture() *store.Store {
	st := store.New()
	st.SetTargets([]config.Target{
		target("alice@a.example", "a.example", map[string]string{"customer": "a", "tier": "gold"}),
		target("bob@b.example", "b.example", map[string]string{"customer": "b"}),
		target("carol@c.example", "c.example", nil),
		target("null.example", "null.example", nil),
	})
	st.SetReload(nil, epoch)
	st.Record(probe.Result{
		Target: "alice@a.example", Domain: "a.example", Class: probe.Accepted,
		Stage: "rcpt", Code: 250, Enhanced: "2.1.5", Text: "Ok",
		Start: epoch, Duration: 300 * time.Millisecond,
		DNS: resolve.Answer{Status: resolve.StatusOK, Duration: 2 * time.Millisecond,
			Hosts: []resolve.Host{{Name: "mx.a.example", Preference: 10}}},
		Legs: []probe.Leg{{
			MX: "mx.a.example", Preference: 10, IP: netip.MustParseAddr("192.0.2.1"),
			Class: probe.Accepted, Deciding: true,
			Session: dialogue.Session{
				Stage: dialogue.StageDone, Banner: &dialogue.Reply{Code: 220},
				Rcpts: []dialogue.Rcpt{{Recipient: "alice@a.example", Reply: dialogue.Reply{Code: 250}}},
				Phases: map[dialogue.Stage]time.Duration{
					dialogue.StageConnect: 10 * time.Millisecond,
					dialogue.StageRcpt:    20 * time.Millisecond,
				},
				TLS: &dialogue.TLSState{
					Version: "TLS 1.3", NotAfter: epoch.Add(48 * time.Hour), Trusted: true,
				},
			},
		}},
	})
	st.Record(probe.Result{
		Target: "bob@b.example", Domain: "b.example", Class: probe.Rejected,
		Stage: "rcpt", Code: 550, Enhanced: "5.1.1", Text: "User unknown\x00 \"quoted\"",
		Start: epoch, Duration: 7 * time.Second,
		DNS: resolve.Answer{Status: resolve.StatusOK, Duration: time.Millisecond,
			Hosts: []resolve.Host{
				{Name: "mx1.b.example", Preference: 10},
				{Name: "mx2.b.example", Preference: 20},
			}},
		Legs: []probe.Leg{
			{MX: "mx1.b.example", Preference: 10, IP: netip.MustParseAddr("2001:db8::1"),
				Class:   probe.ConnectError,
				Session: dialogue.Session{Stage: dialogue.StageConnect, Failure: dialogue.FailureConnect}},
			{MX: "mx2.b.example", Preference: 20, IP: netip.MustParseAddr("192.0.2.2"),
				Class: probe.Rejected, Deciding: true,
				Session: dialogue.Session{
					Stage: dialogue.StageDone, Banner: &dialogue.Reply{Code: 220},
					Rcpts: []dialogue.Rcpt{{Recipient: "bob@b.example",
						Reply: dialogue.Reply{Code: 550, Enhanced: "5.1.1"}}},
				}},
		},
	})
	st.Record(probe.Result{
		Target: "null.example", Domain: "null.example", Class: probe.NullMX, Stage: "dns",
		Start: epoch, Duration: time.Millisecond,
		DNS: resolve.Answer{Status: resolve.StatusNullMX},
	})
	return st
}

func gather(t *testing.T, st *store.Store) []byte {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(New(st))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func TestExpositionMatchesGolden(t *testing.T) {
	got := gather(t, fixture())
	const golden = "testdata/metrics.golden.prom"
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("exposition differs from %s (run go test ./collector -update to accept):\n%s",
			golden, got)
	}
}

func TestExpositionPassesLint(t *testing.T) {
	problems, err := promlint.New(bytes.NewReader(gather(t, fixture()))).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

func TestEveryResultClassIsPresentOnce(t *testing.T) {
	st := fixture()
	n := testutil.CollectAndCount(New(st), "mailprobe_result")
	// Three probed targets, every class each; the pending one has none.
	if want := 3 * len(probe.Classes); n != want {
		t.Fatalf("mailprobe_result has %d series, want %d", n, want)
	}
	want := `
# HELP mailprobe_success 1 when an MX host accepted every recipient of the target (from the latest background probe).
# TYPE mailprobe_success gauge
mailprobe_success{customer="a",target="alice@a.example",tier="gold"} 1
mailprobe_success{customer="b",target="bob@b.example",tier=""} 0
mailprobe_success{customer="",target="null.example",tier=""} 0
`
	if err := testutil.CollectAndCompare(New(st), strings.NewReader(want), "mailprobe_success"); err != nil {
		t.Fatal(err)
	}
}

func TestRemovedTargetLosesItsSeries(t *testing.T) {
	st := fixture()
	st.SetTargets([]config.Target{
		target("alice@a.example", "a.example", map[string]string{"customer": "a", "tier": "gold"}),
	})
	out := string(gather(t, st))
	for _, gone := range []string{"bob@b.example", "b.example", "null.example", "tier=\"\""} {
		if strings.Contains(out, gone) {
			t.Errorf("exposition still mentions %s after the target was removed", gone)
		}
	}
	if !strings.Contains(out, `mailprobe_success{customer="a",target="alice@a.example",tier="gold"} 1`) {
		t.Error("the kept target lost its series")
	}
}

func TestFailedReloadIsExported(t *testing.T) {
	st := fixture()
	st.SetReload(os.ErrNotExist, epoch.Add(time.Hour))
	want := `
# HELP mailprobe_config_last_reload_successful 1 when the latest configuration load succeeded.
# TYPE mailprobe_config_last_reload_successful gauge
mailprobe_config_last_reload_successful 0
# HELP mailprobe_config_last_reload_success_timestamp_seconds When the configuration was last loaded successfully, in seconds since the epoch.
# TYPE mailprobe_config_last_reload_success_timestamp_seconds gauge
mailprobe_config_last_reload_success_timestamp_seconds 1.7961192e+09
`
	err := testutil.CollectAndCompare(New(st), strings.NewReader(want),
		"mailprobe_config_last_reload_successful", "mailprobe_config_last_reload_success_timestamp_seconds")
	if err != nil {
		t.Fatal(err)
	}
}

func TestSMTPUpNeedsA220Greeting(t *testing.T) {
	for _, c := range []struct {
		banner *dialogue.Reply
		want   string
	}{
		{&dialogue.Reply{Code: 220}, "1"},
		{&dialogue.Reply{Code: 200}, "0"},
		{&dialogue.Reply{Code: 554}, "0"},
		{nil, "0"},
	} {
		st := store.New()
		st.SetTargets([]config.Target{target("a@d.example", "d.example", nil)})
		st.Record(probe.Result{
			Target: "a@d.example", Domain: "d.example", Class: probe.RefusedBanner, Start: epoch,
			Legs: []probe.Leg{{MX: "mx.d.example", IP: netip.MustParseAddr("192.0.2.9"),
				Session: dialogue.Session{Stage: dialogue.StageBanner, Banner: c.banner}}},
		})
		want := `mailprobe_smtp_up{domain="d.example",ip="192.0.2.9",mx="mx.d.example"} ` + c.want
		if got := string(gather(t, st)); !strings.Contains(got, want) {
			t.Errorf("banner %+v: exposition lacks %s", c.banner, want)
		}
	}
}
