package dialogue

import (
	"testing"

	"github.com/mailprobe/mailprobe_exporter/internal/testpki"
)

// serverTLS is a server configuration presenting cert.
var serverTLS = testpki.ServerConfig

// getPKI returns the test certificates for mx.test, made once per test
// binary.
func getPKI(t *testing.T) *testpki.PKI {
	t.Helper()
	return testpki.ForHost(t, "mx.test")
}
