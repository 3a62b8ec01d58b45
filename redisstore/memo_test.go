package redisstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/ginsecure/ginsecure/internal/redistest"
	"github.com/ginsecure/ginsecure/redisstore"
	"github.com/ginsecure/ginsecure/storeext"
)

// The decoded-record memo (memo.go) never answers what Redis does not
// hold now: a record changed by another server (another Store on the same
// Redis) reads changed at once, and a caller that changes the record it
// was given changes nothing the next read returns.
func TestRedisRecordReadsAreWhatRedisHoldsNow(t *testing.T) {
	srv := redistest.Start(t)
	pool := srv.Pool()
	ctx := context.Background()
	here := redisstore.New(pool, redisstore.WithPrefix("memo:"))
	there := redisstore.New(pool, redisstore.WithPrefix("memo:")) // another server
	now := time.Now()
	rec := storeext.Record{
		Handle: "q83vEjRWeJASNFZ4kBI0Vg", UserID: "alice", SessionID: "S1", TokenHash: [32]byte{1},
		History:   []storeext.Superseded{{Hash: [32]byte{7}, Sealed: []byte("sealed")}},
		CreatedAt: now, AuthAt: now, LastSeen: now, IssuedAt: now, ExpiresAt: now.Add(time.Hour),
	}
	if err := here.Create(ctx, rec, storeext.Limit{}); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second read is answered from the memo
		got, err := here.Get(ctx, rec.Handle)
		if err != nil || got.TokenHash != rec.TokenHash || got.Revoked != "" {
			t.Fatalf("Get: %+v, %v", got, err)
		}
		got.History[0].Hash[0] = 99 // a caller's change stays the caller's
		got.History[0].Sealed[0] = 'X'
	}
	got, _ := here.Get(ctx, rec.Handle)
	if got.History[0].Hash[0] != 7 || string(got.History[0].Sealed) != "sealed" {
		t.Fatalf("a caller's change to a record reached the next read: %v", got.History)
	}

	// Another server rotates the token, then revokes the record.
	if _, err := there.Update(ctx, rec.Handle, func(r *storeext.Record) error { r.TokenHash = [32]byte{2}; return nil }); err != nil {
		t.Fatal(err)
	}
	if got, err := here.Get(ctx, rec.Handle); err != nil || got.TokenHash != [32]byte{2} {
		t.Fatalf("after a rotation on another server: %x, %v", got.TokenHash[:1], err)
	}
	if _, err := there.Update(ctx, rec.Handle, func(r *storeext.Record) error { r.Revoked = storeext.RevokedByUser; return nil }); err != nil {
		t.Fatal(err)
	}
	got, err := here.Get(ctx, rec.Handle)
	if err == nil && got.Revoked == "" {
		t.Fatalf("a record revoked on another server still reads live: %+v", got)
	}
	if got, _, err := here.GetWithSession(ctx, rec.Handle, "memo:none"); err == nil && got.Revoked == "" {
		t.Fatalf("GetWithSession: a record revoked on another server still reads live: %+v", got)
	}
	if err := there.Delete(ctx, rec.Handle); err != nil {
		t.Fatal(err)
	}
	if _, err := here.Get(ctx, rec.Handle); err != storeext.ErrNotFound {
		t.Fatalf("a deleted record: %v, want ErrNotFound", err)
	}
}
