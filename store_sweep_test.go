package ginsecure_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ginsecure/ginsecure"
	"github.com/ginsecure/ginsecure/storeext"
	"github.com/ginsecure/ginsecure/storetest"
)

// TestMemoryStoreSweepsUnderReadOnlyTraffic: expired records go even when
// nothing writes, only reads (signed-in users browsing): the sweep is due
// by the clock, and a read runs it.
func TestMemoryStoreSweepsUnderReadOnlyTraffic(t *testing.T) {
	ctx := context.Background()
	clock := storetest.NewClock()
	st := ginsecure.NewMemoryStore()
	st.(storeext.ClockUser).UseClock(clock.Now)
	now := clock.Now()
	live := storeext.Record{Handle: "live-000000000000", UserID: "reader", CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(24 * time.Hour)}
	if err := st.Create(ctx, live, storeext.Limit{}); err != nil {
		t.Fatal(err)
	}
	const n = 300
	for i := range n {
		r := storeext.Record{Handle: fmt.Sprintf("dead-%012d", i), UserID: fmt.Sprintf("u%d", i%5),
			CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(10 * time.Minute)}
		if err := st.Create(ctx, r, storeext.Limit{}); err != nil {
			t.Fatal(err)
		}
	}
	// Past expiry and RetainExpired, then only reads, as from a browser
	// that keeps reading (every request looks its record up).
	clock.Advance(10*time.Minute + storeext.RetainExpired)
	// The sweep is incremental: each read takes a step of at most
	// MemoryStoreSweepStep entries (an empty shard's part counts as one).
	for range (n+1+2*ginsecure.MemoryStoreShards)/ginsecure.MemoryStoreSweepStep + 1 {
		if _, err := st.Get(ctx, live.Handle); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Second)
	}
	if recs, _ := ginsecure.MemoryStoreSize(st); recs != 1 {
		t.Fatalf("after expiry and reads only: %d records held, want 1", recs)
	}
	if users, handles := ginsecure.MemoryStoreIndexSize(st); users != 1 || handles != 1 {
		t.Fatalf("index after the read-triggered sweep: %d users, %d handles; want 1, 1", users, handles)
	}
	// The hot path's copy-free read sweeps too (the Guard uses it, not Get).
	r := storeext.Record{Handle: "dead-later-00000", UserID: "u", CreatedAt: clock.Now(), LastSeen: clock.Now(), ExpiresAt: clock.Now().Add(time.Minute)}
	if err := st.Create(ctx, r, storeext.Limit{}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute + storeext.RetainExpired)
	if _, err := ginsecure.MemoryStoreViewAt(st, live.Handle, clock.Now()); err != nil {
		t.Fatal(err)
	}
	if recs, _ := ginsecure.MemoryStoreSize(st); recs != 1 {
		t.Fatalf("after a view past expiry: %d records, want 1", recs)
	}
}

// TestMemoryStoreSweepIsAmortised: reads between sweeps do not sweep; a
// record that expired after the last sweep waits, invisible, for the next
// one (at most a minute), and a clock moved back sweeps at once.
func TestMemoryStoreSweepIsAmortised(t *testing.T) {
	ctx := context.Background()
	clock := storetest.NewClock()
	st := ginsecure.NewMemoryStore()
	st.(storeext.ClockUser).UseClock(clock.Now)
	now := clock.Now()
	keep := storeext.Record{Handle: "keep-000000000000", UserID: "k", CreatedAt: now, ExpiresAt: now.Add(48 * time.Hour)}
	dead := storeext.Record{Handle: "dead-000000000000", UserID: "d", CreatedAt: now, ExpiresAt: now.Add(time.Second)}
	for _, r := range []storeext.Record{keep, dead} {
		if err := st.Create(ctx, r, storeext.Limit{}); err != nil { // the first Create sweeps (nothing)
			t.Fatal(err)
		}
	}
	clock.Advance(time.Second + storeext.RetainExpired) // more than sweepEvery: due
	if _, err := st.Get(ctx, keep.Handle); err != nil {
		t.Fatal(err)
	}
	if recs, _ := ginsecure.MemoryStoreSize(st); recs != 1 {
		t.Fatalf("due sweep on read: %d records, want 1", recs)
	}
	late := storeext.Record{Handle: "late-000000000000", UserID: "l", CreatedAt: clock.Now(), ExpiresAt: clock.Now().Add(time.Millisecond)}
	if err := st.Create(ctx, late, storeext.Limit{}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(storeext.RetainExpired + time.Millisecond)
	// Due already (RetainExpired > sweepEvery): reading sweeps late.
	if _, err := st.Get(ctx, late.Handle); err == nil {
		t.Fatal("a record past RetainExpired is still returned")
	}
	if recs, _ := ginsecure.MemoryStoreSize(st); recs != 1 {
		t.Fatalf("second sweep: %d records, want 1", recs)
	}
	// Not due: within the minute nothing is swept, however many reads.
	soon := storeext.Record{Handle: "soon-000000000000", UserID: "s", CreatedAt: clock.Now(), ExpiresAt: clock.Now().Add(-3 * storeext.RetainExpired)}
	if err := st.Create(ctx, soon, storeext.Limit{}); err != nil {
		t.Fatal(err)
	}
	for range 100 {
		_, _ = st.Get(ctx, keep.Handle)
	}
	if recs, _ := ginsecure.MemoryStoreSize(st); recs != 2 {
		t.Fatalf("reads inside the minute swept: %d records, want 2", recs)
	}
	clock.Advance(-30 * time.Minute) // a clock moved back: sweep at once
	_, _ = st.Get(ctx, keep.Handle)
	if recs, _ := ginsecure.MemoryStoreSize(st); recs != 1 {
		t.Fatalf("after the clock went back: %d records, want 1", recs)
	}
}
