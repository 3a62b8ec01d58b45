package ginsecure_test

// Variants of "Renew loses and misreports" (DESIGN.md, "Writes",
// "Refusals": operations on ended records): a Renew whose record another
// device evicted, a copy logged out, or a copy from another network
// revoked while it was in flight returns ErrNoSession and sends nothing;
// a write with the pre-Renew cookies after the Renew committed is healed
// into the new session and kept whichever response lands last.

import (
	"net/http"
	"testing"
	"time"

	"github.com/ginsecure/ginsecure"
)

// TestRenewOnARecordEndedInFlightByOtherEndings: the held Renew's record
// ends meanwhile by an eviction, a Logout of a copy, or an IP mismatch of
// a copy on another network.
func TestRenewOnARecordEndedInFlightByOtherEndings(t *testing.T) {
	endings := map[string]struct {
		cfg ginsecure.Config
		end func(t *testing.T, e *env, b *browser)
	}{
		"evicted": {cfg: ginsecure.Config{MaxSessionsPerUser: 1}, end: func(t *testing.T, e *env, b *browser) {
			e.clock.Advance(time.Minute)
			e.browser().login("alice")
		}},
		"Logout of a copy": {end: func(t *testing.T, e *env, b *browser) {
			if r := b.clone().post("/logout"); r.status != http.StatusOK {
				t.Fatalf("logout: %d %v", r.status, r.body)
			}
		}},
		"IP mismatch of a copy": {end: func(t *testing.T, e *env, b *browser) {
			away := e.browserFrom("127.0.0.7")
			b.copyTo(away)
			if r := away.get("/public"); r.body["reason"] != "ip_mismatch" {
				t.Fatalf("copy from another network: %d %v", r.status, r.body)
			}
		}},
	}
	for name, how := range endings {
		t.Run(name, func(t *testing.T) {
			forEachStore(t, func(t *testing.T, kind string) {
				h := newHeldRenew()
				e := newEnv(t, kind, how.cfg, withRoutes(h.routes))
				b := e.browserFrom("127.0.0.1")
				b.login("alice")
				finish := h.start(t, e, b.header())
				how.end(t, e, b)
				r := finish()
				if r.status != http.StatusUnauthorized || r.errCode() != "no_session" {
					t.Errorf("Renew of a record ended in flight: %d %v; want 401 no_session", r.status, r.body)
				}
				if got := graceCookies(r.cookies); got != "" {
					t.Errorf("Renew of a record ended in flight sets %q; want nothing", got)
				}
				b.apply(r)
				if got := b.get("/me"); got.status != http.StatusUnauthorized {
					t.Errorf("after it: /me %d %v; want 401", got.status, got.body)
				}
			})
		})
	}
}

// TestRenewThenAWriteWithThePreRenewCookies: the Renew commits; a request
// the browser sent before its response landed, with the pre-Renew token
// and session cookie, writes after the Renew and is acknowledged. The
// write is in the session the browser ends up with, whichever of the two
// responses it applies last.
func TestRenewThenAWriteWithThePreRenewCookies(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		for _, order := range []string{"renew last", "write last"} {
			t.Run(order, func(t *testing.T) {
				e := newEnv(t, kind, graceConfig(graceWindow))
				b := e.browser()
				b.login("alice")
				b.post("/cart?item=before")
				pre := b.header()
				rn := e.send("POST", "/renew", pre)
				if rn.status != http.StatusOK || tokenOf(rn.cookies) == "" {
					t.Fatalf("renew: %d %v", rn.status, rn.body)
				}
				w := e.send("POST", "/cart?item=after-renew", pre)
				if w.status != http.StatusOK {
					if w.status == http.StatusConflict {
						return // refused out loud: nothing acknowledged
					}
					t.Fatalf("the pre-Renew write: %d %v", w.status, w.body)
				}
				if order == "renew last" {
					b.apply(w)
					b.apply(rn)
				} else {
					b.apply(rn)
					b.apply(w)
				}
				if r := b.get("/cart"); r.user() != "alice" || r.body["cart"] != "after-renew" {
					t.Errorf("%s: %d %v; want alice with the acknowledged after-renew", order, r.status, r.body)
				}
				e.clock.Advance(time.Minute)
				if r := b.get("/cart"); r.user() != "alice" || r.body["cart"] != "after-renew" {
					t.Errorf("%s, a minute later: %d %v; want alice with after-renew", order, r.status, r.body)
				}
			})
		}
	})
}

// TestRotationAndAParallelWriteAnyOrder: a periodic rotation (a read) and
// a write sent with the same pre-rotation cookies; the write acknowledged,
// the browser applies the two responses in either order, and then a
// second write with the rotated token. Both writes are read back (on the
// cookie store a rotation's response carries no session cookie, so it
// cannot put the pre-write data back).
func TestRotationAndAParallelWriteAnyOrder(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		for _, order := range []string{"rotation last", "write last"} {
			t.Run(order, func(t *testing.T) {
				e := newEnv(t, kind, graceConfig(graceWindow))
				b := e.browser()
				b.login("alice")
				b.post("/cart?item=before")
				e.clock.Advance(graceRotateEvery + time.Second)
				pre := b.header()
				rot := e.send("GET", "/cart", pre)
				w := e.send("POST", "/cart?item=parallel", pre)
				if rot.status != http.StatusOK || tokenOf(rot.cookies) == "" {
					t.Fatalf("rotation: %d %v", rot.status, rot.body)
				}
				if w.status != http.StatusOK || w.user() != "alice" {
					t.Fatalf("parallel write: %d %v", w.status, w.body)
				}
				if hasCookie(rot.cookies, "app") {
					t.Errorf("the rotating read's response carries a session cookie: %v", rot.header["Set-Cookie"])
				}
				if order == "rotation last" {
					b.apply(w)
					b.apply(rot)
				} else {
					b.apply(rot)
					b.apply(w)
				}
				if r := b.get("/cart"); r.user() != "alice" || r.body["cart"] != "parallel" {
					t.Errorf("%s: %d %v; want alice with parallel", order, r.status, r.body)
				}
				if r := b.post("/cart?item=after"); r.status != http.StatusOK {
					t.Fatalf("write after: %d %v", r.status, r.body)
				}
				if r := b.get("/cart"); r.body["cart"] != "after" {
					t.Errorf("%s, after a second write: %v; want after", order, r.body)
				}
			})
		}
	})
}
