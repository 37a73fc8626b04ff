// Package resolve finds the mail exchangers of a domain and their
// addresses, as a sending MTA would (RFC 5321 §5.1, RFC 7505).
package resolve

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
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
	// /etc/resolv.conf. The host must be an IP address, so that no name is
	// ever looked up through the system resolver; a missing port means 53.
	Servers []string
	// Timeout bounds one whole ResolveMX call, address lookups included;
	// 0 means 5s.
	Timeout time.Duration
	// MaxHosts bounds the number of MX hosts returned; 0 means 10.
	MaxHosts int
}

// Defaults and bounds of a resolution.
const (
	defaultTimeout  = 5 * time.Second
	defaultMaxHosts = 10
	maxRecords      = 50 // MX records kept as text in Answer.Records
)

// ResolveMX resolves the mail exchangers of domain (ASCII form) and their
// addresses of the given family. Equal preferences are shuffled, so two
// calls may order the hosts differently. It returns when every query it
// started has ended, within r.Timeout or the deadline of ctx.
func (r *Resolver) ResolveMX(ctx context.Context, domain string, fam Family) Answer {
	start := time.Now()
	ans := r.resolveMX(ctx, normalizeName(domain), fam)
	ans.Duration = time.Since(start)
	return ans
}

func (r *Resolver) resolveMX(ctx context.Context, domain string, fam Family) Answer {
	ans := Answer{Domain: domain}
	if _, ok := dns.IsDomainName(domain); !ok || domain == "" {
		return failAnswer(ans, StatusError, fmt.Sprintf("invalid domain name %q", domain))
	}

	servers, err := r.servers()
	if err != nil {
		return failAnswer(ans, StatusError, err.Error())
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout())
	defer cancel()
	q := &querier{servers: servers}

	reply, name, err := q.queryMX(ctx, domain)
	if err != nil {
		return lookupFailed(ans, err)
	}
	ans.Rcode = dns.RcodeToString[reply.Rcode]
	if reply.Rcode == dns.RcodeNameError {
		return failAnswer(ans, StatusNXDomain, "domain does not exist")
	}

	set := readMX(reply, name)
	ans.Records = set.records
	ans.Err = set.note
	switch {
	case set.total == 0:
		return q.implicitMX(ctx, ans, name, fam)
	case len(set.hosts) == 0:
		ans.Status = StatusNullMX
		return ans
	}

	ans.Hosts, ans.Dropped = selectHosts(set.hosts, r.maxHosts())
	failed := q.resolveHosts(ctx, ans.Hosts, fam)
	ans.Status = StatusOK
	switch {
	case anyAddress(ans.Hosts):
	case failed != "":
		ans.Status = failed
		ans.Err = joinNotes(ans.Err, "no address lookup of an MX host got an answer")
	default:
		ans.Status = StatusNoMX
		ans.Err = joinNotes(ans.Err, "no MX host has an address of the requested family")
	}
	return ans
}

// queryMX asks for the MX records of domain. When the domain is an alias
// and the server answers with the CNAME chain but not the MX records at
// its end, as a server that does not recurse does, the MX query is asked
// again for the name the chain leads to: RFC 5321 section 5.1 processes
// the canonical name as if it were the initial one. It returns the reply
// and the name whose records it holds.
func (q *querier) queryMX(ctx context.Context, domain string) (*dns.Msg, string, error) {
	name := domain
	for hops := 0; ; hops++ {
		reply, err := q.query(ctx, name, dns.TypeMX)
		if err != nil || reply.Rcode != dns.RcodeSuccess {
			return reply, name, err
		}
		end := chainEnd(reply.Answer, name)
		if end == name || readMX(reply, name).total > 0 {
			return reply, name, nil
		}
		if hops >= maxCNAMEHops {
			return nil, name, &lookupError{status: StatusError,
				detail: fmt.Sprintf("CNAME chain of %s longer than %d", domain, maxCNAMEHops)}
		}
		name = end
	}
}

// implicitMX treats the domain itself (name, its canonical name when it
// is an alias) as its only mail exchanger, as RFC 5321 section 5.1 asks
// when the domain has no MX records.
func (q *querier) implicitMX(ctx context.Context, ans Answer, name string, fam Family) Answer {
	hosts := []Host{{Name: name}}
	if failed := q.resolveHosts(ctx, hosts, fam); failed != "" {
		ans.Status = failed
		ans.Err = "no MX records, and the lookup of the domain's address failed: " +
			hosts[0].Err
		return ans
	}
	if len(hosts[0].Addrs) == 0 {
		ans.Status = StatusNoMX
		ans.Err = "no MX records, and no address for the domain: " + hosts[0].Err
		return ans
	}
	ans.Status = StatusImplicit
	ans.Hosts = hosts
	return ans
}

func failAnswer(ans Answer, s Status, msg string) Answer {
	ans.Status = s
	ans.Err = msg
	return ans
}

// lookupFailed fills ans from a query that got no usable answer.
func lookupFailed(ans Answer, err error) Answer {
	var le *lookupError
	if errors.As(err, &le) {
		ans.Rcode = le.rcode
		return failAnswer(ans, le.status, "MX query: "+le.Error())
	}
	return failAnswer(ans, StatusError, "MX query: "+err.Error())
}

func anyAddress(hosts []Host) bool {
	for _, h := range hosts {
		if len(h.Addrs) > 0 {
			return true
		}
	}
	return false
}

func joinNotes(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// normalizeName returns name in lower case without its trailing dot.
func normalizeName(name string) string {
	return strings.ToLower(strings.TrimSuffix(name, "."))
}

func (r *Resolver) timeout() time.Duration {
	if r.Timeout > 0 {
		return r.Timeout
	}
	return defaultTimeout
}

func (r *Resolver) maxHosts() int {
	if r.MaxHosts > 0 {
		return r.MaxHosts
	}
	return defaultMaxHosts
}
