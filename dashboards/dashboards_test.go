// Package dashboards holds the Grafana dashboards of mailprobe_exporter. Its
// tests check that each dashboard imports without inputs, queries only the
// datasource variable, uses only metrics the exporter or the recording rules
// provide, and agrees with queries.txt, the list the end-to-end test runs.
package dashboards

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// dashboardFiles are the dashboards this directory must contain.
var dashboardFiles = []string{
	"mailprobe-overview.json",
	"mailprobe-target.json",
	"mailprobe-sla.json",
}

// datasourceRef is how every panel and query names its data source.
const datasourceRef = "${datasource}"

// exporterMetrics are the series names the exporter exposes, histogram
// series included. Keep in step with the metrics table of the README.
var exporterMetrics = []string{
	"mailprobe_success",
	"mailprobe_result",
	"mailprobe_last_reply_info",
	"mailprobe_rcpt_reply_code",
	"mailprobe_probe_duration_seconds_bucket",
	"mailprobe_probe_duration_seconds_sum",
	"mailprobe_probe_duration_seconds_count",
	"mailprobe_probes_total",
	"mailprobe_probe_failures_total",
	"mailprobe_last_probe_timestamp_seconds",
	"mailprobe_mx_preference",
	"mailprobe_dns_lookup_duration_seconds",
	"mailprobe_smtp_up",
	"mailprobe_phase_duration_seconds",
	"mailprobe_tls_version_info",
	"mailprobe_tls_cert_expiry_timestamp_seconds",
	"mailprobe_tls_cert_trusted",
	"mailprobe_config_last_reload_successful",
	"mailprobe_config_last_reload_success_timestamp_seconds",
	"mailprobe_targets",
	"mailprobe_target_info",
	"mailprobe_probe_interval_seconds",
	"mailprobe_build_info",
}

// variableValues replace the template variables in expressions the way the
// header of queries.txt describes.
var variableValues = strings.NewReplacer(
	"$target", ".+",
	"$domain", ".+",
	"$slo", "0.999",
	"$__range", "1h",
	"$__rate_interval", "5m",
)

// dashboard is the part of a Grafana dashboard model the tests look at.
type dashboard struct {
	UID           string          `json:"uid"`
	Title         string          `json:"title"`
	SchemaVersion int             `json:"schemaVersion"`
	Inputs        json.RawMessage `json:"__inputs"`
	Panels        []panel         `json:"panels"`
	Templating    struct {
		List []variable `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int                 `json:"id"`
	Type       string              `json:"type"`
	Title      string              `json:"title"`
	Datasource *datasource         `json:"datasource"`
	GridPos    *struct{ W, H int } `json:"gridPos"`
	Targets    []panelTarget       `json:"targets"`
	Panels     []panel             `json:"panels"`
}

type panelTarget struct {
	RefID      string      `json:"refId"`
	Datasource *datasource `json:"datasource"`
	Expr       string      `json:"expr"`
}

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type variable struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Query      json.RawMessage `json:"query"`
	Datasource *datasource     `json:"datasource"`
}

func loadDashboards(t *testing.T) map[string]dashboard {
	t.Helper()

	boards := make(map[string]dashboard)
	for _, name := range dashboardFiles {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatalf("read dashboard: %v", err)
		}

		var d dashboard
		if err := json.Unmarshal(data, &d); err != nil {
			t.Fatalf("parse %s: %v", name, err)
		}
		boards[name] = d
	}
	return boards
}

// allPanels returns the panels of a dashboard, those inside rows included.
func allPanels(panels []panel) []panel {
	var out []panel
	for _, p := range panels {
		out = append(out, p)
		out = append(out, allPanels(p.Panels)...)
	}
	return out
}

// variableQuery returns the text of a query variable, stored either as a
// string or as an object with a query field.
func variableQuery(v variable) (string, error) {
	var text string
	if err := json.Unmarshal(v.Query, &text); err == nil {
		return text, nil
	}

	var obj struct {
		Query string `json:"query"`
	}
	if err := json.Unmarshal(v.Query, &obj); err != nil {
		return "", fmt.Errorf("query of variable %s: %w", v.Name, err)
	}
	return obj.Query, nil
}

var (
	labelValuesCall = regexp.MustCompile(`^label_values\((.+),\s*\w+\)$`)
	queryResultCall = regexp.MustCompile(`^query_result\((.+)\)$`)
)

// variablePromQL returns the PromQL inside a Grafana variable query:
// M of label_values(M, L) and Q of query_result(Q).
func variablePromQL(query string) (string, error) {
	if m := labelValuesCall.FindStringSubmatch(query); m != nil {
		return m[1], nil
	}
	if m := queryResultCall.FindStringSubmatch(query); m != nil {
		return m[1], nil
	}
	return "", fmt.Errorf("variable query %q is neither label_values(M, L) nor query_result(Q)",
		query)
}

// dashboardExprs returns every PromQL expression of a dashboard, panel
// queries and variable queries, with template variables as written.
func dashboardExprs(d dashboard) ([]string, error) {
	var exprs []string
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}

		query, err := variableQuery(v)
		if err != nil {
			return nil, err
		}
		expr, err := variablePromQL(query)
		if err != nil {
			return nil, err
		}
		exprs = append(exprs, expr)
	}

	for _, p := range allPanels(d.Panels) {
		for _, target := range p.Targets {
			exprs = append(exprs, target.Expr)
		}
	}
	return exprs, nil
}

func readQueries(t *testing.T) []string {
	t.Helper()

	f, err := os.Open("queries.txt")
	if err != nil {
		t.Fatalf("open query list: %v", err)
	}
	defer f.Close()

	var queries []string
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		line := strings.TrimSpace(scanner.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		queries = append(queries, line)
	}
	if err := scanner.Err(); err != nil {
		t.Fatalf("read query list: %v", err)
	}
	return queries
}

// leftoverVariable matches a template variable that substitution missed;
// "$1" in label_replace is a capture group, not a variable.
var leftoverVariable = regexp.MustCompile(`\$[A-Za-z_{]`)

// substitute replaces the template variables of expr as queries.txt does.
func substitute(expr string) (string, error) {
	out := variableValues.Replace(expr)
	if leftoverVariable.MatchString(out) {
		return "", fmt.Errorf("expression %q has a variable queries.txt cannot substitute",
			expr)
	}
	return out, nil
}

var (
	stringLiteral = regexp.MustCompile("\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'|`[^`]*`")
	rangeSelector = regexp.MustCompile(`\[[^\]]*\]`)
	identifier    = regexp.MustCompile(`[A-Za-z_:][A-Za-z0-9_:]*`)
)

// metricNames returns the names in expr that are series of this project:
// those starting with mailprobe_ and recording rule names (with a colon).
// Label names, functions and keywords are neither.
func metricNames(expr string) []string {
	bare := stringLiteral.ReplaceAllString(expr, `""`)
	bare = rangeSelector.ReplaceAllString(bare, "[]")

	var names []string
	for _, word := range identifier.FindAllString(bare, -1) {
		if strings.HasPrefix(word, "mailprobe_") || strings.Contains(word, ":") {
			names = append(names, word)
		}
	}
	return names
}

// recordedNames returns the names of the recording rules in the rules file.
func recordedNames(t *testing.T) []string {
	t.Helper()

	data, err := os.ReadFile(filepath.Join("..", "rules", "mailprobe.rules.yml"))
	if err != nil {
		t.Fatalf("read rules: %v", err)
	}

	var file struct {
		Groups []struct {
			Rules []struct {
				Record string `yaml:"record"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(data, &file); err != nil {
		t.Fatalf("parse rules: %v", err)
	}

	var names []string
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				names = append(names, r.Record)
			}
		}
	}
	return names
}

func TestDashboardsImportWithoutInputs(t *testing.T) {
	uids := make(map[string]string)
	for name, d := range loadDashboards(t) {
		if d.Inputs != nil {
			t.Errorf("%s: has __inputs; it must import without a datasource prompt", name)
		}
		if d.SchemaVersion != 39 {
			t.Errorf("%s: schemaVersion %d, want 39", name, d.SchemaVersion)
		}
		if d.UID == "" || d.Title == "" {
			t.Errorf("%s: uid %q and title %q must both be set", name, d.UID, d.Title)
		}
		if other, ok := uids[d.UID]; ok {
			t.Errorf("%s: uid %q already used by %s", name, d.UID, other)
		}
		uids[d.UID] = name
	}
}

func TestEveryDashboardHasPrometheusDatasourceVariable(t *testing.T) {
	for name, d := range loadDashboards(t) {
		found := false
		for _, v := range d.Templating.List {
			if v.Name != "datasource" {
				continue
			}

			var query string
			if err := json.Unmarshal(v.Query, &query); err != nil {
				t.Errorf("%s: datasource variable query: %v", name, err)
			}
			if v.Type != "datasource" || query != "prometheus" {
				t.Errorf("%s: datasource variable has type %q, query %q; want datasource, "+
					"prometheus", name, v.Type, query)
			}
			found = true
		}
		if !found {
			t.Errorf("%s: no datasource variable", name)
		}
	}
}

func TestEveryPanelQueriesTheDatasourceVariable(t *testing.T) {
	isVariable := func(ds *datasource) bool {
		return ds != nil && ds.UID == datasourceRef && ds.Type == "prometheus"
	}

	for name, d := range loadDashboards(t) {
		ids := make(map[int]bool)
		for _, p := range allPanels(d.Panels) {
			if ids[p.ID] {
				t.Errorf("%s: panel id %d used twice", name, p.ID)
			}
			ids[p.ID] = true

			if p.GridPos == nil || p.GridPos.W == 0 || p.GridPos.H == 0 {
				t.Errorf("%s: panel %q has no size", name, p.Title)
			}
			if p.Type == "row" {
				continue
			}
			if !isVariable(p.Datasource) {
				t.Errorf("%s: panel %q does not use %s", name, p.Title, datasourceRef)
			}
			if len(p.Targets) == 0 {
				t.Errorf("%s: panel %q has no query", name, p.Title)
			}
			for _, target := range p.Targets {
				if !isVariable(target.Datasource) || target.Expr == "" {
					t.Errorf("%s: panel %q query %s lacks %s or an expression",
						name, p.Title, target.RefID, datasourceRef)
				}
			}
		}

		for _, v := range d.Templating.List {
			if v.Type == "query" && !isVariable(v.Datasource) {
				t.Errorf("%s: variable %s does not use %s", name, v.Name, datasourceRef)
			}
		}
	}
}

func TestQueryListMatchesDashboards(t *testing.T) {
	listed := readQueries(t)
	used := make(map[string]bool)

	for name, d := range loadDashboards(t) {
		exprs, err := dashboardExprs(d)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}

		for _, expr := range exprs {
			if strings.Contains(expr, "\n") {
				t.Errorf("%s: expression %q spans lines; queries.txt holds one a line",
					name, expr)
			}

			query, err := substitute(expr)
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			if !slices.Contains(listed, query) {
				t.Errorf("%s: queries.txt lacks %q", name, query)
			}
			used[query] = true
		}
	}

	for _, query := range listed {
		if !used[query] {
			t.Errorf("queries.txt lists %q, which no dashboard runs", query)
		}
	}
}

func TestQueriesUseOnlyKnownMetrics(t *testing.T) {
	known := append(slices.Clone(exporterMetrics), recordedNames(t)...)
	if len(known) == len(exporterMetrics) {
		t.Fatal("the rules file has no recording rules")
	}

	for _, query := range readQueries(t) {
		for _, name := range metricNames(query) {
			if !slices.Contains(known, name) {
				t.Errorf("query %q uses %s, which neither the exporter nor a recording "+
					"rule provides", query, name)
			}
		}
	}
}

func TestMetricNamesFindsSeriesAndSkipsTheRest(t *testing.T) {
	tests := []struct {
		name string
		expr string
		want []string
	}{
		{"plain selector", `mailprobe_success`, []string{"mailprobe_success"}},
		{"label names and functions are skipped",
			`sum by (result) (mailprobe_result{target=~"a"})`, []string{"mailprobe_result"}},
		{"recording rule names are kept",
			`100 * avg(target:mailprobe_success:avg_over_time_30d)`,
			[]string{"target:mailprobe_success:avg_over_time_30d"}},
		{"colons inside strings are no names",
			`label_replace(mailprobe_success, "domain", "$1", "target", "(?:.*@)?(.+)")`,
			[]string{"mailprobe_success"}},
		{"durations and offsets are no names",
			`rate(mailprobe_probes_total[5m:1m]) / mailprobe_probes_total offset 1h`,
			[]string{"mailprobe_probes_total", "mailprobe_probes_total"}},
		{"metric names in label values are skipped",
			`up{job="mailprobe_exporter"}`, nil},
		{"several series", `mailprobe_a * on (ip) group_left (version) mailprobe_b`,
			[]string{"mailprobe_a", "mailprobe_b"}},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := metricNames(tt.expr)
			if !slices.Equal(got, tt.want) {
				t.Errorf("metricNames(%q) = %q, want %q", tt.expr, got, tt.want)
			}
		})
	}
}

func TestSubstituteReplacesEveryVariable(t *testing.T) {
	tests := []struct {
		name    string
		expr    string
		want    string
		wantErr bool
	}{
		{"target becomes a match-all regex", `mailprobe_success{target=~"$target"}`,
			`mailprobe_success{target=~".+"}`, false},
		{"ranges become fixed durations",
			`rate(a[$__rate_interval]) + avg_over_time(b[$__range])`,
			`rate(a[5m]) + avg_over_time(b[1h])`, false},
		{"objective becomes its default", `x < $slo`, `x < 0.999`, false},
		{"capture groups stay", `label_replace(x, "d", "$1", "t", "(.+)")`,
			`label_replace(x, "d", "$1", "t", "(.+)")`, false},
		{"unknown variable is an error", `x{instance=~"$instance"}`, "", true},
		{"braced variable is an error", `x{target=~"${target}"}`, "", true},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := substitute(tt.expr)
			if (err != nil) != tt.wantErr {
				t.Fatalf("substitute(%q) error = %v, want error %v", tt.expr, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("substitute(%q) = %q, want %q", tt.expr, got, tt.want)
			}
		})
	}
}

func TestVariablePromQLUnwrapsGrafanaFunctions(t *testing.T) {
	tests := []struct {
		name    string
		query   string
		want    string
		wantErr bool
	}{
		{"label_values gives its metric", "label_values(mailprobe_success, target)",
			"mailprobe_success", false},
		{"query_result gives its query", `query_result(max by (domain) (x{a="b"}))`,
			`max by (domain) (x{a="b"})`, false},
		{"other functions are refused", "metrics(mailprobe_.*)", "", true},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := variablePromQL(tt.query)
			if (err != nil) != tt.wantErr {
				t.Fatalf("variablePromQL(%q) error = %v, want error %v",
					tt.query, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("variablePromQL(%q) = %q, want %q", tt.query, got, tt.want)
			}
		})
	}
}

func TestEveryExporterMetricIsCharted(t *testing.T) {
	// Exporter-level metrics that need no chart of their own.
	uncharted := []string{
		"mailprobe_config_last_reload_success_timestamp_seconds",
		"mailprobe_targets",
		"mailprobe_build_info",
	}

	charted := make(map[string]bool)
	for _, query := range readQueries(t) {
		for _, name := range metricNames(query) {
			charted[name] = true
		}
	}

	var missing []string
	for _, name := range exporterMetrics {
		if !charted[name] && !slices.Contains(uncharted, name) {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("no dashboard charts %s", strings.Join(missing, ", "))
	}
}
