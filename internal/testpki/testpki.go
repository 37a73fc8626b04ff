// Package testpki makes, for tests of TLS verification, a certificate
// authority and server certificates of every kind a client must tell
// apart: valid, expired, for another host, and self-signed.
package testpki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"sync"
	"testing"
	"time"
)

// OtherHost is the name the certificate for the wrong host is made for.
const OtherHost = "other.test"

// PKI is a certificate authority made for tests and the server
// certificates it and others issued.
type PKI struct {
	Roots      *x509.CertPool  // the test CA alone
	Good       tls.Certificate // the host, issued by the test CA
	Expired    tls.Certificate // the host, expired yesterday
	WrongHost  tls.Certificate // OtherHost, issued by the test CA
	SelfSigned tls.Certificate // the host, its own issuer
}

// certSpec describes one certificate to issue.
type certSpec struct {
	name      string
	notBefore time.Time
	notAfter  time.Time
	isCA      bool
}

// New makes a test CA and the server certificates for host.
func New(host string) (*PKI, error) {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("make CA key: %w", err)
	}
	caSpec := certSpec{name: "Test CA", notBefore: now.Add(-time.Hour),
		notAfter: now.Add(24 * time.Hour), isCA: true}
	caDER, err := issue(caSpec, caKey, nil, nil)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("parse CA certificate: %w", err)
	}

	p := &PKI{Roots: x509.NewCertPool()}
	p.Roots.AddCert(ca)
	valid := certSpec{name: host, notBefore: now.Add(-time.Hour),
		notAfter: now.Add(24 * time.Hour)}
	expired := certSpec{name: host, notBefore: now.Add(-48 * time.Hour),
		notAfter: now.Add(-24 * time.Hour)}
	other := valid
	other.name = OtherHost
	for _, c := range []struct {
		dst  *tls.Certificate
		spec certSpec
		ca   *x509.Certificate
	}{
		{&p.Good, valid, ca}, {&p.Expired, expired, ca},
		{&p.WrongHost, other, ca}, {&p.SelfSigned, valid, nil},
	} {
		if *c.dst, err = leaf(c.spec, c.ca, caKey); err != nil {
			return nil, err
		}
	}
	return p, nil
}

var (
	madeMu sync.Mutex
	made   = map[string]*PKI{}
)

// ForHost returns the PKI for host, made by New on the first call for host
// in the test binary, as making keys is slow; it fails the test if the
// certificates cannot be made.
func ForHost(t testing.TB, host string) *PKI {
	t.Helper()
	madeMu.Lock()
	defer madeMu.Unlock()
	if p, ok := made[host]; ok {
		return p
	}
	p, err := New(host)
	if err != nil {
		t.Fatalf("make certificates: %v", err)
	}
	made[host] = p
	return p
}

// ServerConfig is a server TLS configuration presenting cert.
func ServerConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
}

// leaf issues a certificate by ca, or a self-signed one when ca is nil.
func leaf(spec certSpec, ca *x509.Certificate, caKey *ecdsa.PrivateKey) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("make key for %s: %w", spec.name, err)
	}
	if ca == nil {
		caKey = key
	}
	der, err := issue(spec, key, ca, caKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// issue signs a certificate for key; a nil parent makes it self-signed.
func issue(spec certSpec, key *ecdsa.PrivateKey, parent *x509.Certificate,
	parentKey *ecdsa.PrivateKey) ([]byte, error) {
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return nil, fmt.Errorf("make serial for %s: %w", spec.name, err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: spec.name},
		NotBefore:             spec.notBefore,
		NotAfter:              spec.notAfter,
		BasicConstraintsValid: true,
		IsCA:                  spec.isCA,
		KeyUsage:              x509.KeyUsageDigitalSignature,
	}
	if spec.isCA {
		tmpl.KeyUsage |= x509.KeyUsageCertSign
	} else {
		tmpl.DNSNames = []string{spec.name}
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return nil, fmt.Errorf("sign certificate for %s: %w", spec.name, err)
	}
	return der, nil
}
