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
	case "memstore":
		st = memstore.NewStore(auth)
	case "redis":
		e.redis = redistest.Start(t)
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
