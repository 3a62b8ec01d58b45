package redisstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ginsecure/ginsecure"
	"github.com/ginsecure/ginsecure/internal/redistest"
	"github.com/ginsecure/ginsecure/redisstore"
	"github.com/ginsecure/ginsecure/storeext"
	"github.com/gomodule/redigo/redis"
)

func liveRecord(handle, user string, now time.Time) storeext.Record {
	return storeext.Record{
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
	var st storeext.SharedRedis = redisstore.New(pool, redisstore.WithPrefix("cs:"))
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

	if err := st.CreateWithSession(ctx, liveRecord("h1", "alice", now), storeext.Limit{Max: 1, Reject: true}, "session_A", []byte("payload-A"), 90*time.Second); err != nil {
		t.Fatalf("CreateWithSession: %v", err)
	}
	if v, err := redis.String(c.Do("GET", "session_A")); err != nil || v != "payload-A" {
		t.Fatalf("the session: %q, %v", v, err)
	}
	if ttl, err := redis.Int(c.Do("TTL", "session_A")); err != nil || ttl < 85 || ttl > 90 {
		t.Fatalf("the session's TTL: %d, %v; want 90 s", ttl, err)
	}
	if r, err := st.(storeext.Store).Get(ctx, "h1"); err != nil || r.UserID != "alice" || r.Seq == 0 {
		t.Fatalf("the record: %+v, %v", r, err)
	}
	if l, err := st.(storeext.Store).List(ctx, "alice"); err != nil || len(l) != 1 {
		t.Fatalf("the index: %v, %v", l, err)
	}

	// Over the limit: nothing written, the session neither.
	err := st.CreateWithSession(ctx, liveRecord("h2", "alice", now), storeext.Limit{Max: 1, Reject: true}, "session_B", []byte("payload-B"), time.Minute)
	if !errors.Is(err, ginsecure.ErrTooManySessions) {
		t.Fatalf("over the limit: %v, want ErrTooManySessions", err)
	}
	if exists("session_B") || exists("cs:r:h2") {
		t.Fatal("a create refused over the limit wrote its session or record")
	}

	// A live record under the handle: refused, the session not written.
	if err := st.CreateWithSession(ctx, liveRecord("h1", "bob", now), storeext.Limit{}, "session_C", []byte("payload-C"), time.Minute); err == nil {
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
	if err := st.Create(ctx, liveRecord("h1", "alice", now), storeext.Limit{}); err != nil {
		t.Fatal(err)
	}
	held, err := st.Get(ctx, "h1")
	if err != nil {
		t.Fatal(err)
	}
	touch := func(r *storeext.Record) error { r.LastSeen = r.LastSeen.Add(time.Second); return nil }
	// The script is loaded (EVALSHA) before counting.
	if held, err = st.UpdateHeld(ctx, held, touch); err != nil {
		t.Fatal(err)
	}
	srv.ResetStats()
	if _, err := st.UpdateHeld(ctx, held, touch); err != nil {
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

// SetMarkerReadSession sets the marker as SetMarker does and reads the
// session once it is set; where a marker is there already it changes and
// reads nothing.
func TestSetMarkerReadSession(t *testing.T) {
	srv := redistest.Start(t)
	pool := srv.Pool()
	st := redisstore.New(pool, redisstore.WithPrefix("mr:"))
	var sh storeext.SharedRedis = st
	ctx, now := context.Background(), time.Now()
	c := pool.Get()
	defer c.Close()
	if _, err := c.Do("SET", "session_A", "payload-A"); err != nil {
		t.Fatal(err)
	}
	m := storeext.Marker{Handle: "h1", At: now, ExpiresAt: now.Add(time.Hour)}
	v, err := sh.SetMarkerReadSession(ctx, "s:A", m, "session_A")
	if err != nil || string(v) != "payload-A" {
		t.Fatalf("SetMarkerReadSession: %q, %v", v, err)
	}
	if got, err := st.GetMarker(ctx, "s:A"); err != nil || got.Handle != "h1" {
		t.Fatalf("the marker: %+v, %v", got, err)
	}
	// Set once: a second marker is refused, the first stays.
	v, err = sh.SetMarkerReadSession(ctx, "s:A", storeext.Marker{Handle: "h2", At: now, ExpiresAt: now.Add(time.Hour)}, "session_A")
	if !errors.Is(err, storeext.ErrMarkerExists) || v != nil {
		t.Fatalf("over a live marker: %q, %v; want ErrMarkerExists", v, err)
	}
	if got, _ := st.GetMarker(ctx, "s:A"); got.Handle != "h1" {
		t.Fatalf("a refused marker replaced the first: %+v", got)
	}
	// A tombstone gives way to a marker naming a record; no session: nil.
	if err := st.SetMarker(ctx, "s:B", storeext.Marker{At: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if v, err := sh.SetMarkerReadSession(ctx, "s:B", m, "session_B"); err != nil || v != nil {
		t.Fatalf("over a tombstone, no session: %q, %v", v, err)
	}
	if got, _ := st.GetMarker(ctx, "s:B"); got.Handle != "h1" {
		t.Fatalf("the marker over the tombstone: %+v", got)
	}
}

// UpdateHeldDeletingSession deletes the session only with the record's
// write: not when fn refuses, not when the record is gone; and with a
// stale held record it writes, and deletes, from the stored one.
func TestUpdateHeldDeletingSessionDeletesOnlyWithTheWrite(t *testing.T) {
	srv := redistest.Start(t)
	pool := srv.Pool()
	st := redisstore.New(pool, redisstore.WithPrefix("ud:"))
	var sh storeext.SharedRedis = st
	ctx, now := context.Background(), time.Now()
	c := pool.Get()
	defer c.Close()
	session := func(set bool) bool {
		if set {
			if _, err := c.Do("SET", "session_X", "x"); err != nil {
				t.Fatal(err)
			}
		}
		n, err := redis.Int(c.Do("EXISTS", "session_X"))
		if err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	if err := st.Create(ctx, liveRecord("h1", "alice", now), storeext.Limit{}); err != nil {
		t.Fatal(err)
	}
	held, _ := st.Get(ctx, "h1")
	retire := func(r *storeext.Record) error { r.Revoked = storeext.RevokedReplaced; return nil }

	session(true)
	boom := errors.New("boom")
	if _, err := sh.UpdateHeldDeletingSession(ctx, held, func(*storeext.Record) error { return boom }, "session_X"); !errors.Is(err, boom) {
		t.Fatalf("fn's error: %v", err)
	}
	if !session(false) {
		t.Fatal("a refused update deleted the session")
	}

	// Stale: another write came since held was read.
	if _, err := st.Update(ctx, "h1", func(r *storeext.Record) error { r.UserAgent = "moved"; return nil }); err != nil {
		t.Fatal(err)
	}
	// fn accepts held but refuses the stored record: the compare against
	// held fails, and nothing is written or deleted.
	refuseMoved := func(r *storeext.Record) error {
		if r.UserAgent == "moved" {
			return boom
		}
		return retire(r)
	}
	if _, err := sh.UpdateHeldDeletingSession(ctx, held, refuseMoved, "session_X"); !errors.Is(err, boom) {
		t.Fatalf("fn refusing the stored record: %v", err)
	}
	if !session(false) {
		t.Fatal("a compare that failed deleted the session")
	}
	got, err := sh.UpdateHeldDeletingSession(ctx, held, retire, "session_X")
	if err != nil || got.Revoked != storeext.RevokedReplaced || got.UserAgent != "moved" {
		t.Fatalf("from a stale record: %+v, %v", got, err)
	}
	if session(false) {
		t.Fatal("the write did not delete the session")
	}
	if l, _ := st.List(ctx, "alice"); len(l) != 0 {
		t.Fatalf("the retired record is still listed: %v", l)
	}

	session(true)
	if err := st.Delete(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	if _, err := sh.UpdateHeldDeletingSession(ctx, got, retire, "session_X"); !errors.Is(err, storeext.ErrNotFound) {
		t.Fatalf("a deleted record: %v, want ErrNotFound", err)
	}
	if !session(false) {
		t.Fatal("an update of a deleted record deleted the session")
	}
}
