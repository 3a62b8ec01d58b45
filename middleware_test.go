package ginsecure_test

// The middleware end to end: the basic path from anonymous through login
// to logout, and the getters and Login on a route without the middleware.

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/ginsecure/ginsecure"
)

// TestWithoutMiddleware: the getters never panic and Login says what is missing.
func TestWithoutMiddleware(t *testing.T) {
	r := gin.New()
	var loginErr error
	r.GET("/", func(c *gin.Context) {
		u, ok := ginsecure.UserID(c)
		if u != "" || ok || ginsecure.FailureReason(c) != nil {
			t.Errorf("UserID without middleware: %q %v", u, ok)
		}
		loginErr = ginsecure.Login(c, "alice")
		c.String(200, "ok")
	})
	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if w.Code != 200 || !errors.Is(loginErr, ginsecure.ErrNoMiddleware) {
		t.Fatalf("status %d, Login error %v", w.Code, loginErr)
	}
	if u, ok := ginsecure.UserID(nil); u != "" || ok {
		t.Fatal("UserID(nil)")
	}
}

// TestSmoke: the basic path end to end on every store: an anonymous /me is
// refused, a cart filled before login is carried over by it, the user is
// served after login and refused again after Logout.
func TestSmoke(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecureConfig())
		b := e.browser()
		if r := b.get("/me"); r.status != http.StatusUnauthorized {
			t.Fatalf("anon /me: %d %v", r.status, r.body)
		}
		b.post("/cart?item=apple")
		b.login("alice")
		r := b.get("/me")
		if r.status != 200 || r.user() != "alice" {
			t.Fatalf("/me after login: %d %v", r.status, r.body)
		}
		if r := b.get("/cart"); r.body["cart"] != "apple" {
			t.Fatalf("cart not carried over: %v", r.body)
		}
		if r := b.post("/logout"); r.status != 200 {
			t.Fatalf("logout %d %v", r.status, r.body)
		}
		if r := b.get("/me"); r.status != http.StatusUnauthorized {
			t.Fatalf("after logout /me: %d %v", r.status, r.body)
		}
	})
}

func ginsecureConfig() ginsecure.Config { return ginsecure.Config{} }
