package ginsecure_test

// "Remember me": a handler that signs in and then extends the session's
// MaxAge and saves gets a token cookie with the new lifetime (capped at
// AbsoluteTimeout), so that a browser restart keeps both halves; the token
// is sent again only while it is still its record's current one.

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"
	"github.com/ginsecure/ginsecure"
	"github.com/gomodule/redigo/redis"
)

// restartJar is a browser's cookie store that knows which cookies outlive
// the browser: those sent with a Max-Age or an Expires.
type restartJar struct {
	value      map[string]string
	persistent map[string]bool
}

func newRestartJar() *restartJar {
	return &restartJar{value: map[string]string{}, persistent: map[string]bool{}}
}

// apply stores a response's cookies in the order sent (an expiry deletes).
func (j *restartJar) apply(r reply) {
	for _, c := range r.cookies {
		if c.MaxAge < 0 {
			delete(j.value, c.Name)
			delete(j.persistent, c.Name)
			continue
		}
		j.value[c.Name] = c.Value
		j.persistent[c.Name] = c.MaxAge > 0 || c.RawExpires != ""
	}
}

// restart drops the browser-session cookies, as closing the browser does.
func (j *restartJar) restart() {
	for n, p := range j.persistent {
		if !p {
			delete(j.value, n)
			delete(j.persistent, n)
		}
	}
}

func (j *restartJar) header() string {
	var cs []*http.Cookie
	for n, v := range j.value {
		cs = append(cs, &http.Cookie{Name: n, Value: v})
	}
	return joinCookies(cs)
}

func (j *restartJar) do(e *env, method, path string) reply {
	e.t.Helper()
	r := e.send(method, path, j.header())
	j.apply(r)
	return r
}

// rememberRoutes: POST /remember?user=U&days=N signs in, puts "apple" in
// the cart and saves with MaxAge N days.
func rememberRoutes(r *gin.Engine, g *ginsecure.Guard) {
	r.POST("/remember", func(c *gin.Context) {
		if err := ginsecure.Login(c, c.Query("user")); err != nil {
			c.JSON(ginsecure.ErrorStatus(err), gin.H{"error": ginsecure.ErrorCode(err)})
			return
		}
		days, _ := strconv.Atoi(c.Query("days"))
		s := sessions.Default(c)
		s.Set("cart", "apple")
		s.Options(sessions.Options{Path: "/", MaxAge: days * 86400, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
		if err := s.Save(); err != nil {
			c.JSON(ginsecure.ErrorStatus(err), gin.H{"error": ginsecure.ErrorCode(err)})
			return
		}
		u, _ := ginsecure.UserID(c)
		c.JSON(http.StatusOK, gin.H{"user": u})
	})
}

// TestRememberMeSurvivesBrowserRestart: the store's sessions are
// browser-session cookies (on Redis, which deletes those: one hour); a
// "remember me" login extends the session to 30 days. Both cookies come
// back with Max-Age = AbsoluteTimeout (the cap), one token cookie only,
// and after the browser restarts the user is still signed in with the cart.
func TestRememberMeSurvivesBrowserRestart(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{}, withRoutes(rememberRoutes))
		maxAge := 0
		if isRedis(kind) {
			maxAge = 3600
		}
		e.sess.Options(sessions.Options{Path: "/", MaxAge: maxAge, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
		j := newRestartJar()
		r := j.do(e, "POST", "/remember?user=alice&days=30")
		if r.status != http.StatusOK || r.user() != "alice" {
			t.Fatalf("remember: %d %v", r.status, r.body)
		}
		want := "max-age=" + strconv.Itoa(int((12 * time.Hour).Seconds()))
		if got := lifetime(t, r, tokCookieName); got != want {
			t.Errorf("token cookie: %s, want %s", got, want)
		}
		n := 0
		for _, c := range r.cookies {
			if c.Name == tokCookieName {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d token cookies in one response: %v", n, r.header.Values("Set-Cookie"))
		}
		j.restart()
		got := j.do(e, "GET", "/cart")
		if got.user() != "alice" || got.body["cart"] != "apple" {
			t.Fatalf("after a browser restart: %d %v (reason %v)", got.status, got.body, got.body["reason"])
		}
	})
}

// TestRememberMeOffMakesTokenBrowserSession: turning "remember me" off on
// a later request (MaxAge 0: a browser-session cookie, where the store
// keeps such sessions) sends the token as a browser-session cookie too,
// so that a restart signs out both halves together.
func TestRememberMeOffMakesTokenBrowserSession(t *testing.T) {
	for _, kind := range []string{"cookie", "memstore"} {
		t.Run(kind, func(t *testing.T) {
			e := newEnv(t, kind, ginsecure.Config{}, withRoutes(func(r *gin.Engine, g *ginsecure.Guard) {
				rememberRoutes(r, g)
				r.POST("/forget", func(c *gin.Context) {
					s := sessions.Default(c)
					s.Options(sessions.Options{Path: "/", MaxAge: 0, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
					if err := s.Save(); err != nil {
						c.JSON(ginsecure.ErrorStatus(err), gin.H{"error": ginsecure.ErrorCode(err)})
						return
					}
					c.Status(http.StatusNoContent)
				})
			}))
			j := newRestartJar()
			j.do(e, "POST", "/remember?user=alice&days=30")
			r := j.do(e, "POST", "/forget")
			if got := lifetime(t, r, tokCookieName); got != "session" {
				t.Errorf("token cookie after forgetting: %s, want a browser-session cookie", got)
			}
			j.restart()
			if got := j.do(e, "GET", "/cart"); got.user() != "" || got.body["cart"] != nil {
				t.Fatalf("after a browser restart: %v, want signed out and no cart", got.body)
			}
		})
	}
}

// TestRememberMeNeverResendsSupersededToken: a request verified with the
// current token is held in its handler while a parallel request rotates
// the token; released, it extends the lifetime and saves. The write is
// kept (a rotation changes only the token), but the token it was verified
// with is superseded now: it is not sent again, with any lifetime.
func TestRememberMeNeverResendsSupersededToken(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		entered, release := make(chan struct{}), make(chan struct{})
		e := newEnv(t, kind, ginsecure.Config{}, withRoutes(func(r *gin.Engine, g *ginsecure.Guard) {
			r.GET("/extend", func(c *gin.Context) {
				close(entered)
				<-release
				s := sessions.Default(c)
				s.Options(sessions.Options{Path: "/", MaxAge: 30 * 86400, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
				if err := s.Save(); err != nil {
					c.JSON(ginsecure.ErrorStatus(err), gin.H{"error": ginsecure.ErrorCode(err)})
					return
				}
				c.Status(http.StatusNoContent)
			})
		}))
		b := e.browser()
		b.login("alice")
		old := b.cookie(tokCookieName)
		done := make(chan reply, 1)
		hdr := b.header()
		go func() { r, _ := e.trySend("GET", "/extend", hdr); done <- r }()
		<-entered
		e.clock.Advance(16 * time.Minute) // past RotateEvery
		if r := b.get("/public"); r.user() != "alice" {
			t.Fatalf("rotating request: %v", r.body)
		}
		if b.cookie(tokCookieName) == old {
			t.Fatal("the parallel request did not rotate the token")
		}
		close(release)
		r := <-done
		if r.status != http.StatusNoContent {
			t.Fatalf("held save: %d %v", r.status, r.body)
		}
		for _, c := range r.cookies {
			if c.Name == tokCookieName {
				t.Fatalf("the superseded token was sent again: %s", setCookieLine(r, tokCookieName))
			}
		}
	})
}

// TestRememberMeResendsOnLaterRequest: a later request signed in with the
// current token that extends the lifetime gets the token again with it.
func TestRememberMeResendsOnLaterRequest(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{}, withRoutes(func(r *gin.Engine, g *ginsecure.Guard) {
			r.POST("/extend", func(c *gin.Context) {
				s := sessions.Default(c)
				s.Options(sessions.Options{Path: "/", MaxAge: 7200, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
				if err := s.Save(); err != nil {
					c.JSON(ginsecure.ErrorStatus(err), gin.H{"error": ginsecure.ErrorCode(err)})
					return
				}
				c.Status(http.StatusNoContent)
			})
		}))
		b := e.browser()
		b.login("alice")
		tok := b.cookie(tokCookieName)
		r := b.post("/extend")
		if got := lifetime(t, r, tokCookieName); got != "max-age=7200" {
			t.Fatalf("token cookie: %s, want max-age=7200", got)
		}
		if b.cookie(tokCookieName) != tok {
			t.Fatal("the token changed: it must be the same token, sent again")
		}
		if got := lifetime(t, r, "app"); got != "max-age=7200" {
			t.Fatalf("session cookie: %s", got)
		}
	})
}

// TestRememberMeSurvivesRotationAndRestart: the "remember me" lifetime is
// the session's, not one response's: the token rotation 16 minutes later
// (and the session cookie kept alive where the store's MaxAge is short)
// sends the new token with it, capped at what remains of AbsoluteTimeout,
// so that a browser restart still finds the user signed in with the cart,
// even two hours later (past the Redis store's one hour).
func TestRememberMeSurvivesRotationAndRestart(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{IdleTimeout: 4 * time.Hour}, withRoutes(rememberRoutes))
		maxAge := 0
		if isRedis(kind) {
			maxAge = 3600
		}
		e.sess.Options(sessions.Options{Path: "/", MaxAge: maxAge, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
		j := newRestartJar()
		if r := j.do(e, "POST", "/remember?user=alice&days=30"); r.user() != "alice" {
			t.Fatalf("remember: %d %v", r.status, r.body)
		}
		j.do(e, "GET", "/cart") // presents the login's token
		tok := j.value[tokCookieName]
		e.clock.Advance(16 * time.Minute) // past RotationInterval
		r := j.do(e, "GET", "/cart")
		if r.user() != "alice" || j.value[tokCookieName] == tok {
			t.Fatalf("the request after 16 minutes did not rotate: %v", r.body)
		}
		want := "max-age=" + strconv.Itoa(int((12*time.Hour - 16*time.Minute).Seconds()))
		if got := lifetime(t, r, tokCookieName); got != want {
			t.Errorf("rotated token cookie: %s, want %s", got, want)
		}
		if setCookieLine(r, "app") != "" {
			if got := lifetime(t, r, "app"); got != want {
				t.Errorf("session cookie sent with the rotation: %s, want %s", got, want)
			}
		}
		if isRedis(kind) {
			// The test clock does not move Redis's: the key's TTL must
			// still be the chosen lifetime's, not the store's hour.
			conn := e.redis.Pool().Get()
			ttl, err := redis.Int(conn.Do("TTL", "session_"+sessionID(t, kind, j.value["app"])))
			conn.Close()
			if err != nil || ttl <= 3600 {
				t.Errorf("the session key's TTL after the rotation: %d (%v), want the chosen lifetime's", ttl, err)
			}
		}
		j.restart()
		e.clock.Advance(2 * time.Hour) // past the Redis store's MaxAge, within IdleTimeout
		got := j.do(e, "GET", "/cart")
		if got.user() != "alice" || got.body["cart"] != "apple" {
			t.Fatalf("after the rotation and a browser restart: %d %v (reason %v)", got.status, got.body, got.body["reason"])
		}
	})
}

// TestRememberMeSurvivesRenewAndRestart: Renew (a new token, and on
// memstore and Redis a new session ID) keeps the chosen lifetime for
// both cookies, so that a browser restart after it still finds the user
// signed in with the cart.
func TestRememberMeSurvivesRenewAndRestart(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{IdleTimeout: 4 * time.Hour}, withRoutes(rememberRoutes))
		maxAge := 0
		if isRedis(kind) {
			maxAge = 3600
		}
		e.sess.Options(sessions.Options{Path: "/", MaxAge: maxAge, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
		j := newRestartJar()
		j.do(e, "POST", "/remember?user=alice&days=30")
		j.do(e, "GET", "/cart")
		e.clock.Advance(time.Minute)
		r := j.do(e, "POST", "/renew")
		if r.status != http.StatusOK && r.status != http.StatusNoContent {
			t.Fatalf("renew: %d %v", r.status, r.body)
		}
		want := "max-age=" + strconv.Itoa(int((12*time.Hour - time.Minute).Seconds()))
		if got := lifetime(t, r, tokCookieName); got != want {
			t.Errorf("renewed token cookie: %s, want %s", got, want)
		}
		if kind != "cookie" {
			if got := lifetime(t, r, "app"); got != want {
				t.Errorf("renewed session cookie: %s, want %s", got, want)
			}
		}
		j.restart()
		e.clock.Advance(2 * time.Hour) // past the Redis store's MaxAge, within IdleTimeout
		got := j.do(e, "GET", "/cart")
		if got.user() != "alice" || got.body["cart"] != "apple" {
			t.Fatalf("after Renew and a browser restart: %d %v (reason %v)", got.status, got.body, got.body["reason"])
		}
	})
}

// TestRememberMeOffSurvivesRotation: turning "remember me" off (MaxAge 0)
// is kept too: the next rotation sends the token as a browser-session
// cookie, and a restart signs out.
func TestRememberMeOffSurvivesRotation(t *testing.T) {
	for _, kind := range []string{"cookie", "memstore"} {
		t.Run(kind, func(t *testing.T) {
			e := newEnv(t, kind, ginsecure.Config{}, withRoutes(func(r *gin.Engine, g *ginsecure.Guard) {
				rememberRoutes(r, g)
				r.POST("/forget", func(c *gin.Context) {
					s := sessions.Default(c)
					s.Options(sessions.Options{Path: "/", MaxAge: 0, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
					if err := s.Save(); err != nil {
						c.JSON(ginsecure.ErrorStatus(err), gin.H{"error": ginsecure.ErrorCode(err)})
						return
					}
					c.Status(http.StatusNoContent)
				})
			}))
			// The store's own sessions last a day: only the choice made
			// the token a browser-session cookie.
			e.sess.Options(sessions.Options{Path: "/", MaxAge: 86400, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
			j := newRestartJar()
			j.do(e, "POST", "/remember?user=alice&days=30")
			j.do(e, "POST", "/forget")
			tok := j.value[tokCookieName]
			e.clock.Advance(16 * time.Minute) // past RotationInterval
			r := j.do(e, "GET", "/cart")
			if r.user() != "alice" || j.value[tokCookieName] == tok {
				t.Fatalf("the request after 16 minutes did not rotate: %v", r.body)
			}
			if got := lifetime(t, r, tokCookieName); got != "session" {
				t.Errorf("rotated token cookie after forgetting: %s, want a browser-session cookie", got)
			}
		})
	}
}
