package dialogue

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"sync"
	"testing"
	"time"
)

// testPKI is a certificate authority made for the tests, and leaf
// certificates of every kind the dialogue must tell apart.
type testPKI struct {
	roots      *x509.CertPool
	good       tls.Certificate // mx.test, issued by the test CA
	expired    tls.Certificate // mx.test, expired yesterday
	wrongHost  tls.Certificate // other.test
	selfSigned tls.Certificate // mx.test, its own issuer
}

var (
	pkiOnce sync.Once
	pki     *testPKI
	pkiErr  error
)

// getPKI makes the test certificates once per test binary.
func getPKI(t *testing.T) *testPKI {
	t.Helper()
	pkiOnce.Do(func() { pki, pkiErr = newTestPKI() })
	if pkiErr != nil {
		t.Fatalf("make certificates: %v", pkiErr)
	}
	return pki
}

// certSpec describes one certificate to issue.
type certSpec struct {
	name      string
	notBefore time.Time
	notAfter  time.Time
	isCA      bool
}

func newTestPKI() (*testPKI, error) {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caSpec := certSpec{name: "Test CA", notBefore: now.Add(-time.Hour),
		notAfter: now.Add(24 * time.Hour), isCA: true}
	caDER, err := issue(caSpec, caKey, nil, nil)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}

	p := &testPKI{roots: x509.NewCertPool()}
	p.roots.AddCert(ca)
	valid := certSpec{name: "mx.test", notBefore: now.Add(-time.Hour),
		notAfter: now.Add(24 * time.Hour)}
	expired := certSpec{name: "mx.test", notBefore: now.Add(-48 * time.Hour),
		notAfter: now.Add(-24 * time.Hour)}
	other := valid
	other.name = "other.test"
	for _, c := range []struct {
		dst  *tls.Certificate
		spec certSpec
		ca   *x509.Certificate
	}{
		{&p.good, valid, ca}, {&p.expired, expired, ca},
		{&p.wrongHost, other, ca}, {&p.selfSigned, valid, nil},
	} {
		if *c.dst, err = leaf(c.spec, c.ca, caKey); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// leaf issues a certificate by ca, or a self-signed one when ca is nil.
func leaf(spec certSpec, ca *x509.Certificate, caKey *ecdsa.PrivateKey) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
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
		return nil, err
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
	return x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
}

// serverTLS is a server configuration presenting cert.
func serverTLS(cert tls.Certificate) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
}
