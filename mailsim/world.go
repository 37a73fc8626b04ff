package mailsim

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Suffix is the zone of the standard world: a reserved name (RFC 6761)
// that no real resolver answers for.
const Suffix = "mailsim.test"

// Host is a simulated MX host of the standard world.
type Host struct {
	Name      string
	IP        netip.Addr
	Behaviour Behaviour // "" for a dead host: nothing listens
}

// Example is a target of the standard world and the outcome a correct
// prober reports for it.
type Example struct {
	Address string // or a bare domain
	Expect  string // result class
}

// World is the standard simulated mail world, on loopback only.
type World struct {
	DNS     *DNSServer
	Port    int // SMTP port of every host
	Servers map[string]*SMTPServer
	Roots   *x509.CertPool // trust anchor of the hosts' certificate
}

// GreylistDelay is how long the world's greylisting host defers a sender.
const GreylistDelay = 20 * time.Second

func hosts() []Host {
	ip := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	return []Host{
		{"mx1.ok." + Suffix, ip("127.0.0.21"), Accept},
		{"mx.grey." + Suffix, ip("127.0.0.22"), Greylist},
		{"dead.backup." + Suffix, ip("127.0.0.23"), ""},
		{"mx.tarpit." + Suffix, ip("127.0.0.24"), Tarpit},
		{"mx.blocked." + Suffix, ip("127.0.0.25"), Block},
		{"mx.refused." + Suffix, ip("127.0.0.26"), RefuseBanner},
	}
}

// Examples lists the standard world's targets with their right outcomes;
// the greylisted one turns accepted after GreylistDelay.
func Examples() []Example {
	return []Example{
		{"alice@ok." + Suffix, "accepted"},
		{"nobody@ok." + Suffix, "rejected"},
		{"alice@grey." + Suffix, "greylisted"},
		{"alice@backup." + Suffix, "accepted"},
		{"alice@alias." + Suffix, "accepted"},
		{"alice@implicit." + Suffix, "accepted"},
		{"tarpit." + Suffix, "timeout"},
		{"blocked." + Suffix, "blocked"},
		{"refused." + Suffix, "refused_banner"},
		{"nullmx." + Suffix, "null_mx"},
		{"nosuch." + Suffix, "nxdomain"},
		{"broken." + Suffix, "dns_servfail"},
	}
}

func zone() Zone {
	z := Zone{
		Suffix: Suffix,
		MX: map[string][]MXRecord{
			"ok." + Suffix:      {{10, "mx1.ok." + Suffix}},
			"grey." + Suffix:    {{10, "mx.grey." + Suffix}},
			"backup." + Suffix:  {{10, "dead.backup." + Suffix}, {20, "mx1.ok." + Suffix}},
			"alias." + Suffix:   {{10, "mx.alias." + Suffix}},
			"tarpit." + Suffix:  {{10, "mx.tarpit." + Suffix}},
			"blocked." + Suffix: {{10, "mx.blocked." + Suffix}},
			"refused." + Suffix: {{10, "mx.refused." + Suffix}},
			"nullmx." + Suffix:  {{0, "."}},
		},
		Addrs: map[string][]netip.Addr{
			"implicit." + Suffix: {netip.MustParseAddr("127.0.0.21")},
		},
		CNAME:    map[string]string{"mx.alias." + Suffix: "mx1.ok." + Suffix},
		ServFail: map[string]bool{"broken." + Suffix: true},
	}
	for _, h := range hosts() {
		z.Addrs[h.Name] = []netip.Addr{h.IP}
	}
	return z
}

// StartWorld starts the DNS server on 127.0.0.1 and every host on one
// common port of its own loopback address.
func StartWorld() (*World, error) {
	cert, roots, err := selfSigned(hosts())
	if err != nil {
		return nil, err
	}
	w := &World{DNS: &DNSServer{Zone: zone()}, Roots: roots}
	if err := w.DNS.Listen("127.0.0.1:0"); err != nil {
		return nil, err
	}
	tlsConf := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	for try := 0; try < 20; try++ {
		err = w.startHosts(tlsConf)
		if err == nil {
			return w, nil
		}
	}
	w.DNS.Close()
	return nil, fmt.Errorf("start simulated MX hosts: %w", err)
}

// startHosts listens on a fresh port on every host's address.
func (w *World) startHosts(tlsConf *tls.Config) error {
	probe, err := net.Listen("tcp", "127.0.0.21:0")
	if err != nil {
		return err
	}
	_, portText, _ := net.SplitHostPort(probe.Addr().String())
	probe.Close()
	w.Port, _ = strconv.Atoi(portText)
	w.Servers = map[string]*SMTPServer{}
	for _, h := range hosts() {
		if h.Behaviour == "" {
			continue
		}
		s := &SMTPServer{
			Name: h.Name, Behaviour: h.Behaviour, Delay: GreylistDelay, TLS: tlsConf,
			Users: map[string]bool{"alice": true, "postmaster": true},
		}
		if err := s.Listen(net.JoinHostPort(h.IP.String(), portText)); err != nil {
			w.closeServers()
			return err
		}
		w.Servers[h.Name] = s
	}
	return nil
}

func (w *World) closeServers() {
	for _, s := range w.Servers {
		s.Close()
	}
}

// Close stops every server of the world.
func (w *World) Close() error {
	w.closeServers()
	return w.DNS.Close()
}

// Config returns a configuration file that probes every example of the
// world every interval.
func (w *World) Config(interval time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "defaults:\n  interval: %s\n  timeout: 12s\n  banner_timeout: 5s\n", interval)
	fmt.Fprintf(&b, "  command_timeout: 5s\n  port: %d\n  helo_name: probe.%s\n", w.Port, Suffix)
	fmt.Fprintf(&b, "  mail_from: probe@%s\n  mx: all\ndns:\n  servers: [%q]\n  timeout: 3s\n",
		Suffix, w.DNS.Addr())
	b.WriteString("targets:\n")
	for _, ex := range Examples() {
		key := "address"
		if !strings.Contains(ex.Address, "@") {
			key = "domain"
		}
		fmt.Fprintf(&b, "  - %s: %s\n    labels: {expect: %s}\n", key, ex.Address, ex.Expect)
	}
	return b.String()
}

// selfSigned makes one certificate for every host name.
func selfSigned(hs []Host) (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "mailsim"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(90 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	for _, h := range hs {
		tmpl.DNSNames = append(tmpl.DNSNames, h.Name)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, errors.Join(errors.New("parse own certificate"), err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, roots, nil
}
