package resolve

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"go.uber.org/goleak"
)

// slack is the time a call may take beyond its timeout.
const slack = time.Second

// noLeaks checks, once the test and its fake servers are done, that no
// goroutine is left.
func noLeaks(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
}

// resolveWithin calls r.ResolveMX and fails the test when the call takes
// longer than the timeout of r plus slack.
func resolveWithin(t *testing.T, r *Resolver, domain string, fam Family) Answer {
	t.Helper()
	start := time.Now()
	a := r.ResolveMX(context.Background(), domain, fam)
	if took := time.Since(start); took > r.timeout()+slack {
		t.Errorf("ResolveMX took %v, budget %v", took, r.timeout()+slack)
	}
	return a
}

func ips(s ...string) []netip.Addr {
	out := make([]netip.Addr, 0, len(s))
	for _, v := range s {
		out = append(out, netip.MustParseAddr(v))
	}
	return out
}

// rcodeHook answers MX queries with rcode and leaves the others to the zone.
func rcodeHook(rcode int) func(dns.ResponseWriter, *dns.Msg) bool {
	return func(w dns.ResponseWriter, req *dns.Msg) bool {
		if req.Question[0].Qtype != dns.TypeMX {
			return false
		}
		replyRcode(w, req, rcode)
		return true
	}
}

// chain returns the records of a CNAME chain of hops links from
// mx1.example.test to a name with an A record.
func chain(hops int) []string {
	out := []string{"example.test. 300 IN MX 10 mx1.example.test."}
	from := "mx1.example.test."
	for i := range hops {
		to := "c" + string(rune('a'+i)) + ".example.test."
		out = append(out, from+" 300 IN CNAME "+to)
		from = to
	}
	return append(out, from+" 300 IN A 127.0.0.9")
}

func TestResolveMX(t *testing.T) {
	const mx = "example.test. 300 IN MX "
	tests := []struct {
		name    string
		cfg     fakeConfig
		records []string
		domain  string // "" means example.test
		fam     Family
		status  Status
		rcode   string
		hosts   []Host
		err     string // wanted in Answer.Err; "" wants no error
		// anyHosts skips the comparison with hosts; check looks at them.
		anyHosts bool
		check    func(t *testing.T, f *fakeDNS, a Answer)
	}{
		{
			name: "MX hosts come sorted by preference",
			records: []string{
				mx + "20 mx2.example.test.", mx + "10 mx1.example.test.",
				mx + "30 mx3.example.test.",
				"mx1.example.test. 300 IN A 127.0.0.11",
				"mx2.example.test. 300 IN A 127.0.0.12",
				"mx3.example.test. 300 IN A 127.0.0.13",
			},
			fam: FamilyIPv4, status: StatusOK, rcode: "NOERROR",
			hosts: []Host{
				{Name: "mx1.example.test", Preference: 10, Addrs: ips("127.0.0.11")},
				{Name: "mx2.example.test", Preference: 20, Addrs: ips("127.0.0.12")},
				{Name: "mx3.example.test", Preference: 30, Addrs: ips("127.0.0.13")},
			},
			check: func(t *testing.T, _ *fakeDNS, a Answer) {
				if len(a.Records) != 3 || !strings.Contains(a.Records[0], "MX") {
					t.Errorf("Records = %q, want the 3 MX records", a.Records)
				}
			},
		},
		{
			name: "NODATA for MX makes the domain its own MX",
			records: []string{
				"example.test. 300 IN A 127.0.0.20",
				"example.test. 300 IN AAAA 2001:db8::20",
			},
			status: StatusImplicit, rcode: "NOERROR",
			hosts: []Host{{Name: "example.test", Addrs: ips("127.0.0.20", "2001:db8::20")}},
		},
		{
			name:    "NODATA for MX and no address is no_mx",
			records: []string{`example.test. 300 IN TXT "v=spf1 -all"`},
			status:  StatusNoMX, rcode: "NOERROR", err: "no MX records",
		},
		{
			name:   "NXDOMAIN is nxdomain and no address is asked for",
			status: StatusNXDomain, rcode: "NXDOMAIN", err: "does not exist",
			check: func(t *testing.T, f *fakeDNS, _ Answer) {
				if n := f.count("", dns.TypeA, ""); n != 0 {
					t.Errorf("%d A queries after NXDOMAIN, want 0", n)
				}
			},
		},
		{
			name:    "SERVFAIL is servfail, not an implicit MX",
			cfg:     fakeConfig{hook: rcodeHook(dns.RcodeServerFailure)},
			records: []string{"example.test. 300 IN A 127.0.0.20"},
			status:  StatusServFail, rcode: "SERVFAIL", err: "SERVFAIL",
			check: func(t *testing.T, f *fakeDNS, _ Answer) {
				if n := f.count("", dns.TypeA, ""); n != 0 {
					t.Errorf("%d A queries after SERVFAIL, want 0", n)
				}
			},
		},
		{
			name:   "REFUSED is servfail",
			cfg:    fakeConfig{hook: rcodeHook(dns.RcodeRefused)},
			status: StatusServFail, rcode: "REFUSED", err: "REFUSED",
		},
		{
			name:    "null MX means the domain takes no mail",
			records: []string{mx + "0 ."},
			status:  StatusNullMX, rcode: "NOERROR",
			check: func(t *testing.T, _ *fakeDNS, a Answer) {
				if len(a.Records) != 1 {
					t.Errorf("Records = %q, want the null MX", a.Records)
				}
			},
		},
		{
			name: "null MX listed with other MX records is ignored",
			records: []string{
				mx + "0 .", mx + "10 mx1.example.test.",
				"mx1.example.test. 300 IN A 127.0.0.11",
			},
			status: StatusOK, rcode: "NOERROR", err: "ignored 1 null MX",
			hosts: []Host{{Name: "mx1.example.test", Preference: 10, Addrs: ips("127.0.0.11")}},
		},
		{
			name:    "null MX with a non-zero preference alone is still null MX",
			records: []string{mx + "10 ."},
			status:  StatusNullMX, rcode: "NOERROR", err: "preference 10",
		},
		{
			name: "root host with a non-zero preference is never a host",
			records: []string{
				mx + "10 .", mx + "20 mx1.example.test.",
				"mx1.example.test. 300 IN A 127.0.0.11",
			},
			status: StatusOK, rcode: "NOERROR", err: "null MX",
			hosts: []Host{{Name: "mx1.example.test", Preference: 20, Addrs: ips("127.0.0.11")}},
		},
		{
			name: "MX name that is a CNAME is followed query by query",
			records: []string{
				mx + "10 mx1.example.test.",
				"mx1.example.test. 300 IN CNAME real.example.test.",
				"real.example.test. 300 IN A 127.0.0.30",
			},
			fam: FamilyIPv4, status: StatusOK, rcode: "NOERROR",
			hosts: []Host{{
				Name: "mx1.example.test", Preference: 10,
				CNAME: "real.example.test", Addrs: ips("127.0.0.30"),
			}},
		},
		{
			name: "CNAME chain given in one answer is followed",
			cfg:  fakeConfig{chase: true},
			records: []string{
				mx + "10 mx1.example.test.",
				"mx1.example.test. 300 IN CNAME mid.example.test.",
				"mid.example.test. 300 IN CNAME real.example.test.",
				"real.example.test. 300 IN A 127.0.0.30",
			},
			fam: FamilyIPv4, status: StatusOK, rcode: "NOERROR",
			hosts: []Host{{
				Name: "mx1.example.test", Preference: 10,
				CNAME: "real.example.test", Addrs: ips("127.0.0.30"),
			}},
			check: func(t *testing.T, f *fakeDNS, _ Answer) {
				if n := f.count("", dns.TypeA, "real.example.test"); n != 0 {
					t.Errorf("asked again for the end of a complete chain %d times", n)
				}
			},
		},
		{
			name: "CNAME loop across queries ends",
			records: []string{
				mx + "10 mx1.example.test.",
				"mx1.example.test. 300 IN CNAME loop.example.test.",
				"loop.example.test. 300 IN CNAME mx1.example.test.",
			},
			fam: FamilyIPv4, status: StatusNoMX, rcode: "NOERROR", err: "no MX host",
			hosts: []Host{{
				Name: "mx1.example.test", Preference: 10,
				Err: "CNAME loop at mx1.example.test",
			}},
		},
		{
			name: "CNAME loop inside one answer ends",
			cfg:  fakeConfig{chase: true},
			records: []string{
				mx + "10 mx1.example.test.",
				"mx1.example.test. 300 IN CNAME loop.example.test.",
				"loop.example.test. 300 IN CNAME mx1.example.test.",
			},
			fam: FamilyIPv4, status: StatusNoMX, rcode: "NOERROR", err: "no MX host",
			hosts: []Host{{
				Name: "mx1.example.test", Preference: 10,
				Err: "CNAME loop at mx1.example.test",
			}},
		},
		{
			name:    "CNAME chain of 8 links is followed",
			records: chain(8),
			fam:     FamilyIPv4, status: StatusOK, rcode: "NOERROR",
			hosts: []Host{{
				Name: "mx1.example.test", Preference: 10,
				CNAME: "ch.example.test", Addrs: ips("127.0.0.9"),
			}},
		},
		{
			name:    "CNAME chain of 9 links is cut",
			records: chain(9),
			fam:     FamilyIPv4, status: StatusNoMX, rcode: "NOERROR", err: "no MX host",
			hosts: []Host{{
				Name: "mx1.example.test", Preference: 10,
				Err: "CNAME chain longer than 8",
			}},
		},
		{
			name: "MX hosts without any address make no_mx and stay listed",
			records: []string{
				mx + "10 mx1.example.test.", mx + "20 mx2.example.test.",
				`mx2.example.test. 300 IN TXT "no address"`,
			},
			status: StatusNoMX, rcode: "NOERROR", err: "no MX host has an address",
			hosts: []Host{
				{Name: "mx1.example.test", Preference: 10, Err: "nxdomain"},
				{Name: "mx2.example.test", Preference: 20, Err: "no address records"},
			},
		},
		{
			name: "one MX host without address leaves the others usable",
			records: []string{
				mx + "10 mx1.example.test.", mx + "20 mx2.example.test.",
				"mx2.example.test. 300 IN A 127.0.0.12",
			},
			fam: FamilyIPv4, status: StatusOK, rcode: "NOERROR",
			hosts: []Host{
				{Name: "mx1.example.test", Preference: 10, Err: "nxdomain"},
				{Name: "mx2.example.test", Preference: 20, Addrs: ips("127.0.0.12")},
			},
		},
		{
			name:    "names come lower case without trailing dot",
			records: []string{mx + "10 MX1.Example.TEST.", "mx1.example.test. 300 IN A 127.0.0.11"},
			domain:  "Example.TEST.",
			fam:     FamilyIPv4, status: StatusOK, rcode: "NOERROR",
			hosts: []Host{{Name: "mx1.example.test", Preference: 10, Addrs: ips("127.0.0.11")}},
			check: func(t *testing.T, _ *fakeDNS, a Answer) {
				if a.Domain != "example.test" {
					t.Errorf("Domain = %q, want example.test", a.Domain)
				}
			},
		},
		{
			name: "a host listed twice is kept once at its best preference",
			records: []string{
				mx + "30 mx1.example.test.", mx + "10 mx1.example.test.",
				mx + "20 mx2.example.test.",
				"mx1.example.test. 300 IN A 127.0.0.11",
				"mx2.example.test. 300 IN A 127.0.0.12",
			},
			fam: FamilyIPv4, status: StatusOK, rcode: "NOERROR",
			hosts: []Host{
				{Name: "mx1.example.test", Preference: 10, Addrs: ips("127.0.0.11")},
				{Name: "mx2.example.test", Preference: 20, Addrs: ips("127.0.0.12")},
			},
		},
		{
			name:    "ipv4 family asks for A only",
			records: dualStack(),
			fam:     FamilyIPv4, status: StatusOK, rcode: "NOERROR",
			hosts: []Host{{Name: "mx1.example.test", Preference: 10, Addrs: ips("127.0.0.11")}},
			check: wantNoQuery(dns.TypeAAAA),
		},
		{
			name:    "ipv6 family asks for AAAA only",
			records: dualStack(),
			fam:     FamilyIPv6, status: StatusOK, rcode: "NOERROR",
			hosts: []Host{{Name: "mx1.example.test", Preference: 10, Addrs: ips("::1")}},
			check: wantNoQuery(dns.TypeA),
		},
		{
			name:    "both families list A before AAAA",
			records: dualStack(),
			status:  StatusOK, rcode: "NOERROR",
			hosts: []Host{{
				Name: "mx1.example.test", Preference: 10, Addrs: ips("127.0.0.11", "::1"),
			}},
		},
		{
			name:    "a host with only IPv6 is no_mx for the ipv4 family",
			records: []string{mx + "10 mx1.example.test.", "mx1.example.test. 300 IN AAAA ::1"},
			fam:     FamilyIPv4, status: StatusNoMX, rcode: "NOERROR", err: "no MX host",
			hosts: []Host{{Name: "mx1.example.test", Preference: 10, Err: "no address records"}},
		},
		{
			name:    "addresses of a host are capped",
			records: manyAddrs(40),
			fam:     FamilyIPv4, status: StatusOK, rcode: "NOERROR", anyHosts: true,
			check: func(t *testing.T, _ *fakeDNS, a Answer) {
				if len(a.Hosts) != 1 || len(a.Hosts[0].Addrs) != maxAddrs {
					t.Errorf("hosts = %+v, want one host with %d addresses", a.Hosts, maxAddrs)
				}
			},
		},
		{
			name:   "a malformed domain name is an error without any query",
			domain: "bad..example.test",
			status: StatusError, err: "invalid domain name",
			check: func(t *testing.T, f *fakeDNS, _ Answer) {
				if n := f.count("", dns.TypeMX, ""); n != 0 {
					t.Errorf("%d MX queries for a malformed name, want 0", n)
				}
			},
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			noLeaks(t)
			f := startDNS(t, tt.cfg, tt.records...)
			r := &Resolver{Servers: []string{f.addr}, Timeout: 2 * time.Second}
			domain := tt.domain
			if domain == "" {
				domain = "example.test"
			}

			a := resolveWithin(t, r, domain, tt.fam)

			assertAnswer(t, a, tt.status, tt.rcode, tt.err)
			if !tt.anyHosts {
				assertHosts(t, a.Hosts, tt.hosts)
			}
			if tt.check != nil {
				tt.check(t, f, a)
			}
		})
	}
}

func assertAnswer(t *testing.T, a Answer, status Status, rcode, err string) {
	t.Helper()
	if a.Status != status {
		t.Errorf("Status = %q, want %q (Err %q)", a.Status, status, a.Err)
	}
	if a.Rcode != rcode {
		t.Errorf("Rcode = %q, want %q", a.Rcode, rcode)
	}
	if err == "" && a.Err != "" {
		t.Errorf("Err = %q, want none", a.Err)
	}
	if !strings.Contains(a.Err, err) {
		t.Errorf("Err = %q, want it to contain %q", a.Err, err)
	}
	if a.Duration <= 0 {
		t.Errorf("Duration = %v, want it measured", a.Duration)
	}
}

func assertHosts(t *testing.T, got, want []Host) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("hosts = %+v, want %+v", got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Name != w.Name || g.Preference != w.Preference || g.CNAME != w.CNAME ||
			g.Err != w.Err || !slices.Equal(g.Addrs, w.Addrs) {
			t.Errorf("host %d = %+v, want %+v", i, g, w)
		}
	}
}

func dualStack() []string {
	return []string{
		"example.test. 300 IN MX 10 mx1.example.test.",
		"mx1.example.test. 300 IN A 127.0.0.11",
		"mx1.example.test. 300 IN AAAA ::1",
	}
}

func manyAddrs(n int) []string {
	out := []string{"example.test. 300 IN MX 10 mx1.example.test."}
	for i := range n {
		out = append(out, "mx1.example.test. 300 IN A "+
			netip.AddrFrom4([4]byte{127, 0, 1, byte(i + 1)}).String())
	}
	return out
}

func wantNoQuery(qtype uint16) func(*testing.T, *fakeDNS, Answer) {
	return func(t *testing.T, f *fakeDNS, _ Answer) {
		if n := f.count("", qtype, ""); n != 0 {
			t.Errorf("%d %s queries, want none", n, dns.TypeToString[qtype])
		}
	}
}
