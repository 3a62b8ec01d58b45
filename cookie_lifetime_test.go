package ginsecure_test

// The token cookie lives as long as the session cookie: browser-session
// with browser-session, the same Max-Age otherwise (capped at
// AbsoluteTimeout), at login, rotation and Renew. And a login from a
// browser that presents a live token of the same user's session replaces
// that session instead of counting as an extra one.

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gin-contrib/sessions"
	"github.com/ginsecure/ginsecure"
)

// setCookieLine returns the raw Set-Cookie line of the named cookie.
func setCookieLine(r reply, name string) string {
	for _, l := range r.header.Values("Set-Cookie") {
		if strings.HasPrefix(l, name+"=") {
			return l
		}
	}
	return ""
}

// lifetime describes a cookie's lifetime as sent: "session" for a
// browser-session cookie (no Max-Age, no Expires), else "max-age=N".
func lifetime(t *testing.T, r reply, name string) string {
	t.Helper()
	line := setCookieLine(r, name)
	if line == "" {
		t.Fatalf("no %s cookie in %v", name, r.header.Values("Set-Cookie"))
	}
	var c *http.Cookie
	for _, x := range r.cookies {
		if x.Name == name {
			c = x
		}
	}
	low := strings.ToLower(line)
	switch {
	case c.MaxAge == 0 && c.RawExpires == "" && !strings.Contains(low, "max-age") && !strings.Contains(low, "expires"):
		return "session"
	case c.MaxAge > 0:
		return "max-age=" + strconv.Itoa(c.MaxAge)
	}
	return "other: " + line
}

// TestTokenCookieFollowsSessionCookieLifetime: at login, periodic rotation
// and Renew, the token cookie's lifetime is the session cookie's.
func TestTokenCookieFollowsSessionCookieLifetime(t *testing.T) {
	tok := ginsecure.DefaultCookieName
	for _, tc := range []struct {
		name     string
		maxAge   int           // the session store's MaxAge
		absolute time.Duration // Config.AbsoluteTimeout
		want     string
		stores   []string
	}{
		// boj/redistore deletes sessions saved with MaxAge <= 0: on Redis
		// the session cookie is always persistent.
		{"browser-session", 0, 0, "session", []string{"cookie", "memstore"}},
		{"one-hour", 3600, 0, "max-age=3600", storeKinds},
		{"capped-at-absolute-timeout", 86400, 0, "max-age=43200", storeKinds},
		{"capped-at-a-shorter-absolute-timeout", 86400, 2 * time.Hour, "max-age=7200", storeKinds},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, kind := range tc.stores {
				t.Run(kind, func(t *testing.T) {
					e := newEnv(t, kind, ginsecure.Config{AbsoluteTimeout: tc.absolute})
					e.sess.Options(sessions.Options{Path: "/", MaxAge: tc.maxAge, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
					b := e.browser()
					b.post("/cart?item=apple")
					r := b.login("alice")
					if got := lifetime(t, r, tok); got != tc.want {
						t.Errorf("login: token cookie %s, want %s", got, tc.want)
					}
					if tc.maxAge == 0 {
						if got := lifetime(t, r, "app"); got != "session" {
							t.Errorf("login: the session cookie itself is %s", got)
						}
					}
					// Periodic rotation.
					e.clock.Advance(ginsecure.DefaultRotateEvery + time.Second)
					r = b.get("/me")
					if r.status != http.StatusOK || !hasCookie(r.cookies, tok) {
						t.Fatalf("rotation: %d, cookies %v", r.status, r.cookies)
					}
					if got := lifetime(t, r, tok); got != tc.want {
						t.Errorf("rotation: token cookie %s, want %s", got, tc.want)
					}
					b.get("/me") // confirm the rotation
					e.clock.Advance(ginsecure.DefaultGracePeriod + time.Second)
					// Renew.
					r = b.post("/renew")
					if r.status != http.StatusOK {
						t.Fatalf("renew: %d %v", r.status, r.body)
					}
					if got := lifetime(t, r, tok); got != tc.want {
						t.Errorf("renew: token cookie %s, want %s", got, tc.want)
					}
					if r := b.get("/me"); r.user() != "alice" {
						t.Fatalf("after renew: %d %v", r.status, r.body)
					}
				})
			}
		})
	}
}

// TestLoginReplacesThisBrowsersSession: signing in again from a browser
// that presents a live token of the same user replaces that session: with
// MaxSessionsPerUser 1 and RejectExtraLogins the second login succeeds
// and the old record is gone; in the default mode it evicts nobody else.
// A token of another user, or none, replaces nothing.
func TestLoginReplacesThisBrowsersSession(t *testing.T) {
	ctx := context.Background()
	forEachStore(t, func(t *testing.T, kind string) {
		t.Run("reject-extra-logins", func(t *testing.T) {
			e := newEnv(t, kind, ginsecure.Config{MaxSessionsPerUser: 1, RejectExtraLogins: true})
			a := e.browser()
			a.login("alice")
			oldTok := a.cookie(ginsecure.DefaultCookieName)
			old, _ := e.guard.Sessions(ctx, "alice")
			e.clock.Advance(time.Minute)
			a.login("alice") // fatal unless 200
			list, err := e.guard.Sessions(ctx, "alice")
			if err != nil || len(list) != 1 || len(old) != 1 || list[0].Handle == old[0].Handle {
				t.Fatalf("alice's sessions after signing in again: %v (before %v) %v", list, old, err)
			}
			e.clock.Advance(ginsecure.DefaultGracePeriod + time.Second)
			if r := e.send("GET", "/me", ginsecure.DefaultCookieName+"="+oldTok); r.status != http.StatusUnauthorized {
				t.Errorf("the replaced token: %d %v", r.status, r.body)
			}
			if r := a.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
				t.Fatalf("the new login: %d %v", r.status, r.body)
			}

			// Another user's token, or none: no replacing, the limit holds.
			bob, fresh := e.browser(), e.browser()
			bob.login("bob")
			for name, br := range map[string]*browser{"bob's browser": bob, "a fresh browser": fresh} {
				if r := br.post("/login?user=alice"); r.errCode() != "too_many_sessions" {
					t.Errorf("%s signing in as alice over her limit: %d %v, want too_many_sessions", name, r.status, r.body)
				}
			}
			if r := bob.get("/me"); r.user() != "bob" {
				t.Errorf("bob after the refused login: %d %v", r.status, r.body)
			}
			if r := a.get("/me"); r.user() != "alice" {
				t.Errorf("alice after the refused logins: %d %v", r.status, r.body)
			}
		})
		t.Run("sign-out-least-recently-used", func(t *testing.T) {
			e := newEnv(t, kind, ginsecure.Config{MaxSessionsPerUser: 2})
			a, b := e.browser(), e.browser()
			b.login("alice")
			e.clock.Advance(time.Minute)
			a.login("alice")
			e.clock.Advance(time.Minute)
			a.login("alice") // replaces a's session: b's stays
			if r := b.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
				t.Fatalf("a's second login signed out b: %d %v", r.status, r.body)
			}
			if list, _ := e.guard.Sessions(ctx, "alice"); len(list) != 2 {
				t.Fatalf("alice has %d sessions, want 2", len(list))
			}
			if n := e.events.count(ginsecure.EventLimit); n != 0 {
				t.Errorf("%d limit events", n)
			}
		})
	})
}
