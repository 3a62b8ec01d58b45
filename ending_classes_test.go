package ginsecure_test

// Variants of "Every ending is the same ending" and "Carry-over"
// (DESIGN.md, "Endings", "Carry-over") that the named cases do not cover:
// a copy of the cookies that wrote into the signed-in session before the
// ending and into the emptied one after it, endings the shared table does
// not hold (Logout, the absolute timeout, an eviction among three devices,
// RevokeSession by handle from another device, an IP mismatch), and a
// write in flight across each kind of revocation. End to end on every
// store.

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/ginsecure/ginsecure"
)

// endingVariants end alice's record on browser b while a copy of its
// cookies (thief) exists. Each returns nothing: the tests check only
// what every ending must share.
var endingVariants = map[string]struct {
	cfg ginsecure.Config
	end func(t *testing.T, e *env, b *browser)
}{
	"Logout by the browser": {end: func(t *testing.T, e *env, b *browser) {
		if r := b.post("/logout"); r.status != http.StatusOK {
			t.Fatalf("POST /logout: %d %v", r.status, r.body)
		}
	}},
	"absolute timeout while active": {cfg: ginsecure.Config{AbsoluteTimeout: time.Hour, IdleTimeout: 30 * time.Minute}, end: func(t *testing.T, e *env, b *browser) {
		for range 2 {
			e.clock.Advance(25 * time.Minute)
			if r := b.get("/me"); r.status != http.StatusOK {
				t.Fatalf("active before the absolute timeout: %d %v", r.status, r.body)
			}
		}
		e.clock.Advance(15 * time.Minute) // 65 min after the login
		if r := b.get("/me"); r.status != http.StatusUnauthorized {
			t.Fatalf("past the absolute timeout: %d %v; want 401", r.status, r.body)
		}
	}},
	"evicted, limit 2, third device": {cfg: ginsecure.Config{MaxSessionsPerUser: 2}, end: func(t *testing.T, e *env, b *browser) {
		e.clock.Advance(2 * time.Minute)
		e.browser().login("alice")
		e.clock.Advance(2 * time.Minute)
		e.browser().login("alice")
	}},
	"RevokeSession by handle from another device": {cfg: ginsecure.Config{}, end: func(t *testing.T, e *env, b *browser) {
		h := b.ownHandle()
		other := e.browser()
		other.login("alice")
		if err := e.guard.RevokeSession(context.Background(), "alice", h); err != nil {
			t.Fatalf("RevokeSession: %v", err)
		}
		if r := other.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
			t.Fatalf("the other device after RevokeSession: %d %v", r.status, r.body)
		}
	}},
	"IP mismatch from a third copy": {cfg: ginsecure.Config{}, end: func(t *testing.T, e *env, b *browser) {
		away := e.browserFrom("127.0.0.9")
		b.copyTo(away)
		if r := away.get("/public"); r.user() != "" || r.body["reason"] != "ip_mismatch" {
			t.Fatalf("a copy from another network: %d %v; want anonymous ip_mismatch", r.status, r.body)
		}
	}},
}

// TestEndingHidesWhatACopyWroteBeforeAndAfter: a thief's copy of alice's
// cookies writes into her signed-in session (it is signed in: the write
// is served), then the record ends. Neither the browser nor the copy reads
// either write afterwards; what the copy writes after the ending is its
// own anonymous data; alice's next login on the browser starts empty, the
// copy reads nothing of what alice writes after it, and a login of the
// copy's holder to its own account starts empty too.
func TestEndingHidesWhatACopyWroteBeforeAndAfter(t *testing.T) {
	for name, how := range endingVariants {
		t.Run(name, func(t *testing.T) {
			forEachStore(t, func(t *testing.T, kind string) {
				e := newEnv(t, kind, how.cfg)
				b := e.browserFrom("127.0.0.1")
				thief := e.browserFrom("127.0.0.1") // behind the same NAT
				b.login("alice")
				if r := b.post("/cart?item=alice-card-4111"); r.status != http.StatusOK || r.user() != "alice" {
					t.Fatalf("alice's write: %d %v", r.status, r.body)
				}
				b.copyTo(thief)
				if r := thief.post("/cart?item=thief-before"); r.status != http.StatusOK || r.user() != "alice" {
					t.Fatalf("the copy's write before the ending: %d %v; want 200 as alice", r.status, r.body)
				}
				how.end(t, e, b)
				for who, x := range map[string]*browser{"browser": b, "copy": thief} {
					if r := x.get("/cart"); r.status != http.StatusOK || r.user() != "" || r.body["cart"] != nil {
						t.Errorf("%s after the ending, GET /cart: %d %v; want anonymous, no cart", who, r.status, r.body)
					}
				}
				if r := thief.post("/cart?item=thief-after"); r.status != http.StatusOK || r.user() != "" {
					t.Errorf("the copy's write after the ending: %d %v; want 200 anonymous", r.status, r.body)
				}
				b.login("alice")
				if r := b.get("/cart"); r.user() != "alice" || r.body["cart"] != nil {
					t.Errorf("alice signed in again on the browser: %v; want an empty cart", r.body)
				}
				if r := b.post("/cart?item=alice-new"); r.status != http.StatusOK || r.user() != "alice" {
					t.Fatalf("alice's write after signing in again: %d %v", r.status, r.body)
				}
				if r := thief.get("/cart"); r.user() != "" || r.body["cart"] == "alice-new" || r.body["cart"] == "alice-card-4111" || r.body["cart"] == "thief-before" {
					t.Errorf("the copy after alice signed in again: %v; want anonymous, none of alice's data", r.body)
				}
				if r := thief.get("/me"); r.status != http.StatusUnauthorized {
					t.Errorf("the copy after alice signed in again, GET /me: %d %v; want 401", r.status, r.body)
				}
				thief.login("mallory")
				if r := thief.get("/cart"); r.user() != "mallory" || r.body["cart"] != nil {
					t.Errorf("the copy's holder signed in to its own account: %v; want an empty cart", r.body)
				}
				if r := b.get("/cart"); r.user() != "alice" || r.body["cart"] != "alice-new" {
					t.Errorf("alice after the copy's login: %v; want alice with alice-new", r.body)
				}
			})
		})
	}
}

// revocationsInFlight end alice's record on b while one of b's writes is
// verified and held.
var revocationsInFlight = map[string]struct {
	cfg ginsecure.Config
	end func(t *testing.T, e *env, b *browser, handle string)
}{
	"RevokeSession": {end: func(t *testing.T, e *env, b *browser, handle string) {
		if err := e.guard.RevokeSession(context.Background(), "alice", handle); err != nil {
			t.Fatalf("RevokeSession: %v", err)
		}
	}},
	"RevokeOthers from another device": {end: func(t *testing.T, e *env, b *browser, handle string) {
		other := e.browser()
		other.login("alice")
		if r := other.post("/me/revoke-others"); r.status != http.StatusOK || r.body["revoked"] != float64(1) {
			t.Fatalf("RevokeOthers: %d %v", r.status, r.body)
		}
	}},
	"evicted by a login elsewhere": {cfg: ginsecure.Config{MaxSessionsPerUser: 1}, end: func(t *testing.T, e *env, b *browser, handle string) {
		e.clock.Advance(time.Minute)
		e.browser().login("alice")
	}},
	"Logout by a copy": {end: func(t *testing.T, e *env, b *browser, handle string) {
		c := b.clone()
		if r := c.post("/logout"); r.status != http.StatusOK {
			t.Fatalf("Logout by a copy: %d %v", r.status, r.body)
		}
	}},
}

// TestEndingRefusesAWriteInFlightForEveryRevocation: a write verified
// before the ending and saved after it gets 409 stale_credentials,
// whichever revocation ended the record; the browser then reads nothing of
// the ended session, and nothing of the refused write.
func TestEndingRefusesAWriteInFlightForEveryRevocation(t *testing.T) {
	for name, how := range revocationsInFlight {
		t.Run(name, func(t *testing.T) {
			forEachStore(t, func(t *testing.T, kind string) {
				e := newEnv(t, kind, how.cfg)
				b := e.browser()
				b.login("alice")
				b.post("/cart?item=alice-card-4111")
				h := b.ownHandle()
				release := e.holdAt(t, "/hold/auth?id=slow&write=late", "slow", b.header())
				how.end(t, e, b, h)
				r := release()
				if r.status != http.StatusConflict || r.errCode() != "stale_credentials" {
					t.Errorf("a write verified before the ending, saved after it: %d %v; want 409 stale_credentials", r.status, r.body)
				}
				b.apply(r)
				if got := b.get("/cart"); got.user() != "" || got.body["cart"] != nil {
					t.Errorf("after the refused write: %v; want anonymous, no cart", got.body)
				}
				b.login("alice")
				if got := b.get("/cart"); got.body["cart"] != nil {
					t.Errorf("alice signed in again: %v; want an empty cart", got.body)
				}
			})
		})
	}
}

// TestRevokeOthersEndsAnUnpresentedSignIn: another device of alice's has
// signed in but not yet made its first request when alice changes her
// password (RevokeOthers). That sign-in ends too: its first request is
// refused as revoked, and it reads nothing.
func TestRevokeOthersEndsAnUnpresentedSignIn(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{})
		b, pending := e.browser(), e.browser()
		b.login("alice")
		pending.signIn("alice")
		if r := b.post("/me/revoke-others"); r.status != http.StatusOK || r.body["revoked"] != float64(1) {
			t.Errorf("RevokeOthers with an unpresented sign-in of the user: %d %v; want revoked 1", r.status, r.body)
		}
		if r := pending.get("/me"); r.status != http.StatusUnauthorized || r.errCode() != "revoked" {
			t.Errorf("the unpresented sign-in after RevokeOthers: %d %v; want 401 revoked", r.status, r.body)
		}
		expectSignedIn(t, b, "alice")
	})
}
