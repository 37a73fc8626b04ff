package resolve

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/miekg/dns"
)

// maxCNAMEHops bounds every CNAME chain followed, in one answer or across
// queries.
const maxCNAMEHops = 8

// mxSet is the MX answer of a domain.
type mxSet struct {
	total   int      // MX records of the domain, null MX included
	hosts   []Host   // MX records that name a host, in answer order
	records []string // the MX records as text, at most maxRecords
	note    string   // records that were ignored, and why
}

// readMX reads the MX records of domain from reply. A resolver may put the
// CNAME chain of domain in front of them, so records owned by a name of
// that chain count too.
func readMX(reply *dns.Msg, domain string) mxSet {
	owners := aliasChain(reply.Answer, domain)
	var set mxSet
	var nulls []*dns.MX
	for _, rr := range reply.Answer {
		mx, ok := rr.(*dns.MX)
		if !ok || mx.Hdr.Class != dns.ClassINET || !owners[normalizeName(mx.Hdr.Name)] {
			continue
		}
		set.total++
		if len(set.records) < maxRecords {
			set.records = append(set.records, mx.String())
		}
		name := normalizeName(mx.Mx)
		if name == "" {
			nulls = append(nulls, mx)
			continue
		}
		set.hosts = append(set.hosts, Host{Name: name, Preference: mx.Preference})
	}
	set.note = nullMXNote(nulls, len(set.hosts))
	return set
}

// nullMXNote says why null MX records (RFC 7505) were set aside. The root
// name is never a host to dial: next to real MX records a null MX is
// ignored; alone, even in an irregular form, it means no mail.
func nullMXNote(nulls []*dns.MX, hosts int) string {
	switch {
	case len(nulls) == 0:
		return ""
	case hosts > 0:
		return fmt.Sprintf("ignored %d null MX record(s) listed with other MX records",
			len(nulls))
	case len(nulls) > 1:
		return fmt.Sprintf("%d null MX records, RFC 7505 allows one", len(nulls))
	case nulls[0].Preference != 0:
		return fmt.Sprintf("null MX with preference %d, RFC 7505 requires 0",
			nulls[0].Preference)
	}
	return ""
}

// aliasChain returns domain and the names its CNAME records in rrs lead
// to, within maxCNAMEHops.
func aliasChain(rrs []dns.RR, domain string) map[string]bool {
	chain := map[string]bool{domain: true}
	name := domain
	for range maxCNAMEHops {
		next := cnameTarget(rrs, name)
		if next == "" || chain[next] {
			break
		}
		chain[next] = true
		name = next
	}
	return chain
}

// chainEnd returns the last name the CNAME records in rrs lead domain to,
// within maxCNAMEHops; domain itself when it is no alias.
func chainEnd(rrs []dns.RR, domain string) string {
	name := domain
	seen := map[string]bool{domain: true}
	for range maxCNAMEHops {
		next := cnameTarget(rrs, name)
		if next == "" || seen[next] {
			break
		}
		seen[next] = true
		name = next
	}
	return name
}

// cnameTarget returns the target of the CNAME record of name in rrs, or "".
func cnameTarget(rrs []dns.RR, name string) string {
	for _, rr := range rrs {
		c, ok := rr.(*dns.CNAME)
		if ok && c.Hdr.Class == dns.ClassINET && normalizeName(c.Hdr.Name) == name {
			return normalizeName(c.Target)
		}
	}
	return ""
}

// selectHosts orders hosts by preference, equal preferences at random
// (RFC 5321 section 5.1), keeps the first record of each name and at
// most limit hosts. It returns the hosts kept and the number dropped.
func selectHosts(hosts []Host, limit int) ([]Host, int) {
	hosts = slices.Clone(hosts)
	rand.Shuffle(len(hosts), func(i, j int) { hosts[i], hosts[j] = hosts[j], hosts[i] })
	slices.SortStableFunc(hosts, func(a, b Host) int {
		return int(a.Preference) - int(b.Preference)
	})

	seen := make(map[string]bool, len(hosts))
	kept := make([]Host, 0, min(len(hosts), limit))
	dropped := 0
	for _, h := range hosts {
		switch {
		case seen[h.Name]:
		case len(kept) < limit:
			kept = append(kept, h)
		default:
			dropped++
		}
		seen[h.Name] = true
	}
	return kept, dropped
}
