package probe_test

import (
	"testing"

	"github.com/mailprobe/mailprobe_exporter/internal/testpki"
)

// hostileMX is the name of the scripted MX host, which its good
// certificate names.
const hostileMX = "mx.customer.test"

// serverTLS is the TLS configuration of a scripted peer using cert.
var serverTLS = testpki.ServerConfig

// getPKI returns the certificates for hostileMX, made once for the whole
// package.
func getPKI(t *testing.T) *testpki.PKI {
	t.Helper()
	return testpki.ForHost(t, hostileMX)
}
