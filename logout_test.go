package ginsecure_test

// Logout ends the record, not just the browser's cookies: copies made
// before it are refused after it, and a request without the token cannot
// log anyone out.

import (
	"net/http"
	"testing"

	"github.com/ginsecure/ginsecure"
)

// TestLogoutKillsCopiedCookies: cookies copied before logout are refused
// right after it, on every store (the record decides, not the cookie).
func TestLogoutKillsCopiedCookies(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{})
		victim, thief := e.browser(), e.browser()
		victim.login("alice")
		victim.copyTo(thief)
		if r := thief.get("/me"); r.status != 200 {
			t.Fatalf("copy before logout: %d", r.status)
		}
		r := victim.post("/logout")
		if r.status != 200 {
			t.Fatalf("logout: %d %v", r.status, r.body)
		}
		for _, name := range []string{"app", tokCookieName} {
			if !expires(r.cookies, name) {
				t.Errorf("logout response does not expire %s: %v", name, r.header["Set-Cookie"])
			}
		}
		if r := thief.get("/me"); r.status != http.StatusUnauthorized {
			t.Fatalf("copied cookies after logout: /me %d %v", r.status, r.body)
		}
		if r := thief.get("/public"); r.user() != "" {
			t.Fatalf("copied cookies after logout: /public as %q", r.user())
		}
		if r := victim.get("/me"); r.status != http.StatusUnauthorized {
			t.Fatalf("victim after logout: %d", r.status)
		}
	})
}

func expires(cs []*http.Cookie, name string) bool {
	for _, c := range cs {
		if c.Name == name && c.MaxAge < 0 {
			return true
		}
	}
	return false
}

// TestSessionCookieAloneCannotLogVictimOut: Logout on a request that holds
// only the victim's session cookie (no token: distrusted) answers 401 and
// writes nothing; it deletes neither the victim's record nor, on memstore
// and Redis, her server-side session data.
func TestSessionCookieAloneCannotLogVictimOut(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{})
		victim, thief := e.browser(), e.browser()
		victim.login("alice")
		victim.post("/cart?item=alice-cart")
		thief.setCookie("app", victim.cookie("app"))
		if r := thief.post("/logout"); r.status != http.StatusUnauthorized || len(r.cookies) != 0 {
			t.Fatalf("token-less Logout: %d %v %v, want 401 no_session writing nothing", r.status, r.body, r.header["Set-Cookie"])
		}
		if r := victim.get("/cart"); r.user() != "alice" || r.body["cart"] != "alice-cart" {
			t.Fatalf("victim after a token-less Logout: %d %v (signed out / data gone)", r.status, r.body)
		}
	})
}

// TestLogoutOfReplacedCredentialsWritesNothing: a sign-out sent with the
// cookies from before a re-login arrives after it. Its token names a
// record the login replaced: dead credentials. It ends nothing that
// lives and writes no expiring cookie, which could land after the
// login's response and delete the new token (DESIGN.md, "Cookie writes").
func TestLogoutOfReplacedCredentialsWritesNothing(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{})
		b := e.browser()
		b.login("alice")
		before := b.header()
		b.login("alice") // the re-login's response reaches the browser
		r := e.send("POST", "/logout", before)
		if r.status != http.StatusOK {
			t.Fatalf("late sign-out with the replaced cookies: %d %v", r.status, r.body)
		}
		if len(r.cookies) != 0 {
			t.Fatalf("late sign-out with the replaced cookies wrote %v", r.header["Set-Cookie"])
		}
		b.apply(r) // lands after the re-login's
		if me := b.get("/me"); me.status != http.StatusOK || me.user() != "alice" {
			t.Fatalf("after a late sign-out of the replaced session: %d %v; want alice still signed in", me.status, me.body)
		}
	})
}
