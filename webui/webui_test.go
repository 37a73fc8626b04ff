package webui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mailprobe/mailprobe_exporter/collector"
	"github.com/mailprobe/mailprobe_exporter/config"
	"github.com/mailprobe/mailprobe_exporter/dialogue"
	"github.com/mailprobe/mailprobe_exporter/probe"
	"github.com/mailprobe/mailprobe_exporter/resolve"
	"github.com/mailprobe/mailprobe_exporter/scheduler"
	"github.com/mailprobe/mailprobe_exporter/store"
)

// now is the fixed clock of the pages under test.
var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

var settings = config.Settings{
	Interval: 5 * time.Minute, Timeout: 2 * time.Minute, Port: 25,
	MX: config.MXWalk, StartTLS: config.StartTLSOpportunistic, IPFamily: config.Both,
}

func target(name string, labels map[string]string) config.Target {
	domain := name[strings.LastIndex(name, "@")+1:]
	return config.Target{
		Name: name, Domain: domain, Recipients: []string{name},
		Labels: labels, Settings: settings,
	}
}

// reply describes the deciding reply of a fake probe.
type reply struct {
	class probe.Class
	code  int
	enh   string
	text  string
}

var (
	accepted = reply{probe.Accepted, 250, "2.1.5", "Ok"}
	rejected = reply{probe.Rejected, 550, "5.1.1", "<nobody@b.example>: User unknown"}
)

// result is a probe of name that ended at end with one leg that got rp
// to RCPT TO.
func result(name string, rp reply, end time.Time) probe.Result {
	domain := name[strings.LastIndex(name, "@")+1:]
	mx := "mx1." + domain
	ip := netip.MustParseAddr("127.0.0.21")
	line := func(ms int, dir byte, text string) dialogue.Line {
		return dialogue.Line{At: time.Duration(ms) * time.Millisecond, Dir: dir, Text: text}
	}
	rcptLine := fmt.Sprintf("%d %s %s", rp.code, rp.enh, rp.text)
	session := dialogue.Session{
		Stage: dialogue.StageDone, ESMTP: true,
		TLS: &dialogue.TLSState{
			Version: "TLS 1.3", Cipher: "TLS_AES_128_GCM_SHA256", Subject: mx,
			NotAfter: now.Add(90 * 24 * time.Hour), Trusted: true,
		},
		Rcpts: []dialogue.Rcpt{{Recipient: name, Reply: dialogue.Reply{
			Code: rp.code, Enhanced: rp.enh, Text: rp.text}}},
		Phases:   map[dialogue.Stage]time.Duration{dialogue.StageConnect: time.Millisecond},
		Duration: 40 * time.Millisecond,
		Transcript: []dialogue.Line{
			line(1, '*', "connect to 127.0.0.21:25"),
			line(3, '<', "220 "+mx+" ESMTP"),
			line(4, '>', "EHLO probe.example.com"),
			line(30, '>', "RCPT TO:<"+name+">"),
			line(37, '<', rcptLine),
		},
	}
	return probe.Result{
		Target: name, Domain: domain, Class: rp.class, Stage: "rcpt",
		Code: rp.code, Enhanced: rp.enh, Text: rp.text,
		DNS: resolve.Answer{
			Domain: domain, Status: resolve.StatusOK, Rcode: "NOERROR",
			Records:  []string{domain + ".\t60\tIN\tMX\t10 " + mx + "."},
			Hosts:    []resolve.Host{{Name: mx, Preference: 10, Addrs: []netip.Addr{ip}}},
			Duration: time.Millisecond,
		},
		Legs: []probe.Leg{{
			MX: mx, Preference: 10, IP: ip, Class: rp.class, Deciding: true, Session: session,
		}},
		Start: end.Add(-50 * time.Millisecond), Duration: 50 * time.Millisecond,
	}
}

// fakeProber counts probe-now calls; block, when set, holds each call
// until it is closed.
type fakeProber struct {
	mu    sync.Mutex
	calls []string
	err   error
	block chan struct{}
}

func (f *fakeProber) ProbeNow(ctx context.Context, name string) (probe.Result, error) {
	f.mu.Lock()
	f.calls = append(f.calls, name)
	block := f.block
	f.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return probe.Result{}, ctx.Err()
		}
	}
	return probe.Result{Target: name}, f.err
}

func (f *fakeProber) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

// world is a store of three targets: alice accepted, nobody rejected,
// carol never probed.
func world(t *testing.T) *store.Store {
	t.Helper()
	st := store.New()
	st.SetTargets([]config.Target{
		target("alice@a.example", map[string]string{"customer": "a", "tier": "gold"}),
		target("nobody@b.example", map[string]string{"customer": "b", "tier": "gold"}),
		target("carol@c.example", map[string]string{"customer": "c"}),
	})
	st.Record(result("alice@a.example", accepted, now.Add(-90*time.Second)))
	st.Record(result("nobody@b.example", rejected, now.Add(-30*time.Second)))
	st.SetReload(nil, now.Add(-time.Hour))
	return st
}

func newHandler(st *store.Store, p ProbeNower) *Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector.New(st))
	return New(Options{
		Store: st, Prober: p, Gatherer: reg,
		Reload: func() error { return nil },
		Now:    func() time.Time { return now },
	})
}

// get serves a GET of path and returns the status and body.
func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(body)
}

// post serves a form POST of path with the given headers.
func post(h http.Handler, path string, form url.Values, hdr map[string]string) *http.Response {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func assertContains(t *testing.T, body string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("page lacks %q", w)
		}
	}
}

func assertLacks(t *testing.T, body string, unwanted ...string) {
	t.Helper()
	for _, u := range unwanted {
		if strings.Contains(body, u) {
			t.Errorf("page has %q", u)
		}
	}
}

func TestStatusPageShowsEveryTargetWithItsLastReply(t *testing.T) {
	code, body := get(t, newHandler(world(t), &fakeProber{}), "/")
	if code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	assertContains(t, body,
		`name="viewport" content="width=device-width, initial-scale=1"`,
		"@media (max-width:",
		`href="/target?name=alice%40a.example"`, "alice@a.example", "accepted",
		"nobody@b.example", ">rejected<", `<span class="code">550</span>`, "5.1.1",
		"&lt;nobody@b.example&gt;: User unknown",
		"mx1.b.example 127.0.0.21",
		">30.0 s ago<", // since, and age of the last probe
		"1m30s ago",
		"carol@c.example", "not probed yet",
		`customer=&#34;a&#34;, tier=&#34;gold&#34;`,
	)
	assertLacks(t, body, "<script", "The last configuration reload failed")
}

func TestStatusPageFiltersByLabelsAndResult(t *testing.T) {
	h := newHandler(world(t), &fakeProber{})
	tests := []struct {
		name  string
		query string
		want  []string
	}{
		{"no filter shows every target", "", []string{"alice", "carol", "nobody"}},
		{"one label", "customer=b", []string{"nobody"}},
		{"two labels", "tier=gold&customer=a", []string{"alice"}},
		{"label a target lacks", "tier=silver", nil},
		{"one result", "result=rejected", []string{"nobody"}},
		{"failing leaves out accepted and pending", "result=failing", []string{"nobody"}},
		{"pending is not probed yet", "result=pending", []string{"carol"}},
		{"label and result together", "tier=gold&result=accepted", []string{"alice"}},
		{"part of the target name", "target=ol@c", []string{"carol"}},
		{"empty values ask for nothing", "customer=&result=", []string{"alice", "carol", "nobody"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, body := get(t, h, "/?"+tt.query)
			shown := rowsShown(body)
			if strings.Join(shown, ",") != strings.Join(tt.want, ",") {
				t.Errorf("rows %v, want %v", shown, tt.want)
			}
		})
	}
}

// rowsShown lists the targets linked from the table, by local part.
func rowsShown(body string) []string {
	var out []string
	for _, part := range strings.Split(body, `href="/target?name=`)[1:] {
		name, _ := url.QueryUnescape(part[:strings.IndexByte(part, '"')])
		out = append(out, name[:strings.IndexByte(name, '@')])
	}
	return out
}

func TestStatusPageShowsFailedReloadReason(t *testing.T) {
	st := world(t)
	h := newHandler(st, &fakeProber{})
	st.SetReload(errors.New(`cfg.yml:7: field "intervl" not found`), now)
	_, body := get(t, h, "/")
	assertContains(t, body, "The last configuration reload failed",
		"cfg.yml:7: field &#34;intervl&#34; not found")
	if strings.Index(body, "reload failed") > strings.Index(body, "<table") {
		t.Error("the reload failure is not above the targets")
	}

	st.SetReload(nil, now)
	_, body = get(t, h, "/")
	assertLacks(t, body, "reload failed", "intervl")
}

func TestTargetPageShowsTranscriptDNSHistoryAndSeries(t *testing.T) {
	code, body := get(t, newHandler(world(t), &fakeProber{}), "/target?name=nobody%40b.example")
	if code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	assertContains(t, body,
		// the transcript with timings and directions
		"+30 ms", ">C:<", "RCPT TO:&lt;nobody@b.example&gt;",
		"+37 ms", ">S:<", "550 5.1.1 &lt;nobody@b.example&gt;: User unknown",
		"connect 1.0 ms",
		// TLS details
		"TLS 1.3 TLS_AES_128_GCM_SHA256", "certificate mx1.b.example", "trusted",
		// the DNS answer
		"DNS answer: ok (NOERROR)", "b.example.\t60\tIN\tMX\t10 mx1.b.example.",
		// history
		"the latest 20 runs of successes and 100 runs of failures are kept",
		// the exported series of this target and of its legs
		quoted(`mailprobe_success{customer="b",target="nobody@b.example",tier="gold"}`),
		quoted(`mailprobe_last_reply_info{code="550",customer="b",enhanced="5.1.1",`),
		quoted(`mailprobe_smtp_up{domain="b.example",ip="127.0.0.21",mx="mx1.b.example"}`),
		`<code>{target="nobody@b.example"}</code>`,
		`<form method="post" action="/target/probe">`,
		`name="name" value="nobody@b.example"`,
	)
	assertLacks(t, body, "Last failed probe", quoted(`target="alice@a.example"`),
		quoted(`domain="a.example"`))
}

// quoted is s with its double quotes as html/template writes them.
func quoted(s string) string {
	return strings.ReplaceAll(s, `"`, "&#34;")
}

func TestTargetPageKeepsTheLastFailureAfterRecovery(t *testing.T) {
	st := world(t)
	st.Record(result("nobody@b.example", accepted, now.Add(-10*time.Second)))
	_, body := get(t, newHandler(st, &fakeProber{}), "/target?name=nobody%40b.example")
	failed := strings.Index(body, "Last failed probe")
	if failed < 0 {
		t.Fatal("no section for the last failed probe")
	}
	assertContains(t, body[failed:], "rejected", "550 5.1.1 &lt;nobody@b.example&gt;")
	assertContains(t, body[:failed], "Last probe", "250 2.1.5 Ok")

	history := body[strings.Index(body, "<h2>History"):]
	if strings.Index(history, "250") > strings.Index(history, "550") {
		t.Error("history is not newest first")
	}
}

func TestTargetPageOfUnknownTargetIsNotFound(t *testing.T) {
	for _, path := range []string{"/target?name=mallory%40evil.example", "/target"} {
		if code, _ := get(t, newHandler(world(t), &fakeProber{}), path); code != 404 {
			t.Errorf("%s: status %d, want 404", path, code)
		}
	}
}

func TestProbeNow(t *testing.T) {
	self := map[string]string{"Origin": "http://example.com", "Sec-Fetch-Site": "same-origin"}
	tests := []struct {
		name      string
		target    string
		headers   map[string]string
		proberErr error
		wantCode  int
		wantLoc   string
		wantCalls int
	}{
		{"configured target is probed and its page shown", "alice@a.example", nil, nil,
			303, "/target?name=alice%40a.example", 1},
		{"same-origin browser post is accepted", "alice@a.example", self, nil,
			303, "/target?name=alice%40a.example", 1},
		{"unconfigured target is not probed", "mallory@evil.example", nil, nil, 404, "", 0},
		{"empty name is not probed", "", nil, nil, 404, "", 0},
		{"cross-site browser post is refused", "alice@a.example",
			map[string]string{"Sec-Fetch-Site": "cross-site"}, nil, 403, "", 0},
		{"foreign origin is refused", "alice@a.example",
			map[string]string{"Origin": "https://evil.example"}, nil, 403, "", 0},
		{"a target probed moments ago is not probed again", "nobody@b.example", nil, nil,
			303, "/target?name=nobody%40b.example&recent=1", 0},
		{"a target removed meanwhile is not found", "alice@a.example", nil,
			scheduler.ErrUnknownTarget, 404, "", 1},
		{"a probe that cannot finish is reported", "alice@a.example", nil,
			context.DeadlineExceeded, 503, "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fp := &fakeProber{err: tt.proberErr}
			h := newHandler(world(t), fp)
			h.opts.MinProbeGap = time.Minute // nobody ended 30s ago, alice 90s
			res := post(h, "/target/probe", url.Values{"name": {tt.target}}, tt.headers)
			if res.StatusCode != tt.wantCode {
				t.Errorf("status %d, want %d", res.StatusCode, tt.wantCode)
			}
			if loc := res.Header.Get("Location"); loc != tt.wantLoc {
				t.Errorf("Location %q, want %q", loc, tt.wantLoc)
			}
			if fp.count() != tt.wantCalls {
				t.Errorf("%d probes, want %d", fp.count(), tt.wantCalls)
			}
		})
	}
}

func TestProbeNowIsPostOnly(t *testing.T) {
	fp := &fakeProber{}
	code, _ := get(t, newHandler(world(t), fp), "/target/probe?name=alice%40a.example")
	if code != http.StatusMethodNotAllowed || fp.count() != 0 {
		t.Errorf("GET: status %d and %d probes, want 405 and none", code, fp.count())
	}
}

func TestProbeNowWaitsForTheProbeInFlight(t *testing.T) {
	fp := &fakeProber{block: make(chan struct{})}
	h := newHandler(world(t), fp)
	var wg sync.WaitGroup
	codes := make([]int, 3)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = post(h, "/target/probe",
				url.Values{"name": {"alice@a.example"}}, nil).StatusCode
		}()
	}
	deadline := time.Now().Add(5 * time.Second)
	for fp.count() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // let the others join
	close(fp.block)
	wg.Wait()
	if fp.count() != 1 {
		t.Errorf("%d probes for 3 requests at once, want 1", fp.count())
	}
	for i, c := range codes {
		if c != http.StatusSeeOther {
			t.Errorf("request %d: status %d, want 303", i, c)
		}
	}
}

func TestReloadEndpoint(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		headers  map[string]string
		wantCode int
		wantBody string
		wantRuns int
	}{
		{"success", nil, nil, 200, "configuration reloaded", 1},
		{"failure gives the reason", errors.New("cfg.yml:2: bad duration"), nil,
			500, "cfg.yml:2: bad duration", 1},
		{"cross-site post is refused", nil,
			map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
			403, "cross-origin", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runs := 0
			h := newHandler(world(t), &fakeProber{})
			h.opts.Reload = func() error { runs++; return tt.err }
			res := post(h, "/-/reload", nil, tt.headers)
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tt.wantCode || !strings.Contains(string(body), tt.wantBody) {
				t.Errorf("got %d %q, want %d with %q",
					res.StatusCode, body, tt.wantCode, tt.wantBody)
			}
			if runs != tt.wantRuns {
				t.Errorf("%d reloads, want %d", runs, tt.wantRuns)
			}
		})
	}
}

func TestHealthEndpointsAndHeaders(t *testing.T) {
	h := newHandler(world(t), &fakeProber{})
	for _, path := range []string{"/-/healthy", "/-/ready"} {
		if code, body := get(t, h, path); code != 200 || body != "OK\n" {
			t.Errorf("%s: %d %q", path, code, body)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	csp := rec.Header().Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
}

// hostile is server-supplied text that tries markup, terminal escapes,
// NUL, a bidirectional override and invalid UTF-8.
const hostile = "<script>alert(1)</script>\x1b[31mred\x00\u202eevil\xff"

func TestPagesEscapeServerSuppliedText(t *testing.T) {
	st := world(t)
	r := result("nobody@b.example",
		reply{probe.Rejected, 550, "5.1.1", hostile}, now.Add(-20*time.Second))
	r.DNS.Err = hostile
	r.DNS.Records = append(r.DNS.Records, hostile)
	r.DNS.Hosts[0].Err = hostile
	r.Legs[0].MX = hostile
	leg := &r.Legs[0].Session
	leg.Err = hostile
	leg.TLS.Subject, leg.TLS.VerifyErr, leg.TLS.Trusted = hostile, hostile, false
	leg.Transcript = append(leg.Transcript, dialogue.Line{Dir: '<', Text: hostile})
	st.Record(r)
	st.SetReload(errors.New(hostile), now)
	h := newHandler(st, &fakeProber{})

	for _, path := range []string{"/", "/target?name=nobody%40b.example"} {
		t.Run(path, func(t *testing.T) {
			_, body := get(t, h, path)
			assertContains(t, body,
				`&lt;script&gt;alert(1)&lt;/script&gt;\x1b[31mred\x00\u202eevil\xff`)
			assertLacks(t, body, "<script", "\u202e", "\x00", "\x1b", "\xff")
		})
	}
}

func TestPrintable(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain text stays", "250 2.1.5 Ok <a@b>", "250 2.1.5 Ok <a@b>"},
		{"newlines and tabs stay", "a\nb\tc", "a\nb\tc"},
		{"letters beyond ASCII stay", "Grüße", "Grüße"},
		{"backslashes stay single", `a\x1b`, `a\x1b`},
		{"control bytes show as escapes", "a\x00b\x1bc\x7f", `a\x00b\x1bc\x7f`},
		{"invisible characters show as escapes", "a\u202eb\u200bc", `a\u202eb\u200bc`},
		{"invalid UTF-8 shows as escapes", "a\xffb\xc3", `a\xffb\xc3`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := printable(tt.in); got != tt.want {
				t.Errorf("printable(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestFilterValuesAreEchoedAsValidUTF8(t *testing.T) {
	h := newHandler(world(t), &fakeProber{})
	_, body := get(t, h, "/?target=%00%ff%3Cb%3E")
	if !utf8.ValidString(body) {
		t.Fatal("status page is not valid UTF-8 after a filter with invalid octets")
	}
	assertLacks(t, body, "\xff", "<b>")
}

func TestHistoryShowsRunsOfLikeProbes(t *testing.T) {
	st := world(t)
	for i := 3; i > 0; i-- {
		st.Record(result("nobody@b.example", rejected, now.Add(-time.Duration(i)*time.Second)))
	}
	_, body := get(t, newHandler(st, &fakeProber{}), "/target?name=nobody%40b.example")
	// The probe of world() and these three ended alike: one run of four.
	first := now.Add(-30 * time.Second).UTC().Format("2006-01-02 15:04:05Z")
	assertContains(t, body, "×4 since "+first)
}
