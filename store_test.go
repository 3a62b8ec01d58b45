package ginsecure_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ginsecure/ginsecure"
	"github.com/ginsecure/ginsecure/storeext"
	"github.com/ginsecure/ginsecure/storetest"
)

func TestMemoryStoreKeepsTheStoreContract(t *testing.T) {
	storetest.Run(t, func(*testing.T) storeext.Store { return ginsecure.NewMemoryStore() })
}

// A store that never forgets is a memory leak an attacker can drive with
// logins (gin-contrib's memstore has it): expired records and markers must
// go without anyone asking for them again.
func TestMemoryStoreSweepKeepsItBounded(t *testing.T) {
	ctx := context.Background()
	clock := storetest.NewClock()
	st := ginsecure.NewMemoryStore()
	st.(storeext.ClockUser).UseClock(clock.Now)
	now := clock.Now()
	const n = 500
	for i := 0; i < n; i++ {
		r := storeext.Record{Handle: fmt.Sprintf("h%04d", i), UserID: fmt.Sprintf("u%d", i%7),
			CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(10 * time.Minute)}
		if err := st.Create(ctx, r, storeext.Limit{}); err != nil {
			t.Fatal(err)
		}
		if err := st.SetMarker(ctx, r.Handle, storeext.Marker{At: now, ExpiresAt: now.Add(10 * time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	if recs, marks := ginsecure.MemoryStoreSize(st); recs != n || marks != n {
		t.Fatalf("before expiry: %d records, %d markers, want %d each", recs, marks, n)
	}
	// Get keeps records for RetainExpired after expiry; past that nothing
	// may hold on to them.
	clock.Advance(10*time.Minute + storeext.RetainExpired)
	// One write after expiry: nothing reads the dead entries again.
	live := storeext.Record{Handle: "live", UserID: "u0", CreatedAt: clock.Now(), LastSeen: clock.Now(), ExpiresAt: clock.Now().Add(time.Hour)}
	if err := st.Create(ctx, live, storeext.Limit{}); err != nil {
		t.Fatal(err)
	}
	// The sweep is incremental: each read or write takes a step of at
	// most MemoryStoreSweepStep entries (an empty shard's part counts as
	// one), so the 2n dead entries go within the calls that many steps take.
	steps := (2*n+2*ginsecure.MemoryStoreShards)/ginsecure.MemoryStoreSweepStep + 1
	for range steps - 1 {
		if _, err := st.Get(ctx, live.Handle); err != nil {
			t.Fatal(err)
		}
	}
	if recs, marks := ginsecure.MemoryStoreSize(st); recs != 1 || marks != 0 {
		t.Fatalf("after expiry and %d calls: %d records, %d markers still held, want 1 and 0", steps, recs, marks)
	}
	if rs, err := st.List(ctx, "u0"); err != nil || len(rs) != 1 {
		t.Fatalf("index after the sweep: %v, %v", rs, err)
	}
}

// The Guard reads records without copying them (view), so the memory store
// must never change a record in place: a request holding one must keep a
// consistent snapshot while another request touches, rotates, revokes or
// evicts it. Run with -race, the parallel half also catches a write to a
// record that a reader holds.
func TestMemoryStoreViewIsASnapshot(t *testing.T) {
	ctx := context.Background()
	s := ginsecure.NewMemoryStore()
	exp := time.Now().Add(time.Hour)
	rec := storeext.Record{Handle: "00000000-0000-4000-8000-000000000001", UserID: "alice", ExpiresAt: exp}
	if err := s.Create(ctx, rec, storeext.Limit{}); err != nil {
		t.Fatal(err)
	}
	held, err := ginsecure.MemoryStoreView(s, rec.Handle)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(ctx, rec.Handle, func(r *storeext.Record) error {
		r.TokenHash[0], r.Revoked = 1, storeext.RevokedByUser
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Eviction by a login over the limit revokes the held record too.
	held2, _ := ginsecure.MemoryStoreView(s, rec.Handle)
	other := storeext.Record{Handle: "00000000-0000-4000-8000-000000000002", UserID: "bob", ExpiresAt: exp, LastSeen: time.Now()}
	if err := s.Create(ctx, other, storeext.Limit{}); err != nil {
		t.Fatal(err)
	}
	heldBob, _ := ginsecure.MemoryStoreView(s, other.Handle)
	third := storeext.Record{Handle: "00000000-0000-4000-8000-000000000003", UserID: "bob", ExpiresAt: exp, LastSeen: time.Now(), CreatedAt: time.Now()}
	if err := s.Create(ctx, third, storeext.Limit{Max: 1}); err != nil {
		t.Fatal(err)
	}
	if ev, err := s.Trim(ctx, "bob", 1); err != nil || len(ev) != 1 {
		t.Fatalf("eviction: %v %v", ev, err)
	}
	if held.TokenHash[0] != 0 || held.Revoked != "" {
		t.Errorf("Update changed a record a reader holds: %+v", held)
	}
	if held2.TokenHash[0] != 1 || held2.Revoked != storeext.RevokedByUser {
		t.Errorf("the view after Update does not show it: %+v", held2)
	}
	if heldBob.Revoked != "" {
		t.Errorf("eviction changed a record a reader holds: revoked %q", heldBob.Revoked)
	}
	if now, _ := s.Get(ctx, other.Handle); now.Revoked != storeext.RevokedEvicted {
		t.Errorf("evicted record reads %q", now.Revoked)
	}

	// Readers and writers in parallel: -race reports an in-place write.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if r, err := ginsecure.MemoryStoreView(s, third.Handle); err == nil {
					_ = r.LastSeen.Unix() + int64(r.TokenHash[0]) + int64(len(r.Revoked))
				}
			}
		}()
	}
	for i := range 2000 {
		_, _ = s.Update(ctx, third.Handle, func(r *storeext.Record) error {
			r.LastSeen, r.TokenHash[0] = time.Now(), byte(i)
			return nil
		})
	}
	close(stop)
	wg.Wait()
}
