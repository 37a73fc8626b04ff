package dialogue

import (
	"sync"
	"testing"

	"github.com/mailprobe/mailprobe_exporter/internal/testpki"
)

// serverTLS is a server configuration presenting cert.
var serverTLS = testpki.ServerConfig

var (
	pkiOnce sync.Once
	pki     *testpki.PKI
	pkiErr  error
)

// getPKI makes the test certificates, for mx.test, once per test binary.
func getPKI(t *testing.T) *testpki.PKI {
	t.Helper()
	pkiOnce.Do(func() { pki, pkiErr = testpki.New("mx.test") })
	if pkiErr != nil {
		t.Fatalf("make certificates: %v", pkiErr)
	}
	return pki
}
