package config

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"unicode"

	"golang.org/x/net/idna"
)

// Limits of RFC 5321 section 4.5.3.1 and RFC 1035 section 2.3.4.
const (
	maxLocalPart = 64  // octets of a local part
	maxAddress   = 254 // octets of local@domain: a 256-octet path less "<" and ">"
	maxDomain    = 253 // octets of a domain name without a trailing dot
	maxLabel     = 63  // octets of one domain label
)

// checkControl rejects the CR, LF, NUL and other control characters that
// would let a value break out of its SMTP command line.
func checkControl(s string) error {
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Errorf("contains control character %U", r)
		}
	}
	return nil
}

// isASCII tells whether s has only 7-bit characters.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// parseAddress checks a mailbox (RFC 5321 section 4.1.2) and returns it with
// its domain in ASCII (A-label) form, and that domain.
func parseAddress(raw string) (addr, domain string, err error) {
	if err := checkControl(raw); err != nil {
		return "", "", err
	}
	at := strings.LastIndexByte(raw, '@')
	if at < 0 {
		return "", "", errors.New(`missing "@"`)
	}
	local := raw[:at]
	if err := checkLocalPart(local); err != nil {
		return "", "", err
	}
	domain, err = parseDomain(raw[at+1:])
	if err != nil {
		return "", "", err
	}
	addr = local + "@" + domain
	if len(addr) > maxAddress {
		return "", "", fmt.Errorf("address is %d octets long, more than %d", len(addr), maxAddress)
	}
	return addr, domain, nil
}

// checkLocalPart checks a dot-atom or quoted-string local part.
func checkLocalPart(s string) error {
	switch {
	case s == "":
		return errors.New("local part is empty")
	case !isASCII(s):
		return errors.New("local part is not ASCII; the prober does not use SMTPUTF8")
	case len(s) > maxLocalPart:
		return fmt.Errorf("local part is %d octets long, more than %d", len(s), maxLocalPart)
	case s[0] == '"':
		return checkQuoted(s)
	}
	return checkDotAtom(s)
}

// checkDotAtom checks atoms of atext separated by single dots.
func checkDotAtom(s string) error {
	for _, atom := range strings.Split(s, ".") {
		if atom == "" {
			return errors.New("local part has an empty atom (a leading, trailing or double dot)")
		}
		for i := 0; i < len(atom); i++ {
			if !isAtext(atom[i]) {
				return fmt.Errorf("local part has %q outside a quoted string", atom[i])
			}
		}
	}
	return nil
}

// isAtext tells whether c may appear in an atom (RFC 5322 section 3.2.3).
func isAtext(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// checkQuoted checks a quoted local part: printable ASCII between double
// quotes, with backslash escaping the next character.
func checkQuoted(s string) error {
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c < ' ' || c > '~':
			return fmt.Errorf("local part has %q in its quoted string", c)
		case c == '\\':
			i++
		case c == '"' && i != len(s)-1:
			return errors.New("local part has text after its closing quote")
		case c == '"':
			return nil
		}
	}
	return errors.New("local part has an unterminated quoted string")
}

// parseDomain checks a domain and returns its lowercase ASCII (A-label) form.
func parseDomain(raw string) (string, error) {
	if err := checkControl(raw); err != nil {
		return "", err
	}
	if strings.HasPrefix(raw, "[") {
		return "", errors.New("domain is an address literal, which is not supported here")
	}
	ascii, err := idna.Lookup.ToASCII(raw)
	if err != nil {
		return "", fmt.Errorf("convert domain to ASCII: %w", err)
	}
	ascii = strings.ToLower(ascii)
	if err := checkDomainSyntax(ascii); err != nil {
		return "", err
	}
	return ascii, nil
}

// checkDomainSyntax checks an ASCII domain: letters, digits and inner
// hyphens in labels of 1 to 63 octets, 253 octets at most, no trailing dot,
// and a top-level label that is not all digits, so an IP address is no name.
func checkDomainSyntax(s string) error {
	switch {
	case s == "":
		return errors.New("domain is empty")
	case strings.HasSuffix(s, "."):
		return errors.New("domain ends with a dot")
	case len(s) > maxDomain:
		return fmt.Errorf("domain is %d octets long, more than %d", len(s), maxDomain)
	}
	labels := strings.Split(s, ".")
	for _, l := range labels {
		if err := checkLabel(l); err != nil {
			return err
		}
	}
	if tld := labels[len(labels)-1]; strings.Trim(tld, "0123456789") == "" {
		return fmt.Errorf("domain's top-level label %q is all digits", tld)
	}
	return nil
}

// checkLabel checks one ASCII domain label.
func checkLabel(l string) error {
	switch {
	case l == "":
		return errors.New("domain has an empty label")
	case len(l) > maxLabel:
		return fmt.Errorf("domain label %q is %d octets long, more than %d", l, len(l), maxLabel)
	case l[0] == '-' || l[len(l)-1] == '-':
		return fmt.Errorf("domain label %q starts or ends with a hyphen", l)
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return fmt.Errorf("domain label %q has %q", l, c)
		}
	}
	return nil
}

// parseHostName checks an EHLO name: a domain, returned in ASCII form, or an
// address literal such as [192.0.2.1] or [IPv6:2001:db8::1] (RFC 5321
// section 4.1.3), returned as written.
func parseHostName(raw string) (string, error) {
	if err := checkControl(raw); err != nil {
		return "", err
	}
	if !strings.HasPrefix(raw, "[") {
		return parseDomain(raw)
	}
	if err := checkAddressLiteral(raw); err != nil {
		return "", err
	}
	return raw, nil
}

// checkAddressLiteral checks [IPv4] and [IPv6:address] literals.
func checkAddressLiteral(raw string) error {
	bad := errors.New("address literal is neither [IPv4 address] nor [IPv6:IPv6 address]")
	inner, ok := strings.CutSuffix(raw[1:], "]")
	if !ok {
		return bad
	}
	want6 := len(inner) > 5 && strings.EqualFold(inner[:5], "IPv6:")
	if want6 {
		inner = inner[5:]
	}
	ip, err := netip.ParseAddr(inner)
	if err != nil || ip.Zone() != "" || ip.Is6() != want6 {
		return bad
	}
	return nil
}
