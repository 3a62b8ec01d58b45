package ginsecure_test

// The user's index is a key with a TTL: under an allkeys-* or volatile-*
// eviction policy Redis may drop it (or an operator may delete it) while
// the user's records live. RevokeUser, RevokeOthers and the session limit
// must still end every session created before they return: the store's
// revocation mark, ordered by Redis and kept without TTL, covers what the
// index no longer lists (DESIGN.md, "User-to-session binding").

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/ginsecure/ginsecure"
)

// dropIndex deletes the user's index key, as an eviction would.
func dropIndex(t *testing.T, e *env, user string) {
	t.Helper()
	c := e.redis.Pool().Get()
	defer c.Close()
	n, err := c.Do("DEL", "gs:u:"+user)
	if err != nil || n.(int64) != 1 {
		t.Fatalf("DEL of the index: %v, %v (the test would prove nothing)", n, err)
	}
}

func TestRedisRevokeUserEndsEverySessionAfterTheIndexWasLost(t *testing.T) {
	for _, kind := range []string{"redis", "redis-2pools", "redis-gincontrib"} {
		t.Run(kind, func(t *testing.T) {
			e := newEnv(t, kind, ginsecure.Config{})
			laptop, phone, bob := e.device("127.0.0.1", "laptop"), e.device("127.0.0.2", "phone"), e.device("127.0.0.3", "bob")
			laptop.login("alice")
			phone.login("alice")
			bob.login("bob")
			dropIndex(t, e, "alice")
			if _, err := e.guard.RevokeUser(context.Background(), "alice"); err != nil {
				t.Fatal(err)
			}
			for name, br := range map[string]*browser{"laptop": laptop, "phone": phone} {
				if r := br.get("/me"); r.status != http.StatusUnauthorized {
					t.Errorf("%s after RevokeUser with the index lost: %d %v, want 401", name, r.status, r.body)
				}
			}
			if s, err := e.guard.Sessions(context.Background(), "alice"); err != nil || len(s) != 0 {
				t.Errorf("alice's sessions after RevokeUser: %v, %v", s, err)
			}
			expectSignedIn(t, bob, "bob")
			// A login after the revocation is not covered by it.
			tablet := e.device("127.0.0.4", "tablet")
			tablet.login("alice")
			expectSignedIn(t, tablet, "alice")
		})
	}
}

func TestRedisRevokeOthersEndsEverySessionAfterTheIndexWasLost(t *testing.T) {
	e := newEnv(t, "redis", ginsecure.Config{})
	laptop, phone, tablet := e.device("127.0.0.1", "laptop"), e.device("127.0.0.2", "phone"), e.device("127.0.0.3", "tablet")
	phone.login("alice")
	laptop.login("alice")
	dropIndex(t, e, "alice")
	tablet.login("alice") // after the loss: the index lists it alone
	if r := laptop.post("/me/revoke-others"); r.status != http.StatusOK {
		t.Fatalf("revoke others: %d %v", r.status, r.body)
	}
	expectSignedIn(t, laptop, "alice")
	for name, br := range map[string]*browser{"phone": phone, "tablet": tablet} {
		if r := br.get("/me"); r.status != http.StatusUnauthorized {
			t.Errorf("%s after RevokeOthers with the index lost: %d %v, want 401", name, r.status, r.body)
		}
	}
	// The laptop asks again: it is spared again, and what a RevokeUser
	// ended stays ended even when a later RevokeOthers moves the mark.
	if _, err := e.guard.RevokeUser(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	if r := laptop.get("/me"); r.status != http.StatusUnauthorized {
		t.Errorf("laptop after RevokeUser: %d %v, want 401", r.status, r.body)
	}
}

// The session limit counts the index: a lost index cannot count the
// sessions it listed, so the first presentation under the limit signs out
// every session created before it (with RejectExtraLogins too: the limit
// holds, the new login is the one the user just made).
func TestRedisSessionLimitHoldsAfterTheIndexWasLost(t *testing.T) {
	for _, reject := range []bool{false, true} {
		e := newEnv(t, "redis", ginsecure.Config{MaxSessionsPerUser: 2, RejectExtraLogins: reject})
		older, newer := e.device("127.0.0.1", "older"), e.device("127.0.0.2", "newer")
		older.login("alice")
		e.clock.Advance(time.Minute)
		newer.login("alice")
		dropIndex(t, e, "alice")
		third := e.device("127.0.0.3", "third")
		third.login("alice")
		expectSignedIn(t, third, "alice")
		live := 0
		for _, br := range []*browser{older, newer} {
			if r := br.get("/me"); r.status == http.StatusOK {
				live++
			}
		}
		if live != 0 {
			t.Errorf("reject %v: %d of the sessions the lost index listed still signed in beside the new one, want 0", reject, live)
		}
	}
}
