package ginsecure_test

// The token cookie lives as long as the session cookie: browser-session
// with browser-session, the same Max-Age otherwise (capped at
// AbsoluteTimeout), at login, rotation and Renew.

import (
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
