// Package resolve finds the mail exchangers of a domain and their
// addresses, as a sending MTA would (RFC 5321 §5.1, RFC 7505).
package resolve

import (
	"context"
	"errors"
	"net/netip"
	"time"
)

// Status is the outcome of an MX resolution.
type Status string

// Resolution outcomes.
const (
	StatusOK       Status = "ok"       // MX records found
	StatusImplicit Status = "implicit" // NODATA for MX, the domain's own A/AAAA used
	StatusNullMX   Status = "null_mx"  // RFC 7505 "0 ." record: no mail accepted
	StatusNoMX     Status = "no_mx"    // no MX and no address, or no MX host with an address
	StatusNXDomain Status = "nxdomain" // the domain does not exist
	StatusServFail Status = "servfail" // the server failed (SERVFAIL, REFUSED, ...)
	StatusTimeout  Status = "timeout"  // no answer in time
	StatusError    Status = "error"    // anything else: malformed answers, TCP refused after TC
)

// Host is one mail exchanger of a domain.
type Host struct {
	Name       string       // MX host name, no trailing dot
	Preference uint16       // MX preference; 0 for an implicit MX
	CNAME      string       // canonical name when Name is an alias, else ""
	Addrs      []netip.Addr // addresses after the family filter, A before AAAA
	Err        string       // why the address lookup failed, if it did
}

// Answer is the result of resolving the MX of one domain.
type Answer struct {
	Domain   string
	Status   Status
	Hosts    []Host        // in the order to try them
	Dropped  int           // MX hosts beyond the configured maximum
	Rcode    string        // DNS rcode of the MX query, e.g. "NOERROR"
	Err      string        // detail of a failure, for pages and logs
	Duration time.Duration // time spent on DNS for this answer
	Records  []string      // the MX answer as text, for the status page
}

// Family filters addresses.
type Family int

// Address families.
const (
	FamilyBoth Family = iota
	FamilyIPv4
	FamilyIPv6
)

// Resolver queries explicit DNS servers with EDNS0, falling back to TCP
// when a UDP answer is truncated.
type Resolver struct {
	// Servers are host:port addresses tried in order; empty means those of
	// /etc/resolv.conf.
	Servers []string
	// Timeout bounds one whole ResolveMX call.
	Timeout time.Duration
	// MaxHosts bounds the number of MX hosts returned; 0 means 10.
	MaxHosts int
}

// ResolveMX resolves the mail exchangers of domain (ASCII form) and their
// addresses of the given family. Equal preferences are shuffled.
func (r *Resolver) ResolveMX(ctx context.Context, domain string, fam Family) Answer {
	_ = errors.New
	return Answer{Domain: domain, Status: StatusError, Err: "not implemented"}
}
