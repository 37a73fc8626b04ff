package config

import (
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// minimal is the smallest valid configuration with one target.
const minimal = "targets:\n  - address: alice@customer-a.example\n"

// withTarget returns a configuration whose one target has the given extra
// lines (indented by the caller) after "- address: alice@customer-a.example".
func withTarget(lines string) string {
	return minimal + lines
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want string
	}{
		// The file as a whole.
		{
			name: "empty file",
			yaml: "",
			want: `config.yml:1: empty configuration; write "targets: []" for one without targets`,
		},
		{
			name: "comments only",
			yaml: "# nothing here\n",
			want: `config.yml:1: empty configuration; write "targets: []" for one without targets`,
		},
		{
			name: "YAML syntax error",
			yaml: "targets: [\n",
			want: `config.yml:1: invalid YAML: did not find expected node content`,
		},
		{
			name: "tab indentation",
			yaml: "targets:\n\t- domain: customer-b.example\n",
			want: `config.yml:2: invalid YAML: found character that cannot start any token`,
		},
		{
			name: "second document",
			yaml: minimal + "---\ntargets: []\n",
			want: `config.yml:3: a second YAML document; the configuration is one document`,
		},
		{
			name: "top level is a list",
			yaml: "- address: alice@customer-a.example\n",
			want: `config.yml:1: must be a mapping, got a list`,
		},

		// Strictness about keys and shapes.
		{
			name: "unknown top-level key",
			yaml: minimal + "target: []\n",
			want: `config.yml:3: unknown key "target"`,
		},
		{
			name: "unknown defaults key",
			yaml: "defaults:\n  intervall: 5m\n" + minimal,
			want: `config.yml:2: defaults: unknown key "intervall"`,
		},
		{
			name: "target-only key in defaults",
			yaml: "defaults:\n  labels: {tier: gold}\n" + minimal,
			want: `config.yml:2: defaults: unknown key "labels"`,
		},
		{
			name: "unknown dns key",
			yaml: "dns:\n  server: 127.0.0.1:53\n" + minimal,
			want: `config.yml:2: dns: unknown key "server"`,
		},
		{
			name: "unknown limits key",
			yaml: "limits:\n  per_ip: 2\n" + minimal,
			want: `config.yml:2: limits: unknown key "per_ip"`,
		},
		{
			name: "unknown target key",
			yaml: withTarget("    adress: bob@customer-a.example\n"),
			want: `config.yml:3: targets[0]: unknown key "adress"`,
		},
		{
			name: "repeated key",
			yaml: "defaults:\n  port: 25\n  port: 587\n" + minimal,
			want: `config.yml:3: defaults: duplicate key "port", first at line 2`,
		},
		{
			name: "targets is a mapping",
			yaml: "targets:\n  address: alice@customer-a.example\n",
			want: `config.yml:2: targets: must be a list, got a mapping`,
		},
		{
			name: "target is a string",
			yaml: "targets:\n  - alice@customer-a.example\n",
			want: `config.yml:2: targets[0]: must be a mapping, got "alice@customer-a.example"`,
		},
		{
			name: "labels is a list",
			yaml: withTarget("    labels: [gold]\n"),
			want: `config.yml:3: targets[0].labels: must be a mapping, got a list`,
		},
		{
			name: "key that is a list",
			yaml: "defaults:\n  ? [port]\n  : 25\n" + minimal,
			want: `config.yml:2: defaults: key must be a single value, got a list`,
		},
		{
			name: "recipients empty with a rejected domain",
			yaml: "targets:\n  - domain: x..example\n    recipients:\n",
			want: "config.yml:2: targets[0].domain: malformed domain \"x..example\": " +
				"domain has an empty label\n" +
				"config.yml:3: targets[0].recipients: is empty",
		},
		{
			name: "alias",
			yaml: "targets:\n  - address: &a alice@customer-a.example\n  - domain: *a\n",
			want: `config.yml:3: targets[1].domain: YAML aliases are not supported`,
		},
		{
			name: "value missing",
			yaml: "defaults:\n  helo_name:\n" + minimal,
			want: `config.yml:2: defaults.helo_name: missing value`,
		},
		{
			name: "binary tag",
			yaml: "defaults:\n  helo_name: !!binary cHJvYmU=\n" + minimal,
			want: `config.yml:2: defaults.helo_name: unsupported YAML tag "!!binary"`,
		},

		// What to probe.
		{
			name: "address and domain",
			yaml: withTarget("    domain: customer-a.example\n"),
			want: `config.yml:3: targets[0]: has both address and domain; give one of them`,
		},
		{
			name: "neither address nor domain",
			yaml: "targets:\n  - labels: {tier: gold}\n",
			want: `config.yml:2: targets[0]: needs an address or a domain`,
		},
		{
			name: "empty target",
			yaml: minimal + "  -\n",
			want: `config.yml:3: targets[1]: needs an address or a domain`,
		},
		{
			name: "duplicate address names both lines",
			yaml: minimal + "  - domain: customer-b.example\n  - address: alice@customer-a.example\n",
			want: `config.yml:4: targets[2].address: duplicate target "alice@customer-a.example", ` +
				`first at line 2`,
		},
		{
			name: "duplicate domain names both lines",
			yaml: "targets:\n  - domain: customer-b.example\n    mx: all\n  - domain: customer-b.example\n",
			want: `config.yml:4: targets[1].domain: duplicate target "customer-b.example", first at line 2`,
		},
		{
			name: "same address in another case is a duplicate",
			yaml: minimal + "  - address: alice@Customer-A.EXAMPLE\n",
			want: `config.yml:3: targets[1]: "alice@Customer-A.EXAMPLE" probes the same ` +
				`recipients as "alice@customer-a.example" at line 2`,
		},
		{
			name: "IDN spelled as A-label is a duplicate",
			yaml: "targets:\n  - domain: bücher.example\n  - domain: xn--bcher-kva.example\n",
			want: `config.yml:3: targets[1]: "xn--bcher-kva.example" probes the same ` +
				`recipients as "bücher.example" at line 2`,
		},
		{
			name: "domain target and its postmaster address are duplicates",
			yaml: "targets:\n  - domain: customer-b.example\n" +
				"  - address: postmaster@customer-b.example\n",
			want: `config.yml:3: targets[1]: "postmaster@customer-b.example" probes the same ` +
				`recipients as "customer-b.example" at line 2`,
		},
		{
			name: "interval below a second",
			yaml: "defaults:\n  interval: 5ms\n  timeout: 5ms\n" + minimal,
			want: "config.yml:2: defaults.interval: must be at least 1s, got 5ms\n" +
				"config.yml:3: defaults.timeout: must be at least 100ms, got 5ms",
		},
		{
			name: "per-target command timeout below 100ms",
			yaml: minimal + "    command_timeout: 1ms\n",
			want: `config.yml:3: targets[0].command_timeout: must be at least 100ms, got 1ms`,
		},
		{
			name: "recipients with address",
			yaml: withTarget("    recipients: [bob@customer-a.example]\n"),
			want: `config.yml:3: targets[0].recipients: is only allowed with domain`,
		},
		{
			name: "recipient at another domain",
			yaml: "targets:\n  - domain: customer-b.example\n    recipients: [bob@customer-c.example]\n",
			want: `config.yml:3: targets[0].recipients[0]: "bob@customer-c.example" is not at domain ` +
				`"customer-b.example"`,
		},
		{
			name: "recipient repeated",
			yaml: "targets:\n  - domain: customer-b.example\n    recipients:\n" +
				"      - bob@customer-b.example\n      - bob@Customer-B.example\n",
			want: `config.yml:5: targets[0].recipients[1]: duplicate recipient "bob@Customer-B.example", ` +
				`first at line 4`,
		},
		{
			name: "recipients empty",
			yaml: "targets:\n  - domain: customer-b.example\n    recipients: []\n",
			want: `config.yml:3: targets[0].recipients: is empty; ` +
				`leave it out to probe postmaster@customer-b.example`,
		},
		{
			name: "recipient malformed",
			yaml: "targets:\n  - domain: customer-b.example\n    recipients: [bob]\n",
			want: `config.yml:3: targets[0].recipients[0]: malformed address "bob": missing "@"`,
		},

		// Address syntax.
		{
			name: "address without at sign",
			yaml: "targets:\n  - address: alice\n",
			want: `config.yml:2: targets[0].address: malformed address "alice": missing "@"`,
		},
		{
			name: "address without domain",
			yaml: "targets:\n  - address: x@\n",
			want: `config.yml:2: targets[0].address: malformed address "x@": domain is empty`,
		},
		{
			name: "address without local part",
			yaml: "targets:\n  - address: \"@customer-a.example\"\n",
			want: `config.yml:2: targets[0].address: malformed address "@customer-a.example": ` +
				`local part is empty`,
		},
		{
			name: "local part with double dot",
			yaml: "targets:\n  - address: alice..smith@customer-a.example\n",
			want: `config.yml:2: targets[0].address: malformed address "alice..smith@customer-a.example": ` +
				`local part has an empty atom (a leading, trailing or double dot)`,
		},
		{
			name: "local part with trailing dot",
			yaml: "targets:\n  - address: alice.@customer-a.example\n",
			want: `config.yml:2: targets[0].address: malformed address "alice.@customer-a.example": ` +
				`local part has an empty atom (a leading, trailing or double dot)`,
		},
		{
			name: "local part with space outside quotes",
			yaml: "targets:\n  - address: alice smith@customer-a.example\n",
			want: `config.yml:2: targets[0].address: malformed address "alice smith@customer-a.example": ` +
				`local part has ' ' outside a quoted string`,
		},
		{
			name: "two at signs outside quotes",
			yaml: "targets:\n  - address: a@b@customer-a.example\n",
			want: `config.yml:2: targets[0].address: malformed address "a@b@customer-a.example": ` +
				`local part has '@' outside a quoted string`,
		},
		{
			name: "unterminated quoted local part",
			yaml: "targets:\n  - address: '\"alice@customer-a.example'\n",
			want: `config.yml:2: targets[0].address: malformed address "\"alice@customer-a.example": ` +
				`local part has an unterminated quoted string`,
		},
		{
			name: "text after quoted local part",
			yaml: "targets:\n  - address: '\"al\"ice@customer-a.example'\n",
			want: `config.yml:2: targets[0].address: malformed address "\"al\"ice@customer-a.example": ` +
				`local part has text after its closing quote`,
		},
		{
			name: "escaped closing quote",
			yaml: "targets:\n  - address: '\"alice\\\"@customer-a.example'\n",
			want: `config.yml:2: targets[0].address: malformed address "\"alice\\\"@customer-a.example": ` +
				`local part has an unterminated quoted string`,
		},
		{
			name: "non-ASCII local part",
			yaml: "targets:\n  - address: jörg@customer-a.example\n",
			want: `config.yml:2: targets[0].address: malformed address "jörg@customer-a.example": ` +
				`local part is not ASCII; the prober does not use SMTPUTF8`,
		},
		{
			name: "local part over 64 octets",
			yaml: "targets:\n  - address: " + strings.Repeat("a", 65) + "@customer-a.example\n",
			want: `config.yml:2: targets[0].address: malformed address "` + strings.Repeat("a", 65) +
				`@customer-a.exa"...: local part is 65 octets long, more than 64`,
		},
		{
			name: "address over 254 octets",
			yaml: "targets:\n  - address: " + strings.Repeat("a", 64) + "@" + longDomain(190) + "\n",
			want: `config.yml:2: targets[0].address: malformed address "` + strings.Repeat("a", 64) +
				`@abcdefghi.abcde"...: address is 255 octets long, more than 254`,
		},
		{
			name: "address literal domain",
			yaml: "targets:\n  - address: alice@[192.0.2.1]\n",
			want: `config.yml:2: targets[0].address: malformed address "alice@[192.0.2.1]": ` +
				`domain is an address literal, which is not supported here`,
		},

		// Domain syntax.
		{
			name: "domain with trailing dot",
			yaml: "targets:\n  - domain: customer-b.example.\n",
			want: `config.yml:2: targets[0].domain: malformed domain "customer-b.example.": ` +
				`domain ends with a dot`,
		},
		{
			name: "domain with ideographic full stop at the end",
			yaml: "targets:\n  - domain: customer-b.example。\n",
			want: `config.yml:2: targets[0].domain: malformed domain "customer-b.example。": ` +
				`domain ends with a dot`,
		},
		{
			name: "domain with empty label",
			yaml: "targets:\n  - domain: customer-b..example\n",
			want: `config.yml:2: targets[0].domain: malformed domain "customer-b..example": ` +
				`domain has an empty label`,
		},
		{
			name: "domain with leading dot",
			yaml: "targets:\n  - domain: .customer-b.example\n",
			want: `config.yml:2: targets[0].domain: malformed domain ".customer-b.example": ` +
				`domain has an empty label`,
		},
		{
			name: "domain label over 63 octets",
			yaml: "targets:\n  - domain: " + strings.Repeat("b", 64) + ".example\n",
			want: `config.yml:2: targets[0].domain: malformed domain "` + strings.Repeat("b", 64) +
				`.example": domain label "` + strings.Repeat("b", 64) +
				`" is 64 octets long, more than 63`,
		},
		{
			name: "domain too long for postmaster",
			yaml: "targets:\n  - domain: " + longDomain(244) + "\n",
			want: `config.yml:2: targets[0].domain: "postmaster@` + longDomain(244)[:69] +
				`"... is 255 octets long, more than 254; list recipients`,
		},
		{
			name: "domain over 253 octets",
			yaml: "targets:\n  - domain: " + longDomain(254) + "\n",
			want: `config.yml:2: targets[0].domain: malformed domain "` + longDomain(254)[:80] +
				`"...: domain is 254 octets long, more than 253`,
		},
		{
			name: "domain with underscore",
			yaml: "targets:\n  - domain: customer_b.example\n",
			want: `config.yml:2: targets[0].domain: malformed domain "customer_b.example": ` +
				`convert domain to ASCII: idna: disallowed rune U+005F`,
		},
		{
			name: "domain label with leading hyphen",
			yaml: "targets:\n  - domain: -customer-b.example\n",
			want: `config.yml:2: targets[0].domain: malformed domain "-customer-b.example": ` +
				`convert domain to ASCII: idna: invalid label "-customer-b"`,
		},
		{
			name: "domain with invalid punycode",
			yaml: "targets:\n  - domain: xn--zz.example\n",
			want: `config.yml:2: targets[0].domain: malformed domain "xn--zz.example": ` +
				`convert domain to ASCII: idna: invalid label "zz"`,
		},
		{
			name: "domain that is an IPv4 address",
			yaml: "targets:\n  - domain: 192.0.2.1\n",
			want: `config.yml:2: targets[0].domain: malformed domain "192.0.2.1": ` +
				`domain's top-level label "1" is all digits`,
		},
		{
			name: "domain that maps to nothing",
			yaml: "targets:\n  - domain: \"\\u00ad\"\n",
			want: `config.yml:2: targets[0].domain: malformed domain "\u00ad": domain is empty`,
		},

		// Control characters in values that reach the wire.
		{
			name: "CR LF in address",
			yaml: "targets:\n  - address: \"alice@customer-a.example\\r\\nDATA\"\n",
			want: `config.yml:2: targets[0].address: malformed address ` +
				`"alice@customer-a.example\r\nDATA": contains control character U+000D`,
		},
		{
			name: "LF in quoted local part",
			yaml: "targets:\n  - address: \"\\\"a\\nb\\\"@customer-a.example\"\n",
			want: `config.yml:2: targets[0].address: malformed address "\"a\nb\"@customer-a.example": ` +
				`contains control character U+000A`,
		},
		{
			name: "NUL in domain",
			yaml: "targets:\n  - domain: \"customer-b.example\\0\"\n",
			want: `config.yml:2: targets[0].domain: malformed domain "customer-b.example\x00": ` +
				`contains control character U+0000`,
		},
		{
			name: "LF in recipient",
			yaml: "targets:\n  - domain: customer-b.example\n" +
				"    recipients: [\"bob@customer-b.example\\nRSET\"]\n",
			want: `config.yml:3: targets[0].recipients[0]: malformed address ` +
				`"bob@customer-b.example\nRSET": contains control character U+000A`,
		},
		{
			name: "CR in helo_name",
			yaml: "defaults:\n  helo_name: \"probe.example.com\\r\"\n" + minimal,
			want: `config.yml:2: defaults.helo_name: malformed host name "probe.example.com\r": ` +
				`contains control character U+000D`,
		},
		{
			name: "DEL in mail_from",
			yaml: "defaults:\n  mail_from: \"probe\\x7f@example.com\"\n" + minimal,
			want: `config.yml:2: defaults.mail_from: malformed address "probe\x7f@example.com": ` +
				`contains control character U+007F`,
		},
		{
			name: "C1 control in label value",
			yaml: withTarget("    labels: {customer: \"a\\u0085b\"}\n"),
			want: `config.yml:3: targets[0].labels.customer: contains control character U+0085`,
		},

		// EHLO name and sender.
		{
			name: "empty helo_name",
			yaml: "defaults:\n  helo_name: \"\"\n" + minimal,
			want: `config.yml:2: defaults.helo_name: malformed host name "": domain is empty`,
		},
		{
			name: "helo_name with space",
			yaml: "defaults:\n  helo_name: probe example\n" + minimal,
			want: `config.yml:2: defaults.helo_name: malformed host name "probe example": ` +
				`convert domain to ASCII: idna: disallowed rune U+0020`,
		},
		{
			name: "helo_name bare IP address",
			yaml: "defaults:\n  helo_name: 192.0.2.25\n" + minimal,
			want: `config.yml:2: defaults.helo_name: malformed host name "192.0.2.25": ` +
				`domain's top-level label "25" is all digits`,
		},
		{
			name: "helo_name IPv6 literal without tag",
			yaml: "defaults:\n  helo_name: \"[2001:db8::25]\"\n" + minimal,
			want: `config.yml:2: defaults.helo_name: malformed host name "[2001:db8::25]": ` +
				`address literal is neither [IPv4 address] nor [IPv6:IPv6 address]`,
		},
		{
			name: "helo_name unclosed literal",
			yaml: "defaults:\n  helo_name: \"[192.0.2.25\"\n" + minimal,
			want: `config.yml:2: defaults.helo_name: malformed host name "[192.0.2.25": ` +
				`address literal is neither [IPv4 address] nor [IPv6:IPv6 address]`,
		},
		{
			name: "mail_from without domain",
			yaml: "defaults:\n  mail_from: probe@\n" + minimal,
			want: `config.yml:2: defaults.mail_from: malformed address "probe@": domain is empty`,
		},
		{
			name: "mail_from in angle brackets",
			yaml: "defaults:\n  mail_from: <probe@example.com>\n" + minimal,
			want: `config.yml:2: defaults.mail_from: malformed address "<probe@example.com>": ` +
				`local part has '<' outside a quoted string`,
		},

		// Durations.
		{
			name: "duration without unit",
			yaml: "defaults:\n  interval: 300\n" + minimal,
			want: `config.yml:2: defaults.interval: time: missing unit in duration "300"`,
		},
		{
			name: "duration in days",
			yaml: "defaults:\n  interval: 1d\n" + minimal,
			want: `config.yml:2: defaults.interval: time: unknown unit "d" in duration "1d"`,
		},
		{
			name: "zero duration",
			yaml: "dns:\n  timeout: 0s\n" + minimal,
			want: `config.yml:2: dns.timeout: must be positive, got 0s`,
		},
		{
			name: "negative duration",
			yaml: withTarget("    command_timeout: -5s\n"),
			want: `config.yml:3: targets[0].command_timeout: must be positive, got -5s`,
		},
		{
			name: "timeout longer than interval",
			yaml: "defaults:\n  interval: 5m\n  timeout: 6m\n" + minimal,
			want: `config.yml:3: defaults.timeout: 6m0s exceeds interval 5m0s`,
		},
		{
			name: "interval shorter than default timeout",
			yaml: "defaults:\n  interval: 1m\n" + minimal,
			want: `config.yml:2: defaults.interval: 1m0s is less than timeout 2m0s`,
		},
		{
			name: "banner_timeout longer than timeout",
			yaml: "defaults:\n  banner_timeout: 3m\n" + minimal,
			want: `config.yml:2: defaults.banner_timeout: 3m0s exceeds timeout 2m0s`,
		},
		{
			name: "command_timeout longer than timeout",
			yaml: withTarget("    command_timeout: 3m\n"),
			want: `config.yml:3: targets[0].command_timeout: 3m0s exceeds timeout 2m0s`,
		},
		{
			name: "timeout shorter than both inherited waits",
			yaml: withTarget("    timeout: 20s\n"),
			want: "config.yml:3: targets[0].timeout: 20s is less than banner_timeout 1m0s\n" +
				"config.yml:3: targets[0].timeout: 20s is less than command_timeout 30s",
		},
		{
			name: "bounds of a rejected value are not checked",
			yaml: withTarget("    timeout: 20\n"),
			want: `config.yml:3: targets[0].timeout: time: missing unit in duration "20"`,
		},
		{
			name: "target interval shorter than inherited timeout",
			yaml: "defaults:\n  timeout: 90s\n" + withTarget("    interval: 1m\n"),
			want: `config.yml:5: targets[0].interval: 1m0s is less than timeout 1m30s`,
		},

		// Numbers and words.
		{
			name: "port zero",
			yaml: withTarget("    port: 0\n"),
			want: `config.yml:3: targets[0].port: must be between 1 and 65535, got 0`,
		},
		{
			name: "port too large",
			yaml: "defaults:\n  port: 65536\n" + minimal,
			want: `config.yml:2: defaults.port: must be between 1 and 65535, got 65536`,
		},
		{
			name: "port quoted",
			yaml: "defaults:\n  port: \"25\"\n" + minimal,
			want: `config.yml:2: defaults.port: must be an integer, got "25"`,
		},
		{
			name: "port fractional",
			yaml: "defaults:\n  port: 25.5\n" + minimal,
			want: `config.yml:2: defaults.port: must be an integer, got "25.5"`,
		},
		{
			name: "max_mx_hosts too large",
			yaml: "defaults:\n  max_mx_hosts: 101\n" + minimal,
			want: `config.yml:2: defaults.max_mx_hosts: must be between 1 and 100, got 101`,
		},
		{
			name: "concurrency zero",
			yaml: "limits:\n  concurrency: 0\n" + minimal,
			want: `config.yml:2: limits.concurrency: must be at least 1, got 0`,
		},
		{
			name: "per_ip_connections negative",
			yaml: "limits:\n  per_ip_connections: -1\n" + minimal,
			want: `config.yml:2: limits.per_ip_connections: must be at least 1, got -1`,
		},
		{
			name: "concurrency beyond int32",
			yaml: "limits:\n  concurrency: 3000000000\n" + minimal,
			want: `config.yml:2: limits.concurrency: must be at most 2147483647, got 3000000000`,
		},
		{
			name: "unknown starttls policy",
			yaml: "defaults:\n  starttls: always\n" + minimal,
			want: `config.yml:2: defaults.starttls: must be opportunistic, required or never, got "always"`,
		},
		{
			name: "unknown mx mode",
			yaml: withTarget("    mx: backup\n"),
			want: `config.yml:3: targets[0].mx: must be walk, all or primary, got "backup"`,
		},
		{
			name: "unknown ip family",
			yaml: withTarget("    ip_family: IPv4\n"),
			want: `config.yml:3: targets[0].ip_family: must be ipv4, ipv6 or both, got "IPv4"`,
		},

		// DNS servers.
		{
			name: "server without port",
			yaml: "dns:\n  servers: [127.0.0.1]\n" + minimal,
			want: `config.yml:2: dns.servers[0]: malformed server "127.0.0.1": ` +
				`want IP:port, such as 127.0.0.1:53 or [::1]:53`,
		},
		{
			name: "server by name",
			yaml: "dns:\n  servers: [\"localhost:53\"]\n" + minimal,
			want: `config.yml:2: dns.servers[0]: malformed server "localhost:53": ` +
				`host "localhost" is not an IP address`,
		},
		{
			name: "server with bad port",
			yaml: "dns:\n  servers: [\"127.0.0.1:0\"]\n" + minimal,
			want: `config.yml:2: dns.servers[0]: malformed server "127.0.0.1:0": ` +
				`port "0" is not between 1 and 65535`,
		},
		{
			name: "server repeated",
			yaml: "dns:\n  servers:\n    - 127.0.0.1:53\n    - 127.0.0.1:53\n" + minimal,
			want: `config.yml:4: dns.servers[1]: duplicate server "127.0.0.1:53", first at line 3`,
		},

		// Labels.
		{
			name: "label name with dash",
			yaml: withTarget("    labels: {customer-id: a}\n"),
			want: `config.yml:3: targets[0].labels: invalid label name "customer-id": ` +
				`want [a-zA-Z_][a-zA-Z0-9_]*`,
		},
		{
			name: "label name starting with digit",
			yaml: withTarget("    labels: {1tier: gold}\n"),
			want: `config.yml:3: targets[0].labels: invalid label name "1tier": ` +
				`want [a-zA-Z_][a-zA-Z0-9_]*`,
		},
		{
			name: "label name starting with two underscores",
			yaml: withTarget("    labels: {__tier: gold}\n"),
			want: `config.yml:3: targets[0].labels: label name "__tier" is reserved: ` +
				`names starting with "__" are internal to Prometheus`,
		},
		{
			name: "label name the exporter uses",
			yaml: withTarget("    labels: {mx: primary}\n"),
			want: `config.yml:3: targets[0].labels: label name "mx" is reserved: the exporter sets it`,
		},
		{
			name: "label value missing",
			yaml: withTarget("    labels: {tier: }\n"),
			want: `config.yml:3: targets[0].labels.tier: missing value`,
		},
		{
			name: "label value a list",
			yaml: withTarget("    labels: {tier: [gold]}\n"),
			want: `config.yml:3: targets[0].labels.tier: must be a single value, got a list`,
		},

		// All problems at once, in line order.
		{
			name: "every problem is reported",
			yaml: "defaults:\n  port: 0\n  mx: some\n" +
				"targets:\n  - address: x@\n  - domain: a_b.example\n    labels: {job: x}\n",
			want: "config.yml:2: defaults.port: must be between 1 and 65535, got 0\n" +
				"config.yml:3: defaults.mx: must be walk, all or primary, got \"some\"\n" +
				"config.yml:5: targets[0].address: malformed address \"x@\": domain is empty\n" +
				"config.yml:6: targets[1].domain: malformed domain \"a_b.example\": " +
				"convert domain to ASCII: idna: disallowed rune U+005F\n" +
				"config.yml:7: targets[1].labels: label name \"job\" is reserved: the exporter sets it",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse([]byte(tt.yaml), "config.yml")
			if err == nil {
				t.Fatalf("Parse accepted the file: %+v", cfg)
			}
			if cfg != nil {
				t.Errorf("Parse returned a Config with its error")
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("error:\n got: %s\nwant: %s", got, tt.want)
			}
		})
	}
}

// longDomain returns a valid ASCII domain of exactly n octets, in labels of
// nine letters.
func longDomain(n int) string {
	d := strings.Repeat("abcdefghi.", n/10+1)[:n]
	if strings.HasSuffix(d, ".") {
		d = d[:n-1] + "x"
	}
	return d
}

func TestParseAccepts(t *testing.T) {
	defaults := DefaultSettings()
	tests := []struct {
		name  string
		yaml  string
		check func(t *testing.T, cfg *Config)
	}{
		{
			name: "defaults apply to an empty target list",
			yaml: "targets: []\n",
			check: func(t *testing.T, cfg *Config) {
				want := Settings{
					Interval: 5 * time.Minute, Timeout: 2 * time.Minute,
					BannerTimeout: time.Minute, CommandTimeout: 30 * time.Second,
					HeloName: "mailprobe.invalid", MailFrom: "", Port: 25,
					StartTLS: "opportunistic", MX: "walk", IPFamily: "both", MaxMXHosts: 10,
				}
				equal(t, "defaults", cfg.Defaults, want)
				equal(t, "dns", cfg.DNS, DNS{Timeout: 5 * time.Second})
				equal(t, "limits", cfg.Limits, Limits{Concurrency: 32, PerIPConnections: 1})
				equal(t, "targets", len(cfg.Targets), 0)
			},
		},
		{
			name: "address target inherits the defaults section",
			yaml: "defaults:\n  interval: 10m\n  mail_from: probe@example.com\n" + minimal,
			check: func(t *testing.T, cfg *Config) {
				want := defaults
				want.Interval = 10 * time.Minute
				want.MailFrom = "probe@example.com"
				equal(t, "defaults", cfg.Defaults, want)
				equal(t, "target", cfg.Targets[0], Target{
					Name:       "alice@customer-a.example",
					Domain:     "customer-a.example",
					Recipients: []string{"alice@customer-a.example"},
					Settings:   want,
					Line:       5,
				})
			},
		},
		{
			name: "overrides change only their target",
			yaml: minimal + "  - domain: customer-b.example\n    interval: 1m\n    timeout: 45s\n" +
				"    banner_timeout: 20s\n    command_timeout: 10s\n    helo_name: probe.example.net\n" +
				"    mail_from: \"\"\n    port: 587\n    starttls: required\n    mx: all\n" +
				"    ip_family: ipv6\n    max_mx_hosts: 2\n",
			check: func(t *testing.T, cfg *Config) {
				equal(t, "first target", cfg.Targets[0].Settings, defaults)
				equal(t, "second target", cfg.Targets[1].Settings, Settings{
					Interval: time.Minute, Timeout: 45 * time.Second,
					BannerTimeout: 20 * time.Second, CommandTimeout: 10 * time.Second,
					HeloName: "probe.example.net", MailFrom: "", Port: 587,
					StartTLS: StartTLSRequired, MX: MXAll, IPFamily: IPv6, MaxMXHosts: 2,
				})
			},
		},
		{
			name: "domain target probes postmaster",
			yaml: "targets:\n  - domain: customer-b.example\n",
			check: func(t *testing.T, cfg *Config) {
				equal(t, "recipients", cfg.Targets[0].Recipients,
					[]string{"postmaster@customer-b.example"})
			},
		},
		{
			name: "domain target probes its listed recipients in order",
			yaml: "targets:\n  - domain: customer-b.example\n" +
				"    recipients: [carol@customer-b.example, bob@CUSTOMER-B.example]\n",
			check: func(t *testing.T, cfg *Config) {
				equal(t, "recipients", cfg.Targets[0].Recipients,
					[]string{"carol@customer-b.example", "bob@customer-b.example"})
			},
		},
		{
			name: "international domain becomes an A-label, the name stays as written",
			yaml: "targets:\n  - domain: Bücher.example\n" +
				"    recipients: [info@bücher.example, kasse@xn--bcher-kva.example]\n" +
				"  - address: anna@ÉCOLE.example\n",
			check: func(t *testing.T, cfg *Config) {
				equal(t, "name", cfg.Targets[0].Name, "Bücher.example")
				equal(t, "domain", cfg.Targets[0].Domain, "xn--bcher-kva.example")
				equal(t, "recipients", cfg.Targets[0].Recipients, []string{
					"info@xn--bcher-kva.example", "kasse@xn--bcher-kva.example",
				})
				equal(t, "address name", cfg.Targets[1].Name, "anna@ÉCOLE.example")
				equal(t, "address recipients", cfg.Targets[1].Recipients,
					[]string{"anna@xn--cole-9oa.example"})
			},
		},
		{
			name: "international helo_name and mail_from become A-labels",
			yaml: "defaults:\n  helo_name: sonde.bücher.example\n  mail_from: sonde@bücher.example\n" +
				minimal,
			check: func(t *testing.T, cfg *Config) {
				equal(t, "helo_name", cfg.Defaults.HeloName, "sonde.xn--bcher-kva.example")
				equal(t, "mail_from", cfg.Defaults.MailFrom, "sonde@xn--bcher-kva.example")
			},
		},
		{
			name: "quoted and unusual local parts are kept as written",
			yaml: "targets:\n  - address: '\"alice smith\"@customer-a.example'\n" +
				"  - address: \"o'brien+probe@customer-a.example\"\n" +
				`  - address: '"a\"b"@customer-a.example'` + "\n",
			check: func(t *testing.T, cfg *Config) {
				equal(t, "quoted", cfg.Targets[0].Recipients,
					[]string{`"alice smith"@customer-a.example`})
				equal(t, "atext", cfg.Targets[1].Recipients,
					[]string{"o'brien+probe@customer-a.example"})
				equal(t, "escaped quote", cfg.Targets[2].Recipients,
					[]string{`"a\"b"@customer-a.example`})
			},
		},
		{
			name: "helo_name address literals",
			yaml: "defaults:\n  helo_name: \"[192.0.2.25]\"\n" + minimal +
				"  - domain: customer-b.example\n    helo_name: \"[IPv6:2001:db8::25]\"\n",
			check: func(t *testing.T, cfg *Config) {
				equal(t, "ipv4", cfg.Targets[0].Settings.HeloName, "[192.0.2.25]")
				equal(t, "ipv6", cfg.Targets[1].Settings.HeloName, "[IPv6:2001:db8::25]")
			},
		},
		{
			name: "longest address and domain",
			yaml: "defaults:\n  helo_name: " + longDomain(253) + "\n" +
				"targets:\n  - address: " + strings.Repeat("a", 64) + "@" + longDomain(189) + "\n" +
				"  - domain: " + longDomain(243) + "\n",
			check: func(t *testing.T, cfg *Config) {
				equal(t, "helo_name length", len(cfg.Defaults.HeloName), 253)
				equal(t, "address length", len(cfg.Targets[0].Recipients[0]), 254)
				equal(t, "postmaster length", len(cfg.Targets[1].Recipients[0]), 254)
			},
		},
		{
			name: "labels keep any text as their value",
			yaml: withTarget("    labels: {customer: Bücher & Co., tier: 1, sla: true, note: \"\"}\n"),
			check: func(t *testing.T, cfg *Config) {
				equal(t, "labels", cfg.Targets[0].Labels, map[string]string{
					"customer": "Bücher & Co.", "tier": "1", "sla": "true", "note": "",
				})
			},
		},
		{
			name: "dns and limits",
			yaml: "dns:\n  servers: [\"127.0.0.1:5353\", \"[::1]:53\"]\n  timeout: 2s\n" +
				"limits:\n  concurrency: 4\n  per_ip_connections: 2\n" + minimal,
			check: func(t *testing.T, cfg *Config) {
				equal(t, "dns", cfg.DNS, DNS{
					Servers: []string{"127.0.0.1:5353", "[::1]:53"},
					Timeout: 2 * time.Second,
				})
				equal(t, "limits", cfg.Limits, Limits{Concurrency: 4, PerIPConnections: 2})
			},
		},
		{
			name: "empty sections mean their defaults",
			yaml: "defaults:\ndns:\nlimits:\ntargets:\n",
			check: func(t *testing.T, cfg *Config) {
				equal(t, "defaults", cfg.Defaults, defaults)
				equal(t, "targets", len(cfg.Targets), 0)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse([]byte(tt.yaml), "config.yml")
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			equal(t, "file", cfg.File, "config.yml")
			tt.check(t, cfg)
			checkInvariants(t, cfg)
		})
	}
}

// equal reports a difference between got and want.
func equal(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got: %#v\nwant: %#v", what, got, want)
	}
}

func TestParseErrorsAreTyped(t *testing.T) {
	_, err := Parse([]byte("defaults:\n  port: 0\ntargets:\n  - address: x@\n"), "a.yml")
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("got %v, want errors joined with errors.Join", err)
	}
	var errs []*Error
	for _, e := range joined.Unwrap() {
		var ce *Error
		if !errors.As(e, &ce) {
			t.Fatalf("%T is not an *Error: %v", e, e)
		}
		errs = append(errs, ce)
	}
	equal(t, "count", len(errs), 2)
	equal(t, "first", [3]any{errs[0].File, errs[0].Line, errs[0].Field},
		[3]any{"a.yml", 2, "defaults.port"})
	equal(t, "second", [3]any{errs[1].File, errs[1].Line, errs[1].Field},
		[3]any{"a.yml", 4, "targets[0].address"})
}

func TestReservedLabelsAreRejected(t *testing.T) {
	for _, name := range ReservedLabels {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(withTarget("    labels: {"+name+": x}\n")), "config.yml")
			want := `config.yml:3: targets[0].labels: label name "` + name +
				`" is reserved: the exporter sets it`
			if err == nil || err.Error() != want {
				t.Errorf("got %v, want %s", err, want)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	t.Run("reads the file and names it in errors", func(t *testing.T) {
		path := t.TempDir() + "/mailprobe.yml"
		writeFile(t, path, "targets:\n  - domain: x..example\n")
		_, err := Load(path)
		want := path + `:2: targets[0].domain: malformed domain "x..example": domain has an empty label`
		if err == nil || err.Error() != want {
			t.Errorf("got %v, want %s", err, want)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		_, err := Load(t.TempDir() + "/absent.yml")
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("got %v, want an error wrapping fs.ErrNotExist", err)
		}
	})
}

// reservedSuffixes are the domains of RFC 2606 that the example may use.
var reservedSuffixes = []string{".example.com", ".example.net", ".example.org"}

// reserved tells whether domain is one of, or below, the RFC 2606 domains.
func reserved(domain string) bool {
	for _, s := range reservedSuffixes {
		if domain == s[1:] || strings.HasSuffix(domain, s) {
			return true
		}
	}
	return false
}

func TestExampleConfigStaysOnLoopbackAndReservedDomains(t *testing.T) {
	cfg, err := Load("../config.example.yml")
	if err != nil {
		t.Fatalf("the shipped example does not load:\n%v", err)
	}
	if len(cfg.DNS.Servers) == 0 {
		t.Errorf("the example uses the system resolvers; it must name a loopback one")
	}
	for _, s := range cfg.DNS.Servers {
		if ap, err := netip.ParseAddrPort(s); err != nil || !ap.Addr().IsLoopback() {
			t.Errorf("DNS server %q is not on loopback", s)
		}
	}
	if len(cfg.Targets) == 0 {
		t.Fatalf("the example has no targets to show")
	}
	names := []string{cfg.Defaults.HeloName, domainOf(cfg.Defaults.MailFrom)}
	for _, tg := range cfg.Targets {
		names = append(names, tg.Domain, tg.Settings.HeloName, domainOf(tg.Settings.MailFrom))
		for _, r := range tg.Recipients {
			names = append(names, domainOf(r))
		}
	}
	for _, n := range names {
		if n != "" && !reserved(n) {
			t.Errorf("%q is not in example.com, example.net or example.org", n)
		}
	}
}

// domainOf returns the domain of an address, or "" for "".
func domainOf(addr string) string {
	return addr[strings.LastIndexByte(addr, '@')+1:]
}

func TestTargetKey(t *testing.T) {
	const base = "targets:\n  - domain: customer-b.example\n" +
		"    recipients: [bob@customer-b.example]\n    labels: {tier: gold}\n"
	key := func(t *testing.T, yaml string) string {
		t.Helper()
		cfg, err := Parse([]byte(yaml), "config.yml")
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		return cfg.Targets[len(cfg.Targets)-1].Key()
	}
	want := key(t, base)
	tests := []struct {
		name string
		yaml string
		same bool
	}{
		{"moved to another line", "\n\n# moved\n" + base, true},
		{"defaults restated", "defaults:\n  port: 25\n" + base, true},
		{"other targets added", "targets:\n  - domain: customer-a.example\n" + base[9:], true},
		{"label value changed", strings.Replace(base, "gold", "silver", 1), false},
		{"label added", strings.Replace(base, "gold}", "gold, x: y}", 1), false},
		{"recipient added", strings.Replace(base, "bob@", "carol@customer-b.example, bob@", 1), false},
		{"setting overridden", base + "    port: 587\n", false},
		{"inherited setting changed", "defaults:\n  mx: all\n" + base, false},
		{"name spelled otherwise", strings.ReplaceAll(base, "customer-b", "Customer-B"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := key(t, tt.yaml); (got == want) != tt.same {
				t.Errorf("key %s, base key %s: same = %v, want %v", got, want, got == want, tt.same)
			}
		})
	}
}

// writeFile writes content to path or fails the test.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
