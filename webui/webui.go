// Package webui serves the exporter's own pages: the status of every
// target, a page per target with the transcripts of its last dialogues,
// probe-now, reload, and the health endpoints. Every text a remote server
// supplied reaches the page through html/template's escaping.
package webui

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/mailprobe/mailprobe_exporter/probe"
	"github.com/mailprobe/mailprobe_exporter/scheduler"
	"github.com/mailprobe/mailprobe_exporter/store"
)

//go:embed templates/*.html
var templateFS embed.FS

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
	// Now returns the current time; nil uses time.Now.
	Now func() time.Time
}

// Handler serves the pages.
type Handler struct {
	opts Options
	tmpl *template.Template
	mux  *http.ServeMux
}

// New returns the handler of every page but /metrics.
func New(o Options) *Handler {
	if o.Now == nil {
		o.Now = time.Now
	}
	h := &Handler{opts: o, mux: http.NewServeMux()}
	h.tmpl = template.Must(template.New("").Funcs(h.funcs()).
		ParseFS(templateFS, "templates/*.html"))
	h.mux.HandleFunc("GET /{$}", h.status)
	h.mux.HandleFunc("GET /target", h.target)
	h.mux.HandleFunc("POST /target/probe", h.probeNow)
	h.mux.HandleFunc("POST /-/reload", h.reload)
	h.mux.HandleFunc("GET /-/healthy", ok)
	h.mux.HandleFunc("GET /-/ready", ok)
	return h
}

// ServeHTTP routes a request to its page.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'")
	h.mux.ServeHTTP(w, r)
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
	w.Write([]byte("configuration reloaded\n"))
}

// statusRow is one target on the status page.
type statusRow struct {
	Entry store.Entry
	Age   time.Duration
}

func (h *Handler) status(w http.ResponseWriter, r *http.Request) {
	entries := h.opts.Store.Snapshot()
	filter := r.URL.Query()
	var rows []statusRow
	labelNames := map[string]bool{}
	for _, e := range entries {
		for k := range e.Target.Labels {
			labelNames[k] = true
		}
		if !matches(e, filter) {
			continue
		}
		row := statusRow{Entry: e}
		if e.Last != nil {
			row.Age = h.opts.Now().Sub(e.Last.Start.Add(e.Last.Duration))
		}
		rows = append(rows, row)
	}
	h.render(w, "status.html", map[string]any{
		"Rows": rows, "Total": len(entries), "Filter": filter,
		"LabelNames": sortedKeys(labelNames), "Reload": h.opts.Store.Reload(),
		"Counts": countClasses(entries),
	})
}

// matches reports whether e has every label (and result) the query asks for.
func matches(e store.Entry, q url.Values) bool {
	for k, vs := range q {
		want := vs[0]
		if want == "" {
			continue
		}
		var got string
		switch k {
		case "result":
			if e.Last != nil {
				got = string(e.Last.Class)
			}
		case "target":
			if !strings.Contains(e.Target.Name, want) {
				return false
			}
			continue
		default:
			got = e.Target.Labels[k]
		}
		if got != want {
			return false
		}
	}
	return true
}

func countClasses(entries []store.Entry) map[string]int {
	counts := map[string]int{}
	for _, e := range entries {
		if e.Last == nil {
			counts["pending"]++
			continue
		}
		counts[string(e.Last.Class)]++
	}
	return counts
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (h *Handler) target(w http.ResponseWriter, r *http.Request) {
	e, found := h.opts.Store.Get(r.URL.Query().Get("name"))
	if !found {
		http.Error(w, "no such target", http.StatusNotFound)
		return
	}
	h.render(w, "target.html", map[string]any{"Entry": e, "Now": h.opts.Now()})
}

// probeNow probes a configured target at once and shows its page.
func (h *Handler) probeNow(w http.ResponseWriter, r *http.Request) {
	name := r.FormValue("name")
	_, err := h.opts.Prober.ProbeNow(r.Context(), name)
	if errors.Is(err, scheduler.ErrUnknownTarget) {
		http.Error(w, "no such target", http.StatusNotFound)
		return
	}
	if err != nil {
		http.Error(w, "probe did not finish: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	http.Redirect(w, r, "/target?name="+url.QueryEscape(name), http.StatusSeeOther)
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
