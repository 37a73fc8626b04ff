package config

import (
	"os"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// FuzzParse checks that Parse never panics, that every error line names the
// file and carries no control character, and that an accepted file yields
// only values that are safe to send.
func FuzzParse(f *testing.F) {
	example, err := os.ReadFile("../config.example.yml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	f.Add([]byte(minimal))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data, "fuzz.yml")
		if err != nil {
			if cfg != nil {
				t.Fatalf("Parse returned a Config with its error")
			}
			checkErrorLines(t, err.Error())
			return
		}
		checkInvariants(t, cfg)
	})
}

// checkErrorLines checks the one-problem-per-line error output.
func checkErrorLines(t *testing.T, msg string) {
	t.Helper()
	for _, line := range strings.Split(msg, "\n") {
		if !strings.HasPrefix(line, "fuzz.yml:") {
			t.Errorf("error line does not name the file: %q", line)
		}
		if strings.IndexFunc(line, unicode.IsControl) >= 0 {
			t.Errorf("error line has a control character: %q", line)
		}
	}
}

// checkInvariants checks what every accepted Config promises.
func checkInvariants(t *testing.T, cfg *Config) {
	t.Helper()
	checkSettings(t, "defaults", cfg.Defaults)
	if cfg.DNS.Timeout <= 0 || cfg.Limits.Concurrency < 1 || cfg.Limits.PerIPConnections < 1 {
		t.Errorf("dns or limits out of range: %+v %+v", cfg.DNS, cfg.Limits)
	}
	names := map[string]bool{}
	for _, tg := range cfg.Targets {
		if names[tg.Name] {
			t.Errorf("duplicate target %q accepted", tg.Name)
		}
		names[tg.Name] = true
		checkTarget(t, tg)
	}
}

// checkTarget checks one accepted target.
func checkTarget(t *testing.T, tg Target) {
	t.Helper()
	checkWire(t, "domain", tg.Domain)
	if err := checkDomainSyntax(tg.Domain); err != nil || tg.Domain != strings.ToLower(tg.Domain) {
		t.Errorf("domain %q is not a lowercase ASCII domain: %v", tg.Domain, err)
	}
	if len(tg.Recipients) == 0 {
		t.Errorf("target %q has no recipients", tg.Name)
	}
	for _, r := range tg.Recipients {
		checkWire(t, "recipient", r)
		if !strings.HasSuffix(r, "@"+tg.Domain) || len(r) > maxAddress {
			t.Errorf("recipient %q is not a valid address at %q", r, tg.Domain)
		}
	}
	for name, value := range tg.Labels {
		if checkLabelName(name) != nil || slices.Contains(ReservedLabels, name) {
			t.Errorf("label name %q accepted", name)
		}
		if strings.IndexFunc(value, unicode.IsControl) >= 0 {
			t.Errorf("label value %q accepted", value)
		}
	}
	if key := tg.Key(); key != tg.Key() || len(key) != 64 {
		t.Errorf("key of %q is not a stable SHA-256", tg.Name)
	}
	checkSettings(t, tg.Name, tg.Settings)
}

// checkSettings checks the ranges, bounds and wire values of settings.
func checkSettings(t *testing.T, who string, s Settings) {
	t.Helper()
	checkWire(t, "helo_name", s.HeloName)
	checkWire(t, "mail_from", s.MailFrom)
	if s.HeloName == "" {
		t.Errorf("%s: empty helo_name", who)
	}
	if s.Interval <= 0 || s.Timeout > s.Interval || s.BannerTimeout > s.Timeout ||
		s.CommandTimeout > s.Timeout || s.BannerTimeout <= 0 || s.CommandTimeout <= 0 {
		t.Errorf("%s: durations out of order: %+v", who, s)
	}
	if s.Port < 1 || s.Port > 65535 || s.MaxMXHosts < 1 || s.MaxMXHosts > 100 {
		t.Errorf("%s: numbers out of range: %+v", who, s)
	}
	policies := []string{StartTLSOpportunistic, StartTLSRequired, StartTLSNever}
	if !slices.Contains(policies, s.StartTLS) ||
		!slices.Contains([]string{MXWalk, MXAll, MXPrimary}, s.MX) ||
		!slices.Contains([]string{IPv4, IPv6, Both}, s.IPFamily) {
		t.Errorf("%s: unknown policy: %+v", who, s)
	}
}

// checkWire checks that a value sent to a server is printable ASCII.
func checkWire(t *testing.T, what, v string) {
	t.Helper()
	for i := 0; i < len(v); i++ {
		if v[i] < ' ' || v[i] > '~' {
			t.Errorf("%s %q has byte %#x, which must not reach the wire", what, v, v[i])
			return
		}
	}
}
