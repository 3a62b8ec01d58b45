package ginsecure_test

// An account with many sessions: the sessions page lists a bounded number
// of them, and RevokeUser ends every one, in batches on Redis (DESIGN.md,
// "User-to-session binding").

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/ginsecure/ginsecure"
	"github.com/ginsecure/ginsecure/storeext"
	"github.com/gomodule/redigo/redis"
)

// manySessions gives user n presented records straight in the store, the
// i-th last active i minutes ago.
func manySessions(t *testing.T, e *env, user string, n int) []string {
	t.Helper()
	now := e.clock.Now()
	handles := make([]string, n)
	for i := 0; i < n; i++ {
		h := fmt.Sprintf("%s-%04d-handle-of-many-sessions", user, i)
		handles[i] = h
		seen := now.Add(-time.Duration(i) * time.Minute)
		rec := storeext.Record{Handle: h, UserID: user, SessionID: "sid-" + h, TokenHash: [32]byte{1},
			IssuedAt: seen, CreatedAt: seen, AuthAt: seen, LastSeen: seen, ExpiresAt: now.Add(time.Hour)}
		if err := e.store.Create(context.Background(), rec, storeext.Limit{}); err != nil {
			t.Fatal(err)
		}
	}
	return handles
}

func TestSessionsListsTheMostRecentlyActiveOnly(t *testing.T) {
	for _, kind := range []string{"memstore", "redis"} {
		t.Run(kind, func(t *testing.T) {
			e := newEnv(t, kind, ginsecure.Config{})
			const n = ginsecure.MaxListedSessions + 5
			handles := manySessions(t, e, "alice", n)
			list, err := e.guard.Sessions(context.Background(), "alice")
			if err != nil || len(list) != ginsecure.MaxListedSessions {
				t.Fatalf("Sessions of %d: %d listed, %v; want %d", n, len(list), err, ginsecure.MaxListedSessions)
			}
			listed := map[string]bool{}
			for i, s := range list {
				listed[s.Handle] = true
				if i > 0 && s.Created.Before(list[i-1].Created) {
					t.Fatalf("not oldest first: %v before %v", list[i-1].Created, s.Created)
				}
			}
			for i, h := range handles {
				if want := i < ginsecure.MaxListedSessions; listed[h] != want {
					t.Errorf("session last active %d min ago listed %v, want %v", i, listed[h], want)
				}
			}
		})
	}
}

// RevokeUser ends every session of an account with more than a batch of
// them, and counts each once.
func TestRevokeUserEndsEverySessionOfALargeAccount(t *testing.T) {
	for _, kind := range []string{"memstore", "redis"} {
		t.Run(kind, func(t *testing.T) {
			e := newEnv(t, kind, ginsecure.Config{})
			const n = 150
			handles := manySessions(t, e, "alice", n)
			manySessions(t, e, "bob", 3)
			got, err := e.guard.RevokeUser(context.Background(), "alice")
			if err != nil || got != n {
				t.Fatalf("RevokeUser: %d, %v; want %d", got, err, n)
			}
			for _, h := range handles {
				if r, err := e.store.Get(context.Background(), h); err != nil || r.Revoked == "" {
					t.Fatalf("session %s after RevokeUser: %q, %v", h, r.Revoked, err)
				}
			}
			if s, err := e.guard.Sessions(context.Background(), "bob"); err != nil || len(s) != 3 {
				t.Fatalf("bob's sessions: %d, %v", len(s), err)
			}
		})
	}
}

// RevokeUser of an account with more sessions than one batch retires
// every one of them, the last batch's included: a tombstone under each
// session's marker key and, where the sessions live in Redis, their data
// deleted; one revoke event per session.
func TestRevokeUserRetiresEverySessionOfALargeAccount(t *testing.T) {
	for _, kind := range append(storeKinds, "redis-gincontrib") {
		t.Run(kind, func(t *testing.T) {
			e := newEnv(t, kind, ginsecure.Config{})
			const n = 40 // a batch of 32 and a part of one
			for range n {
				b := e.browser()
				b.login("alice")
				if r := b.post("/cart?item=book"); r.status != http.StatusOK {
					t.Fatalf("cart: %d %v", r.status, r.body)
				}
			}
			ctx := context.Background()
			var keys, data []string
			for _, s := range e.sessions(t, "alice") {
				r, err := e.store.Get(ctx, s.Handle)
				if err != nil {
					t.Fatal(err)
				}
				prefix := "s:"
				if r.SessionID == r.Handle {
					prefix = "c:"
				}
				keys, data = append(keys, prefix+r.SessionID), append(data, "session_"+r.SessionID)
			}
			if len(keys) != n {
				t.Fatalf("%d sessions listed, want %d", len(keys), n)
			}
			if isRedis(kind) && existingKeys(t, e, data) != n {
				t.Fatalf("the sessions' data is not under %v", data[:1])
			}
			e.events.reset()
			if got, err := e.guard.RevokeUser(ctx, "alice"); err != nil || got != n {
				t.Fatalf("RevokeUser: %d, %v; want %d", got, err, n)
			}
			if c := e.events.count(ginsecure.EventRevoke); c != n {
				t.Errorf("%d revoke events, want %d", c, n)
			}
			for _, k := range keys {
				if m, err := e.store.GetMarker(ctx, k); err != nil || m.Handle != "" {
					t.Errorf("marker %s after RevokeUser: %+v, %v; want a tombstone", k, m, err)
				}
			}
			if isRedis(kind) {
				if left := existingKeys(t, e, data); left != 0 {
					t.Errorf("%d sessions' data left in Redis", left)
				}
			}
		})
	}
}

// existingKeys counts which of keys exist on e's Redis.
func existingKeys(t *testing.T, e *env, keys []string) int {
	t.Helper()
	c, err := redis.Dial("unix", e.redis.Socket)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	args := make([]any, len(keys))
	for i, k := range keys {
		args[i] = k
	}
	got, err := redis.Int(c.Do("EXISTS", args...))
	if err != nil {
		t.Fatal(err)
	}
	return got
}
