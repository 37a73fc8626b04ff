package probe_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe_exporter/config"
	"github.com/mailprobe/mailprobe_exporter/probe"
	"github.com/mailprobe/mailprobe_exporter/resolve"
)

// overTLS is a dialogue that upgrades to TLS with cert; the peer offers
// STARTTLS again once TLS is up.
func overTLS(cert tls.Certificate) [][]move {
	return one(greet, ehloTLS, answer("STARTTLS", "220 2.0.0 go ahead\r\n"),
		[]move{startTLS(serverTLS(cert))}, ehloTLS, mailOK, rcptOK, goodbye)
}

// wantTLS checks the certificate state recorded on the only leg.
func wantTLS(trusted bool, errHas string) func(*testing.T, probe.Result) {
	return func(t *testing.T, res probe.Result) {
		if len(res.Legs) != 1 || res.Legs[0].Session.TLS == nil {
			t.Fatalf("legs %+v, want one with TLS", res.Legs)
		}
		st := res.Legs[0].Session.TLS
		if st.Trusted != trusted || !strings.Contains(st.VerifyErr, errHas) ||
			(trusted && st.VerifyErr != "") || st.NotAfter.IsZero() {
			t.Errorf("TLS state %+v, want trusted %t and an error with %q",
				*st, trusted, errHas)
		}
	}
}

// wantPlain checks that no leg recorded a TLS session.
func wantPlain(t *testing.T, res probe.Result) {
	for _, leg := range res.Legs {
		if leg.Session.TLS != nil {
			t.Errorf("leg %s has TLS state %+v, want none", leg.IP, *leg.Session.TLS)
		}
	}
}

func required(s *config.Settings) { s.StartTLS = config.StartTLSRequired }

func TestHostileTLS(t *testing.T) {
	pki := getPKI(t)
	refused454 := answer("STARTTLS", "454 4.7.0 TLS not available\r\n")
	runHostile(t, []hostileCase{
		{
			name:    "STARTTLS refused with 454 under opportunistic: goes on in plain text",
			scripts: one(greet, ehloTLS, refused454, mailOK, rcptOK, goodbye),
			want:    accepted,
			verbs:   oneVerbs("EHLO", "STARTTLS", "MAIL", "RCPT", "RSET", "QUIT"),
			check:   wantPlain,
		},
		{
			name:     "STARTTLS refused with 454 under required: tls_error",
			scripts:  one(greet, ehloTLS, refused454, answer("QUIT", "221 bye\r\n")),
			settings: required,
			want:     outcome{probe.TLSError, "starttls", 454, "4.7.0"},
			verbs:    oneVerbs("EHLO", "STARTTLS", "QUIT"),
		},
		{
			name:     "STARTTLS not offered under required: tls_error",
			scripts:  one(greet, ehloEnh, answer("QUIT", "221 bye\r\n")),
			settings: required,
			want:     outcome{probe.TLSError, "starttls", 0, ""},
			verbs:    oneVerbs("EHLO", "QUIT"),
		},
		{
			name: "failed handshake: plain text instead of TLS",
			scripts: one(greet, ehloTLS, answer("STARTTLS", "220 2.0.0 go ahead\r\n"),
				[]move{pause(100 * time.Millisecond), flood([]byte("250 not TLS\r\n")),
					discard()}),
			want:  outcome{probe.TLSError, "tls", 0, ""},
			check: wantPlain,
		},
		{
			name: "plain text after the 220 to STARTTLS",
			scripts: one(greet, ehloTLS,
				answer("STARTTLS", "220 2.0.0 go ahead\r\n250-injected\r\n250 lines\r\n"),
				[]move{discard()}),
			want:  outcome{probe.TLSError, "tls", 0, ""},
			check: wantPlain,
		},
		{
			name: "connection closed during the handshake",
			scripts: one(greet, ehloTLS, answer("STARTTLS", "220 2.0.0 go ahead\r\n"),
				[]move{hangup()}),
			want:  outcome{probe.TLSError, "tls", 0, ""},
			check: wantPlain,
		},
		{
			name:    "trusted certificate, STARTTLS offered again over TLS and not sent",
			scripts: overTLS(pki.Good),
			want:    accepted,
			verbs:   oneVerbs(tlsVerbs...),
			check:   wantTLS(true, ""),
		},
		{
			name:    "expired certificate is reported and the probe goes on",
			scripts: overTLS(pki.Expired),
			want:    accepted,
			verbs:   oneVerbs(tlsVerbs...),
			check:   wantTLS(false, "expired"),
		},
		{
			name:    "self-signed certificate is reported and the probe goes on",
			scripts: overTLS(pki.SelfSigned),
			want:    accepted,
			verbs:   oneVerbs(tlsVerbs...),
			check:   wantTLS(false, "unknown authority"),
		},
		{
			name:    "certificate for another host is reported and the probe goes on",
			scripts: overTLS(pki.WrongHost),
			want:    accepted,
			verbs:   oneVerbs(tlsVerbs...),
			check:   wantTLS(false, "other.test"),
		},
		{
			name:     "expired certificate under required: reported, still reachable",
			scripts:  overTLS(pki.Expired),
			settings: required,
			want:     accepted,
			verbs:    oneVerbs(tlsVerbs...),
			check:    wantTLS(false, "expired"),
		},
	})
}

// rcptSemantics are replies to RCPT TO and the class each must give.
var rcptSemantics = []struct {
	line     string
	class    probe.Class
	enhanced string
}{
	{"250 2.1.5 ok", probe.Accepted, "2.1.5"},
	{"250 ok", probe.Accepted, ""},
	{"251 2.1.5 user not local; will forward", probe.Accepted, "2.1.5"},
	{"251 user not local; will forward", probe.Accepted, ""},
	{"252 2.1.5 cannot VRFY user, but will accept", probe.Accepted, "2.1.5"},
	{"252 cannot VRFY user", probe.Accepted, ""},
	{"450 4.2.0 <alice@customer.test>: Recipient address rejected: Greylisted",
		probe.Greylisted, "4.2.0"},
	{"450 greylisted, try again later", probe.Greylisted, ""},
	{"451 4.7.1 Please try again later (graylisting)", probe.Greylisted, "4.7.1"},
	{"450 4.2.1 mailbox busy", probe.Tempfail, "4.2.1"},
	{"451 4.3.0 local error in processing", probe.Tempfail, "4.3.0"},
	{"451 local error in processing", probe.Tempfail, ""},
	{"451 4.7.1 service unavailable for now", probe.Tempfail, "4.7.1"},
	{"452 4.2.2 mailbox full", probe.Tempfail, "4.2.2"},
	{"550 5.1.1 no such user", probe.Rejected, "5.1.1"},
	{"550 no such user", probe.Rejected, ""},
	{"551 5.1.6 user has moved", probe.Rejected, "5.1.6"},
	{"551 user not local; please try <alice@elsewhere.test>", probe.Rejected, ""},
	{"553 5.1.3 bad recipient address syntax", probe.Rejected, "5.1.3"},
	{"553 mailbox name not allowed", probe.Rejected, ""},
	{"550 5.7.1 client host blocked using a block list", probe.Blocked, "5.7.1"},
	{"554 5.7.1 relay access denied", probe.Blocked, "5.7.1"},
	{"550 5.7.606 access denied, banned sending IP", probe.Blocked, "5.7.606"},
	// Without an enhanced code nothing tells a policy refusal from a
	// refused recipient: the reply counts as the recipient's.
	{"554 relay access denied", probe.Rejected, ""},
}

func TestReplySemantics(t *testing.T) {
	var cases []hostileCase
	for _, r := range rcptSemantics {
		code, _ := strconv.Atoi(r.line[:3])
		for _, advertised := range []bool{true, false} {
			ehlo := ehloPlain
			if advertised {
				ehlo = ehloEnh
			}
			cases = append(cases, hostileCase{
				name: fmt.Sprintf("%q, ENHANCEDSTATUSCODES advertised %t",
					r.line, advertised),
				scripts: one(greet, ehlo, mailOK, answer("RCPT", r.line+"\r\n"), goodbye),
				want:    outcome{r.class, "rcpt", code, r.enhanced},
				verbs:   oneVerbs(fullVerbs...),
			})
		}
	}
	runHostile(t, cases)
}

// threeRcpts are the recipients of the "too many recipients" cases.
var threeRcpts = []string{"alice@customer.test", "bob@customer.test", "carol@customer.test"}

// session is one connection of a "too many recipients" case: the replies
// to its RCPT commands, in order.
func session(replies ...string) []move {
	script := upToMail
	for _, r := range replies {
		script = moves(script, answer("RCPT", r+"\r\n"))
	}
	return moves(script, goodbye)
}

// wantRcpts checks the recipient and code of every RCPT reply of the leg.
func wantRcpts(rcpts []string, codes ...int) func(*testing.T, probe.Result) {
	return func(t *testing.T, res probe.Result) {
		if len(res.Legs) != 1 {
			t.Fatalf("%d legs, want 1", len(res.Legs))
		}
		s := res.Legs[0].Session
		var gotR []string
		var gotC []int
		for _, rc := range s.Rcpts {
			gotR, gotC = append(gotR, rc.Recipient), append(gotC, rc.Reply.Code)
		}
		if !slices.Equal(gotR, rcpts) || !slices.Equal(gotC, codes) || len(s.Deferred) > 0 {
			t.Errorf("recipients %v codes %v deferred %v, want %v %v and none",
				gotR, gotC, s.Deferred, rcpts, codes)
		}
	}
}

func TestTooManyRecipients(t *testing.T) {
	rcpt2 := []string{"EHLO", "MAIL", "RCPT", "RCPT", "RSET", "QUIT"}
	toomany := "452 4.5.3 Too many recipients"
	runHostile(t, []hostileCase{
		{
			name: "452 moves the rest to new sessions until every recipient is decided",
			scripts: [][]move{session("250 2.1.5 ok", toomany),
				session("250 2.1.5 ok", toomany), session("250 2.1.5 ok")},
			rcpts: threeRcpts,
			want:  accepted,
			verbs: [][]string{rcpt2, rcpt2, fullVerbs},
			check: wantRcpts(threeRcpts, 250, 250, 250),
		},
		{
			name: "452 without an enhanced code also moves the rest",
			scripts: [][]move{session("250 2.1.5 ok", "452 too many recipients"),
				session("250 2.1.5 ok", "250 2.1.5 ok")},
			rcpts: threeRcpts,
			want:  accepted,
			verbs: [][]string{rcpt2, {"EHLO", "MAIL", "RCPT", "RCPT", "RSET", "QUIT"}},
			check: wantRcpts(threeRcpts, 250, 250, 250),
		},
		{
			name: "a recipient refused in a later session decides the outcome",
			scripts: [][]move{session("250 2.1.5 ok", toomany),
				session("550 5.1.1 no such user", toomany), session("250 2.1.5 ok")},
			rcpts: threeRcpts,
			want:  outcome{probe.Rejected, "rcpt", 550, "5.1.1"},
			verbs: [][]string{rcpt2, rcpt2, fullVerbs},
			check: wantRcpts(threeRcpts, 250, 550, 250),
		},
		{
			name: "a recipient greylisted in a later session is never rejected",
			scripts: [][]move{session("250 2.1.5 ok", toomany),
				session("450 4.2.0 greylisted", "250 2.1.5 ok")},
			rcpts: threeRcpts,
			want:  outcome{probe.Greylisted, "rcpt", 450, "4.2.0"},
			verbs: [][]string{rcpt2, rcpt2},
			check: wantRcpts(threeRcpts, 250, 450, 250),
		},
	})
}

// twoHosts answers every MX resolution with a primary host on 127.0.0.1
// and a backup on 127.0.0.2.
type twoHosts struct{}

func (twoHosts) ResolveMX(_ context.Context, domain string, _ resolve.Family) resolve.Answer {
	host := func(name string, pref uint16, ip string) resolve.Host {
		return resolve.Host{Name: name, Preference: pref,
			Addrs: []netip.Addr{netip.MustParseAddr(ip)}}
	}
	return resolve.Answer{Domain: domain, Status: resolve.StatusOK, Rcode: "NOERROR",
		Hosts: []resolve.Host{host("mx1.customer.test", 10, "127.0.0.1"),
			host("mx2.customer.test", 20, "127.0.0.2")}}
}

// redirect dials the port of ports for the address's IP on 127.0.0.1, so
// that peers on one address stand for hosts on several.
func redirect(ports map[string]int) func(context.Context, string, string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		to := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[host]))
		return (&net.Dialer{}).DialContext(ctx, network, to)
	}
}

func TestTemporaryRepliesMoveOn(t *testing.T) {
	cases := []struct {
		name            string
		primary, backup []move
		want            outcome
		legs            []probe.Class
	}{
		{
			name:    "greylisted at the primary: the backup accepts",
			primary: session("450 4.2.0 Greylisted, try again later"),
			backup:  session("250 2.1.5 ok"),
			want:    accepted,
			legs:    []probe.Class{probe.Greylisted, probe.Accepted},
		},
		{
			name:    "local error at the primary: the backup rejects",
			primary: session("451 4.3.0 local error"),
			backup:  session("550 5.1.1 no such user"),
			want:    outcome{probe.Rejected, "rcpt", 550, "5.1.1"},
			legs:    []probe.Class{probe.Tempfail, probe.Rejected},
		},
		{
			name:    "temporary replies at both: the first explains, never rejected",
			primary: session("450 4.2.0 greylisted"),
			backup:  session("451 4.3.0 local error"),
			want:    outcome{probe.Greylisted, "rcpt", 450, "4.2.0"},
			legs:    []probe.Class{probe.Greylisted, probe.Tempfail},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			base := takeBaseline(t)
			primary, backup := startPeer(t, c.primary), startPeer(t, c.backup)
			p := &probe.Prober{Resolver: twoHosts{}, Dial: redirect(map[string]int{
				"127.0.0.1": primary.port(), "127.0.0.2": backup.port()})}
			start := time.Now()
			res := p.Probe(context.Background(), hostileTarget(25, nil))
			took := time.Since(start)
			conns := append(primary.stop(t), backup.stop(t)...)

			checkOutcome(t, res, c.want)
			if took > defaultHostileBudget {
				t.Errorf("probe took %v, budget %v", took, defaultHostileBudget)
			}
			checkConns(t, conns, 2, [][]string{fullVerbs, fullVerbs})
			checkLegs(t, res, c.legs)
			base.check(t)
		})
	}
}

// checkLegs compares the classes of the legs, and checks that only a leg
// with a 2xx or 5xx reply decided.
func checkLegs(t *testing.T, res probe.Result, want []probe.Class) {
	t.Helper()
	var got []probe.Class
	for _, leg := range res.Legs {
		got = append(got, leg.Class)
		decides := leg.Class == probe.Accepted || leg.Class == probe.Rejected
		if leg.Deciding != decides {
			t.Errorf("leg %s (%s): deciding %t", leg.MX, leg.Class, leg.Deciding)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("legs %v, want %v", got, want)
	}
}
