package config

import (
	"time"

	"gopkg.in/yaml.v3"
)

// DefaultHeloName is the EHLO name used when the file sets none. The .invalid
// top-level domain (RFC 2606) never resolves, so it is no one's real name;
// set helo_name to a name of your own that resolves to the prober.
const DefaultHeloName = "mailprobe.invalid"

// DefaultSettings returns the settings of a target when neither the
// defaults section nor the target overrides them.
func DefaultSettings() Settings {
	return Settings{
		Interval:       5 * time.Minute,
		Timeout:        2 * time.Minute,
		BannerTimeout:  time.Minute,
		CommandTimeout: 30 * time.Second,
		HeloName:       DefaultHeloName,
		MailFrom:       "",
		Port:           25,
		StartTLS:       StartTLSOpportunistic,
		MX:             MXWalk,
		IPFamily:       Both,
		MaxMXHosts:     10,
	}
}

// setting parses the YAML value of one settings key into s.
type setting func(p *parser, n *yaml.Node, field string, s *Settings) bool

// settingKeys are the keys of the defaults section, which a target may also
// set, in the order of the reference configuration.
var settingKeys = []string{
	"interval", "timeout", "banner_timeout", "command_timeout", "helo_name", "mail_from",
	"port", "starttls", "mx", "ip_family", "max_mx_hosts",
}

// Lower bounds of the probe timing. A probe is a delivery attempt without
// the message: an interval below a second would hammer the customer's MX
// hosts (the per-address limit bounds connections at once, not their rate),
// and a timeout below 100 ms cannot hold a real SMTP dialogue.
const (
	MinInterval = time.Second
	MinTimeout  = 100 * time.Millisecond
)

// settingParsers parse each settings key.
var settingParsers = map[string]setting{
	"interval": func(p *parser, n *yaml.Node, f string, s *Settings) bool {
		return p.durationAtLeast(n, f, MinInterval, &s.Interval)
	},
	"timeout": func(p *parser, n *yaml.Node, f string, s *Settings) bool {
		return p.durationAtLeast(n, f, MinTimeout, &s.Timeout)
	},
	"banner_timeout": func(p *parser, n *yaml.Node, f string, s *Settings) bool {
		return p.durationAtLeast(n, f, MinTimeout, &s.BannerTimeout)
	},
	"command_timeout": func(p *parser, n *yaml.Node, f string, s *Settings) bool {
		return p.durationAtLeast(n, f, MinTimeout, &s.CommandTimeout)
	},
	"helo_name": func(p *parser, n *yaml.Node, f string, s *Settings) bool {
		return p.heloName(n, f, &s.HeloName)
	},
	"mail_from": func(p *parser, n *yaml.Node, f string, s *Settings) bool {
		return p.mailFrom(n, f, &s.MailFrom)
	},
	"port": func(p *parser, n *yaml.Node, f string, s *Settings) bool {
		return p.integer(n, f, 1, 65535, &s.Port)
	},
	"starttls": func(p *parser, n *yaml.Node, f string, s *Settings) bool {
		return p.enum(n, f, &s.StartTLS, StartTLSOpportunistic, StartTLSRequired, StartTLSNever)
	},
	"mx": func(p *parser, n *yaml.Node, f string, s *Settings) bool {
		return p.enum(n, f, &s.MX, MXWalk, MXAll, MXPrimary)
	},
	"ip_family": func(p *parser, n *yaml.Node, f string, s *Settings) bool {
		return p.enum(n, f, &s.IPFamily, IPv4, IPv6, Both)
	},
	"max_mx_hosts": func(p *parser, n *yaml.Node, f string, s *Settings) bool {
		return p.integer(n, f, 1, 100, &s.MaxMXHosts)
	},
}

// scope records which settings one section (defaults or a target) set.
type scope struct {
	lines map[string]int  // line of each key set to a valid value
	bad   map[string]bool // keys whose value was rejected
}

// overrides applies the settings keys among entries to base. Keys that are
// not settings are left to the caller.
func (p *parser) overrides(entries []entry, prefix string, base Settings) (Settings, scope) {
	sc := scope{lines: map[string]int{}, bad: map[string]bool{}}
	for _, e := range entries {
		set, ok := settingParsers[e.key.Value]
		if !ok {
			continue
		}
		if set(p, e.value, prefix+"."+e.key.Value, &base) {
			sc.lines[e.key.Value] = e.value.Line
		} else {
			sc.bad[e.key.Value] = true
		}
	}
	return base, sc
}

// bound is a duration setting that must not exceed another.
type bound struct {
	short, long string
}

// bounds: a probe must end before the next starts, and no single wait may
// outlast the probe.
var bounds = []bound{
	{"timeout", "interval"},
	{"banner_timeout", "timeout"},
	{"command_timeout", "timeout"},
}

// durationOf returns the duration setting named key.
func durationOf(s Settings, key string) time.Duration {
	switch key {
	case "interval":
		return s.Interval
	case "timeout":
		return s.Timeout
	case "banner_timeout":
		return s.BannerTimeout
	}
	return s.CommandTimeout
}

// checkBounds reports the bounds that s breaks, against the key that this
// section set. Bounds involving a key rejected here or in the inherited
// section are skipped, as are bounds that this section did not touch.
func (p *parser) checkBounds(s Settings, sc, inherited scope, prefix string) {
	for _, b := range bounds {
		if sc.bad[b.short] || sc.bad[b.long] || inherited.bad[b.short] || inherited.bad[b.long] {
			continue
		}
		short, long := durationOf(s, b.short), durationOf(s, b.long)
		if short <= long {
			continue
		}
		if line, ok := sc.lines[b.short]; ok {
			p.addf(line, prefix+"."+b.short, "%v exceeds %s %v", short, b.long, long)
		} else if line, ok := sc.lines[b.long]; ok {
			p.addf(line, prefix+"."+b.long, "%v is less than %s %v", long, b.short, short)
		}
	}
}

// heloName stores a valid EHLO name, in ASCII form, in dst.
func (p *parser) heloName(n *yaml.Node, field string, dst *string) bool {
	raw, ok := p.scalar(n, field)
	if !ok {
		return false
	}
	name, err := parseHostName(raw)
	if err != nil {
		p.addf(n.Line, field, "malformed host name %s: %w", quote(raw), err)
		return false
	}
	*dst = name
	return true
}

// mailFrom stores a valid reverse path, with an ASCII domain, or "" in dst.
func (p *parser) mailFrom(n *yaml.Node, field string, dst *string) bool {
	raw, ok := p.scalar(n, field)
	if !ok {
		return false
	}
	if raw == "" {
		*dst = ""
		return true
	}
	addr, _, err := parseAddress(raw)
	if err != nil {
		p.addf(n.Line, field, "malformed address %s: %w", quote(raw), err)
		return false
	}
	*dst = addr
	return true
}
