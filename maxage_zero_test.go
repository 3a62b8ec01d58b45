package ginsecure_test

// MaxAge == 0 on a signed-in session: a browser-session cookie where the
// store keeps such sessions (cookie, memstore), refused with
// ErrSessionNotPersisted where the store would delete it (boj/redistore),
// which then deletes nothing.

import (
	"errors"
	"net/http"
	"testing"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"
	"github.com/ginsecure/ginsecure"
	"github.com/gomodule/redigo/redis"
)

func zeroRoute(r *gin.Engine, _ *ginsecure.Guard) {
	r.POST("/zero", func(c *gin.Context) {
		s := sessions.Default(c)
		s.Set("cart", "pear")
		s.Options(sessions.Options{Path: "/", MaxAge: 0, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
		if err := s.Save(); err != nil {
			if !errors.Is(err, ginsecure.ErrSessionNotPersisted) {
				c.JSON(http.StatusTeapot, gin.H{"error": err.Error()})
				return
			}
			c.JSON(ginsecure.ErrorStatus(err), gin.H{"error": ginsecure.ErrorCode(err)})
			return
		}
		c.Status(http.StatusNoContent)
	})
}

// TestSaveWithZeroMaxAgeOnRedisIsRefused: on Redis the Save answers
// ErrSessionNotPersisted (500 session_not_persisted) and deletes nothing:
// the user is still signed in with the data saved before, the session's
// key is still there, and the record is still the user's one session.
func TestSaveWithZeroMaxAgeOnRedisIsRefused(t *testing.T) {
	for _, kind := range []string{"redis", "redis-2pools", "redis-gincontrib"} {
		t.Run(kind, func(t *testing.T) {
			e := newEnv(t, kind, ginsecure.Config{}, withRoutes(zeroRoute))
			b := e.browser()
			b.login("alice")
			b.post("/cart?item=apple")
			r := b.post("/zero")
			if r.status != http.StatusInternalServerError || r.errCode() != "session_not_persisted" {
				t.Fatalf("save with MaxAge 0: %d %v", r.status, r.body)
			}
			if hasCookie(r.cookies, "app") || hasCookie(r.cookies, tokCookieName) {
				t.Errorf("the refused save sent cookies: %v", r.header.Values("Set-Cookie"))
			}
			conn := e.redis.Pool().Get()
			defer conn.Close()
			id := sessionID(t, kind, b.cookie("app"))
			if n, err := redis.Int(conn.Do("EXISTS", "session_"+id)); err != nil || n != 1 {
				t.Fatalf("the session's key: exists=%d err=%v", n, err)
			}
			got := b.get("/cart")
			if got.user() != "alice" || got.body["cart"] != "apple" {
				t.Fatalf("after the refused save: %v", got.body)
			}
			if n := len(e.sessions(t, "alice")); n != 1 {
				t.Fatalf("alice has %d sessions, want 1", n)
			}
		})
	}
}

// TestSaveWithZeroMaxAgeKeepsBrowserSession: where the store keeps a
// session saved with MaxAge 0, the save is kept and both cookies become
// browser-session cookies.
func TestSaveWithZeroMaxAgeKeepsBrowserSession(t *testing.T) {
	for _, kind := range []string{"cookie", "memstore"} {
		t.Run(kind, func(t *testing.T) {
			e := newEnv(t, kind, ginsecure.Config{}, withRoutes(zeroRoute))
			b := e.browser()
			b.login("alice")
			r := b.post("/zero")
			if r.status != http.StatusNoContent {
				t.Fatalf("save with MaxAge 0: %d %v", r.status, r.body)
			}
			if got := lifetime(t, r, "app"); got != "session" {
				t.Errorf("session cookie: %s", got)
			}
			if got := lifetime(t, r, tokCookieName); got != "session" {
				t.Errorf("token cookie: %s", got)
			}
			if got := b.get("/cart"); got.user() != "alice" || got.body["cart"] != "pear" {
				t.Fatalf("after the save: %v", got.body)
			}
		})
	}
}
