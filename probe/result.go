// Package probe decides the outcome of probing one target: it resolves the
// target's MX hosts, holds a dialogue with each of their addresses in the
// order a sending MTA would, and returns the result as a value.
package probe

import (
	"net/netip"
	"time"

	"github.com/mailprobe/mailprobe_exporter/dialogue"
	"github.com/mailprobe/mailprobe_exporter/resolve"
)

// Class is the outcome of a probe or of one leg of it.
type Class string

// The fixed set of outcomes.
const (
	Accepted      Class = "accepted"       // 2xx to every RCPT TO
	Rejected      Class = "rejected"       // 5xx to RCPT TO or the dialogue before it
	Greylisted    Class = "greylisted"     // 4xx that names greylisting
	Tempfail      Class = "tempfail"       // any other 4xx, 421 included
	Blocked       Class = "blocked"        // 5.7.x: the prober itself is refused
	RefusedBanner Class = "refused_banner" // a greeting other than 220
	TLSError      Class = "tls_error"      // STARTTLS failed or was required and refused
	Timeout       Class = "timeout"        // a deadline passed
	ConnectError  Class = "connect_error"  // TCP connect failed or the peer dropped
	ProtocolError Class = "protocol_error" // a malformed, oversized or unsolicited reply
	NoMX          Class = "no_mx"          // no mail exchanger with an address
	NullMX        Class = "null_mx"        // the domain publishes that it takes no mail
	NXDomain      Class = "nxdomain"       // the domain does not exist
	DNSServFail   Class = "dns_servfail"   // the resolver failed
	DNSTimeout    Class = "dns_timeout"    // the resolver did not answer in time
	DNSError      Class = "dns_error"      // any other DNS failure
)

// Classes lists every outcome, in the order metrics and pages show them.
var Classes = []Class{
	Accepted, Rejected, Greylisted, Tempfail, Blocked, RefusedBanner,
	TLSError, Timeout, ConnectError, ProtocolError,
	NoMX, NullMX, NXDomain, DNSServFail, DNSTimeout, DNSError,
}

// Leg is the dialogue with one address of one MX host.
type Leg struct {
	MX         string
	Preference uint16
	IP         netip.Addr
	Class      Class
	// Deciding is true for the leg whose replies decided the outcome.
	Deciding bool
	Session  dialogue.Session
}

// Result is the outcome of one probe of one target.
type Result struct {
	Target string
	Domain string
	Class  Class
	// Stage, Code, Enhanced and Text describe the reply (or failure) that
	// explains Class: the deciding reply, or the most telling failure.
	Stage    string
	Code     int
	Enhanced string
	Text     string
	DNS      resolve.Answer
	Legs     []Leg
	Start    time.Time
	Duration time.Duration
}

// Success reports whether some MX accepted every recipient.
func (r Result) Success() bool {
	return r.Class == Accepted
}
