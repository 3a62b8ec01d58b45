package ginsecure_test

// Testable examples: each drives a real gin engine in process, as a browser
// would (see visitor at the bottom), and prints what the browser saw. They
// print statuses and users, never cookie values, times or handles.

import (
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gin-contrib/sessions"
	"github.com/gin-contrib/sessions/cookie"
	"github.com/gin-gonic/gin"
	"github.com/gomodule/redigo/redis"

	"github.com/ginsecure/ginsecure"
	"github.com/ginsecure/ginsecure/redisstore"
)

// New and Middleware on gin-contrib's cookie store: one r.Use line. The
// store's cookie options are those a session cookie should have.
func ExampleGuard_Middleware() {
	store := cookie.NewStore([]byte("32-byte-long-auth-key-for-demo!!"))
	store.Options(sessions.Options{Path: "/", MaxAge: 12 * 3600, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})

	sec, err := ginsecure.New(ginsecure.Config{}) // the zero Config is safe
	if err != nil {
		log.Fatal(err)
	}
	r := gin.New()
	r.Use(sessions.Sessions("app", store), sec.Middleware())
	r.GET("/me", func(c *gin.Context) {
		user, ok := ginsecure.UserID(c)
		if !ok {
			c.String(http.StatusOK, "anonymous")
			return
		}
		c.String(http.StatusOK, user)
	})
	r.POST("/login", func(c *gin.Context) {
		if err := ginsecure.Login(c, "alice"); err != nil { // after checking a password
			c.AbortWithStatusJSON(ginsecure.ErrorStatus(err), gin.H{"error": ginsecure.ErrorCode(err)})
		}
	})

	browser := newVisitor(r, "192.0.2.10")
	fmt.Println(browser.get("/me"))
	fmt.Println(browser.post("/login", nil))
	fmt.Println(browser.get("/me"))
	// Output:
	// 200 anonymous
	// 200
	// 200 alice
}

// Login after a password check, Logout with its error handled: a Logout
// that fails did not finish the sign-out (a store was unreachable: 503,
// retry; the request proved nothing: 401; Middleware missing: 500), so
// the handler says so instead of showing a signed-out page.
func ExampleLogin() {
	passwords := map[string]string{"alice": "correct horse"}
	sec, err := ginsecure.New(ginsecure.Config{})
	if err != nil {
		log.Fatal(err)
	}
	r := gin.New()
	r.Use(sessions.Sessions("app", exampleCookieStore()), sec.Middleware())

	r.POST("/login", func(c *gin.Context) {
		user := c.PostForm("user")
		if pw, ok := passwords[user]; !ok || pw != c.PostForm("password") { // use crypto/subtle and a password hash in real code
			c.String(http.StatusUnauthorized, "wrong user or password")
			return
		}
		if err := ginsecure.Login(c, user); err != nil {
			c.String(ginsecure.ErrorStatus(err), "could not sign in: %s", ginsecure.ErrorCode(err))
			return
		}
		c.Redirect(http.StatusSeeOther, "/")
	})
	r.POST("/logout", func(c *gin.Context) {
		if err := ginsecure.Logout(c); err != nil {
			// Not signed out: ErrStoreUnavailable (503) means "try
			// again", ErrNoSession (401) that the request proved nothing.
			c.String(ginsecure.ErrorStatus(err), "could not sign out, try again: %s", ginsecure.ErrorCode(err))
			return
		}
		c.Redirect(http.StatusSeeOther, "/login")
	})
	me := r.Group("/me", sec.Require(ginsecure.Policy{Authenticated: true}))
	me.GET("", func(c *gin.Context) {
		user, _ := ginsecure.UserID(c)
		c.String(http.StatusOK, user)
	})

	browser := newVisitor(r, "192.0.2.10")
	fmt.Println(browser.post("/login", url.Values{"user": {"alice"}, "password": {"wrong"}}))
	fmt.Println(browser.post("/login", url.Values{"user": {"alice"}, "password": {"correct horse"}}))
	fmt.Println(browser.get("/me"))
	fmt.Println(browser.post("/logout", nil))
	fmt.Println(browser.get("/me"))
	// Output:
	// 401 wrong user or password
	// 303 → /
	// 200 alice
	// 303 → /login
	// 401 {"error":"no_session"}
}

// A route group stricter than the rest of the site: the exact address of
// the login (not only its /24) and a login no older than ten minutes.
func ExampleGuard_Require() {
	clock := newExampleClock()
	sec, err := ginsecure.New(ginsecure.Config{
		IPBinding: ginsecure.IPPrefix(24, 64), // the whole site: the login's /24
		Now:       clock.Now,
	})
	if err != nil {
		log.Fatal(err)
	}
	r := gin.New()
	r.Use(sessions.Sessions("app", exampleCookieStore()), sec.Middleware())
	r.POST("/login", func(c *gin.Context) { _ = ginsecure.Login(c, "alice") })
	r.GET("/home", func(c *gin.Context) { c.String(http.StatusOK, "home") })
	admin := r.Group("/admin", sec.Require(ginsecure.Policy{
		Authenticated: true,
		IPBinding:     ginsecure.IPExact(),
		MaxAuthAge:    10 * time.Minute,
	}))
	admin.GET("", func(c *gin.Context) { c.String(http.StatusOK, "admin console") })

	browser := newVisitor(r, "198.51.100.7")
	browser.post("/login", nil)
	fmt.Println(browser.get("/admin"))

	clock.Advance(11 * time.Minute)
	fmt.Println(browser.get("/admin")) // the login is too old for /admin ...
	fmt.Println(browser.get("/home"))  // ... not for the rest of the site

	browser.addr = "198.51.100.8" // same /24, another address
	fmt.Println(browser.get("/admin"))
	// Output:
	// 200 admin console
	// 403 {"error":"reauth_required"}
	// 200 home
	// 401 {"error":"ip_mismatch"}
}

// Renew as a step-up: a route that wants a recent login answers
// ErrReauthRequired; the user types the password again, and Renew resets
// the login time (and rotates the credentials, since privilege went up).
func ExampleRenew() {
	clock := newExampleClock()
	sec, err := ginsecure.New(ginsecure.Config{Now: clock.Now})
	if err != nil {
		log.Fatal(err)
	}
	r := gin.New()
	r.Use(sessions.Sessions("app", exampleCookieStore()), sec.Middleware())
	r.POST("/login", func(c *gin.Context) { _ = ginsecure.Login(c, "alice") })

	signedIn := r.Group("/", sec.Require(ginsecure.Policy{Authenticated: true}))
	signedIn.POST("/confirm-password", func(c *gin.Context) {
		if c.PostForm("password") != "correct horse" { // check the signed-in user's password
			c.String(http.StatusForbidden, "wrong password")
			return
		}
		if err := ginsecure.Renew(c); err != nil {
			c.String(ginsecure.ErrorStatus(err), ginsecure.ErrorCode(err))
			return
		}
		c.String(http.StatusOK, "confirmed")
	})
	pay := r.Group("/pay", sec.Require(ginsecure.Policy{Authenticated: true, MaxAuthAge: 5 * time.Minute}))
	pay.POST("", func(c *gin.Context) { c.String(http.StatusOK, "paid") })
	r.GET("/", func(c *gin.Context) { c.String(http.StatusOK, "home") })

	browser := newVisitor(r, "192.0.2.10")
	browser.post("/login", nil)
	browser.get("/") // the page the sign-in leads to (UnpresentedAge)
	clock.Advance(6 * time.Minute)
	fmt.Println(browser.post("/pay", nil))
	fmt.Println(browser.post("/confirm-password", url.Values{"password": {"correct horse"}}))
	fmt.Println(browser.post("/pay", nil))
	// Output:
	// 403 {"error":"reauth_required"}
	// 200 confirmed
	// 200 paid
}

// "Where you're signed in": SessionsOf lists the user's sessions, marking
// the one asking; RevokeOthers signs out all the others (after a password
// change, say), on every server sharing the store. The reason it is given
// reaches the signed-out browser: the default 401 body names it.
func ExampleGuard_SessionsOf() {
	clock := newExampleClock()
	sec, err := ginsecure.New(ginsecure.Config{Now: clock.Now})
	if err != nil {
		log.Fatal(err)
	}
	r := gin.New()
	r.Use(sessions.Sessions("app", exampleCookieStore()), sec.Middleware())
	r.POST("/login", func(c *gin.Context) { _ = ginsecure.Login(c, "alice") })
	signedIn := r.Group("/", sec.Require(ginsecure.Policy{Authenticated: true}))
	signedIn.GET("/sessions", func(c *gin.Context) {
		list, err := sec.SessionsOf(c)
		if err != nil {
			c.String(ginsecure.ErrorStatus(err), ginsecure.ErrorCode(err))
			return
		}
		for _, s := range list {
			fmt.Fprintf(c.Writer, "%s current=%t; ", s.IP, s.Current)
		}
	})
	signedIn.POST("/sessions/revoke-others", func(c *gin.Context) {
		n, err := sec.RevokeOthers(c, ginsecure.ReasonPasswordChange)
		if err != nil {
			c.String(ginsecure.ErrorStatus(err), ginsecure.ErrorCode(err))
			return
		}
		c.String(http.StatusOK, "signed out %d other session(s)", n)
	})

	r.GET("/", func(c *gin.Context) { c.String(http.StatusOK, "home") })

	laptop, phone := newVisitor(r, "192.0.2.10"), newVisitor(r, "198.51.100.7")
	laptop.post("/login", nil)
	laptop.get("/") // a session is listed from its first request (UnpresentedAge)
	clock.Advance(time.Minute)
	phone.post("/login", nil)
	phone.get("/")
	fmt.Println(laptop.get("/sessions")) // oldest first
	fmt.Println(laptop.post("/sessions/revoke-others", nil))
	fmt.Println(laptop.get("/sessions"))
	fmt.Println(phone.get("/sessions"))
	// Output:
	// 200 192.0.2.10 current=true; 198.51.100.7 current=false;
	// 200 signed out 1 other session(s)
	// 200 192.0.2.10 current=true;
	// 401 {"error":"revoked","reason":"password_changed"}
}

// IP policies. IPPrefix binds a session to the network of its login (a /24
// here: a home router's address may change inside it); Allow adds networks
// a session may always be used from, such as the office VPN's exit.
func ExampleIPPolicy_Allow() {
	sec, err := ginsecure.New(ginsecure.Config{
		IPBinding: ginsecure.IPPrefix(24, 64).Allow("10.8.0.0/16"),
	})
	if err != nil {
		log.Fatal(err)
	}
	r := gin.New()
	r.Use(sessions.Sessions("app", exampleCookieStore()), sec.Middleware())
	r.POST("/login", func(c *gin.Context) { _ = ginsecure.Login(c, "alice") })
	me := r.Group("/me", sec.Require(ginsecure.Policy{Authenticated: true}))
	me.GET("", func(c *gin.Context) { user, _ := ginsecure.UserID(c); c.String(http.StatusOK, user) })

	browser := newVisitor(r, "203.0.113.25")
	browser.post("/login", nil)
	// The mismatch revoked the session: back on its own network, it stays
	// signed out, and says why.
	for _, addr := range []string{"203.0.113.25", "203.0.113.80", "10.8.3.4", "198.51.100.7", "203.0.113.25"} {
		browser.addr = addr
		fmt.Println(addr, browser.get("/me"))
	}
	// Output:
	// 203.0.113.25 200 alice
	// 203.0.113.80 200 alice
	// 10.8.3.4 200 alice
	// 198.51.100.7 401 {"error":"ip_mismatch"}
	// 203.0.113.25 401 {"error":"ip_mismatch"}
}

// OnEvent receives every security event; here it feeds an application's
// own slog logger (attributes chosen by the application), while the
// Guard's own log is switched off.
func ExampleConfig_onEvent() {
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{} // keep the output of this example stable
			}
			return a
		},
	}))
	sec, err := ginsecure.New(ginsecure.Config{
		Logger: slog.New(slog.DiscardHandler),
		OnEvent: func(ev ginsecure.Event) {
			if ev.Kind != ginsecure.EventLogin && ev.Kind != ginsecure.EventLogout {
				return // this example shows two kinds; see EventKind for all
			}
			logger.Info("security event", "kind", ev.Kind, "user", ev.UserID, "path", ev.Path)
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	r := gin.New()
	r.Use(sessions.Sessions("app", exampleCookieStore()), sec.Middleware())
	r.POST("/login", func(c *gin.Context) { _ = ginsecure.Login(c, "alice") })
	r.POST("/logout", func(c *gin.Context) { _ = ginsecure.Logout(c) })

	browser := newVisitor(r, "192.0.2.10")
	browser.post("/login", nil)
	browser.post("/logout", nil)
	// Output:
	// level=INFO msg="security event" kind=login user=alice path=/login
	// level=INFO msg="security event" kind=logout user=alice path=/logout
}

// Several servers: keep sessions and security records in one Redis. Build
// the redigo pool yourself: boj/redistore's own constructors PING on every
// borrow, doubling each request's round trips. The idiom below PINGs only
// a connection that sat idle for more than a minute.
func ExampleConfig_redis() {
	pool := &redis.Pool{
		MaxIdle:     16,
		IdleTimeout: 4 * time.Minute,
		Dial: func() (redis.Conn, error) {
			return redis.Dial("tcp", "127.0.0.1:6379",
				redis.DialConnectTimeout(2*time.Second),
				redis.DialReadTimeout(2*time.Second),
				redis.DialWriteTimeout(2*time.Second))
		},
		TestOnBorrow: func(c redis.Conn, idleSince time.Time) error {
			if time.Since(idleSince) < time.Minute {
				return nil
			}
			_, err := c.Do("PING")
			return err
		},
	}
	defer pool.Close()

	// gin-contrib's Redis session store on the records' pool: a request's
	// record and session are read in one round trip.
	sessStore, err := redisstore.NewSessionStore(pool, [][]byte{[]byte("32-byte-long-auth-key-for-demo!!")})
	if err != nil {
		log.Fatal(err)
	}
	// boj/redistore deletes a session saved with MaxAge <= 0: give it one.
	sessStore.Options(sessions.Options{Path: "/", MaxAge: 12 * 3600, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})

	sec, err := ginsecure.New(ginsecure.Config{Store: redisstore.New(pool)})
	if err != nil {
		log.Fatal(err)
	}
	r := gin.New()
	r.Use(sessions.Sessions("app", sessStore), sec.Middleware())
	// ... routes as on one server; run r on every server.
}

// ErrorCode and ErrorStatus give what the default error handler answers;
// a nil error has no code and the status of success.
func ExampleErrorCode() {
	for _, err := range []error{
		nil,
		ginsecure.ErrReplay,
		fmt.Errorf("logout: %w", ginsecure.ErrStoreUnavailable),
		ginsecure.ErrRevoked,
		errors.New("some other error"),
	} {
		fmt.Printf("%q %d expired=%t\n", ginsecure.ErrorCode(err), ginsecure.ErrorStatus(err), errors.Is(err, ginsecure.ErrExpired))
	}
	// Output:
	// "" 200 expired=false
	// "replay" 401 expired=false
	// "store_unavailable" 503 expired=false
	// "revoked" 401 expired=true
	// "unauthorized" 401 expired=false
}

// What the examples share.

func init() { gin.SetMode(gin.TestMode) } // no debug banner in the examples' output

// exampleCookieStore is gin-contrib's cookie store with the options a
// session cookie should have (ginsecure warns about weaker ones).
func exampleCookieStore() sessions.Store {
	store := cookie.NewStore([]byte("32-byte-long-auth-key-for-demo!!"))
	store.Options(sessions.Options{Path: "/", MaxAge: 12 * 3600, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	return store
}

// visitor is one browser at IP address addr: it sends requests to a gin
// engine in process (httptest.NewRecorder) and keeps cookies in a jar for
// https://example.com, so Secure cookies behave as in a browser.
type visitor struct {
	h    http.Handler
	jar  *cookiejar.Jar
	addr string
}

var exampleSite = &url.URL{Scheme: "https", Host: "example.com", Path: "/"}

func newVisitor(h http.Handler, addr string) *visitor {
	jar, _ := cookiejar.New(nil)
	return &visitor{h: h, jar: jar, addr: addr}
}

func (v *visitor) get(path string) string { return v.do(http.MethodGet, path, nil) }

func (v *visitor) post(path string, form url.Values) string {
	return v.do(http.MethodPost, path, form)
}

// do sends one request and returns "status body", or "status → location"
// for a redirect (which it does not follow).
func (v *visitor) do(method, path string, form url.Values) string {
	req := httptest.NewRequest(method, "https://example.com"+path, strings.NewReader(form.Encode()))
	req.RemoteAddr = v.addr + ":50000"
	req.Header.Set("Origin", "https://example.com")
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for _, c := range v.jar.Cookies(exampleSite) {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	v.h.ServeHTTP(rec, req)
	resp := rec.Result()
	v.jar.SetCookies(exampleSite, resp.Cookies())
	if loc := resp.Header.Get("Location"); loc != "" {
		return fmt.Sprintf("%d → %s", resp.StatusCode, loc)
	}
	body, _ := io.ReadAll(resp.Body)
	return strings.TrimSpace(fmt.Sprintf("%d %s", resp.StatusCode, body))
}

// exampleClock is Config.Now for examples that move time.
type exampleClock struct {
	mu sync.Mutex
	t  time.Time
}

func newExampleClock() *exampleClock {
	return &exampleClock{t: time.Date(2026, 1, 2, 9, 0, 0, 0, time.UTC)}
}

func (c *exampleClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *exampleClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Device binding on: a login's response offers DBSC registration, and a
// route that requires a device-bound session refuses a browser that has
// not bound its session (this visitor does not speak DBSC).
func ExampleDeviceBinding() {
	store := cookie.NewStore([]byte("32-byte-long-auth-key-for-demo!!"))
	store.Options(sessions.Options{Path: "/", MaxAge: 12 * 3600, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	sec, err := ginsecure.New(ginsecure.Config{
		DeviceBinding: ginsecure.DeviceBinding{Enabled: true},
		// With Redis, share the challenges too:
		// Store: redisstore.New(pool),
		// DeviceBinding: ginsecure.DeviceBinding{Enabled: true, Challenges: redisstore.NewChallengeStore(pool, "gsec:")},
	})
	if err != nil {
		log.Fatal(err)
	}
	r := gin.New()
	r.Use(sessions.Sessions("app", store), sec.Middleware())
	admin := r.Group("/admin", sec.Require(ginsecure.Policy{DeviceBound: true}))
	admin.GET("", func(c *gin.Context) { c.String(http.StatusOK, "bound") })
	r.POST("/login", func(c *gin.Context) {
		if err := ginsecure.Login(c, "alice"); err != nil {
			c.AbortWithStatusJSON(ginsecure.ErrorStatus(err), gin.H{"error": ginsecure.ErrorCode(err)})
			return
		}
		c.String(http.StatusOK, "offered: %v", c.Writer.Header().Get("Secure-Session-Registration") != "")
	})

	browser := newVisitor(r, "192.0.2.10")
	fmt.Println(browser.post("/login", nil))
	fmt.Println(browser.get("/admin"))
	// Output:
	// 200 offered: true
	// 403 {"error":"device_binding_required"}
}
