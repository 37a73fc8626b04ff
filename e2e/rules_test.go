//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// exportedName matches a metric name of the exporter that is not part of a
// recording rule's name (level:metric:operations).
var exportedName = regexp.MustCompile(`(?:^|[^:\w])(mailprobe_\w+)`)

// loadedRules waits until Prometheus has evaluated every rule once and
// returns them; it skips the test when run.sh loaded no rule file.
func loadedRules(t *testing.T) []rule {
	t.Helper()
	if os.Getenv("E2E_RULE_FILES") == "" || os.Getenv("E2E_RULE_FILES") == "0" {
		t.Skip("no rule files under rules/")
	}
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		rules, err := prom.rules(ctx)
		cancel()
		if err == nil && len(rules) > 0 && allEvaluated(rules) {
			return rules
		}
		if time.Now().After(deadline) {
			t.Fatalf("rules not all evaluated: %d rules, err %v", len(rules), err)
		}
		time.Sleep(time.Second)
	}
}

func allEvaluated(rules []rule) bool {
	for _, r := range rules {
		if r.Health == "unknown" || r.Health == "" {
			return false
		}
	}
	return true
}

func TestRulesEvaluateWithoutErrors(t *testing.T) {
	for _, r := range loadedRules(t) {
		if r.Health != "ok" {
			t.Errorf("%s rule %s: health %s: %s", r.Type, r.Name, r.Health, r.LastError)
		}
	}
}

func TestRulesReadExportedSeries(t *testing.T) {
	rules := loadedRules(t)
	eventually(t, `count(mailprobe_probes_total >= 1)`, "every target probed",
		oneValue(targetCount))
	exported := sampleNames(httpGet(t, settings.exporterURL+"/metrics"))

	for _, r := range rules {
		for _, m := range exportedName.FindAllStringSubmatch(r.Query, -1) {
			if !exported[m[1]] {
				t.Errorf("%s rule %s reads %s, which the exporter does not export",
					r.Type, r.Name, m[1])
			}
		}
	}
}

func TestRecordingRulesProduceData(t *testing.T) {
	for _, r := range loadedRules(t) {
		if r.Type != "recording" {
			continue
		}
		t.Run(r.Name, func(t *testing.T) {
			eventually(t, "count("+r.Name+")", "some series", atLeast(1))
		})
	}
}

// sampleNames returns the metric names of the samples of an exposition.
func sampleNames(body []byte) map[string]bool {
	names := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			names[line[:i]] = true
		}
	}
	return names
}

// dashboardVariables stand in for the Grafana template variables the way
// the header of dashboards/queries.txt describes.
var dashboardVariables = strings.NewReplacer(
	"$target", ".+",
	"$domain", ".+",
	"$slo", "0.999",
	"$__range", "1h",
	"$__rate_interval", "5m",
)

func TestDashboardQueriesReturnData(t *testing.T) {
	path := os.Getenv("E2E_QUERIES")
	if path == "" {
		t.Skip("no dashboards/queries.txt")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read the dashboard queries: %v", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		expr := dashboardVariables.Replace(line)
		t.Run(line, func(t *testing.T) {
			eventually(t, expr, "some series", func(s []sample) bool { return len(s) > 0 })
		})
	}
}
