package ginsecure_test

// Idle and absolute timeouts, and how often activity is written.

import (
	"context"
	"testing"
	"time"

	"github.com/ginsecure/ginsecure"
)

// TestTimeouts: idle and absolute timeouts with a moved clock; activity is
// written at most once per TouchInterval.
func TestTimeouts(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{RotateEvery: -1})
		b := e.browser()
		b.login("alice")
		start := e.clock.Now()

		e.clock.Advance(30 * time.Second)
		b.get("/me")
		if seen := lastSeen(t, e, "alice"); !seen.Equal(start) {
			t.Fatalf("last-seen written before TouchInterval: %v", seen.Sub(start))
		}
		e.clock.Advance(31 * time.Second)
		b.get("/me")
		if seen := lastSeen(t, e, "alice"); !seen.Equal(start.Add(61 * time.Second)) {
			t.Fatalf("last-seen not written after TouchInterval: %v", seen.Sub(start))
		}

		// Idle: 29 minutes pass, still signed in; 31 more, signed out.
		e.clock.Advance(29 * time.Minute)
		if r := b.get("/me"); r.status != 200 {
			t.Fatalf("after 29m idle: %d %v", r.status, r.body)
		}
		e.clock.Advance(31 * time.Minute)
		if r := b.get("/me"); r.status != 401 || r.errCode() != "idle_timeout" {
			t.Fatalf("after 31m idle: %d %v", r.status, r.body)
		}
		if r := b.get("/public"); r.user() != "" {
			t.Fatal("idle session still authenticated on a public route")
		}

		// Absolute: active every 20 minutes, out after 12 hours.
		b2 := e.browser()
		b2.login("bob")
		for i := 0; i < 35; i++ { // 35 × 20m = 11h40m
			e.clock.Advance(20 * time.Minute)
			if r := b2.get("/me"); r.status != 200 {
				t.Fatalf("active session refused after %v: %d %v", time.Duration(i+1)*20*time.Minute, r.status, r.body)
			}
		}
		e.clock.Advance(21 * time.Minute)
		if r := b2.get("/me"); r.status != 401 || r.errCode() != "expired" {
			t.Fatalf("after 12h: %d %v", r.status, r.body)
		}
	})
}

func lastSeen(t *testing.T, e *env, user string) time.Time {
	t.Helper()
	recs, err := e.store.List(context.Background(), user)
	if err != nil || len(recs) != 1 {
		t.Fatalf("records of %s: %v %v", user, recs, err)
	}
	return recs[0].LastSeen
}
