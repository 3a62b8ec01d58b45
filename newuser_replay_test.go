package ginsecure_test

// A new user's replay of the "one rule per concept" classes, black-box:
// the app below is wired as README's Quick start wires it (cookie store
// with an encryption key, memstore, or Redis through
// redisstore.NewSessionStore on the records' pool), requests go through
// the real gin engine, and a hand-kept cookie jar applies each response's
// Set-Cookie when the test says so (in any order, or never: a lost
// response). Handlers can be held mid-request on real goroutines.

import (
	"context"
	"encoding/json"
	"fmt"
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

var nuStores = []string{"cookie", "memstore", "redis"}

func nuForStores(t *testing.T, f func(t *testing.T, kind string)) {
	for _, k := range nuStores {
		t.Run(k, func(t *testing.T) { f(t, k) })
	}
}

type nuApp struct {
	t      *testing.T
	kind   string
	r      *gin.Engine
	g      *ginsecure.Guard
	clock  *testClock
	evMu   sync.Mutex
	events []ginsecure.Event
	holdMu sync.Mutex
	holds  map[string]*nuHold
}

type nuHold struct {
	entered chan struct{}
	release chan struct{}
}

// nuNew builds the app: sessions.Sessions, then sec.Middleware(), then the
// routes, as README says.
func nuNew(t *testing.T, kind string, cfg ginsecure.Config, engine ...func(*gin.Engine)) *nuApp {
	t.Helper()
	a := &nuApp{t: t, kind: kind, clock: newClock(), holds: map[string]*nuHold{}}
	secret := []byte("an-app-secret-of-32-bytes-or-mor")
	encKey := []byte("exactly-32-bytes-of-encryption!!")
	var store sessions.Store
	switch kind {
	case "cookie":
		store = cookie.NewStore(secret, encKey)
	case "memstore":
		store = memstore.NewStore(secret)
	case "redis":
		srv := redistest.Start(t)
		pool := srv.Pool()
		rs, err := redisstore.NewSessionStore(pool, [][]byte{secret})
		if err != nil {
			t.Fatal(err)
		}
		store = rs
		cfg.Store = redisstore.New(pool)
	default:
		t.Fatalf("store %q", kind)
	}
	store.Options(sessions.Options{Path: "/", MaxAge: 12 * 3600, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	cfg.Now = a.clock.Now
	cfg.Logger = discardLogger()
	cfg.OnEvent = func(ev ginsecure.Event) { a.evMu.Lock(); a.events = append(a.events, ev); a.evMu.Unlock() }
	g, err := ginsecure.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a.g = g
	r := gin.New()
	for _, f := range engine {
		f(r)
	}
	r.Use(sessions.Sessions("app", store), g.Middleware())
	a.routes(r)
	a.r = r
	return a
}

func (a *nuApp) eventCount(k ginsecure.EventKind) int {
	a.evMu.Lock()
	defer a.evMu.Unlock()
	n := 0
	for _, e := range a.events {
		if e.Kind == k {
			n++
		}
	}
	return n
}

func (a *nuApp) hold(id string) *nuHold {
	a.holdMu.Lock()
	defer a.holdMu.Unlock()
	h, ok := a.holds[id]
	if !ok {
		h = &nuHold{entered: make(chan struct{}), release: make(chan struct{})}
		a.holds[id] = h
	}
	return h
}

// nuState is what every route answers: who the request is, why it is
// anonymous, and the session's values the test looks at.
func nuState(c *gin.Context) gin.H {
	u, _ := ginsecure.UserID(c)
	h := gin.H{"user": u}
	if err := ginsecure.FailureReason(c); err != nil {
		h["reason"] = ginsecure.ErrorCode(err)
	}
	s := sessions.Default(c)
	for _, k := range []string{"cart", "note", "csrf", "k1", "k2", "k3"} {
		if v := s.Get(k); v != nil {
			h[k] = v
		}
	}
	return h
}

func nuFail(c *gin.Context, err error) {
	h := nuState(c)
	h["error"] = ginsecure.ErrorCode(err)
	c.JSON(ginsecure.ErrorStatus(err), h)
}

func (a *nuApp) routes(r *gin.Engine) {
	g := a.g
	r.GET("/signin", func(c *gin.Context) { // the sign-in page
		if err := ginsecure.PrepareSignIn(c); err != nil {
			nuFail(c, err)
			return
		}
		c.JSON(http.StatusOK, nuState(c))
	})
	r.POST("/login", func(c *gin.Context) {
		if err := ginsecure.Login(c, c.Query("user")); err != nil {
			nuFail(c, err)
			return
		}
		c.JSON(http.StatusOK, nuState(c))
	})
	r.POST("/logout", func(c *gin.Context) {
		if err := ginsecure.Logout(c); err != nil {
			nuFail(c, err)
			return
		}
		c.JSON(http.StatusOK, nuState(c))
	})
	// gin-contrib's logout idiom.
	r.POST("/logout-idiom", func(c *gin.Context) {
		s := sessions.Default(c)
		if c.Query("clear") != "" {
			s.Clear()
		}
		s.Options(sessions.Options{Path: "/", MaxAge: -1})
		if err := s.Save(); err != nil {
			nuFail(c, err)
			return
		}
		c.JSON(http.StatusOK, nuState(c))
	})
	r.GET("/public", func(c *gin.Context) { c.JSON(http.StatusOK, nuState(c)) })
	r.POST("/put", func(c *gin.Context) {
		s := sessions.Default(c)
		s.Set(c.Query("k"), c.Query("v"))
		if err := s.Save(); err != nil {
			nuFail(c, err)
			return
		}
		c.JSON(http.StatusOK, nuState(c))
	})
	// /hold waits inside its handler until the test frees it, then
	// optionally writes k=v, or renews, or logs in.
	r.POST("/hold", func(c *gin.Context) {
		h := a.hold(c.Query("id"))
		close(h.entered)
		select {
		case <-h.release:
		case <-time.After(10 * time.Second):
			c.JSON(http.StatusGatewayTimeout, gin.H{"error": "never released"})
			return
		}
		var err error
		switch {
		case c.Query("renew") != "":
			err = ginsecure.Renew(c)
		case c.Query("login") != "":
			err = ginsecure.Login(c, c.Query("login"))
		case c.Query("k") != "":
			s := sessions.Default(c)
			s.Set(c.Query("k"), c.Query("v"))
			err = s.Save()
		}
		if err != nil {
			nuFail(c, err)
			return
		}
		c.JSON(http.StatusOK, nuState(c))
	})
	auth := r.Group("/me", g.Require(ginsecure.Policy{Authenticated: true}))
	auth.GET("", func(c *gin.Context) { c.JSON(http.StatusOK, nuState(c)) })
	auth.POST("/renew", func(c *gin.Context) {
		if err := ginsecure.Renew(c); err != nil {
			nuFail(c, err)
			return
		}
		c.JSON(http.StatusOK, nuState(c))
	})
	auth.GET("/sessions", func(c *gin.Context) {
		list, err := g.SessionsOf(c)
		if err != nil {
			nuFail(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"sessions": list})
	})
	auth.POST("/revoke-others", func(c *gin.Context) {
		n, err := g.RevokeOthers(c, ginsecure.ReasonPasswordChange)
		if err != nil {
			nuFail(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"revoked": n})
	})
	r.GET("/stepup", g.Require(ginsecure.Policy{Authenticated: true, MaxAuthAge: 5 * time.Minute}),
		func(c *gin.Context) { c.JSON(http.StatusOK, nuState(c)) })
}

// nuResp is one answered request, not yet applied to any jar.
type nuResp struct {
	status  int
	body    map[string]any
	cookies []*http.Cookie
}

func (r nuResp) user() string   { s, _ := r.body["user"].(string); return s }
func (r nuResp) code() string   { s, _ := r.body["error"].(string); return s }
func (r nuResp) reason() string { s, _ := r.body["reason"].(string); return s }
func (r nuResp) val(k string) string {
	s, _ := r.body[k].(string)
	return s
}

// nuBrowser is a cookie jar kept by hand (one host, Path=/) and a client
// address.
type nuBrowser struct {
	a   *nuApp
	ip  string
	xff string
	mu  sync.Mutex
	jar map[string]string
	ord []string
}

func (a *nuApp) browser(ip string) *nuBrowser {
	return &nuBrowser{a: a, ip: ip, jar: map[string]string{}}
}

// header is the Cookie header the jar would send now.
func (b *nuBrowser) header() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var parts []string
	for _, n := range b.ord {
		if v, ok := b.jar[n]; ok {
			parts = append(parts, n+"="+v)
		}
	}
	return strings.Join(parts, "; ")
}

// apply stores a response's cookies as a browser does when it lands.
func (b *nuBrowser) apply(r nuResp) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range r.cookies {
		if c.MaxAge < 0 || (!c.Expires.IsZero() && c.Expires.Before(time.Now())) {
			delete(b.jar, c.Name)
			continue
		}
		if _, ok := b.jar[c.Name]; !ok {
			b.ord = append(b.ord, c.Name)
		}
		b.jar[c.Name] = c.Value
	}
}

func (b *nuBrowser) del(name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.jar, name)
}

// copyTo gives o a copy of b's cookies (a thief's copy).
func (b *nuBrowser) copyTo(o *nuBrowser) {
	b.mu.Lock()
	defer b.mu.Unlock()
	o.mu.Lock()
	defer o.mu.Unlock()
	o.jar = map[string]string{}
	o.ord = append([]string(nil), b.ord...)
	for k, v := range b.jar {
		o.jar[k] = v
	}
}

// sendWith makes one request with the Cookie header given; it applies
// nothing. It never fails the test from another goroutine.
func (a *nuApp) sendWith(method, path, ip, xff, cookieHeader string) nuResp {
	req := httptest.NewRequest(method, "https://app.example"+path, nil)
	req.RemoteAddr = ip + ":40000"
	if cookieHeader != "" {
		req.Header.Set("Cookie", cookieHeader)
	}
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	w := httptest.NewRecorder()
	a.r.ServeHTTP(w, req)
	res := w.Result()
	out := nuResp{status: res.StatusCode, cookies: res.Cookies(), body: map[string]any{}}
	_ = json.Unmarshal(w.Body.Bytes(), &out.body)
	if out.status >= 500 && out.status != http.StatusServiceUnavailable {
		a.t.Errorf("%s %s: %d %v", method, path, out.status, out.body)
	}
	return out
}

// send makes a request with the jar's cookies and does not apply its
// response (it may be applied later, or lost).
func (b *nuBrowser) send(method, path string) nuResp {
	return b.a.sendWith(method, path, b.ip, b.xff, b.header())
}

// do makes a request and applies its response at once.
func (b *nuBrowser) do(method, path string) nuResp {
	r := b.send(method, path)
	b.apply(r)
	return r
}

func (b *nuBrowser) get(path string) nuResp  { return b.do(http.MethodGet, path) }
func (b *nuBrowser) post(path string) nuResp { return b.do(http.MethodPost, path) }

// login signs in and makes the first request after it, as a redirect does.
func (b *nuBrowser) login(user string) {
	b.a.t.Helper()
	r := b.post("/login?user=" + user)
	if r.status != http.StatusOK || r.user() != user {
		b.a.t.Fatalf("login %s: %d %v", user, r.status, r.body)
	}
	if p := b.get("/public"); p.user() != user {
		b.a.t.Fatalf("after login %s: %v", user, p.body)
	}
}

// held is a request parked inside /hold, verified already.
type held struct {
	done chan nuResp
	a    *nuApp
	id   string
}

// holdReq sends POST /hold?id=id&rest with the browser's cookies now and
// returns once the handler holds it.
func (b *nuBrowser) holdReq(id, rest string) *held {
	b.a.t.Helper()
	h := &held{done: make(chan nuResp, 1), a: b.a, id: id}
	hdr := b.header()
	go func() { h.done <- b.a.sendWith(http.MethodPost, "/hold?id="+id+"&"+rest, b.ip, b.xff, hdr) }()
	select {
	case <-b.a.hold(id).entered:
	case <-time.After(10 * time.Second):
		b.a.t.Fatalf("held request %s never entered", id)
	}
	return h
}

func (h *held) finish() nuResp {
	close(h.a.hold(h.id).release)
	return <-h.done
}

func (a *nuApp) sessionsOf(user string) []ginsecure.SessionInfo {
	a.t.Helper()
	l, err := a.g.Sessions(context.Background(), user)
	if err != nil {
		a.t.Fatal(err)
	}
	return l
}

// nuNoSecret fails when any of the session values carries secret.
func nuNoSecret(t *testing.T, who string, r nuResp, secrets ...string) {
	t.Helper()
	for k, v := range r.body {
		s := fmt.Sprint(v)
		for _, sec := range secrets {
			if s == sec {
				t.Errorf("%s sees %s=%q, a value of a session that ended or belongs to another (%v)", who, k, s, r.body)
			}
		}
	}
}

// nuEnding is one way a signed-in session ends. run ends A's session (B is
// another browser of alice's on the same network) and returns who A's
// browser is afterwards.
type nuEnding struct {
	name string
	cfg  func(*ginsecure.Config)
	// timed: the ending is a deadline, not an act; no request is held
	// across it.
	timed bool
	run   func(t *testing.T, a *nuApp, A, B, thief *nuBrowser) string
}

func nuEndings() []nuEnding {
	return []nuEnding{
		{name: "logout", run: func(t *testing.T, a *nuApp, A, B, thief *nuBrowser) string {
			if r := A.post("/logout"); r.status != http.StatusOK {
				t.Fatalf("logout: %d %v", r.status, r.body)
			}
			return ""
		}},
		{name: "logout-response-lost", run: func(t *testing.T, a *nuApp, A, B, thief *nuBrowser) string {
			if r := A.send(http.MethodPost, "/logout"); r.status != http.StatusOK {
				t.Fatalf("logout: %d %v", r.status, r.body)
			}
			return ""
		}},
		{name: "idiom-keep-values", run: func(t *testing.T, a *nuApp, A, B, thief *nuBrowser) string {
			if r := A.post("/logout-idiom"); r.status != http.StatusOK {
				t.Fatalf("idiom: %d %v", r.status, r.body)
			}
			return ""
		}},
		{name: "revoke-others-from-B", run: func(t *testing.T, a *nuApp, A, B, thief *nuBrowser) string {
			B.login("alice")
			if r := B.post("/me/revoke-others"); r.status != http.StatusOK {
				t.Fatalf("revoke-others: %d %v", r.status, r.body)
			}
			return ""
		}},
		{name: "revoke-session", run: func(t *testing.T, a *nuApp, A, B, thief *nuBrowser) string {
			var list struct {
				Sessions []ginsecure.SessionInfo `json:"sessions"`
			}
			r := A.send(http.MethodGet, "/me/sessions")
			raw, _ := json.Marshal(r.body)
			_ = json.Unmarshal(raw, &list)
			h := ""
			for _, s := range list.Sessions {
				if s.Current {
					h = s.Handle
				}
			}
			if h == "" {
				t.Fatalf("no current session in %v", r.body)
			}
			if err := a.g.RevokeSession(context.Background(), "alice", h, ginsecure.ReasonAdmin); err != nil {
				t.Fatal(err)
			}
			return ""
		}},
		{name: "revoke-user", run: func(t *testing.T, a *nuApp, A, B, thief *nuBrowser) string {
			if _, err := a.g.RevokeUser(context.Background(), "alice"); err != nil {
				t.Fatal(err)
			}
			return ""
		}},
		{name: "replay-by-thief", run: func(t *testing.T, a *nuApp, A, B, thief *nuBrowser) string {
			a.clock.Advance(11 * time.Minute)
			A.get("/public") // rotates
			A.get("/public") // presents the new token
			a.clock.Advance(3 * time.Second)
			if r := thief.send(http.MethodGet, "/me"); r.code() != "replay" {
				t.Fatalf("thief's old token after the window: %d %v, want replay", r.status, r.body)
			}
			return ""
		}},
		{name: "idle-timeout", timed: true, run: func(t *testing.T, a *nuApp, A, B, thief *nuBrowser) string {
			a.clock.Advance(31 * time.Minute)
			return ""
		}},
		{name: "absolute-timeout", timed: true, run: func(t *testing.T, a *nuApp, A, B, thief *nuBrowser) string {
			for i := 0; i < 3; i++ {
				a.clock.Advance(25 * time.Minute)
				if r := A.get("/public"); r.user() != "alice" {
					t.Fatalf("before the absolute timeout: %v", r.body)
				}
			}
			a.clock.Advance(25 * time.Minute)
			return ""
		}},
		{name: "evicted-by-limit", cfg: func(c *ginsecure.Config) { c.MaxSessionsPerUser = 1 },
			run: func(t *testing.T, a *nuApp, A, B, thief *nuBrowser) string {
				B.login("alice")
				return ""
			}},
		{name: "other-user-login", run: func(t *testing.T, a *nuApp, A, B, thief *nuBrowser) string {
			if r := A.post("/login?user=bob"); r.user() != "bob" {
				t.Fatalf("bob's login: %v", r.body)
			}
			return "bob"
		}},
		{name: "other-user-login-response-lost", run: func(t *testing.T, a *nuApp, A, B, thief *nuBrowser) string {
			if r := A.send(http.MethodPost, "/login?user=bob"); r.user() != "bob" {
				t.Fatalf("bob's login: %v", r.body)
			}
			return ""
		}},
	}
}

// TestNewUserEveryEndingHidesAndRefuses: class 1. Alice writes a note, a
// thief copies both cookies, a write of alice's is held inside its handler
// across the ending; then neither alice's browser nor the copy reads the
// note or the held write, the held write is refused, and no later login
// (alice again, the thief as mallory) carries any of it.
func TestNewUserEveryEndingHidesAndRefuses(t *testing.T) {
	for _, end := range nuEndings() {
		t.Run(end.name, func(t *testing.T) {
			nuForStores(t, func(t *testing.T, kind string) {
				cfg := ginsecure.Config{RotateEvery: 10 * time.Minute, IdleTimeout: 30 * time.Minute, AbsoluteTimeout: 90 * time.Minute}
				if end.cfg != nil {
					end.cfg(&cfg)
				}
				a := nuNew(t, kind, cfg)
				A, B, thief := a.browser("10.0.0.1"), a.browser("10.0.0.1"), a.browser("10.0.0.1")
				A.get("/public")
				A.post("/put?k=cart&v=guest-cart")
				A.login("alice")
				if r := A.post("/put?k=note&v=S3CRET"); r.status != http.StatusOK {
					t.Fatalf("note: %d %v", r.status, r.body)
				}
				A.copyTo(thief)
				var h *held
				if !end.timed {
					h = A.holdReq("w1", "k=cart&v=HELD")
				}
				wantA := end.run(t, a, A, B, thief)
				if h != nil {
					r := h.finish()
					if r.status == http.StatusOK {
						t.Errorf("a write verified before the ending was accepted after it: %v", r.body)
					}
					// (Its handler read the session while it was alive:
					// the request was verified before the ending.)
					A.apply(r) // lands last
				}
				ra := A.get("/public")
				if ra.user() != wantA {
					t.Errorf("alice's browser after the ending: %v, want user %q", ra.body, wantA)
				}
				nuNoSecret(t, "alice's browser", ra, "S3CRET", "HELD")
				if r := A.send(http.MethodGet, "/me"); wantA == "" && r.status != http.StatusUnauthorized {
					t.Errorf("alice's /me after the ending: %d %v", r.status, r.body)
				}
				rt := thief.get("/public")
				if rt.user() != "" {
					t.Errorf("the copy after the ending is signed in: %v", rt.body)
				}
				nuNoSecret(t, "the copy", rt, "S3CRET", "HELD")
				if r := thief.send(http.MethodGet, "/me"); r.status != http.StatusUnauthorized {
					t.Errorf("the copy's /me: %d %v", r.status, r.body)
				}
				// The copy writes into what it holds, then reads it back.
				wt := thief.post("/put?k=note&v=THIEF")
				nuNoSecret(t, "the copy's write", wt, "S3CRET", "HELD")
				if r := thief.get("/public"); r.user() != "" {
					t.Errorf("the copy after its write: %v", r.body)
				} else {
					nuNoSecret(t, "the copy after its write", r, "S3CRET", "HELD")
				}
				// Nothing of it reaches a later login, alice's or the thief's.
				if wantA == "" {
					A.login("alice")
					r := A.get("/public")
					nuNoSecret(t, "alice's next login", r, "S3CRET", "HELD", "THIEF")
				}
				thief.login("mallory")
				r := thief.get("/public")
				nuNoSecret(t, "the thief's own login", r, "S3CRET", "HELD")
				if wantA != "" {
					nuNoSecret(t, "bob's session", A.get("/public"), "THIEF")
				}
			})
		})
	}
}

// TestNewUserCarryOverChain: class 2, one browser through a chain of
// logins: a guest's filtered values, the same user's own session (kept
// whole, CarryOver not asked), another user's (empty), and back.
func TestNewUserCarryOverChain(t *testing.T) {
	nuForStores(t, func(t *testing.T, kind string) {
		var asked []string
		var mu sync.Mutex
		a := nuNew(t, kind, ginsecure.Config{CarryOver: func(k, v any) bool {
			mu.Lock()
			asked = append(asked, fmt.Sprint(k))
			mu.Unlock()
			return k != "csrf"
		}})
		C := a.browser("10.0.0.7")
		C.post("/put?k=cart&v=G")
		C.post("/put?k=csrf=&v=x") // a key of another name is harmless
		C.post("/put?k=csrf&v=PLANTED")
		C.login("alice")
		r := C.get("/public")
		if r.val("cart") != "G" || r.val("csrf") != "" {
			t.Fatalf("guest → alice: %v (want cart G, no csrf)", r.body)
		}
		C.post("/put?k=csrf&v=REAL")
		C.post("/put?k=note&v=A1")
		mu.Lock()
		asked = nil
		mu.Unlock()
		C.login("alice") // over her own session
		r = C.get("/public")
		if r.val("csrf") != "REAL" || r.val("note") != "A1" || r.val("cart") != "G" {
			t.Errorf("alice → alice: %v (want all of it)", r.body)
		}
		mu.Lock()
		if len(asked) != 0 {
			t.Errorf("CarryOver asked about the same user's own session: %v", asked)
		}
		mu.Unlock()
		C.login("bob")
		r = C.get("/public")
		nuNoSecret(t, "bob over alice", r, "G", "REAL", "A1")
		C.post("/put?k=note&v=B1")
		C.login("alice")
		nuNoSecret(t, "alice over bob", C.get("/public"), "B1", "G", "REAL", "A1")
	})
}

// TestNewUserTwoTabsTwoUsersFromOneGuest: class 2, two tabs of one guest
// sign in as two users; the second login, sent with the guest's cookies
// after the first took them, never sees the first user's data, whichever
// response the browser keeps.
func TestNewUserTwoTabsTwoUsersFromOneGuest(t *testing.T) {
	for _, bobLast := range []bool{true, false} {
		t.Run(fmt.Sprintf("bobAppliedLast=%v", bobLast), func(t *testing.T) {
			nuForStores(t, func(t *testing.T, kind string) {
				a := nuNew(t, kind, ginsecure.Config{})
				C := a.browser("10.0.0.7")
				C.post("/put?k=cart&v=G")
				guest := C.header()
				C.login("alice")
				C.post("/put?k=note&v=ALICE-NOTE")
				rb := a.sendWith(http.MethodPost, "/login?user=bob", C.ip, "", guest)
				if rb.user() != "bob" {
					t.Fatalf("bob's login: %d %v", rb.status, rb.body)
				}
				nuNoSecret(t, "bob's login answer", rb, "ALICE-NOTE")
				if bobLast {
					C.apply(rb)
					r := C.get("/public")
					if r.user() != "bob" {
						t.Fatalf("after bob's response: %v", r.body)
					}
					nuNoSecret(t, "bob", r, "ALICE-NOTE")
					return
				}
				r := C.get("/public")
				if r.user() != "alice" || r.val("note") != "ALICE-NOTE" {
					t.Errorf("alice's tab after bob's lost response: %v", r.body)
				}
			})
		})
	}
}

// TestNewUserHeldLoginOverAnEndedSession: classes 1 and 2. A login held in
// its handler (verified on alice's live session) commits after her
// session was revoked: the new session, alice's or bob's, carries nothing
// of the ended one.
func TestNewUserHeldLoginOverAnEndedSession(t *testing.T) {
	for _, who := range []string{"alice", "bob"} {
		t.Run(who, func(t *testing.T) {
			nuForStores(t, func(t *testing.T, kind string) {
				a := nuNew(t, kind, ginsecure.Config{})
				C := a.browser("10.0.0.7")
				C.login("alice")
				C.post("/put?k=note&v=BEFORE-REVOKE")
				h := C.holdReq("l", "login="+who)
				if _, err := a.g.RevokeUser(context.Background(), "alice", ginsecure.ReasonAdmin); err != nil {
					t.Fatal(err)
				}
				r := h.finish()
				nuNoSecret(t, "the held login's answer", r, "BEFORE-REVOKE")
				C.apply(r)
				p := C.get("/public")
				nuNoSecret(t, "after the held login", p, "BEFORE-REVOKE")
				if r.status == http.StatusOK && p.user() != who {
					t.Errorf("login answered 200 as %q but the browser is %v", r.user(), p.body)
				}
			})
		})
	}
}

// TestNewUserSupersededHistoryBound: class 3. Five rotations, each
// presented (by Renew or by the periodic rotation); after the window the
// token five back is only a mismatch (the session lives), the one four back
// a replay (the session ends for everyone).
func TestNewUserSupersededHistoryBound(t *testing.T) {
	for _, how := range []string{"renew", "rotate"} {
		t.Run(how, func(t *testing.T) {
			nuForStores(t, func(t *testing.T, kind string) {
				a := nuNew(t, kind, ginsecure.Config{RotateEvery: 5 * time.Minute})
				A := a.browser("10.0.0.1")
				A.login("alice")
				A.post("/put?k=note&v=N")
				var snaps []string
				for i := 0; i < 5; i++ {
					snaps = append(snaps, A.header())
					if how == "renew" {
						a.clock.Advance(time.Minute)
						if r := A.post("/me/renew"); r.status != http.StatusOK {
							t.Fatalf("renew %d: %d %v", i, r.status, r.body)
						}
					} else {
						a.clock.Advance(6 * time.Minute)
						A.get("/public")
					}
					if r := A.get("/me"); r.status != http.StatusOK {
						t.Fatalf("after rotation %d: %d %v", i, r.status, r.body)
					}
				}
				a.clock.Advance(3 * time.Second)
				r := a.sendWith(http.MethodGet, "/me", "10.0.0.1", "", snaps[0])
				if r.status != http.StatusUnauthorized || r.code() != "token_mismatch" {
					t.Errorf("five back: %d %v, want 401 token_mismatch", r.status, r.body)
				}
				if a.eventCount(ginsecure.EventTokenMismatch) == 0 {
					t.Errorf("no token_mismatch event")
				}
				if r := A.get("/me"); r.status != http.StatusOK || r.val("note") != "N" {
					t.Fatalf("a mismatch ended the session: %d %v", r.status, r.body)
				}
				r = a.sendWith(http.MethodGet, "/public", "10.0.0.1", "", snaps[1])
				if r.user() != "" || r.reason() != "replay" {
					t.Errorf("four back: %v, want anonymous, replay", r.body)
				}
				nuNoSecret(t, "the replayed copy", r, "N")
				if r := A.get("/me"); r.status != http.StatusUnauthorized {
					t.Errorf("after the replay the owner is still signed in: %v", r.body)
				}
				if n := len(a.sessionsOf("alice")); n != 0 {
					t.Errorf("%d sessions after the replay", n)
				}
			})
		})
	}
}

// TestNewUserDoubleSubmitLateResponseAfterRotations: class 3. Two submits
// of one sign-in form (a guest with a session) join; the browser keeps
// the second's answer and uses it across two periodic rotations; the
// first's answer lands 25 minutes later: served, answered with the
// current token, nothing revoked. From then on that token is presented:
// a copy of it after the window is a replay.
func TestNewUserDoubleSubmitLateResponseAfterRotations(t *testing.T) {
	nuForStores(t, func(t *testing.T, kind string) {
		a := nuNew(t, kind, ginsecure.Config{RotateEvery: 10 * time.Minute, IdleTimeout: time.Hour})
		A := a.browser("10.0.0.1")
		A.get("/signin")
		A.post("/put?k=cart&v=G")
		r1 := A.send(http.MethodPost, "/login?user=alice")
		r2 := A.send(http.MethodPost, "/login?user=alice")
		if r1.user() != "alice" || r2.user() != "alice" {
			t.Fatalf("logins: %v %v", r1.body, r2.body)
		}
		A.apply(r2)
		A.get("/me")
		A.post("/put?k=note&v=N")
		for i := 0; i < 2; i++ {
			a.clock.Advance(11 * time.Minute)
			A.get("/me")
			if r := A.get("/me"); r.status != http.StatusOK {
				t.Fatalf("rotation %d: %v", i, r.body)
			}
		}
		a.clock.Advance(3 * time.Minute)
		A.apply(r1) // lands late
		late := A.header()
		r := A.get("/me")
		// On the cookie store the late login response is a full copy of the
		// session taken at the login: it was in flight when the note was
		// written, and the copy applied last wins (DESIGN.md, "Writes").
		if r.status != http.StatusOK || (kind != "cookie" && r.val("note") != "N") {
			t.Fatalf("the late response's token: %d %v, want served", r.status, r.body)
		}
		if a.eventCount(ginsecure.EventReplay) != 0 {
			t.Fatalf("a late response counted as a replay")
		}
		if r := A.get("/me"); r.status != http.StatusOK || r.val("cart") != "G" {
			t.Fatalf("after the late response: %d %v", r.status, r.body)
		}
		if n := len(a.sessionsOf("alice")); n != 1 {
			t.Errorf("%d sessions of alice, want the one joined login", n)
		}
		a.clock.Advance(3 * time.Second)
		r = a.sendWith(http.MethodGet, "/public", "10.0.0.1", "", late)
		if r.reason() != "replay" {
			t.Errorf("the late token presented again after the window: %v, want a replay", r.body)
		}
	})
}

// TestNewUserLateRenewTokenOnAStepUpRoute: class 3. Renew's response is
// lost past the reissue; the browser goes on with the reissued token
// (old privilege); Renew's token lands afterwards and goes straight to a
// route that wants a recent login: served at the lower privilege (403
// reauth_required), answered with the current token, nothing revoked.
func TestNewUserLateRenewTokenOnAStepUpRoute(t *testing.T) {
	nuForStores(t, func(t *testing.T, kind string) {
		a := nuNew(t, kind, ginsecure.Config{})
		A := a.browser("10.0.0.1")
		A.login("alice")
		a.clock.Advance(6 * time.Minute)
		if r := A.get("/stepup"); r.code() != "reauth_required" {
			t.Fatalf("stepup before Renew: %v", r.body)
		}
		rr := A.send(http.MethodPost, "/me/renew")
		if rr.status != http.StatusOK {
			t.Fatalf("renew: %v", rr.body)
		}
		a.clock.Advance(31 * time.Second)
		A.get("/me") // the reissue
		A.get("/me")
		a.clock.Advance(10 * time.Second)
		A.apply(rr)
		r := A.get("/stepup")
		if r.status == http.StatusOK {
			t.Errorf("the late Renew token got the step-up after its reissue: %v", r.body)
		}
		if r.status != http.StatusForbidden || r.code() != "reauth_required" {
			t.Errorf("late Renew token on the step-up route: %d %v, want 403 reauth_required", r.status, r.body)
		}
		if r := A.get("/me"); r.status != http.StatusOK {
			t.Errorf("after the late Renew token: %d %v", r.status, r.body)
		}
		if a.eventCount(ginsecure.EventReplay) != 0 {
			t.Errorf("a late Renew response counted as a replay")
		}
		// A new Renew still works and gives the step-up.
		if r := A.post("/me/renew"); r.status != http.StatusOK {
			t.Fatalf("renew again: %v", r.body)
		}
		if r := A.get("/stepup"); r.status != http.StatusOK {
			t.Errorf("step-up after a fresh Renew: %d %v", r.status, r.body)
		}
	})
}

// TestNewUserAcknowledgedWritesAnyOrder: class 4. A write held in its
// handler across a rotation (periodic, or a Renew), and a second write
// sent after the rotation landed; their responses applied in every
// order. Every write whose Save returned nil is read back afterwards
// (memstore, Redis; on the cookie store the copy applied last holds it,
// the documented last-write-wins), and the browser stays signed in.
func TestNewUserAcknowledgedWritesAnyOrder(t *testing.T) {
	for _, rot := range []string{"rotate", "renew"} {
		for _, order := range []string{"held-last", "held-first", "held-lost"} {
			t.Run(rot+"/"+order, func(t *testing.T) {
				nuForStores(t, func(t *testing.T, kind string) {
					a := nuNew(t, kind, ginsecure.Config{RotateEvery: 10 * time.Minute})
					A := a.browser("10.0.0.1")
					A.login("alice")
					A.post("/put?k=k3&v=base")
					h := A.holdReq("w", "k=k1&v=ONE")
					if rot == "rotate" {
						a.clock.Advance(11 * time.Minute)
						if r := A.get("/me"); r.status != http.StatusOK {
							t.Fatalf("rotation: %v", r.body)
						}
					} else if r := A.post("/me/renew"); r.status != http.StatusOK {
						t.Fatalf("renew: %v", r.body)
					}
					hr := h.finish()
					w2 := A.send(http.MethodPost, "/put?k=k2&v=TWO")
					if w2.status != http.StatusOK {
						t.Fatalf("second write: %v", w2.body)
					}
					switch order {
					case "held-last":
						A.apply(w2)
						A.apply(hr)
					case "held-first":
						A.apply(hr)
						A.apply(w2)
					case "held-lost":
						A.apply(w2)
					}
					r := A.get("/me")
					if r.status != http.StatusOK {
						t.Fatalf("signed out by the order of responses: %d %v", r.status, r.body)
					}
					if kind == "cookie" {
						return // the cookie applied last is the session
					}
					if hr.status == http.StatusOK && r.val("k1") != "ONE" {
						t.Errorf("the held write was acknowledged but is lost: %v", r.body)
					}
					if hr.status != http.StatusOK && hr.code() != "stale_credentials" {
						t.Errorf("the held write: %d %v", hr.status, hr.body)
					}
					if r.val("k2") != "TWO" || r.val("k3") != "base" {
						t.Errorf("acknowledged writes lost: %v", r.body)
					}
					if rot == "rotate" && hr.status != http.StatusOK {
						t.Errorf("a write across a periodic rotation was refused: %v", hr.body)
					}
				})
			})
		}
	}
}

// TestNewUserRenewAcrossAnEnding: class 5. A Renew held in its handler
// while the session ends (another user's login on the same browser, an
// eviction by a newer device, a logout from a second tab) returns
// ErrNoSession, sends no credentials, and changes nothing, whenever its
// response lands. (A replay and RevokeOthers from a newer device too.)
func TestNewUserRenewAcrossAnEnding(t *testing.T) {
	for _, end := range []string{"bob-login", "evicted", "logout-other-tab", "replay", "revoke-others"} {
		t.Run(end, func(t *testing.T) {
			nuForStores(t, func(t *testing.T, kind string) {
				a := nuNew(t, kind, ginsecure.Config{MaxSessionsPerUser: 1})
				A, B := a.browser("10.0.0.1"), a.browser("10.0.0.2")
				A.login("alice")
				A.post("/put?k=note&v=N")
				h := A.holdReq("r", "renew=1")
				want := ""
				switch end {
				case "bob-login":
					A.login("bob")
					want = "bob"
				case "evicted":
					B.login("alice")
				case "logout-other-tab":
					if r := A.post("/logout"); r.status != http.StatusOK {
						t.Fatalf("logout: %v", r.body)
					}
				case "replay": // a copy of the login's token after a rotation
					old := A.header()
					a.clock.Advance(16 * time.Minute)
					A.get("/me")
					A.get("/me")
					a.clock.Advance(3 * time.Second)
					if r := a.sendWith(http.MethodGet, "/me", A.ip, "", old); r.code() != "replay" {
						t.Fatalf("replay: %v", r.body)
					}
				case "revoke-others":
					a.clock.Advance(time.Minute)
					B.do(http.MethodPost, "/login?user=alice") // over the limit: evicts A
					if r := B.post("/me/revoke-others"); r.status != http.StatusOK {
						t.Fatalf("revoke-others: %v", r.body)
					}
				}
				before := len(a.sessionsOf("alice"))
				r := h.finish()
				if r.status != http.StatusUnauthorized || r.code() != "no_session" {
					t.Errorf("Renew across the ending: %d %v, want 401 no_session", r.status, r.body)
				}
				if hasCookie(r.cookies, ginsecure.DefaultCookieName) {
					t.Errorf("Renew across the ending sent a token cookie")
				}
				A.apply(r)
				p := A.get("/public")
				if p.user() != want {
					t.Errorf("after the Renew's answer landed: %v, want %q", p.body, want)
				}
				nuNoSecret(t, "after the refused Renew", p, "N")
				if n := len(a.sessionsOf("alice")); n != before {
					t.Errorf("alice's sessions %d → %d", before, n)
				}
				if end == "evicted" {
					if r := B.get("/me"); r.status != http.StatusOK {
						t.Errorf("the newer device: %v", r.body)
					}
				}
			})
		})
	}
}

// TestNewUserJoinTargetEnded: class 5. Two submits of one sign-in form;
// the first is answered and the user signs out before the second is
// processed: the second is an ordinary login (signed in, a session of its
// own), never the ended one back.
func TestNewUserJoinTargetEnded(t *testing.T) {
	nuForStores(t, func(t *testing.T, kind string) {
		a := nuNew(t, kind, ginsecure.Config{})
		A := a.browser("10.0.0.1")
		A.get("/signin")
		form := A.header()
		A.post("/login?user=alice")
		A.post("/put?k=note&v=FIRST")
		if r := A.post("/logout"); r.status != http.StatusOK {
			t.Fatalf("logout: %v", r.body)
		}
		r2 := a.sendWith(http.MethodPost, "/login?user=alice", A.ip, "", form)
		if r2.status != http.StatusOK || r2.user() != "alice" {
			t.Fatalf("second submit: %d %v", r2.status, r2.body)
		}
		nuNoSecret(t, "the second submit", r2, "FIRST")
		A.apply(r2)
		p := A.get("/me")
		if p.status != http.StatusOK {
			t.Fatalf("after the second submit: %d %v", p.status, p.body)
		}
		nuNoSecret(t, "after the second submit", p, "FIRST")
		if n := len(a.sessionsOf("alice")); n != 1 {
			t.Errorf("%d sessions", n)
		}
		if w := A.post("/put?k=note&v=SECOND"); w.status != http.StatusOK {
			t.Errorf("write: %v", w.body)
		}
		if p := A.get("/me"); p.val("note") != "SECOND" {
			t.Errorf("write lost: %v", p.body)
		}
	})
}

// TestNewUserIPMismatchStandIn: class 6. A copy used from another
// network (directly, with a spoofed X-Forwarded-For, or through the
// trusted proxy with a spoofed first hop) is anonymous with an empty
// stand-in, cannot write, gets 401 ip_mismatch on /me, is reported once,
// and signs in to its own account without touching alice's session.
func TestNewUserIPMismatchStandIn(t *testing.T) {
	type path struct {
		name, peer, xff string
		trust           bool
	}
	paths := []path{
		{name: "direct", peer: "10.0.9.9"},
		{name: "spoofed-xff-untrusted", peer: "10.0.9.9", xff: "10.0.0.1"},
		{name: "spoofed-xff-trusting-engine", peer: "10.0.9.9", xff: "10.0.0.1", trust: true},
		{name: "via-proxy-spoofed-first-hop", peer: "127.0.0.1", xff: "10.0.0.1, 10.0.9.9", trust: true},
	}
	for _, p := range paths {
		for _, keep := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/keep=%v", p.name, keep), func(t *testing.T) {
				nuForStores(t, func(t *testing.T, kind string) {
					var eng []func(*gin.Engine)
					if p.trust {
						eng = append(eng, func(r *gin.Engine) { _ = r.SetTrustedProxies([]string{"127.0.0.1"}) })
					}
					a := nuNew(t, kind, ginsecure.Config{KeepSessionOnIPMismatch: keep, TrustProxyHeaders: p.trust}, eng...)
					A := a.browser("10.0.0.1")
					if p.trust {
						A.ip, A.xff = "127.0.0.1", "10.0.0.1"
					}
					A.login("alice")
					A.post("/put?k=note&v=ALICE")
					th := a.browser(p.peer)
					th.xff = p.xff
					A.copyTo(th)
					// Without KeepSessionOnIPMismatch the first request of
					// the copy ends the session (then it is an ended
					// session's cookie: class 1), so the write comes first.
					if w := th.post("/put?k=note&v=THIEF"); w.code() != "foreign_session" || w.user() != "" {
						t.Errorf("stand-in write: %d %v, want foreign_session", w.status, w.body)
					}
					for i := 0; i < 3; i++ {
						r := th.get("/public")
						if r.user() != "" || r.reason() != "ip_mismatch" || r.val("note") == "THIEF" {
							t.Fatalf("copy from elsewhere: %v", r.body)
						}
						nuNoSecret(t, "the copy", r, "ALICE")
						if !keep {
							continue
						}
						if w := th.post("/put?k=note&v=THIEF"); w.code() != "foreign_session" {
							t.Errorf("stand-in write: %d %v, want foreign_session", w.status, w.body)
						}
						if m := th.send(http.MethodGet, "/me"); m.status != http.StatusUnauthorized || m.code() != "ip_mismatch" {
							t.Errorf("copy on /me: %d %v", m.status, m.body)
						}
					}
					if n := a.eventCount(ginsecure.EventIPMismatch); n != 1 {
						t.Errorf("%d ip_mismatch events for one record and network, want 1", n)
					}
					th.login("mallory")
					nuNoSecret(t, "mallory", th.get("/public"), "ALICE")
					r := A.get("/me")
					if keep {
						if r.status != http.StatusOK || r.val("note") != "ALICE" {
							t.Errorf("alice after the copy and mallory's login: %d %v", r.status, r.body)
						}
					} else if r.status != http.StatusUnauthorized {
						t.Errorf("alice's refused session still serves: %v", r.body)
					}
					if len(a.sessionsOf("mallory")) != 1 {
						t.Errorf("mallory has no session of her own")
					}
				})
			})
		}
	}
}

// TestNewUserIPMismatchOwnerMovesAndSignsIn: class 6. Alice's browser
// changes network (KeepSessionOnIPMismatch), its first request there is a
// write (refused, nothing written), then it signs in as alice: the
// refused record is replaced, not added to; from the old network the old
// cookies (a copy left behind) are dead.
func TestNewUserIPMismatchOwnerMovesAndSignsIn(t *testing.T) {
	nuForStores(t, func(t *testing.T, kind string) {
		a := nuNew(t, kind, ginsecure.Config{KeepSessionOnIPMismatch: true})
		A := a.browser("10.0.0.1")
		A.login("alice")
		A.post("/put?k=note&v=N")
		old := a.browser("10.0.0.1")
		A.copyTo(old)
		A.ip = "10.0.7.7"
		if w := A.post("/put?k=cart&v=X"); w.code() != "foreign_session" {
			t.Errorf("write from the new network: %d %v", w.status, w.body)
		}
		A.login("alice")
		if n := len(a.sessionsOf("alice")); n != 1 {
			t.Errorf("%d sessions of alice after signing in again, want the refused one replaced", n)
		}
		if r := A.get("/me"); r.status != http.StatusOK || r.val("cart") == "X" {
			t.Errorf("after signing in again: %d %v", r.status, r.body)
		}
		r := old.get("/public")
		if r.user() != "" {
			t.Errorf("the replaced session still serves from the old network: %v", r.body)
		}
	})
}

// TestNewUserCookielessDoubleSubmitKeepsOtherDevices: class 7. Phone and
// tablet signed in, limit 3; a laptop with no cookies submits the sign-in
// form twice: in either landing order, or with one answer lost, the
// laptop is signed in as the answer that landed last and nobody else is
// evicted (nor, with RejectExtraLogins, is the laptop refused).
func TestNewUserCookielessDoubleSubmitKeepsOtherDevices(t *testing.T) {
	for _, reject := range []bool{false, true} {
		for _, order := range []string{"1-then-2", "2-then-1", "1-lost", "2-lost"} {
			t.Run(fmt.Sprintf("reject=%v/%s", reject, order), func(t *testing.T) {
				nuForStores(t, func(t *testing.T, kind string) {
					a := nuNew(t, kind, ginsecure.Config{MaxSessionsPerUser: 3, RejectExtraLogins: reject})
					phone, tablet, laptop := a.browser("10.0.0.1"), a.browser("10.0.0.2"), a.browser("10.0.0.3")
					phone.login("alice")
					tablet.login("alice")
					phone.post("/put?k=note&v=PHONE")
					r1 := laptop.send(http.MethodPost, "/login?user=alice")
					r2 := laptop.send(http.MethodPost, "/login?user=alice")
					switch order {
					case "1-then-2":
						laptop.apply(r1)
						laptop.apply(r2)
					case "2-then-1":
						laptop.apply(r2)
						laptop.apply(r1)
					case "1-lost":
						laptop.apply(r2)
					case "2-lost":
						laptop.apply(r1)
					}
					for i := 0; i < 3; i++ {
						if r := laptop.get("/me"); r.status != http.StatusOK {
							t.Fatalf("laptop: %d %v", r.status, r.body)
						}
					}
					laptop.post("/put?k=note&v=LAPTOP")
					if r := laptop.get("/me"); r.val("note") != "LAPTOP" {
						t.Errorf("laptop's write: %v", r.body)
					}
					if r := phone.get("/me"); r.status != http.StatusOK || r.val("note") != "PHONE" {
						t.Errorf("phone evicted by a double submit: %d %v", r.status, r.body)
					}
					if r := tablet.get("/me"); r.status != http.StatusOK {
						t.Errorf("tablet evicted by a double submit: %d %v", r.status, r.body)
					}
					a.clock.Advance(ginsecure.UnpresentedAge + time.Minute)
					if n := len(a.sessionsOf("alice")); n != 3 {
						t.Errorf("%d sessions listed, want 3", n)
					}
					if a.eventCount(ginsecure.EventLimit) != 0 {
						t.Errorf("a limit event for a double submit")
					}
				})
			})
		}
	}
}

// TestNewUserLogoutIdiomVariants: class 8. gin-contrib's logout idiom,
// with and without Clear, right after a Renew or a periodic rotation, its
// answer applied or lost: the session ends for the browser and a copy.
// On a stand-in (another network, KeepSessionOnIPMismatch; a foreign
// anonymous session cookie next to the token) it returns
// ErrForeignSession and ends nothing.
func TestNewUserLogoutIdiomVariants(t *testing.T) {
	for _, v := range []string{"clear", "no-clear", "after-renew", "after-rotation", "answer-lost"} {
		t.Run(v, func(t *testing.T) {
			nuForStores(t, func(t *testing.T, kind string) {
				a := nuNew(t, kind, ginsecure.Config{RotateEvery: 10 * time.Minute})
				A, copy := a.browser("10.0.0.1"), a.browser("10.0.0.1")
				A.login("alice")
				A.post("/put?k=note&v=N")
				A.copyTo(copy)
				path := "/logout-idiom"
				switch v {
				case "clear":
					path += "?clear=1"
				case "after-renew":
					A.post("/me/renew")
				case "after-rotation":
					a.clock.Advance(11 * time.Minute)
					A.get("/public")
				}
				var r nuResp
				if v == "answer-lost" {
					r = A.send(http.MethodPost, path)
				} else {
					r = A.post(path)
				}
				if r.status != http.StatusOK {
					t.Fatalf("idiom: %d %v", r.status, r.body)
				}
				if n := len(a.sessionsOf("alice")); n != 0 {
					t.Errorf("%d sessions after the idiom", n)
				}
				for name, b := range map[string]*nuBrowser{"browser": A, "copy": copy} {
					p := b.get("/public")
					if p.user() != "" {
						t.Errorf("%s signed in after the idiom: %v", name, p.body)
					}
					nuNoSecret(t, name, p, "N")
				}
				A.login("alice")
				nuNoSecret(t, "the next login", A.get("/public"), "N")
			})
		})
	}
	t.Run("stand-ins", func(t *testing.T) {
		nuForStores(t, func(t *testing.T, kind string) {
			a := nuNew(t, kind, ginsecure.Config{KeepSessionOnIPMismatch: true})
			A := a.browser("10.0.0.1")
			A.login("alice")
			A.post("/put?k=note&v=N")
			// Another network.
			far := a.browser("10.0.8.8")
			A.copyTo(far)
			if r := far.post("/logout-idiom?clear=1"); r.code() != "foreign_session" {
				t.Errorf("idiom from another network: %d %v", r.status, r.body)
			}
			// A sibling's anonymous session cookie in front of the token.
			sib := a.browser("10.0.0.1")
			sib.post("/put?k=cart&v=SIB")
			mixed := a.browser("10.0.0.1")
			mixed.jar = map[string]string{"app": sib.jar["app"], ginsecure.DefaultCookieName: A.jar[ginsecure.DefaultCookieName]}
			mixed.ord = []string{"app", ginsecure.DefaultCookieName}
			a.clock.Advance(5 * time.Second) // past the login's first seconds
			if r := mixed.post("/logout-idiom"); r.code() != "foreign_session" {
				t.Errorf("idiom beside a foreign session cookie: %d %v", r.status, r.body)
			}
			if r := A.get("/me"); r.status != http.StatusOK || r.val("note") != "N" {
				t.Errorf("a stand-in's idiom ended alice's session: %d %v", r.status, r.body)
			}
		})
	})
}

// TestNewUserTokenOutlivesItsSessionCookie: class 9. The session cookie
// goes away (deleted, or replaced by bytes that do not decode) while the
// token stays: the next request, whatever it is, is an ordinary anonymous
// one with a fresh session whose writes are kept; the record ends, and a
// copy of both old cookies reads nothing.
func TestNewUserTokenOutlivesItsSessionCookie(t *testing.T) {
	for _, first := range []string{"write", "me", "login-bob", "logout", "idiom"} {
		for _, gone := range []string{"deleted", "garbage"} {
			t.Run(first+"/"+gone, func(t *testing.T) {
				nuForStores(t, func(t *testing.T, kind string) {
					a := nuNew(t, kind, ginsecure.Config{})
					A, copy := a.browser("10.0.0.1"), a.browser("10.0.0.1")
					A.login("alice")
					A.post("/put?k=note&v=N")
					A.copyTo(copy)
					if gone == "deleted" {
						A.del("app")
					} else {
						A.mu.Lock()
						A.jar["app"] = "MTIzNDU2Nzg5MA==|garbage|x"
						A.mu.Unlock()
					}
					switch first {
					case "write":
						w := A.post("/put?k=cart&v=FRESH")
						if w.status != http.StatusOK || w.user() != "" {
							t.Fatalf("write: %d %v", w.status, w.body)
						}
						if r := A.get("/public"); r.val("cart") != "FRESH" || r.user() != "" {
							t.Errorf("the fresh session's write is lost: %v", r.body)
						}
					case "me":
						if r := A.get("/me"); r.status != http.StatusUnauthorized {
							t.Errorf("/me: %d %v", r.status, r.body)
						}
						A.post("/put?k=cart&v=FRESH")
						if r := A.get("/public"); r.val("cart") != "FRESH" {
							t.Errorf("write after: %v", r.body)
						}
					case "login-bob":
						A.login("bob")
						nuNoSecret(t, "bob", A.get("/public"), "N")
					case "logout":
						if r := A.post("/logout"); r.status >= 500 {
							t.Errorf("logout: %d %v", r.status, r.body)
						}
					case "idiom":
						if r := A.post("/logout-idiom"); r.status >= 500 {
							t.Errorf("idiom: %d %v", r.status, r.body)
						}
					}
					nuNoSecret(t, "the browser", A.get("/public"), "N")
					if r := copy.get("/public"); r.user() != "" {
						t.Errorf("the copy of both cookies still signed in: %v", r.body)
					} else {
						nuNoSecret(t, "the copy", r, "N")
					}
					if n := len(a.sessionsOf("alice")); n != 0 {
						t.Errorf("%d sessions of alice live on", n)
					}
				})
			})
		}
	}
}

// TestNewUserTossedCookiesOfAnotherAccount: class 10. A sibling subdomain
// tosses session cookies in front of and behind alice's: cookies of the
// attacker's own signed-in session and of its anonymous one (valid,
// signed by the app), and garbage, up to about 1 MB of header. Alice
// stays signed in, reads her own values only, writes, renews and rotates;
// the attacker's session gets nothing of hers.
func TestNewUserTossedCookiesOfAnotherAccount(t *testing.T) {
	for _, n := range []int{1, 7, 300, -1} {
		name := fmt.Sprint(n)
		if n < 0 {
			name = "1MB"
		}
		t.Run(name, func(t *testing.T) {
			nuForStores(t, func(t *testing.T, kind string) {
				a := nuNew(t, kind, ginsecure.Config{RotateEvery: 10 * time.Minute})
				A, M, G := a.browser("10.0.0.1"), a.browser("10.0.0.1"), a.browser("10.0.0.1")
				A.login("alice")
				A.post("/put?k=note&v=ALICE")
				M.login("mallory")
				M.post("/put?k=note&v=MALLORY")
				G.post("/put?k=cart&v=GUEST")
				tossed := []string{"app=" + M.jar["app"], "app=" + G.jar["app"], "app=%%%garbage", "app="}
				one := strings.Join(tossed, "; ")
				count := n
				if n < 0 {
					count = (1<<20 - 8<<10) / (len(one) + 2)
				}
				var front []string
				for i := 0; i < count; i++ {
					front = append(front, one)
				}
				junk := strings.Join(front, "; ")
				hdr := func(b *nuBrowser) string {
					// half in front, half behind (the browser's own
					// cookie somewhere in the middle)
					return junk + "; " + b.header() + "; " + junk
				}
				if n < 0 && len(hdr(A)) > 2<<20 {
					t.Fatalf("header %d bytes", len(hdr(A)))
				}
				req := func(method, path string) nuResp {
					r := a.sendWith(method, path, A.ip, "", hdr(A))
					A.apply(r)
					return r
				}
				r := req(http.MethodGet, "/me")
				if r.status != http.StatusOK || r.user() != "alice" || r.val("note") != "ALICE" {
					t.Fatalf("alice behind tossed cookies: %d %v", r.status, r.body)
				}
				nuNoSecret(t, "alice", r, "MALLORY", "GUEST")
				if w := req(http.MethodPost, "/put?k=k1&v=W"); w.status != http.StatusOK {
					t.Errorf("write behind tossed cookies: %d %v", w.status, w.body)
				}
				if r := req(http.MethodPost, "/me/renew"); r.status != http.StatusOK {
					t.Errorf("renew behind tossed cookies: %d %v", r.status, r.body)
				}
				a.clock.Advance(11 * time.Minute)
				req(http.MethodGet, "/public")
				r = req(http.MethodGet, "/me")
				if r.status != http.StatusOK || r.val("k1") != "W" || r.val("note") != "ALICE" {
					t.Errorf("after write, renew, rotation: %d %v", r.status, r.body)
				}
				// Mallory, with her own cookies, still sees only hers.
				m := M.get("/me")
				if m.user() != "mallory" {
					t.Errorf("mallory: %v", m.body)
				}
				nuNoSecret(t, "mallory", m, "ALICE", "W")
				if a.eventCount(ginsecure.EventRevoke)+a.eventCount(ginsecure.EventReplay) != 0 {
					t.Errorf("tossed cookies ended a session")
				}
			})
		})
	}
}

// TestNewUserForgedAndOversizedCookies: malformed, forged and oversized
// token and session cookies next to alice's, on every route: never a 5xx,
// never alice's data to the sender, and alice is never signed out by them.
func TestNewUserForgedAndOversizedCookies(t *testing.T) {
	nuForStores(t, func(t *testing.T, kind string) {
		a := nuNew(t, kind, ginsecure.Config{})
		A, M := a.browser("10.0.0.1"), a.browser("10.0.0.1")
		A.login("alice")
		A.post("/put?k=note&v=ALICE")
		M.login("mallory")
		tok := A.jar[ginsecure.DefaultCookieName]
		flip := []byte(tok)
		flip[len(flip)-2] ^= 1
		if flip[len(flip)-2] == '-' || flip[len(flip)-2] == '_' {
			flip[len(flip)-2] = 'A'
		}
		handlePart := tok
		if i := strings.LastIndex(tok, "."); i > 0 {
			handlePart = tok[:i]
		}
		tokens := []string{
			"", "1.", "1..", "2." + tok[2:], string(flip), tok + "A", tok[:len(tok)-1],
			handlePart + "." + strings.Repeat("A", 43), handlePart + "." + strings.Repeat("\xff", 43),
			strings.Repeat("1.", 4000), tok + "," + tok, "1.\x00\x01",
			M.jar[ginsecure.DefaultCookieName], // mallory's own token
		}
		sessCookies := []string{A.jar["app"], M.jar["app"], "", strings.Repeat("A", 8000), "a|b|c"}
		for _, tk := range tokens {
			for _, sc := range sessCookies {
				hdr := "app=" + sc + "; " + ginsecure.DefaultCookieName + "=" + tk
				for _, p := range []string{"/public", "/me", "/put?k=note&v=X", "/logout", "/logout-idiom?clear=1", "/me/renew", "/login?user=eve"} {
					method := http.MethodPost
					if p == "/public" || p == "/me" {
						method = http.MethodGet
					}
					for _, ip := range []string{"10.0.0.1", "10.0.6.6"} {
						r := a.sendWith(method, p, ip, "10.0.0.1", hdr)
						if r.status >= 500 {
							t.Errorf("%s %s with token %.40q: %d", method, p, tk, r.status)
						}
						if tk != tok && r.user() == "alice" {
							t.Errorf("%s %s with token %.40q served as alice", method, p, tk)
						}
						if tk != tok {
							nuNoSecret(t, "a forged request", r, "ALICE")
						}
					}
				}
			}
		}
		if r := A.get("/me"); r.status != http.StatusOK || r.val("note") != "ALICE" {
			t.Errorf("alice after the forged requests: %d %v", r.status, r.body)
		}
	})
}

// TestNewUserHeldAcrossSeveralRotations: class 3 and the ordering
// principle. A request verified with the login's token is held while the
// token rotates two or three times (periodic, Renew, mixed) and the
// browser presents each new one; its response, landing last and past the
// window, never makes the browser a replay or anonymous.
func TestNewUserHeldAcrossSeveralRotations(t *testing.T) {
	for _, seq := range []string{"rotate,rotate", "renew,rotate,renew", "rotate,renew", "renew,renew,renew"} {
		for _, write := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/write=%v", seq, write), func(t *testing.T) {
				nuForStores(t, func(t *testing.T, kind string) {
					a := nuNew(t, kind, ginsecure.Config{RotateEvery: 10 * time.Minute})
					A := a.browser("10.0.0.1")
					A.login("alice")
					rest := "x=1"
					if write {
						rest = "k=k1&v=HELD"
					}
					h := A.holdReq("h", rest)
					for _, step := range strings.Split(seq, ",") {
						if step == "renew" {
							a.clock.Advance(time.Minute)
							if r := A.post("/me/renew"); r.status != http.StatusOK {
								t.Fatalf("renew: %v", r.body)
							}
						} else {
							a.clock.Advance(11 * time.Minute)
							A.get("/public")
						}
						if r := A.get("/me"); r.status != http.StatusOK {
							t.Fatalf("after %s: %v", step, r.body)
						}
					}
					a.clock.Advance(5 * time.Second)
					r := h.finish()
					if hasCookie(r.cookies, ginsecure.DefaultCookieName) {
						t.Errorf("a response that went out after the rotations sent a token")
					}
					A.apply(r)
					if m := A.get("/me"); m.status != http.StatusOK {
						t.Fatalf("the held response landing last signed the browser out: %d %v", m.status, m.body)
					}
					if a.eventCount(ginsecure.EventReplay) != 0 {
						t.Errorf("a replay")
					}
					if write && r.status == http.StatusOK && kind != "cookie" {
						if m := A.get("/me"); m.val("k1") != "HELD" {
							t.Errorf("acknowledged held write lost: %v", m.body)
						}
					}
				})
			})
		}
	}
}

// TestNewUserParallelBurstAcrossRotations: twenty parallel requests (some
// writes) per round with the same cookies, across a periodic rotation or
// a Renew each round; responses land in a shuffled order and a few are
// lost. The browser stays signed in through every round, no replay is
// seen, nothing answers 5xx.
func TestNewUserParallelBurstAcrossRotations(t *testing.T) {
	nuForStores(t, func(t *testing.T, kind string) {
		a := nuNew(t, kind, ginsecure.Config{RotateEvery: 10 * time.Minute})
		A := a.browser("10.0.0.1")
		A.login("alice")
		A.post("/put?k=note&v=N")
		for round := 0; round < 4; round++ {
			a.clock.Advance(11 * time.Minute)
			hdr := A.header()
			var wg sync.WaitGroup
			out := make([]nuResp, 20)
			for i := range out {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					path, method := "/me", http.MethodGet
					switch {
					case i == 7 && round%2 == 1:
						path, method = "/me/renew", http.MethodPost
					case i%5 == 0:
						path, method = fmt.Sprintf("/put?k=k2&v=r%d", round), http.MethodPost
					}
					out[i] = a.sendWith(method, path, A.ip, "", hdr)
				}(i)
			}
			wg.Wait()
			for j := range out {
				i := (j*7 + round) % len(out) // a shuffled order
				if i%6 == 5 {
					continue // lost
				}
				if out[i].status != http.StatusOK && out[i].code() != "stale_credentials" {
					t.Errorf("round %d request %d: %d %v", round, i, out[i].status, out[i].body)
				}
				A.apply(out[i])
			}
			if r := A.get("/me"); r.status != http.StatusOK || r.val("note") != "N" {
				t.Fatalf("round %d: signed out: %d %v", round, r.status, r.body)
			}
			a.clock.Advance(3 * time.Second)
			if r := A.get("/me"); r.status != http.StatusOK {
				t.Fatalf("round %d after the window: %d %v", round, r.status, r.body)
			}
		}
		if a.eventCount(ginsecure.EventReplay) != 0 {
			t.Errorf("replay events: %d", a.eventCount(ginsecure.EventReplay))
		}
	})
}

// TestNewUserHeldWriteAcrossSameUserRelogin: a write held across a
// re-login of the same user (a second tab signs in again) lands last: the
// browser stays signed in, and the write is either refused or read back.
func TestNewUserHeldWriteAcrossSameUserRelogin(t *testing.T) {
	for _, lost := range []bool{false, true} {
		t.Run(fmt.Sprintf("loginAnswerLost=%v", lost), func(t *testing.T) {
			nuForStores(t, func(t *testing.T, kind string) {
				a := nuNew(t, kind, ginsecure.Config{})
				A := a.browser("10.0.0.1")
				A.login("alice")
				A.post("/put?k=note&v=N")
				h := A.holdReq("w", "k=k1&v=HELD")
				lr := A.send(http.MethodPost, "/login?user=alice")
				if lr.user() != "alice" {
					t.Fatalf("relogin: %v", lr.body)
				}
				if !lost {
					A.apply(lr)
					A.get("/me")
				}
				r := h.finish()
				A.apply(r)
				m := A.get("/me")
				if !lost && m.status != http.StatusOK {
					t.Fatalf("signed out by the held write's answer: %d %v", m.status, m.body)
				}
				if m.status == http.StatusOK && m.val("note") != "N" {
					t.Errorf("same user's re-login lost the session's data: %v", m.body)
				}
				if r.status == http.StatusOK && m.status == http.StatusOK && kind != "cookie" && m.val("k1") != "HELD" {
					t.Errorf("acknowledged write lost: %v", m.body)
				}
				if lost && m.status != http.StatusOK {
					// The re-login's answer never came: the browser holds
					// the replaced record's cookies. It must sign in again
					// without trouble.
					A.login("alice")
				}
			})
		})
	}
}

// TestNewUserLogoutBehindTossedCookies: classes 1 and 10. Behind 300
// tossed cookies (the attacker's signed-in session's among them) alice's
// Logout, and the idiom, end her session and only hers.
func TestNewUserLogoutBehindTossedCookies(t *testing.T) {
	for _, how := range []string{"/logout", "/logout-idiom?clear=1"} {
		t.Run(how, func(t *testing.T) {
			nuForStores(t, func(t *testing.T, kind string) {
				a := nuNew(t, kind, ginsecure.Config{})
				A, M := a.browser("10.0.0.1"), a.browser("10.0.0.1")
				A.login("alice")
				A.post("/put?k=note&v=ALICE")
				M.login("mallory")
				M.post("/put?k=note&v=MALLORY")
				copy := a.browser("10.0.0.1")
				A.copyTo(copy)
				junk := strings.TrimSuffix(strings.Repeat("app="+M.jar["app"]+"; ", 300), "; ")
				r := a.sendWith(http.MethodPost, how, A.ip, "", junk+"; "+A.header())
				if r.status != http.StatusOK {
					t.Fatalf("logout behind tossed cookies: %d %v", r.status, r.body)
				}
				A.apply(r)
				if n := len(a.sessionsOf("alice")); n != 0 {
					t.Errorf("%d sessions of alice after logout", n)
				}
				p := a.sendWith(http.MethodGet, "/public", A.ip, "", junk+"; "+A.header())
				if p.user() != "" {
					t.Errorf("alice after logout: %v", p.body)
				}
				nuNoSecret(t, "alice after logout", p, "ALICE", "MALLORY")
				nuNoSecret(t, "alice's copy", copy.get("/public"), "ALICE")
				if m := M.get("/me"); m.status != http.StatusOK || m.val("note") != "MALLORY" {
					t.Errorf("mallory's session ended by alice's logout: %d %v", m.status, m.body)
				}
			})
		})
	}
}

// TestNewUserHeldWriteAcrossTokenAloneEnding: class 9 with a request in
// flight. A write verified with both cookies is held while a request
// with the token alone (the session cookie gone) ends the record: the
// held write is refused, the fresh anonymous session's write is kept.
func TestNewUserHeldWriteAcrossTokenAloneEnding(t *testing.T) {
	nuForStores(t, func(t *testing.T, kind string) {
		a := nuNew(t, kind, ginsecure.Config{})
		A := a.browser("10.0.0.1")
		A.login("alice")
		A.post("/put?k=note&v=N")
		h := A.holdReq("w", "k=cart&v=HELD")
		A.del("app")
		if w := A.post("/put?k=cart&v=FRESH"); w.status != http.StatusOK || w.user() != "" {
			t.Fatalf("the fresh session's write: %d %v", w.status, w.body)
		}
		r := h.finish()
		if r.status == http.StatusOK {
			t.Errorf("a write verified before the ending was accepted: %v", r.body)
		}
		A.apply(r)
		p := A.get("/public")
		if p.user() != "" || p.val("cart") != "FRESH" {
			t.Errorf("after the held answer landed: %v, want anonymous with cart FRESH", p.body)
		}
		nuNoSecret(t, "the browser", p, "N", "HELD")
	})
}

// TestNewUserIdentityMismatchNeverBlocksSignIn: class 6 with
// Config.Identity (another auth layer names the user in X-Auth-User). A
// request whose identity is another user's is anonymous with an empty
// stand-in, 401 identity_mismatch on /me, its write refused; signing in
// as the layer's user works and starts empty.
func TestNewUserIdentityMismatchNeverBlocksSignIn(t *testing.T) {
	nuForStores(t, func(t *testing.T, kind string) {
		a := nuNew(t, kind, ginsecure.Config{Identity: func(c *gin.Context) (string, bool) {
			u := c.GetHeader("X-Auth-User")
			return u, u != ""
		}})
		send := func(b *nuBrowser, method, path, user string) nuResp {
			req := httptest.NewRequest(method, "https://app.example"+path, nil)
			req.RemoteAddr = b.ip + ":40000"
			req.Header.Set("Cookie", b.header())
			req.Header.Set("X-Auth-User", user)
			w := httptest.NewRecorder()
			a.r.ServeHTTP(w, req)
			out := nuResp{status: w.Code, cookies: w.Result().Cookies(), body: map[string]any{}}
			_ = json.Unmarshal(w.Body.Bytes(), &out.body)
			if out.status >= 500 {
				t.Errorf("%s %s: %d %v", method, path, out.status, out.body)
			}
			b.apply(out)
			return out
		}
		A := a.browser("10.0.0.1")
		send(A, http.MethodPost, "/login?user=alice", "alice")
		send(A, http.MethodPost, "/put?k=note&v=ALICE", "alice")
		if r := send(A, http.MethodGet, "/me", "alice"); r.status != http.StatusOK || r.val("note") != "ALICE" {
			t.Fatalf("alice: %d %v", r.status, r.body)
		}
		// The other layer now says bob (a shared machine, a switched
		// account): a write first, then a read, then /me.
		if w := send(A, http.MethodPost, "/put?k=note&v=BOB", "bob"); w.code() != "foreign_session" || w.user() != "" {
			t.Errorf("write under another identity: %d %v", w.status, w.body)
		}
		r := send(A, http.MethodGet, "/public", "bob")
		if r.user() != "" || r.reason() != "identity_mismatch" {
			t.Errorf("read under another identity: %v", r.body)
		}
		nuNoSecret(t, "bob's stand-in", r, "ALICE")
		if m := send(A, http.MethodGet, "/me", "bob"); m.status != http.StatusUnauthorized || m.code() != "identity_mismatch" {
			t.Errorf("/me under another identity: %d %v", m.status, m.body)
		}
		if l := send(A, http.MethodPost, "/login?user=bob", "bob"); l.status != http.StatusOK || l.user() != "bob" {
			t.Fatalf("bob's sign-in: %d %v", l.status, l.body)
		}
		m := send(A, http.MethodGet, "/me", "bob")
		if m.status != http.StatusOK || m.user() != "bob" {
			t.Fatalf("bob after signing in: %d %v", m.status, m.body)
		}
		nuNoSecret(t, "bob's session", m, "ALICE")
		if a.eventCount(ginsecure.EventIdentityMismatch) != 1 {
			t.Errorf("%d identity_mismatch events, want 1", a.eventCount(ginsecure.EventIdentityMismatch))
		}
	})
}

// TestNewUserIPMismatchEventWindow: class 6. The mismatch event is
// reported once per record and network per TouchInterval: again after
// the interval, and at once from a second network.
func TestNewUserIPMismatchEventWindow(t *testing.T) {
	nuForStores(t, func(t *testing.T, kind string) {
		a := nuNew(t, kind, ginsecure.Config{KeepSessionOnIPMismatch: true, TouchInterval: time.Minute})
		A := a.browser("10.0.0.1")
		A.login("alice")
		n1, n2 := a.browser("10.0.3.3"), a.browser("10.0.4.4")
		A.copyTo(n1)
		A.copyTo(n2)
		for i := 0; i < 4; i++ {
			n1.get("/public")
			n1.send(http.MethodGet, "/me")
		}
		if n := a.eventCount(ginsecure.EventIPMismatch); n != 1 {
			t.Errorf("one network: %d events, want 1", n)
		}
		n2.get("/public")
		n2.get("/public")
		if n := a.eventCount(ginsecure.EventIPMismatch); n != 2 {
			t.Errorf("a second network: %d events, want 2", n)
		}
		a.clock.Advance(61 * time.Second)
		A.get("/me") // keeps the session alive
		n1.get("/public")
		n1.get("/public")
		if n := a.eventCount(ginsecure.EventIPMismatch); n != 3 {
			t.Errorf("after the interval: %d events, want 3", n)
		}
		if r := A.get("/me"); r.status != http.StatusOK {
			t.Errorf("alice: %v", r.body)
		}
	})
}

// TestNewUserAliceWriteLandsAfterBobsLogin: class 2 and class 1 (a login
// of another user replacing the session). Alice's write completes before
// bob signs in on the same browser, but its answer lands after bob's
// login's (at once, or past the window): bob never reads alice's data,
// and his writes are kept.
func TestNewUserAliceWriteLandsAfterBobsLogin(t *testing.T) {
	for _, delay := range []time.Duration{0, 5 * time.Second} {
		for _, next := range []string{"/public", "/me", "/put?k=cart&v=BOBCART"} {
			t.Run(fmt.Sprintf("%v%s", delay, next), func(t *testing.T) {
				nuForStores(t, func(t *testing.T, kind string) {
					a := nuNew(t, kind, ginsecure.Config{})
					A := a.browser("10.0.0.1")
					A.login("alice")
					A.post("/put?k=note&v=ALICE")
					w := A.send(http.MethodPost, "/put?k=note&v=ALICE2")
					if w.status != http.StatusOK {
						t.Fatalf("alice's write: %v", w.body)
					}
					if r := A.post("/login?user=bob"); r.user() != "bob" {
						t.Fatalf("bob: %v", r.body)
					}
					if delay > 0 {
						A.get("/public")
						a.clock.Advance(delay)
					}
					A.apply(w)
					method := http.MethodGet
					if strings.HasPrefix(next, "/put") {
						method = http.MethodPost
					}
					r := A.do(method, next)
					nuNoSecret(t, "bob's browser", r, "ALICE", "ALICE2")
					if r.user() == "alice" {
						t.Errorf("alice's late answer signed the browser back in as alice: %v", r.body)
					}
					p := A.get("/public")
					nuNoSecret(t, "bob's browser after", p, "ALICE", "ALICE2")
					if p.user() == "bob" && method == http.MethodPost && r.status == http.StatusOK && p.val("cart") != "BOBCART" {
						t.Errorf("bob's acknowledged write lost: %v", p.body)
					}
					if p.user() == "" {
						// Anonymous next to bob's token: he signs in again.
						A.login("bob")
						nuNoSecret(t, "bob again", A.get("/public"), "ALICE", "ALICE2")
					}
				})
			})
		}
	}
}

// TestNewUserGuestWriteLandsAfterLogin: class 4. A guest's write, saved
// before the sign-in was processed, whose answer lands after the login's
// (before the first signed-in request, or after several and past the
// window): the browser stays signed in and the acknowledged write is read
// back (a guest with a session: the login replaced that session).
func TestNewUserGuestWriteLandsAfterLogin(t *testing.T) {
	for _, when := range []string{"before-first-request", "after-window"} {
		t.Run(when, func(t *testing.T) {
			nuForStores(t, func(t *testing.T, kind string) {
				a := nuNew(t, kind, ginsecure.Config{})
				A := a.browser("10.0.0.1")
				A.post("/put?k=cart&v=G1")
				w := A.send(http.MethodPost, "/put?k=k2&v=G2")
				if w.status != http.StatusOK {
					t.Fatalf("guest write: %v", w.body)
				}
				if r := A.post("/login?user=alice"); r.user() != "alice" {
					t.Fatalf("login: %v", r.body)
				}
				if when == "after-window" {
					A.get("/me")
					A.post("/put?k=note&v=AFTER")
					a.clock.Advance(5 * time.Second)
				}
				A.apply(w)
				r := A.get("/me")
				if r.status != http.StatusOK {
					t.Fatalf("the guest write's late answer signed the browser out: %d %v", r.status, r.body)
				}
				if r.val("cart") != "G1" {
					t.Errorf("the guest cart is lost: %v", r.body)
				}
				if kind != "cookie" && r.val("k2") != "G2" {
					t.Errorf("the acknowledged guest write is lost: %v", r.body)
				}
				if when == "after-window" && kind != "cookie" && r.val("note") != "AFTER" {
					t.Errorf("the signed-in write is lost: %v", r.body)
				}
			})
		})
	}
}

// holdWith is holdReq with a Cookie header of the test's choosing (a form
// sent with the cookies the browser held earlier).
func (a *nuApp) holdWith(id, rest, ip, hdr string) *held {
	a.t.Helper()
	h := &held{done: make(chan nuResp, 1), a: a, id: id}
	go func() { h.done <- a.sendWith(http.MethodPost, "/hold?id="+id+"&"+rest, ip, "", hdr) }()
	select {
	case <-a.hold(id).entered:
	case <-time.After(10 * time.Second):
		a.t.Fatalf("held request %s never entered", id)
	}
	return h
}

// TestNewUserHeldSecondSubmitAfterJoinTargetEnded: class 5. The second
// submit of a sign-in form is held in its handler (verified as the guest)
// while the first signs in, writes, and is ended (logout, revocation,
// eviction); then the second commits: an ordinary login, signed in,
// carrying nothing of the ended session, whichever answer lands last.
func TestNewUserHeldSecondSubmitAfterJoinTargetEnded(t *testing.T) {
	for _, end := range []string{"logout", "revoke-user", "evicted"} {
		t.Run(end, func(t *testing.T) {
			nuForStores(t, func(t *testing.T, kind string) {
				a := nuNew(t, kind, ginsecure.Config{MaxSessionsPerUser: 1})
				A, B := a.browser("10.0.0.1"), a.browser("10.0.0.2")
				A.get("/signin")
				form := A.header()
				h := a.holdWith("second", "login=alice", A.ip, form)
				A.login("alice")
				A.post("/put?k=note&v=FIRST")
				switch end {
				case "logout":
					A.post("/logout")
				case "revoke-user":
					if _, err := a.g.RevokeUser(context.Background(), "alice"); err != nil {
						t.Fatal(err)
					}
				case "evicted":
					B.login("alice")
				}
				r := h.finish()
				if r.status != http.StatusOK || r.user() != "alice" {
					t.Fatalf("the second submit: %d %v", r.status, r.body)
				}
				nuNoSecret(t, "the second submit", r, "FIRST")
				A.apply(r)
				m := A.get("/me")
				if m.status != http.StatusOK {
					t.Fatalf("after the second submit landed: %d %v", m.status, m.body)
				}
				nuNoSecret(t, "after the second submit", m, "FIRST")
				if w := A.post("/put?k=note&v=SECOND"); w.status != http.StatusOK {
					t.Errorf("write: %v", w.body)
				}
				if m := A.get("/me"); m.val("note") != "SECOND" {
					t.Errorf("write lost: %v", m.body)
				}
			})
		})
	}
}

// TestNewUserInHandlerSequences: several session calls in one handler:
// the logout idiom then Login as another user, Login twice (two users),
// Renew then the idiom, Login then Logout then Login. Every session a
// call ended or replaced carries nothing into the next, a copy of the
// cookies from before reads nothing, and the browser ends up as the last
// call says.
func TestNewUserInHandlerSequences(t *testing.T) {
	type step func(c *gin.Context) error
	idiom := func(c *gin.Context) error {
		s := sessions.Default(c)
		s.Options(sessions.Options{Path: "/", MaxAge: -1})
		return s.Save()
	}
	login := func(u string) step { return func(c *gin.Context) error { return ginsecure.Login(c, u) } }
	put := func(k, v string) step {
		return func(c *gin.Context) error {
			s := sessions.Default(c)
			s.Set(k, v)
			return s.Save()
		}
	}
	cases := []struct {
		name  string
		steps []step
		want  string
		carry []string // values the final session may hold
	}{
		{"idiom-then-bob", []step{idiom, login("bob")}, "bob", nil},
		{"idiom-put-then-bob", []step{idiom, put("cart", "FLASH"), login("bob")}, "bob", []string{"FLASH"}},
		{"login-bob-then-carol", []step{login("bob"), put("note", "BOB"), login("carol")}, "carol", nil},
		{"renew-then-idiom", []step{ginsecure.Renew, idiom}, "", nil},
		{"login-logout-login", []step{login("bob"), put("note", "BOB"), ginsecure.Logout, login("bob")}, "bob", nil},
		{"logout-then-alice", []step{ginsecure.Logout, login("alice")}, "alice", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			nuForStores(t, func(t *testing.T, kind string) {
				a := nuNew(t, kind, ginsecure.Config{})
				a.r.POST("/seq", func(c *gin.Context) {
					for i, st := range tc.steps {
						if err := st(c); err != nil {
							h := nuState(c)
							h["error"] = fmt.Sprintf("step %d: %s", i, ginsecure.ErrorCode(err))
							c.JSON(http.StatusConflict, h)
							return
						}
					}
					c.JSON(http.StatusOK, nuState(c))
				})
				A, copy := a.browser("10.0.0.1"), a.browser("10.0.0.1")
				A.post("/put?k=cart&v=GUEST")
				A.login("alice")
				A.post("/put?k=note&v=ALICE")
				A.copyTo(copy)
				r := A.post("/seq")
				if r.status != http.StatusOK {
					t.Fatalf("sequence: %d %v", r.status, r.body)
				}
				p := A.get("/public")
				if p.user() != tc.want {
					t.Errorf("after the sequence: %v, want %q", p.body, tc.want)
				}
				nuNoSecret(t, "the final session", p, "ALICE", "GUEST", "BOB")
				for _, v := range tc.carry {
					if p.val("cart") != v {
						t.Errorf("a write after the ending, before the login, was not carried: %v", p.body)
					}
				}
				c := copy.get("/public")
				if c.user() != "" {
					t.Errorf("the copy from before: %v", c.body)
				}
				nuNoSecret(t, "the copy", c, "ALICE", "BOB")
			})
		})
	}
}

// TestNewUserSignInBehindTossedCookies: class 10 and class 2. A browser
// whose header starts with a sibling's tossed cookies (the attacker's own
// signed-in session cookie first, which gin-contrib loads) signs in as
// alice: the login works, carries nothing of the attacker's session and
// ends none of it; alice then stays signed in behind the same cookies and
// keeps her writes.
func TestNewUserSignInBehindTossedCookies(t *testing.T) {
	for _, count := range []int{1, 50} {
		t.Run(fmt.Sprint(count), func(t *testing.T) {
			nuForStores(t, func(t *testing.T, kind string) {
				a := nuNew(t, kind, ginsecure.Config{})
				M, A := a.browser("10.0.0.1"), a.browser("10.0.0.1")
				M.login("mallory")
				M.post("/put?k=note&v=MALLORY")
				junk := strings.TrimSuffix(strings.Repeat("app="+M.jar["app"]+"; app=%%%; ", count), "; ")
				do := func(method, path string) nuResp {
					hdr := junk
					if h := A.header(); h != "" {
						hdr += "; " + h
					}
					r := a.sendWith(method, path, A.ip, "", hdr)
					A.apply(r)
					return r
				}
				g := do(http.MethodGet, "/public")
				if g.user() != "" {
					t.Fatalf("the tossed cookies alone signed the browser in: %v", g.body)
				}
				nuNoSecret(t, "a visitor behind tossed cookies", g, "MALLORY")
				gw := do(http.MethodPost, "/put?k=cart&v=GUEST")
				// gin-contrib loaded the attacker's signed-in session (the
				// first cookie) without its token: a stand-in, the write
				// refused, so that it never lands in the attacker's session.
				if gw.status != http.StatusUnauthorized || gw.code() != "foreign_session" {
					t.Errorf("a guest write into a tossed signed-in session: %d %v", gw.status, gw.body)
				}
				l := do(http.MethodPost, "/login?user=alice")
				if l.status != http.StatusOK || l.user() != "alice" {
					t.Fatalf("sign-in behind tossed cookies: %d %v", l.status, l.body)
				}
				nuNoSecret(t, "alice's login", l, "MALLORY")
				for i := 0; i < 2; i++ {
					r := do(http.MethodGet, "/me")
					if r.status != http.StatusOK || r.user() != "alice" {
						t.Fatalf("alice behind tossed cookies: %d %v", r.status, r.body)
					}
					nuNoSecret(t, "alice", r, "MALLORY")
				}
				if w := do(http.MethodPost, "/put?k=note&v=ALICE"); w.status != http.StatusOK {
					t.Errorf("alice's write: %d %v", w.status, w.body)
				}
				if r := do(http.MethodGet, "/me"); r.val("note") != "ALICE" {
					t.Errorf("alice's write lost: %v", r.body)
				}
				m := M.get("/me")
				if m.status != http.StatusOK || m.val("note") != "MALLORY" {
					t.Errorf("mallory's session touched by alice's sign-in: %d %v", m.status, m.body)
				}
				nuNoSecret(t, "mallory", m, "ALICE", "GUEST")
			})
		})
	}
}

// TestNewUserRenewAnswerAndAnotherUsersLogin: classes 1, 2 and 5. Alice's
// Renew completes, then bob signs in on the same browser; Renew's answer
// is lost (a copy of it taken), or lands after bob's. Alice's session
// ended with bob's login: the copy of Renew's answer opens nothing, bob
// reads nothing of alice's.
func TestNewUserRenewAnswerAndAnotherUsersLogin(t *testing.T) {
	for _, fate := range []string{"lost", "lands-after-bob"} {
		t.Run(fate, func(t *testing.T) {
			nuForStores(t, func(t *testing.T, kind string) {
				a := nuNew(t, kind, ginsecure.Config{})
				A, thief := a.browser("10.0.0.1"), a.browser("10.0.0.1")
				A.login("alice")
				A.post("/put?k=note&v=ALICE")
				rr := A.send(http.MethodPost, "/me/renew")
				if rr.status != http.StatusOK {
					t.Fatalf("renew: %v", rr.body)
				}
				A.copyTo(thief)
				thief.apply(rr) // the thief holds Renew's answer
				if r := A.post("/login?user=bob"); r.user() != "bob" {
					t.Fatalf("bob: %d %v", r.status, r.body)
				}
				nuNoSecret(t, "bob's login", A.get("/public"), "ALICE")
				if fate == "lands-after-bob" {
					A.apply(rr)
					p := A.get("/public")
					if p.user() == "alice" {
						t.Errorf("alice's Renew answer, landing after bob's login, signed alice back in: %v", p.body)
					}
					nuNoSecret(t, "the browser after the late Renew answer", p, "ALICE")
					// On memstore and Redis Renew's answer also puts back
					// alice's moved session cookie: the browser then holds
					// exactly what a copy of that answer holds, and across
					// users the previous user's cookies reach nothing
					// (README, "How the grace period behaves"): anonymous
					// until bob signs in again. On the cookie store Renew
					// sends no session cookie: bob's stays, and the
					// request is forwarded to bob's session.
					want := ""
					if kind == "cookie" {
						want = "bob"
					}
					if p.user() != want {
						t.Errorf("after the late Renew answer: %v, want user %q", p.body, want)
					}
					if want == "" {
						A.login("bob")
						nuNoSecret(t, "bob signed in again", A.get("/public"), "ALICE")
					}
				}
				tr := thief.get("/public")
				if tr.user() != "" {
					t.Errorf("the copy of Renew's answer after bob's login: %v", tr.body)
				}
				nuNoSecret(t, "the copy of Renew's answer", tr, "ALICE")
				if n := len(a.sessionsOf("alice")); n != 0 {
					t.Errorf("%d sessions of alice after bob's login on her browser", n)
				}
			})
		})
	}
}
