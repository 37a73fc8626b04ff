package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/exporter-toolkit/web"
	"golang.org/x/crypto/bcrypt"

	"github.com/mailprobe/mailprobe_exporter/mailsim"
)

const (
	alice  = "alice@ok." + mailsim.Suffix
	nobody = "nobody@ok." + mailsim.Suffix
	grey   = "alice@grey." + mailsim.Suffix
)

// startWorld starts the simulated mail world for one test.
func startWorld(t *testing.T) *mailsim.World {
	t.Helper()
	w, err := mailsim.StartWorld()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// worldConfig is a configuration that probes targets in w. The interval
// is long: the tests probe with ProbeNow.
func worldConfig(w *mailsim.World, targets ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "defaults:\n  interval: 1h\n  timeout: 12s\n  banner_timeout: 5s\n")
	fmt.Fprintf(&b, "  command_timeout: 5s\n  port: %d\n  helo_name: probe.%s\n",
		w.Port, mailsim.Suffix)
	fmt.Fprintf(&b, "  mail_from: probe@%s\ndns:\n  servers: [%q]\n  timeout: 3s\n",
		mailsim.Suffix, w.DNS.Addr())
	b.WriteString("targets:\n")
	for _, t := range targets {
		fmt.Fprintf(&b, "  - address: %s\n    labels: {team: mail}\n", t)
	}
	return b.String()
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// startExporter runs an exporter over a configuration file of targets.
func startExporter(t *testing.T, w *mailsim.World, targets ...string) (*exporter, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mailprobe.yml")
	writeFile(t, path, worldConfig(w, targets...))
	ex, err := newExporter(path, w.Roots, log.NewNopLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ex.sched.Stop)
	return ex, path
}

func probeNow(t *testing.T, ex *exporter, names ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, name := range names {
		if _, err := ex.sched.ProbeNow(ctx, name); err != nil {
			t.Fatalf("probe %s: %v", name, err)
		}
	}
}

// fetch returns the status and body of a request to srv.
func fetch(t *testing.T, srv *httptest.Server, method, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

func targetPath(name string) string {
	return "/target?name=" + url.QueryEscape(name)
}

// assertShown checks which targets the status page, the target pages and
// the metrics show.
func assertShown(t *testing.T, srv *httptest.Server, shown, gone []string) {
	t.Helper()
	_, status := fetch(t, srv, http.MethodGet, "/")
	_, metrics := fetch(t, srv, http.MethodGet, "/metrics")
	for _, name := range shown {
		if code, _ := fetch(t, srv, http.MethodGet, targetPath(name)); code != 200 {
			t.Errorf("page of %s: status %d", name, code)
		}
		if !strings.Contains(status, ">"+name+"<") || !strings.Contains(metrics, name) {
			t.Errorf("%s is missing from the status page or the metrics", name)
		}
	}
	for _, name := range gone {
		if code, _ := fetch(t, srv, http.MethodGet, targetPath(name)); code != 404 {
			t.Errorf("page of removed %s: status %d, want 404", name, code)
		}
		if strings.Contains(status, name) || strings.Contains(metrics, name) {
			t.Errorf("removed %s is still on the status page or in the metrics", name)
		}
	}
	want := fmt.Sprintf("mailprobe_targets %d\n", len(shown))
	if !strings.Contains(metrics, want) {
		t.Errorf("metrics lack %q", want)
	}
}

func assertReloadMetric(t *testing.T, srv *httptest.Server, want int) {
	t.Helper()
	_, metrics := fetch(t, srv, http.MethodGet, "/metrics")
	line := fmt.Sprintf("mailprobe_config_last_reload_successful %d\n", want)
	if !strings.Contains(metrics, line) {
		t.Errorf("metrics lack %q", line)
	}
}

func TestReloadKeepsHistoryDropsRemovedTargetsAndSurvivesBadFiles(t *testing.T) {
	w := startWorld(t)
	ex, path := startExporter(t, w, alice, nobody)
	srv := httptest.NewServer(ex.newServer().Handler)
	t.Cleanup(srv.Close)
	probeNow(t, ex, alice, nobody)
	before, _ := ex.store.Get(alice)
	assertShown(t, srv, []string{alice, nobody}, nil)

	// A good file: nobody removed, grey added, alice unchanged.
	writeFile(t, path, worldConfig(w, alice, grey))
	if err := ex.reload(); err != nil {
		t.Fatalf("reload: %v", err)
	}
	probeNow(t, ex, grey)
	assertShown(t, srv, []string{alice, grey}, []string{nobody})
	assertReloadMetric(t, srv, 1)
	after, _ := ex.store.Get(alice)
	if after.Probes != before.Probes || len(after.History) == 0 ||
		!after.History[0].Time.Equal(before.History[0].Time) {
		t.Errorf("unchanged target lost its history: %d probes, history %v",
			after.Probes, after.History)
	}

	// A bad file, through POST /-/reload: the running set stays.
	running := ex.cfg.Load()
	writeFile(t, path, worldConfig(w, alice)+"  - adress: typo@ok.mailsim.test\n")
	code, body := fetch(t, srv, http.MethodPost, "/-/reload")
	if code != http.StatusInternalServerError || !strings.Contains(body, "adress") {
		t.Errorf("POST /-/reload of a bad file: %d %q", code, body)
	}
	if ex.cfg.Load() != running {
		t.Error("a failed reload replaced the running configuration")
	}
	assertShown(t, srv, []string{alice, grey}, []string{nobody})
	assertReloadMetric(t, srv, 0)
	_, status := fetch(t, srv, http.MethodGet, "/")
	if !strings.Contains(status, "The last configuration reload failed") ||
		!strings.Contains(status, "adress") {
		t.Error("the status page does not show why the reload failed")
	}
	probeNow(t, ex, grey) // the running configuration still probes grey

	// Fixed again.
	writeFile(t, path, worldConfig(w, alice))
	if err := ex.reload(); err != nil {
		t.Fatalf("reload: %v", err)
	}
	assertShown(t, srv, []string{alice}, []string{nobody, grey})
	assertReloadMetric(t, srv, 1)
	if _, metrics := fetch(t, srv, http.MethodGet, "/metrics"); strings.Contains(metrics,
		`domain="grey.mailsim.test"`) {
		t.Error("the MX legs of a removed target's domain are still in the metrics")
	}
	_, status = fetch(t, srv, http.MethodGet, "/")
	if strings.Contains(status, "reload failed") {
		t.Error("the status page still shows a reload failure")
	}
}

func TestSIGHUPReloads(t *testing.T) {
	// Catch SIGHUP here too, so that a slip in the exporter's handling
	// fails the test instead of ending the test binary.
	guard := make(chan os.Signal, 1)
	signal.Notify(guard, syscall.SIGHUP)
	defer signal.Stop(guard)

	w := startWorld(t)
	ex, path := startExporter(t, w, alice)
	stop := ex.reloadOnHUP()
	defer stop()

	tests := []struct {
		name    string
		file    string
		wantOK  bool
		targets []string // sorted
	}{
		{"a good file is loaded", worldConfig(w, alice, grey), true, []string{grey, alice}},
		{"a bad file keeps the running one", "targets: [", false, []string{grey, alice}},
		{"a good file again", worldConfig(w, nobody), true, []string{nobody}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			last := ex.store.Reload().Time
			writeFile(t, path, tt.file)
			if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(10 * time.Second)
			for ex.store.Reload().Time.Equal(last) && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			st := ex.store.Reload()
			if st.Time.Equal(last) || st.Successful != tt.wantOK {
				t.Fatalf("after SIGHUP: reload %+v, want successful=%v", st, tt.wantOK)
			}
			var names []string
			for _, e := range ex.store.Snapshot() {
				names = append(names, e.Target.Name)
			}
			if strings.Join(names, ",") != strings.Join(tt.targets, ",") {
				t.Errorf("targets %v, want %v", names, tt.targets)
			}
		})
	}
}

// webPassword's hash is made with bcrypt at test time.
const webPassword = "correct horse"

// serveWithWebConfig serves ex on 127.0.0.1 through exporter-toolkit with
// basic auth for user "ops", as the binary does with --web.config.file.
func serveWithWebConfig(t *testing.T, ex *exporter) string {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(webPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	webConfig := filepath.Join(t.TempDir(), "web.yml")
	writeFile(t, webConfig, "basic_auth_users:\n  ops: "+string(hash)+"\n")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	server := ex.newServer()
	noSystemd := false
	flags := &web.FlagConfig{
		WebListenAddresses: &[]string{ln.Addr().String()},
		WebSystemdSocket:   &noSystemd, WebConfigFile: &webConfig,
	}
	done := make(chan error, 1)
	go func() { done <- web.Serve(ln, server, flags, slog.New(slog.DiscardHandler)) }()
	t.Cleanup(func() {
		server.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("web server: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

func TestBasicAuthGuardsEveryEndpoint(t *testing.T) {
	w := startWorld(t)
	ex, _ := startExporter(t, w, alice)
	base := serveWithWebConfig(t, ex)
	client := &http.Client{
		Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	endpoints := []struct {
		method, path string
		form         string
		wantAuthed   int
	}{
		{"GET", "/", "", 200},
		{"GET", targetPath(alice), "", 200},
		{"GET", "/metrics", "", 200},
		{"GET", "/-/healthy", "", 200},
		{"GET", "/-/ready", "", 200},
		{"POST", "/-/reload", "", 200},
		{"POST", "/target/probe", "name=" + url.QueryEscape(alice), 303},
	}
	credentials := []struct {
		name       string
		user, pass string
		authed     bool
	}{
		{"no credentials", "", "", false},
		{"wrong password", "ops", "wrong", false},
		{"unknown user", "root", webPassword, false},
		{"right credentials", "ops", webPassword, true},
	}
	for _, c := range credentials {
		for _, ep := range endpoints {
			t.Run(c.name+" "+ep.method+" "+ep.path, func(t *testing.T) {
				req, _ := http.NewRequest(ep.method, base+ep.path, strings.NewReader(ep.form))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				if c.user != "" {
					req.SetBasicAuth(c.user, c.pass)
				}
				res, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				want := http.StatusUnauthorized
				if c.authed {
					want = ep.wantAuthed
				}
				if res.StatusCode != want {
					t.Errorf("status %d, want %d", res.StatusCode, want)
				}
			})
		}
		if e, _ := ex.store.Get(alice); !c.authed && e.Probes != 0 {
			t.Errorf("%s: probe-now ran without authentication", c.name)
		}
	}
	if e, _ := ex.store.Get(alice); e.Probes != 1 {
		t.Errorf("%d probes of %s, want the 1 authenticated probe-now", e.Probes, alice)
	}
}
