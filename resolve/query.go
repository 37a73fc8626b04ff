package resolve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// ednsSize is the UDP payload size announced with EDNS0 (RFC 6891) and the
// size of the UDP receive buffer. A TCP reply is bounded by its 16-bit
// length prefix (RFC 1035 section 4.2.2).
const ednsSize = 4096

// resolvConf is read when Resolver.Servers is empty.
const resolvConf = "/etc/resolv.conf"

// errTCPRetry marks a truncated UDP answer whose TCP retry failed; the
// partial UDP answer is never used.
var errTCPRetry = errors.New("answer truncated over UDP and the TCP retry failed")

// lookupError is a query that got no usable answer from any server.
type lookupError struct {
	status Status // StatusServFail, StatusTimeout or StatusError
	rcode  string // rcode of a failing reply, if one came
	detail string // what each server did
}

func (e *lookupError) Error() string { return e.detail }

// querier sends the queries of one resolution to a list of servers. A
// server that let a query time out is asked last for the rest of the
// resolution, so a dead server does not eat into every lookup.
type querier struct {
	servers []string

	mu   sync.Mutex
	slow map[string]bool
}

// order returns the servers to try, those that timed out last.
func (q *querier) order() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := make([]string, 0, len(q.servers))
	for _, s := range q.servers {
		if !q.slow[s] {
			out = append(out, s)
		}
	}
	for _, s := range q.servers {
		if q.slow[s] {
			out = append(out, s)
		}
	}
	return out
}

func (q *querier) markSlow(server string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.slow == nil {
		q.slow = map[string]bool{}
	}
	q.slow[server] = true
}

// servers returns the configured servers as ip:port, or those of
// /etc/resolv.conf when none are configured. Host names are refused so
// that no lookup goes through the system resolver.
func (r *Resolver) servers() ([]string, error) {
	list := r.Servers
	port := "53"
	if len(list) == 0 {
		conf, err := dns.ClientConfigFromFile(resolvConf)
		if err != nil {
			return nil, fmt.Errorf("read DNS servers: %w", err)
		}
		list, port = conf.Servers, conf.Port
	}
	if len(list) == 0 {
		return nil, errors.New("no DNS servers configured")
	}

	out := make([]string, 0, len(list))
	for _, s := range list {
		ap, err := parseServer(s, port)
		if err != nil {
			return nil, err
		}
		out = append(out, ap)
	}
	return out, nil
}

func parseServer(s, port string) (string, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.String(), nil
	}
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return "", fmt.Errorf("DNS server %q is not an ip:port address", s)
	}
	return net.JoinHostPort(ip.String(), port), nil
}

// query asks the servers in order for name and qtype until one gives a
// NOERROR or NXDOMAIN reply. Each server gets an equal share of the time
// left, so a silent server leaves time for the next ones. Any other
// outcome is a *lookupError.
func (q *querier) query(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.SetEdns0(ednsSize, false)

	var fails []attempt
	servers := q.order()
	for i, server := range servers {
		if ctx.Err() != nil {
			break
		}
		reply, err := tryServer(ctx, server, m, len(servers)-i)
		if err == nil && usableRcode(reply.Rcode) {
			return reply, nil
		}
		f := classify(server, reply, err)
		if f.status == StatusTimeout && ctx.Err() == nil {
			q.markSlow(server)
		}
		fails = append(fails, f)
	}
	if len(fails) == 0 {
		err := ctx.Err()
		if err == nil {
			err = errors.New("no DNS server to ask")
		}
		fails = append(fails, classify("", nil, err))
	}
	return nil, summarize(fails)
}

// tryServer exchanges m with one server within its share of the time
// left, shared with the servers still to try.
func tryServer(ctx context.Context, server string, m *dns.Msg, left int) (*dns.Msg, error) {
	if deadline, ok := ctx.Deadline(); ok {
		share := time.Until(deadline) / time.Duration(left)
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, share)
		defer cancel()
	}
	return exchange(ctx, server, m)
}

func usableRcode(rcode int) bool {
	return rcode == dns.RcodeSuccess || rcode == dns.RcodeNameError
}

// exchange sends m over UDP and repeats it over TCP when the UDP answer is
// truncated (RFC 7766).
func exchange(ctx context.Context, server string, m *dns.Msg) (*dns.Msg, error) {
	reply, err := exchangeOver(ctx, "udp", server, m)
	if err != nil || !reply.Truncated {
		return reply, err
	}

	reply, err = exchangeOver(ctx, "tcp", server, m)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errTCPRetry, err)
	}
	if reply.Truncated {
		return nil, fmt.Errorf("%w: TCP answer is truncated too", errTCPRetry)
	}
	return reply, nil
}

// exchangeOver does one exchange on network. The connection is closed as
// soon as ctx ends, so a cancellation does not wait for a read deadline;
// no goroutine is left behind when it returns.
func exchangeOver(ctx context.Context, network, server string, m *dns.Msg) (*dns.Msg, error) {
	c := &dns.Client{Net: network, UDPSize: ednsSize}
	if deadline, ok := ctx.Deadline(); ok {
		c.Timeout = time.Until(deadline)
	}
	conn, err := c.DialContext(ctx, server)
	if err != nil {
		return nil, err
	}
	defer conn.Close()

	closed := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		_ = conn.Close()
		close(closed)
	})
	defer func() {
		if !stop() {
			<-closed
		}
	}()

	reply, _, err := c.ExchangeWithConnContext(ctx, m, conn)
	var bad *dns.Error
	switch {
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case errors.As(err, &bad):
		return nil, fmt.Errorf("bad reply: %w", err)
	case err != nil:
		return nil, err
	}
	return reply, checkReply(m, reply)
}

// checkReply rejects a reply that does not answer the question of m. The
// client has already matched the ID: over UDP a reply with another ID is
// skipped, over TCP it is an error.
func checkReply(m, reply *dns.Msg) error {
	if !reply.Response || reply.Opcode != dns.OpcodeQuery {
		return errors.New("reply is not a response to a query")
	}
	if len(reply.Question) != 1 {
		return fmt.Errorf("reply has %d questions, want 1", len(reply.Question))
	}
	want, got := m.Question[0], reply.Question[0]
	if !strings.EqualFold(want.Name, got.Name) || want.Qtype != got.Qtype ||
		want.Qclass != got.Qclass {
		return fmt.Errorf("reply is for question %q, want %q",
			questionText(got), questionText(want))
	}
	return nil
}

func questionText(q dns.Question) string {
	return q.Name + " " + dns.Class(q.Qclass).String() + " " + dns.Type(q.Qtype).String()
}

// attempt is the failure of one server.
type attempt struct {
	status Status
	rcode  string
	detail string
}

// classify turns the outcome of one server into a failure. A truncated
// answer whose TCP retry failed is an error, not a timeout.
func classify(server string, reply *dns.Msg, err error) attempt {
	prefix := ""
	if server != "" {
		prefix = server + ": "
	}
	switch {
	case err == nil:
		rcode := dns.RcodeToString[reply.Rcode]
		return attempt{StatusServFail, rcode, prefix + rcode}
	case errors.Is(err, errTCPRetry) && isTimeout(err):
		// Silence over TCP is silence: the truncated UDP answer does not
		// make the server's failure to answer a broken answer.
		return attempt{status: StatusTimeout, detail: prefix + err.Error()}
	case errors.Is(err, errTCPRetry):
		return attempt{status: StatusError, detail: prefix + err.Error()}
	case isTimeout(err):
		return attempt{status: StatusTimeout, detail: prefix + "timeout"}
	}
	return attempt{status: StatusError, detail: prefix + err.Error()}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout())
}

// summarize makes one error of the failures of all servers. A server
// failure says most, then a broken answer, then silence.
func summarize(fails []attempt) *lookupError {
	rank := map[Status]int{StatusTimeout: 1, StatusError: 2, StatusServFail: 3}
	e := &lookupError{status: StatusTimeout}
	details := make([]string, 0, len(fails))
	for _, f := range fails {
		if rank[f.status] > rank[e.status] {
			e.status = f.status
		}
		if f.rcode != "" {
			e.rcode = f.rcode
		}
		details = append(details, f.detail)
	}
	e.detail = strings.Join(details, "; ")
	return e
}
