package ginsecure_test

// A session cookie of another sign-in of the token's own user, put next to
// the token by a late response (DESIGN.md, "The user's other sessions").

import (
	"net/http"
	"testing"
	"time"

	"github.com/ginsecure/ginsecure"
)

// setCookieOf is the cookie named name that a reply sets, as a part of
// a Cookie header.
func setCookieOf(t *testing.T, r reply, name string) string {
	t.Helper()
	for _, c := range r.cookies {
		if c.Name == name && c.MaxAge >= 0 {
			return c.Name + "=" + c.Value
		}
	}
	t.Fatalf("no %s cookie in %v", name, r.header["Set-Cookie"])
	return ""
}

// TestDoubleSubmitsOtherSessionLandingLastIsHealed: a browser with no
// cookies submits the sign-in form twice: two records of alice, two
// sign-ins (DESIGN.md, "Cookieless sign-in"). It applies the first
// login's response and saves a cart with it; the second login's response
// lands, then the cart's (its session cookie alone, the first record's
// own session). The browser holds the second login's token next to the
// first record's session cookie: whichever login response landed last
// signs it in, so it stays signed in as alice and is served the second
// record's own session, whose cookie is sent again; the cart stays in
// the first record's session (DESIGN.md, "Writes": a write is served by
// the record it was written with). On the cookie store the cookie is the
// session, and its values (the cart) are adopted. Within the login's
// window or long after it alike: the session is the user's own, not a
// copy's, so no window applies.
func TestDoubleSubmitsOtherSessionLandingLastIsHealed(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		for _, late := range []bool{false, true} {
			e := newEnv(t, kind, ginsecure.Config{})
			b := e.browser()
			first := e.send(http.MethodPost, "/login?user=alice", "")
			second := e.send(http.MethodPost, "/login?user=alice", "")
			if first.user() != "alice" || second.user() != "alice" {
				t.Fatalf("logins: %d %v, %d %v", first.status, first.body, second.status, second.body)
			}
			b.apply(first)
			cart := e.send(http.MethodPost, "/cart?item=first-cart", b.header())
			if cart.status != http.StatusOK || cart.user() != "alice" {
				t.Fatalf("cart with the first login: %d %v", cart.status, cart.body)
			}
			b.apply(second)
			if late {
				expectSignedIn(t, b, "alice") // the second login's token presented
				e.clock.Advance(ginsecure.DefaultGracePeriod + time.Minute)
			}
			b.apply(cart) // the first record's session cookie, next to the second's token

			r := b.get("/cart")
			want := any(nil) // the second record's own session
			if kind == "cookie" {
				want = "first-cart" // the cookie applied last is the session
			}
			if r.status != http.StatusOK || r.user() != "alice" || r.body["cart"] != want || !hasCookie(r.cookies, "app") {
				t.Errorf("late=%v: the first record's session cookie next to the second's token: /cart %d %v, Set-Cookie %v; want alice, cart %v, the own session's cookie sent", late, r.status, r.body, r.header["Set-Cookie"], want)
			}
			if w := b.post("/cart?item=second-cart"); w.status != http.StatusOK || w.user() != "alice" {
				t.Errorf("late=%v: a write after it: %d %v", late, w.status, w.body)
			}
			if r := b.get("/cart"); r.user() != "alice" || r.body["cart"] != "second-cart" {
				t.Errorf("late=%v: read back: /cart %d %v", late, r.status, r.body)
			}
			// The first record and its session are as they were.
			if r := e.send(http.MethodGet, "/cart", setCookieOf(t, first, graceTokenCookie)+"; "+setCookieOf(t, cart, "app")); r.user() != "alice" || r.body["cart"] != "first-cart" {
				t.Errorf("late=%v: the first record's own pair: /cart %d %v; want alice with its cart", late, r.status, r.body)
			}
			if n := len(e.sessions(t, "alice")); n != 2 {
				t.Errorf("late=%v: %d records of alice, want 2 (nothing ended)", late, n)
			}
		}
	})
}

// TestSessionPutBackAfterTwoLoginsIsHealed: a write's session cookie put
// back after two later logins of the browser (each replacing the
// previous) is healed into the newest login's session when both logins
// are of the session's user: its marker names the middle record, of the
// same user (DESIGN.md, "The user's other sessions"). When another user
// signed in between (a shared computer), the marker names that user's
// record: the cookie is the previous user's, and stays foreign.
func TestSessionPutBackAfterTwoLoginsIsHealed(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		for _, middle := range []string{"alice", "bob"} {
			e := newEnv(t, kind, ginsecure.Config{})
			b := e.browser()
			b.login("alice")
			if w := b.post("/cart?item=alice-cart"); w.status != http.StatusOK || w.user() != "alice" {
				t.Fatalf("cart: %d %v", w.status, w.body)
			}
			first := b.cookie("app")
			b.login(middle)
			b.login("alice")
			b.setCookie("app", first) // a late response of the first record's write
			r := b.get("/cart")
			if middle == "bob" {
				if r.user() != "" || r.body["reason"] != "foreign_session" || r.body["cart"] != nil {
					t.Errorf("alice, bob, alice: the first session's cookie back: /cart %d %v; want anonymous, foreign, no data", r.status, r.body)
				}
				continue
			}
			if r.status != http.StatusOK || r.user() != "alice" || r.body["cart"] != "alice-cart" {
				t.Errorf("three logins of alice: the first session's cookie back: /cart %d %v, Set-Cookie %v; want alice with her cart", r.status, r.body, r.header["Set-Cookie"])
			}
			expectSignedIn(t, b, "alice")
		}
	})
}
