package probe

import (
	"context"
	"net/netip"
	"sync"
)

// IPGate allows at most Limit connections at a time to each address, so a
// customer's MX sees the exporter as one polite client however many
// targets share it.
type IPGate struct {
	mu    sync.Mutex
	Limit int // connections per address; below 1 means 1
	slots map[netip.Addr]*ipSlot
}

type ipSlot struct {
	sem   chan struct{}
	users int // holders and waiters; the slot is dropped at zero
}

// Acquire waits until a connection to ip is allowed or ctx ends.
func (g *IPGate) Acquire(ctx context.Context, ip netip.Addr) (func(), error) {
	slot := g.join(ip)
	select {
	case slot.sem <- struct{}{}:
	case <-ctx.Done():
		g.leave(ip, slot)
		return nil, ctx.Err()
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			<-slot.sem
			g.leave(ip, slot)
		})
	}, nil
}

func (g *IPGate) join(ip netip.Addr) *ipSlot {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.slots == nil {
		g.slots = map[netip.Addr]*ipSlot{}
	}
	slot := g.slots[ip]
	if slot == nil {
		slot = &ipSlot{sem: make(chan struct{}, max(g.Limit, 1))}
		g.slots[ip] = slot
	}
	slot.users++
	return slot
}

func (g *IPGate) leave(ip netip.Addr, slot *ipSlot) {
	g.mu.Lock()
	defer g.mu.Unlock()
	slot.users--
	if slot.users == 0 {
		delete(g.slots, ip)
	}
}

// Busy reports the number of addresses with a connection open or waited for.
func (g *IPGate) Busy() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.slots)
}

// SetLimit changes the limit for addresses not in use at the moment.
func (g *IPGate) SetLimit(n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.Limit = n
}
