package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ginsecure/ginsecure"
	"github.com/ginsecure/ginsecure/internal/redistest"
	"github.com/ginsecure/ginsecure/redisstore"
	"github.com/ginsecure/ginsecure/storeext"
	"github.com/ginsecure/ginsecure/storetest"
	"github.com/gomodule/redigo/redis"
)

func TestRedisStoreKeepsTheStoreContract(t *testing.T) {
	srv := redistest.Start(t)
	pool := srv.Pool()
	var n atomic.Int64
	storetest.Run(t, func(*testing.T) storeext.Store {
		// A fresh prefix per subtest is a fresh store on the shared server.
		return redisstore.New(pool, redisstore.WithPrefix(fmt.Sprintf("st%d:", n.Add(1))))
	})
	if k := keysWithoutTTL(t, pool, "st*"); len(k) != 0 {
		t.Fatalf("after the contract suite, keys without a TTL: %v", k)
	}
}

// keptWithoutTTL matches the keys the store keeps without TTL on purpose
// (the test prefixes hold no colon but their last character).
var keptWithoutTTL = regexp.MustCompile(`(?s)^[^:]*:(seq|x:.*)$`)

// keysWithoutTTL lists the keys matching pattern that would never expire,
// but the two kinds the store keeps without TTL on purpose (revocation.go):
// its creation counter (<prefix>seq, one per store) and a revoked user's
// mark (<prefix>x:<user>, one per user at most). KEYS is fine on a test
// server; the store itself never scans.
func keysWithoutTTL(t testing.TB, pool *redis.Pool, pattern string) []string {
	t.Helper()
	c := pool.Get()
	defer c.Close()
	keys, err := redis.Strings(c.Do("KEYS", pattern))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) == 0 {
		t.Fatalf("no keys match %q: the check would prove nothing", pattern)
	}
	var bad []string
	for _, k := range keys {
		ttl, err := redis.Int64(c.Do("PTTL", k))
		if err != nil {
			t.Fatal(err)
		}
		if ttl == -1 && !keptWithoutTTL.MatchString(k) {
			bad = append(bad, k)
		}
	}
	return bad
}

// An unreachable Redis must never read as "not found": the Guard would then
// treat a signed-in request as anonymous (or a replay as unknown) instead
// of failing closed. And it must recover without a new pool.
func TestRedisDownIsAnErrorNeverNotFoundAndRecovers(t *testing.T) {
	srv := redistest.Start(t)
	pool := srv.Pool()
	st := redisstore.New(pool, redisstore.WithPrefix("down:"))
	ctx := context.Background()
	now := time.Now()
	rec := storeext.Record{Handle: "00000000-0000-4000-8000-000000000001", UserID: "alice",
		CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour)}
	if err := st.Create(ctx, rec, storeext.Limit{Max: 2}); err != nil {
		t.Fatal(err)
	}

	// Leave dead connections in the pool: the first calls below fail on a
	// connection that breaks mid-command, the later ones on the dial.
	var held []redis.Conn
	for i := 0; i < 8; i++ {
		c := pool.Get()
		if _, err := c.Do("PING"); err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	for _, c := range held {
		c.Close()
	}
	srv.Stop()
	calls := []struct {
		name string
		call func() error
	}{
		{"Get", func() error { _, err := st.Get(ctx, rec.Handle); return err }},
		{"GetMarker", func() error { _, err := st.GetMarker(ctx, "s:x"); return err }},
		{"Update", func() error {
			_, err := st.Update(ctx, rec.Handle, func(*storeext.Record) error { return nil })
			return err
		}},
		{"Create", func() error {
			r := rec
			r.Handle = "00000000-0000-4000-8000-000000000002"
			return st.Create(ctx, r, storeext.Limit{Max: 1, Reject: true})
		}},
		{"List", func() error { _, err := st.List(ctx, "alice"); return err }},
		{"Delete", func() error { return st.Delete(ctx, rec.Handle) }},
		{"SetMarker", func() error {
			return st.SetMarker(ctx, "s:x", storeext.Marker{At: now, ExpiresAt: now.Add(time.Minute)})
		}},
	}
	for round := 0; round < 2; round++ {
		for _, c := range calls {
			err := c.call()
			if err == nil || errors.Is(err, storeext.ErrNotFound) || errors.Is(err, ginsecure.ErrTooManySessions) {
				t.Errorf("%s with Redis down (round %d): got %v, want a store error", c.name, round, err)
			}
		}
	}

	srv.Restart() // an empty Redis, and no scripts loaded
	// Connections the pool kept from before the restart fail once each and
	// are dropped; after that the same pool works again.
	var err error
	for i := 0; i <= pool.MaxIdle; i++ {
		if err = st.Create(ctx, rec, storeext.Limit{Max: 1}); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("Create after Redis came back: %v", err)
	}
	if got, err := st.Get(ctx, rec.Handle); err != nil || got.UserID != "alice" {
		t.Fatalf("Get after Redis came back: %+v, %v", got, err)
	}
}

// The user index must outlive every record in it: if it expired first,
// List (and so RevokeUser, and the session limit) would miss a live
// session.
func TestRedisIndexOutlivesItsRecords(t *testing.T) {
	srv := redistest.Start(t)
	pool := srv.Pool()
	clock := storetest.NewClock()
	st := redisstore.New(pool, redisstore.WithPrefix("ix:"))
	st.UseClock(clock.Now)
	ctx := context.Background()
	now := clock.Now()
	long := storeext.Record{Handle: "00000000-0000-4000-8000-00000000000a", UserID: "alice", CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(2 * time.Hour)}
	short := storeext.Record{Handle: "00000000-0000-4000-8000-00000000000b", UserID: "alice", CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Minute)}
	for _, r := range []storeext.Record{long, short} {
		if err := st.Create(ctx, r, storeext.Limit{}); err != nil {
			t.Fatal(err)
		}
	}
	// A touch pushes the short one's expiry beyond the long one's.
	if _, err := st.Update(ctx, short.Handle, func(r *storeext.Record) error { r.ExpiresAt = now.Add(5 * time.Hour); return nil }); err != nil {
		t.Fatal(err)
	}
	c := pool.Get()
	defer c.Close()
	idx, _ := redis.Int64(c.Do("PTTL", "ix:u:alice"))
	for _, h := range []string{long.Handle, short.Handle} {
		rt, _ := redis.Int64(c.Do("PTTL", "ix:r:"+h))
		if rt <= 0 || idx < rt {
			t.Fatalf("index TTL %dms, record %s TTL %dms: the index would expire first", idx, h, rt)
		}
	}
	if k := keysWithoutTTL(t, pool, "ix:*"); len(k) != 0 {
		t.Fatalf("keys without a TTL: %v", k)
	}
}
