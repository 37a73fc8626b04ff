package probe_test

import (
	"sync"
	"testing"

	"github.com/mailprobe/mailprobe_exporter/internal/testpki"
)

// hostileMX is the name of the scripted MX host, which its good
// certificate names.
const hostileMX = "mx.customer.test"

// serverTLS is the TLS configuration of a scripted peer using cert.
var serverTLS = testpki.ServerConfig

var (
	pkiOnce sync.Once
	pkiVal  *testpki.PKI
	pkiErr  error
)

// getPKI makes the certificates, for hostileMX, once for the whole
// package.
func getPKI(t *testing.T) *testpki.PKI {
	t.Helper()
	pkiOnce.Do(func() { pkiVal, pkiErr = testpki.New(hostileMX) })
	if pkiErr != nil {
		t.Fatalf("make certificates: %v", pkiErr)
	}
	return pkiVal
}
