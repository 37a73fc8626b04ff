package resolve

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"

	"github.com/mailprobe/mailprobe_exporter/internal/testdns"
)

// fakeConfig scripts how a fakeDNS misbehaves.
type fakeConfig struct {
	noTCP      bool // listen on UDP only, so a TCP retry is refused
	ignoreEDNS bool // truncate UDP answers at 512 bytes whatever the client offers
	chase      bool // put the whole CNAME chain in one answer, as a resolver does
	// hook, when it returns true, has answered req itself.
	hook func(w dns.ResponseWriter, req *dns.Msg) bool
}

// fakeDNS is an in-process DNS server on 127.0.0.1, with UDP and TCP on
// the same port, answering from a zone of records given as text.
type fakeDNS struct {
	addr string
	cfg  fakeConfig
	zone map[string][]dns.RR

	mu      sync.Mutex
	queries []string // "udp MX name." in arrival order
}

// startDNS starts a fakeDNS serving records; it stops when the test ends.
func startDNS(t *testing.T, cfg fakeConfig, records ...string) *fakeDNS {
	t.Helper()
	zone, err := testdns.Zone(records...)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeDNS{cfg: cfg, zone: zone}
	f.addr = testdns.Start(t, f, !cfg.noTCP).Addr
	return f
}

// ServeDNS answers req from the zone, or lets the hook answer.
func (f *fakeDNS) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	network := w.LocalAddr().Network()
	if len(req.Question) == 1 {
		q := req.Question[0]
		f.mu.Lock()
		f.queries = append(f.queries, network+" "+dns.TypeToString[q.Qtype]+" "+q.Name)
		f.mu.Unlock()
	}
	if f.cfg.hook != nil && f.cfg.hook(w, req) {
		return
	}

	reply := f.answer(req)
	if network == "udp" {
		size := dns.MinMsgSize
		if opt := req.IsEdns0(); opt != nil && !f.cfg.ignoreEDNS {
			size = int(opt.UDPSize())
			reply.SetEdns0(opt.UDPSize(), false)
		}
		reply.Truncate(size)
	}
	_ = w.WriteMsg(reply)
}

// answer looks the question of req up in the zone, following CNAME
// records only when the fake chases them.
func (f *fakeDNS) answer(req *dns.Msg) *dns.Msg {
	reply := new(dns.Msg)
	reply.SetReply(req)
	if len(req.Question) != 1 {
		reply.Rcode = dns.RcodeFormatError
		return reply
	}
	q := req.Question[0]
	name := strings.ToLower(q.Name)
	for range 20 {
		rrs, ok := f.zone[name]
		if !ok {
			reply.Rcode = dns.RcodeNameError
			return reply
		}
		if match := ofType(rrs, q.Qtype); len(match) > 0 {
			reply.Answer = append(reply.Answer, match...)
			return reply
		}
		cname := ofType(rrs, dns.TypeCNAME)
		if len(cname) == 0 {
			return reply
		}
		reply.Answer = append(reply.Answer, cname[0])
		if !f.cfg.chase {
			return reply
		}
		name = strings.ToLower(cname[0].(*dns.CNAME).Target)
	}
	return reply
}

func ofType(rrs []dns.RR, qtype uint16) []dns.RR {
	var out []dns.RR
	for _, rr := range rrs {
		if rr.Header().Rrtype == qtype {
			out = append(out, rr)
		}
	}
	return out
}

// count returns how many queries of qtype for name arrived over network
// ("" for any network, "" name for any name).
func (f *fakeDNS) count(network string, qtype uint16, name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, q := range f.queries {
		parts := strings.Fields(q)
		if (network == "" || parts[0] == network) &&
			parts[1] == dns.TypeToString[qtype] &&
			(name == "" || parts[2] == dns.Fqdn(name)) {
			n++
		}
	}
	return n
}

// total returns how many queries arrived.
func (f *fakeDNS) total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.queries)
}

// replyRcode answers req over w with rcode and no records.
func replyRcode(w dns.ResponseWriter, req *dns.Msg, rcode int) {
	m := new(dns.Msg)
	m.SetRcode(req, rcode)
	_ = w.WriteMsg(m)
}

// mxRecords returns n MX records of domain with long host names, each
// host with an A record, so that n of them do not fit in 512 bytes.
func mxRecords(domain string, n int) []string {
	var out []string
	for i := range n {
		host := fmt.Sprintf("mail-exchanger-%03d.%s.", i, domain)
		out = append(out,
			fmt.Sprintf("%s. 300 IN MX %d %s", domain, i+1, host),
			fmt.Sprintf("%s 300 IN A 127.0.%d.%d", host, i/250, i%250+1))
	}
	return out
}
