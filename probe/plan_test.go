package probe

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe_exporter/config"
	"github.com/mailprobe/mailprobe_exporter/resolve"
)

func answer(prefs ...uint16) resolve.Answer {
	a := resolve.Answer{Status: resolve.StatusOK}
	for i, p := range prefs {
		a.Hosts = append(a.Hosts, resolve.Host{
			Name: string(rune('a'+i)) + ".mx.example", Preference: p,
			Addrs: []netip.Addr{
				netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}),
				netip.MustParseAddr("2001:db8::" + string(rune('1'+i))),
			},
		})
	}
	return a
}

func TestBoundKeepsTheTargetsOwnMaximum(t *testing.T) {
	a := bound(answer(10, 20, 30, 40, 50), 2)
	if len(a.Hosts) != 2 || a.Dropped != 3 || a.Hosts[1].Preference != 20 {
		t.Fatalf("kept %d hosts, dropped %d; want the first 2 kept and 3 dropped",
			len(a.Hosts), a.Dropped)
	}
	if a := bound(answer(10, 20), 5); len(a.Hosts) != 2 || a.Dropped != 0 {
		t.Fatalf("a short answer was changed: %d hosts, %d dropped", len(a.Hosts), a.Dropped)
	}
}

func TestPlanOrdersLegsByHostThenAddress(t *testing.T) {
	cases := []struct {
		mode string
		want int
	}{
		{config.MXWalk, 6},
		{config.MXAll, 6},
		{config.MXPrimary, 4}, // both hosts of preference 10
	}
	for _, c := range cases {
		legs := plan(answer(10, 10, 20), c.mode)
		if len(legs) != c.want {
			t.Errorf("%s: %d legs, want %d", c.mode, len(legs), c.want)
			continue
		}
		if legs[0].host.Name != "a.mx.example" || !legs[0].ip.Is4() || legs[1].ip.Is4() {
			t.Errorf("%s: legs do not follow host order, A before AAAA: %v", c.mode, legs[:2])
		}
	}
}

// busyGate never frees a slot: every address is taken by another probe.
type busyGate struct{}

func (busyGate) Acquire(ctx context.Context, _ netip.Addr) (func(), error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

type fixedResolver resolve.Answer

func (f fixedResolver) ResolveMX(context.Context, string, resolve.Family) resolve.Answer {
	return resolve.Answer(f)
}

func TestLegWithoutAConnectionSlotIsNotRecorded(t *testing.T) {
	p := &Prober{Resolver: fixedResolver(answer(10, 20)), Gate: busyGate{}}
	tgt := config.Target{
		Name: "a@example.org", Domain: "example.org", Recipients: []string{"a@example.org"},
		Settings: config.Settings{Timeout: 200 * time.Millisecond, MX: config.MXAll, Port: 25},
	}
	res := p.Probe(context.Background(), tgt)
	if res.Class != Timeout || len(res.Legs) != 0 {
		t.Fatalf("got %s with %d legs, want a timeout with no leg recorded",
			res.Class, len(res.Legs))
	}
	if !strings.Contains(res.Text, "no connection slot to 192.0.2.0") {
		t.Errorf("text %q does not say which address it waited for", res.Text)
	}
}
