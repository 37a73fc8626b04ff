// Command mailprobe_exporter probes the mail exchangers of configured
// recipients up to RCPT TO and exports the outcome as Prometheus metrics.
package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"
	slgk "github.com/tjhop/slog-gokit"

	"github.com/mailprobe/mailprobe_exporter/collector"
	"github.com/mailprobe/mailprobe_exporter/config"
	"github.com/mailprobe/mailprobe_exporter/probe"
	"github.com/mailprobe/mailprobe_exporter/resolve"
	"github.com/mailprobe/mailprobe_exporter/scheduler"
	"github.com/mailprobe/mailprobe_exporter/store"
	"github.com/mailprobe/mailprobe_exporter/webui"
)

// defaultListen keeps the status pages, which show the dialogues with
// customers' mail servers, on loopback unless the operator opens them.
const defaultListen = "127.0.0.1:9893"

func main() {
	os.Exit(run(os.Args[1:]))
}

// flags are the command-line settings.
type flags struct {
	configFile  string
	configCheck bool
	demo        bool
	logLevel    string
	logFormat   string
	web         *web.FlagConfig
}

func parseFlags(args []string) (flags, error) {
	var f flags
	app := kingpin.New("mailprobe_exporter",
		"Probes mail exchangers up to RCPT TO and exports the outcome to Prometheus.")
	app.Version(version.Print("mailprobe_exporter"))
	app.HelpFlag.Short('h')
	app.Flag("config.file", "Configuration file.").
		Default("config.example.yml").StringVar(&f.configFile)
	app.Flag("config.check", "Validate the configuration file and exit.").
		BoolVar(&f.configCheck)
	app.Flag("demo", "Start a simulated mail world on loopback and probe it, "+
		"instead of reading --config.file.").BoolVar(&f.demo)
	app.Flag("log.level", "Log level: debug, info, warn or error.").
		Default("info").EnumVar(&f.logLevel, "debug", "info", "warn", "error")
	app.Flag("log.format", "Log format: logfmt or json.").
		Default("logfmt").EnumVar(&f.logFormat, "logfmt", "json")
	f.web = kingpinflag.AddFlags(app, defaultListen)
	_, err := app.Parse(args)
	return f, err
}

// newLogger returns the exporter's logger, and the same logger without
// timestamp and caller for the slog bridge, which adds its own.
func newLogger(f flags) (log.Logger, log.Logger) {
	var l log.Logger
	if f.logFormat == "json" {
		l = log.NewJSONLogger(log.NewSyncWriter(os.Stderr))
	} else {
		l = log.NewLogfmtLogger(log.NewSyncWriter(os.Stderr))
	}
	l = level.NewFilter(l, level.Allow(level.ParseDefault(f.logLevel, level.InfoValue())))
	return log.With(l, "ts", log.DefaultTimestampUTC, "caller", log.DefaultCaller), l
}

func run(args []string) int {
	f, err := parseFlags(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if f.configCheck {
		return checkConfig(f.configFile)
	}
	logger, bridge := newLogger(f)
	var roots *x509.CertPool
	if f.demo {
		world, path, err := startDemo(logger)
		if err != nil {
			level.Error(logger).Log("msg", "cannot start the demo world", "err", err)
			return 1
		}
		defer world.Close()
		defer os.RemoveAll(filepath.Dir(path))
		f.configFile, roots = path, world.Roots
	}
	ex, err := newExporter(f.configFile, roots, logger)
	if err != nil {
		level.Error(logger).Log("msg", "cannot load configuration", "err", err)
		return 1
	}
	defer ex.sched.Stop()
	defer ex.reloadOnHUP()()
	if err := ex.serve(f, bridge); err != nil {
		level.Error(logger).Log("msg", "web server stopped", "err", err)
		return 1
	}
	return 0
}

func checkConfig(path string) int {
	cfg, err := config.Load(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("%s: configuration is valid, %d targets\n", path, len(cfg.Targets))
	return 0
}

// exporter ties the parts together and owns the running configuration.
type exporter struct {
	path     string
	logger   log.Logger
	store    *store.Store
	sched    *scheduler.Scheduler
	gate     *probe.IPGate
	resolver *currentResolver

	mu  sync.Mutex // serialises reloads
	cfg atomic.Pointer[config.Config]
}

func newExporter(path string, roots *x509.CertPool, logger log.Logger) (*exporter, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	ex := &exporter{
		path: path, logger: logger, store: store.New(),
		gate: &probe.IPGate{}, resolver: &currentResolver{},
	}
	prober := &probe.Prober{Resolver: ex.resolver, Gate: ex.gate, RootCAs: roots}
	ex.sched = scheduler.New(prober, ex.store, logger)
	ex.apply(cfg)
	ex.store.SetReload(nil, time.Now())
	logSummary(logger, cfg)
	return ex, nil
}

// apply makes cfg the running configuration.
func (ex *exporter) apply(cfg *config.Config) {
	maxHosts := cfg.Defaults.MaxMXHosts
	for _, t := range cfg.Targets {
		maxHosts = max(maxHosts, t.Settings.MaxMXHosts)
	}
	ex.resolver.set(&resolve.Resolver{
		Servers: cfg.DNS.Servers, Timeout: cfg.DNS.Timeout, MaxHosts: maxHosts,
	})
	ex.gate.SetLimit(cfg.Limits.PerIPConnections)
	ex.sched.Apply(cfg)
	ex.cfg.Store(cfg)
}

// reload loads the configuration file again. On failure the running
// configuration stays in force.
func (ex *exporter) reload() error {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	cfg, err := config.Load(ex.path)
	ex.store.SetReload(err, time.Now())
	if err != nil {
		level.Error(ex.logger).Log("msg", "reload failed, keeping the running configuration",
			"file", ex.path, "err", err)
		return err
	}
	ex.apply(cfg)
	level.Info(ex.logger).Log("msg", "configuration reloaded", "file", ex.path,
		"targets", len(cfg.Targets))
	return nil
}

// reloadOnHUP reloads the configuration on every SIGHUP until the returned
// function is called. SIGHUP is caught before reloadOnHUP returns.
func (ex *exporter) reloadOnHUP() (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		for {
			select {
			case <-hup:
				_ = ex.reload()
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(hup)
		close(done)
		<-ended
	}
}

func logSummary(logger log.Logger, cfg *config.Config) {
	d := cfg.Defaults
	level.Info(logger).Log("msg", "configuration loaded", "file", cfg.File,
		"targets", len(cfg.Targets), "dns_servers", fmt.Sprint(cfg.DNS.Servers),
		"interval", d.Interval, "timeout", d.Timeout, "helo_name", d.HeloName,
		"mail_from", d.MailFrom, "concurrency", cfg.Limits.Concurrency,
		"per_ip_connections", cfg.Limits.PerIPConnections)
}

// newServer returns the web server of /metrics and the pages, without
// exporter-toolkit's TLS and basic auth, which web.Serve adds.
func (ex *exporter) newServer() *http.Server {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collector.New(ex.store),
		versioncollector.NewCollector("mailprobe"),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog: stdLogger{ex.logger}, MaxRequestsInFlight: 8,
	}))
	mux.Handle("/", webui.New(webui.Options{
		Store: ex.store, Prober: ex.sched, Reload: ex.reload, Gatherer: reg,
	}))
	return &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
}

func (ex *exporter) serve(f flags, bridge log.Logger) error {
	server := ex.newServer()
	slogger := slog.New(slgk.NewGoKitHandler(bridge, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- web.ListenAndServe(server, f.web, slogger) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		level.Info(ex.logger).Log("msg", "shutting down")
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := server.Shutdown(sctx)
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	}
}

// stdLogger passes promhttp's errors to the go-kit logger.
type stdLogger struct{ l log.Logger }

func (s stdLogger) Println(v ...any) {
	level.Error(s.l).Log("msg", fmt.Sprint(v...))
}

// currentResolver lets a reload replace the DNS settings while probes run.
type currentResolver struct {
	p atomic.Pointer[resolve.Resolver]
}

func (c *currentResolver) set(r *resolve.Resolver) { c.p.Store(r) }

func (c *currentResolver) ResolveMX(ctx context.Context, domain string,
	fam resolve.Family) resolve.Answer {
	return c.p.Load().ResolveMX(ctx, domain, fam)
}
