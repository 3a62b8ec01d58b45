package ginsecure_test

// A small, independent black-box harness: real gin, real gin-contrib
// sessions (cookie store with encryption, memstore, Redis through
// redisstore.NewSessionStore on the records' pool), a browser with a
// hand-kept cookie jar whose responses can be applied in any order, and
// handlers that can be held mid-request. It uses only the public API.

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-contrib/sessions"
	"github.com/gin-contrib/sessions/cookie"
	"github.com/gin-contrib/sessions/memstore"
	"github.com/gin-gonic/gin"
	"github.com/gomodule/redigo/redis"

	"github.com/ginsecure/ginsecure"
	"github.com/ginsecure/ginsecure/internal/redistest"
	"github.com/ginsecure/ginsecure/redisstore"
)

const bbSessName = "app"

var bbStores = []string{"cookie", "memstore", "redis"}

// bbForStores runs f once per session store.
func bbForStores(t *testing.T, f func(t *testing.T, kind string)) {
	for _, k := range bbStores {
		t.Run(k, func(t *testing.T) { f(t, k) })
	}
}

// bbShared holds one redis-server per top-level test (bbShareRedis),
// flushed before each environment, so that subtests do not each start
// their own.
var bbShared sync.Map // top-level test name -> *redistest.Server

// bbShareRedis starts the redis-server that t's subtests share.
func bbShareRedis(t *testing.T) {
	s := redistest.Start(t)
	bbShared.Store(t.Name(), s)
	t.Cleanup(func() { bbShared.Delete(t.Name()) })
}

// bbRedisFor is the shared server of t's top-level test, flushed, or a
// server of t's own.
func bbRedisFor(t *testing.T) *redistest.Server {
	top, _, _ := strings.Cut(t.Name(), "/")
	v, ok := bbShared.Load(top)
	if !ok {
		return redistest.Start(t)
	}
	s := v.(*redistest.Server)
	c, err := redis.Dial("unix", s.Socket)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Do("FLUSHALL"); err != nil {
		t.Fatal(err)
	}
	return s
}

type bbClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *bbClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *bbClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type bbEnv struct {
	t      *testing.T
	kind   string
	r      *gin.Engine
	guard  *ginsecure.Guard
	clock  *bbClock
	redis  *redistest.Server
	evMu   sync.Mutex
	events []ginsecure.Event
	holdMu sync.Mutex
	holds  map[string]*bbHold
	seq    int
}

type bbHold struct {
	entered chan struct{}
	release chan struct{}
}

type bbOpt struct {
	engine func(*gin.Engine)
}

func bbNew(t *testing.T, kind string, cfg ginsecure.Config, opts ...bbOpt) *bbEnv {
	t.Helper()
	gin.SetMode(gin.TestMode)
	e := &bbEnv{t: t, kind: kind, clock: &bbClock{now: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}, holds: map[string]*bbHold{}}
	auth := []byte("0123456789abcdef0123456789abcdef")
	enc := []byte("fedcba9876543210fedcba9876543210")
	var st sessions.Store
	switch kind {
	case "cookie":
		st = cookie.NewStore(auth, enc)
	case "cookie-plain": // signed, not encrypted: anyone holding it reads the values
		st = cookie.NewStore(auth)
	case "memstore":
		st = memstore.NewStore(auth)
	case "redis":
		e.redis = bbRedisFor(t)
		pool := e.redis.Pool()
		rs, err := redisstore.NewSessionStore(pool, [][]byte{auth})
		if err != nil {
			t.Fatal(err)
		}
		st = rs
		if cfg.Store == nil {
			cfg.Store = redisstore.New(pool, redisstore.WithPrefix("bb:"))
		}
	}
	st.Options(sessions.Options{Path: "/", MaxAge: 86400, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	if cfg.Now == nil {
		cfg.Now = e.clock.Now
	}
	cfg.OnEvent = func(ev ginsecure.Event) { e.evMu.Lock(); e.events = append(e.events, ev); e.evMu.Unlock() }
	if cfg.Logger == nil {
		cfg.Logger = bbDiscard()
	}
	g, err := ginsecure.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.guard = g
	r := gin.New()
	r.Use(func(c *gin.Context) {
		defer func() {
			if p := recover(); p != nil {
				t.Errorf("PANIC serving %s %s: %v", c.Request.Method, c.Request.URL, p)
				c.AbortWithStatus(599)
			}
		}()
		c.Next()
	})
	for _, o := range opts {
		if o.engine != nil {
			o.engine(r)
		}
	}
	r.Use(sessions.Sessions(bbSessName, st), g.Middleware())
	e.routes(r)
	e.r = r
	return e
}

func (e *bbEnv) count(k ginsecure.EventKind) int {
	e.evMu.Lock()
	defer e.evMu.Unlock()
	n := 0
	for _, ev := range e.events {
		if ev.Kind == k {
			n++
		}
	}
	return n
}

func bbInfo(c *gin.Context, extra gin.H) gin.H {
	u, _ := ginsecure.UserID(c)
	s := sessions.Default(c)
	h := gin.H{"user": u, "cart": s.Get("cart"), "csrf": s.Get("csrf"), "note": s.Get("note")}
	if err := ginsecure.FailureReason(c); err != nil {
		h["reason"] = ginsecure.ErrorCode(err)
	}
	for k, v := range extra {
		h[k] = v
	}
	return h
}

func bbAnswer(c *gin.Context, err error) {
	if err != nil {
		c.JSON(ginsecure.ErrorStatus(err), bbInfo(c, gin.H{"error": ginsecure.ErrorCode(err)}))
		return
	}
	c.JSON(http.StatusOK, bbInfo(c, nil))
}

func bbWrite(c *gin.Context) error {
	s := sessions.Default(c)
	for _, k := range []string{"cart", "csrf", "note"} {
		if v := c.Query(k); v != "" {
			s.Set(k, v)
		}
	}
	return s.Save()
}

func (e *bbEnv) routes(r *gin.Engine) {
	r.GET("/pub", func(c *gin.Context) { c.JSON(http.StatusOK, bbInfo(c, nil)) })
	r.POST("/write", func(c *gin.Context) { bbAnswer(c, bbWrite(c)) })
	r.GET("/signin", func(c *gin.Context) { bbAnswer(c, ginsecure.PrepareSignIn(c)) })
	r.POST("/login", func(c *gin.Context) { bbAnswer(c, ginsecure.Login(c, c.Query("user"))) })
	r.POST("/logout", func(c *gin.Context) { bbAnswer(c, ginsecure.Logout(c)) })
	r.POST("/idiom", func(c *gin.Context) {
		s := sessions.Default(c)
		if c.Query("clear") != "no" {
			s.Clear()
		}
		s.Options(sessions.Options{Path: "/", MaxAge: -1})
		bbAnswer(c, s.Save())
	})
	r.GET("/hold", func(c *gin.Context) { e.held(c) })
	r.POST("/hold", func(c *gin.Context) { e.held(c) })
	me := r.Group("/me", e.guard.Require(ginsecure.Policy{Authenticated: true}))
	me.GET("", func(c *gin.Context) { c.JSON(http.StatusOK, bbInfo(c, nil)) })
	me.POST("/renew", func(c *gin.Context) { bbAnswer(c, ginsecure.Renew(c)) })
	me.POST("/revoke-others", func(c *gin.Context) {
		n, err := e.guard.RevokeOthers(c, ginsecure.ReasonPasswordChange)
		if err != nil {
			bbAnswer(c, err)
			return
		}
		c.JSON(http.StatusOK, bbInfo(c, gin.H{"revoked": n}))
	})
	r.GET("/step", e.guard.Require(ginsecure.Policy{Authenticated: true, MaxAuthAge: 5 * time.Minute}), func(c *gin.Context) {
		c.JSON(http.StatusOK, bbInfo(c, nil))
	})
}

// held waits until the test releases id, then does op: "write" (the
// query's values), "renew", "login" (?user=), or nothing.
func (e *bbEnv) held(c *gin.Context) {
	h := e.hold(c.Query("id"))
	close(h.entered)
	<-h.release
	switch c.Query("op") {
	case "write":
		bbAnswer(c, bbWrite(c))
	case "renew":
		bbAnswer(c, ginsecure.Renew(c))
	case "login":
		bbAnswer(c, ginsecure.Login(c, c.Query("user")))
	default:
		c.JSON(http.StatusOK, bbInfo(c, nil))
	}
}

func (e *bbEnv) hold(id string) *bbHold {
	e.holdMu.Lock()
	defer e.holdMu.Unlock()
	h := e.holds[id]
	if h == nil {
		h = &bbHold{entered: make(chan struct{}), release: make(chan struct{})}
		e.holds[id] = h
	}
	return h
}

// start sends a request to /hold?id=id&... from b and returns once the
// handler holds it; the returned func releases it and waits for the
// response (not applied).
func (e *bbEnv) start(b *bbBrowser, method, query string) func() *bbResp {
	e.holdMu.Lock()
	e.seq++
	id := fmt.Sprintf("h%d", e.seq)
	e.holdMu.Unlock()
	h := e.hold(id)
	ch := make(chan *bbResp, 1)
	snap := b.clone()
	go func() { ch <- snap.send(method, "/hold?id="+id+"&"+query) }()
	select {
	case <-h.entered:
	case <-time.After(5 * time.Second):
		e.t.Fatalf("held request %s did not reach its handler", query)
	}
	return func() *bbResp {
		close(h.release)
		select {
		case r := <-ch:
			return r
		case <-time.After(10 * time.Second):
			e.t.Fatalf("held request %s did not answer", query)
			return nil
		}
	}
}

// bbBrowser keeps cookies by name in arrival order; tossed cookies are
// sent before them, as a sibling subdomain's would be.
type bbBrowser struct {
	e       *bbEnv
	ip      string
	xff     string
	names   []string
	vals    map[string]string
	tossed  []string
	rawMore string
}

func (e *bbEnv) browser(ip string) *bbBrowser {
	return &bbBrowser{e: e, ip: ip, vals: map[string]string{}}
}

func (b *bbBrowser) clone() *bbBrowser {
	c := &bbBrowser{e: b.e, ip: b.ip, xff: b.xff, names: append([]string(nil), b.names...), vals: map[string]string{}, tossed: append([]string(nil), b.tossed...), rawMore: b.rawMore}
	for k, v := range b.vals {
		c.vals[k] = v
	}
	return c
}

// copyAt is a copy of b's cookies used from ip.
func (b *bbBrowser) copyAt(ip string) *bbBrowser { c := b.clone(); c.ip = ip; return c }

func (b *bbBrowser) drop(name string) {
	delete(b.vals, name)
	for i, n := range b.names {
		if n == name {
			b.names = append(b.names[:i], b.names[i+1:]...)
			return
		}
	}
}

func (b *bbBrowser) set(name, val string) {
	if _, ok := b.vals[name]; !ok {
		b.names = append(b.names, name)
	}
	b.vals[name] = val
}

func (b *bbBrowser) header() string {
	parts := append([]string(nil), b.tossed...)
	for _, n := range b.names {
		parts = append(parts, n+"="+b.vals[n])
	}
	if b.rawMore != "" {
		parts = append(parts, b.rawMore)
	}
	return strings.Join(parts, "; ")
}

type bbResp struct {
	status  int
	body    map[string]any
	cookies []*http.Cookie
	raw     string
}

func (r *bbResp) user() string        { s, _ := r.body["user"].(string); return s }
func (r *bbResp) str(k string) string { s, _ := r.body[k].(string); return s }

// setsToken says whether the response sets (not expires) the token cookie.
func (r *bbResp) setsToken() bool {
	for _, c := range r.cookies {
		if c.Name == ginsecure.DefaultCookieName && c.MaxAge >= 0 && c.Value != "" {
			return true
		}
	}
	return false
}

func (r *bbResp) String() string { return fmt.Sprintf("%d %s", r.status, r.raw) }

func (b *bbBrowser) send(method, path string) *bbResp {
	req := httptest.NewRequest(method, path, nil)
	req.RemoteAddr = b.ip + ":40000"
	if h := b.header(); h != "" {
		req.Header.Set("Cookie", h)
	}
	if b.xff != "" {
		req.Header.Set("X-Forwarded-For", b.xff)
	}
	w := httptest.NewRecorder()
	b.e.r.ServeHTTP(w, req)
	res := w.Result()
	out := &bbResp{status: res.StatusCode, cookies: res.Cookies(), raw: w.Body.String()}
	_ = json.Unmarshal(w.Body.Bytes(), &out.body)
	if out.body == nil {
		out.body = map[string]any{}
	}
	if out.status >= 500 && out.status != http.StatusServiceUnavailable {
		b.e.t.Errorf("%s %s answered %d %s", method, path, out.status, out.raw)
	}
	return out
}

// apply applies a response's Set-Cookie headers in their order.
func (b *bbBrowser) apply(r *bbResp) {
	for _, c := range r.cookies {
		if c.MaxAge < 0 || (!c.Expires.IsZero() && c.Expires.Before(time.Now())) {
			b.drop(c.Name)
			continue
		}
		b.set(c.Name, c.Value)
	}
}

func (b *bbBrowser) do(method, path string) *bbResp {
	r := b.send(method, path)
	b.apply(r)
	return r
}

func (b *bbBrowser) get(path string) *bbResp  { return b.do("GET", path) }
func (b *bbBrowser) post(path string) *bbResp { return b.do("POST", path) }

// login signs b in as user and makes its first request (a redirect would).
func (b *bbBrowser) login(t *testing.T, user string) {
	t.Helper()
	if r := b.post("/login?user=" + user); r.status != http.StatusOK || r.user() != user {
		t.Fatalf("login %s: %s", user, r)
	}
	if r := b.get("/me"); r.status != http.StatusOK || r.user() != user {
		t.Fatalf("first request after login %s: %s", user, r)
	}
}

func (b *bbBrowser) write(t *testing.T, q string) {
	t.Helper()
	if r := b.post("/write?" + q); r.status != http.StatusOK {
		t.Fatalf("write %s: %s", q, r)
	}
}

func (b *bbBrowser) token() string { return b.vals[ginsecure.DefaultCookieName] }

// bbExpectAnon: b is anonymous and sees none of the listed values.
func bbExpectAnon(t *testing.T, who string, b *bbBrowser, hidden ...string) {
	t.Helper()
	r := b.get("/pub")
	if r.status != http.StatusOK || r.user() != "" {
		t.Errorf("%s: GET /pub %s; want 200 anonymous", who, r)
	}
	for _, h := range hidden {
		if strings.Contains(r.raw, h) {
			t.Errorf("%s: GET /pub %s shows %q of the ended session", who, r, h)
		}
	}
	if r := b.get("/me"); r.status != http.StatusUnauthorized {
		t.Errorf("%s: GET /me %s; want 401", who, r)
	}
}

func bbDiscard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// ---- 1. Every ending is the same ending -------------------------------

// bbEndings end alice's session on browser b (signed in from 10.0.0.1).
var bbEndings = []struct {
	name string
	cfg  ginsecure.Config
	end  func(t *testing.T, e *bbEnv, b *bbBrowser)
}{
	{"RevokeUser by an admin", ginsecure.Config{}, func(t *testing.T, e *bbEnv, b *bbBrowser) {
		if n, err := e.guard.RevokeUser(t.Context(), "alice", ginsecure.ReasonAdmin); err != nil || n != 1 {
			t.Fatalf("RevokeUser: %d %v", n, err)
		}
	}},
	{"RevokeSession by its listed handle", ginsecure.Config{}, func(t *testing.T, e *bbEnv, b *bbBrowser) {
		list, err := e.guard.Sessions(t.Context(), "alice")
		if err != nil || len(list) != 1 {
			t.Fatalf("Sessions: %v %v", list, err)
		}
		if err := e.guard.RevokeSession(t.Context(), "alice", list[0].Handle, ginsecure.ReasonOtherDevice); err != nil {
			t.Fatalf("RevokeSession: %v", err)
		}
	}},
	{"RevokeOthers after a password change elsewhere", ginsecure.Config{}, func(t *testing.T, e *bbEnv, b *bbBrowser) {
		o := e.browser("10.0.0.2")
		o.login(t, "alice")
		if r := o.post("/me/revoke-others"); r.status != http.StatusOK {
			t.Fatalf("RevokeOthers: %s", r)
		}
	}},
	{"replay of a presented token", ginsecure.Config{RotateEvery: time.Minute}, func(t *testing.T, e *bbEnv, b *bbBrowser) {
		old := b.clone()
		e.clock.Advance(2 * time.Minute)
		b.get("/pub") // rotates
		b.get("/pub") // presents the new token
		e.clock.Advance(5 * time.Second)
		old.get("/pub") // the presented old token after the window
		if e.count(ginsecure.EventReplay) != 1 {
			t.Fatalf("want one EventReplay, got %d", e.count(ginsecure.EventReplay))
		}
	}},
	{"idle timeout", ginsecure.Config{IdleTimeout: 10 * time.Minute}, func(t *testing.T, e *bbEnv, b *bbBrowser) {
		e.clock.Advance(11 * time.Minute)
	}},
	{"eviction by a third device, limit 2", ginsecure.Config{MaxSessionsPerUser: 2}, func(t *testing.T, e *bbEnv, b *bbBrowser) {
		e.clock.Advance(time.Minute)
		e.browser("10.0.0.1").login(t, "alice")
		e.clock.Advance(time.Minute)
		e.browser("10.0.0.1").login(t, "alice")
	}},
	{"logout idiom by the browser", ginsecure.Config{}, func(t *testing.T, e *bbEnv, b *bbBrowser) {
		if r := b.post("/idiom"); r.status != http.StatusOK {
			t.Fatalf("idiom: %s", r)
		}
	}},
}

// TestBlackboxEndingsHideDataFromBrowserAndCopy: alice writes, a copy of
// her cookies (same NAT) exists, the session ends. Neither reads the data;
// the copy's write after the ending is not carried when the copy's holder
// signs in as alice's account on that copy (stolen password: a login
// carries nothing of an ended session) nor into the browser's login.
func TestBlackboxEndingsHideDataFromBrowserAndCopy(t *testing.T) {
	bbShareRedis(t)
	for _, how := range bbEndings {
		t.Run(how.name, func(t *testing.T) {
			bbForStores(t, func(t *testing.T, kind string) {
				e := bbNew(t, kind, how.cfg)
				b := e.browser("10.0.0.1")
				b.login(t, "alice")
				b.write(t, "cart=SECRETCART&note=SECRETNOTE")
				if r := b.get("/pub"); !strings.Contains(r.raw, "SECRETCART") {
					t.Fatalf("before the ending: %s; want the cart", r)
				}
				thief := b.copyAt("10.0.0.1")
				how.end(t, e, b)
				bbExpectAnon(t, "browser", b, "SECRETCART", "SECRETNOTE")
				bbExpectAnon(t, "copy", thief, "SECRETCART", "SECRETNOTE")
				// The copy writes into what it now holds, then signs in.
				if r := thief.post("/write?note=PLANTED"); r.status != http.StatusOK || r.user() != "" {
					t.Errorf("copy's anonymous write after the ending: %s", r)
				}
				if r := thief.post("/login?user=alice"); r.status != http.StatusOK || r.user() != "alice" {
					t.Fatalf("login on the copy: %s", r)
				}
				if r := thief.get("/me"); strings.Contains(r.raw, "SECRET") || strings.Contains(r.raw, "PLANTED") {
					t.Errorf("login on the copy carried data of the ended session: %s", r)
				}
				if r := b.post("/login?user=alice"); r.status != http.StatusOK {
					t.Fatalf("browser signs in again: %s", r)
				}
				if r := b.get("/me"); r.user() != "alice" || strings.Contains(r.raw, "SECRET") || strings.Contains(r.raw, "PLANTED") {
					t.Errorf("browser's new login: %s; want alice with none of the ended data", r)
				}
			})
		})
	}
}

// ---- 2. Carry-over only from an anonymous session or the same user's ---

// TestBlackboxCarryOverNeverCrossesUsers: alice signed in writes; bob
// signs in on the same browser without a logout, from the current token,
// from the previous token inside its window, and from a request whose
// session cookie is alice's but whose token is missing. Bob's session
// starts empty each time; alice's data never reaches him.
func TestBlackboxCarryOverNeverCrossesUsers(t *testing.T) {
	bbShareRedis(t)
	variants := []struct {
		name string
		prep func(t *testing.T, e *bbEnv, b *bbBrowser) *bbBrowser
	}{
		{"current credentials", func(t *testing.T, e *bbEnv, b *bbBrowser) *bbBrowser { return b }},
		{"previous token inside the window", func(t *testing.T, e *bbEnv, b *bbBrowser) *bbBrowser {
			old := b.clone()
			e.clock.Advance(2 * time.Minute)
			b.get("/pub")
			b.get("/pub")
			return old
		}},
		{"after a Renew, pre-Renew cookies", func(t *testing.T, e *bbEnv, b *bbBrowser) *bbBrowser {
			old := b.clone()
			if r := b.post("/me/renew"); r.status != http.StatusOK {
				t.Fatalf("renew: %s", r)
			}
			b.get("/me")
			return old
		}},
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			bbForStores(t, func(t *testing.T, kind string) {
				e := bbNew(t, kind, ginsecure.Config{RotateEvery: time.Minute})
				b := e.browser("10.0.0.1")
				b.login(t, "alice")
				b.write(t, "cart=ALICECART&csrf=ALICECSRF")
				from := v.prep(t, e, b)
				if r := from.post("/login?user=bob"); r.status != http.StatusOK || r.user() != "bob" {
					t.Fatalf("bob's login: %s", r)
				} else if strings.Contains(r.raw, "ALICE") {
					t.Errorf("bob's login response shows alice's data: %s", r)
				}
				if r := from.get("/me"); r.user() != "bob" || strings.Contains(r.raw, "ALICE") {
					t.Errorf("bob after signing in over alice's session: %s; want bob, empty", r)
				}
				from.write(t, "cart=BOBCART")
				// alice's newer cookies (left behind by the older ones bob
				// signed in from) never show bob's data.
				if r := b.get("/pub"); from != b && strings.Contains(r.raw, "BOBCART") {
					t.Errorf("alice's cookies read bob's write: %s", r)
				}
			})
		})
	}
}

// TestBlackboxCarryOverFilterAndSameUser: an anonymous session's values
// pass CarryOver's filter at login (csrf dropped, cart kept); a second
// login of the same user over that signed-in session keeps everything,
// the filter not asked.
func TestBlackboxCarryOverFilterAndSameUser(t *testing.T) {
	bbShareRedis(t)
	bbForStores(t, func(t *testing.T, kind string) {
		var asked []any
		var mu sync.Mutex
		e := bbNew(t, kind, ginsecure.Config{CarryOver: func(k, v any) bool {
			mu.Lock()
			asked = append(asked, k)
			mu.Unlock()
			return k != "csrf"
		}})
		b := e.browser("10.0.0.1")
		b.write(t, "cart=GUESTCART&csrf=PLANTEDCSRF")
		b.login(t, "alice")
		r := b.get("/me")
		if r.str("cart") != "GUESTCART" || r.str("csrf") != "" {
			t.Errorf("after login: %s; want the cart, no csrf", r)
		}
		b.write(t, "csrf=ALICECSRF")
		mu.Lock()
		asked = nil
		mu.Unlock()
		if r := b.post("/login?user=alice"); r.status != http.StatusOK {
			t.Fatalf("re-login: %s", r)
		}
		r = b.get("/me")
		if r.str("cart") != "GUESTCART" || r.str("csrf") != "ALICECSRF" {
			t.Errorf("same user's re-login: %s; want everything kept", r)
		}
		mu.Lock()
		if len(asked) != 0 {
			t.Errorf("CarryOver asked about %v on a same-user re-login", asked)
		}
		mu.Unlock()
	})
}

// ---- 3. Superseded credentials ----------------------------------------

// bbRotate makes one periodic rotation on b and presents its new token;
// it returns a copy of b's cookies from before the rotation.
func bbRotate(t *testing.T, e *bbEnv, b *bbBrowser) *bbBrowser {
	t.Helper()
	before := b.clone()
	e.clock.Advance(2 * time.Minute)
	if r := b.get("/pub"); !r.setsToken() || r.user() != "alice" {
		t.Fatalf("rotation: %s sets no token", r)
	}
	if r := b.get("/pub"); r.user() != "alice" || r.setsToken() {
		t.Fatalf("presenting the rotated token: %s", r)
	}
	return before
}

// TestBlackboxSupersededReplayAndMismatch: a presented token 2 or 4
// rotations back, after the window, is a replay whatever it asks (a write
// is refused and the session revoked); one 6 back, older than the 4 kept,
// is only a mismatch that ends nothing.
func TestBlackboxSupersededReplayAndMismatch(t *testing.T) {
	bbShareRedis(t)
	for _, back := range []int{2, 4, 6} {
		t.Run(fmt.Sprintf("%d back", back), func(t *testing.T) {
			bbForStores(t, func(t *testing.T, kind string) {
				e := bbNew(t, kind, ginsecure.Config{RotateEvery: time.Minute})
				b := e.browser("10.0.0.1")
				b.login(t, "alice")
				b.write(t, "cart=ALICECART")
				stolen := bbRotate(t, e, b)
				for range back - 1 {
					bbRotate(t, e, b)
				}
				e.clock.Advance(3 * time.Second)
				r := stolen.post("/write?cart=THIEFCART")
				if back > 4 {
					if r.user() != "" || r.str("reason") != "token_mismatch" || r.status == http.StatusOK {
						t.Errorf("a token %d back: %s; want refused write, reason token_mismatch", back, r)
					}
					if n := e.count(ginsecure.EventReplay); n != 0 {
						t.Errorf("%d replay events for a token older than the history", n)
					}
					if r := b.get("/me"); r.status != http.StatusOK || r.str("cart") != "ALICECART" {
						t.Errorf("the browser after a mismatch: %s; want signed in with its cart", r)
					}
					return
				}
				if r.user() != "" || r.str("reason") != "replay" || r.status == http.StatusOK {
					t.Errorf("a presented token %d back after the window: %s; want refused write, reason replay", back, r)
				}
				if n := e.count(ginsecure.EventReplay); n != 1 {
					t.Errorf("%d replay events; want 1", n)
				}
				if r := b.get("/me"); r.status != http.StatusUnauthorized {
					t.Errorf("browser after the replay: %s; want 401", r)
				}
				bbExpectAnon(t, "browser", b, "ALICECART", "THIEFCART")
			})
		})
	}
}

// TestBlackboxRenewResponseAfterReissueIsServed: a step-up Renew's response
// is held up past 30 s, the old token is reissued and used for a minute;
// then the Renew's response lands. Its token is a late response: served
// (never the step-up privilege above the current token's), never a
// replay, and the browser stays signed in afterwards.
func TestBlackboxRenewResponseAfterReissueIsServed(t *testing.T) {
	bbShareRedis(t)
	bbForStores(t, func(t *testing.T, kind string) {
		e := bbNew(t, kind, ginsecure.Config{})
		b := e.browser("10.0.0.1")
		b.login(t, "alice")
		b.write(t, "cart=ALICECART")
		e.clock.Advance(6 * time.Minute)
		if r := b.get("/step"); r.status != http.StatusForbidden {
			t.Fatalf("/step before Renew: %s; want 403", r)
		}
		late := b.send("POST", "/me/renew")
		if late.status != http.StatusOK || !late.setsToken() {
			t.Fatalf("renew: %s", late)
		}
		e.clock.Advance(31 * time.Second)
		if r := b.get("/me"); r.status != http.StatusOK || !r.setsToken() {
			t.Fatalf("old token 31 s after the Renew: %s; want served and reissued", r)
		}
		for range 3 {
			e.clock.Advance(20 * time.Second)
			if r := b.get("/me"); r.status != http.StatusOK {
				t.Fatalf("reissued token: %s", r)
			}
		}
		b.apply(late)
		r := b.get("/me")
		if r.status != http.StatusOK || r.user() != "alice" || r.str("cart") != "ALICECART" {
			t.Errorf("the Renew's late token: %s; want served as alice with her cart", r)
		}
		if r := b.get("/step"); r.status != http.StatusForbidden {
			t.Errorf("/step with the late Renew token: %s; want 403 (lower privilege)", r)
		}
		e.clock.Advance(10 * time.Second)
		if r := b.get("/me"); r.status != http.StatusOK {
			t.Errorf("after the late response: %s; want still signed in", r)
		}
		if n := e.count(ginsecure.EventReplay); n != 0 {
			t.Errorf("%d replay events; want none", n)
		}
	})
}

// ---- 4. Writes: acknowledged means kept, in any response order --------

// bbMoves are what the browser does while one of its writes is held in
// its handler; each signs the browser in as alice at the end.
var bbMoves = []struct {
	name  string
	guest bool
	move  func(t *testing.T, e *bbEnv, b *bbBrowser) *bbResp
}{
	{"periodic rotation", false, func(t *testing.T, e *bbEnv, b *bbBrowser) *bbResp {
		e.clock.Advance(16 * time.Minute)
		r := b.send("GET", "/pub")
		if !r.setsToken() {
			t.Fatalf("no rotation: %s", r)
		}
		return r
	}},
	{"Renew", false, func(t *testing.T, e *bbEnv, b *bbBrowser) *bbResp {
		r := b.send("POST", "/me/renew")
		if r.status != http.StatusOK {
			t.Fatalf("renew: %s", r)
		}
		return r
	}},
	{"login of a guest", true, func(t *testing.T, e *bbEnv, b *bbBrowser) *bbResp {
		r := b.send("POST", "/login?user=alice")
		if r.status != http.StatusOK {
			t.Fatalf("login: %s", r)
		}
		return r
	}},
	{"same user's re-login", false, func(t *testing.T, e *bbEnv, b *bbBrowser) *bbResp {
		r := b.send("POST", "/login?user=alice")
		if r.status != http.StatusOK {
			t.Fatalf("re-login: %s", r)
		}
		return r
	}},
}

// TestBlackboxAcknowledgedWriteSurvivesAnyOrder: a write verified before
// the move and saved after it either is refused (409) or, when Save
// returned nil, is there afterwards whichever response the browser
// applies last.
func TestBlackboxAcknowledgedWriteSurvivesAnyOrder(t *testing.T) {
	bbShareRedis(t)
	for _, mv := range bbMoves {
		for _, writeLast := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/write applied last=%v", mv.name, writeLast), func(t *testing.T) {
				bbForStores(t, func(t *testing.T, kind string) {
					e := bbNew(t, kind, ginsecure.Config{})
					b := e.browser("10.0.0.1")
					if mv.guest {
						b.write(t, "note=GUESTNOTE")
					} else {
						b.login(t, "alice")
						b.write(t, "note=ALICENOTE")
					}
					release := e.start(b, "POST", "op=write&cart=HELDCART")
					mr := mv.move(t, e, b)
					wr := release()
					t.Logf("held write: %d %s", wr.status, wr.str("error"))
					if writeLast {
						b.apply(mr)
						b.apply(wr)
					} else {
						b.apply(wr)
						b.apply(mr)
					}
					r := b.get("/me")
					if r.status != http.StatusOK || r.user() != "alice" {
						t.Fatalf("after both responses (%s write, %s move): %s; want signed in", wr, mr, r)
					}
					switch {
					case wr.status == http.StatusOK:
						if r.str("cart") != "HELDCART" {
							t.Errorf("write acknowledged (%s) but not there: %s", wr, r)
						}
					case wr.status == http.StatusConflict && wr.str("error") == "stale_credentials":
						if r.str("cart") == "HELDCART" {
							t.Errorf("refused write is there: %s", r)
						}
					default:
						t.Errorf("held write: %s; want 200 or 409 stale_credentials", wr)
					}
					if r.str("note") == "" {
						t.Errorf("the earlier note was lost: %s", r)
					}
				})
			})
		}
	}
}

// ---- 5. Operations on ended records -----------------------------------

// TestBlackboxRenewOnRecordEndedInFlight: a Renew held in its handler
// while the record ends returns ErrNoSession (401 no_session), sends no
// token and no session cookie, and the browser stays signed out with
// none of the session's data.
func TestBlackboxRenewOnRecordEndedInFlight(t *testing.T) {
	bbShareRedis(t)
	ends := []struct {
		name string
		cfg  ginsecure.Config
		end  func(t *testing.T, e *bbEnv, b *bbBrowser)
	}{
		{"RevokeUser", ginsecure.Config{}, func(t *testing.T, e *bbEnv, b *bbBrowser) {
			if _, err := e.guard.RevokeUser(t.Context(), "alice"); err != nil {
				t.Fatal(err)
			}
		}},
		{"Logout by a copy", ginsecure.Config{}, func(t *testing.T, e *bbEnv, b *bbBrowser) {
			if r := b.clone().post("/logout"); r.status != http.StatusOK {
				t.Fatalf("logout by a copy: %s", r)
			}
		}},
		{"replay by a copy", ginsecure.Config{RotateEvery: time.Minute}, func(t *testing.T, e *bbEnv, b *bbBrowser) {
			// b.held's cookies were taken before; the copy is older still.
			old := b.clone()
			bbRotate(t, e, b)
			e.clock.Advance(3 * time.Second)
			old.get("/pub")
			if e.count(ginsecure.EventReplay) != 1 {
				t.Fatalf("no replay")
			}
		}},
		{"logout idiom by the browser", ginsecure.Config{}, func(t *testing.T, e *bbEnv, b *bbBrowser) {
			if r := b.clone().post("/idiom?clear=no"); r.status != http.StatusOK {
				t.Fatalf("idiom: %s", r)
			}
		}},
		{"another user signs in on the browser", ginsecure.Config{}, func(t *testing.T, e *bbEnv, b *bbBrowser) {
			// A login over another user's session is an ending (DESIGN.md,
			// "Endings"); b itself then holds bob's session.
			if r := b.post("/login?user=bob"); r.status != http.StatusOK {
				t.Fatalf("bob's login: %s", r)
			}
		}},
	}
	for _, end := range ends {
		t.Run(end.name, func(t *testing.T) {
			bbForStores(t, func(t *testing.T, kind string) {
				e := bbNew(t, kind, end.cfg)
				b := e.browser("10.0.0.1")
				b.login(t, "alice")
				b.write(t, "cart=ALICECART")
				e.clock.Advance(10 * time.Second)
				release := e.start(b, "POST", "op=renew")
				end.end(t, e, b)
				r := release()
				if r.status != http.StatusUnauthorized || r.str("error") != "no_session" {
					t.Errorf("Renew on an ended record: %s; want 401 no_session", r)
				}
				for _, c := range r.cookies {
					t.Errorf("Renew on an ended record sent cookie %s=%q (MaxAge %d)", c.Name, c.Value, c.MaxAge)
				}
				b.apply(r)
				if end.name == "another user signs in on the browser" {
					if got := b.get("/me"); got.user() != "bob" || strings.Contains(got.raw, "ALICECART") {
						t.Errorf("bob after alice's Renew failed: %s", got)
					}
					return
				}
				bbExpectAnon(t, "browser", b, "ALICECART")
			})
		})
	}
}

// ---- 6. An IP mismatch never blocks signing in ------------------------

// TestBlackboxIPMismatchSignIn: a copy of alice's cookies used from
// another network (by RemoteAddr, or by X-Forwarded-For behind a trusted
// proxy) can sign in; signing in as another user there leaves alice's
// session alone when the session is kept on a mismatch, and when it is
// revoked by default the new login still works.
func TestBlackboxIPMismatchSignIn(t *testing.T) {
	bbShareRedis(t)
	type net struct {
		name   string
		cfg    ginsecure.Config
		opt    bbOpt
		at     func(e *bbEnv, ip string) *bbBrowser
		moveTo func(b *bbBrowser, ip string) *bbBrowser
	}
	direct := net{name: "RemoteAddr",
		at:     func(e *bbEnv, ip string) *bbBrowser { return e.browser(ip) },
		moveTo: func(b *bbBrowser, ip string) *bbBrowser { return b.copyAt(ip) }}
	proxied := net{name: "X-Forwarded-For via trusted proxy",
		cfg: ginsecure.Config{TrustProxyHeaders: true},
		opt: bbOpt{engine: func(r *gin.Engine) { _ = r.SetTrustedProxies([]string{"127.0.0.1"}) }},
		at: func(e *bbEnv, ip string) *bbBrowser {
			b := e.browser("127.0.0.1")
			b.xff = ip
			return b
		},
		moveTo: func(b *bbBrowser, ip string) *bbBrowser { c := b.clone(); c.xff = "203.0.113.77, " + ip; return c }}
	for _, n := range []net{direct, proxied} {
		for _, keep := range []bool{true, false} {
			for _, who := range []string{"mallory", "alice"} {
				t.Run(fmt.Sprintf("%s/keep=%v/as %s", n.name, keep, who), func(t *testing.T) {
					bbForStores(t, func(t *testing.T, kind string) {
						cfg := n.cfg
						cfg.KeepSessionOnIPMismatch = keep
						e := bbNew(t, kind, cfg, n.opt)
						b := n.at(e, "198.51.100.10")
						b.login(t, "alice")
						b.write(t, "cart=ALICECART")
						away := n.moveTo(b, "192.0.2.20")
						r := away.post("/login?user=" + who)
						if r.status != http.StatusOK || r.user() != who {
							t.Fatalf("login from another network as %s: %s; want 200", who, r)
						}
						got := away.get("/me")
						if got.status != http.StatusOK || got.user() != who {
							t.Errorf("signed in from the other network: %s", got)
						}
						if who != "alice" && strings.Contains(got.raw, "ALICECART") {
							t.Errorf("%s's session carries alice's data: %s", who, got)
						}
						mine := b.get("/me")
						switch {
						case keep && who != "alice":
							if mine.status != http.StatusOK || mine.str("cart") != "ALICECART" {
								t.Errorf("alice after %s signed in with her cookies elsewhere: %s; want signed in with her cart", who, mine)
							}
						case !keep && who != "alice":
							if mine.status != http.StatusUnauthorized {
								t.Errorf("alice after an IP mismatch (revoking): %s; want 401", mine)
							}
						}
						if who != "alice" {
							if r := away.post("/logout"); r.status != http.StatusOK {
								t.Errorf("%s's logout: %s", who, r)
							}
							if keep {
								if mine := b.get("/me"); mine.status != http.StatusOK {
									t.Errorf("alice after %s's logout on the other network: %s", who, mine)
								}
							}
						}
					})
				})
			}
		}
	}
}

// ---- 7. Cookieless double submit with MaxSessionsPerUser 2 ------------

// TestBlackboxCookielessDoubleSubmitEvictsNoDevice: alice's phone is
// signed in (limit 2). A laptop with no cookies submits the sign-in twice;
// the browser ends up using one response (either), or applies both before
// its first request, or prepared the sign-in (PrepareSignIn) and uses
// both in turn. The phone stays signed in and the laptop is signed in.
func TestBlackboxCookielessDoubleSubmitEvictsNoDevice(t *testing.T) {
	bbShareRedis(t)
	cases := []struct {
		name     string
		prepared bool
		use      func(t *testing.T, lap *bbBrowser, r1, r2 *bbResp)
	}{
		{"only the second lands", false, func(t *testing.T, lap *bbBrowser, r1, r2 *bbResp) { lap.apply(r2) }},
		{"only the first lands", false, func(t *testing.T, lap *bbBrowser, r1, r2 *bbResp) { lap.apply(r1) }},
		{"both land, second first, then a request", false, func(t *testing.T, lap *bbBrowser, r1, r2 *bbResp) {
			lap.apply(r2)
			lap.apply(r1)
		}},
		{"prepared, both used in turn", true, func(t *testing.T, lap *bbBrowser, r1, r2 *bbResp) {
			lap.apply(r1)
			if r := lap.get("/me"); r.status != http.StatusOK {
				t.Fatalf("first response: %s", r)
			}
			lap.apply(r2)
		}},
		{"prepared, both used in turn, second first", true, func(t *testing.T, lap *bbBrowser, r1, r2 *bbResp) {
			lap.apply(r2)
			if r := lap.get("/me"); r.status != http.StatusOK {
				t.Fatalf("second response: %s", r)
			}
			lap.apply(r1)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bbForStores(t, func(t *testing.T, kind string) {
				e := bbNew(t, kind, ginsecure.Config{MaxSessionsPerUser: 2})
				phone := e.browser("10.0.0.5")
				phone.login(t, "alice")
				phone.write(t, "cart=PHONECART")
				e.clock.Advance(time.Minute)
				lap := e.browser("10.0.0.6")
				if c.prepared {
					if r := lap.get("/signin"); r.status != http.StatusOK {
						t.Fatalf("PrepareSignIn: %s", r)
					}
				}
				r1 := lap.send("POST", "/login?user=alice")
				r2 := lap.send("POST", "/login?user=alice")
				if r1.status != http.StatusOK || r2.status != http.StatusOK {
					t.Fatalf("double submit: %s / %s", r1, r2)
				}
				c.use(t, lap, r1, r2)
				for range 2 {
					e.clock.Advance(10 * time.Second)
					if r := lap.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
						t.Errorf("laptop: %s; want signed in", r)
					}
				}
				if r := phone.get("/me"); r.status != http.StatusOK || r.str("cart") != "PHONECART" {
					t.Errorf("phone after the laptop's double submit: %s; want signed in with its cart", r)
				}
				if n := e.count(ginsecure.EventLimit); n != 0 {
					t.Errorf("%d limit events; want none", n)
				}
			})
		})
	}
}

// ---- 8. gin-contrib's logout idiom is a logout ------------------------

// TestBlackboxLogoutIdiomEndsEveryCopy: the idiom (with or without Clear),
// from the browser, from a copy, or with the previous token inside its
// window: Save returns nil, both cookies expire, and no copy of the
// cookies (current or previous token) is signed in or reads the data.
func TestBlackboxLogoutIdiomEndsEveryCopy(t *testing.T) {
	bbShareRedis(t)
	cases := []struct {
		name string
		path string
		who  func(t *testing.T, e *bbEnv, b *bbBrowser) (doer *bbBrowser, others []*bbBrowser)
	}{
		{"without Clear, by the browser", "/idiom?clear=no", func(t *testing.T, e *bbEnv, b *bbBrowser) (*bbBrowser, []*bbBrowser) {
			return b, []*bbBrowser{b.clone()}
		}},
		{"by a copy", "/idiom", func(t *testing.T, e *bbEnv, b *bbBrowser) (*bbBrowser, []*bbBrowser) {
			return b.clone(), []*bbBrowser{b, b.clone()}
		}},
		{"previous token inside its window", "/idiom", func(t *testing.T, e *bbEnv, b *bbBrowser) (*bbBrowser, []*bbBrowser) {
			old := bbRotate(t, e, b)
			return old, []*bbBrowser{b, b.clone()}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bbForStores(t, func(t *testing.T, kind string) {
				e := bbNew(t, kind, ginsecure.Config{RotateEvery: time.Minute})
				b := e.browser("10.0.0.1")
				b.login(t, "alice")
				b.write(t, "cart=ALICECART")
				doer, others := c.who(t, e, b)
				r := doer.post(c.path)
				if r.status != http.StatusOK || r.user() != "" {
					t.Fatalf("idiom: %s; want 200, signed out", r)
				}
				expired := 0
				for _, ck := range r.cookies {
					if ck.MaxAge < 0 {
						expired++
					}
				}
				if expired != 2 {
					t.Errorf("idiom's response expired %d cookies (%v); want both", expired, r.cookies)
				}
				if n := e.count(ginsecure.EventLogout); n != 1 {
					t.Errorf("%d logout events; want 1", n)
				}
				bbExpectAnon(t, "the one who signed out", doer, "ALICECART")
				for i, o := range others {
					bbExpectAnon(t, fmt.Sprintf("copy %d", i), o, "ALICECART")
				}
			})
		})
	}
}

// TestBlackboxLogoutIdiomOnAStandInEndsNothing: the idiom from a copy
// used on another network (session kept on a mismatch) is refused with
// foreign_session and ends nothing.
func TestBlackboxLogoutIdiomOnAStandInEndsNothing(t *testing.T) {
	bbShareRedis(t)
	bbForStores(t, func(t *testing.T, kind string) {
		e := bbNew(t, kind, ginsecure.Config{KeepSessionOnIPMismatch: true})
		b := e.browser("10.0.0.1")
		b.login(t, "alice")
		b.write(t, "cart=ALICECART")
		away := b.copyAt("192.0.2.9")
		r := away.post("/idiom")
		if r.status != http.StatusUnauthorized || r.str("error") != "foreign_session" {
			t.Errorf("idiom on a stand-in: %s; want 401 foreign_session", r)
		}
		for _, ck := range r.cookies {
			t.Errorf("stand-in's idiom sent cookie %s (MaxAge %d)", ck.Name, ck.MaxAge)
		}
		if r := b.get("/me"); r.status != http.StatusOK || r.str("cart") != "ALICECART" {
			t.Errorf("alice after the stand-in's idiom: %s; want signed in with her cart", r)
		}
	})
}

// ---- 9. A token whose session cookie is gone ---------------------------

// TestBlackboxLostSessionCookieFreshSessionKeepsWrites: the browser loses
// its session cookie (dropped, or replaced by bytes that do not decode,
// small or near the 4 KB limit) but keeps the token. Its next request,
// itself a write, is anonymous and its write is kept; later writes too;
// the full copy taken before is signed out and sees none of it; a login
// from the fresh session carries its guest data.
func TestBlackboxLostSessionCookieFreshSessionKeepsWrites(t *testing.T) {
	bbShareRedis(t)
	losses := map[string]func(b *bbBrowser){
		"dropped":           func(b *bbBrowser) { b.drop(bbSessName) },
		"garbage":           func(b *bbBrowser) { b.set(bbSessName, "not-a-session") },
		"oversized garbage": func(b *bbBrowser) { b.set(bbSessName, strings.Repeat("QUJD", 1000)) },
	}
	for name, lose := range losses {
		t.Run(name, func(t *testing.T) {
			bbForStores(t, func(t *testing.T, kind string) {
				e := bbNew(t, kind, ginsecure.Config{})
				b := e.browser("10.0.0.1")
				b.login(t, "alice")
				b.write(t, "cart=ALICECART")
				thief := b.clone()
				lose(b)
				r := b.post("/write?note=GUESTNOTE")
				if r.status != http.StatusOK || r.user() != "" || r.str("cart") != "" {
					t.Fatalf("first write without the session cookie: %s; want 200 anonymous, no cart", r)
				}
				b.write(t, "csrf=GUESTCSRF")
				got := b.get("/pub")
				if got.user() != "" || got.str("note") != "GUESTNOTE" || got.str("csrf") != "GUESTCSRF" || got.str("cart") != "" {
					t.Errorf("fresh session: %s; want both guest writes, no cart", got)
				}
				bbExpectAnon(t, "full copy", thief, "ALICECART", "GUESTNOTE")
				b.login(t, "alice")
				got = b.get("/me")
				if got.str("note") != "GUESTNOTE" || got.str("cart") != "" {
					t.Errorf("login from the fresh session: %s; want the guest note carried, no old cart", got)
				}
			})
		})
	}
}

// ---- 10. Tossed cookies -----------------------------------------------

// TestBlackboxTossedCookiesInFront: 8 to 40 same-named cookies in front of
// the record's own (garbage, well-formed cookies of other live anonymous
// sessions of the same app, or a mix), through a write, a rotation, a
// Renew and a re-login: the owner stays signed in with its data.
func TestBlackboxTossedCookiesInFront(t *testing.T) {
	bbShareRedis(t)
	kinds := []string{"garbage", "other sessions", "mixed"}
	for _, tk := range kinds {
		for _, n := range []int{8, 40} {
			t.Run(fmt.Sprintf("%s x%d", tk, n), func(t *testing.T) {
				bbForStores(t, func(t *testing.T, kind string) {
					e := bbNew(t, kind, ginsecure.Config{RotateEvery: time.Minute})
					var tossed []string
					for i := range n {
						if tk == "garbage" || (tk == "mixed" && i%2 == 0) {
							tossed = append(tossed, fmt.Sprintf("%s=junk%d%s", bbSessName, i, strings.Repeat("A", i)))
							continue
						}
						o := e.browser("10.0.0.99")
						o.write(t, fmt.Sprintf("cart=TOSSED%d", i))
						tossed = append(tossed, bbSessName+"="+o.vals[bbSessName])
					}
					b := e.browser("10.0.0.1")
					b.write(t, "note=GUEST")
					b.tossed = tossed
					b.login(t, "alice")
					b.write(t, "cart=ALICECART")
					check := func(step string) {
						t.Helper()
						r := b.get("/me")
						if r.status != http.StatusOK || r.user() != "alice" || r.str("cart") != "ALICECART" {
							t.Errorf("%s behind %d tossed cookies: %s; want alice with her cart", step, n, r)
						}
					}
					check("after login")
					bbRotate(t, e, b)
					check("after a rotation")
					if r := b.post("/me/renew"); r.status != http.StatusOK {
						t.Errorf("renew behind tossed cookies: %s", r)
					}
					check("after Renew")
					if r := b.post("/login?user=alice"); r.status != http.StatusOK {
						t.Errorf("re-login behind tossed cookies: %s", r)
					}
					check("after a re-login")
					if r := b.post("/logout"); r.status != http.StatusOK {
						t.Errorf("logout behind tossed cookies: %s", r)
					}
					if r := b.get("/me"); r.status != http.StatusUnauthorized {
						t.Errorf("after logout: %s; want 401", r)
					}
				})
			})
		}
	}
}

// ---- Bad input ---------------------------------------------------------

// TestBlackboxBadTokenCookies: malformed, oversized and forged token
// cookies beside alice's session cookie (or a second token cookie in
// front of hers) are refused cleanly: no 500, no panic, no data shown,
// nothing of alice's ended (except where the rules end it: none here).
func TestBlackboxBadTokenCookies(t *testing.T) {
	bbShareRedis(t)
	bad := map[string]func(tok string) string{
		"version only":      func(string) string { return "1." },
		"unknown version":   func(tok string) string { return "9" + tok[1:] },
		"oversized":         func(string) string { return "1." + strings.Repeat("A", 3900) },
		"secret flipped":    func(tok string) string { return tok[:len(tok)-2] + bbFlip(tok[len(tok)-2:]) },
		"handle flipped":    func(tok string) string { return tok[:3] + bbFlip(tok[3:5]) + tok[5:] },
		"truncated":         func(tok string) string { return tok[:len(tok)/2] },
		"bad base64":        func(tok string) string { return tok[:len(tok)-4] + "!!!!" },
		"padding and space": func(tok string) string { return `"` + tok + `=="` },
		"non-ASCII":         func(tok string) string { return tok[:10] + "\xff\xfe" + tok[12:] },
	}
	for name, mk := range bad {
		t.Run(name, func(t *testing.T) {
			bbForStores(t, func(t *testing.T, kind string) {
				e := bbNew(t, kind, ginsecure.Config{})
				b := e.browser("10.0.0.1")
				b.login(t, "alice")
				b.write(t, "cart=ALICECART")
				forged := b.clone()
				forged.set(ginsecure.DefaultCookieName, mk(b.token()))
				for _, path := range []string{"/pub", "/me", "/write?cart=X", "/logout", "/me/renew", "/idiom"} {
					method := "POST"
					if path == "/pub" || path == "/me" {
						method = "GET"
					}
					r := forged.send(method, path)
					if r.user() != "" || strings.Contains(r.raw, "ALICECART") {
						t.Errorf("%s %s with a %s token: %s; want anonymous, no data", method, path, name, r)
					}
					if r.setsToken() {
						t.Errorf("%s %s with a %s token sent a token", method, path, name)
					}
				}
				if r := b.get("/me"); r.status != http.StatusOK || r.str("cart") != "ALICECART" {
					t.Errorf("alice after forged requests: %s; want signed in with her cart", r)
				}
				// A forged token cookie of the same name in front of hers.
				front := b.clone()
				front.tossed = []string{ginsecure.DefaultCookieName + "=" + mk(b.token())}
				if r := front.get("/pub"); r.status >= 500 {
					t.Errorf("forged token in front: %s", r)
				}
				if r := b.get("/me"); r.status != http.StatusOK {
					t.Errorf("alice after a forged token in front of hers: %s", r)
				}
			})
		})
	}
}

func bbFlip(s string) string {
	out := []byte(s)
	for i, c := range out {
		if c == 'A' {
			out[i] = 'B'
		} else {
			out[i] = 'A'
		}
	}
	return string(out)
}

// TestBlackboxSwappedTokensEndNothing: alice's session cookie beside bob's
// token, and bob's beside alice's: anonymous, nothing written, nothing
// shown, nothing ended, no 500.
func TestBlackboxSwappedTokensEndNothing(t *testing.T) {
	bbShareRedis(t)
	bbForStores(t, func(t *testing.T, kind string) {
		e := bbNew(t, kind, ginsecure.Config{})
		a, bob := e.browser("10.0.0.1"), e.browser("10.0.0.1")
		a.login(t, "alice")
		a.write(t, "cart=ALICECART")
		bob.login(t, "bob")
		bob.write(t, "cart=BOBCART")
		mix := a.clone()
		mix.set(ginsecure.DefaultCookieName, bob.token())
		for _, p := range []string{"/pub", "/me"} {
			if r := mix.send("GET", p); r.user() != "" || strings.Contains(r.raw, "CART") {
				t.Errorf("GET %s with alice's session and bob's token: %s; want anonymous, no data", p, r)
			}
		}
		if r := mix.send("POST", "/write?cart=MIXED"); r.status == http.StatusOK {
			t.Errorf("write with swapped cookies: %s; want refused", r)
		}
		if r := mix.send("POST", "/logout"); r.status == http.StatusOK && r.user() == "" {
			// Logout with bob's valid token ends bob's record (no grace):
			// documented. Then only bob is signed out.
			if got := a.get("/me"); got.status != http.StatusOK || got.str("cart") != "ALICECART" {
				t.Errorf("alice after a swapped-cookie logout: %s", got)
			}
			return
		}
		for who, x := range map[string]*bbBrowser{"alice": a, "bob": bob} {
			if r := x.get("/me"); r.status != http.StatusOK || r.user() != who {
				t.Errorf("%s after swapped-cookie requests: %s", who, r)
			}
		}
	})
}

// TestBlackboxBrokenForwardedFor: with a trusted proxy, broken
// X-Forwarded-For values never answer 500 or panic; a login with one
// either works or is refused cleanly, and alice (signed in with a good
// header) is not signed out by a request of someone else's.
func TestBlackboxBrokenForwardedFor(t *testing.T) {
	bbShareRedis(t)
	headers := []string{"", " ", ",,,", "not-an-ip", "1.2.3.4:80", "[::1]", "999.1.1.1", "::ffff:10.0.0.1",
		"fe80::1%eth0", strings.Repeat("10.0.0.1, ", 500) + "10.0.0.2", "10.0.0.1\x00", "2001:db8::1, , garbage"}
	bbForStores(t, func(t *testing.T, kind string) {
		e := bbNew(t, kind, ginsecure.Config{TrustProxyHeaders: true},
			bbOpt{engine: func(r *gin.Engine) { _ = r.SetTrustedProxies([]string{"127.0.0.1"}) }})
		a := e.browser("127.0.0.1")
		a.xff = "198.51.100.1"
		a.login(t, "alice")
		a.write(t, "cart=ALICECART")
		for i, h := range headers {
			x := e.browser("127.0.0.1")
			x.xff = h
			if r := x.post(fmt.Sprintf("/login?user=u%d", i)); r.status >= 500 {
				t.Errorf("login with X-Forwarded-For %q: %s", h, r)
			}
			x.get("/me")
			x.write(t, "note=N")
		}
		if r := a.get("/me"); r.status != http.StatusOK || r.str("cart") != "ALICECART" {
			t.Errorf("alice after broken headers: %s", r)
		}
	})
}

// TestBlackboxRedisStoppedMidRun: Redis goes away with alice signed in
// and a guest browsing: every request is a clean 503 (with Retry-After)
// or an anonymous 200 for a visitor with nothing to load, never 500, and
// alice is not signed out by the outage; a write, a login and a Renew
// verified before Redis stopped and finished after it are 503 too. After Redis comes back empty,
// both are clean anonymous visitors and can sign in.
func TestBlackboxRedisStoppedMidRun(t *testing.T) {
	e := bbNew(t, "redis", ginsecure.Config{})
	a := e.browser("10.0.0.1")
	a.login(t, "alice")
	a.write(t, "cart=ALICECART")
	g := e.browser("10.0.0.2")
	g.write(t, "note=GUEST")
	nobody := e.browser("10.0.0.3")
	heldWrite := e.start(a, "POST", "op=write&cart=HELD")
	heldLogin := e.start(g, "POST", "op=login&user=bob")
	heldRenew := e.start(a, "POST", "op=renew")
	e.redis.Stop()
	for name, rel := range map[string]func() *bbResp{"write": heldWrite, "login": heldLogin, "renew": heldRenew} {
		if r := rel(); r.status != http.StatusServiceUnavailable || r.str("error") != "store_unavailable" {
			t.Errorf("a %s verified before Redis stopped, done after: %s; want 503 store_unavailable", name, r)
		}
	}
	reqs := []struct{ m, p string }{{"GET", "/pub"}, {"GET", "/me"}, {"POST", "/write?cart=X"}, {"POST", "/me/renew"},
		{"POST", "/logout"}, {"POST", "/idiom"}, {"POST", "/login?user=alice"}, {"POST", "/login?user=bob"}, {"GET", "/signin"}}
	for _, who := range []*bbBrowser{a, g, nobody} {
		for _, q := range reqs {
			r := who.send(q.m, q.p)
			switch {
			case r.status == http.StatusServiceUnavailable:
				if r.str("error") != "store_unavailable" {
					t.Errorf("%s %s during the outage: %s; want store_unavailable", q.m, q.p, r)
				}
			case who == a:
				t.Errorf("alice's %s %s during the outage: %s; want 503", q.m, q.p, r)
			case r.status == http.StatusOK && r.user() != "":
				t.Errorf("%s %s during the outage signed someone in: %s", q.m, q.p, r)
			}
		}
	}
	e.redis.Restart()
	for _, who := range []*bbBrowser{a, g} {
		r := who.get("/pub")
		if r.status != http.StatusOK || r.user() != "" || strings.Contains(r.raw, "ALICECART") {
			t.Errorf("after Redis came back empty: %s; want anonymous", r)
		}
	}
	a.login(t, "alice")
	g.login(t, "bob")
}

// TestBlackboxHealedGuestWriteIsFiltered: a cookieless browser's guest
// write (cart and a planted csrf) is verified before its sign-in and its
// response lands after the login's; healed in the login's first seconds,
// the cart is carried and CarryOver's filter drops the csrf.
func TestBlackboxHealedGuestWriteIsFiltered(t *testing.T) {
	bbShareRedis(t)
	bbForStores(t, func(t *testing.T, kind string) {
		e := bbNew(t, kind, ginsecure.Config{CarryOver: func(k, v any) bool { return k != "csrf" }})
		b := e.browser("10.0.0.1")
		release := e.start(b, "POST", "op=write&cart=GUESTCART&csrf=PLANTED")
		if r := b.post("/login?user=alice"); r.status != http.StatusOK {
			t.Fatalf("login: %s", r)
		}
		wr := release()
		b.apply(wr)
		got := b.get("/me")
		if got.status != http.StatusOK || got.user() != "alice" || got.str("csrf") != "" {
			t.Errorf("healed guest write: %s; want alice without the csrf", got)
		}
		if wr.status == http.StatusOK && got.str("cart") != "GUESTCART" {
			t.Errorf("acknowledged guest write (%s) not carried: %s", wr, got)
		}
	})
}

// TestBlackboxTossedCookiesBehindAndAround: other live sessions' cookies
// behind the record's own, or on both sides of it: the owner stays
// signed in with its data.
func TestBlackboxTossedCookiesBehindAndAround(t *testing.T) {
	bbShareRedis(t)
	bbForStores(t, func(t *testing.T, kind string) {
		e := bbNew(t, kind, ginsecure.Config{})
		b := e.browser("10.0.0.1")
		b.login(t, "alice")
		b.write(t, "cart=ALICECART")
		var more []string
		for i := range 10 {
			o := e.browser("10.0.0.9")
			o.write(t, fmt.Sprintf("cart=TOSSED%d", i))
			more = append(more, bbSessName+"="+o.vals[bbSessName])
		}
		b.rawMore = strings.Join(more, "; ")
		if r := b.get("/me"); r.status != http.StatusOK || r.str("cart") != "ALICECART" {
			t.Errorf("10 tossed cookies behind: %s", r)
		}
		b.tossed = more[:5]
		if r := b.get("/me"); r.status != http.StatusOK || r.str("cart") != "ALICECART" {
			t.Errorf("tossed cookies on both sides: %s", r)
		}
	})
}

// TestBlackboxHalfCopySignInEndsNothing: a copy of only alice's session
// cookie (no token) signs in as mallory: mallory starts empty and alice
// stays signed in with her data.
func TestBlackboxHalfCopySignInEndsNothing(t *testing.T) {
	bbShareRedis(t)
	bbForStores(t, func(t *testing.T, kind string) {
		e := bbNew(t, kind, ginsecure.Config{})
		b := e.browser("10.0.0.1")
		b.login(t, "alice")
		b.write(t, "cart=ALICECART")
		half := b.clone()
		half.drop(ginsecure.DefaultCookieName)
		if r := half.get("/pub"); r.user() != "" || strings.Contains(r.raw, "ALICECART") {
			t.Errorf("session cookie alone: %s; want anonymous, no data", r)
		}
		half.login(t, "mallory")
		if got := half.get("/me"); got.str("cart") != "" {
			t.Errorf("mallory from alice's session cookie: %s; want empty", got)
		}
		if got := b.get("/me"); got.status != http.StatusOK || got.str("cart") != "ALICECART" {
			t.Errorf("alice after the half copy signed in: %s; want signed in with her cart", got)
		}
	})
}

// ---- Seams between the mechanisms ------------------------------------

// TestBlackboxSeamBoundRecordOnAServerWithDBSCOff: a record bound on a
// server with DeviceBinding on is served as an unbound one by a server
// sharing its Redis with DeviceBinding off, past CookieLifetime too.
func TestBlackboxSeamBoundRecordOnAServerWithDBSCOff(t *testing.T) {
	srv := redistest.Start(t)
	on := deviceEnv(t, "redis", ginsecure.Config{}, srv)
	off := newEnv(t, "redis", ginsecure.Config{Now: on.clock.Now}, withRedis(srv))
	victim, _ := boundBrowser(t, on, "alice")
	if r := victim.post("/cart?item=secret"); r.status != http.StatusOK {
		t.Fatalf("cart: %d %v", r.status, r.body)
	}
	ob := off.browser()
	for _, c := range victim.cookies() {
		ob.setCookie(c.Name, c.Value)
	}
	if r := ob.get("/cart"); r.user() != "alice" {
		t.Fatalf("off server, fresh token: %d %v", r.status, r.body)
	}
	on.clock.Advance(11 * time.Minute)
	if r := ob.get("/cart"); r.user() != "alice" {
		t.Errorf("a bound record on a server with DeviceBinding off, its token past CookieLifetime: %d %v; want served as an unbound one (DESIGN.md, \"Device-bound sessions\")", r.status, r.body)
	}
	on.clock.Advance(6 * time.Minute)
	if r := ob.get("/cart"); r.user() != "alice" || r.body["cart"] != "secret" {
		t.Errorf("17 minutes after binding, on the server with DeviceBinding off: %d %v", r.status, r.body)
	}
}

// TestBlackboxSeamPrepareSignInOnATombstone: after RevokeUser a copy plants
// values into the emptied session, before and after the browser's
// PrepareSignIn; the login carries none of them (CarryOver accepting all).
func TestBlackboxSeamPrepareSignInOnATombstone(t *testing.T) {
	bbShareRedis(t)
	bbForStores(t, func(t *testing.T, kind string) {
		var mu sync.Mutex
		asked := 0
		e := bbNew(t, kind, ginsecure.Config{CarryOver: func(k, v any) bool { mu.Lock(); asked++; mu.Unlock(); return true }})
		b := e.browser("10.0.0.1")
		b.login(t, "alice")
		b.write(t, "cart=ALICECART")
		thief := b.clone()
		if _, err := e.guard.RevokeUser(t.Context(), "alice"); err != nil {
			t.Fatal(err)
		}
		thief.write(t, "csrf=PLANTED&note=PLANTEDNOTE")
		if r := b.get("/signin"); r.status != http.StatusOK {
			t.Fatalf("signin: %s", r)
		}
		thief.write(t, "note=PLANTED2")
		b.login(t, "alice")
		if r := b.get("/me"); strings.Contains(r.raw, "PLANTED") || strings.Contains(r.raw, "ALICECART") {
			t.Errorf("login after PrepareSignIn on a tombstoned session: %s", r)
		}
		mu.Lock()
		defer mu.Unlock()
		if asked != 0 {
			t.Errorf("CarryOver asked %d times for a login from a tombstoned session", asked)
		}
	})
}

// TestBlackboxSeamForwardedForSameClient: spellings of one client address
// in X-Forwarded-For (IPv4-mapped, spaces, the same IPv6 /64, garbage on
// the client's side) keep the session.
func TestBlackboxSeamForwardedForSameClient(t *testing.T) {
	bbShareRedis(t)
	forms := [][2]string{
		{"::ffff:198.51.100.10", "198.51.100.10"},
		{"198.51.100.10", "::ffff:198.51.100.10"},
		{"198.51.100.10", " 198.51.100.10 "},
		{"2001:db8::1", "2001:db8::abcd"},
		{"2001:db8::1", "2001:0db8:0000::1"},
		{"garbage, 198.51.100.10", "198.51.100.10"},
	}
	for _, f := range forms {
		t.Run(f[0]+"->"+f[1], func(t *testing.T) {
			bbForStores(t, func(t *testing.T, kind string) {
				e := bbNew(t, kind, ginsecure.Config{TrustProxyHeaders: true},
					bbOpt{engine: func(r *gin.Engine) { _ = r.SetTrustedProxies([]string{"127.0.0.1"}) }})
				b := e.browser("127.0.0.1")
				b.xff = f[0]
				b.login(t, "alice")
				b.xff = f[1]
				if r := b.get("/me"); r.status != http.StatusOK {
					t.Errorf("signed in with XFF %q, then %q: %s", f[0], f[1], r)
				}
			})
		})
	}
}

// bbReal sends b's cookies, with front before them, to srv (a real
// listener: http.Server's header limit applies) and applies the answer.
func bbReal(t *testing.T, srv *httptest.Server, b *bbBrowser, front, method, path string) *bbResp {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, nil)
	h := b.header()
	if front != "" {
		h = front + "; " + h
	}
	req.Header.Set("Cookie", h)
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s with a %d-byte Cookie header: %v", method, path, len(h), err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	out := &bbResp{status: res.StatusCode, cookies: res.Cookies(), raw: string(body)}
	_ = json.Unmarshal(body, &out.body)
	if out.body == nil {
		out.body = map[string]any{}
	}
	b.apply(out)
	return out
}

// bbTossedHeader is about n bytes of session cookies of the app's name:
// garbage, and every third one a live anonymous session's cookie.
func bbTossedHeader(other string, n int) string {
	var parts []string
	size := 0
	for i := 0; ; i++ {
		p := fmt.Sprintf("%s=junk%d", bbSessName, i)
		if i%3 == 0 {
			p = other
		}
		if size+len(p)+2 > n {
			return strings.Join(parts, "; ")
		}
		parts = append(parts, p)
		size += len(p) + 2
	}
}

// TestBlackboxSeamHugeCookieHeaderLifecycle: behind about 1 MB of tossed
// session cookies on a real listener (http.Server's header limit), a
// guest signs in, writes, renews, rotates and signs out.
func TestBlackboxSeamHugeCookieHeaderLifecycle(t *testing.T) {
	bbShareRedis(t)
	bbForStores(t, func(t *testing.T, kind string) {
		e := bbNew(t, kind, ginsecure.Config{RotateEvery: time.Minute})
		srv := httptest.NewServer(e.r)
		defer srv.Close()
		o := e.browser("127.0.0.1")
		o.write(t, "cart=OTHERCART")
		front := bbTossedHeader(bbSessName+"="+o.vals[bbSessName], (1<<20)-8000)
		b := e.browser("127.0.0.1")
		steps := []struct{ m, p, want string }{
			{"POST", "/write?note=GUEST", ""},
			{"POST", "/login?user=alice", "alice"},
			{"GET", "/me", "alice"},
			{"POST", "/write?cart=ALICECART", "alice"},
			{"POST", "/me/renew", "alice"},
			{"GET", "/me", "alice"},
		}
		for _, s := range steps {
			r := bbReal(t, srv, b, front, s.m, s.p)
			if r.status != http.StatusOK || r.user() != s.want {
				t.Errorf("%s %s behind %d bytes of tossed cookies: %.300s; want 200 %q", s.m, s.p, len(front), r, s.want)
			}
		}
		e.clock.Advance(2 * time.Minute)
		bbReal(t, srv, b, front, "GET", "/me")
		r := bbReal(t, srv, b, front, "GET", "/me")
		if r.status != http.StatusOK || r.str("cart") != "ALICECART" {
			t.Errorf("after a rotation behind tossed cookies: %.300s", r)
		}
		if r := bbReal(t, srv, b, front, "POST", "/logout"); r.status != http.StatusOK {
			t.Errorf("logout: %.300s", r)
		}
		if r := bbReal(t, srv, b, front, "GET", "/me"); r.status != http.StatusUnauthorized {
			t.Errorf("after logout: %.300s", r)
		}
	})
}

// TestBlackboxSeamTwoReissuesLandInTurn: a Renew's response is lost; two
// requests with the old token after 30 s are reissued; the browser uses
// one, and the other lands 3 s later: no replay, still signed in.
func TestBlackboxSeamTwoReissuesLandInTurn(t *testing.T) {
	bbShareRedis(t)
	for _, held := range []bool{false, true} {
		t.Run(map[bool]string{false: "early", true: "held"}[held], func(t *testing.T) {
			bbForStores(t, func(t *testing.T, kind string) {
				e := bbNew(t, kind, ginsecure.Config{})
				b := e.browser("10.0.0.1")
				b.login(t, "alice")
				b.write(t, "cart=ALICECART")
				if r := b.send("POST", "/me/renew"); r.status != http.StatusOK {
					t.Fatalf("renew %s", r)
				}
				e.clock.Advance(31 * time.Second)
				var second *bbResp
				var release func() *bbResp
				if held {
					release = e.start(b, "GET", "op=none")
				}
				first := b.send("GET", "/pub")
				if !held {
					second = b.send("GET", "/pub")
				}
				if !first.setsToken() {
					t.Fatalf("no reissue: %s", first)
				}
				b.apply(first)
				b.get("/pub")
				e.clock.Advance(3 * time.Second)
				if held {
					second = release()
				}
				b.apply(second)
				if r := b.get("/me"); r.status != http.StatusOK || r.str("cart") != "ALICECART" {
					t.Errorf("after the second reissue lands: %s", r)
				}
				if n := e.count(ginsecure.EventReplay); n != 0 {
					t.Errorf("%d replays", n)
				}
			})
		})
	}
}

// TestBlackboxSeamRevokeCoversAnUnpresentedLogin: a login whose response
// has not been used yet (cookieless or prepared) is ended by RevokeOthers
// and RevokeUser made before its first request.
func TestBlackboxSeamRevokeCoversAnUnpresentedLogin(t *testing.T) {
	bbShareRedis(t)
	revokes := map[string]func(t *testing.T, e *bbEnv, owner *bbBrowser){
		"RevokeOthers (password change)": func(t *testing.T, e *bbEnv, owner *bbBrowser) {
			if r := owner.post("/me/revoke-others"); r.status != http.StatusOK {
				t.Fatalf("revoke-others: %s", r)
			}
		},
		"RevokeUser": func(t *testing.T, e *bbEnv, owner *bbBrowser) {
			if n, err := e.guard.RevokeUser(t.Context(), "alice", ginsecure.ReasonAdmin); err != nil || n != 2 {
				t.Fatalf("RevokeUser: %d %v; want 2 (the unpresented login too)", n, err)
			}
		},
	}
	for name, rv := range revokes {
		for _, prepared := range []bool{false, true} {
			t.Run(name+map[bool]string{false: "/cookieless", true: "/prepared"}[prepared], func(t *testing.T) {
				bbForStores(t, func(t *testing.T, kind string) {
					e := bbNew(t, kind, ginsecure.Config{})
					owner := e.browser("10.0.0.1")
					owner.login(t, "alice")
					thief := e.browser("10.0.0.1")
					if prepared {
						thief.get("/signin")
					}
					lr := thief.send("POST", "/login?user=alice")
					if lr.status != http.StatusOK {
						t.Fatalf("thief login: %s", lr)
					}
					e.clock.Advance(10 * time.Second)
					rv(t, e, owner)
					thief.apply(lr)
					if r := thief.get("/me"); r.status != http.StatusUnauthorized {
						t.Errorf("a login made before %s, first used after it: %s; want 401", name, r)
					}
				})
			})
		}
	}
}

// TestBlackboxSeamEndedLongAgo: 13.5 h and 20 h after an ending (the
// tombstone and the record expired, the 24 h session cookie not), a full
// copy and a session-cookie-only copy see none of the data, and logins
// from them (mallory's, alice's) carry none of it.
func TestBlackboxSeamEndedLongAgo(t *testing.T) {
	bbShareRedis(t)
	ends := map[string]func(t *testing.T, e *bbEnv, b *bbBrowser){
		"RevokeUser": func(t *testing.T, e *bbEnv, b *bbBrowser) {
			if _, err := e.guard.RevokeUser(t.Context(), "alice"); err != nil {
				t.Fatal(err)
			}
		},
		"Logout by a copy": func(t *testing.T, e *bbEnv, b *bbBrowser) {
			b.clone().post("/logout")
		},
		"absolute timeout, nothing presented": func(t *testing.T, e *bbEnv, b *bbBrowser) {},
	}
	for name, end := range ends {
		for _, after := range []time.Duration{13*time.Hour + 30*time.Minute, 20 * time.Hour} {
			t.Run(fmt.Sprintf("%s/%v", name, after), func(t *testing.T) {
				bbForStores(t, func(t *testing.T, kind string) {
					e := bbNew(t, kind, ginsecure.Config{})
					b := e.browser("10.0.0.1")
					b.login(t, "alice")
					b.write(t, "cart=ALICECART")
					thief := b.clone()
					half := b.clone()
					half.drop(ginsecure.DefaultCookieName)
					end(t, e, b)
					e.clock.Advance(after)
					for who, x := range map[string]*bbBrowser{"full copy": thief, "session cookie only": half} {
						r := x.get("/pub")
						if r.user() != "" || strings.Contains(r.raw, "ALICECART") {
							t.Errorf("%s %v after the ending: %s; want anonymous, no data", who, after, r)
						}
					}
					if r := half.post("/login?user=mallory"); r.status != http.StatusOK {
						t.Fatalf("login: %s", r)
					}
					if r := half.get("/me"); strings.Contains(r.raw, "ALICECART") {
						t.Errorf("mallory's login from the ended session's cookie %v later carried its data: %s", after, r)
					}
					if r := thief.post("/login?user=alice"); r.status != http.StatusOK {
						t.Fatalf("login: %s", r)
					}
					if r := thief.get("/me"); strings.Contains(r.raw, "ALICECART") {
						t.Errorf("alice's login from the ended session's cookies %v later carried its data: %s", after, r)
					}
				})
			})
		}
	}
}

// TestBlackboxSeamMismatchSameUserLogin: a copy used from another
// network, then signing in as alice there: with the default (revoking)
// the login carries nothing of the ended session.
func TestBlackboxSeamMismatchSameUserLogin(t *testing.T) {
	bbShareRedis(t)
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprintf("keep=%v", keep), func(t *testing.T) {
			bbForStores(t, func(t *testing.T, kind string) {
				e := bbNew(t, kind, ginsecure.Config{KeepSessionOnIPMismatch: keep})
				b := e.browser("198.51.100.10")
				b.login(t, "alice")
				b.write(t, "cart=ALICECART")
				away := b.copyAt("192.0.2.20")
				away.get("/pub") // the mismatch (ends the record by default)
				r := away.post("/login?user=alice")
				got := away.get("/me")
				if r.status != http.StatusOK || got.user() != "alice" {
					t.Fatalf("alice signs in from the other network: %s / %s", r, got)
				}
				if !keep && strings.Contains(r.raw+got.raw, "ALICECART") {
					t.Errorf("login after an IP-mismatch ending carried the ended session's data: %s / %s", r, got)
				}
			})
		})
	}
}

// bbSeamEnders end alice's session on browser b, or do nothing ("none").
var bbSeamEnders = map[string]func(t *testing.T, e *bbEnv, b *bbBrowser){
	"RevokeUser": func(t *testing.T, e *bbEnv, b *bbBrowser) {
		if _, err := e.guard.RevokeUser(t.Context(), "alice"); err != nil {
			t.Fatal(err)
		}
	},
	"RevokeOthers": func(t *testing.T, e *bbEnv, b *bbBrowser) {
		o := e.browser("10.0.0.1")
		o.login(t, "alice")
		if r := o.post("/me/revoke-others"); r.status != http.StatusOK {
			t.Fatalf("RevokeOthers: %s", r)
		}
	},
	"Logout": func(t *testing.T, e *bbEnv, b *bbBrowser) {
		if r := b.post("/logout"); r.status != http.StatusOK {
			t.Fatalf("logout: %s", r)
		}
	},
	"none": func(t *testing.T, e *bbEnv, b *bbBrowser) {},
}

// TestBlackboxSeamMovedFromSessionAfterRevoke: copies of the cookies from
// before a Renew or a same-user re-login (full, or the session cookie
// alone), after RevokeUser, RevokeOthers from another device, Logout, or
// nothing: none reads data written after the move, none reads anything
// after an ending, and logins from them carry nothing.
func TestBlackboxSeamMovedFromSessionAfterRevoke(t *testing.T) {
	bbShareRedis(t)
	moves := map[string]func(t *testing.T, e *bbEnv, b *bbBrowser){
		"Renew": func(t *testing.T, e *bbEnv, b *bbBrowser) {
			if r := b.post("/me/renew"); r.status != http.StatusOK {
				t.Fatalf("renew %s", r)
			}
		},
		"re-login": func(t *testing.T, e *bbEnv, b *bbBrowser) {
			if r := b.post("/login?user=alice"); r.status != http.StatusOK {
				t.Fatalf("relogin %s", r)
			}
		},
	}
	for name, mv := range moves {
		for _, ender := range []string{"RevokeUser", "RevokeOthers", "Logout", "none"} {
			t.Run(fmt.Sprintf("%s/%s", name, ender), func(t *testing.T) {
				bbForStores(t, func(t *testing.T, kind string) {
					e := bbNew(t, kind, ginsecure.Config{})
					b := e.browser("10.0.0.1")
					b.login(t, "alice")
					b.write(t, "cart=PRECART")
					full := b.clone()
					half := b.clone()
					half.drop(ginsecure.DefaultCookieName)
					mv(t, e, b)
					b.get("/me")
					b.write(t, "note=POSTNOTE")
					bbSeamEnders[ender](t, e, b)
					e.clock.Advance(5e9)
					for who, x := range map[string]*bbBrowser{"session-only copy": half, "full copy": full} {
						r := x.get("/pub")
						if r.user() != "" && ender != "none" {
							t.Errorf("%s after %s: %s signed in", who, ender, r)
						}
						if strings.Contains(r.raw, "POSTNOTE") || (ender != "none" && strings.Contains(r.raw, "PRECART")) {
							t.Errorf("%s (pre-%s cookies) after %s: %s shows data", who, name, ender, r)
						}
					}
					if r := half.post("/login?user=mallory"); r.status != http.StatusOK {
						t.Fatalf("mallory %s", r)
					}
					if r := half.get("/me"); strings.Contains(r.raw, "CART") || strings.Contains(r.raw, "NOTE") {
						t.Errorf("mallory from the pre-%s session cookie after %s: %s", name, ender, r)
					}
					if ender != "none" {
						x := full.clone()
						if r := x.post("/login?user=alice"); r.status != http.StatusOK {
							t.Fatalf("alice %s", r)
						}
						if r := x.get("/me"); strings.Contains(r.raw, "CART") || strings.Contains(r.raw, "NOTE") {
							t.Errorf("alice's login from pre-%s cookies after %s: %s", name, ender, r)
						}
					}
				})
			})
		}
	}
}

// TestBlackboxSeamHeldWriteAcrossAnotherUsersLogin: alice's write is held
// while bob signs in on the same browser: the write is refused, and bob
// sees none of alice's data whichever response lands last.
func TestBlackboxSeamHeldWriteAcrossAnotherUsersLogin(t *testing.T) {
	bbShareRedis(t)
	for _, writeLast := range []bool{false, true} {
		t.Run(fmt.Sprintf("writeLast=%v", writeLast), func(t *testing.T) {
			bbForStores(t, func(t *testing.T, kind string) {
				e := bbNew(t, kind, ginsecure.Config{})
				b := e.browser("10.0.0.1")
				b.login(t, "alice")
				b.write(t, "cart=ALICECART")
				release := e.start(b, "POST", "op=write&note=HELDNOTE")
				lr := b.send("POST", "/login?user=bob")
				wr := release()
				if writeLast {
					b.apply(lr)
					b.apply(wr)
				} else {
					b.apply(wr)
					b.apply(lr)
				}
				r := b.get("/me")
				if r.user() != "bob" || strings.Contains(r.raw, "ALICE") || strings.Contains(r.raw, "HELD") {
					t.Errorf("bob after alice's held write (%s): %s", wr, r)
				}
				if wr.status == http.StatusOK {
					t.Errorf("alice's write verified before bob's login acknowledged: %s", wr)
				}
			})
		})
	}
}

// TestBlackboxSeamHeldWriteAcrossEndings: a write held in its handler
// across a replay, an IP mismatch, a lost session cookie (each by a
// copy), RevokeSession, an eviction or a timeout is not acknowledged; the
// browser is anonymous without the data and its next login carries none.
func TestBlackboxSeamHeldWriteAcrossEndings(t *testing.T) {
	bbShareRedis(t)
	ends := map[string]struct {
		cfg ginsecure.Config
		end func(t *testing.T, e *bbEnv, b *bbBrowser)
	}{
		"replay by a copy": {ginsecure.Config{RotateEvery: time.Minute}, func(t *testing.T, e *bbEnv, b *bbBrowser) {
			e.clock.Advance(3 * time.Second) // the copy (old, below) is then past the window
		}},
		"ip mismatch by a copy": {ginsecure.Config{}, func(t *testing.T, e *bbEnv, b *bbBrowser) {
			b.copyAt("192.0.2.1").get("/pub")
		}},
		"lost session cookie on a copy": {ginsecure.Config{}, func(t *testing.T, e *bbEnv, b *bbBrowser) {
			c := b.clone()
			c.drop(bbSessName)
			c.get("/pub")
		}},
		"RevokeSession": {ginsecure.Config{}, func(t *testing.T, e *bbEnv, b *bbBrowser) {
			l, _ := e.guard.Sessions(t.Context(), "alice")
			for _, s := range l {
				_ = e.guard.RevokeSession(t.Context(), "alice", s.Handle)
			}
		}},
		"evicted": {ginsecure.Config{MaxSessionsPerUser: 1}, func(t *testing.T, e *bbEnv, b *bbBrowser) {
			e.clock.Advance(time.Minute)
			e.browser("10.0.0.9").login(t, "alice")
		}},
		"idle timeout seen by a copy": {ginsecure.Config{IdleTimeout: 10 * time.Minute}, func(t *testing.T, e *bbEnv, b *bbBrowser) {
			e.clock.Advance(11 * time.Minute)
			b.clone().get("/pub")
		}},
	}
	for name, end := range ends {
		t.Run(name, func(t *testing.T) {
			bbForStores(t, func(t *testing.T, kind string) {
				e := bbNew(t, kind, end.cfg)
				b := e.browser("10.0.0.1")
				b.login(t, "alice")
				b.write(t, "cart=ALICECART")
				var old *bbBrowser
				if name == "replay by a copy" {
					old = bbRotate(t, e, b)
				}
				release := e.start(b, "POST", "op=write&note=HELDNOTE")
				end.end(t, e, b)
				if old != nil {
					old.get("/pub")
					if e.count(ginsecure.EventReplay) != 1 {
						t.Fatalf("no replay")
					}
				}
				wr := release()
				if wr.status == http.StatusOK {
					t.Errorf("write verified before the ending acknowledged after it: %s", wr)
				}
				b.apply(wr)
				bbExpectAnon(t, "browser", b, "ALICECART", "HELDNOTE")
				b.login(t, "alice")
				if r := b.get("/me"); strings.Contains(r.raw, "HELDNOTE") || strings.Contains(r.raw, "ALICECART") {
					t.Errorf("next login carried: %s", r)
				}
			})
		})
	}
}

// TestBlackboxSeamRenewThenRevokeSession: RevokeSession with the handle
// listed before a Renew ends the renewed record, whether the Renew's
// response was applied before the revocation or after.
func TestBlackboxSeamRenewThenRevokeSession(t *testing.T) {
	bbShareRedis(t)
	for _, applyBefore := range []bool{false, true} {
		t.Run(fmt.Sprintf("applyBeforeRevoke=%v", applyBefore), func(t *testing.T) {
			bbForStores(t, func(t *testing.T, kind string) {
				e := bbNew(t, kind, ginsecure.Config{})
				b := e.browser("10.0.0.1")
				b.login(t, "alice")
				b.write(t, "cart=ALICECART")
				l, err := e.guard.Sessions(t.Context(), "alice")
				if err != nil || len(l) != 1 {
					t.Fatal(err)
				}
				pre := b.clone()
				rr := b.send("POST", "/me/renew")
				if rr.status != http.StatusOK {
					t.Fatalf("renew %s", rr)
				}
				if applyBefore {
					b.apply(rr)
					b.get("/me")
				}
				if err := e.guard.RevokeSession(t.Context(), "alice", l[0].Handle, ginsecure.ReasonAdmin); err != nil {
					t.Errorf("RevokeSession with the handle listed before the Renew: %v", err)
				}
				b.apply(rr)
				bbExpectAnon(t, "browser", b, "ALICECART")
				bbExpectAnon(t, "pre-renew copy", pre, "ALICECART")
				if l, _ := e.guard.Sessions(t.Context(), "alice"); len(l) != 0 {
					t.Errorf("sessions after: %v", l)
				}
			})
		})
	}
}

// bbSendXFF sends b's cookies from the trusted proxy 127.0.0.1 with the
// given X-Forwarded-For lines, in order (a client's own line first, the
// line a proxy appends after it).
func bbSendXFF(b *bbBrowser, method, path string, lines ...string) *bbResp {
	req := httptest.NewRequest(method, path, nil)
	req.RemoteAddr = "127.0.0.1:40000"
	if h := b.header(); h != "" {
		req.Header.Set("Cookie", h)
	}
	for _, l := range lines {
		req.Header.Add("X-Forwarded-For", l)
	}
	w := httptest.NewRecorder()
	b.e.r.ServeHTTP(w, req)
	res := w.Result()
	out := &bbResp{status: res.StatusCode, cookies: res.Cookies(), raw: w.Body.String()}
	_ = json.Unmarshal(w.Body.Bytes(), &out.body)
	if out.body == nil {
		out.body = map[string]any{}
	}
	return out
}

// TestBlackboxSeamForwardedForTwoLines: a copy that writes the victim's
// address on its own X-Forwarded-For line, the proxy's line after it,
// is refused (ip_mismatch).
func TestBlackboxSeamForwardedForTwoLines(t *testing.T) {
	bbShareRedis(t)
	bbForStores(t, func(t *testing.T, kind string) {
		e := bbNew(t, kind, ginsecure.Config{TrustProxyHeaders: true},
			bbOpt{engine: func(r *gin.Engine) { _ = r.SetTrustedProxies([]string{"127.0.0.1"}) }})
		b := e.browser("127.0.0.1")
		b.xff = "198.51.100.10"
		b.login(t, "alice")
		b.write(t, "cart=ALICECART")
		thief := b.clone()
		thief.xff = ""
		r := bbSendXFF(thief, "GET", "/me", "198.51.100.10", "192.0.2.20")
		if r.status != http.StatusUnauthorized || r.str("error") != "ip_mismatch" {
			t.Errorf("the victim's address on the client's own line, the proxy's line after it: %s; want 401 ip_mismatch", r)
		}
		if r := b.get("/me"); r.status != http.StatusUnauthorized {
			t.Errorf("alice after the copy's mismatch (revoking): %s; want 401", r)
		}
	})
}

// TestBlackboxSeamRevokeOthersFromSupersededCredentials: RevokeOthers
// called with forwarded, previous, pre-Renew or late-response credentials
// keeps the caller's own session and ends the other device.
func TestBlackboxSeamRevokeOthersFromSupersededCredentials(t *testing.T) {
	bbShareRedis(t)
	cases := map[string]func(t *testing.T, e *bbEnv, b *bbBrowser) *bbBrowser{
		"forwarded": func(t *testing.T, e *bbEnv, b *bbBrowser) *bbBrowser {
			e.clock.Advance(16 * time.Minute)
			rot := b.send("GET", "/pub")
			if !rot.setsToken() {
				t.Fatalf("no rotation")
			}
			if r := b.post("/login?user=alice"); r.status != http.StatusOK {
				t.Fatalf("relogin %s", r)
			}
			b.apply(rot)
			return b
		},
		"previous token in window": func(t *testing.T, e *bbEnv, b *bbBrowser) *bbBrowser {
			e.clock.Advance(16 * time.Minute)
			old := b.clone()
			b.get("/pub")
			b.get("/pub")
			return old
		},
		"pre-Renew cookies in window": func(t *testing.T, e *bbEnv, b *bbBrowser) *bbBrowser {
			old := b.clone()
			if r := b.post("/me/renew"); r.status != http.StatusOK {
				t.Fatalf("renew %s", r)
			}
			b.get("/me")
			return old
		},
		"Renew token after reissue (late response)": func(t *testing.T, e *bbEnv, b *bbBrowser) *bbBrowser {
			late := b.send("POST", "/me/renew")
			e.clock.Advance(31 * time.Second)
			b.get("/me")
			b.get("/me")
			x := b.clone()
			x.apply(late)
			return x
		},
	}
	for name, mk := range cases {
		t.Run(name, func(t *testing.T) {
			bbForStores(t, func(t *testing.T, kind string) {
				e := bbNew(t, kind, ginsecure.Config{})
				phone := e.browser("10.0.0.1")
				phone.login(t, "alice")
				b := e.browser("10.0.0.1")
				b.login(t, "alice")
				b.write(t, "cart=ALICECART")
				x := mk(t, e, b)
				r := x.post("/me/revoke-others")
				if r.status != http.StatusOK {
					t.Fatalf("revoke-others from %s: %s", name, r)
				}
				if got := x.get("/me"); got.status != http.StatusOK || got.user() != "alice" {
					t.Errorf("the caller after its own RevokeOthers (%s): %s; want signed in", name, got)
				}
				if got := b.get("/me"); got.status != http.StatusOK || got.user() != "alice" {
					t.Errorf("the browser after RevokeOthers from %s: %s; want signed in", name, got)
				}
				if got := phone.get("/me"); got.status != http.StatusUnauthorized {
					t.Errorf("phone after RevokeOthers: %s; want 401", got)
				}
				if l, _ := e.guard.Sessions(t.Context(), "alice"); len(l) != 1 {
					t.Errorf("%d sessions left: %v", len(l), l)
				}
			})
		})
	}
}

// TestBlackboxSeamLogoutOnAForwardedRequest: a periodic rotation's
// response lands after a same-user re-login (the request is forwarded to
// the successor); Logout or the logout idiom on it signs out the browser,
// a copy of the login's own cookies and a copy of the forwarded ones.
func TestBlackboxSeamLogoutOnAForwardedRequest(t *testing.T) {
	bbShareRedis(t)
	for _, path := range []string{"/logout", "/idiom"} {
		t.Run(path, func(t *testing.T) {
			bbForStores(t, func(t *testing.T, kind string) {
				e := bbNew(t, kind, ginsecure.Config{})
				b := e.browser("10.0.0.1")
				b.login(t, "alice")
				b.write(t, "cart=ALICECART")
				e.clock.Advance(16 * time.Minute)
				rot := b.send("GET", "/pub")
				if !rot.setsToken() {
					t.Fatalf("no rotation: %s", rot)
				}
				if r := b.post("/login?user=alice"); r.status != http.StatusOK {
					t.Fatalf("relogin %s", r)
				}
				copyNew := b.clone()
				b.apply(rot)
				if r := b.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
					t.Fatalf("forwarded: %s", r)
				}
				fwd := b.clone()
				r := b.post(path)
				if r.status != http.StatusOK {
					t.Fatalf("%s on a forwarded request: %s", path, r)
				}
				bbExpectAnon(t, "browser", b, "ALICECART")
				bbExpectAnon(t, "copy of the login's cookies", copyNew, "ALICECART")
				bbExpectAnon(t, "copy of the forwarded cookies", fwd, "ALICECART")
			})
		})
	}
}

// TestBlackboxSeamIPRefusedCopySignsInWhileOwnerWrites: alice's write is
// held in its handler while a copy of her cookies on another network
// signs in as mallory. Session kept on a mismatch: her write is
// acknowledged and kept, later writes too, mallory sees none of it.
// Revoking (default): the write verified before the mismatch ending is
// refused and alice is anonymous without her data.
func TestBlackboxSeamIPRefusedCopySignsInWhileOwnerWrites(t *testing.T) {
	bbShareRedis(t)
	for _, keep := range []bool{true, false} {
		t.Run(fmt.Sprintf("keep=%v", keep), func(t *testing.T) {
			bbForStores(t, func(t *testing.T, kind string) {
				e := bbNew(t, kind, ginsecure.Config{KeepSessionOnIPMismatch: keep})
				b := e.browser("198.51.100.10")
				b.login(t, "alice")
				b.write(t, "cart=ALICECART")
				release := e.start(b, "POST", "op=write&note=HELDNOTE")
				away := b.copyAt("192.0.2.20")
				if r := away.post("/login?user=mallory"); r.status != http.StatusOK || r.user() != "mallory" {
					t.Fatalf("mallory: %s", r)
				}
				wr := release()
				b.apply(wr)
				m := away.get("/me")
				if m.user() != "mallory" || strings.Contains(m.raw, "ALICECART") || strings.Contains(m.raw, "HELDNOTE") {
					t.Errorf("mallory: %s", m)
				}
				mine := b.get("/me")
				if keep {
					if mine.status != http.StatusOK || mine.str("cart") != "ALICECART" {
						t.Errorf("alice: %s", mine)
					}
					if wr.status == http.StatusOK && mine.str("note") != "HELDNOTE" {
						t.Errorf("acknowledged write lost: %s then %s", wr, mine)
					}
					if wr.status != http.StatusOK {
						t.Errorf("owner's write refused because a thief signed in elsewhere as another user: %s", wr)
					}
					if r := b.post("/write?note=LATER"); r.status != http.StatusOK {
						t.Errorf("alice later write: %s", r)
					}
					if r := b.get("/me"); r.str("note") != "LATER" {
						t.Errorf("alice later: %s", r)
					}
				} else {
					if wr.status == http.StatusOK {
						t.Errorf("write verified before the mismatch ending acknowledged: %s", wr)
					}
					bbExpectAnon(t, "alice", b, "ALICECART", "HELDNOTE")
				}
			})
		})
	}
}

// TestBlackboxSeamReplayWhileLoginInFlight: the browser's sign-in (as
// alice again, or as bob) is held in its handler while a copy's replay
// ends alice's record; the login still signs the browser in, carrying
// nothing of the ended session, and the copy stays out.
func TestBlackboxSeamReplayWhileLoginInFlight(t *testing.T) {
	bbShareRedis(t)
	for _, who := range []string{"alice", "bob"} {
		t.Run(who, func(t *testing.T) {
			bbForStores(t, func(t *testing.T, kind string) {
				e := bbNew(t, kind, ginsecure.Config{RotateEvery: time.Minute})
				b := e.browser("10.0.0.1")
				b.login(t, "alice")
				b.write(t, "cart=ALICECART")
				old := bbRotate(t, e, b)
				release := e.start(b, "POST", "op=login&user="+who)
				e.clock.Advance(3 * time.Second)
				old.get("/pub")
				if e.count(ginsecure.EventReplay) != 1 {
					t.Fatalf("no replay")
				}
				r := release()
				if r.status != http.StatusOK || r.user() != who {
					t.Fatalf("login in flight: %s", r)
				}
				b.apply(r)
				got := b.get("/me")
				if got.status != http.StatusOK || got.user() != who || strings.Contains(got.raw, "ALICECART") {
					t.Errorf("after the login: %s", got)
				}
				bbExpectAnon(t, "old copy", old, "ALICECART")
			})
		})
	}
}

// TestBlackboxSeamReplayOfAReplacedRecordSparesTheLogin: after a login
// (its response not applied yet), a copy presents the replaced record's
// presented token past the window; the browser's login still works.
func TestBlackboxSeamReplayOfAReplacedRecordSparesTheLogin(t *testing.T) {
	bbShareRedis(t)
	for _, who := range []string{"alice", "bob"} {
		t.Run(who, func(t *testing.T) {
			bbForStores(t, func(t *testing.T, kind string) {
				e := bbNew(t, kind, ginsecure.Config{RotateEvery: time.Minute})
				b := e.browser("10.0.0.1")
				b.login(t, "alice")
				b.write(t, "cart=ALICECART")
				old := bbRotate(t, e, b)
				lr := b.send("POST", "/login?user="+who)
				e.clock.Advance(3 * time.Second)
				if r := old.get("/pub"); r.user() != "" || strings.Contains(r.raw, "ALICECART") {
					t.Errorf("the replaced record's presented token past the window: %s; want anonymous", r)
				}
				b.apply(lr)
				got := b.get("/me")
				if got.status != http.StatusOK || got.user() != who {
					t.Errorf("after the login: %s", got)
				}
			})
		})
	}
}

// TestBlackboxSeamIdiomOnStandIns: gin-contrib's logout idiom on a
// stand-in (a foreign anonymous session beside alice's token, her
// session cookie without its token, bob's session cookie beside her
// token, a token older than the history) returns foreign_session, sends
// no cookie and ends nothing.
func TestBlackboxSeamIdiomOnStandIns(t *testing.T) {
	bbShareRedis(t)
	cases := map[string]func(t *testing.T, e *bbEnv, b *bbBrowser) *bbBrowser{
		"foreign anonymous session after window": func(t *testing.T, e *bbEnv, b *bbBrowser) *bbBrowser {
			o := e.browser("10.0.0.1")
			o.write(t, "note=OTHER")
			x := b.clone()
			x.set(bbSessName, o.vals[bbSessName])
			return x
		},
		"session cookie without token": func(t *testing.T, e *bbEnv, b *bbBrowser) *bbBrowser {
			x := b.clone()
			x.drop(ginsecure.DefaultCookieName)
			return x
		},
		"other user's live session cookie": func(t *testing.T, e *bbEnv, b *bbBrowser) *bbBrowser {
			o := e.browser("10.0.0.1")
			o.login(t, "bob")
			x := b.clone()
			x.set(bbSessName, o.vals[bbSessName])
			return x
		},
		"token 6 rotations back": func(t *testing.T, e *bbEnv, b *bbBrowser) *bbBrowser {
			old := b.clone()
			for range 6 {
				bbRotate(t, e, b)
			}
			e.clock.Advance(3 * time.Second)
			return old
		},
	}
	for name, mk := range cases {
		t.Run(name, func(t *testing.T) {
			bbForStores(t, func(t *testing.T, kind string) {
				e := bbNew(t, kind, ginsecure.Config{RotateEvery: time.Minute})
				b := e.browser("10.0.0.1")
				b.login(t, "alice")
				b.write(t, "cart=ALICECART")
				e.clock.Advance(10 * time.Second)
				x := mk(t, e, b)
				for _, p := range []string{"/idiom", "/idiom?clear=no"} {
					r := x.send("POST", p)
					if r.str("error") != "foreign_session" {
						t.Errorf("%s on a stand-in: %s; want foreign_session", p, r)
					}
					for _, ck := range r.cookies {
						t.Errorf("%s on a stand-in sent cookie %s MaxAge %d", p, ck.Name, ck.MaxAge)
					}
				}
				if r := b.get("/me"); r.status != http.StatusOK || r.str("cart") != "ALICECART" {
					t.Errorf("alice after: %s", r)
				}
				if n := e.count(ginsecure.EventLogout); n != 0 {
					t.Errorf("%d logout events", n)
				}
			})
		})
	}
}

// TestBlackboxSeamReplacedTokenAloneEndsNothing: the token of a record a
// login (alice's or bob's) replaced, presented without a session cookie,
// is dead credentials: the new login and its data live on.
func TestBlackboxSeamReplacedTokenAloneEndsNothing(t *testing.T) {
	bbShareRedis(t)
	for _, who := range []string{"alice", "bob"} {
		t.Run(who, func(t *testing.T) {
			bbForStores(t, func(t *testing.T, kind string) {
				e := bbNew(t, kind, ginsecure.Config{})
				b := e.browser("10.0.0.1")
				b.login(t, "alice")
				b.write(t, "cart=ALICECART")
				old := b.clone()
				b.login(t, who)
				b.write(t, "note=NEWNOTE")
				old.drop(bbSessName)
				for range 3 {
					e.clock.Advance(5 * time.Second)
					old.get("/pub")
				}
				if r := b.get("/me"); r.status != http.StatusOK || r.user() != who || r.str("note") != "NEWNOTE" {
					t.Errorf("new login after old token alone: %s", r)
				}
			})
		})
	}
}

// TestBlackboxSeamWrongSecretRepeated: sixty requests (reads, Logout, the
// idiom) with alice's handle and a wrong secret, with and without her
// session cookie, lock nothing: alice stays signed in with her cart, also
// with the forged token cookie behind her own.
func TestBlackboxSeamWrongSecretRepeated(t *testing.T) {
	bbShareRedis(t)
	bbForStores(t, func(t *testing.T, kind string) {
		e := bbNew(t, kind, ginsecure.Config{})
		b := e.browser("10.0.0.1")
		b.login(t, "alice")
		b.write(t, "cart=ALICECART")
		tok := b.token()
		forged := tok[:len(tok)-2] + bbFlip(tok[len(tok)-2:])
		x := b.clone()
		x.set(ginsecure.DefaultCookieName, forged)
		y := b.clone()
		y.drop(bbSessName)
		y.set(ginsecure.DefaultCookieName, forged)
		for i := range 60 {
			x.send("GET", "/me")
			y.send("POST", "/logout")
			x.send("POST", "/idiom")
			if i%10 == 0 {
				e.clock.Advance(time.Second)
			}
		}
		if r := b.get("/me"); r.status != http.StatusOK || r.str("cart") != "ALICECART" {
			t.Errorf("alice after 60 wrong secrets: %s", r)
		}
		// A second token cookie behind hers (one in front is refused:
		// the __Host- prefix keeps other hosts from setting one).
		d1 := b.clone()
		d1.rawMore = ginsecure.DefaultCookieName + "=" + forged
		if r := d1.send("GET", "/me"); r.status != http.StatusOK || r.user() != "alice" {
			t.Errorf("her token cookie, then a forged one: %s; want alice", r)
		}
		if r := b.get("/me"); r.status != http.StatusOK || r.str("cart") != "ALICECART" {
			t.Errorf("alice after duplicates: %s", r)
		}
	})
}
