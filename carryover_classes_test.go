package ginsecure_test

// Variants of "Carry-over only from an anonymous session or the same
// user's own" (DESIGN.md, "Carry-over"): a guest cart carried into one
// user's session never reaches the next user who signs in on the browser,
// whether bob's stale tab posts the current cookies or the pre-login ones;
// CarryOver filters only what an anonymous session brings; a write of
// alice's in flight across bob's login never lands in bob's session.

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"
	"github.com/ginsecure/ginsecure"
)

// valuesRoutes sets and reads two values, a cart and a CSRF secret.
func valuesRoutes(r *gin.Engine, _ *ginsecure.Guard) {
	r.POST("/values", func(c *gin.Context) {
		s := sessions.Default(c)
		for _, k := range []string{"cart", "csrf"} {
			if v := c.Query(k); v != "" {
				s.Set(k, v)
			}
		}
		if err := s.Save(); err != nil {
			c.JSON(saveFailure(err))
			return
		}
		c.Status(http.StatusNoContent)
	})
	r.GET("/values", func(c *gin.Context) {
		s := sessions.Default(c)
		u, _ := ginsecure.UserID(c)
		c.JSON(http.StatusOK, gin.H{"user": u, "cart": s.Get("cart"), "csrf": s.Get("csrf")})
	})
}

func wantValues(t *testing.T, what string, r reply, user string, cart, csrf any) {
	t.Helper()
	if r.status != http.StatusOK || r.user() != user || r.body["cart"] != cart || r.body["csrf"] != csrf {
		t.Errorf("%s: %d %v; want %s with cart %v, csrf %v", what, r.status, r.body, user, cart, csrf)
	}
}

// TestCarryOverGuestCartReachesOneUserOnly: a guest cart goes into alice's
// login; bob then signs in on the same browser from a stale tab, once
// with the browser's current cookies (alice's) and once with the
// pre-login cookies the tab was opened with. Neither login carries the
// guest cart or alice's data; alice signing in over bob's session carries
// nothing of bob's.
func TestCarryOverGuestCartReachesOneUserOnly(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		for _, tab := range []string{"current cookies", "pre-login cookies"} {
			t.Run(tab, func(t *testing.T) {
				e := newEnv(t, kind, ginsecure.Config{}, withRoutes(valuesRoutes))
				b := e.browser()
				if r := b.post("/values?cart=guest-book"); r.status != http.StatusNoContent {
					t.Fatalf("guest cart: %d %v", r.status, r.body)
				}
				pre := b.header()
				b.login("alice")
				wantValues(t, "alice after her login", b.get("/values"), "alice", "guest-book", nil)
				if r := b.post("/values?cart=alice-private&csrf=alice-csrf"); r.status != http.StatusNoContent {
					t.Fatalf("alice's write: %d %v", r.status, r.body)
				}
				hdr := b.header()
				if tab == "pre-login cookies" {
					hdr = pre
				}
				r := e.send("POST", "/login?user=bob", hdr)
				if r.status != http.StatusOK || r.user() != "bob" {
					t.Fatalf("bob's login from the stale tab: %d %v", r.status, r.body)
				}
				b.apply(r)
				wantValues(t, "bob after his login", b.get("/values"), "bob", nil, nil)
				if r := b.post("/values?cart=bob-private"); r.status != http.StatusNoContent {
					t.Fatalf("bob's write: %d %v", r.status, r.body)
				}
				b.login("alice")
				wantValues(t, "alice over bob's session", b.get("/values"), "alice", nil, nil)
			})
		}
	})
}

// TestCarryOverFilterOnlyAppliesToAnonymousSessions: CarryOver drops the
// guest's CSRF secret at the first login; the same user's own session
// comes along whole at a re-login, the CSRF secret it set while signed
// in included; another user's login carries neither.
func TestCarryOverFilterOnlyAppliesToAnonymousSessions(t *testing.T) {
	dropCSRF := func(key, _ any) bool { return key != "csrf" }
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{CarryOver: dropCSRF}, withRoutes(valuesRoutes))
		b := e.browser()
		b.post("/values?cart=guest-book&csrf=planted")
		b.login("alice")
		wantValues(t, "alice after her login", b.get("/values"), "alice", "guest-book", nil)
		b.post("/values?csrf=alice-csrf")
		b.login("alice")
		wantValues(t, "alice after signing in again", b.get("/values"), "alice", "guest-book", "alice-csrf")
		b.login("bob")
		wantValues(t, "bob over alice's session", b.get("/values"), "bob", nil, nil)
	})
}

// TestCarryOverAliceWriteInFlightAcrossBobsLogin: alice's write is
// verified, then bob signs in on the same browser, then the write saves.
// It is refused (a login retired the session), bob's session holds none
// of it, and its response does not bring alice's data back into the
// browser.
func TestCarryOverAliceWriteInFlightAcrossBobsLogin(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{})
		b := e.browser()
		b.login("alice")
		b.post("/cart?item=alice-private")
		release := e.holdAt(t, "/hold?id=alice&write=alice-late", "alice", b.header())
		b.login("bob")
		r := release()
		if r.status != http.StatusConflict || r.errCode() != "stale_credentials" {
			t.Errorf("alice's write saved after bob's login: %d %v; want 409 stale_credentials", r.status, r.body)
		}
		b.apply(r)
		if got := b.get("/cart"); got.user() != "bob" || got.body["cart"] != nil {
			t.Errorf("bob after alice's late write: %v; want bob, no cart", got.body)
		}
	})
}

// TestCarryOverAliceRotatingResponseLandsAfterBobsLogin: a request of
// alice's (a read, or a write) rotates her token and is held while bob
// signs in on the same browser and saves a cart; its response lands then,
// at once or ten minutes later, putting alice's rotated token over bob's.
// The browser stays bob's with bob's cart (the rotation's token, never
// presented, is forwarded to bob's record next to bob's session cookie),
// and nothing of alice's comes back (DESIGN.md, "Endings", "Grace
// period").
func TestCarryOverAliceRotatingResponseLandsAfterBobsLogin(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		for _, route := range []string{"/hold?id=a&write=alice-late", "/hold?id=a"} {
			for _, delay := range []time.Duration{0, 10 * time.Minute} {
				t.Run(fmt.Sprint(route, " ", delay), func(t *testing.T) {
					e := newEnv(t, kind, graceConfig(graceWindow))
					b := e.browser()
					b.login("alice")
					b.post("/cart?item=alice-private")
					e.clock.Advance(graceRotateEvery + time.Second)
					release := e.holdAt(t, route, "a", b.header())
					b.login("bob")
					b.post("/cart?item=bob-cart")
					r := release()
					if tokenOf(r.cookies) == "" {
						t.Fatalf("alice's held request did not rotate: %d %v", r.status, r.body)
					}
					e.clock.Advance(delay)
					b.apply(r)
					got := b.get("/cart")
					if got.user() != "bob" || got.body["cart"] != "bob-cart" {
						t.Errorf("after alice's late rotating response: %d %v; want bob with bob-cart", got.status, got.body)
					}
					if got := b.get("/cart"); got.user() != "bob" || got.body["cart"] != "bob-cart" {
						t.Errorf("the request after: %d %v; want bob with bob-cart", got.status, got.body)
					}
				})
			}
		}
	})
}
