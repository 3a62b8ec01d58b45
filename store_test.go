package ginsecure_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ginsecure/ginsecure"
	"github.com/ginsecure/ginsecure/storetest"
)

func TestMemoryStoreKeepsTheStoreContract(t *testing.T) {
	storetest.Run(t, func(*testing.T) ginsecure.Store { return ginsecure.NewMemoryStore() })
}

// A store that never forgets is a memory leak an attacker can drive with
// logins (gin-contrib's memstore has it): expired records and markers must
// go without anyone asking for them again.
func TestMemoryStoreSweepKeepsItBounded(t *testing.T) {
	ctx := context.Background()
	clock := storetest.NewClock()
	st := ginsecure.NewMemoryStore()
	st.(ginsecure.ClockUser).UseClock(clock.Now)
	now := clock.Now()
	const n = 500
	for i := 0; i < n; i++ {
		r := ginsecure.Record{Handle: fmt.Sprintf("h%04d", i), UserID: fmt.Sprintf("u%d", i%7),
			CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(10 * time.Minute)}
		if _, err := st.Create(ctx, r, ginsecure.Limit{}); err != nil {
			t.Fatal(err)
		}
		if err := st.SetMarker(ctx, r.Handle, ginsecure.Marker{At: now, ExpiresAt: now.Add(10 * time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	if recs, marks := ginsecure.MemoryStoreSize(st); recs != n || marks != n {
		t.Fatalf("before expiry: %d records, %d markers, want %d each", recs, marks, n)
	}
	// Get keeps records for RetainExpired after expiry; past that nothing
	// may hold on to them.
	clock.Advance(10*time.Minute + ginsecure.RetainExpired)
	// One write after expiry: nothing reads the dead entries again.
	live := ginsecure.Record{Handle: "live", UserID: "u0", CreatedAt: clock.Now(), LastSeen: clock.Now(), ExpiresAt: clock.Now().Add(time.Hour)}
	if _, err := st.Create(ctx, live, ginsecure.Limit{}); err != nil {
		t.Fatal(err)
	}
	if recs, marks := ginsecure.MemoryStoreSize(st); recs != 1 || marks != 0 {
		t.Fatalf("after expiry and a write: %d records, %d markers still held, want 1 and 0", recs, marks)
	}
	if rs, err := st.List(ctx, "u0"); err != nil || len(rs) != 1 {
		t.Fatalf("index after the sweep: %v, %v", rs, err)
	}
}
