package ginsecure_test

// Variants of "gin-contrib's logout idiom is a logout" (DESIGN.md, "The
// logout idiom"): on a healed request (the pre-login session cookie put
// back beside the current token), with the pre-Renew token while the Renew
// is unconfirmed, without Clear, on an anonymous request, and on the
// credentials of a record that already ended.

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/ginsecure/ginsecure"
)

// wantLoggedOutByIdiom checks an idiom's response and that a copy of the
// cookies taken before it is signed out, and alice has no session.
func wantLoggedOutByIdiom(t *testing.T, e *env, r reply, copyOf *browser) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("logout idiom: %d %v", r.status, r.body)
	}
	for _, name := range []string{"app", tokCookieName} {
		if !expires(r.cookies, name) {
			t.Errorf("logout idiom does not expire %s: %v", name, r.header["Set-Cookie"])
		}
	}
	if got := copyOf.get("/me"); got.status != http.StatusUnauthorized {
		t.Errorf("a copy of the cookies after the logout idiom: /me %d %v; want 401", got.status, got.body)
	}
	if got := copyOf.get("/cart"); got.user() != "" || got.body["cart"] != nil {
		t.Errorf("a copy of the cookies after the logout idiom: /cart %v; want anonymous, no cart", got.body)
	}
	if n := len(e.sessions(t, "alice")); n != 0 {
		t.Errorf("alice has %d sessions after the logout idiom; want 0", n)
	}
}

// TestLogoutIdiomOnAHealedRequest: the pre-login session cookie came back
// beside the current token (a straggler's response); the idiom there, with
// and without Clear, is a logout.
func TestLogoutIdiomOnAHealedRequest(t *testing.T) {
	for _, path := range []string{"/bye?clear=1", "/bye"} {
		t.Run(path, func(t *testing.T) {
			forEachStore(t, func(t *testing.T, kind string) {
				e := newEnv(t, kind, graceConfig(graceWindow), withRoutes(logoutIdiomRoutes))
				b := e.browser()
				b.post("/cart?item=pre")
				pre := b.cookie("app")
				b.login("alice")
				b.post("/cart?item=alice-card")
				thief := b.clone()
				e.clock.Advance(time.Minute)
				b.setCookie("app", pre)
				wantLoggedOutByIdiom(t, e, b.post(path), thief)
			})
		})
	}
}

// TestLogoutIdiomWithThePreRenewToken: a Renew's response has not landed;
// the browser, still on its pre-Renew token within the unconfirmed grace,
// logs out with the idiom. The record ends: the Renew's token, when its
// response lands, opens nothing.
func TestLogoutIdiomWithThePreRenewToken(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, graceConfig(graceWindow), withRoutes(logoutIdiomRoutes))
		b := e.browser()
		b.login("alice")
		thief := b.clone()
		late := e.send("POST", "/renew", b.header())
		if late.status != http.StatusOK || tokenOf(late.cookies) == "" {
			t.Fatalf("renew: %d %v", late.status, late.body)
		}
		e.clock.Advance(5 * time.Second)
		r := b.post("/bye?clear=1")
		wantLoggedOutByIdiom(t, e, r, thief)
		b.apply(late)
		if got := b.get("/me"); got.status != http.StatusUnauthorized {
			t.Errorf("the Renew's response landing after the logout idiom: /me %d %v; want 401", got.status, got.body)
		}
	})
}

// TestLogoutIdiomOnEndedCredentialsExpiresNoToken: after RevokeUser the
// browser runs the idiom. Its credentials are dead: no ending to make, so
// no expiring token cookie (one could land after a newer login's
// response), and nothing 5xx.
func TestLogoutIdiomOnEndedCredentialsExpiresNoToken(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{}, withRoutes(logoutIdiomRoutes))
		b := e.browser()
		b.login("alice")
		if _, err := e.guard.RevokeUser(context.Background(), "alice"); err != nil {
			t.Fatal(err)
		}
		r := b.post("/bye?clear=1")
		if r.status >= 500 {
			t.Fatalf("logout idiom on revoked credentials: %d %v", r.status, r.body)
		}
		if expires(r.cookies, tokCookieName) {
			t.Errorf("logout idiom on revoked credentials expired the token cookie: %v", r.header["Set-Cookie"])
		}
		b.login("alice")
		expectSignedIn(t, b, "alice")
	})
}

// TestLogoutIdiomOnAnAnonymousSessionDeletesIt: the idiom on an anonymous
// request deletes the anonymous session as gin-contrib does (the cookie
// expires, a Redis key goes), sends no token cookie, and the browser's
// next write starts afresh.
func TestLogoutIdiomOnAnAnonymousSessionDeletesIt(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{}, withRoutes(logoutIdiomRoutes))
		b := e.browser()
		b.post("/cart?item=guest")
		var key string
		if isRedis(kind) {
			key = "session_" + sessionID(t, kind, b.cookie("app"))
		}
		r := b.post("/bye?clear=1")
		if r.status != http.StatusOK || !expires(r.cookies, "app") || hasCookie(r.cookies, tokCookieName) {
			t.Fatalf("logout idiom on an anonymous session: %d %v %v; want 200, the session cookie expired, no token cookie", r.status, r.body, r.header["Set-Cookie"])
		}
		if key != "" {
			c := e.redis.Pool().Get()
			defer c.Close()
			if n, err := c.Do("EXISTS", key); err != nil || n != int64(0) {
				t.Errorf("the anonymous session is still in Redis (%v %v)", n, err)
			}
		}
		if got := b.get("/cart"); got.body["cart"] != nil {
			t.Errorf("after the idiom: %v; want no cart", got.body)
		}
	})
}

// TestLogoutIdiomOnAnAnonymousSessionDeletesItForEveryCopy: the session the
// idiom deletes on an anonymous request is the one every holder of a copy
// of its cookie reads (memstore, Redis): nothing tells a thief's copy, or
// another browser's, apart from the original, and after the idiom a copy
// reads no cart. On the cookie store the data is each holder's copy, and a
// copy keeps its own (DESIGN.md, "The logout idiom").
func TestLogoutIdiomOnAnAnonymousSessionDeletesItForEveryCopy(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{}, withRoutes(logoutIdiomRoutes))
		b := e.browser()
		b.post("/cart?item=guest")
		other := b.clone()
		if r := other.post("/bye?clear=1"); r.status != http.StatusOK || !expires(r.cookies, "app") {
			t.Fatalf("logout idiom on a copy of an anonymous session: %d %v %v", r.status, r.body, r.header["Set-Cookie"])
		}
		got := b.get("/cart")
		if got.user() != "" {
			t.Fatalf("the original after a copy's idiom: %v; want anonymous", got.body)
		}
		want := any(nil)
		if kind == "cookie" {
			want = "guest"
		}
		if got.body["cart"] != want {
			t.Errorf("the original after a copy's idiom on %s: cart %v; want %v", kind, got.body["cart"], want)
		}
	})
}
