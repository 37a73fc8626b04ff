// Package webui serves the exporter's own pages: the status of every
// target, a page per target with the transcripts of its last dialogues,
// probe-now, reload, and the health endpoints. Every text a remote server
// supplied reaches the page through html/template's escaping, with control
// and invisible characters shown as escapes.
//
// The POST endpoints refuse cross-origin requests from browsers, judged by
// the Sec-Fetch-Site and Origin headers (net/http's CrossOriginProtection):
// a page on another site cannot make a visitor's browser probe or reload.
// Clients that send neither header, such as curl, are not browsers driven
// by a foreign page and are let through.
package webui

import (
	"context"
	"embed"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mailprobe/mailprobe_exporter/probe"
	"github.com/mailprobe/mailprobe_exporter/store"
)

//go:embed templates/*.html
var templateFS embed.FS

// DefaultMinProbeGap is the least time between the end of a target's
// last probe and a probe-now of it.
const DefaultMinProbeGap = 10 * time.Second

// ProbeNower probes one configured target at once.
type ProbeNower interface {
	ProbeNow(ctx context.Context, name string) (probe.Result, error)
}

// Options are what the pages read and act on.
type Options struct {
	Store  *store.Store
	Prober ProbeNower
	// Reload loads the configuration again; nil disables POST /-/reload.
	Reload func() error
	// Gatherer lists the exported series for the target pages; nil
	// leaves them out.
	Gatherer prometheus.Gatherer
	// MinProbeGap keeps probe-now from probing a target whose last probe
	// ended less than this long ago; 0 means DefaultMinProbeGap.
	MinProbeGap time.Duration
	// Now returns the current time; nil uses time.Now.
	Now func() time.Time
}

// Handler serves the pages.
type Handler struct {
	opts    Options
	tmpl    *template.Template
	handler http.Handler
	flights flights
}

// securityHeaders keep the pages from running scripts, loading anything
// from elsewhere, or being framed by another site.
var securityHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; " +
		"img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
	"X-Content-Type-Options": "nosniff",
	"X-Frame-Options":        "DENY",
	"Referrer-Policy":        "same-origin",
}

// New returns the handler of every page but /metrics.
func New(o Options) *Handler {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MinProbeGap == 0 {
		o.MinProbeGap = DefaultMinProbeGap
	}
	h := &Handler{opts: o}
	h.tmpl = template.Must(template.New("").Funcs(h.funcs()).
		ParseFS(templateFS, "templates/*.html"))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", h.status)
	mux.HandleFunc("GET /target", h.target)
	mux.HandleFunc("POST /target/probe", h.probeNow)
	mux.HandleFunc("POST /-/reload", h.reload)
	mux.HandleFunc("GET /-/healthy", ok)
	mux.HandleFunc("GET /-/ready", ok)

	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "cross-origin request refused", http.StatusForbidden)
	}))
	h.handler = cop.Handler(mux)
	return h
}

// ServeHTTP routes a request to its page.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	for k, v := range securityHeaders {
		w.Header().Set(k, v)
	}
	h.handler.ServeHTTP(w, r)
}

func ok(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("OK\n"))
}

func (h *Handler) reload(w http.ResponseWriter, _ *http.Request) {
	if h.opts.Reload == nil {
		http.Error(w, "reload is not available", http.StatusNotFound)
		return
	}
	if err := h.opts.Reload(); err != nil {
		http.Error(w, "reload failed, the running configuration stays: "+err.Error(),
			http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("configuration reloaded\n"))
}

// page is what every page shows around its own content.
type page struct {
	Title  string
	Reload store.ReloadStatus
}

func (h *Handler) page(title string) page {
	return page{Title: title, Reload: h.opts.Store.Reload()}
}

func (h *Handler) render(w http.ResponseWriter, name string, data any) {
	var b strings.Builder
	if err := h.tmpl.ExecuteTemplate(&b, name, data); err != nil {
		http.Error(w, "render "+name+": "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write([]byte(b.String()))
}
