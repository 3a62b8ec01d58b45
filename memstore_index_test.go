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

func clockedMemoryStore() (storeext.Store, *storetest.Clock) {
	clock := storetest.NewClock()
	st := ginsecure.NewMemoryStore()
	st.(storeext.ClockUser).UseClock(clock.Now)
	return st, clock
}

// TestMemoryStoreCeilingEvictsLeastRecentlyUsed: without a limit one
// user keeps at most MemoryStoreMaxSessionsPerUser live sessions; a login
// over it signs out the least recently used (not the oldest created: the
// first session was used last), so one account cannot make the store
// hold, list or revoke more.
func TestMemoryStoreCeilingEvictsLeastRecentlyUsed(t *testing.T) {
	ctx := context.Background()
	st, clock := clockedMemoryStore()
	const ceiling = ginsecure.MemoryStoreMaxSessionsPerUser
	handles := make([]string, 0, ceiling+1)
	for i := range ceiling + 1 {
		clock.Advance(time.Second)
		now := clock.Now()
		r := storeext.Record{Handle: fmt.Sprintf("handle-%06d-xxxxxxxx", i), UserID: "alice", CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(24 * time.Hour)}
		if i == ceiling { // before the login over the ceiling, the first session is used
			if _, err := st.Update(ctx, handles[0], func(r *storeext.Record) error { r.LastSeen = now; return nil }); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.Create(ctx, r, storeext.Limit{Unpresented: ginsecure.MaxUnpresented}); err != nil {
			t.Fatal(err)
		}
		handles = append(handles, r.Handle)
	}
	list, err := st.List(ctx, "alice")
	if err != nil || len(list) != ceiling {
		t.Fatalf("List after %d logins: %d sessions (%v), want %d", ceiling+1, len(list), err, ceiling)
	}
	if r, err := st.Get(ctx, handles[1]); err != nil || r.Revoked != storeext.RevokedEvicted {
		t.Fatalf("the least recently used session: Revoked %q (%v), want %q", r.Revoked, err, storeext.RevokedEvicted)
	}
	for _, h := range []string{handles[0], handles[2], handles[ceiling]} {
		if r, err := st.Get(ctx, h); err != nil || r.Revoked != "" {
			t.Fatalf("%s: Revoked %q (%v), want live", h, r.Revoked, err)
		}
	}
	// A limit above the ceiling raises it: the application chose it.
	over := storeext.Limit{Max: ceiling + 5}
	for i := range 3 {
		now := clock.Now()
		r := storeext.Record{Handle: fmt.Sprintf("more-%06d-xxxxxxxx", i), UserID: "alice", CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(24 * time.Hour)}
		if err := st.Create(ctx, r, over); err != nil {
			t.Fatal(err)
		}
	}
	if list, _ := st.List(ctx, "alice"); len(list) != ceiling+3 {
		t.Fatalf("under MaxSessionsPerUser %d: %d sessions, want %d", over.Max, len(list), ceiling+3)
	}
}

// TestMemoryStoreEvictionFollowsTouches: a touch (Update of LastSeen)
// reorders the user's index, so Trim signs out the least recently used
// session, not the one that was least recent when it was created.
func TestMemoryStoreEvictionFollowsTouches(t *testing.T) {
	ctx := context.Background()
	st, clock := clockedMemoryStore()
	var hs []string
	for i := range 3 {
		clock.Advance(time.Second)
		now := clock.Now()
		r := storeext.Record{Handle: fmt.Sprintf("touch-%06d-xxxxxxxx", i), UserID: "bob", CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour)}
		if err := st.Create(ctx, r, storeext.Limit{}); err != nil {
			t.Fatal(err)
		}
		hs = append(hs, r.Handle)
	}
	clock.Advance(time.Second)
	if _, err := st.Update(ctx, hs[0], func(r *storeext.Record) error { r.LastSeen = clock.Now(); return nil }); err != nil {
		t.Fatal(err)
	}
	ev, err := st.Trim(ctx, "bob", 2)
	if err != nil || len(ev) != 1 || ev[0] != hs[1] {
		t.Fatalf("Trim to 2 after the first session's touch: evicted %v (%v), want [%s]", ev, err, hs[1])
	}
	// An expiry moved by a touch keeps the record counted past its first
	// ExpiresAt: the index follows the record.
	if _, err := st.Update(ctx, hs[2], func(r *storeext.Record) error { r.ExpiresAt = clock.Now().Add(3 * time.Hour); return nil }); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Hour)
	if list, _ := st.List(ctx, "bob"); len(list) != 1 || list[0].Handle != hs[2] {
		t.Fatalf("after the first expiry: %d listed, want only %s", len(list), hs[2])
	}
}

// TestMemoryStoreSweepIsIncremental: a due sweep does not sweep the whole
// store in the request that finds it due: each read or write examines at
// most MemoryStoreSweepStep entries, and the following ones go on from
// there until every expired entry is gone.
func TestMemoryStoreSweepIsIncremental(t *testing.T) {
	ctx := context.Background()
	st, clock := clockedMemoryStore()
	now := clock.Now()
	const n = 4 * ginsecure.MemoryStoreSweepStep
	for i := range n {
		r := storeext.Record{Handle: fmt.Sprintf("dead-%08d-xxxxxxxx", i), UserID: fmt.Sprintf("u%d", i%9), CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Minute)}
		if err := st.Create(ctx, r, storeext.Limit{}); err != nil {
			t.Fatal(err)
		}
	}
	live := storeext.Record{Handle: "live-00000000-xxxxxxxx", UserID: "l", CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(48 * time.Hour)}
	if err := st.Create(ctx, live, storeext.Limit{}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute + storeext.RetainExpired)
	if _, err := st.Get(ctx, live.Handle); err != nil {
		t.Fatal(err)
	}
	recs, _ := ginsecure.MemoryStoreSize(st)
	if removed := n + 1 - recs; removed == 0 || removed > ginsecure.MemoryStoreSweepStep {
		t.Fatalf("the read that found the sweep due removed %d expired records, want 1 to %d", removed, ginsecure.MemoryStoreSweepStep)
	}
	calls := 1
	for ; recs > 1 && calls <= (n+2*ginsecure.MemoryStoreShards)/ginsecure.MemoryStoreSweepStep+1; calls++ {
		if _, err := ginsecure.MemoryStoreViewAt(st, live.Handle, clock.Now()); err != nil {
			t.Fatal(err)
		}
		recs, _ = ginsecure.MemoryStoreSize(st)
	}
	if recs != 1 {
		t.Fatalf("after %d reads: %d records, want 1", calls, recs)
	}
	if users, handles := ginsecure.MemoryStoreIndexSize(st); users != 1 || handles != 1 {
		t.Fatalf("index after the sweep: %d users, %d handles; want 1, 1", users, handles)
	}
}
