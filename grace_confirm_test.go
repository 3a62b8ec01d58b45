package ginsecure_test

// The grace window runs from the moment the browser shows it received the
// new token, not from the moment the server minted it (see prevToken in
// grace.go): a rotating response that is slow, aborted or lost must not
// turn the browser's next requests into "replays".

import (
	"net/http"
	"testing"
	"time"

	"github.com/ginsecure/ginsecure"
)

// TestUnconfirmedRotation: the response carrying a new token never reaches
// the browser. Its old token is served as a straggler past GracePeriod, then
// reissued a fresh token; the lost token is worth nothing.
func TestUnconfirmedRotation(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{})
		b := e.browser()
		b.login("alice")
		e.clock.Advance(ginsecure.DefaultRotateEvery)

		// The rotating request leaves from a copy of the browser: its
		// Set-Cookie is lost (aborted navigation, hijacked connection).
		lost := e.browser()
		b.copyTo(lost)
		r := lost.get("/me")
		if !hasCookie(r.cookies, ginsecure.DefaultCookieName) {
			t.Fatalf("no rotation: %d %v", r.status, r.body)
		}

		// 5 s later (past GracePeriod) the browser still sends the old token.
		e.clock.Advance(5 * time.Second)
		r = b.get("/me")
		if r.status != http.StatusOK || r.user() != "alice" || hasCookie(r.cookies, ginsecure.DefaultCookieName) {
			t.Fatalf("old token of an unconfirmed rotation after 5s: %d %v %v", r.status, r.body, r.header["Set-Cookie"])
		}
		if e.events.count(ginsecure.EventReplay) != 0 {
			t.Fatal("an unconfirmed rotation produced a replay")
		}

		// Past the unconfirmed bound the browser is given a new token.
		e.clock.Advance(30 * time.Second)
		r = b.get("/me")
		if r.status != http.StatusOK || r.user() != "alice" || !hasCookie(r.cookies, ginsecure.DefaultCookieName) {
			t.Fatalf("old token after 35s: %d %v, want 200 with a reissued token", r.status, r.body)
		}
		if r := b.post("/me/write"); r.status != http.StatusOK || r.user() != "alice" {
			t.Fatalf("reissued token: %d %v", r.status, r.body)
		}
		if r := b.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
			t.Fatalf("browser on its reissued token: %d %v", r.status, r.body)
		}
		// The token that was set aside turns up after all: two parties
		// hold credentials of this session, so it is a replay and the
		// session ends for both.
		if r := lost.get("/me"); r.status != http.StatusUnauthorized || r.errCode() != "replay" {
			t.Fatalf("the abandoned token after the reissue: %d %v, want 401 replay", r.status, r.body)
		}
		if r := b.get("/me"); r.status != http.StatusUnauthorized {
			t.Fatalf("session survived an abandoned token's return: %d %v", r.status, r.body)
		}
	})
}

// TestSlowRotatingRequest: the rotating request takes longer than the grace
// period; the browser's parallel requests with the old token are served,
// and once the new token arrives both work until the window closes.
func TestSlowRotatingRequest(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{})
		b := e.browser()
		b.login("alice")
		e.clock.Advance(ginsecure.DefaultRotateEvery)
		old := e.browser()
		b.copyTo(old)
		rot := b.get("/me") // rotates; its answer "arrives" only now in the jar
		if !hasCookie(rot.cookies, ginsecure.DefaultCookieName) {
			t.Fatal("no rotation")
		}
		e.clock.Advance(4 * time.Second) // the slow response was still on its way
		if r := old.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
			t.Fatalf("parallel request during a slow rotation: %d %v", r.status, r.body)
		}
		// The new token is used for the first time: the window starts.
		if r := b.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
			t.Fatalf("new token: %d %v", r.status, r.body)
		}
		e.clock.Advance(ginsecure.DefaultGracePeriod)
		if r := old.get("/me"); r.status != http.StatusOK {
			t.Fatalf("straggler inside the window after confirmation: %d %v", r.status, r.body)
		}
		e.clock.Advance(time.Millisecond)
		if r := old.get("/me"); r.status != http.StatusUnauthorized || r.errCode() != "replay" {
			t.Fatalf("old token after the confirmed window: %d %v, want 401 replay", r.status, r.body)
		}
		if e.events.count(ginsecure.EventReplay) != 1 {
			t.Fatal("want one replay event")
		}
	})
}

// TestRenewOnTheRotatingRequest: a step-up that happens to be the first
// request after RotateEvery renews on the token it just minted.
func TestRenewOnTheRotatingRequest(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{})
		b := e.browser()
		b.login("alice")
		e.clock.Advance(ginsecure.DefaultRotateEvery)
		if r := b.post("/renew"); r.status != http.StatusOK || r.user() != "alice" {
			t.Fatalf("renew on the rotating request: %d %v", r.status, r.body)
		}
		if r := b.get("/admin"); r.status != http.StatusOK {
			t.Fatalf("/admin after renew: %d %v", r.status, r.body)
		}
	})
}

// TestWebSocketUpgradeDoesNotRotate: an upgrade answers with its own
// headers, so a token minted there would be lost.
func TestWebSocketUpgradeDoesNotRotate(t *testing.T) {
	e := newEnv(t, "memstore", ginsecure.Config{})
	b := e.browser()
	b.login("alice")
	e.clock.Advance(ginsecure.DefaultRotateEvery)
	r := b.do(http.MethodGet, "/me", "Upgrade", "websocket")
	if r.status != http.StatusOK || hasCookie(r.cookies, ginsecure.DefaultCookieName) {
		t.Fatalf("upgrade request: %d %v %v", r.status, r.body, r.header["Set-Cookie"])
	}
	if e.events.count(ginsecure.EventRotate) != 0 {
		t.Fatal("rotated on an upgrade request")
	}
	if r := b.get("/me"); !hasCookie(r.cookies, ginsecure.DefaultCookieName) {
		t.Fatal("the next ordinary request should rotate")
	}
}

// TestIdenticalAnonymousCookiesDoNotShareAMarker: on the cookie store two
// visitors saving the same cart in the same second must still get distinct
// cookies, so that one's login cannot make the other's writes stale.
func TestIdenticalAnonymousCookiesDoNotShareAMarker(t *testing.T) {
	e := newEnv(t, "cookie", ginsecure.Config{})
	a, b := e.browser(), e.browser()
	a.post("/cart?item=apple")
	b.post("/cart?item=apple")
	if a.cookie("app") == b.cookie("app") {
		t.Fatal("identical anonymous cookies")
	}
	a.login("mallory")
	if r := b.post("/cart?item=pear"); !hasCookie(r.cookies, "app") {
		t.Fatalf("the other visitor's write was dropped: %v", r.header["Set-Cookie"])
	}
	if r := b.get("/cart"); r.body["cart"] != "pear" {
		t.Fatalf("cart: %v", r.body)
	}
}
