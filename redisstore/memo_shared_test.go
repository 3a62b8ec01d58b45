package redisstore_test

import (
	"context"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/ginsecure/ginsecure/internal/redistest"
	"github.com/ginsecure/ginsecure/redisstore"
	"github.com/ginsecure/ginsecure/storeext"
	"github.com/gomodule/redigo/redis"
)

// GetWithSession hands every reader of the same bytes the memo's one
// record (memo.go): parallel readers, Get's detached copies and UpdateHeld
// of that record (its fn changing the slices in place) never change it; a
// write decodes afresh; bytes whose handle field names another record are
// never shared.
func TestRedisSharedRecordStaysAsRead(t *testing.T) {
	srv := redistest.Start(t)
	pool := srv.Pool()
	ctx := context.Background()
	st := redisstore.New(pool, redisstore.WithPrefix("shr:"))
	var sr storeext.SharedRedis = st
	var hu storeext.HeldUpdater = st
	now := time.Now()
	rec := storeext.Record{
		Handle: "q83vEjRWeJASNFZ4kBI0Vg", UserID: "alice", SessionID: "S1", TokenHash: [32]byte{1},
		History: []storeext.Superseded{{Hash: [32]byte{7}, Sealed: []byte("sealed")}}, TokenKey: []byte("key"), ForwardPending: []byte("fwd"),
		CreatedAt: now, AuthAt: now, LastSeen: now, IssuedAt: now, ExpiresAt: now.Add(time.Hour),
	}
	if err := st.Create(ctx, rec, storeext.Limit{}); err != nil {
		t.Fatal(err)
	}
	shared, _, err := sr.GetWithSession(ctx, rec.Handle, "shr:none")
	if err != nil {
		t.Fatal(err)
	}
	snap := shared.Clone()

	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, _, err := sr.GetWithSession(ctx, rec.Handle, "shr:none")
			if err != nil || got.TokenHash != rec.TokenHash {
				t.Errorf("GetWithSession: %v", err)
				return
			}
			_ = got.History[0].Hash[0] + got.History[0].Sealed[0] + got.ForwardPending[0] // readers read
			if i%2 == 0 {
				cp, err := st.Get(ctx, rec.Handle) // a detached copy: the caller's to change
				if err != nil {
					t.Errorf("Get: %v", err)
					return
				}
				cp.History[0].Hash[0], cp.History[0].Sealed[0], cp.ForwardPending[0] = 99, 'X', 'Y'
			}
		}()
	}
	wg.Wait()
	if !reflect.DeepEqual(*shared, snap) {
		t.Fatalf("the shared record changed under its readers: %+v", *shared)
	}

	// UpdateHeld of the shared record, its fn changing the slices in place.
	next, err := hu.UpdateHeld(ctx, *shared, func(r *storeext.Record) error {
		r.History[0].Hash[0], r.History[0].Sealed[0], r.ForwardPending[0] = 42, 'Z', 'W'
		r.TokenHash = [32]byte{2}
		return nil
	})
	if err != nil || next.TokenHash != [32]byte{2} {
		t.Fatalf("UpdateHeld: %v", err)
	}
	if !reflect.DeepEqual(*shared, snap) {
		t.Fatalf("UpdateHeld changed the shared record it was given: %+v", *shared)
	}
	after, _, err := sr.GetWithSession(ctx, rec.Handle, "shr:none")
	if err != nil || after == shared || after.TokenHash != [32]byte{2} || after.History[0].Hash[0] != 42 {
		t.Fatalf("after a write, the read is not decoded afresh: same=%v %+v %v", after == shared, after, err)
	}

	// Bytes naming another record under this key are never shared.
	c := pool.Get()
	defer c.Close()
	b, err := redis.Bytes(c.Do("GET", "shr:r:"+rec.Handle))
	if err != nil {
		t.Fatal(err)
	}
	const other = "AAAAAAAAAAAAAAAAAAAAAA"
	if _, err := c.Do("SET", "shr:r:"+other, b, "PX", 60000); err != nil {
		t.Fatal(err)
	}
	x, _, err := sr.GetWithSession(ctx, other, "shr:none")
	if err != nil {
		t.Fatal(err)
	}
	y, _, err := sr.GetWithSession(ctx, other, "shr:none")
	if err != nil {
		t.Fatal(err)
	}
	if x == y || x == after || y == after {
		t.Fatal("a record whose handle field names another key was served from the memo")
	}
}
