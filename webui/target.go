package webui

import (
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	dto "github.com/prometheus/client_model/go"

	"github.com/mailprobe/mailprobe_exporter/probe"
	"github.com/mailprobe/mailprobe_exporter/store"
)

// targetPage is the data of the page of one target.
type targetPage struct {
	page
	Entry store.Entry
	Row   statusRow
	// PrevFailure is the latest failed probe when the last one succeeded.
	PrevFailure *probe.Result
	History     []store.Event // newest first
	// TargetSeries carry the target label; LegSeries the domain label.
	TargetSeries []series
	LegSeries    []series
	SeriesErr    string
	// Recent is set when probe-now declined because the last probe had
	// just ended.
	Recent      bool
	MinProbeGap string
}

// series is one exported time series, as PromQL would select it.
type series struct {
	Name  string
	Value string
}

func (h *Handler) target(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	e, found := h.opts.Store.Get(q.Get("name"))
	if !found {
		http.Error(w, "no such target", http.StatusNotFound)
		return
	}
	p := targetPage{
		page: h.page(e.Target.Name), Entry: e, Row: newStatusRow(e, h.opts.Now()),
		History: slices.Clone(e.History), Recent: q.Get("recent") != "",
		MinProbeGap: h.opts.MinProbeGap.String(),
	}
	slices.Reverse(p.History)
	if e.Last != nil && e.Last.Success() && e.LastFailure != nil {
		p.PrevFailure = e.LastFailure
	}
	if err := h.addSeries(&p); err != nil {
		p.SeriesErr = err.Error()
	}
	h.render(w, "target.html", p)
}

// addSeries lists the exported series of the target: those whose target
// label is its name, and the leg series of its domain.
func (h *Handler) addSeries(p *targetPage) error {
	if h.opts.Gatherer == nil {
		return nil
	}
	families, err := h.opts.Gatherer.Gather()
	if err != nil {
		return fmt.Errorf("gather metrics: %w", err)
	}
	t := p.Entry.Target
	for _, mf := range families {
		for _, m := range mf.GetMetric() {
			labels := labelMap(m)
			_, hasTarget := labels["target"]
			switch {
			case hasTarget && labels["target"] == t.Name:
				p.TargetSeries = append(p.TargetSeries, newSeries(mf, m))
			case !hasTarget && labels["domain"] == t.Domain:
				p.LegSeries = append(p.LegSeries, newSeries(mf, m))
			}
		}
	}
	return nil
}

func labelMap(m *dto.Metric) map[string]string {
	out := make(map[string]string, len(m.GetLabel()))
	for _, lp := range m.GetLabel() {
		out[lp.GetName()] = lp.GetValue()
	}
	return out
}

// newSeries writes a series the way the exposition format does.
func newSeries(mf *dto.MetricFamily, m *dto.Metric) series {
	var b strings.Builder
	b.WriteString(mf.GetName())
	b.WriteByte('{')
	for i, lp := range m.GetLabel() {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(lp.GetName())
		b.WriteString(`="`)
		b.WriteString(labelEscaper.Replace(lp.GetValue()))
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return series{Name: b.String(), Value: seriesValue(mf.GetType(), m)}
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func seriesValue(t dto.MetricType, m *dto.Metric) string {
	f := func(v float64) string {
		if a := math.Abs(v); a >= 1e-3 && a < 1e15 {
			return strconv.FormatFloat(v, 'f', -1, 64)
		}
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	switch t {
	case dto.MetricType_COUNTER:
		return f(m.GetCounter().GetValue())
	case dto.MetricType_GAUGE:
		return f(m.GetGauge().GetValue())
	case dto.MetricType_HISTOGRAM:
		hg := m.GetHistogram()
		return fmt.Sprintf("histogram: %d probes, %s s in all",
			hg.GetSampleCount(), f(hg.GetSampleSum()))
	}
	return f(m.GetUntyped().GetValue())
}
