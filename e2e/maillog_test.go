//go:build e2e

package e2e

import (
	"os"
	"strings"
	"testing"
)

// maillog is what Postfix logged about the exporter's sessions.
type maillog struct {
	disconnects []string // "disconnect from" lines, one per finished session
	lines       []string // every complete line
}

func readMaillog(t *testing.T, path string) maillog {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read the Postfix log: %v", err)
	}
	// A session being logged right now may have left half a line.
	text := string(data)
	if i := strings.LastIndexByte(text, '\n'); i >= 0 {
		text = text[:i]
	}
	var log maillog
	for _, line := range strings.Split(text, "\n") {
		log.lines = append(log.lines, line)
		if strings.Contains(line, "/smtpd[") && strings.Contains(line, ": disconnect from ") {
			log.disconnects = append(log.disconnects, line)
		}
	}
	return log
}

func TestPostfixSessionsNeverSendData(t *testing.T) {
	eventually(t, `count(mailprobe_probes_total >= 2)`, "every target probed twice",
		oneValue(targetCount))
	log := readMaillog(t, settings.maillog)
	if len(log.disconnects) < 10 {
		t.Fatalf("want at least 10 finished sessions in %s, got %d", settings.maillog,
			len(log.disconnects))
	}

	tests := []struct {
		name string
		bad  func(string) bool // true for a session that breaks the rule
	}{
		{"no session sends DATA", func(l string) bool { return strings.Contains(l, " data=") }},
		{"every session ends with QUIT", func(l string) bool { return !strings.Contains(l, " quit=1") }},
		{"every command is known", func(l string) bool { return strings.Contains(l, " unknown=") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, l := range log.disconnects {
				if tt.bad(l) {
					t.Errorf("session breaks the rule: %s", l)
				}
			}
		})
	}
}

func TestPostfixLogShowsTheProber(t *testing.T) {
	eventually(t, `count(mailprobe_probes_total >= 2)`, "every target probed twice",
		oneValue(targetCount))
	log := readMaillog(t, settings.maillog)

	tests := []struct {
		name string
		want string // a line must contain every part
		none bool   // no line may contain it
	}{
		{name: "some session uses STARTTLS", want: "starttls=1"},
		{name: "the unknown user is refused with the configured sender and name",
			want: "<nobody@ok.test>: Recipient address rejected: User unknown|" +
				"from=<probe@e2e.mailprobe.test>|helo=<e2e.mailprobe.test>"},
		{name: "greylisting refused the prober once",
			want: "450 4.2.0 <alice@grey.test>|from=<probe@e2e.mailprobe.test>"},
		{name: "no client drops a connection", want: "lost connection", none: true},
		{name: "no client stalls", want: "timeout after", none: true},
		{name: "the null MX domain is never contacted", want: "nullmx.test", none: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			found := findLine(log.lines, strings.Split(tt.want, "|"))
			switch {
			case tt.none && found != "":
				t.Errorf("want no line with %q, found: %s", tt.want, found)
			case !tt.none && found == "":
				t.Errorf("want a line with %q in %s, found none", tt.want, settings.maillog)
			}
		})
	}
}

// findLine returns the first line that contains every part, or "".
func findLine(lines, parts []string) string {
	for _, l := range lines {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(l, p)
		}
		if all {
			return l
		}
	}
	return ""
}
