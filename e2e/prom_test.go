//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// sample is one series of an instant vector.
type sample struct {
	Labels map[string]string
	Value  float64
}

// series is one series of a range vector.
type series struct {
	Labels map[string]string
	Points []point
}

// point is one value of a range vector at a time.
type point struct {
	Time  time.Time
	Value float64
}

// promAPI queries a Prometheus server's HTTP API.
type promAPI struct {
	base   string
	client *http.Client
}

// apiResponse is the envelope of every API answer.
type apiResponse struct {
	Status string          `json:"status"`
	Error  string          `json:"error"`
	Data   json.RawMessage `json:"data"`
}

// queryData is the data of a query or query_range answer.
type queryData struct {
	ResultType string `json:"resultType"`
	Result     []struct {
		Metric map[string]string `json:"metric"`
		Value  []any             `json:"value"`
		Values [][]any           `json:"values"`
	} `json:"result"`
}

// rule is one rule of the rules API.
type rule struct {
	Name      string `json:"name"`
	Query     string `json:"query"`
	Type      string `json:"type"` // "recording" or "alerting"
	Health    string `json:"health"`
	LastError string `json:"lastError"`
}

// rulesData is the data of a rules answer.
type rulesData struct {
	Groups []struct {
		Name  string `json:"name"`
		File  string `json:"file"`
		Rules []rule `json:"rules"`
	} `json:"groups"`
}

func newPromAPI(base string) promAPI {
	return promAPI{base: strings.TrimRight(base, "/"), client: &http.Client{Timeout: 10 * time.Second}}
}

// query evaluates expr at the current time.
func (p promAPI) query(ctx context.Context, expr string) ([]sample, error) {
	var data queryData
	if err := p.get(ctx, "/api/v1/query", url.Values{"query": {expr}}, &data); err != nil {
		return nil, err
	}
	out := make([]sample, 0, len(data.Result))
	for _, r := range data.Result {
		pt, err := parsePoint(r.Value)
		if err != nil {
			return nil, fmt.Errorf("query %q: %w", expr, err)
		}
		out = append(out, sample{Labels: r.Metric, Value: pt.Value})
	}
	return out, nil
}

// queryRange evaluates expr from start to end at every step.
func (p promAPI) queryRange(ctx context.Context, expr string, start, end time.Time,
	step time.Duration) ([]series, error) {
	var data queryData
	err := p.get(ctx, "/api/v1/query_range", url.Values{
		"query": {expr},
		"start": {strconv.FormatInt(start.Unix(), 10)},
		"end":   {strconv.FormatInt(end.Unix(), 10)},
		"step":  {step.String()},
	}, &data)
	if err != nil {
		return nil, err
	}
	out := make([]series, 0, len(data.Result))
	for _, r := range data.Result {
		s := series{Labels: r.Metric}
		for _, v := range r.Values {
			pt, err := parsePoint(v)
			if err != nil {
				return nil, fmt.Errorf("query_range %q: %w", expr, err)
			}
			s.Points = append(s.Points, pt)
		}
		out = append(out, s)
	}
	return out, nil
}

// rules lists the rules Prometheus loaded, with their health.
func (p promAPI) rules(ctx context.Context) ([]rule, error) {
	var data rulesData
	if err := p.get(ctx, "/api/v1/rules", url.Values{}, &data); err != nil {
		return nil, err
	}
	var out []rule
	for _, g := range data.Groups {
		out = append(out, g.Rules...)
	}
	return out, nil
}

// get calls an API endpoint and decodes the data of its answer into data.
func (p promAPI) get(ctx context.Context, path string, args url.Values, data any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+path+"?"+args.Encode(), nil)
	if err != nil {
		return fmt.Errorf("build request for %s: %w", path, err)
	}
	res, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("get %s: %w", path, err)
	}
	defer res.Body.Close()

	body, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	var resp apiResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		return fmt.Errorf("decode %s (HTTP %d): %w", path, res.StatusCode, err)
	}
	if resp.Status != "success" {
		return fmt.Errorf("%s %s: %s", path, args.Get("query"), resp.Error)
	}
	if err := json.Unmarshal(resp.Data, data); err != nil {
		return fmt.Errorf("decode data of %s: %w", path, err)
	}
	return nil
}

// parsePoint decodes the API's [unix seconds, "value"] pair.
func parsePoint(v []any) (point, error) {
	if len(v) != 2 {
		return point{}, fmt.Errorf("malformed point %v", v)
	}
	ts, ok := v[0].(float64)
	str, ok2 := v[1].(string)
	if !ok || !ok2 {
		return point{}, fmt.Errorf("malformed point %v", v)
	}
	val, err := strconv.ParseFloat(str, 64)
	if err != nil {
		return point{}, fmt.Errorf("point value %q: %w", str, err)
	}
	sec := int64(ts)
	nsec := int64((ts - float64(sec)) * 1e9)
	return point{Time: time.Unix(sec, nsec), Value: val}, nil
}

// String renders samples compactly for failure messages.
func (s sample) String() string {
	return fmt.Sprintf("%s %g", labelString(s.Labels), s.Value)
}

func labelString(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%q", k, labels[k]))
	}
	return "{" + strings.Join(parts, ",") + "}"
}
