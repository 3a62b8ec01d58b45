package ginsecure_test

// The logout idiom inside one handler with other calls (DESIGN.md, "The
// logout idiom", "Cookie writes"): the idiom then Login (a switch-account
// form written the gin-contrib way), Login then the idiom, Renew then the
// idiom, and two Logins. The browser applies the response's Set-Cookie
// lines in order, so an expiring line after a new cookie would delete it.

import (
	"net/http"
	"testing"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"
	"github.com/ginsecure/ginsecure"
)

func idiomSequenceRoutes(r *gin.Engine, g *ginsecure.Guard) {
	fail := func(c *gin.Context, step string, err error) {
		c.JSON(ginsecure.ErrorStatus(err), gin.H{"error": step + ": " + ginsecure.ErrorCode(err)})
	}
	idiom := func(c *gin.Context) error {
		s := sessions.Default(c)
		s.Clear()
		s.Options(sessions.Options{Path: "/", MaxAge: -1})
		return s.Save()
	}
	r.POST("/seq/idiom-login", func(c *gin.Context) {
		if err := idiom(c); err != nil {
			fail(c, "idiom", err)
			return
		}
		if err := ginsecure.Login(c, c.Query("user")); err != nil {
			fail(c, "login", err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"user": c.Query("user")})
	})
	r.POST("/seq/login-idiom", func(c *gin.Context) {
		if err := ginsecure.Login(c, c.Query("user")); err != nil {
			fail(c, "login", err)
			return
		}
		if err := idiom(c); err != nil {
			fail(c, "idiom", err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"user": ""})
	})
	r.POST("/seq/renew-idiom", g.Require(ginsecure.Policy{Authenticated: true}), func(c *gin.Context) {
		if err := ginsecure.Renew(c); err != nil {
			fail(c, "renew", err)
			return
		}
		if err := idiom(c); err != nil {
			fail(c, "idiom", err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"user": ""})
	})
	r.POST("/seq/login-login", func(c *gin.Context) {
		for _, u := range []string{"alice", "bob"} {
			if err := ginsecure.Login(c, u); err != nil {
				fail(c, "login "+u, err)
				return
			}
		}
		c.JSON(http.StatusOK, gin.H{"user": "bob"})
	})
}

// TestLogoutIdiomThenLoginSignsTheNextUserIn: the idiom, then Login(bob):
// bob is signed in once the browser applied the response, with nothing of
// alice's, and alice's copy is signed out.
func TestLogoutIdiomThenLoginSignsTheNextUserIn(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{}, withRoutes(idiomSequenceRoutes))
		b := e.browser()
		b.login("alice")
		b.post("/cart?item=alice-card")
		thief := b.clone()
		if r := b.post("/seq/idiom-login?user=bob"); r.status != http.StatusOK {
			t.Fatalf("idiom then login: %d %v", r.status, r.body)
		}
		if r := b.get("/cart"); r.status != http.StatusOK || r.user() != "bob" || r.body["cart"] != nil {
			t.Errorf("after the idiom and bob's login: %d %v; want bob, no cart", r.status, r.body)
		}
		if r := thief.get("/me"); r.status != http.StatusUnauthorized {
			t.Errorf("alice's copy: %d %v; want 401", r.status, r.body)
		}
		if n := len(e.sessions(t, "alice")); n != 0 {
			t.Errorf("alice has %d sessions; want 0", n)
		}
	})
}

// TestLoginThenLogoutIdiomLeavesNothing: Login, then the idiom on the same
// request: the new session ends at once; the browser is signed out and
// the user has no session.
func TestLoginThenLogoutIdiomLeavesNothing(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{}, withRoutes(idiomSequenceRoutes))
		b := e.browser()
		b.post("/cart?item=guest")
		r := b.post("/seq/login-idiom?user=alice")
		if r.status != http.StatusOK {
			t.Fatalf("login then idiom: %d %v", r.status, r.body)
		}
		if got := b.get("/me"); got.status != http.StatusUnauthorized {
			t.Errorf("after login then idiom: /me %d %v; want 401", got.status, got.body)
		}
		if n := len(e.sessions(t, "alice")); n != 0 {
			t.Errorf("alice has %d sessions; want 0", n)
		}
	})
}

// TestRenewThenLogoutIdiomLeavesNothing: Renew, then the idiom: the
// renewed record ends; neither the pre-Renew cookies nor the Renew's
// response open anything.
func TestRenewThenLogoutIdiomLeavesNothing(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{}, withRoutes(idiomSequenceRoutes))
		b := e.browser()
		b.login("alice")
		old := b.clone()
		r := b.post("/seq/renew-idiom")
		if r.status != http.StatusOK {
			t.Fatalf("renew then idiom: %d %v", r.status, r.body)
		}
		for who, x := range map[string]*browser{"browser": b, "pre-Renew copy": old} {
			if got := x.get("/me"); got.status != http.StatusUnauthorized {
				t.Errorf("%s after renew then idiom: /me %d %v; want 401", who, got.status, got.body)
			}
		}
		if n := len(e.sessions(t, "alice")); n != 0 {
			t.Errorf("alice has %d sessions; want 0", n)
		}
	})
}

// TestTwoLoginsInOneHandler: Login(alice) then Login(bob) in one request:
// the browser is bob; alice holds no session.
func TestTwoLoginsInOneHandler(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{}, withRoutes(idiomSequenceRoutes))
		b := e.browser()
		if r := b.post("/seq/login-login"); r.status != http.StatusOK {
			t.Fatalf("two logins: %d %v", r.status, r.body)
		}
		expectSignedIn(t, b, "bob")
		if n := len(e.sessions(t, "alice")); n != 0 {
			t.Errorf("alice has %d sessions; want 0", n)
		}
	})
}
