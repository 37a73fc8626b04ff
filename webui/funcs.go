package webui

import (
	"fmt"
	"html/template"
	"net/url"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mailprobe/mailprobe_exporter/dialogue"
	"github.com/mailprobe/mailprobe_exporter/probe"
)

func (h *Handler) funcs() template.FuncMap {
	return template.FuncMap{
		"dur":       formatDuration,
		"ts":        func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") },
		"ago":       func(t time.Time) string { return formatDuration(h.opts.Now().Sub(t)) },
		"tone":      tone[string],
		"toneClass": tone[probe.Class],
		"targetURL": targetURL,
		"filterURL": filterURL,
		"dir":       direction,
		"labels":    formatLabels,
		"printable": printable,
		"stage":     stageText,
		"phases":    phases,
		"ended":     func(r *probe.Result) time.Time { return r.Start.Add(r.Duration) },
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

// tone is the CSS class of an outcome: good, warn, bad or none.
func tone[C ~string](class C) string {
	switch c := probe.Class(class); c {
	case probe.Accepted:
		return "good"
	case probe.Greylisted, probe.Tempfail, probe.NullMX:
		return "warn"
	case "", resultPending:
		return "none"
	}
	return "bad"
}

// filterURL is the status page filtered by one query parameter.
func filterURL(key, value string) string {
	return "/?" + url.Values{key: {value}}.Encode()
}

// direction names the sender of a transcript line.
func direction(b byte) string {
	switch b {
	case '>':
		return "C:"
	case '<':
		return "S:"
	}
	return "··"
}

// stageText says where a dialogue stopped.
func stageText(s dialogue.Stage) string {
	if s == dialogue.StageDone {
		return "ran to the end"
	}
	return "stopped at " + string(s)
}

// phaseTime is the duration of one phase of a dialogue.
type phaseTime struct {
	Phase dialogue.Stage
	Took  time.Duration
}

// phases lists the measured phases of s in dialogue order.
func phases(s dialogue.Session) []phaseTime {
	var out []phaseTime
	for _, p := range dialogue.Phases {
		if d, ok := s.Phases[p]; ok {
			out = append(out, phaseTime{Phase: p, Took: d})
		}
	}
	return out
}

// printable shows control characters, invalid UTF-8 and characters that
// print nothing (bidirectional overrides among them) as escapes, so text a
// server sent cannot hide, reorder or fake what the page shows. Newlines
// and tabs stay.
func printable(s string) string {
	if !strings.ContainsFunc(s, hidden) && utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r < 0x20 && hidden(r) || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case hidden(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
		i += size
	}
	return b.String()
}

// hidden reports whether r would not show as itself on a page.
func hidden(r rune) bool {
	return r != '\n' && r != '\t' && r != ' ' && !unicode.IsPrint(r)
}

func formatLabels(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%q", k, m[k]))
	}
	return strings.Join(parts, ", ")
}
