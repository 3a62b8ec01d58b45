package ginsecure_test

// Logout ends the record, not just the browser's cookies: copies made
// before it are refused after it, and a request without the token cannot
// log anyone out.

import (
	"errors"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/ginsecure/ginsecure"
	"github.com/ginsecure/ginsecure/internal/redistest"
	"github.com/gomodule/redigo/redis"
)

// TestLogoutKillsCopiedCookies: cookies copied before logout are refused
// right after it, on every store (the record decides, not the cookie).
func TestLogoutKillsCopiedCookies(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{})
		victim, thief := e.browser(), e.browser()
		victim.login("alice")
		victim.copyTo(thief)
		if r := thief.get("/me"); r.status != 200 {
			t.Fatalf("copy before logout: %d", r.status)
		}
		r := victim.post("/logout")
		if r.status != 200 {
			t.Fatalf("logout: %d %v", r.status, r.body)
		}
		for _, name := range []string{"app", tokCookieName} {
			if !expires(r.cookies, name) {
				t.Errorf("logout response does not expire %s: %v", name, r.header["Set-Cookie"])
			}
		}
		if r := thief.get("/me"); r.status != http.StatusUnauthorized {
			t.Fatalf("copied cookies after logout: /me %d %v", r.status, r.body)
		}
		if r := thief.get("/public"); r.user() != "" {
			t.Fatalf("copied cookies after logout: /public as %q", r.user())
		}
		if r := victim.get("/me"); r.status != http.StatusUnauthorized {
			t.Fatalf("victim after logout: %d", r.status)
		}
	})
}

func expires(cs []*http.Cookie, name string) bool {
	for _, c := range cs {
		if c.Name == name && c.MaxAge < 0 {
			return true
		}
	}
	return false
}

// TestSessionCookieAloneCannotLogVictimOut: Logout on a request that holds
// only the victim's session cookie (no token: distrusted) answers 401 and
// writes nothing; it deletes neither the victim's record nor, on memstore
// and Redis, her server-side session data.
func TestSessionCookieAloneCannotLogVictimOut(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{})
		victim, thief := e.browser(), e.browser()
		victim.login("alice")
		victim.post("/cart?item=alice-cart")
		thief.setCookie("app", victim.cookie("app"))
		if r := thief.post("/logout"); r.status != http.StatusUnauthorized || len(r.cookies) != 0 {
			t.Fatalf("token-less Logout: %d %v %v, want 401 no_session writing nothing", r.status, r.body, r.header["Set-Cookie"])
		}
		if r := victim.get("/cart"); r.user() != "alice" || r.body["cart"] != "alice-cart" {
			t.Fatalf("victim after a token-less Logout: %d %v (signed out / data gone)", r.status, r.body)
		}
	})
}

// TestLogoutOfReplacedCredentialsWritesNothing: a sign-out sent with the
// cookies from before a re-login arrives after it. Its token names a
// record the login replaced: dead credentials. It ends nothing that
// lives and writes no expiring cookie, which could land after the
// login's response and delete the new token (DESIGN.md, "Cookie writes").
func TestLogoutOfReplacedCredentialsWritesNothing(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{})
		b := e.browser()
		b.login("alice")
		before := b.header()
		b.login("alice") // the re-login's response reaches the browser
		r := e.send("POST", "/logout", before)
		if r.status != http.StatusOK {
			t.Fatalf("late sign-out with the replaced cookies: %d %v", r.status, r.body)
		}
		if len(r.cookies) != 0 {
			t.Fatalf("late sign-out with the replaced cookies wrote %v", r.header["Set-Cookie"])
		}
		b.apply(r) // lands after the re-login's
		if me := b.get("/me"); me.status != http.StatusOK || me.user() != "alice" {
			t.Fatalf("after a late sign-out of the replaced session: %d %v; want alice still signed in", me.status, me.body)
		}
	})
}

// delFailConn is a Redis connection whose DEL fails while fail is set:
// gin-contrib's Redis session store deletes a session with DEL, so a
// Logout meets an outage of the session store exactly when it deletes the
// session's data, after the request loaded it.
type delFailConn struct {
	redis.Conn
	fail *atomic.Bool
}

func (c delFailConn) Do(cmd string, args ...any) (any, error) {
	if cmd == "DEL" && c.fail.Load() {
		return nil, errDown
	}
	return c.Conn.Do(cmd, args...)
}

// TestLogoutSessionStoreDownIsOutage: a Logout whose session store fails
// to delete the session's data (Redis down at the DEL) answers 503
// store_unavailable, an outage the client retries, never 401 as if the
// visitor had proved nothing; the retry, with the store back, signs out
// and deletes the data.
func TestLogoutSessionStoreDownIsOutage(t *testing.T) {
	srv := redistest.Start(t)
	var fail atomic.Bool
	pool := srv.Pool()
	dial := pool.Dial
	pool.Dial = func() (redis.Conn, error) {
		c, err := dial()
		if err != nil {
			return nil, err
		}
		return delFailConn{Conn: c, fail: &fail}, nil
	}
	var outage error
	e := newEnv(t, "redis", ginsecure.Config{}, withRedis(srv), withPool(pool), withStore(ginsecure.NewMemoryStore()),
		withRoutes(func(r *gin.Engine, _ *ginsecure.Guard) {
			r.POST("/logout-classified", func(c *gin.Context) {
				outage = ginsecure.Logout(c)
				c.JSON(ginsecure.ErrorStatus(outage), gin.H{"error": ginsecure.ErrorCode(outage)})
			})
		}))
	b := e.browser()
	b.login("alice")
	b.post("/cart?item=book")
	key := "session_" + sessionID(t, "redis", b.cookie("app"))
	fail.Store(true)
	r := b.post("/logout-classified")
	if r.status != http.StatusServiceUnavailable || r.errCode() != "store_unavailable" || !errors.Is(outage, ginsecure.ErrStoreUnavailable) || !errors.Is(outage, errDown) {
		t.Fatalf("logout with the session store failing its DEL: %d %v (err %v), want 503 store_unavailable", r.status, r.body, outage)
	}
	fail.Store(false)
	if r := b.post("/logout"); r.status != http.StatusOK {
		t.Fatalf("logout retried after the outage: %d %v", r.status, r.body)
	}
	b.get("/public") // the session's first presentation after its ending deletes what is left
	n, err := redis.Int(srv.Pool().Get().Do("EXISTS", key))
	if err != nil || n != 0 {
		t.Fatalf("the signed-out session's data %s: EXISTS %d %v", key, n, err)
	}
	if r := b.get("/me"); r.status != http.StatusUnauthorized {
		t.Fatalf("after the retried logout: /me %d %v", r.status, r.body)
	}
}
