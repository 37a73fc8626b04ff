package probe_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailprobe/mailprobe_exporter/config"
	"github.com/mailprobe/mailprobe_exporter/internal/testdns"
	"github.com/mailprobe/mailprobe_exporter/probe"
	"github.com/mailprobe/mailprobe_exporter/resolve"
)

// dnsHook may answer a query itself, or drop it, instead of the zone:
// it returns true when it did. reply is the zone's answer.
type dnsHook func(w dns.ResponseWriter, req, reply *dns.Msg) bool

// scriptedDNS answers from a zone given as text, over UDP and TCP on one
// port of 127.0.0.1. It never chases CNAME records, as an authoritative
// server would not for names outside its zone; UDP answers are truncated
// to the size the client announced, as real servers do.
type scriptedDNS struct {
	addr string
	zone map[string][]dns.RR
	hook dnsHook
	srv  *testdns.Server
}

// startDNS starts a scriptedDNS; noTCP leaves its TCP port closed.
func startDNS(t *testing.T, hook dnsHook, noTCP bool, records ...string) *scriptedDNS {
	t.Helper()
	zone, err := testdns.Zone(records...)
	if err != nil {
		t.Fatal(err)
	}
	d := &scriptedDNS{zone: zone, hook: hook}
	d.srv = testdns.Start(t, d, !noTCP)
	d.addr = d.srv.Addr
	return d
}

// stop shuts the servers down and waits for them; calling it again does
// nothing.
func (d *scriptedDNS) stop(t *testing.T) {
	t.Helper()
	d.srv.Stop(t)
}

// ServeDNS answers req from the zone unless the hook takes it.
func (d *scriptedDNS) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	reply := d.answer(req)
	if d.hook != nil && d.hook(w, req, reply) {
		return
	}
	if w.LocalAddr().Network() == "udp" {
		size := dns.MinMsgSize
		if opt := req.IsEdns0(); opt != nil {
			size = int(opt.UDPSize())
		}
		reply.Truncate(size)
	}
	_ = w.WriteMsg(reply)
}

// answer looks the question up: records of its type, else a CNAME of the
// name alone, else NODATA for a known name and NXDOMAIN for others.
func (d *scriptedDNS) answer(req *dns.Msg) *dns.Msg {
	reply := new(dns.Msg)
	reply.SetReply(req)
	if opt := req.IsEdns0(); opt != nil {
		reply.SetEdns0(opt.UDPSize(), false)
	}
	q := req.Question[0]
	rrs, ok := d.zone[strings.ToLower(q.Name)]
	if !ok {
		reply.Rcode = dns.RcodeNameError
		return reply
	}
	for _, rr := range rrs {
		if rr.Header().Rrtype == q.Qtype {
			reply.Answer = append(reply.Answer, rr)
		}
	}
	if len(reply.Answer) > 0 {
		return reply
	}
	for _, rr := range rrs {
		if rr.Header().Rrtype == dns.TypeCNAME {
			reply.Answer = append(reply.Answer, rr)
		}
	}
	return reply
}

// dialRecorder stands in for the network: it records every address a
// probe dials and refuses the connection.
type dialRecorder struct {
	mu     sync.Mutex
	dialed []string
}

var errRefusedByTest = errors.New("connection refused by the test")

func (d *dialRecorder) dial(_ context.Context, _, addr string) (net.Conn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dialed = append(d.dialed, addr)
	return nil, errRefusedByTest
}

func (d *dialRecorder) addrs() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.dialed)
}

// dnsCase is a resolver that misbehaves in one way, or a zone that is
// odd in one way, and what the probe must record and dial.
type dnsCase struct {
	name     string
	records  []string
	hook     dnsHook
	noTCP    bool
	settings func(*config.Settings)
	want     outcome
	dialed   []string // addresses dialed, in order
	check    func(*testing.T, probe.Result)
}

// dnsBudget is the resolver's timeout in these cases; a probe may take
// a second more.
const dnsBudget = time.Second

func runDNSCases(t *testing.T, cases []dnsCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { runDNSCase(t, c) })
	}
}

func runDNSCase(t *testing.T, c dnsCase) {
	base := takeBaseline(t)
	srv := startDNS(t, c.hook, c.noTCP, c.records...)
	dials := &dialRecorder{}
	p := &probe.Prober{
		Resolver: &resolve.Resolver{Servers: []string{srv.addr}, Timeout: dnsBudget},
		Dial:     dials.dial,
	}
	tgt := hostileTarget(25, nil)
	tgt.Domain = "example.test"
	if c.settings != nil {
		c.settings(&tgt.Settings)
	}

	start := time.Now()
	res := p.Probe(context.Background(), tgt)
	took := time.Since(start)
	srv.stop(t)

	checkOutcome(t, res, c.want)
	if took > dnsBudget+time.Second {
		t.Errorf("probe took %v, budget %v", took, dnsBudget+time.Second)
	}
	if got := dials.addrs(); !slices.Equal(got, c.dialed) {
		t.Errorf("dialed %q, want %q (answer %+v)", got, c.dialed, res.DNS)
	}
	if c.check != nil {
		c.check(t, res)
	}
	base.check(t)
}

const mx = "example.test. 300 IN MX "

// withA adds an address record for each host, 127.0.0.31 onwards.
func withA(records []string, hosts ...string) []string {
	for i, h := range hosts {
		records = append(records, fmt.Sprintf("%s 300 IN A 127.0.0.%d", h, 31+i))
	}
	return records
}

// twoMX is a zone with two MX hosts that have addresses.
func twoMX() []string {
	return withA([]string{mx + "10 mx1.example.test.", mx + "20 mx2.example.test."},
		"mx1.example.test.", "mx2.example.test.")
}

// refused is the outcome of a probe whose every connection was refused.
var refused = outcome{probe.ConnectError, "connect", 0, ""}

// dnsFailure is the outcome of a probe that DNS stopped.
func dnsFailure(c probe.Class) outcome { return outcome{c, "dns", 0, ""} }

// onUDP answers MX queries over UDP with what reply makes of the zone's
// answer, and leaves the rest to the zone.
func onUDP(reply func(req, zone *dns.Msg) *dns.Msg) dnsHook {
	return func(w dns.ResponseWriter, req, zone *dns.Msg) bool {
		if w.LocalAddr().Network() != "udp" || req.Question[0].Qtype != dns.TypeMX {
			return false
		}
		_ = w.WriteMsg(reply(req, zone))
		return true
	}
}

// truncated is a UDP answer with TC set and only the given MX hosts.
func truncated(hosts ...string) func(req, zone *dns.Msg) *dns.Msg {
	return func(req, _ *dns.Msg) *dns.Msg {
		m := new(dns.Msg)
		m.SetReply(req)
		m.Truncated = true
		for _, h := range hosts {
			rr, _ := dns.NewRR(mx + "5 " + h)
			m.Answer = append(m.Answer, rr)
		}
		return m
	}
}

// withImplicit adds an address for the domain itself, which a wrong
// reading of a failure as NODATA would dial.
func withImplicit(records []string) []string {
	return append(records, "example.test. 300 IN A 127.0.0.40")
}

func TestHostileResolverTransport(t *testing.T) {
	both := []string{"127.0.0.31:25", "127.0.0.32:25"}
	decoy := withA(twoMX(), "decoy.example.test.")
	runDNSCases(t, []dnsCase{
		{
			name:    "partial truncated UDP answer: the complete TCP answer is used",
			records: decoy, hook: onUDP(truncated("decoy.example.test.")),
			want: refused, dialed: both,
		},
		{
			name:    "empty truncated UDP answer: the complete TCP answer is used",
			records: withImplicit(twoMX()), hook: onUDP(truncated()),
			want: refused, dialed: both,
		},
		{
			name:    "partial truncated UDP answer and TCP refused: nothing is dialed",
			records: decoy, hook: onUDP(truncated("decoy.example.test.")), noTCP: true,
			want: dnsFailure(probe.DNSError),
		},
		{
			name:    "empty truncated UDP answer and TCP refused: never the implicit MX",
			records: withImplicit(twoMX()), hook: onUDP(truncated()), noTCP: true,
			want: dnsFailure(probe.DNSError),
		},
		{
			name:    "oversized UDP answer: dns_error, nothing is dialed",
			records: twoMX(), hook: oversized,
			want: dnsFailure(probe.DNSError),
		},
		{
			name:    "malformed answer: dns_error",
			records: twoMX(), hook: malformed,
			want: dnsFailure(probe.DNSError),
		},
		{
			name:    "answer for another name: dns_error",
			records: twoMX(), hook: otherName,
			want: dnsFailure(probe.DNSError),
		},
		{
			name:    "answers with another ID only: dns_timeout",
			records: twoMX(), hook: otherID,
			want: dnsFailure(probe.DNSTimeout),
		},
	})
}

// oversized answers MX queries over UDP with a message larger than the
// size the client announced, without TC.
func oversized(w dns.ResponseWriter, req, zone *dns.Msg) bool {
	if w.LocalAddr().Network() != "udp" || req.Question[0].Qtype != dns.TypeMX {
		return false
	}
	m := zone.Copy()
	for i := range 300 {
		rr, _ := dns.NewRR(fmt.Sprintf("%s%d filler-host-%03d.example.test.", mx, 30+i, i))
		m.Answer = append(m.Answer, rr)
	}
	b, err := m.Pack()
	if err != nil || len(b) <= 4096 {
		panic(fmt.Sprintf("oversized answer of %d octets: %v", len(b), err))
	}
	_, _ = w.Write(b)
	return true
}

// malformed answers MX queries with a header that announces an answer
// record, followed by two stray octets.
func malformed(w dns.ResponseWriter, req, _ *dns.Msg) bool {
	if req.Question[0].Qtype != dns.TypeMX {
		return false
	}
	_, _ = w.Write([]byte{byte(req.Id >> 8), byte(req.Id), 0x81, 0x80,
		0, 1, 0, 1, 0, 0, 0, 0, 0xff, 0xff})
	return true
}

// otherName answers MX queries with records for another question.
func otherName(w dns.ResponseWriter, req, zone *dns.Msg) bool {
	if req.Question[0].Qtype != dns.TypeMX {
		return false
	}
	m := zone.Copy()
	m.Question[0].Name = "other.test."
	_ = w.WriteMsg(m)
	return true
}

// otherID answers MX queries only with another message ID.
func otherID(w dns.ResponseWriter, req, zone *dns.Msg) bool {
	if req.Question[0].Qtype != dns.TypeMX {
		return false
	}
	m := zone.Copy()
	m.Id = req.Id + 1
	_ = w.WriteMsg(m)
	return true
}

// rcode answers MX queries with rc and nothing else.
func rcode(rc int) dnsHook {
	return func(w dns.ResponseWriter, req, _ *dns.Msg) bool {
		if req.Question[0].Qtype != dns.TypeMX {
			return false
		}
		m := new(dns.Msg)
		m.SetRcode(req, rc)
		_ = w.WriteMsg(m)
		return true
	}
}

// silentMX never answers MX queries.
func silentMX(_ dns.ResponseWriter, req, _ *dns.Msg) bool {
	return req.Question[0].Qtype == dns.TypeMX
}

// cnameChain is an MX host reached through a chain of links CNAMEs.
func cnameChain(links int) []string {
	out := []string{mx + "10 mx1.example.test."}
	from := "mx1.example.test."
	for i := range links {
		to := fmt.Sprintf("c%d.example.test.", i)
		out = append(out, from+" 300 IN CNAME "+to)
		from = to
	}
	return append(out, from+" 300 IN A 127.0.0.31")
}

func TestHostileZones(t *testing.T) {
	runDNSCases(t, []dnsCase{
		{
			name:    "SERVFAIL: dns_servfail, never the implicit MX",
			records: withImplicit(nil), hook: rcode(dns.RcodeServerFailure),
			want: dnsFailure(probe.DNSServFail),
		},
		{
			name:    "REFUSED: dns_servfail",
			records: withImplicit(nil), hook: rcode(dns.RcodeRefused),
			want: dnsFailure(probe.DNSServFail),
		},
		{
			name:    "NXDOMAIN: nxdomain",
			records: []string{"mx1.example.test. 300 IN A 127.0.0.31"},
			want:    dnsFailure(probe.NXDomain),
		},
		{
			name:    "silence: dns_timeout, never the implicit MX",
			records: withImplicit(nil), hook: silentMX,
			want: dnsFailure(probe.DNSTimeout),
		},
		{
			name:    "NODATA: the domain is its own MX",
			records: withImplicit(nil),
			want:    refused, dialed: []string{"127.0.0.40:25"},
		},
		{
			name:    "NODATA and no address either: no_mx",
			records: []string{`example.test. 300 IN TXT "v=spf1 -all"`},
			want:    dnsFailure(probe.NoMX),
		},
		{
			name: "MX hosts with no address at all: no_mx",
			records: []string{mx + "10 mx1.example.test.", mx + "20 mx2.example.test.",
				`mx2.example.test. 300 IN TXT "no address"`},
			want: dnsFailure(probe.NoMX),
		},
		{
			name:    "null MX: null_mx, nothing is dialed",
			records: withImplicit([]string{mx + "0 ."}),
			want:    dnsFailure(probe.NullMX),
		},
		{
			name:    "root host with a non-zero preference alone: null_mx",
			records: withImplicit([]string{mx + "10 ."}),
			want:    dnsFailure(probe.NullMX),
		},
		{
			name:    "null MX mixed with real MX: only the real host is dialed",
			records: withA([]string{mx + "0 .", mx + "10 mx1.example.test."}, "mx1.example.test."),
			want:    refused, dialed: []string{"127.0.0.31:25"},
		},
		{
			name:    "root host with a non-zero preference among real MX is never dialed",
			records: withA([]string{mx + "20 mx1.example.test.", mx + "5 ."}, "mx1.example.test."),
			want:    refused, dialed: []string{"127.0.0.31:25"},
		},
		{
			name:    "MX host behind a chain of 8 CNAMEs is dialed",
			records: cnameChain(8),
			want:    refused, dialed: []string{"127.0.0.31:25"},
		},
		{
			name:    "MX host behind a chain of 9 CNAMEs: no_mx",
			records: cnameChain(9),
			want:    dnsFailure(probe.NoMX),
		},
		{
			name: "MX host in a CNAME loop: no_mx",
			records: []string{mx + "10 mx1.example.test.",
				"mx1.example.test. 300 IN CNAME loop.example.test.",
				"loop.example.test. 300 IN CNAME mx1.example.test."},
			want: dnsFailure(probe.NoMX),
		},
	})
}

// manyMX is a zone of n MX hosts, each with its own address.
func manyMX(n int) []string {
	var out []string
	for i := range n {
		host := fmt.Sprintf("mx-%03d.example.test.", i)
		out = append(out, fmt.Sprintf("%s%d %s", mx, i+1, host),
			fmt.Sprintf("%s 300 IN A 127.0.%d.%d", host, 1+i/250, 1+i%250))
	}
	return out
}

// firstAddrs are the addresses of the first n hosts of manyMX.
func firstAddrs(n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("127.0.%d.%d:25", 1+i/250, 1+i%250))
	}
	return out
}

// wantHosts checks how many hosts the answer lists and how many it dropped.
func wantHosts(hosts, dropped int) func(*testing.T, probe.Result) {
	return func(t *testing.T, res probe.Result) {
		if len(res.DNS.Hosts) != hosts || res.DNS.Dropped != dropped {
			t.Errorf("answer lists %d hosts and dropped %d, want %d and %d",
				len(res.DNS.Hosts), res.DNS.Dropped, hosts, dropped)
		}
	}
}

func TestHundredsOfMXStayBounded(t *testing.T) {
	runDNSCases(t, []dnsCase{
		{
			name:    "400 MX records: 10 hosts listed and probed",
			records: manyMX(400),
			want:    refused, dialed: firstAddrs(10),
			check: wantHosts(10, 390),
		},
		{
			name:     "400 MX records and max_mx_hosts 3: 3 hosts listed and probed",
			records:  manyMX(400),
			settings: func(s *config.Settings) { s.MaxMXHosts = 3 },
			want:     refused, dialed: firstAddrs(3),
			check: wantHosts(3, 397),
		},
	})
}
