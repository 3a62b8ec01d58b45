package ginsecure_test

// How an application uses the API inside one handler: several calls of
// Login, Logout, Renew and Save in one request, and sessions.Default(c)
// around them.

import (
	"net/http"
	"testing"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"
	"github.com/ginsecure/ginsecure"
)

func sequenceRoutes(r *gin.Engine, g *ginsecure.Guard) {
	// A "switch account" form: sign the current user out and the next in.
	r.POST("/switch", func(c *gin.Context) {
		if err := ginsecure.Logout(c); err != nil {
			c.JSON(ginsecure.ErrorStatus(err), gin.H{"error": "logout: " + ginsecure.ErrorCode(err)})
			return
		}
		if err := ginsecure.Login(c, c.Query("user")); err != nil {
			c.JSON(ginsecure.ErrorStatus(err), gin.H{"error": "login: " + ginsecure.ErrorCode(err)})
			return
		}
		s := sessions.Default(c)
		s.Set("greeting", "welcome "+c.Query("user"))
		if err := s.Save(); err != nil {
			c.JSON(http.StatusInternalServerError, gin.H{"error": "save: " + err.Error()})
			return
		}
		u, _ := ginsecure.UserID(c)
		c.JSON(http.StatusOK, gin.H{"user": u})
	})
	// Sign out with a flash message for the next page.
	r.POST("/logout-flash", func(c *gin.Context) {
		if err := ginsecure.Logout(c); err != nil {
			c.JSON(ginsecure.ErrorStatus(err), gin.H{"error": ginsecure.ErrorCode(err)})
			return
		}
		s := sessions.Default(c)
		s.AddFlash("you have been signed out")
		if err := s.Save(); err != nil {
			c.JSON(http.StatusInternalServerError, gin.H{"error": "save: " + err.Error()})
			return
		}
		c.JSON(http.StatusOK, gin.H{"user": ""})
	})
	r.GET("/peek", func(c *gin.Context) {
		s := sessions.Default(c)
		u, _ := ginsecure.UserID(c)
		c.JSON(http.StatusOK, gin.H{"user": u, "cart": s.Get("cart"), "greeting": s.Get("greeting"), "flashes": s.Flashes()})
	})
}

// Logout then Login on one request (a "switch account" form): Logout
// destroyed the first user's session, so nothing of it may reach the
// second user's session.
func TestSwitchAccountCarriesNothingOfThePreviousUser(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{}, withRoutes(sequenceRoutes))
		b := e.browser()
		b.login("alice")
		if r := b.post("/cart?item=alice-private"); r.status != http.StatusOK {
			t.Fatalf("cart: %d %v", r.status, r.body)
		}
		if r := b.post("/switch?user=bob"); r.status != http.StatusOK || r.user() != "bob" {
			t.Fatalf("switch: %d %v", r.status, r.body)
		}
		r := b.get("/peek")
		if r.user() != "bob" {
			t.Fatalf("after switch: %v", r.body)
		}
		if r.body["cart"] != nil {
			t.Errorf("bob's session holds alice's cart %v: Logout destroyed alice's session, yet the Login after it on the same request carried its data over", r.body["cart"])
		}
	})
}

// A write after Logout then Login on one request is a write of the new
// session: it is kept, or Save says why not.
func TestSaveAfterSwitchAccountIsKept(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{}, withRoutes(sequenceRoutes))
		b := e.browser()
		b.login("alice")
		if r := b.post("/switch?user=bob"); r.status != http.StatusOK || r.user() != "bob" {
			t.Fatalf("switch: %d %v", r.status, r.body)
		}
		r := b.get("/peek")
		if r.user() != "bob" {
			t.Fatalf("after switch: %v", r.body)
		}
		if r.body["greeting"] != "welcome bob" {
			t.Errorf("greeting = %v: Save after Logout+Login returned nil but the write is lost", r.body["greeting"])
		}
	})
}

// Save after Logout (a "signed out" flash): kept, or Save says it was not.
func TestFlashAfterLogoutIsKeptOrRefused(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{}, withRoutes(sequenceRoutes))
		b := e.browser()
		b.login("alice")
		r := b.post("/logout-flash")
		if r.status != http.StatusOK {
			t.Logf("Save after Logout refused: %d %v (said out loud: fine)", r.status, r.body)
			return
		}
		p := b.get("/peek")
		fl, _ := p.body["flashes"].([]any)
		if len(fl) != 1 {
			t.Errorf("Save after Logout returned nil, yet the flash is lost: next page %v", p.body)
		}
	})
}
