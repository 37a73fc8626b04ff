package probe_test

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

// hostileMX is the name of the scripted MX host, which its good
// certificate names.
const hostileMX = "mx.customer.test"

// testPKI is a CA the prober trusts and the server certificates of the
// TLS cases.
type testPKI struct {
	roots      *x509.CertPool
	good       tls.Certificate
	expired    tls.Certificate
	wrongHost  tls.Certificate
	selfSigned tls.Certificate
}

var (
	pkiOnce sync.Once
	pkiVal  *testPKI
	pkiErr  error
)

// getPKI makes the certificates once for the whole package.
func getPKI(t *testing.T) *testPKI {
	t.Helper()
	pkiOnce.Do(func() { pkiVal, pkiErr = newTestPKI() })
	if pkiErr != nil {
		t.Fatalf("make certificates: %v", pkiErr)
	}
	return pkiVal
}

// certSpec describes one certificate to issue.
type certSpec struct {
	name      string
	notBefore time.Time
	notAfter  time.Time
}

func newTestPKI() (*testPKI, error) {
	now := time.Now()
	valid := certSpec{hostileMX, now.Add(-time.Hour), now.Add(24 * time.Hour)}
	ca, caKey, err := newCA("probe test CA")
	if err != nil {
		return nil, err
	}
	p := &testPKI{roots: x509.NewCertPool()}
	p.roots.AddCert(ca)
	if p.good, err = issue(valid, ca, caKey); err != nil {
		return nil, err
	}
	expired := certSpec{hostileMX, now.Add(-48 * time.Hour), now.Add(-24 * time.Hour)}
	if p.expired, err = issue(expired, ca, caKey); err != nil {
		return nil, err
	}
	if p.wrongHost, err = issue(certSpec{"other.test", valid.notBefore, valid.notAfter},
		ca, caKey); err != nil {
		return nil, err
	}
	p.selfSigned, err = selfSign(valid)
	return p, err
}

// newCA makes a self-signed CA certificate.
func newCA(name string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(48 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

// issue makes a server certificate for spec, signed by ca.
func issue(spec certSpec, ca *x509.Certificate, caKey *ecdsa.PrivateKey) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	return sign(leafTemplate(spec), key, ca, caKey)
}

// selfSign makes a server certificate for spec signed by its own key.
func selfSign(spec certSpec) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := leafTemplate(spec)
	return sign(tmpl, key, tmpl, key)
}

// sign makes the certificate of tmpl for key, signed by parent's key.
func sign(tmpl *x509.Certificate, key *ecdsa.PrivateKey, parent *x509.Certificate,
	parentKey *ecdsa.PrivateKey) (tls.Certificate, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// leafTemplate is the template of a server certificate for spec.
func leafTemplate(spec certSpec) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: spec.name},
		DNSNames:     []string{spec.name},
		NotBefore:    spec.notBefore,
		NotAfter:     spec.notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
}

// serverTLS is the TLS configuration of a scripted peer using cert.
func serverTLS(cert tls.Certificate) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
}
