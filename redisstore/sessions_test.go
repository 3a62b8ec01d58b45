package redisstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ginsecure/ginsecure"
	"github.com/ginsecure/ginsecure/internal/redistest"
	"github.com/ginsecure/ginsecure/redisstore"
	"github.com/gomodule/redigo/redis"
)

func liveRecord(handle, user string, now time.Time) ginsecure.Record {
	return ginsecure.Record{
		Handle: handle, UserID: user, SessionID: "SID-" + handle, TokenHash: [32]byte{1},
		IssuedAt: now, CreatedAt: now, AuthAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour),
	}
}

// CreateWithSession writes the session only with its record: a create
// that is refused (the limit, a live record under the handle) leaves the
// session's key unwritten.
func TestCreateWithSessionWritesTheSessionOnlyWithTheRecord(t *testing.T) {
	srv := redistest.Start(t)
	pool := srv.Pool()
	st := redisstore.New(pool, redisstore.WithPrefix("cs:")).(ginsecure.SharedRedis)
	ctx, now := context.Background(), time.Now()
	c := pool.Get()
	defer c.Close()
	exists := func(key string) bool {
		n, err := redis.Int(c.Do("EXISTS", key))
		if err != nil {
			t.Fatal(err)
		}
		return n == 1
	}

	if err := st.CreateWithSession(ctx, liveRecord("h1", "alice", now), ginsecure.Limit{Max: 1, Reject: true}, "session_A", []byte("payload-A"), 90*time.Second); err != nil {
		t.Fatalf("CreateWithSession: %v", err)
	}
	if v, err := redis.String(c.Do("GET", "session_A")); err != nil || v != "payload-A" {
		t.Fatalf("the session: %q, %v", v, err)
	}
	if ttl, err := redis.Int(c.Do("TTL", "session_A")); err != nil || ttl < 85 || ttl > 90 {
		t.Fatalf("the session's TTL: %d, %v; want 90 s", ttl, err)
	}
	if r, err := st.(ginsecure.Store).Get(ctx, "h1"); err != nil || r.UserID != "alice" || r.Seq == 0 {
		t.Fatalf("the record: %+v, %v", r, err)
	}
	if l, err := st.(ginsecure.Store).List(ctx, "alice"); err != nil || len(l) != 1 {
		t.Fatalf("the index: %v, %v", l, err)
	}

	// Over the limit: nothing written, the session neither.
	err := st.CreateWithSession(ctx, liveRecord("h2", "alice", now), ginsecure.Limit{Max: 1, Reject: true}, "session_B", []byte("payload-B"), time.Minute)
	if !errors.Is(err, ginsecure.ErrTooManySessions) {
		t.Fatalf("over the limit: %v, want ErrTooManySessions", err)
	}
	if exists("session_B") || exists("cs:r:h2") {
		t.Fatal("a create refused over the limit wrote its session or record")
	}

	// A live record under the handle: refused, the session not written.
	if err := st.CreateWithSession(ctx, liveRecord("h1", "bob", now), ginsecure.Limit{}, "session_C", []byte("payload-C"), time.Minute); err == nil {
		t.Fatal("a create over a live record succeeded")
	}
	if exists("session_C") || exists("cs:u:bob") {
		t.Fatal("a create refused for its handle wrote its session or index entry")
	}
}

// UpdateHeld of a record as read is one compare-and-set, without
// Update's GET.
func TestUpdateHeldIsOneRoundTrip(t *testing.T) {
	srv := redistest.Start(t)
	st := redisstore.New(srv.Pool(), redisstore.WithPrefix("uh:"))
	ctx, now := context.Background(), time.Now()
	if err := st.Create(ctx, liveRecord("h1", "alice", now), ginsecure.Limit{}); err != nil {
		t.Fatal(err)
	}
	held, err := st.Get(ctx, "h1")
	if err != nil {
		t.Fatal(err)
	}
	touch := func(r *ginsecure.Record) error { r.LastSeen = r.LastSeen.Add(time.Second); return nil }
	// The script is loaded (EVALSHA) before counting.
	if held, err = st.(ginsecure.HeldUpdater).UpdateHeld(ctx, held, touch); err != nil {
		t.Fatal(err)
	}
	srv.ResetStats()
	if _, err := st.(ginsecure.HeldUpdater).UpdateHeld(ctx, held, touch); err != nil {
		t.Fatal(err)
	}
	stats := srv.CommandStats()
	delete(stats, "info")
	delete(stats, "config|resetstat")
	// One EVALSHA; its GET is the script's own compare.
	if stats["evalsha"] != 1 || stats["get"] != 1 || stats["eval"] != 0 {
		t.Fatalf("UpdateHeld of the current record: %v; want one script and no GET of its own", stats)
	}
}
