package webui

import (
	"fmt"
	"html/template"
	"net/url"
	"strings"
	"time"

	"github.com/mailprobe/mailprobe_exporter/probe"
)

func (h *Handler) funcs() template.FuncMap {
	return template.FuncMap{
		"dur":       formatDuration,
		"ts":        func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") },
		"ago":       func(t time.Time) string { return formatDuration(h.opts.Now().Sub(t)) },
		"tone":      tone[string],
		"toneClass": tone[probe.Class],
		"targetURL": func(name string) string { return "/target?name=" + url.QueryEscape(name) },
		"dir":       func(b byte) string { return string(b) },
		"labels":    formatLabels,
	}
}

// formatDuration rounds d for people: milliseconds under a second,
// seconds under a minute, then minutes and hours.
func formatDuration(d time.Duration) string {
	switch {
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000)
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d < time.Hour:
		return d.Round(time.Second).String()
	}
	return d.Round(time.Minute).String()
}

// tone is the CSS class of an outcome: good, warn or bad.
func tone[C ~string](class C) string {
	switch c := probe.Class(class); c {
	case probe.Accepted:
		return "good"
	case probe.Greylisted, probe.Tempfail, probe.NullMX:
		return "warn"
	case "":
		return "none"
	}
	return "bad"
}

func formatLabels(m map[string]string) string {
	var parts []string
	for _, k := range sortedKeys(boolKeys(m)) {
		parts = append(parts, fmt.Sprintf("%s=%q", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func boolKeys(m map[string]string) map[string]bool {
	out := make(map[string]bool, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}
