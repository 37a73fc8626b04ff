package mailsim

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"

	"github.com/miekg/dns"
)

// MXRecord is one MX record; Host "." is a null MX.
type MXRecord struct {
	Preference uint16
	Host       string
}

// Zone is the data of the simulated DNS server. Names are lower case,
// without the trailing dot. Names under Suffix that have no data get
// NXDOMAIN; names outside it get REFUSED.
type Zone struct {
	Suffix   string
	MX       map[string][]MXRecord
	Addrs    map[string][]netip.Addr
	CNAME    map[string]string
	ServFail map[string]bool
}

// DNSServer answers for a Zone over UDP and TCP on one address.
type DNSServer struct {
	Zone Zone

	udp, tcp *dns.Server
	addr     string
}

// Listen starts d on addr ("127.0.0.1:0" picks a port free for both UDP
// and TCP, trying again while the kernel offers one whose TCP side is taken).
func (d *DNSServer) Listen(addr string) error {
	var (
		pc  net.PacketConn
		ln  net.Listener
		err error
	)
	for try := 0; try < 20; try++ {
		pc, ln, err = listenBoth(addr)
		if err == nil {
			break
		}
	}
	if err != nil {
		return err
	}
	d.addr = pc.LocalAddr().String()
	h := dns.HandlerFunc(d.answer)
	d.udp = &dns.Server{PacketConn: pc, Handler: h}
	d.tcp = &dns.Server{Listener: ln, Handler: h}
	var started sync.WaitGroup
	started.Add(2)
	d.udp.NotifyStartedFunc = started.Done
	d.tcp.NotifyStartedFunc = started.Done
	go d.udp.ActivateAndServe()
	go d.tcp.ActivateAndServe()
	started.Wait()
	return nil
}

// listenBoth listens on UDP addr and on the same port over TCP.
func listenBoth(addr string) (net.PacketConn, net.Listener, error) {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("listen for DNS: %w", err)
	}
	ln, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		pc.Close()
		return nil, nil, fmt.Errorf("listen for DNS over TCP: %w", err)
	}
	return pc, ln, nil
}

// Addr is the host:port d answers on.
func (d *DNSServer) Addr() string { return d.addr }

// Close stops d.
func (d *DNSServer) Close() error {
	d.udp.Shutdown()
	return d.tcp.Shutdown()
}

func (d *DNSServer) answer(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	if len(req.Question) == 1 {
		d.fill(m, req.Question[0])
	}
	if opt := req.IsEdns0(); opt != nil {
		m.SetEdns0(opt.UDPSize(), false)
	}
	if _, udp := w.RemoteAddr().(*net.UDPAddr); udp {
		m.Truncate(udpSize(req))
	}
	w.WriteMsg(m)
}

func udpSize(req *dns.Msg) int {
	if opt := req.IsEdns0(); opt != nil {
		return int(opt.UDPSize())
	}
	return dns.MinMsgSize
}

func (d *DNSServer) fill(m *dns.Msg, q dns.Question) {
	z := d.Zone
	name := strings.TrimSuffix(strings.ToLower(q.Name), ".")
	switch {
	case name != z.Suffix && !strings.HasSuffix(name, "."+z.Suffix):
		m.Rcode = dns.RcodeRefused
		return
	case z.ServFail[name]:
		m.Rcode = dns.RcodeServerFailure
		return
	}
	if target, ok := z.CNAME[name]; ok {
		m.Answer = append(m.Answer, &dns.CNAME{Hdr: hdr(q.Name, dns.TypeCNAME), Target: dns.Fqdn(target)})
		return
	}
	if !d.exists(name) {
		m.Rcode = dns.RcodeNameError
		return
	}
	switch q.Qtype {
	case dns.TypeMX:
		for _, mx := range z.MX[name] {
			m.Answer = append(m.Answer, &dns.MX{Hdr: hdr(q.Name, dns.TypeMX),
				Preference: mx.Preference, Mx: dns.Fqdn(mx.Host)})
		}
	case dns.TypeA, dns.TypeAAAA:
		for _, a := range z.Addrs[name] {
			if a.Is4() && q.Qtype == dns.TypeA {
				m.Answer = append(m.Answer, &dns.A{Hdr: hdr(q.Name, dns.TypeA), A: a.AsSlice()})
			}
			if a.Is6() && q.Qtype == dns.TypeAAAA {
				m.Answer = append(m.Answer, &dns.AAAA{Hdr: hdr(q.Name, dns.TypeAAAA), AAAA: a.AsSlice()})
			}
		}
	}
}

func (d *DNSServer) exists(name string) bool {
	_, mx := d.Zone.MX[name]
	_, a := d.Zone.Addrs[name]
	return mx || a || name == d.Zone.Suffix
}

func hdr(name string, t uint16) dns.RR_Header {
	return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: 60}
}
