package probe_test

import (
	"context"
	"io"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mailprobe/mailprobe_exporter/collector"
	"github.com/mailprobe/mailprobe_exporter/config"
	"github.com/mailprobe/mailprobe_exporter/probe"
	"github.com/mailprobe/mailprobe_exporter/resolve"
	"github.com/mailprobe/mailprobe_exporter/store"
	"github.com/mailprobe/mailprobe_exporter/webui"
)

// printable reports whether s is valid UTF-8 without control or invisible
// characters; newlines count as control characters too.
func printable(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool {
		return !unicode.IsPrint(r)
	})
}

// labelCase is a peer that puts octets in its replies which must not
// reach a label as they are.
type labelCase struct {
	name    string
	script  []move
	want    outcome
	textHas string // part of Result.Text, escaped
}

func TestRawOctetsNeverReachALabel(t *testing.T) {
	garbage := "\xff\xfe\x00\x1b[31m\x7f\u200b"
	runLabelCases(t, []labelCase{
		{
			name: "in the text of every reply",
			script: moves([]move{say("220 mx " + garbage + "\r\n")},
				answer("EHLO", "250-mx "+garbage+"\r\n250 \xffSTARTTLS\x00\r\n"), mailOK,
				answer("RCPT", "550 5.1.1 "+garbage+" unknown\r\n"), goodbye),
			want:    outcome{probe.Rejected, "rcpt", 550, "5.1.1"},
			textHas: `\xff\xfe\x00\x1b[31m\x7f\u200b unknown`,
		},
		{
			name: "inside the enhanced status code",
			script: moves(upToMail,
				answer("RCPT", "550 5.1.\xff1 "+garbage+"\r\n"), goodbye),
			want:    outcome{probe.Rejected, "rcpt", 550, ""},
			textHas: `5.1.\xff1 \xff\xfe`,
		},
		{
			name:    "in place of the reply code",
			script:  []move{say("2\xff0 mx " + garbage + "\r\n")},
			want:    outcome{probe.ProtocolError, "banner", 0, ""},
			textHas: `malformed reply line 2\xff0 mx \xff\xfe`,
		},
	})
}

// runLabelCases probes each peer, stores the result and checks every
// label of every series the collector exports, and the target's page.
func runLabelCases(t *testing.T, cases []labelCase) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			base := takeBaseline(t)
			peer := startPeer(t, c.script)
			tgt := hostileTarget(peer.port(), nil)
			tgt.Labels = map[string]string{"customer": "a"}
			p := &probe.Prober{Resolver: fixedMX{}}
			res := p.Probe(context.Background(), tgt)
			peer.stop(t)

			checkOutcome(t, res, c.want)
			if !printable(res.Text) || !strings.Contains(res.Text, c.textHas) {
				t.Errorf("text %q, want it printable and holding %q", res.Text, c.textHas)
			}
			checkTranscripts(t, res)
			st := recordOne(tgt, res)
			checkLabels(t, st, c.want)
			checkPage(t, st, tgt.Name, c.textHas)
			base.check(t)
		})
	}
}

// recordOne is a store holding res as the only result of tgt.
func recordOne(tgt config.Target, res probe.Result) *store.Store {
	st := store.New()
	st.SetTargets([]config.Target{tgt})
	st.Record(res)
	return st
}

// checkTranscripts checks that every line a page or log may show is
// printable.
func checkTranscripts(t *testing.T, res probe.Result) {
	t.Helper()
	for _, leg := range res.Legs {
		s := leg.Session
		for _, l := range s.Transcript {
			if !printable(l.Text) {
				t.Errorf("transcript line %q is not printable", l.Text)
			}
		}
		if !printable(s.Err) {
			t.Errorf("session error %q is not printable", s.Err)
		}
	}
}

// checkLabels gathers the collector's series and checks that every label
// value is printable, and that the reply series carries w.
func checkLabels(t *testing.T, st *store.Store, w outcome) {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector.New(st))
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	replies := 0
	for _, mf := range families {
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
				if !printable(lp.GetValue()) {
					t.Errorf("%s{%s=%q}: label value not printable",
						mf.GetName(), lp.GetName(), lp.GetValue())
				}
			}
			if mf.GetName() == "mailprobe_last_reply_info" {
				replies++
				checkReplyLabels(t, labels, w)
			}
		}
	}
	if replies != 1 {
		t.Errorf("%d mailprobe_last_reply_info series, want 1", replies)
	}
}

// checkReplyLabels compares the labels of the reply series with w.
func checkReplyLabels(t *testing.T, labels map[string]string, w outcome) {
	t.Helper()
	code := ""
	if w.code != 0 {
		code = strconv.Itoa(w.code)
	}
	if labels["stage"] != w.stage || labels["code"] != code ||
		labels["enhanced"] != w.enhanced {
		t.Errorf("reply labels %v, want stage %q code %q enhanced %q",
			labels, w.stage, code, w.enhanced)
	}
}

// checkPage fetches the target's page and checks that it is UTF-8,
// without control octets, and shows the escaped text.
func checkPage(t *testing.T, st *store.Store, name, textHas string) {
	t.Helper()
	h := webui.New(webui.Options{Store: st})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/target?name="+url.QueryEscape(name), nil))
	body, _ := io.ReadAll(rec.Result().Body)
	page := string(body)
	if rec.Code != 200 || !utf8.ValidString(page) {
		t.Fatalf("page: status %d, valid UTF-8 %t", rec.Code, utf8.ValidString(page))
	}
	if strings.ContainsFunc(page, func(r rune) bool {
		return r < 0x20 && r != '\n' && r != '\t' || r == 0x7f
	}) {
		t.Error("page holds a control character")
	}
	if !strings.Contains(page, textHas) {
		t.Errorf("page does not show %q", textHas)
	}
}

func TestRawOctetsInMXNamesNeverReachALabel(t *testing.T) {
	base := takeBaseline(t)
	srv := startDNS(t, nil, false, mx+`10 mx\255\000\009.example.test.`,
		`mx\255\000\009.example.test. 300 IN A 127.0.0.31`)
	p := &probe.Prober{
		Resolver: &resolve.Resolver{Servers: []string{srv.addr}, Timeout: dnsBudget},
		Dial:     (&dialRecorder{}).dial,
	}
	tgt := hostileTarget(25, nil)
	tgt.Domain = "example.test"
	res := p.Probe(context.Background(), tgt)
	srv.stop(t)

	checkOutcome(t, res, refused)
	if len(res.Legs) != 1 || res.Legs[0].MX != `mx\255\000\009.example.test` {
		t.Fatalf("legs %+v, want one to the MX in presentation form", res.Legs)
	}
	checkLabels(t, recordOne(tgt, res), refused)
	base.check(t)
}
