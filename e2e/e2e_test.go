//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The MX hosts of the zones run.sh serves.
const (
	ipPlain  = "127.0.0.10" // Postfix, STARTTLS, alice known
	ipGrey   = "127.0.0.11" // Postfix behind postgrey, no STARTTLS
	ipDead   = "127.0.0.12" // nothing listens
	ipTarpit = "127.0.0.13" // accepts and never greets

	targetCount = 11 // targets in the exporter's configuration
	manyMaxMX   = 5  // max_mx_hosts of many.test
	manyRecords = 30 // MX records of many.test
)

// deadline bounds every poll of the whole run, so a broken exporter fails
// the run in minutes, not after one long timeout per assertion.
var (
	deadline time.Time
	settings env
	prom     promAPI
)

// env holds what run.sh passes to the tests.
type env struct {
	promURL     string
	exporterURL string
	maillog     string
	metricsOut  string
	greyDelay   time.Duration
	wait        time.Duration // bound of all polling together
}

func TestMain(m *testing.M) {
	var err error
	settings, err = loadEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(2)
	}
	prom = newPromAPI(settings.promURL)
	deadline = time.Now().Add(settings.wait)
	os.Exit(m.Run())
}

func loadEnv() (env, error) {
	e := env{
		promURL:     os.Getenv("E2E_PROMETHEUS_URL"),
		exporterURL: os.Getenv("E2E_EXPORTER_URL"),
		maillog:     os.Getenv("E2E_MAILLOG"),
		metricsOut:  os.Getenv("E2E_METRICS_OUT"),
	}
	if e.promURL == "" || e.exporterURL == "" || e.maillog == "" {
		return e, fmt.Errorf("E2E_PROMETHEUS_URL, E2E_EXPORTER_URL and E2E_MAILLOG " +
			"must be set: run bash e2e/run.sh")
	}
	secs, err := strconv.Atoi(os.Getenv("E2E_GREY_DELAY"))
	if err != nil {
		return e, fmt.Errorf("E2E_GREY_DELAY: %w", err)
	}
	e.greyDelay = time.Duration(secs) * time.Second

	e.wait = 3 * time.Minute
	if v := os.Getenv("E2E_WAIT"); v != "" {
		if e.wait, err = time.ParseDuration(v); err != nil {
			return e, fmt.Errorf("E2E_WAIT: %w", err)
		}
	}
	return e, nil
}

// eventually polls until cond accepts the samples expr returns, or fails
// the test at the shared deadline with the last samples seen.
func eventually(t *testing.T, expr, want string, cond func([]sample) bool) []sample {
	t.Helper()
	var (
		got     []sample
		lastErr error
	)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		got, lastErr = prom.query(ctx, expr)
		cancel()
		if lastErr == nil && cond(got) {
			return got
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	if lastErr != nil {
		t.Fatalf("query %s: want %s; last error: %v", expr, want, lastErr)
	}
	t.Fatalf("query %s: want %s; got %v", expr, want, got)
	return nil
}

// oneValue accepts exactly one series with value v.
func oneValue(v float64) func([]sample) bool {
	return func(s []sample) bool { return len(s) == 1 && s[0].Value == v }
}

// atLeast accepts exactly one series with a value of v or more.
func atLeast(v float64) func([]sample) bool {
	return func(s []sample) bool { return len(s) == 1 && s[0].Value >= v }
}

// noSeries accepts an empty result.
func noSeries(s []sample) bool { return len(s) == 0 }

func TestOutcomes(t *testing.T) {
	tests := []struct {
		name string
		expr string
		want float64
	}{
		{"prometheus scrapes the exporter", `up{job="mailprobe"}`, 1},
		{"configuration is loaded", `mailprobe_config_last_reload_successful`, 1},
		{"every target is counted", `mailprobe_targets`, targetCount},

		{"known user is accepted", `mailprobe_result{target="alice@ok.test",result="accepted"}`, 1},
		{"known user is a success", `mailprobe_success{target="alice@ok.test"}`, 1},
		{"known user gets 250 to RCPT",
			`mailprobe_rcpt_reply_code{target="alice@ok.test",ip="` + ipPlain + `"}`, 250},
		{"user labels are on target series",
			`mailprobe_success{target="alice@ok.test",customer="ok",tier="gold"}`, 1},
		{"STARTTLS is negotiated when offered",
			`count(mailprobe_tls_version_info{domain="ok.test",ip="` + ipPlain + `"} == 1)`, 1},
		{"certificate expiry is exported",
			`count(mailprobe_tls_cert_expiry_timestamp_seconds{domain="ok.test"} > time())`, 1},
		{"self-signed certificate is not trusted",
			`mailprobe_tls_cert_trusted{domain="ok.test",ip="` + ipPlain + `"}`, 0},
		{"leg that greets is up", `mailprobe_smtp_up{domain="ok.test",ip="` + ipPlain + `"}`, 1},

		{"unknown user is rejected", `mailprobe_result{target="nobody@ok.test",result="rejected"}`, 1},
		{"unknown user is no success", `mailprobe_success{target="nobody@ok.test"}`, 0},
		{"unknown user gets 550 to RCPT", `mailprobe_rcpt_reply_code{target="nobody@ok.test"}`, 550},
		{"unknown user reply carries 5.1.1 at RCPT",
			`mailprobe_last_reply_info{target="nobody@ok.test",stage="rcpt",code="550",` +
				`enhanced="5.1.1"}`, 1},

		{"dead primary MX falls back to the backup",
			`mailprobe_success{target="alice@deadfirst.test"}`, 1},
		{"only one leg of the dead-primary domain reaches RCPT",
			`count(mailprobe_rcpt_reply_code{target="alice@deadfirst.test"})`, 1},
		{"the backup MX accepts at RCPT",
			`mailprobe_rcpt_reply_code{target="alice@deadfirst.test",ip="` + ipPlain + `"}`, 250},
		{"dead primary MX is down", `mailprobe_smtp_up{domain="deadfirst.test",ip="` + ipDead + `"}`, 0},
		{"backup MX is up", `mailprobe_smtp_up{domain="deadfirst.test",ip="` + ipPlain + `"}`, 1},

		{"domain without MX uses its address",
			`mailprobe_result{target="alice@implicit.test",result="accepted"}`, 1},
		{"implicit MX leg is up", `mailprobe_smtp_up{domain="implicit.test",ip="` + ipPlain + `"}`, 1},
		{"MX name that is an alias is followed",
			`mailprobe_result{target="alice@cname.test",result="accepted"}`, 1},

		{"null MX is reported", `mailprobe_result{target="nullmx.test",result="null_mx"}`, 1},
		{"missing domain is nxdomain", `mailprobe_result{target="nosuch.test",result="nxdomain"}`, 1},
		{"failing zone is servfail",
			`mailprobe_result{target="servfail.test",result="dns_servfail"}`, 1},

		{"silent server times out", `mailprobe_result{target="tarpit.test",result="timeout"}`, 1},
		{"silent server times out at the banner",
			`count(mailprobe_last_reply_info{target="tarpit.test",stage="banner"})`, 1},
		{"silent server is down", `mailprobe_smtp_up{domain="tarpit.test",ip="` + ipTarpit + `"}`, 0},

		{"truncated MX answer is fetched over TCP",
			`mailprobe_result{target="many.test",result="accepted"}`, 1},
		{"MX preference comes from DNS",
			`mailprobe_mx_preference{domain="many.test",mx="mx01.many.test"}`, 10},
		{"max_mx_hosts bounds the legs probed",
			`count(mailprobe_smtp_up{domain="many.test"})`, manyMaxMX},
		{"mode all probes the dead hosts before the deciding one too",
			`count(mailprobe_smtp_up{domain="many.test",ip="` + ipDead + `"} == 0)`, 2},

		{"every target has one result", `count(sum by (target) (mailprobe_result) == 1)`, targetCount},
		{"every target has every result class", `count(mailprobe_result)`, targetCount * 16},
		{"every target is probed repeatedly", `count(mailprobe_probes_total >= 2)`, targetCount},
		{"every probe is recent",
			`count(time() - mailprobe_last_probe_timestamp_seconds < 30)`, targetCount},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eventually(t, tt.expr, fmt.Sprintf("one series with value %g", tt.want), oneValue(tt.want))
		})
	}
}

func TestMXSetOfManyHosts(t *testing.T) {
	// The exporter publishes at least the hosts it probes, at most the whole
	// MX set; where in between depends on its resolver's bound.
	got := eventually(t, `count(mailprobe_mx_preference{domain="many.test"})`,
		fmt.Sprintf("%d to %d series", manyMaxMX, manyRecords), func(s []sample) bool {
			return len(s) == 1 && s[0].Value >= manyMaxMX && s[0].Value <= manyRecords
		})
	t.Logf("many.test publishes %g MX preference series", got[0].Value)
}

func TestNoConnectionWithoutMailExchanger(t *testing.T) {
	for _, target := range []string{"nullmx.test", "nosuch.test", "servfail.test"} {
		t.Run(target, func(t *testing.T) {
			eventually(t, `mailprobe_probes_total{target="`+target+`"}`,
				"two probes or more", atLeast(2))
			for _, expr := range []string{
				`count_over_time(mailprobe_smtp_up{domain="` + target + `"}[1h])`,
				`count_over_time(mailprobe_rcpt_reply_code{target="` + target + `"}[1h])`,
			} {
				eventually(t, expr, "no series", noSeries)
			}
		})
	}
}

func TestGreylistingPassesAfterTheDelay(t *testing.T) {
	const target = `target="alice@grey.test"`
	eventually(t, `mailprobe_result{`+target+`,result="accepted"}`, "1", oneValue(1))
	eventually(t, `max_over_time(mailprobe_last_reply_info{`+target+
		`,stage="rcpt",code="450",enhanced="4.2.0"}[1h])`, "1", oneValue(1))
	eventually(t, `mailprobe_tls_version_info{domain="grey.test"}`, "no series", noSeries)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Steps are whole seconds: end past now, so the last step sees the
	// sample the instant query above just saw.
	end := time.Now().Add(2 * time.Second)
	got, err := prom.queryRange(ctx, `mailprobe_result{`+target+`} == 1`,
		end.Add(-time.Hour), end, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	first, lastGrey := firstAndLast(got)
	accepted, greylisted := first["accepted"], first["greylisted"]
	if greylisted.IsZero() || accepted.IsZero() {
		t.Fatalf("want greylisted and later accepted; first seen: %v", first)
	}
	for result, at := range first {
		if at.Before(greylisted) {
			t.Errorf("first result is %s at %v, want greylisted (at %v)", result, at, greylisted)
		}
	}
	if lastGrey.After(accepted) {
		t.Errorf("greylisted again at %v after accepted at %v", lastGrey, accepted)
	}
	// Scrapes 2s apart and 1s steps blur both ends; a gap of one probe
	// interval (5s) would still show a pass before the delay.
	if gap := accepted.Sub(greylisted); gap < settings.greyDelay-4*time.Second {
		t.Errorf("accepted %v after greylisting, want at least the delay %v", gap, settings.greyDelay)
	}
	t.Logf("greylisted at %v, accepted %v later", greylisted.Format(time.TimeOnly),
		accepted.Sub(greylisted))
}

// firstAndLast returns when each result was first 1, and when greylisted
// was last 1.
func firstAndLast(got []series) (map[string]time.Time, time.Time) {
	first := map[string]time.Time{}
	var lastGrey time.Time
	for _, s := range got {
		r := s.Labels["result"]
		for _, p := range s.Points {
			if t, ok := first[r]; !ok || p.Time.Before(t) {
				first[r] = p.Time
			}
			if r == "greylisted" && p.Time.After(lastGrey) {
				lastGrey = p.Time
			}
		}
	}
	return first, lastGrey
}

func TestExpositionPassesPromtool(t *testing.T) {
	eventually(t, `count(mailprobe_probes_total >= 1)`, "every target probed",
		oneValue(targetCount))
	body := httpGet(t, settings.exporterURL+"/metrics")

	cmd := exec.Command("promtool", "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
	if settings.metricsOut != "" {
		saveExcerpt(t, body, settings.metricsOut)
	}
}

// saveExcerpt keeps the exporter's own series of a live scrape, for the
// README.
func saveExcerpt(t *testing.T, body []byte, path string) {
	var b strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		if strings.Contains(sc.Text(), "mailprobe_") {
			b.WriteString(sc.Text() + "\n")
		}
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Errorf("save metrics excerpt: %v", err)
		return
	}
	t.Logf("saved the exporter's series of a live scrape to %s", path)
}

func TestEndpoints(t *testing.T) {
	for _, path := range []string{"/-/healthy", "/-/ready"} {
		httpGet(t, settings.exporterURL+path)
	}
	page := string(httpGet(t, settings.exporterURL+"/"))
	for _, target := range []string{"alice@ok.test", "nobody@ok.test", "tarpit.test"} {
		if !strings.Contains(page, target) {
			t.Errorf("status page does not name target %s", target)
		}
	}
}

func httpGet(t *testing.T, url string) []byte {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	res, err := client.Get(url)
	if err != nil {
		t.Fatalf("get %s: %v", url, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		t.Fatalf("read %s: %v", url, err)
	}
	if res.StatusCode != http.StatusOK {
		t.Fatalf("get %s: HTTP %d: %.200s", url, res.StatusCode, body)
	}
	return body
}
