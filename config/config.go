// Package config loads and validates the exporter's YAML configuration.
//
// Loading is strict: unknown keys, duplicate targets, malformed addresses,
// control characters in anything that reaches the wire, bad durations and
// label names that clash with the exporter's own are errors that name the
// file, line and field.
package config

import "time"

// STARTTLS policies.
const (
	StartTLSOpportunistic = "opportunistic"
	StartTLSRequired      = "required"
	StartTLSNever         = "never"
)

// MX walking modes.
const (
	MXWalk    = "walk"
	MXAll     = "all"
	MXPrimary = "primary"
)

// IP family filters.
const (
	IPv4 = "ipv4"
	IPv6 = "ipv6"
	Both = "both"
)

// Settings are the probe settings of one target: the defaults section, with
// the target's own overrides applied.
type Settings struct {
	Interval       time.Duration // time between the starts of two probes
	Timeout        time.Duration // budget of the whole probe of one target
	BannerTimeout  time.Duration // wait for the greeting of one MX IP
	CommandTimeout time.Duration // wait for the reply to one command
	HeloName       string        // name sent with EHLO/HELO
	MailFrom       string        // reverse path; "" sends MAIL FROM:<>
	Port           int           // SMTP port of the MX hosts
	StartTLS       string        // StartTLSOpportunistic, StartTLSRequired or StartTLSNever
	MX             string        // MXWalk, MXAll or MXPrimary
	IPFamily       string        // IPv4, IPv6 or Both
	MaxMXHosts     int           // MX hosts probed at most, in preference order
}

// Target is one configured probe target.
type Target struct {
	// Name is the value of the "target" label: the address or domain as
	// written in the file.
	Name string
	// Domain is the ASCII (A-label) form of the domain whose MX is resolved.
	Domain string
	// Recipients are the RCPT TO addresses, ASCII domain part, in order.
	Recipients []string
	// Labels are the user's own labels for every series of this target.
	Labels map[string]string
	// Settings are the defaults with this target's overrides applied.
	Settings Settings
	// Line is the line of the target in the configuration file.
	Line int
}

// DNS configures the exporter's own DNS client.
type DNS struct {
	// Servers are host:port resolvers; empty means the system resolvers.
	Servers []string
	// Timeout bounds one MX resolution, retries and address lookups included.
	Timeout time.Duration
}

// Limits bound the load the exporter puts on the world.
type Limits struct {
	// Concurrency is the number of targets probed at the same time.
	Concurrency int
	// PerIPConnections is the number of open connections per MX IP.
	PerIPConnections int
}

// Config is a loaded, validated configuration.
type Config struct {
	File     string
	Defaults Settings
	DNS      DNS
	Limits   Limits
	Targets  []Target
}
