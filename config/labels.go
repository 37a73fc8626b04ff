package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// ReservedLabels are the label names the exporter sets itself, or that
// Prometheus attaches, so a target's own labels may not use them.
var ReservedLabels = []string{
	"target", "result", "domain", "mx", "ip", "phase", "stage", "version", "recipient",
	"le", "instance", "job",
}

// checkLabelName checks a user label name against the Prometheus syntax
// [a-zA-Z_][a-zA-Z0-9_]* and the reserved names.
func checkLabelName(name string) error {
	if !validLabelName(name) {
		return fmt.Errorf("invalid label name %s: want [a-zA-Z_][a-zA-Z0-9_]*", quote(name))
	}
	if strings.HasPrefix(name, "__") {
		return fmt.Errorf("label name %s is reserved: names starting with %q are internal to Prometheus",
			quote(name), "__")
	}
	if slices.Contains(ReservedLabels, name) {
		return fmt.Errorf("label name %s is reserved: the exporter sets it", quote(name))
	}
	return nil
}

// validLabelName tells whether name matches [a-zA-Z_][a-zA-Z0-9_]*.
func validLabelName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		letter := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_'
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// checkLabelValue accepts any UTF-8 text without control characters.
func checkLabelValue(v string) error {
	if !utf8.ValidString(v) {
		return errors.New("label value is not valid UTF-8")
	}
	return checkControl(v)
}

// labels parses a target's labels mapping; absent or empty gives nil.
func (p *parser) labels(n *yaml.Node, field string) map[string]string {
	entries := p.fields(n, field, nil)
	if len(entries) == 0 {
		return nil
	}
	out := make(map[string]string, len(entries))
	for _, e := range entries {
		name := e.key.Value
		if err := checkLabelName(name); err != nil {
			p.add(e.key.Line, field, err)
			continue
		}
		value, ok := p.scalar(e.value, field+"."+name)
		if !ok {
			continue
		}
		if err := checkLabelValue(value); err != nil {
			p.add(e.value.Line, field+"."+name, err)
			continue
		}
		out[name] = value
	}
	return out
}
