package resolve

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// mxReply answers req with one MX record per host, preferences 10, 20...
func mxReply(t *testing.T, req *dns.Msg, hosts ...string) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(req)
	for i, h := range hosts {
		rr, err := dns.NewRR(fmt.Sprintf("%s 300 IN MX %d %s", req.Question[0].Name, 10*(i+1), h))
		if err != nil {
			t.Errorf("bad test record: %v", err)
		}
		m.Answer = append(m.Answer, rr)
	}
	return m
}

func isMX(req *dns.Msg) bool { return req.Question[0].Qtype == dns.TypeMX }

func overTCP(w dns.ResponseWriter) bool { return w.LocalAddr().Network() == "tcp" }

// silent never answers.
func silent(dns.ResponseWriter, *dns.Msg) bool { return true }

func TestEqualPreferencesAreShuffled(t *testing.T) {
	noLeaks(t)
	f := startDNS(t, fakeConfig{},
		"example.test. 300 IN MX 20 b.example.test.",
		"example.test. 300 IN MX 20 a.example.test.",
		"example.test. 300 IN MX 5 first.example.test.",
		"a.example.test. 300 IN A 127.0.0.11",
		"b.example.test. 300 IN A 127.0.0.12",
		"first.example.test. 300 IN A 127.0.0.10")
	r := &Resolver{Servers: []string{f.addr}, Timeout: 2 * time.Second}

	orders := map[string]int{}
	for range 60 {
		a := resolveWithin(t, r, "example.test", FamilyIPv4)
		if a.Status != StatusOK || len(a.Hosts) != 3 {
			t.Fatalf("answer = %+v, want 3 hosts", a)
		}
		if a.Hosts[0].Name != "first.example.test" {
			t.Fatalf("first host = %q, want the lowest preference", a.Hosts[0].Name)
		}
		orders[a.Hosts[1].Name+" "+a.Hosts[2].Name]++
	}
	ab, ba := orders["a.example.test b.example.test"], orders["b.example.test a.example.test"]
	if ab == 0 || ba == 0 {
		t.Errorf("orders of equal preferences seen = %v, want both", orders)
	}
}

func TestTruncatedAnswerIsRetriedOverTCP(t *testing.T) {
	tests := []struct {
		name     string
		maxHosts int
		hosts    int
		dropped  int
	}{
		{name: "default cap keeps 10 hosts", maxHosts: 0, hosts: 10, dropped: 20},
		{name: "larger cap keeps all 30 hosts", maxHosts: 40, hosts: 30, dropped: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			noLeaks(t)
			f := startDNS(t, fakeConfig{ignoreEDNS: true}, mxRecords("example.test", 30)...)
			r := &Resolver{Servers: []string{f.addr}, Timeout: 2 * time.Second,
				MaxHosts: tt.maxHosts}

			a := resolveWithin(t, r, "example.test", FamilyIPv4)

			assertAnswer(t, a, StatusOK, "NOERROR", "")
			if len(a.Hosts) != tt.hosts || a.Dropped != tt.dropped || len(a.Records) != 30 {
				t.Fatalf("%d hosts, %d dropped, %d records; want %d, %d, 30",
					len(a.Hosts), a.Dropped, len(a.Records), tt.hosts, tt.dropped)
			}
			for i, h := range a.Hosts {
				if h.Preference != uint16(i+1) || len(h.Addrs) != 1 {
					t.Errorf("host %d = %+v, want preference %d with an address", i, h, i+1)
				}
			}
			if f.count("udp", dns.TypeMX, "") != 1 || f.count("tcp", dns.TypeMX, "") != 1 {
				t.Errorf("queries = %q, want one MX over UDP, then over TCP", f.queries)
			}
		})
	}
}

func TestHundredsOfMXAreBounded(t *testing.T) {
	noLeaks(t)
	f := startDNS(t, fakeConfig{}, mxRecords("example.test", 400)...)
	r := &Resolver{Servers: []string{f.addr}, Timeout: 3 * time.Second}

	a := resolveWithin(t, r, "example.test", FamilyIPv4)

	assertAnswer(t, a, StatusOK, "NOERROR", "")
	if len(a.Hosts) != 10 || a.Dropped != 390 || len(a.Records) != maxRecords {
		t.Errorf("%d hosts, %d dropped, %d records; want 10, 390, %d",
			len(a.Hosts), a.Dropped, len(a.Records), maxRecords)
	}
	if n := f.count("", dns.TypeA, ""); n != 10 {
		t.Errorf("%d A queries, want 10, one per kept host", n)
	}
}

func TestTruncatedAnswerIsNeverUsedAlone(t *testing.T) {
	tests := []struct {
		name string
		cfg  fakeConfig
		want Status // StatusError when empty
	}{
		{name: "TCP connection refused", cfg: fakeConfig{noTCP: true, ignoreEDNS: true}},
		{name: "TCP silent is a timeout", want: StatusTimeout, cfg: fakeConfig{ignoreEDNS: true,
			hook: func(w dns.ResponseWriter, req *dns.Msg) bool { return overTCP(w) }}},
		{name: "TCP closed without answer", cfg: fakeConfig{ignoreEDNS: true,
			hook: func(w dns.ResponseWriter, req *dns.Msg) bool {
				if overTCP(w) {
					_ = w.Close()
					return true
				}
				return false
			}}},
		{name: "TCP answer with another ID", cfg: fakeConfig{ignoreEDNS: true,
			hook: func(w dns.ResponseWriter, req *dns.Msg) bool {
				if overTCP(w) {
					m := new(dns.Msg)
					m.SetRcode(req, dns.RcodeSuccess)
					m.Id = req.Id + 1
					_ = w.WriteMsg(m)
					return true
				}
				return false
			}}},
		{name: "TCP answer truncated too", cfg: fakeConfig{ignoreEDNS: true,
			hook: func(w dns.ResponseWriter, req *dns.Msg) bool {
				if overTCP(w) {
					m := new(dns.Msg)
					m.SetRcode(req, dns.RcodeSuccess)
					m.Truncated = true
					_ = w.WriteMsg(m)
					return true
				}
				return false
			}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			noLeaks(t)
			f := startDNS(t, tt.cfg, mxRecords("example.test", 30)...)
			r := &Resolver{Servers: []string{f.addr}, Timeout: 2 * time.Second}

			a := resolveWithin(t, r, "example.test", FamilyIPv4)

			want := tt.want
			if want == "" {
				want = StatusError
			}
			assertAnswer(t, a, want, "", "truncated over UDP")
			if len(a.Hosts) != 0 || len(a.Records) != 0 {
				t.Errorf("answer used the truncated set: %+v", a)
			}
			if f.count("", dns.TypeA, "") != 0 {
				t.Errorf("queries = %q, want no address lookups", f.queries)
			}
		})
	}
}

func TestSilentServerTimesOut(t *testing.T) {
	noLeaks(t)
	f := startDNS(t, fakeConfig{hook: silent})
	r := &Resolver{Servers: []string{f.addr}, Timeout: 300 * time.Millisecond}

	a := resolveWithin(t, r, "example.test", FamilyBoth)

	assertAnswer(t, a, StatusTimeout, "", "timeout")
	if len(a.Hosts) != 0 {
		t.Errorf("hosts = %+v, want none", a.Hosts)
	}
}

func TestCancelEndsTheCall(t *testing.T) {
	noLeaks(t)
	f := startDNS(t, fakeConfig{hook: silent})
	r := &Resolver{Servers: []string{f.addr}, Timeout: 10 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	timer := time.AfterFunc(100*time.Millisecond, cancel)
	defer timer.Stop()

	start := time.Now()
	a := r.ResolveMX(ctx, "example.test", FamilyBoth)

	if took := time.Since(start); took > slack {
		t.Errorf("ResolveMX took %v after a cancel at 100ms", took)
	}
	assertAnswer(t, a, StatusError, "", "canceled")
}

func TestAddressLookupsShareTheTimeout(t *testing.T) {
	noLeaks(t)
	f := startDNS(t, fakeConfig{hook: func(_ dns.ResponseWriter, req *dns.Msg) bool {
		return !isMX(req)
	}}, mxRecords("example.test", 10)...)
	r := &Resolver{Servers: []string{f.addr}, Timeout: 500 * time.Millisecond}

	a := resolveWithin(t, r, "example.test", FamilyBoth)

	// Silence is the resolver's failure, not hosts without addresses.
	assertAnswer(t, a, StatusTimeout, "NOERROR", "no address lookup of an MX host got an answer")
	if len(a.Hosts) != 10 {
		t.Fatalf("%d hosts, want all 10 listed", len(a.Hosts))
	}
	for _, h := range a.Hosts {
		if len(h.Addrs) != 0 || !strings.Contains(h.Err, "timeout") {
			t.Errorf("host = %+v, want no address and a timeout", h)
		}
	}
}

func TestServersAreTriedInOrder(t *testing.T) {
	good := []string{
		"example.test. 300 IN MX 10 mx1.example.test.",
		"mx1.example.test. 300 IN A 127.0.0.11",
	}
	tests := []struct {
		name   string
		first  fakeConfig
		second fakeConfig
		status Status
		rcode  string
		err    string
		asked  int // queries the first server gets
	}{
		{name: "a silent server is asked last after its first timeout",
			first:  fakeConfig{hook: silent},
			status: StatusOK, rcode: "NOERROR", asked: 1},
		{name: "SERVFAIL moves to the next server",
			first:  fakeConfig{hook: rcodeHook(dns.RcodeServerFailure)},
			status: StatusOK, rcode: "NOERROR", asked: 2},
		{name: "SERVFAIL then silence is servfail",
			first:  fakeConfig{hook: rcodeHook(dns.RcodeServerFailure)},
			second: fakeConfig{hook: silent},
			status: StatusServFail, rcode: "SERVFAIL", err: "SERVFAIL", asked: 1},
		{name: "NXDOMAIN from the first server is final",
			first:  fakeConfig{hook: rcodeHook(dns.RcodeNameError)},
			status: StatusNXDomain, rcode: "NXDOMAIN", err: "does not exist", asked: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			noLeaks(t)
			first := startDNS(t, tt.first, good...)
			second := startDNS(t, tt.second, good...)
			r := &Resolver{Servers: []string{first.addr, second.addr}, Timeout: time.Second}

			a := resolveWithin(t, r, "example.test", FamilyIPv4)

			assertAnswer(t, a, tt.status, tt.rcode, tt.err)
			if tt.status == StatusOK && (len(a.Hosts) != 1 || len(a.Hosts[0].Addrs) != 1) {
				t.Errorf("hosts = %+v, want mx1 with its address", a.Hosts)
			}
			if n := first.total(); n != tt.asked {
				t.Errorf("first server got %d queries, want %d", n, tt.asked)
			}
		})
	}
}

func TestRepliesThatDoNotMatchAreNotUsed(t *testing.T) {
	addr := "mx1.example.test. 300 IN A 127.0.0.11"
	wrongID := func(w dns.ResponseWriter, req *dns.Msg) *dns.Msg {
		m := mxReply(t, req, "forged.example.test.")
		m.Id = req.Id + 1
		return m
	}
	tests := []struct {
		name   string
		hook   func(w dns.ResponseWriter, req *dns.Msg) bool
		status Status
		err    string
	}{
		{name: "reply with another ID is skipped for the right one",
			hook: func(w dns.ResponseWriter, req *dns.Msg) bool {
				_ = w.WriteMsg(wrongID(w, req))
				_ = w.WriteMsg(mxReply(t, req, "mx1.example.test."))
				return true
			}, status: StatusOK},
		{name: "only replies with another ID is a timeout",
			hook: func(w dns.ResponseWriter, req *dns.Msg) bool {
				_ = w.WriteMsg(wrongID(w, req))
				return true
			}, status: StatusTimeout, err: "timeout"},
		{name: "reply to another question is an error",
			hook: func(w dns.ResponseWriter, req *dns.Msg) bool {
				m := mxReply(t, req, "forged.example.test.")
				m.Question[0].Name = "other.test."
				_ = w.WriteMsg(m)
				return true
			}, status: StatusError, err: "reply is for question"},
		{name: "reply to another type is an error",
			hook: func(w dns.ResponseWriter, req *dns.Msg) bool {
				m := mxReply(t, req)
				m.Question[0].Qtype = dns.TypeA
				_ = w.WriteMsg(m)
				return true
			}, status: StatusError, err: "reply is for question"},
		{name: "query echoed back is an error",
			hook: func(w dns.ResponseWriter, req *dns.Msg) bool {
				_ = w.WriteMsg(req)
				return true
			}, status: StatusError, err: "not a response"},
		{name: "malformed reply is an error",
			hook: func(w dns.ResponseWriter, req *dns.Msg) bool {
				// A header announcing one question and one answer, then
				// two stray bytes.
				_, _ = w.Write([]byte{byte(req.Id >> 8), byte(req.Id), 0x81, 0x80,
					0, 1, 0, 1, 0, 0, 0, 0, 0xff, 0xff})
				return true
			}, status: StatusError, err: "bad reply"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			noLeaks(t)
			hook := func(w dns.ResponseWriter, req *dns.Msg) bool {
				return isMX(req) && tt.hook(w, req)
			}
			f := startDNS(t, fakeConfig{hook: hook}, addr)
			r := &Resolver{Servers: []string{f.addr}, Timeout: 500 * time.Millisecond}

			a := resolveWithin(t, r, "example.test", FamilyIPv4)

			assertAnswer(t, a, tt.status, rcodeOf(tt.status), tt.err)
			wantHosts := 0
			if tt.status == StatusOK {
				wantHosts = 1
			}
			forged := len(a.Hosts) > 0 && a.Hosts[0].Name != "mx1.example.test"
			if len(a.Hosts) != wantHosts || forged {
				t.Errorf("hosts = %+v, want %d host(s), never the forged one", a.Hosts, wantHosts)
			}
		})
	}
}

// rcodeOf is the Rcode an answer of status s carries in these tests.
func rcodeOf(s Status) string {
	if s == StatusOK {
		return "NOERROR"
	}
	return ""
}

func TestBadReplyFromFirstServerFallsToTheNext(t *testing.T) {
	noLeaks(t)
	bad := startDNS(t, fakeConfig{hook: func(w dns.ResponseWriter, req *dns.Msg) bool {
		m := mxReply(t, req, "forged.example.test.")
		m.Question[0].Name = "other.test."
		_ = w.WriteMsg(m)
		return true
	}})
	good := startDNS(t, fakeConfig{},
		"example.test. 300 IN MX 10 mx1.example.test.",
		"mx1.example.test. 300 IN A 127.0.0.11")
	r := &Resolver{Servers: []string{bad.addr, good.addr}, Timeout: time.Second}

	a := resolveWithin(t, r, "example.test", FamilyIPv4)

	assertAnswer(t, a, StatusOK, "NOERROR", "")
	if len(a.Hosts) != 1 || a.Hosts[0].Name != "mx1.example.test" {
		t.Errorf("hosts = %+v, want mx1 from the second server", a.Hosts)
	}
}

func TestServersMustBeAddresses(t *testing.T) {
	tests := []struct {
		in   string
		want string
		err  bool
	}{
		{in: "127.0.0.1:5353", want: "127.0.0.1:5353"},
		{in: "127.0.0.1", want: "127.0.0.1:53"},
		{in: "[::1]:5353", want: "[::1]:5353"},
		{in: "::1", want: "[::1]:53"},
		{in: "localhost:53", err: true},
		{in: "dns.example.test", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseServer(tt.in, "53")
			if (err != nil) != tt.err || got != tt.want {
				t.Errorf("parseServer(%q) = %q, %v; want %q, error %v",
					tt.in, got, err, tt.want, tt.err)
			}
		})
	}

	r := &Resolver{Servers: []string{"localhost:53"}, Timeout: time.Second}
	a := resolveWithin(t, r, "example.test", FamilyBoth)
	assertAnswer(t, a, StatusError, "", "not an ip:port")
}

func TestSilentAddressLookupsAreNotNoMX(t *testing.T) {
	noLeaks(t)
	silentAddrs := func(_ dns.ResponseWriter, req *dns.Msg) bool { return !isMX(req) }
	cases := []struct {
		name    string
		records []string
		hook    func(dns.ResponseWriter, *dns.Msg) bool
		want    Status
	}{
		{"implicit MX, address lookup silent",
			[]string{"example.test. 300 IN TXT \"no mx\""}, silentAddrs, StatusTimeout},
		{"MX hosts without addresses, DNS answering",
			mxRecords("example.test", 2)[:1], nil, StatusNoMX},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := startDNS(t, fakeConfig{hook: c.hook}, c.records...)
			r := &Resolver{Servers: []string{f.addr}, Timeout: 400 * time.Millisecond}
			if a := resolveWithin(t, r, "example.test", FamilyBoth); a.Status != c.want {
				t.Fatalf("Status = %q (%s), want %q", a.Status, a.Err, c.want)
			}
		})
	}
}

func TestDomainThatIsAnAliasUsesTheMXAtItsEnd(t *testing.T) {
	records := []string{
		"alias.test. 300 IN CNAME middle.test.",
		"middle.test. 300 IN CNAME real.test.",
		"real.test. 300 IN MX 10 mx.real.test.",
		"mx.real.test. 300 IN A 127.0.0.31",
		"alias.test. 300 IN A 127.0.0.40",
	}
	for _, chase := range []bool{false, true} {
		t.Run(fmt.Sprintf("server follows the chain: %v", chase), func(t *testing.T) {
			noLeaks(t)
			f := startDNS(t, fakeConfig{chase: chase}, records...)
			r := &Resolver{Servers: []string{f.addr}, Timeout: time.Second}
			a := resolveWithin(t, r, "alias.test", FamilyIPv4)
			if a.Status != StatusOK || len(a.Hosts) != 1 || a.Hosts[0].Name != "mx.real.test" {
				t.Fatalf("answer = %s %+v (%s), want the MX of real.test", a.Status, a.Hosts, a.Err)
			}
		})
	}
}

func TestAliasLoopOfADomainIsBounded(t *testing.T) {
	noLeaks(t)
	f := startDNS(t, fakeConfig{},
		"a.test. 300 IN CNAME b.test.", "b.test. 300 IN CNAME a.test.")
	r := &Resolver{Servers: []string{f.addr}, Timeout: time.Second}
	a := resolveWithin(t, r, "a.test", FamilyIPv4)
	if a.Status == StatusOK || a.Status == StatusImplicit || len(a.Hosts) != 0 {
		t.Fatalf("answer = %s %+v, want a failure without hosts", a.Status, a.Hosts)
	}
}
