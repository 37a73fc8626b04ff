package probe

import (
	"context"
	"crypto/x509"
	"net"
	"net/netip"
	"time"

	"github.com/mailprobe/mailprobe_exporter/config"
	"github.com/mailprobe/mailprobe_exporter/resolve"
)

// MXResolver finds the mail exchangers of a domain.
type MXResolver interface {
	ResolveMX(ctx context.Context, domain string, fam resolve.Family) resolve.Answer
}

// Gate limits the connections open at the same time to one address.
type Gate interface {
	// Acquire waits for a free slot for ip; the caller calls release when
	// its connection is closed.
	Acquire(ctx context.Context, ip netip.Addr) (release func(), err error)
}

// Prober probes targets. It keeps no state between probes, so one Prober
// serves every target at once.
type Prober struct {
	Resolver MXResolver
	// Gate bounds the connections per MX address; nil means no bound.
	Gate Gate
	// Dial opens TCP connections; nil uses a net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// RootCAs verify MX certificates; nil uses the system roots.
	RootCAs *x509.CertPool
	// Now returns the current time; nil uses time.Now.
	Now func() time.Time
}

// Probe resolves the MX hosts of t and walks them as t.Settings.MX says,
// within t.Settings.Timeout. It returns when every dialogue has closed.
func (p *Prober) Probe(ctx context.Context, t config.Target) Result {
	start := p.now()
	ctx, cancel := context.WithTimeout(ctx, t.Settings.Timeout)
	defer cancel()

	res := Result{Target: t.Name, Domain: t.Domain, Start: start}
	res.DNS = bound(p.Resolver.ResolveMX(ctx, t.Domain, family(t.Settings.IPFamily)),
		t.Settings.MaxMXHosts)
	switch res.DNS.Status {
	case resolve.StatusOK, resolve.StatusImplicit:
		p.walk(ctx, t, &res)
	default:
		res.Class = dnsClass(res.DNS.Status)
		res.Stage = "dns"
		res.Text = res.DNS.Err
		if res.Class == NullMX {
			res.Text = "the domain publishes a null MX (RFC 7505): it accepts no mail"
		}
	}
	res.Duration = p.now().Sub(start)
	return res
}

func (p *Prober) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func family(f string) resolve.Family {
	switch f {
	case config.IPv4:
		return resolve.FamilyIPv4
	case config.IPv6:
		return resolve.FamilyIPv6
	}
	return resolve.FamilyBoth
}

// plannedLeg is an address to try, before the dialogue.
type plannedLeg struct {
	host resolve.Host
	ip   netip.Addr
}

// bound keeps the first maxHosts hosts of a, counting the rest as dropped,
// so that a target's probes and series follow its own max_mx_hosts
// whatever bound the shared resolver has.
func bound(a resolve.Answer, maxHosts int) resolve.Answer {
	if maxHosts > 0 && len(a.Hosts) > maxHosts {
		a.Dropped += len(a.Hosts) - maxHosts
		a.Hosts = a.Hosts[:maxHosts]
	}
	return a
}

// plan lists the legs in the order a sending MTA tries them. In primary
// mode only the hosts of the lowest preference take part.
func plan(a resolve.Answer, mode string) []plannedLeg {
	var legs []plannedLeg
	for _, h := range a.Hosts {
		if mode == config.MXPrimary && h.Preference != a.Hosts[0].Preference {
			break
		}
		for _, ip := range h.Addrs {
			legs = append(legs, plannedLeg{host: h, ip: ip})
		}
	}
	return legs
}

func netipAddrPort(ip netip.Addr, port int) netip.AddrPort {
	return netip.AddrPortFrom(ip, uint16(port))
}
