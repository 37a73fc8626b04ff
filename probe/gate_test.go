package probe

import (
	"context"
	"net/netip"
	"testing"
	"time"
)

func TestGateForgetsAddressesNoLongerInUse(t *testing.T) {
	g := &IPGate{Limit: 1}
	var releases []func()
	for i := 0; i < 100; i++ {
		release, err := g.Acquire(context.Background(), netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}))
		if err != nil {
			t.Fatal(err)
		}
		releases = append(releases, release)
	}
	if g.Busy() != 100 {
		t.Fatalf("%d addresses in use, want 100", g.Busy())
	}
	for _, release := range releases {
		release()
		release() // a second call must not free a slot twice
	}
	if g.Busy() != 0 {
		t.Fatalf("%d addresses still tracked after every release", g.Busy())
	}
}

func TestGateWaiterGivesUpWithItsContext(t *testing.T) {
	g := &IPGate{Limit: 1}
	ip := netip.MustParseAddr("192.0.2.1")
	release, _ := g.Acquire(context.Background(), ip)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := g.Acquire(ctx, ip); err == nil {
		t.Fatal("a second connection to a busy address was allowed")
	}
	release()
	if g.Busy() != 0 {
		t.Fatalf("%d addresses tracked after the waiter gave up and the holder left", g.Busy())
	}
}
