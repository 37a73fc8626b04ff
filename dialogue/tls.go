package dialogue

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mailprobe/mailprobe_exporter/config"
)

// maxSubjectLen bounds TLSState.Subject, which comes from the server.
const maxSubjectLen = 256

// errNoStartTLS is the failure of policy "required" on a server that does
// not offer STARTTLS.
var errNoStartTLS = errors.New("STARTTLS required but not offered")

// startTLS applies the STARTTLS policy (RFC 3207). "never" skips it;
// "required" stops the dialogue when STARTTLS is missing or refused; any
// other policy, "opportunistic" included, uses it when offered and goes on
// in plain text when refused. It is never sent twice on one connection,
// even if the server offers it again over TLS.
func (d *dialog) startTLS() error {
	if d.p.StartTLS == config.StartTLSNever || d.tlsUp {
		return nil
	}
	required := d.p.StartTLS == config.StartTLSRequired
	if !d.offers("STARTTLS") {
		if required {
			return &stopError{stage: StageStartTLS, failure: FailureTLS,
				err: errNoStartTLS, quit: true}
		}
		return nil
	}

	start := time.Now()
	err := d.negotiateTLS(required)
	d.phase(StageStartTLS, start)
	if err != nil || !d.tlsUp {
		return err
	}
	return d.hello()
}

// negotiateTLS sends STARTTLS and, on 220, runs the handshake.
func (d *dialog) negotiateTLS(required bool) error {
	r, err := d.exchange(StageStartTLS, "STARTTLS", d.commandTimeout())
	if err != nil {
		return err
	}
	if r.Code != 220 {
		return d.tlsRefused(required, r.Reply)
	}
	// Octets after the 220 were sent in plain text, where anyone on the
	// path could have put them: reading them after the handshake would
	// take them as protected (RFC 3207 §4.2).
	if n := d.rr.buffered(); n > 0 {
		return &stopError{stage: StageTLS, failure: FailureTLS,
			err: fmt.Errorf("%d octets of plain text after the STARTTLS reply", n)}
	}
	return d.handshake()
}

// tlsRefused handles a reply other than 220 to STARTTLS.
func (d *dialog) tlsRefused(required bool, r Reply) error {
	if r.Code == 421 {
		return refused(StageStartTLS, r)
	}
	if required {
		e := refused(StageStartTLS, r)
		e.failure = FailureTLS
		return e
	}
	d.tr.event("STARTTLS refused with %d: going on in plain text", r.Code)
	return d.checkQuiet(StageStartTLS)
}

// handshake runs the TLS handshake under CommandTimeout and swaps the
// connection for the TLS one.
func (d *dialog) handshake() error {
	d.arm(d.commandTimeout())
	tc := tls.Client(d.raw, d.tlsConfig())
	if err := tc.Handshake(); err != nil {
		e := d.failed(StageTLS, fmt.Errorf("tls handshake: %w", err))
		if e.failure != FailureTimeout {
			e.failure = FailureTLS
		}
		return e
	}

	d.s.TLS = describeTLS(tc.ConnectionState(), d.mxName(), d.p.RootCAs)
	d.conn, d.rr, d.tlsUp = tc, newReplyReader(tc), true
	t := d.s.TLS
	d.tr.event("TLS up: %s %s, trusted=%t %s", t.Version, t.Cipher, t.Trusted, t.VerifyErr)
	return nil
}

// tlsConfig accepts any certificate during the handshake, so a server with
// an expired, self-signed or misnamed certificate can still be probed;
// describeTLS then checks the chain and records the verdict.
func (d *dialog) tlsConfig() *tls.Config {
	return &tls.Config{
		ServerName:         d.mxName(),
		InsecureSkipVerify: true,
		MinVersion:         tls.VersionTLS10,
	}
}

// mxName is the MX host name without a trailing dot.
func (d *dialog) mxName() string {
	return strings.TrimSuffix(d.p.MXName, ".")
}

// describeTLS records the TLS session and whether its certificate chain
// verifies against roots (nil: the system roots) for name.
func describeTLS(st tls.ConnectionState, name string, roots *x509.CertPool) *TLSState {
	t := &TLSState{
		Version: tls.VersionName(st.Version),
		Cipher:  tls.CipherSuiteName(st.CipherSuite),
	}
	if len(st.PeerCertificates) == 0 {
		t.VerifyErr = "no certificate"
		return t
	}
	leaf := st.PeerCertificates[0]
	t.NotAfter = leaf.NotAfter
	t.Subject = escape(leaf.Subject.CommonName, maxSubjectLen)
	if err := verifyChain(st.PeerCertificates, name, roots); err != nil {
		t.VerifyErr = escape(err.Error(), maxTextLen)
		return t
	}
	t.Trusted = true
	return t
}

// verifyChain verifies the server's chain for name at the current time.
func verifyChain(certs []*x509.Certificate, name string, roots *x509.CertPool) error {
	if name == "" {
		return errors.New("no MX name to check the certificate against")
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	opts := x509.VerifyOptions{DNSName: name, Roots: roots, Intermediates: inter}
	if _, err := certs[0].Verify(opts); err != nil {
		return fmt.Errorf("verify certificate for %s: %w", name, err)
	}
	return nil
}
