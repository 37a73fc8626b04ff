// Package collector turns the stored probe results into Prometheus
// metrics at scrape time. A scrape reads a snapshot of the store: it never
// waits for a probe and never sees half a result.
package collector

import (
	"maps"
	"slices"
	"sort"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mailprobe/mailprobe_exporter/dialogue"
	"github.com/mailprobe/mailprobe_exporter/probe"
	"github.com/mailprobe/mailprobe_exporter/store"
)

const namespace = "mailprobe"

// bg is appended to every HELP text of a probe metric: the values come
// from the latest background probe, not from the scrape.
const bg = " (from the latest background probe)"

// Collector exports the results held in a store.
type Collector struct {
	store *store.Store

	mu     sync.Mutex
	cached *labelledDescs
}

// labelledDescs pairs target descriptors with the label names they have.
type labelledDescs struct {
	labels targetLabels
	descs  *targetDescs
}

var targetsDesc = desc("targets", "Number of configured targets.", nil)

// descsFor returns the descriptors for tl, reusing the last ones while the
// label names stay the same.
func (c *Collector) descsFor(tl targetLabels) *labelledDescs {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cached == nil || !slices.Equal(c.cached.labels.names, tl.names) {
		c.cached = &labelledDescs{labels: tl, descs: newTargetDescs(tl)}
	}
	return c.cached
}

// New returns a collector of st's results.
func New(st *store.Store) *Collector {
	return &Collector{store: st}
}

// Describe sends nothing: the target label names follow the configuration,
// so the collector is unchecked.
func (c *Collector) Describe(chan<- *prometheus.Desc) {}

// Collect emits the metrics of every target, domain and MX leg.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	entries := c.store.Snapshot()
	d := c.descsFor(newTargetLabels(entries))
	ch <- gauge(targetsDesc, float64(len(entries)))
	for _, e := range entries {
		lv := d.labels.values(e)
		collectConfigured(ch, d.descs, lv, e)
		if e.Last != nil {
			collectTarget(ch, d.descs, lv, e)
		}
	}
	collectDomains(ch, latestPerDomain(entries))
	collectReload(ch, c.store.Reload())
}

func desc(name, help string, labels []string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, labels, nil)
}

func gauge(d *prometheus.Desc, v float64, lv ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, lv...)
}

func counter(d *prometheus.Desc, v float64, lv ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, lv...)
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// targetLabels are the label names of target-level series: "target" and
// the union of the user's label names, sorted, so every series of a
// family has the same names ("" where a target lacks one).
type targetLabels struct {
	names []string
}

func newTargetLabels(entries []store.Entry) targetLabels {
	set := map[string]bool{}
	for _, e := range entries {
		for k := range e.Target.Labels {
			set[k] = true
		}
	}
	return targetLabels{names: append([]string{"target"}, slices.Sorted(maps.Keys(set))...)}
}

func (tl targetLabels) values(e store.Entry) []string {
	vs := make([]string, len(tl.names))
	vs[0] = e.Target.Name
	for i, n := range tl.names[1:] {
		vs[i+1] = e.Target.Labels[n]
	}
	return vs
}

func (tl targetLabels) with(extra ...string) []string {
	return append(slices.Clone(tl.names), extra...)
}

// targetDescs are the descriptors of target-level metrics for one set of
// label names, made once per change of the names rather than per series.
type targetDescs struct {
	info, interval                                                      *prometheus.Desc
	success, result, reply, timestamp, probes, failures, duration, rcpt *prometheus.Desc
}

func newTargetDescs(tl targetLabels) *targetDescs {
	return &targetDescs{
		info: desc("target_info",
			"1 for every configured target; domain is the ASCII form of its domain.",
			tl.with("domain")),
		interval: desc("probe_interval_seconds",
			"Configured time between the starts of two probes of the target.", tl.names),
		success: desc("success",
			"1 when an MX host accepted every recipient of the target"+bg+".", tl.names),
		result: desc("result",
			"1 for the outcome of the target's latest probe, 0 for the others.",
			tl.with("result")),
		reply: desc("last_reply_info",
			"The reply that explains the target's outcome"+bg+
				"; code and enhanced are \"\" when none.",
			tl.with("stage", "code", "enhanced")),
		timestamp: desc("last_probe_timestamp_seconds",
			"When the target's latest background probe ended, in seconds since the epoch.",
			tl.names),
		probes: desc("probes_total",
			"Background probes of the target since start or change.", tl.names),
		failures: desc("probe_failures_total",
			"Background probes of the target that ended without acceptance.", tl.names),
		duration: desc("probe_duration_seconds",
			"Duration of the target's background probes, DNS included.", tl.names),
		rcpt: desc("rcpt_reply_code",
			"Reply code to RCPT TO of each MX address"+bg+".", tl.with("mx", "ip")),
	}
}

// collectConfigured emits the series every configured target has, probed
// or not, so that rules can join on the domain and tell stale targets.
func collectConfigured(ch chan<- prometheus.Metric, d *targetDescs, lv []string, e store.Entry) {
	ch <- gauge(d.info, 1, append(slices.Clone(lv), e.Target.Domain)...)
	ch <- gauge(d.interval, e.Target.Settings.Interval.Seconds(), lv...)
}

func collectTarget(ch chan<- prometheus.Metric, d *targetDescs, lv []string, e store.Entry) {
	r := e.Last
	ch <- gauge(d.success, boolValue(r.Success()), lv...)
	for _, class := range probe.Classes {
		ch <- gauge(d.result, boolValue(r.Class == class), append(lv, string(class))...)
	}
	ch <- gauge(d.reply, 1, append(lv, r.Stage, codeString(r.Code), r.Enhanced)...)
	ch <- gauge(d.timestamp, float64(r.Start.Add(r.Duration).UnixNano())/1e9, lv...)
	ch <- counter(d.probes, float64(e.Probes), lv...)
	ch <- counter(d.failures, float64(e.Failures), lv...)
	ch <- histogram(d.duration, e, lv)
	collectRcpt(ch, d.rcpt, lv, r)
}

func codeString(code int) string {
	if code == 0 {
		return ""
	}
	return strconv.Itoa(code)
}

func histogram(d *prometheus.Desc, e store.Entry, lv []string) prometheus.Metric {
	buckets := make(map[float64]uint64, len(store.DurationBuckets))
	var cum uint64
	for i, bound := range store.DurationBuckets {
		cum += e.Buckets[i]
		buckets[bound] = cum
	}
	return prometheus.MustNewConstHistogram(d, e.Probes, e.DurationSum, buckets, lv...)
}

// collectRcpt emits the RCPT TO reply code of each leg that got one: the
// first refusal, else the first reply.
func collectRcpt(ch chan<- prometheus.Metric, d *prometheus.Desc, lv []string, r *probe.Result) {
	for _, leg := range r.Legs {
		rcpts := leg.Session.Rcpts
		if len(rcpts) == 0 {
			continue
		}
		code := rcpts[0].Reply.Code
		for _, rc := range rcpts {
			if rc.Reply.Code/100 != 2 {
				code = rc.Reply.Code
				break
			}
		}
		ch <- gauge(d, float64(code), append(slices.Clone(lv), leg.MX, leg.IP.String())...)
	}
}

// latestPerDomain picks, for each domain, the most recent result of the
// targets that share it.
func latestPerDomain(entries []store.Entry) []*probe.Result {
	latest := map[string]*probe.Result{}
	for _, e := range entries {
		r := e.Last
		if r == nil {
			continue
		}
		if old := latest[r.Domain]; old == nil || r.Start.After(old.Start) {
			latest[r.Domain] = r
		}
	}
	out := slices.Collect(maps.Values(latest))
	sort.Slice(out, func(i, j int) bool { return out[i].Domain < out[j].Domain })
	return out
}

func collectDomains(ch chan<- prometheus.Metric, results []*probe.Result) {
	pref := desc("mx_preference", "Preference of each MX host of the domain"+bg+".",
		[]string{"domain", "mx"})
	dnsDur := desc("dns_lookup_duration_seconds",
		"Time spent resolving the domain's MX hosts and their addresses"+bg+".",
		[]string{"domain"})
	for _, r := range results {
		ch <- gauge(dnsDur, r.DNS.Duration.Seconds(), r.Domain)
		for _, h := range r.DNS.Hosts {
			ch <- gauge(pref, float64(h.Preference), r.Domain, h.Name)
		}
		for _, leg := range r.Legs {
			collectLeg(ch, r.Domain, leg)
		}
	}
}

var legNames = []string{"domain", "mx", "ip"}

var (
	upDesc = desc("smtp_up",
		"1 when the MX address accepted the TCP connection and greeted with 220"+bg+".",
		legNames)
	phaseDesc = desc("phase_duration_seconds",
		"Duration of each phase of the dialogue with the MX address"+bg+"; 0 when not reached.",
		append(slices.Clone(legNames), "phase"))
	tlsVersionDesc = desc("tls_version_info",
		"TLS version negotiated after STARTTLS"+bg+".",
		append(slices.Clone(legNames), "version"))
	certExpiryDesc = desc("tls_cert_expiry_timestamp_seconds",
		"Expiry of the MX address's leaf certificate, in seconds since the epoch"+bg+".",
		legNames)
	certTrustedDesc = desc("tls_cert_trusted",
		"1 when the certificate chain verifies for the MX host name"+bg+".",
		legNames)
)

func collectLeg(ch chan<- prometheus.Metric, domain string, leg probe.Leg) {
	s := leg.Session
	lv := []string{domain, leg.MX, leg.IP.String()}
	up := s.Banner != nil && s.Banner.Code == 220
	ch <- gauge(upDesc, boolValue(up), lv...)
	for _, phase := range dialogue.Phases {
		plv := append(slices.Clone(lv), string(phase))
		ch <- gauge(phaseDesc, s.Phases[phase].Seconds(), plv...)
	}
	if s.TLS == nil {
		return
	}
	ch <- gauge(tlsVersionDesc, 1, append(slices.Clone(lv), s.TLS.Version)...)
	ch <- gauge(certExpiryDesc, float64(s.TLS.NotAfter.Unix()), lv...)
	ch <- gauge(certTrustedDesc, boolValue(s.TLS.Trusted), lv...)
}

var (
	reloadOKDesc = desc("config_last_reload_successful",
		"1 when the latest configuration load succeeded.", nil)
	reloadTimeDesc = desc("config_last_reload_success_timestamp_seconds",
		"When the configuration was last loaded successfully, in seconds since the epoch.", nil)
)

func collectReload(ch chan<- prometheus.Metric, st store.ReloadStatus) {
	ch <- gauge(reloadOKDesc, boolValue(st.Successful))
	ch <- gauge(reloadTimeDesc, float64(st.SuccessTime.Unix()))
}
