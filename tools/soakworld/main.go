// Command soakworld starts a simulated mail world of misbehaving MX hosts
// on loopback, for a soak run of the exporter: a DNS server on 127.0.0.1
// and twenty MX hosts on 127.0.0.30 to 127.0.0.49, all on one port. It
// writes a configuration that probes 1,000 targets spread over the hosts,
// prints the path of that file on its first line of output, and serves
// until it gets SIGINT or SIGTERM. Nothing leaves loopback.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mailprobe/mailprobe_exporter/mailsim"
)

// suffix is the zone of the soak world: a reserved name (RFC 6761) that
// no real resolver answers for.
const suffix = "soak.test"

// behaviours gives each of the twenty hosts its behaviour. The slow ones
// (tarpit, slow greeting, unanswered QUIT) get one host each, so that the
// probes they hold do not starve the others of the concurrency limit.
var behaviours = []mailsim.Behaviour{
	mailsim.Accept, mailsim.Accept, mailsim.Accept,
	mailsim.Greylist, mailsim.Greylist, mailsim.Block, mailsim.Block,
	mailsim.RefuseBanner, mailsim.RefuseBanner, mailsim.Tarpit,
	mailsim.SlowBanner, mailsim.ResetAfterEHLO, mailsim.ResetAfterEHLO,
	mailsim.HugeLine, mailsim.HugeLine, mailsim.ManyLines, mailsim.ManyLines,
	mailsim.Garbage, mailsim.Garbage, mailsim.NoQuitReply,
}

// tarpitHold is how long the tarpit keeps a connection: longer than the
// probes' banner timeout, so the prober is the one that gives up.
const tarpitHold = 20 * time.Second

// host is one MX host of the world.
type host struct {
	domain, name string
	ip           netip.Addr
	behaviour    mailsim.Behaviour
}

func hosts() []host {
	out := make([]host, len(behaviours))
	for i, b := range behaviours {
		n := 30 + i
		out[i] = host{
			domain:    fmt.Sprintf("d%d.%s", n, suffix),
			name:      fmt.Sprintf("mx%d.%s", n, suffix),
			ip:        netip.AddrFrom4([4]byte{127, 0, 0, byte(n)}),
			behaviour: b,
		}
	}
	return out
}

func main() {
	targets := flag.Int("targets", 1000, "number of targets in the configuration")
	flag.Parse()
	if err := run(*targets); err != nil {
		fmt.Fprintln(os.Stderr, "soakworld:", err)
		os.Exit(1)
	}
}

func run(targets int) error {
	hs := hosts()
	dns := &mailsim.DNSServer{Zone: zone(hs)}
	if err := dns.Listen("127.0.0.1:0"); err != nil {
		return err
	}
	defer dns.Close()
	servers, port, err := startHosts(hs, targets)
	if err != nil {
		return err
	}
	defer closeAll(servers)

	dir, err := os.MkdirTemp("", "soakworld-")
	if err != nil {
		return fmt.Errorf("create configuration folder: %w", err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "soak.yml")
	if err := os.WriteFile(path, []byte(config(hs, targets, port, dns.Addr())), 0o600); err != nil {
		return fmt.Errorf("write configuration: %w", err)
	}
	fmt.Println(path)

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
	return nil
}

// zone is the DNS data of the world: each domain has one MX host.
func zone(hs []host) mailsim.Zone {
	z := mailsim.Zone{
		Suffix: suffix,
		MX:     map[string][]mailsim.MXRecord{},
		Addrs:  map[string][]netip.Addr{},
	}
	for _, h := range hs {
		z.MX[h.domain] = []mailsim.MXRecord{{Preference: 10, Host: h.name}}
		z.Addrs[h.name] = []netip.Addr{h.ip}
	}
	return z
}

// startHosts starts every host on one port, trying other ports while the
// first one is taken on some address.
func startHosts(hs []host, targets int) ([]*mailsim.SMTPServer, int, error) {
	tlsConf, err := selfSigned(hs)
	if err != nil {
		return nil, 0, err
	}
	users := knownUsers(targets)
	for range 20 {
		port, err := freePort(hs[0].ip)
		if err != nil {
			return nil, 0, err
		}
		servers, err := listenAll(hs, port, tlsConf, users)
		if err == nil {
			return servers, port, nil
		}
	}
	return nil, 0, errors.New("no port free on every host address")
}

// freePort asks the system for a port that is free on ip.
func freePort(ip netip.Addr) (int, error) {
	ln, err := net.Listen("tcp", netip.AddrPortFrom(ip, 0).String())
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// listenAll starts one server per host on port, or none at all.
func listenAll(hs []host, port int, tlsConf *tls.Config,
	users map[string]bool) ([]*mailsim.SMTPServer, error) {
	var servers []*mailsim.SMTPServer
	for _, h := range hs {
		s := &mailsim.SMTPServer{
			Name: h.name, Behaviour: h.behaviour, Users: users, TLS: tlsConf,
			Delay: mailsim.GreylistDelay, Hold: tarpitHold,
		}
		addr := netip.AddrPortFrom(h.ip, uint16(port)).String()
		if err := s.Listen(addr); err != nil {
			closeAll(servers)
			return nil, err
		}
		servers = append(servers, s)
	}
	return servers, nil
}

func closeAll(servers []*mailsim.SMTPServer) {
	for _, s := range servers {
		s.Close()
	}
}

// knownUsers are the local parts the hosts accept: nine in ten of each
// host's targets, so that accepting hosts also reject some recipients.
func knownUsers(targets int) map[string]bool {
	users := map[string]bool{}
	for i := range targets {
		if (i/len(behaviours))%10 != 9 {
			users[localPart(i)] = true
		}
	}
	return users
}

func localPart(i int) string { return "u" + strconv.Itoa(i) }

// config is the exporter's configuration for the soak run.
func config(hs []host, targets, port int, dnsAddr string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "defaults:\n  interval: 15s\n  timeout: 10s\n  banner_timeout: 5s\n")
	fmt.Fprintf(&b, "  command_timeout: 5s\n  port: %d\n  helo_name: probe.%s\n", port, suffix)
	fmt.Fprintf(&b, "  mail_from: probe@%s\ndns:\n  servers: [%q]\n  timeout: 3s\n",
		suffix, dnsAddr)
	// Twenty connections per address let one host's slow probes proceed
	// side by side instead of queueing for the whole probe timeout.
	b.WriteString("limits:\n  concurrency: 64\n  per_ip_connections: 20\ntargets:\n")
	for i := range targets {
		h := hs[i%len(hs)]
		fmt.Fprintf(&b, "  - address: %s@%s\n", localPart(i), h.domain)
	}
	return b.String()
}

// selfSigned makes the TLS configuration of the hosts: one self-signed
// certificate that names all of them. The exporter does not trust it,
// which it reports and which does not stop a probe.
func selfSigned(hs []host) (*tls.Config, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("make key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "soakworld"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(7 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hs {
		tmpl.DNSNames = append(tmpl.DNSNames, h.name)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("make certificate: %w", err)
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}
