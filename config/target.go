package config

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// targetKeys are the keys of one target: what to probe, its labels, and the
// settings it overrides.
var targetKeys = append([]string{"address", "domain", "recipients", "labels"}, settingKeys...)

// Key returns a fingerprint of everything that affects the probing and the
// series of t: its name, domain, recipients, labels and settings, not its
// line. A reload keeps the state of targets whose key did not change.
func (t Target) Key() string {
	b, err := json.Marshal(struct {
		Name       string
		Domain     string
		Recipients []string
		Labels     map[string]string
		Settings   Settings
	}{t.Name, t.Domain, t.Recipients, t.Labels, t.Settings})
	if err != nil {
		// Strings, a map of strings and numbers always encode.
		panic(fmt.Sprintf("config: encode target key: %v", err))
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// targetParser parses the targets list, remembering names to find duplicates.
type targetParser struct {
	*parser
	defaults Settings
	inherit  scope          // what the defaults section set and got wrong
	seen     map[string]int // line of each target name so far
}

// targets parses the targets list; absent or empty gives no targets.
func (p *parser) targets(n *yaml.Node, defaults Settings, inherit scope) []Target {
	tp := targetParser{parser: p, defaults: defaults, inherit: inherit, seen: map[string]int{}}
	var out []Target
	probes := map[string]Target{} // first target of each recipient set
	for i, item := range p.list(n, "targets") {
		field := fmt.Sprintf("targets[%d]", i)
		t := tp.target(item, field)
		out = append(out, t)
		if len(t.Recipients) == 0 {
			continue
		}
		key := strings.Join(t.Recipients, "\n")
		if first, dup := probes[key]; dup && first.Name != t.Name {
			tp.addf(t.Line, field, "%s probes the same recipients as %s at line %d",
				quote(t.Name), quote(first.Name), first.Line)
			continue
		}
		probes[key] = t
	}
	return out
}

// target parses one entry of the targets list.
func (tp *targetParser) target(n *yaml.Node, field string) Target {
	entries := tp.fields(n, field, targetKeys)
	m := byKey(entries)
	t := Target{Line: n.Line}

	addr, hasAddr := m["address"]
	dom, hasDom := m["domain"]
	switch {
	case hasAddr && hasDom:
		tp.addf(dom.key.Line, field, "has both address and domain; give one of them")
	case hasAddr:
		tp.address(&t, addr.value, field)
	case hasDom:
		tp.domain(&t, dom.value, field, m)
	case n.Kind == yaml.MappingNode || isNull(n):
		tp.addf(n.Line, field, "needs an address or a domain")
	}
	if r, ok := m["recipients"]; ok && !hasDom {
		tp.addf(r.key.Line, field+".recipients", "is only allowed with domain")
	}

	t.Labels = tp.labels(m["labels"].value, field+".labels")
	var sc scope
	t.Settings, sc = tp.overrides(entries, field, tp.defaults)
	tp.checkBounds(t.Settings, sc, tp.inherit, field)
	return t
}

// name reads the address or domain as written and rejects a repeated one.
func (tp *targetParser) name(n *yaml.Node, field string) (string, bool) {
	name, ok := tp.scalar(n, field)
	if !ok {
		return "", false
	}
	if line, dup := tp.seen[name]; dup {
		tp.addf(n.Line, field, "duplicate target %s, first at line %d", quote(name), line)
	} else {
		tp.seen[name] = n.Line
	}
	return name, true
}

// address fills in a target that probes one address.
func (tp *targetParser) address(t *Target, n *yaml.Node, field string) {
	field += ".address"
	name, ok := tp.name(n, field)
	if !ok {
		return
	}
	t.Name = name
	addr, domain, err := parseAddress(name)
	if err != nil {
		tp.addf(n.Line, field, "malformed address %s: %w", quote(name), err)
		return
	}
	t.Domain = domain
	t.Recipients = []string{addr}
}

// domain fills in a target that probes a domain, with postmaster@ as its
// recipient unless the target lists its own.
func (tp *targetParser) domain(t *Target, n *yaml.Node, field string, m map[string]entry) {
	if name, ok := tp.name(n, field+".domain"); ok {
		t.Name = name
		if domain, err := parseDomain(name); err != nil {
			tp.addf(n.Line, field+".domain", "malformed domain %s: %w", quote(name), err)
		} else {
			t.Domain = domain
		}
	}
	if r, ok := m["recipients"]; ok {
		t.Recipients = tp.recipients(r.value, field+".recipients", t)
		return
	}
	if t.Domain == "" {
		return
	}
	postmaster := "postmaster@" + t.Domain
	if len(postmaster) > maxAddress {
		tp.addf(n.Line, field+".domain", "%s is %d octets long, more than %d; list recipients",
			quote(postmaster), len(postmaster), maxAddress)
		return
	}
	t.Recipients = []string{postmaster}
}

// recipients parses the recipients of a domain target: one or more
// addresses, each once, each at the target's domain (unless that domain is
// unknown because it was rejected).
func (tp *targetParser) recipients(n *yaml.Node, field string, t *Target) []string {
	items := tp.list(n, field)
	if len(items) == 0 {
		if (isNull(n) || n.Kind == yaml.SequenceNode) && t.Domain != "" {
			tp.addf(n.Line, field, "is empty; leave it out to probe postmaster@%s", t.Domain)
		} else if isNull(n) || n.Kind == yaml.SequenceNode {
			tp.addf(n.Line, field, "is empty")
		}
		return nil
	}
	var out []string
	first := map[string]int{}
	for i, item := range items {
		f := fmt.Sprintf("%s[%d]", field, i)
		raw, ok := tp.scalar(item, f)
		if !ok {
			continue
		}
		addr, domain, err := parseAddress(raw)
		switch {
		case err != nil:
			tp.addf(item.Line, f, "malformed address %s: %w", quote(raw), err)
		case t.Domain != "" && domain != t.Domain:
			tp.addf(item.Line, f, "%s is not at domain %s", quote(raw), quote(t.Name))
		case first[addr] != 0:
			tp.addf(item.Line, f, "duplicate recipient %s, first at line %d",
				quote(raw), first[addr])
		default:
			first[addr] = item.Line
			out = append(out, addr)
		}
	}
	return out
}
