package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"
)

// Keys of the top level and of the dns and limits sections.
var (
	topKeys    = []string{"defaults", "dns", "limits", "targets"}
	dnsKeys    = []string{"servers", "timeout"}
	limitsKeys = []string{"concurrency", "per_ip_connections"}
)

// Defaults of the dns and limits sections.
const (
	DefaultDNSTimeout       = 5 * time.Second
	DefaultConcurrency      = 32
	DefaultPerIPConnections = 1
)

// Load reads and validates the configuration file at path. Problems in the
// file are reported as by Parse.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(data, path)
}

// Parse validates the configuration in data; file names it in errors. On
// failure it returns no Config and all the problems it found, each an *Error,
// joined with errors.Join, one per line, in line order.
func Parse(data []byte, file string) (*Config, error) {
	p := &parser{problems: problems{file: file}}
	root := p.document(data)
	if root == nil {
		return nil, p.err()
	}
	top := byKey(p.fields(root, "", topKeys))
	defaults, inherit := p.overrides(p.fields(top["defaults"].value, "defaults", settingKeys),
		"defaults", DefaultSettings())
	p.checkBounds(defaults, inherit, scope{}, "defaults")
	cfg := &Config{
		File:     file,
		Defaults: defaults,
		DNS:      p.dns(top["dns"].value),
		Limits:   p.limits(top["limits"].value),
		Targets:  p.targets(top["targets"].value, defaults, inherit),
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// yamlLine finds the line in the syntax errors of gopkg.in/yaml.v3.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// document returns the root node of the single YAML document in data, or nil
// after recording why there is none.
func (p *parser) document(data []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	err := dec.Decode(&doc)
	if errors.Is(err, io.EOF) || err == nil && (len(doc.Content) != 1 || isNull(doc.Content[0])) {
		p.addf(1, "", "empty configuration; write \"targets: []\" for one without targets")
		return nil
	}
	if err != nil {
		p.syntax(err)
		return nil
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
		return doc.Content[0]
	case err != nil:
		p.syntax(err)
	default:
		p.addf(next.Line, "", "a second YAML document; the configuration is one document")
	}
	return nil
}

// syntax records a YAML syntax error, with its line when the parser gave one.
func (p *parser) syntax(err error) {
	msg := oneLine(err.Error())
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		p.addf(line, "", "invalid YAML: %s", m[2])
		return
	}
	p.addf(0, "", "invalid YAML: %s", msg)
}

// dns parses the dns section.
func (p *parser) dns(n *yaml.Node) DNS {
	d := DNS{Timeout: DefaultDNSTimeout}
	for _, e := range p.fields(n, "dns", dnsKeys) {
		switch e.key.Value {
		case "servers":
			d.Servers = p.servers(e.value, "dns.servers")
		case "timeout":
			p.duration(e.value, "dns.timeout", &d.Timeout)
		}
	}
	return d
}

// servers parses DNS servers given as IP:port, each once.
func (p *parser) servers(n *yaml.Node, field string) []string {
	var out []string
	first := map[string]int{}
	for i, item := range p.list(n, field) {
		f := fmt.Sprintf("%s[%d]", field, i)
		s, ok := p.scalar(item, f)
		if !ok {
			continue
		}
		if err := checkServer(s); err != nil {
			p.addf(item.Line, f, "malformed server %s: %w", quote(s), err)
			continue
		}
		if line, dup := first[s]; dup {
			p.addf(item.Line, f, "duplicate server %s, first at line %d", quote(s), line)
			continue
		}
		first[s] = item.Line
		out = append(out, s)
	}
	return out
}

// checkServer checks an IP:port, with IPv6 addresses in brackets.
func checkServer(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return errors.New("want IP:port, such as 127.0.0.1:53 or [::1]:53")
	}
	if ip, err := netip.ParseAddr(host); err != nil || ip.Zone() != "" {
		return fmt.Errorf("host %s is not an IP address", quote(host))
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return fmt.Errorf("port %s is not between 1 and 65535", quote(port))
	}
	return nil
}

// limits parses the limits section.
func (p *parser) limits(n *yaml.Node) Limits {
	l := Limits{Concurrency: DefaultConcurrency, PerIPConnections: DefaultPerIPConnections}
	for _, e := range p.fields(n, "limits", limitsKeys) {
		switch e.key.Value {
		case "concurrency":
			p.integer(e.value, "limits.concurrency", 1, 0, &l.Concurrency)
		case "per_ip_connections":
			p.integer(e.value, "limits.per_ip_connections", 1, 0, &l.PerIPConnections)
		}
	}
	return l
}
