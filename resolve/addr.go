package resolve

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/miekg/dns"
)

// Bounds of the address lookups.
const (
	maxAddrs    = 16 // addresses kept per host and record type
	maxParallel = 8  // address queries in flight at once
)

// addrResult is the outcome of one address lookup of one host.
type addrResult struct {
	addrs []netip.Addr
	cname string // canonical name when the host is an alias
	err   string
	// failed is the status of a lookup that got no usable answer at all
	// (timeout, SERVFAIL, ...), "" when DNS answered, even with nothing.
	failed Status
}

// recordTypes lists the address record types of fam, A first.
func recordTypes(fam Family) []uint16 {
	switch fam {
	case FamilyIPv4:
		return []uint16{dns.TypeA}
	case FamilyIPv6:
		return []uint16{dns.TypeAAAA}
	}
	return []uint16{dns.TypeA, dns.TypeAAAA}
}

// resolveHosts fills in the addresses of hosts, running at most
// maxParallel queries at once. It returns when all of them have ended.
// Glue in the additional section of the MX answer is not used: every
// address is asked for, so a stale or forged glue record cannot creep in.
//
// When no lookup got an answer from DNS, it returns the status of the
// first failure, so that a resolver that stopped answering is not taken
// for hosts without addresses; otherwise it returns "".
func (q *querier) resolveHosts(ctx context.Context, hosts []Host, fam Family) Status {
	types := recordTypes(fam)
	results := make([][]addrResult, len(hosts))
	sem := make(chan struct{}, maxParallel)
	var wg sync.WaitGroup
	for i := range hosts {
		results[i] = make([]addrResult, len(types))
		for k, qtype := range types {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				results[i][k] = q.lookupAddrs(ctx, hosts[i].Name, qtype)
			})
		}
	}
	wg.Wait()

	var failed Status
	answered := false
	for i := range hosts {
		fillHost(&hosts[i], results[i], types)
		for _, res := range results[i] {
			answered = answered || res.failed == ""
			if failed == "" {
				failed = res.failed
			}
		}
	}
	if answered {
		return ""
	}
	return failed
}

// fillHost sets the addresses of h from the lookups of each type, and an
// error only when no address was found.
func fillHost(h *Host, results []addrResult, types []uint16) {
	var errs []string
	for k, res := range results {
		h.Addrs = append(h.Addrs, res.addrs...)
		if h.CNAME == "" {
			h.CNAME = res.cname
		}
		if res.err != "" {
			errs = append(errs, dns.TypeToString[types[k]]+": "+res.err)
		}
	}
	if len(h.Addrs) > 0 {
		return
	}
	switch {
	case len(errs) == 1 && len(results) == 1:
		h.Err = results[0].err
	case len(errs) == 2 && results[0].err == results[1].err:
		h.Err = results[0].err
	default:
		h.Err = strings.Join(errs, "; ")
	}
}

// lookupAddrs finds the records of qtype for name, following its CNAME
// chain within maxCNAMEHops, whether the server gives the chain in one
// answer or one link per query.
func (q *querier) lookupAddrs(ctx context.Context, name string, qtype uint16) addrResult {
	seen := map[string]bool{name: true}
	hops := 0
	for current := name; ; {
		reply, err := q.query(ctx, current, qtype)
		if err != nil {
			res := addrResult{err: err.Error(), failed: StatusError}
			var le *lookupError
			if errors.As(err, &le) {
				res.failed = le.status
			}
			return res
		}
		addrs, last, err := followAnswer(reply.Answer, current, qtype, seen, &hops)
		if err != nil {
			return addrResult{err: err.Error()}
		}
		res := addrResult{addrs: addrs}
		if last != name {
			res.cname = last
		}
		switch {
		case len(addrs) > 0:
			return res
		case reply.Rcode == dns.RcodeNameError:
			res.err = "nxdomain"
			return res
		case last == current:
			res.err = "no address records"
			return res
		}
		current = last
	}
}

// followAnswer follows the CNAME chain of start in rrs to the name that
// owns records of qtype. It returns those records, as addresses, and the
// last name reached. seen and hops carry the chain across queries.
func followAnswer(rrs []dns.RR, start string, qtype uint16, seen map[string]bool,
	hops *int) ([]netip.Addr, string, error) {
	current := start
	for {
		if addrs := addrsOf(rrs, current, qtype); len(addrs) > 0 {
			return addrs, current, nil
		}
		next := cnameTarget(rrs, current)
		switch {
		case next == "":
			return nil, current, nil
		case seen[next]:
			return nil, current, fmt.Errorf("CNAME loop at %s", next)
		case *hops >= maxCNAMEHops:
			return nil, current, fmt.Errorf("CNAME chain longer than %d", maxCNAMEHops)
		}
		*hops++
		seen[next] = true
		current = next
	}
}

// addrsOf returns the distinct addresses of qtype owned by name in rrs, at
// most maxAddrs.
func addrsOf(rrs []dns.RR, name string, qtype uint16) []netip.Addr {
	var addrs []netip.Addr
	for _, rr := range rrs {
		h := rr.Header()
		if h.Rrtype != qtype || h.Class != dns.ClassINET || normalizeName(h.Name) != name {
			continue
		}
		ip, ok := rrAddr(rr)
		if ok && !slices.Contains(addrs, ip) {
			addrs = append(addrs, ip)
		}
		if len(addrs) == maxAddrs {
			break
		}
	}
	return addrs
}

func rrAddr(rr dns.RR) (netip.Addr, bool) {
	switch v := rr.(type) {
	case *dns.A:
		return netip.AddrFromSlice(v.A.To4())
	case *dns.AAAA:
		return netip.AddrFromSlice(v.AAAA.To16())
	}
	return netip.Addr{}, false
}
