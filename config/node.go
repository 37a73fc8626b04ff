package config

import (
	"math"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// parser walks the YAML tree of one file and records every problem it finds.
// A field with a problem keeps its default, so that the walk goes on and
// reports the rest of the file.
type parser struct {
	problems
}

// entry is one key of a YAML mapping and its value.
type entry struct {
	key, value *yaml.Node
}

// byKey indexes entries by key; fields has already rejected duplicates.
func byKey(entries []entry) map[string]entry {
	m := make(map[string]entry, len(entries))
	for _, e := range entries {
		m[e.key.Value] = e
	}
	return m
}

// isNull tells whether n is absent or an empty YAML value ("key:" or "~").
func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// expect checks that n is of the given kind.
func (p *parser) expect(n *yaml.Node, field string, kind yaml.Kind) bool {
	switch {
	case n.Kind == kind:
		return true
	case n.Kind == yaml.AliasNode:
		p.addf(n.Line, field, "YAML aliases are not supported")
	default:
		p.addf(n.Line, field, "must be %s, got %s", kindName(kind), describe(n))
	}
	return false
}

// kindName names a YAML node kind for error messages.
func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return "a single value"
	}
	return "a YAML node"
}

// describe names what n is for error messages.
func describe(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		return quote(n.Value)
	}
	return kindName(n.Kind)
}

// fields checks that n is a mapping whose keys are strings, each given once
// and each one of known (any key when known is nil), and returns its entries
// in file order. An absent or empty n has no entries.
func (p *parser) fields(n *yaml.Node, field string, known []string) []entry {
	if isNull(n) || !p.expect(n, field, yaml.MappingNode) {
		return nil
	}
	var entries []entry
	first := make(map[string]int)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode && k.Kind != yaml.AliasNode {
			p.addf(k.Line, field, "key must be a single value, got %s", describe(k))
			continue
		}
		if !p.expect(k, field, yaml.ScalarNode) {
			continue
		}
		if line, dup := first[k.Value]; dup {
			p.addf(k.Line, field, "duplicate key %s, first at line %d", quote(k.Value), line)
			continue
		}
		first[k.Value] = k.Line
		if known != nil && !slices.Contains(known, k.Value) {
			p.addf(k.Line, field, "unknown key %s", quote(k.Value))
			continue
		}
		entries = append(entries, entry{key: k, value: v})
	}
	return entries
}

// list checks that n is a list and returns its items; absent or empty n has
// none.
func (p *parser) list(n *yaml.Node, field string) []*yaml.Node {
	if isNull(n) || !p.expect(n, field, yaml.SequenceNode) {
		return nil
	}
	return n.Content
}

// scalar returns the text of a single, non-empty YAML value as written.
func (p *parser) scalar(n *yaml.Node, field string) (string, bool) {
	if !p.expect(n, field, yaml.ScalarNode) {
		return "", false
	}
	switch n.ShortTag() {
	case "!!str", "!!int", "!!float", "!!bool", "!!timestamp":
		return n.Value, true
	case "!!null":
		p.addf(n.Line, field, "missing value")
	default:
		p.addf(n.Line, field, "unsupported YAML tag %s", quote(n.Tag))
	}
	return "", false
}

// duration stores a positive Go duration such as "90s" or "5m" in dst.
func (p *parser) duration(n *yaml.Node, field string, dst *time.Duration) bool {
	return p.durationAtLeast(n, field, time.Nanosecond, dst)
}

// durationAtLeast stores a Go duration of at least lowest in dst.
func (p *parser) durationAtLeast(n *yaml.Node, field string, lowest time.Duration,
	dst *time.Duration) bool {
	s, ok := p.scalar(n, field)
	if !ok {
		return false
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		p.add(n.Line, field, err)
		return false
	}
	if d <= 0 {
		p.addf(n.Line, field, "must be positive, got %v", d)
		return false
	}
	if d < lowest {
		p.addf(n.Line, field, "must be at least %v, got %v", lowest, d)
		return false
	}
	*dst = d
	return true
}

// integer stores a YAML integer in [lo, hi] in dst; hi 0 means no bound
// other than what an int32 holds.
func (p *parser) integer(n *yaml.Node, field string, lo, hi int, dst *int) bool {
	s, ok := p.scalar(n, field)
	if !ok {
		return false
	}
	var v int64
	if n.ShortTag() != "!!int" || n.Decode(&v) != nil {
		p.addf(n.Line, field, "must be an integer, got %s", quote(s))
		return false
	}
	switch {
	case v < int64(lo) && hi == 0:
		p.addf(n.Line, field, "must be at least %d, got %d", lo, v)
		return false
	case hi == 0 && v > math.MaxInt32:
		p.addf(n.Line, field, "must be at most %d, got %d", math.MaxInt32, v)
		return false
	case hi != 0 && (v < int64(lo) || v > int64(hi)):
		p.addf(n.Line, field, "must be between %d and %d, got %d", lo, hi, v)
		return false
	}
	*dst = int(v)
	return true
}

// enum stores one of the allowed words in dst.
func (p *parser) enum(n *yaml.Node, field string, dst *string, allowed ...string) bool {
	s, ok := p.scalar(n, field)
	if !ok {
		return false
	}
	if !slices.Contains(allowed, s) {
		p.addf(n.Line, field, "must be %s or %s, got %s",
			strings.Join(allowed[:len(allowed)-1], ", "), allowed[len(allowed)-1], quote(s))
		return false
	}
	*dst = s
	return true
}
