package ginsecure_test

// A session store whose MaxAge is shorter than AbsoluteTimeout: on memstore
// and Redis the Guard keeps an active user's cookies (and the Redis key's
// TTL) alive, at most once per a quarter of MaxAge; on the cookie store it
// warns once at the first request.

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-contrib/sessions"
	"github.com/ginsecure/ginsecure"
	"github.com/gomodule/redigo/redis"
)

// clockJar is a browser's cookie store whose cookies expire by the test
// clock (Max-Age counted from when the response arrived).
type clockJar struct {
	e   *env
	val map[string]string
	exp map[string]time.Time // zero: a browser-session cookie
}

func newClockJar(e *env) *clockJar {
	return &clockJar{e: e, val: map[string]string{}, exp: map[string]time.Time{}}
}

func (j *clockJar) do(method, path string) reply {
	j.e.t.Helper()
	now := j.e.clock.Now()
	var cs []*http.Cookie
	for n, v := range j.val {
		if x := j.exp[n]; !x.IsZero() && !now.Before(x) {
			continue // expired
		}
		cs = append(cs, &http.Cookie{Name: n, Value: v})
	}
	r := j.e.send(method, path, joinCookies(cs))
	for _, c := range r.cookies {
		switch {
		case c.MaxAge < 0:
			delete(j.val, c.Name)
			delete(j.exp, c.Name)
		case c.MaxAge > 0:
			j.val[c.Name], j.exp[c.Name] = c.Value, now.Add(time.Duration(c.MaxAge)*time.Second)
		default:
			j.val[c.Name], j.exp[c.Name] = c.Value, time.Time{}
		}
	}
	return r
}

// TestShortSessionMaxAgeKeptAlive: MaxAge one hour, AbsoluteTimeout 12 h.
// A user active every five minutes stays signed in with the cart for
// nearly 12 h; the session cookie is sent again at most once per 15
// minutes (a quarter of MaxAge) and the Redis key's TTL reset with it.
func TestShortSessionMaxAgeKeptAlive(t *testing.T) {
	for _, kind := range []string{"memstore", "redis", "redis-2pools"} {
		t.Run(kind, func(t *testing.T) {
			e := newEnv(t, kind, ginsecure.Config{})
			e.sess.Options(sessions.Options{Path: "/", MaxAge: 3600, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
			j := newClockJar(e)
			if r := j.do("POST", "/login?user=alice"); r.user() != "alice" {
				t.Fatalf("login: %d %v", r.status, r.body)
			}
			j.do("POST", "/cart?item=apple")
			var conn redis.Conn
			key := ""
			if isRedis(kind) {
				conn = e.redis.Pool().Get()
				defer conn.Close()
				key = "session_" + sessionID(t, kind, j.val["app"])
				if _, err := conn.Do("EXPIRE", key, 100); err != nil {
					t.Fatal(err)
				}
			}
			resent := 0
			const every, span = 5 * time.Minute, 11*time.Hour + 50*time.Minute
			for elapsed := time.Duration(0); elapsed < span; elapsed += every {
				e.clock.Advance(every)
				r := j.do("GET", "/cart")
				if r.user() != "alice" || r.body["cart"] != "apple" {
					t.Fatalf("%v after login: %d %v", elapsed+every, r.status, r.body)
				}
				if hasCookie(r.cookies, "app") {
					resent++
				}
			}
			t.Logf("%s: session cookie sent again %d times in %v of activity every %v", kind, resent, span, every)
			if max := int(span/(15*time.Minute)) + 1; resent > max || resent == 0 {
				t.Fatalf("session cookie sent again %d times, want 1..%d", resent, max)
			}
			if key != "" {
				ttl, err := redis.Int(conn.Do("TTL", key))
				if err != nil || ttl < 3000 {
					t.Fatalf("the session key's TTL: %d (%v), want it reset to about 3600", ttl, err)
				}
			}
		})
	}
}

// TestShortCookieStoreMaxAgeWarnsOnce: on the cookie store the Guard
// cannot send the cookie again without a read copy of the data (undoing
// parallel writes): the first request warns, naming the fix, and only it.
func TestShortCookieStoreMaxAgeWarnsOnce(t *testing.T) {
	for _, tc := range []struct {
		maxAge int
		warn   bool
	}{{3600, true}, {12 * 3600, false}, {0, false}} {
		var buf bytes.Buffer
		var mu sync.Mutex
		logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, nil))
		e := newEnv(t, "cookie", ginsecure.Config{Logger: logger})
		e.sess.Options(sessions.Options{Path: "/", MaxAge: tc.maxAge, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
		b := e.browser()
		b.login("alice")
		b.get("/cart")
		b.post("/cart?item=apple")
		mu.Lock()
		n := strings.Count(buf.String(), "MaxAge is shorter than AbsoluteTimeout")
		line := buf.String()
		mu.Unlock()
		want := 0
		if tc.warn {
			want = 1
		}
		if n != want {
			t.Fatalf("MaxAge %d: %d warnings, want %d:\n%s", tc.maxAge, n, want, line)
		}
		if tc.warn && (!strings.Contains(line, "level=WARN") || !strings.Contains(line, "max_age=1h0m0s")) {
			t.Fatalf("the warning names neither its level nor the MaxAge:\n%s", line)
		}
	}
}
