package webui

import (
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/mailprobe/mailprobe_exporter/probe"
	"github.com/mailprobe/mailprobe_exporter/store"
)

// Result filter values beyond the classes.
const (
	resultPending = "pending" // not probed yet
	resultFailing = "failing" // probed, and not accepted
)

// statusRow is one target on the status page.
type statusRow struct {
	Entry store.Entry
	// Age is the time since the last probe ended.
	Age time.Duration
	// Stale is true when the last probe is older than two intervals and
	// a timeout: the scheduler is behind or the target stuck.
	Stale bool
}

// classCount is the number of targets in one result.
type classCount struct {
	Result string
	N      int
}

// statusPage is the data of the status page.
type statusPage struct {
	page
	Rows       []statusRow
	Total      int
	Counts     []classCount
	LabelNames []string
	Results    []string // choices of the result filter
	Filter     url.Values
	Filtered   bool
}

func (h *Handler) status(w http.ResponseWriter, r *http.Request) {
	entries := h.opts.Store.Snapshot()
	filter := validQuery(r.URL.Query())
	p := statusPage{
		page: h.page("Status"), Total: len(entries), Filter: filter,
		Counts: countResults(entries), LabelNames: labelNames(entries),
		Results: resultChoices(), Filtered: filtered(filter),
	}
	now := h.opts.Now()
	for _, e := range entries {
		if matches(e, filter) {
			p.Rows = append(p.Rows, newStatusRow(e, now))
		}
	}
	h.render(w, "status.html", p)
}

func newStatusRow(e store.Entry, now time.Time) statusRow {
	row := statusRow{Entry: e}
	if e.Last == nil {
		return row
	}
	row.Age = now.Sub(e.Last.Start.Add(e.Last.Duration))
	s := e.Target.Settings
	row.Stale = row.Age > 2*s.Interval+s.Timeout
	return row
}

// resultOf is the value the result filter compares.
func resultOf(e store.Entry) string {
	if e.Last == nil {
		return resultPending
	}
	return string(e.Last.Class)
}

// matches reports whether e has every label, the result and the part of
// the target name the query asks for. Empty values ask for nothing.
func matches(e store.Entry, q url.Values) bool {
	for k, vs := range q {
		want := vs[0]
		if want == "" {
			continue
		}
		var ok bool
		switch k {
		case "target":
			ok = strings.Contains(e.Target.Name, want)
		case "result":
			ok = want == resultOf(e) ||
				want == resultFailing && e.Last != nil && !e.Last.Success()
		default:
			ok = e.Target.Labels[k] == want
		}
		if !ok {
			return false
		}
	}
	return true
}

func filtered(q url.Values) bool {
	for _, vs := range q {
		if vs[0] != "" {
			return true
		}
	}
	return false
}

// countResults counts the targets per result, in the order of
// probe.Classes, pending last; results no target has are left out.
func countResults(entries []store.Entry) []classCount {
	n := map[string]int{}
	for _, e := range entries {
		n[resultOf(e)]++
	}
	var out []classCount
	for _, r := range resultChoices() {
		if n[r] > 0 {
			out = append(out, classCount{Result: r, N: n[r]})
		}
	}
	return out
}

func resultChoices() []string {
	out := []string{resultFailing}
	for _, c := range probe.Classes {
		out = append(out, string(c))
	}
	return append(out, resultPending)
}

// labelNames is the union of the targets' label names, sorted.
func labelNames(entries []store.Entry) []string {
	seen := map[string]bool{}
	var out []string
	for _, e := range entries {
		for k := range e.Target.Labels {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	return out
}

// validQuery replaces invalid UTF-8 in the query's values, which the page
// echoes into its filter form.
func validQuery(q url.Values) url.Values {
	for k, vs := range q {
		for i, v := range vs {
			vs[i] = strings.ToValidUTF8(v, "\uFFFD")
		}
		q[k] = vs
	}
	return q
}
