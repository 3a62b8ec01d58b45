package ginsecure_test

// A request that rotated the token (a periodic rotation in its verify) is
// still a request of the session it was verified with: a Logout or a
// re-login that ends or retires that session while it is in flight must
// refuse its session write (ErrStaleCredentials), as it does for a request
// that did not rotate. Rotation mints a token, not a session.

import (
	"net/http"
	"testing"
	"time"

	"github.com/ginsecure/ginsecure"
)

// A slow request that performed the periodic rotation writes the session
// after the user signed out: the write must be refused, not recreate the
// ended session (with its signed-in data) and put its cookie back.
func TestRotatingWriterAfterLogoutIsRefused(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{RotateEvery: graceRotateEvery})
		b := e.browser()
		b.login("alice")
		if r := b.post("/cart?item=alice-private"); r.status != http.StatusOK {
			t.Fatalf("cart: %d %v", r.status, r.body)
		}
		e.clock.Advance(graceRotateEvery + time.Minute)
		hdr := b.header()
		release := e.holdAt(t, "/hold/auth?id=slow&write=late", "slow", hdr) // rotates the token on entry
		lo := e.send("POST", "/logout", hdr)                                 // the user signs out meanwhile
		if lo.status != http.StatusOK {
			t.Fatalf("logout: %d %v", lo.status, lo.body)
		}
		r := release()
		if r.status != http.StatusConflict || hasCookie(r.cookies, "app") {
			t.Errorf("write of the signed-out session by a request that rotated: %d %v, Set-Cookie %v; want 409 stale_credentials and no session cookie (the ended session is written back)",
				r.status, r.body, r.header["Set-Cookie"])
		}
	})
}

// The same request raced by a re-login of the same browser: the write is
// carried into the new session, or Save says it was not; never 200 and
// lost.
func TestRotatingWriterAcrossReloginIsKeptOrRefused(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{RotateEvery: graceRotateEvery})
		b := e.browser()
		b.login("alice")
		e.clock.Advance(graceRotateEvery + time.Minute)
		hdr := b.header()
		release := e.holdAt(t, "/hold/auth?id=slow&write=book", "slow", hdr)
		li := e.send("POST", "/login?user=alice", hdr)
		if li.status != http.StatusOK {
			t.Fatalf("re-login: %d %v", li.status, li.body)
		}
		r := release()
		for _, order := range []string{"login first", "slow first"} {
			c := e.browser()
			c.setCookie("app", b.cookie("app"))
			c.setCookie(tokCookieName, b.cookie(tokCookieName))
			if order == "login first" {
				c.apply(li)
				c.apply(r)
			} else {
				c.apply(r)
				c.apply(li)
			}
			got := c.get("/cart")
			if r.status == http.StatusOK && got.body["cart"] != "book" {
				t.Errorf("%s: the write answered 200 %v but the cart is %v (user %q): dropped silently", order, r.body, got.body["cart"], got.user())
			}
		}
	})
}
