package ginsecure_test

// Adversary 11, black-box: a request without a token reads the clock only
// where its session names a record (verify's zero `now`).

import (
	"net/http"
	"testing"
	"time"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"

	"github.com/ginsecure/ginsecure"
)

// TestAdversary11AnonymousNamingARecordAcrossTime: alice's session
// cookie presented without her token (a copied cookie jar) shows none of
// her values and gets no token cookie, before her record times out, after
// it did, and after the store forgot it; a write there keeps nothing of
// hers, and her own token, later, is anonymous too (timed out).
func TestAdversary11AnonymousNamingARecordAcrossTime(t *testing.T) {
	for _, kind := range []string{"cookie", "memstore"} {
		t.Run(kind, func(t *testing.T) {
			e := bbNew(t, kind, ginsecure.Config{})
			alice := e.browser("192.0.2.1")
			alice.get("/signin")
			if r := alice.do("POST", "/login?user=alice"); r.status != http.StatusOK || r.user() != "alice" {
				t.Fatalf("login: %v", r)
			}
			if r := alice.do("POST", "/write?cart=alice-cart"); r.status != http.StatusOK || r.str("cart") != "alice-cart" {
				t.Fatalf("write: %v", r)
			}
			steps := []time.Duration{0, time.Minute, 13 * time.Hour, 25 * time.Hour, 48 * time.Hour}
			for _, d := range steps {
				e.clock.Advance(d)
				anon := alice.clone()
				anon.drop(ginsecure.DefaultCookieName)
				r := anon.do("GET", "/pub")
				if r.user() != "" || r.str("cart") != "" || r.setsToken() {
					t.Fatalf("+%v: a request without alice's token got %v", d, r)
				}
				w := anon.do("POST", "/write?note=stranger")
				if w.user() != "" || w.str("cart") != "" || w.setsToken() {
					t.Fatalf("+%v: a write without alice's token got %v", d, w)
				}
			}
			r := alice.get("/pub")
			// The ended record's session is nobody's (DESIGN.md, "Endings"):
			// the copied jar's anonymous write may show here; alice's own
			// values and her sign-in may not.
			if r.user() != "" || r.str("cart") != "" || r.setsToken() {
				t.Fatalf("alice after the timeouts: %v", r)
			}
		})
	}
}

// adversary11Routes: a sign-in or Renew and a session write in one
// handler.
func adversary11Routes(r *gin.Engine, g *ginsecure.Guard) {
	write := func(c *gin.Context, err error) {
		if err != nil {
			c.JSON(ginsecure.ErrorStatus(err), gin.H{"error": ginsecure.ErrorCode(err)})
			return
		}
		s := sessions.Default(c)
		s.Set("cart", c.Query("item"))
		if err := s.Save(); err != nil {
			c.JSON(saveFailure(err))
			return
		}
		u, _ := ginsecure.UserID(c)
		c.JSON(http.StatusOK, gin.H{"user": u})
	}
	r.POST("/a11/login-write", func(c *gin.Context) { write(c, ginsecure.Login(c, c.Query("user"))) })
	r.POST("/a11/renew-write", func(c *gin.Context) { write(c, ginsecure.Renew(c)) })
}

// TestAdversary11FreshWriteAfterItsOwnRetirement: the request that
// retired its session (a Renew, a sign-in of another user on it) and then
// writes is the fresh writer, not a stale one: the check before the write
// (two pools: retiredBefore) lets it through on every store, and what it
// wrote is the new session's; the previous user's values are not in it.
func TestAdversary11FreshWriteAfterItsOwnRetirement(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{}, withRoutes(adversary11Routes))
		b, thief := e.browser(), e.browser()
		b.login("alice")
		b.post("/cart?item=alice-card")
		b.copyTo(thief)
		if r := b.post("/a11/renew-write?item=after-renew"); r.status != http.StatusOK || r.user() != "alice" {
			t.Fatalf("Renew then write: %d %v", r.status, r.body)
		}
		if r := b.get("/cart"); r.user() != "alice" || r.body["cart"] != "after-renew" {
			t.Fatalf("after Renew and its write: %v", r.body)
		}
		if r := b.post("/a11/login-write?user=bob&item=bob-cart"); r.status != http.StatusOK || r.user() != "bob" {
			t.Fatalf("bob signs in on alice's browser and writes: %d %v", r.status, r.body)
		}
		if r := b.get("/cart"); r.user() != "bob" || r.body["cart"] != "bob-cart" {
			t.Fatalf("bob's session: %v", r.body)
		}
		if r := thief.get("/cart"); r.user() != "" || r.body["cart"] == "bob-cart" || r.body["cart"] == "alice-card" {
			t.Fatalf("the copy after bob's sign-in: %v", r.body)
		}
	})
}

// TestAdversary11StaleWriteAfterRenewAndLogin: a request verified before
// its session was retired by a Renew, or by another user's sign-in on
// the browser, saves after it: refused (ErrStaleCredentials) on every
// store, two pools included (the check before the write), and the
// session the browser holds since keeps what it has: nothing of the
// stale request's, nothing of alice's under bob. (On the cookie store a
// Renew retires no session: the write stands.)
func TestAdversary11StaleWriteAfterRenewAndLogin(t *testing.T) {
	for _, retire := range []string{"/renew", "/login?user=bob"} {
		t.Run(retire, func(t *testing.T) {
			forEachStore(t, func(t *testing.T, kind string) {
				e := newEnv(t, kind, ginsecure.Config{})
				b := e.browser()
				b.login("alice")
				b.post("/cart?item=alice-card")
				release := e.holdAt(t, "/hold/auth?id=slow&write=late", "slow", b.header())
				if r := b.post(retire); r.status != http.StatusOK {
					t.Fatalf("POST %s: %d %v", retire, r.status, r.body)
				}
				r := release()
				switch {
				case kind == "cookie" && retire == "/renew":
					// The cookie store's session is the handle's: Renew sends
					// only a token and retires no session (DESIGN.md, "The
					// user's other sessions"); the write stands.
					if r.status != http.StatusOK {
						t.Errorf("a write beside a cookie-store Renew: %d %v; want 200", r.status, r.body)
					}
				case r.status != http.StatusConflict || r.errCode() != "stale_credentials":
					t.Errorf("a write verified before %s, saved after it: %d %v; want 409 stale_credentials", retire, r.status, r.body)
				}
				got := b.get("/cart")
				want := "alice"
				if retire != "/renew" {
					want = "bob"
				}
				if got.user() != want {
					t.Fatalf("after %s: %v; want %s", retire, got.body, want)
				}
				if want == "bob" && got.body["cart"] != nil {
					t.Errorf("bob's session holds %v", got.body["cart"])
				}
				if want == "alice" && got.body["cart"] != "alice-card" {
					t.Errorf("alice's renewed session holds %v", got.body["cart"])
				}
			})
		})
	}
}
