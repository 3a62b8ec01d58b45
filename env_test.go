package ginsecure_test

// The end-to-end test harness: a real Gin engine behind an httptest TLS
// server (the cookies are Secure), browsers with their own cookie jars, a
// movable clock and an event log. Every store kind runs through it.

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-contrib/sessions"
	"github.com/gin-contrib/sessions/cookie"
	"github.com/gin-contrib/sessions/memstore"
	gredis "github.com/gin-contrib/sessions/redis"
	"github.com/gin-gonic/gin"
	"github.com/ginsecure/ginsecure"
	"github.com/ginsecure/ginsecure/internal/redistest"
	"github.com/ginsecure/ginsecure/redisstore"
	"github.com/ginsecure/ginsecure/storeext"
	"github.com/gomodule/redigo/redis"
	"github.com/gorilla/securecookie"
)

func init() { gin.SetMode(gin.TestMode) }

// TestMain silences gin-contrib's own error log (it logs every bad cookie
// through slog's default logger) unless -v is given.
func TestMain(m *testing.M) {
	flag.Parse()
	if !testing.Verbose() {
		slog.SetDefault(discardLogger())
	}
	os.Exit(m.Run())
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// testClock is a clock tests move instead of sleeping.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *testClock { return &testClock{t: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// eventLog records events for assertions.
type eventLog struct {
	mu sync.Mutex
	ev []ginsecure.Event
}

func (l *eventLog) add(e ginsecure.Event) { l.mu.Lock(); l.ev = append(l.ev, e); l.mu.Unlock() }

func (l *eventLog) count(k ginsecure.EventKind) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, e := range l.ev {
		if e.Kind == k {
			n++
		}
	}
	return n
}

func (l *eventLog) reset() { l.mu.Lock(); l.ev = nil; l.mu.Unlock() }

// storeKinds are the gin-contrib session stores every end-to-end test runs
// on. "redis" keeps sessions and records through one pool, as the docs
// recommend (the Guard then reads and saves them together:
// session_redis.go); "redis-2pools" gives each store a pool of its own, as
// gin-contrib's redis.NewStore does (the record is prefetched beside the
// session, and a write is checked after it is saved). "redis-gincontrib"
// (not in storeKinds: the tests that name it) keeps gin-contrib's own
// store (ginredis.NewStoreWithPool) on the records' pool, which the
// records store knows only by its type: the ordinary path, with every
// protection of gin-contrib's Redis store.
var storeKinds = []string{"cookie", "memstore", "redis", "redis-2pools"}

// isRedis reports whether an env kind keeps its sessions in Redis.
func isRedis(kind string) bool { return strings.HasPrefix(kind, "redis") }

type env struct {
	t      testing.TB
	kind   string
	srv    *httptest.Server
	guard  *ginsecure.Guard
	clock  *testClock
	events *eventLog
	store  storeext.Store // ginsecure's store
	sess   sessions.Store
	redis  *redistest.Server
	engine *gin.Engine
	holds  *holds // the /hold routes' channels
}

type envOption func(*envOpts)

type envOpts struct {
	routes   func(r *gin.Engine, g *ginsecure.Guard)
	redis    *redistest.Server // share one server between engines
	pool     *redis.Pool       // the session store's pool (default: a new one)
	store    storeext.Store    // share one ginsecure store between engines
	noTLS    bool
	listener net.Listener
	engine   func(r *gin.Engine)
	keys     [][]byte // the session store's key pairs (default: sessionSecret alone)
}

func withRoutes(f func(r *gin.Engine, g *ginsecure.Guard)) envOption {
	return func(o *envOpts) { o.routes = f }
}
func withRedis(s *redistest.Server) envOption { return func(o *envOpts) { o.redis = s } }
func withPool(p *redis.Pool) envOption        { return func(o *envOpts) { o.pool = p } }
func withStore(s storeext.Store) envOption    { return func(o *envOpts) { o.store = s } }

// withSessionKeys gives the cookie or memstore session store these key
// pairs (a hash key, then an encryption key) instead of sessionSecret.
func withSessionKeys(keys ...[]byte) envOption { return func(o *envOpts) { o.keys = keys } }

// withEngine configures the engine (trusted proxies, a trusted platform)
// before any route is installed and the server starts.
func withEngine(f func(r *gin.Engine)) envOption { return func(o *envOpts) { o.engine = f } }

var sessionSecret = []byte("0123456789abcdef0123456789abcdef")

// newEnv starts an app on the gin-contrib store kind ("cookie", "memstore",
// "redis"). With "redis" both gin-contrib's store and ginsecure's live in a
// private redis-server (the test skips without the Debian package).
func newEnv(t testing.TB, kind string, cfg ginsecure.Config, opts ...envOption) *env {
	t.Helper()
	var o envOpts
	for _, f := range opts {
		f(&o)
	}
	e := &env{t: t, kind: kind, clock: newClock(), events: &eventLog{}}
	keys := o.keys
	if keys == nil {
		keys = [][]byte{sessionSecret}
	}
	switch kind {
	case "cookie":
		e.sess = cookie.NewStore(keys...)
	case "memstore":
		e.sess = memstore.NewStore(keys...)
	case "memstore-opaque":
		e.sess = opaqueSessionStore{memstore.NewStore(keys...)}
	case "redis", "redis-2pools", "redis-gincontrib":
		e.redis = o.redis
		if e.redis == nil {
			e.redis = redistest.Start(t)
		}
		// One pool for both stores, as the redisstore docs recommend: the
		// Guard then reads and writes sessions with the records
		// (session_redis.go).
		pool := o.pool
		if pool == nil {
			pool = e.redis.Pool()
		}
		var st sessions.Store
		var err error
		if kind == "redis-gincontrib" {
			st, err = gredis.NewStoreWithPool(pool, sessionSecret)
		} else {
			st, err = redisstore.NewSessionStore(pool, [][]byte{sessionSecret})
		}
		if err != nil {
			t.Fatal(err)
		}
		e.sess = st
		if cfg.Store == nil && o.store == nil {
			recPool := pool
			if kind == "redis-2pools" {
				recPool = e.redis.Pool()
			}
			cfg.Store = redisstore.New(recPool, redisstore.WithPrefix("gs:"))
		}
	default:
		t.Fatalf("unknown store kind %q", kind)
	}
	e.sess.Options(sessions.Options{Path: "/", MaxAge: 86400, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	if o.store != nil {
		cfg.Store = o.store
	}
	if cfg.Store == nil {
		cfg.Store = ginsecure.NewMemoryStore()
	}
	if cfg.Now == nil {
		cfg.Now = e.clock.Now
	}
	user := cfg.OnEvent
	cfg.OnEvent = func(ev ginsecure.Event) {
		e.events.add(ev)
		if user != nil {
			user(ev)
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = discardLogger()
	}
	g, err := ginsecure.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.guard, e.store = g, cfg.Store

	r := gin.New()
	if o.engine != nil {
		o.engine(r)
	}
	r.Use(sessions.Sessions("app", e.sess), g.Middleware())
	e.engine = r
	installRoutes(r, g)
	e.holds = newHolds()
	e.holds.install(r, g)
	if o.routes != nil {
		o.routes(r, g)
	}
	e.srv = httptest.NewUnstartedServer(r)
	if o.listener != nil {
		e.srv.Listener.Close()
		e.srv.Listener = o.listener
	}
	if o.noTLS {
		e.srv.Start()
	} else {
		e.srv.StartTLS()
	}
	t.Cleanup(e.srv.Close)
	return e
}

// installRoutes is the test app.
func installRoutes(r *gin.Engine, g *ginsecure.Guard) {
	who := func(c *gin.Context) gin.H {
		u, _ := ginsecure.UserID(c)
		h := gin.H{"user": u}
		if err := ginsecure.FailureReason(c); err != nil {
			h["reason"] = ginsecure.ErrorCode(err)
		}
		return h
	}
	r.POST("/login", func(c *gin.Context) {
		if err := ginsecure.Login(c, c.Query("user")); err != nil {
			c.JSON(ginsecure.ErrorStatus(err), gin.H{"error": ginsecure.ErrorCode(err)})
			return
		}
		c.JSON(http.StatusOK, who(c))
	})
	r.POST("/logout", func(c *gin.Context) {
		if err := ginsecure.Logout(c); err != nil {
			c.JSON(ginsecure.ErrorStatus(err), gin.H{"error": ginsecure.ErrorCode(err)})
			return
		}
		c.JSON(http.StatusOK, gin.H{"user": ""})
	})
	r.POST("/renew", g.Require(ginsecure.Policy{Authenticated: true}), func(c *gin.Context) {
		if err := ginsecure.Renew(c); err != nil {
			c.JSON(ginsecure.ErrorStatus(err), gin.H{"error": ginsecure.ErrorCode(err)})
			return
		}
		c.JSON(http.StatusOK, who(c))
	})
	r.GET("/public", func(c *gin.Context) { c.JSON(http.StatusOK, who(c)) })
	// /silent writes no body: Gin flushes the headers itself after the chain.
	r.GET("/silent", func(c *gin.Context) {
		if c.Query("write") != "" {
			s := sessions.Default(c)
			s.Set("silent", c.Query("write"))
			_ = s.Save()
		}
		c.Status(http.StatusNoContent)
	})
	r.GET("/cart", func(c *gin.Context) {
		h := who(c)
		h["cart"] = sessions.Default(c).Get("cart")
		c.JSON(http.StatusOK, h)
	})
	r.POST("/cart", func(c *gin.Context) {
		s := sessions.Default(c)
		s.Set("cart", c.Query("item"))
		if err := s.Save(); err != nil {
			c.JSON(saveFailure(err))
			return
		}
		c.JSON(http.StatusOK, who(c))
	})
	me := r.Group("/me", g.Require(ginsecure.Policy{Authenticated: true}))
	me.GET("", func(c *gin.Context) { c.JSON(http.StatusOK, who(c)) })
	me.POST("/write", func(c *gin.Context) {
		s := sessions.Default(c)
		n, _ := s.Get("n").(int)
		s.Set("n", n+1)
		_ = s.Save()
		h := who(c)
		h["n"] = n + 1
		c.JSON(http.StatusOK, h)
	})
	me.GET("/sessions", func(c *gin.Context) {
		list, err := g.SessionsOf(c)
		if err != nil {
			c.JSON(ginsecure.ErrorStatus(err), gin.H{"error": ginsecure.ErrorCode(err)})
			return
		}
		c.JSON(http.StatusOK, gin.H{"sessions": list})
	})
	me.POST("/revoke-others", func(c *gin.Context) {
		n, err := g.RevokeOthers(c)
		if err != nil {
			c.JSON(ginsecure.ErrorStatus(err), gin.H{"error": ginsecure.ErrorCode(err)})
			return
		}
		c.JSON(http.StatusOK, gin.H{"revoked": n})
	})
	admin := r.Group("/admin", g.Require(ginsecure.Policy{Authenticated: true, IPBinding: ginsecure.IPExact(), MaxAuthAge: 10 * time.Minute}))
	admin.GET("", func(c *gin.Context) { c.JSON(http.StatusOK, who(c)) })
}

// browser is one client with its own cookie jar.
type browser struct {
	e      *env
	jar    *cookiejar.Jar
	client *http.Client
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	tr := e.srv.Client().Transport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	return &browser{e: e, jar: jar, client: &http.Client{Jar: jar, Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// browserFrom returns a browser whose connections leave from localIP
// (127.0.0.2 and so on are local addresses on Linux).
func (e *env) browserFrom(localIP string) *browser {
	b := e.browser()
	tr := b.client.Transport.(*http.Transport)
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(localIP)}, Timeout: 5 * time.Second}
	tr.DialContext = d.DialContext
	tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the test server's own certificate
	return b
}

type reply struct {
	status  int
	body    map[string]any
	cookies []*http.Cookie
	header  http.Header
}

func (r reply) user() string    { s, _ := r.body["user"].(string); return s }
func (r reply) errCode() string { s, _ := r.body["error"].(string); return s }

func (b *browser) do(method, path string, hdr ...string) reply {
	b.e.t.Helper()
	req, err := http.NewRequest(method, b.e.srv.URL+path, nil)
	if err != nil {
		b.e.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	out := reply{status: resp.StatusCode, cookies: resp.Cookies(), header: resp.Header}
	if len(data) > 0 {
		_ = json.Unmarshal(data, &out.body)
	}
	if out.body == nil {
		out.body = map[string]any{}
	}
	return out
}

func (b *browser) get(path string) reply  { return b.do(http.MethodGet, path) }
func (b *browser) post(path string) reply { return b.do(http.MethodPost, path) }

// login signs the browser in as user and then, as a browser does after a
// sign-in form's response (a redirect, the next page), makes its first
// request with the new credentials: a login's record holds a slot of
// MaxSessionsPerUser from that first presentation on, and ends
// UnpresentedAge after the login without it. signIn stops after the
// login's response.
func (b *browser) login(user string) reply {
	b.e.t.Helper()
	r := b.signIn(user)
	// (An engine without /public answers 404 after the Guard ran.)
	if p := b.get("/public"); p.status != http.StatusNotFound && (p.status != http.StatusOK || p.user() != user) {
		b.e.t.Fatalf("login %s: the first request after it: %d %v", user, p.status, p.body)
	}
	return r
}

// signIn posts the sign-in form as user, and nothing after it: the new
// record stays unpresented until the browser's next request.
func (b *browser) signIn(user string) reply {
	b.e.t.Helper()
	r := b.post("/login?user=" + url.QueryEscape(user))
	if r.status != http.StatusOK || r.user() != user {
		b.e.t.Fatalf("login %s: %d %v", user, r.status, r.body)
	}
	return r
}

// cookies returns the jar's cookies for the app.
func (b *browser) cookies() []*http.Cookie {
	u, _ := url.Parse(b.e.srv.URL)
	return b.jar.Cookies(u)
}

// copyTo gives another browser this one's cookies (a stolen or planted copy).
func (b *browser) copyTo(o *browser) {
	u, _ := url.Parse(b.e.srv.URL)
	var cs []*http.Cookie
	for _, c := range b.jar.Cookies(u) {
		cs = append(cs, &http.Cookie{Name: c.Name, Value: c.Value, Path: "/", Secure: true})
	}
	o.jar.SetCookies(u, cs)
}

// setCookie puts a raw cookie into the jar.
func (b *browser) setCookie(name, value string) {
	u, _ := url.Parse(b.e.srv.URL)
	b.jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: "/", Secure: true}})
}

func (b *browser) cookie(name string) string {
	for _, c := range b.cookies() {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

func hasCookie(cs []*http.Cookie, name string) bool {
	for _, c := range cs {
		if c.Name == name {
			return true
		}
	}
	return false
}

func forEachStore(t *testing.T, f func(t *testing.T, kind string)) {
	for _, k := range storeKinds {
		t.Run(k, func(t *testing.T) { f(t, k) })
	}
}

func newRedisStoreForTest(t testing.TB, s *redistest.Server) storeext.Store {
	return redisstore.New(s.Pool(), redisstore.WithPrefix("gs:"))
}

// saveFailure is how the test app answers a Save that failed: a write that
// could not be kept is said out loud, never dropped with a 200.
func saveFailure(err error) (int, gin.H) {
	switch {
	case errors.Is(err, ginsecure.ErrStaleCredentials):
		return http.StatusConflict, gin.H{"error": ginsecure.ErrorCode(err)}
	case errors.Is(err, ginsecure.ErrForeignSession):
		return http.StatusConflict, gin.H{"error": "foreign_session"}
	default:
		return http.StatusInternalServerError, gin.H{"error": err.Error()}
	}
}

// holdTimeout bounds every wait on a hold, so that a test that forgets to
// release one (or a request that never arrives) fails instead of hanging.
const holdTimeout = 10 * time.Second

// holds lets a test keep a request inside its handler: verified by the
// middleware before something else happens (a login), answered after it.
// GET /hold?id=ID (any visitor) and GET /hold/auth?id=ID (Require
// Authenticated) signal that they entered, wait for the test to release
// them and then, with &write=V, set the session's "cart" to V and save it.
// The reply names the user seen on entry ("entry_user") and at the end
// ("user").
type holds struct {
	mu sync.Mutex
	m  map[string]*hold
}

type hold struct {
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func newHolds() *holds { return &holds{m: map[string]*hold{}} }

func (h *holds) get(id string) *hold {
	h.mu.Lock()
	defer h.mu.Unlock()
	x, ok := h.m[id]
	if !ok {
		x = &hold{entered: make(chan struct{}), release: make(chan struct{})}
		h.m[id] = x
	}
	return x
}

// waitEntered waits until the request held as id is inside its handler.
func (h *holds) waitEntered(id string) error {
	select {
	case <-h.get(id).entered:
		return nil
	case <-time.After(holdTimeout):
		return fmt.Errorf("held request %s never entered its handler", id)
	}
}

// free lets the request held as id go on.
func (h *holds) free(id string) {
	x := h.get(id)
	x.once.Do(func() { close(x.release) })
}

func (h *holds) install(r *gin.Engine, g *ginsecure.Guard) {
	handler := func(c *gin.Context) {
		id := c.Query("id")
		x := h.get(id)
		entry, _ := ginsecure.UserID(c)
		close(x.entered)
		select {
		case <-x.release:
		case <-time.After(holdTimeout):
			c.JSON(http.StatusGatewayTimeout, gin.H{"error": "hold " + id + " never released"})
			return
		}
		if v := c.Query("write"); v != "" {
			s := sessions.Default(c)
			s.Set("cart", v)
			if err := s.Save(); err != nil {
				status, body := saveFailure(err)
				body["entry_user"] = entry
				u, _ := ginsecure.UserID(c)
				body["user"] = u
				c.JSON(status, body)
				return
			}
		}
		u, _ := ginsecure.UserID(c)
		c.JSON(http.StatusOK, gin.H{"user": u, "entry_user": entry})
	}
	r.GET("/hold", handler)
	r.GET("/hold/auth", g.Require(ginsecure.Policy{Authenticated: true}), handler)
}

// holdAt sends GET path (a hold route with ?id=id) with exactly the
// Cookie header given and returns once the request is held inside its
// handler; release frees it and returns its reply.
func (e *env) holdAt(t testing.TB, path, id, cookieHeader string) (release func() reply) {
	t.Helper()
	done := make(chan reply, 1)
	go func() {
		r, err := e.trySend("GET", path, cookieHeader)
		if err != nil {
			t.Error(err)
		}
		done <- r
	}()
	if err := e.holds.waitEntered(id); err != nil {
		t.Fatal(err)
	}
	return func() reply {
		e.holds.free(id)
		return <-done
	}
}

// send makes one request with exactly the Cookie header given (several
// cookies of one name, in the order written, as a browser sends them when
// two paths or domains set one), through no jar.
func (e *env) send(method, path, cookieHeader string) reply {
	e.t.Helper()
	r, err := e.trySend(method, path, cookieHeader)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// trySend is send for other goroutines than the test's: it returns the
// transport's error instead of failing the test.
func (e *env) trySend(method, path, cookieHeader string) (reply, error) {
	req, err := http.NewRequest(method, e.srv.URL+path, nil)
	if err != nil {
		return reply{}, err
	}
	if cookieHeader != "" {
		req.Header.Set("Cookie", cookieHeader)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, err
	}
	out := reply{status: resp.StatusCode, cookies: resp.Cookies(), header: resp.Header, body: map[string]any{}}
	if len(data) > 0 {
		_ = json.Unmarshal(data, &out.body)
	}
	return out, nil
}

// header is the Cookie header this browser's jar would send now.
func (b *browser) header() string { return joinCookies(b.cookies()) }

// apply puts a reply's Set-Cookie into the jar, as the browser does when
// the response reaches it (an expiry deletes).
func (b *browser) apply(r reply) {
	u, _ := url.Parse(b.e.srv.URL)
	b.jar.SetCookies(u, r.cookies)
}

// joinCookies writes cookies as one Cookie header.
func joinCookies(cs []*http.Cookie) string {
	parts := make([]string, 0, len(cs))
	for _, c := range cs {
		parts = append(parts, c.Name+"="+c.Value)
	}
	return strings.Join(parts, "; ")
}

// sessions lists the user's live sessions from the Guard.
func (e *env) sessions(t testing.TB, user string) []ginsecure.SessionInfo {
	t.Helper()
	list, err := e.guard.Sessions(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// tokCookieName is the token cookie's name (the default).
const tokCookieName = ginsecure.DefaultCookieName

// sessionID decodes the gin-contrib session ID from a session cookie of
// the memstore or Redis store ("" for the cookie store, which has none).
func sessionID(t *testing.T, kind, value string) string {
	t.Helper()
	if kind == "cookie" {
		return ""
	}
	var id string
	if err := securecookie.DecodeMulti("app", value, &id, securecookie.CodecsFromPairs(sessionSecret)...); err != nil {
		t.Fatalf("decode session cookie: %v", err)
	}
	return id
}

// lockedWriter is a log buffer safe to write from request goroutines and
// read from the test.
type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
