package ginsecure_test

// Regressions found by the second security review, each a request
// sequence that once signed a user out, handed a session over, or let a
// request without the token change someone's session.

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"
	"github.com/ginsecure/ginsecure"
	gsessions "github.com/gorilla/sessions"
)

// F1: Renew does not reset ConfirmedAt. After any earlier confirmed
// rotation, a Renew's previous token is judged against the OLD ConfirmedAt,
// so a parallel request sent just before the Renew is a "replay" and the
// session is revoked.
func TestRenewAfterAConfirmedRotationGracesStragglers(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{})
		b := e.browser()
		b.login("alice")
		e.clock.Advance(ginsecure.DefaultRotateEvery)
		if r := b.get("/me"); !hasCookie(r.cookies, ginsecure.DefaultCookieName) {
			t.Fatal("no periodic rotation")
		}
		b.get("/me") // confirms the rotated token
		e.clock.Advance(time.Minute)

		straggler := e.browser()
		b.copyTo(straggler) // a fetch that left before the Renew's response
		if r := b.post("/renew"); r.status != http.StatusOK {
			t.Fatalf("renew: %d %v", r.status, r.body)
		}
		r := straggler.get("/me") // same instant as the Renew
		if r.status != http.StatusOK || r.user() != "alice" {
			t.Fatalf("straggler 0 ms after Renew: %d %v (want 200 alice: grace window)", r.status, r.body)
		}
		if n := e.events.count(ginsecure.EventReplay); n != 0 {
			t.Fatalf("%d replay events for a straggler inside the grace window", n)
		}
		if r := b.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
			t.Fatalf("browser after Renew + straggler: %d %v (login lost)", r.status, r.body)
		}
	})
}

// barrierStore makes the first n Get calls of a handle wait for each
// other, so that n parallel requests read the same record version (what
// happens naturally with Redis round trips).
type barrierStore struct {
	ginsecure.Store
	armed atomic.Bool
	n     int
	mu    sync.Mutex
	count int
	ch    chan struct{}
}

func (s *barrierStore) UseClock(now func() time.Time) {
	if cu, ok := s.Store.(ginsecure.ClockUser); ok {
		cu.UseClock(now)
	}
}

func (s *barrierStore) Get(ctx context.Context, h string) (ginsecure.Record, error) {
	r, err := s.Store.Get(ctx, h)
	if s.armed.Load() {
		s.mu.Lock()
		s.count++
		if s.count == s.n {
			close(s.ch)
		}
		s.mu.Unlock()
		select {
		case <-s.ch:
		case <-time.After(2 * time.Second):
		}
	}
	return r, err
}

// Parallel requests carrying the old token of a lost rotation are all sent
// the same pending token, never one each: a browser keeps whichever
// Set-Cookie arrives last, so tokens minted per request would sign it out
// whenever the arrival order differs from the mint order.
func TestParallelOldTokenRequestsGetOnePendingToken(t *testing.T) {
	bs := &barrierStore{Store: ginsecure.NewMemoryStore(), n: 2, ch: make(chan struct{})}
	e := newEnv(t, "cookie", ginsecure.Config{}, withStore(bs))
	b := e.browser()
	b.login("alice")
	e.clock.Advance(ginsecure.DefaultRotateEvery)
	lost := e.browser()
	b.copyTo(lost)
	if r := lost.get("/me"); !hasCookie(r.cookies, ginsecure.DefaultCookieName) {
		t.Fatalf("no rotation: %d %v", r.status, r.body)
	}
	e.clock.Advance(31 * time.Second)

	x, y := e.browser(), e.browser()
	b.copyTo(x)
	b.copyTo(y)
	bs.armed.Store(true)
	var wg sync.WaitGroup
	wg.Add(2)
	var tx, ty string
	go func() {
		defer wg.Done()
		tx = x.get("/me").header.Get("Set-Cookie")
	}()
	go func() {
		defer wg.Done()
		ty = y.get("/me").header.Get("Set-Cookie")
	}()
	wg.Wait()
	bs.armed.Store(false)
	want := ginsecure.DefaultCookieName + "=" + lost.cookie(ginsecure.DefaultCookieName) + ";"
	if tx == "" || tx != ty || len(tx) < len(want) || tx[:len(want)] != want {
		t.Fatalf("parallel old-token requests were sent %q and %q; want the pending token %q twice", tx, ty, lost.cookie(ginsecure.DefaultCookieName))
	}
	rx, ry := x.get("/me"), y.get("/me")
	if n := e.events.count(ginsecure.EventRotate); n != 1 {
		t.Fatalf("%d rotate events, want the one rotation", n)
	}
	if rx.status != http.StatusOK || ry.status != http.StatusOK {
		t.Fatalf("one of two parallel reissued tokens is dead: a browser that keeps it is signed out")
	}
}

// F4: Renew's response lost on memstore/Redis (session ID regenerated). The
// old SID + old token are served for 30 s via the Renew marker, then
// reissued: the browser gets a token but no session cookie naming the
// record, and from then on is anonymous.
func TestReissueAfterALostRenewKeepsTheLogin(t *testing.T) {
	for _, kind := range []string{"memstore", "redis"} {
		t.Run(kind, func(t *testing.T) {
			e := newEnv(t, kind, ginsecure.Config{})
			b := e.browser()
			b.login("alice")
			lost := e.browser()
			b.copyTo(lost)
			if r := lost.post("/renew"); r.status != http.StatusOK { // b never sees this response
				t.Fatalf("renew: %d", r.status)
			}
			e.clock.Advance(5 * time.Second)
			if r := b.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
				t.Fatalf("within 30 s: %d %v", r.status, r.body)
			}
			e.clock.Advance(30 * time.Second)
			r := b.get("/me")
			t.Logf("after 35 s: %d %v cookies=%v", r.status, r.body, r.header["Set-Cookie"])
			if r := b.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
				t.Fatalf("after the reissue the browser is signed out: %d %v", r.status, r.body)
			}
		})
	}
}

// F5: Logout on a request that holds only the victim's session cookie
// (no token: distrusted) deletes the victim's record and, on memstore and
// Redis, the victim's server-side session data.
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

// F6a: a planted session cookie naming a record that is gone (the
// attacker's own, long expired) makes ANY request of the victim expire her
// token cookie: the "record not found" branch of verify still expires it.
func TestPlantedDeadSessionCookieLeavesVictimToken(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{})
		attacker, victim := e.browser(), e.browser()
		attacker.login("mallory")
		planted := attacker.cookie("app")
		e.clock.Advance(2 * time.Hour) // attacker's record expired and forgotten
		victim.login("alice")
		real := victim.cookie("app")
		victim.setCookie("app", planted)
		if r := victim.get("/public"); len(r.cookies) != 0 {
			t.Fatalf("a planted dead session cookie made the response write cookies: %v", r.header["Set-Cookie"])
		}
		victim.setCookie("app", real) // the planted cookie goes away
		if r := victim.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
			t.Fatalf("victim signed out by a planted session cookie: %d %v", r.status, r.body)
		}
	})
}

// F6b: same, with a planted cookie naming a revoked (retained) record: the
// distrusted request's failure is "dead", and Require's refuse expires the
// victim's token and session cookie.
func TestPlantedRevokedSessionCookieLeavesVictimToken(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{})
		attacker, victim := e.browser(), e.browser()
		attacker.login("mallory")
		if _, err := e.guard.RevokeUser(context.Background(), "mallory"); err != nil {
			t.Fatal(err)
		}
		victim.login("alice")
		real := victim.cookie("app")
		victim.setCookie("app", attacker.cookie("app"))
		if r := victim.get("/me"); r.status != http.StatusUnauthorized || len(r.cookies) != 0 {
			t.Fatalf("planted revoked session cookie: %d %v %v, want 401 writing no cookie", r.status, r.body, r.header["Set-Cookie"])
		}
		victim.setCookie("app", real)
		if r := victim.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
			t.Fatalf("victim signed out by a planted session cookie: %d %v", r.status, r.body)
		}
	})
}

// F7: tokenCookie trims names with strings.TrimSpace (Unicode), so a cookie
// named "\u00a0__Host-ginsecure" counts as the token cookie. Browsers do
// not apply __Host- rules to that name, so a sibling subdomain can set it
// (Domain=parent). net/http does not accept it as a cookie at all.
func TestLookalikeCookieNameIsNotTheToken(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{})
		attacker, victim := e.browser(), e.browser()
		attacker.login("mallory")
		victim.login("alice")
		atok, asess := attacker.cookie(ginsecure.DefaultCookieName), attacker.cookie("app")
		vtok, vsess := victim.cookie(ginsecure.DefaultCookieName), victim.cookie("app")

		// What net/http sees.
		req, _ := http.NewRequest("GET", "/", nil)
		req.Header.Set("Cookie", "\u00a0"+ginsecure.DefaultCookieName+"="+atok)
		if _, err := req.Cookie(ginsecure.DefaultCookieName); err == nil {
			t.Fatal("net/http accepted it too")
		}

		// The victim's browser: planted (more specific path, sent first)
		// session cookie and NBSP token, then her own.
		fresh := e.browser()
		hdr := "app=" + asess + "; \u00a0" + ginsecure.DefaultCookieName + "=" + atok +
			"; " + ginsecure.DefaultCookieName + "=" + vtok + "; app=" + vsess
		r := fresh.do(http.MethodGet, "/me", "Cookie", hdr)
		if r.user() == "mallory" {
			t.Fatalf("a cookie not named %s was taken as the token: victim is signed in as %q", ginsecure.DefaultCookieName, r.user())
		}
	})
}

// Review (2026-11-22), finding 2: a distrusted request sees a stand-in for
// its session, but a handler that saves the stand-in through gorilla
// directly (Session().Save(r, w)) bypassed the wrapper, and the fresh
// session's cookie went out with Path=/: planted next to the victim's
// token, the attacker's session cookie made the victim's own request
// overwrite her session cookie. Nothing a distrusted request writes may
// reach the browser.
func TestDistrustedGorillaSaveWritesNoCookie(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{}, withRoutes(func(r *gin.Engine, g *ginsecure.Guard) {
			r.POST("/gorilla-save", func(c *gin.Context) {
				gs := sessions.Default(c).(interface{ Session() *gsessions.Session }).Session()
				gs.Values["note"] = "x"
				if err := gs.Save(c.Request, c.Writer); err != nil {
					c.JSON(http.StatusInternalServerError, gin.H{"error": err.Error()})
					return
				}
				c.JSON(http.StatusOK, gin.H{"saved": true})
			})
		}))
		attacker, victim := e.browser(), e.browser()
		attacker.login("mallory")
		victim.login("alice")
		real := victim.cookie("app")
		victim.setCookie("app", attacker.cookie("app"))
		if r := victim.post("/gorilla-save"); len(r.cookies) != 0 {
			t.Fatalf("a distrusted request's gorilla Save sent cookies: %v", r.header["Set-Cookie"])
		}
		victim.setCookie("app", real)
		if r := victim.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
			t.Fatalf("victim after the planted cookie's request: %d %v", r.status, r.body)
		}
		// A signed-in request's own gorilla Save still goes out.
		if r := victim.post("/gorilla-save"); !hasCookie(r.cookies, "app") {
			t.Fatalf("a verified request's gorilla Save sent no session cookie: %v", r.header["Set-Cookie"])
		}
	})
}

// getRecorder is a Store that remembers every handle Get was asked for.
type getRecorder struct {
	ginsecure.Store
	mu   sync.Mutex
	asks []string
}

// UseClock passes the Guard's clock on to the wrapped store.
func (s *getRecorder) UseClock(now func() time.Time) {
	if cu, ok := s.Store.(ginsecure.ClockUser); ok {
		cu.UseClock(now)
	}
}

func (s *getRecorder) Get(ctx context.Context, h string) (ginsecure.Record, error) {
	s.mu.Lock()
	s.asks = append(s.asks, h)
	s.mu.Unlock()
	return s.Store.Get(ctx, h)
}

// A handle in the session that no build mints (an application that wrote
// under ginsecure's key, a session store that mangled it) never reaches
// the store as a key: the request is simply not signed in.
func TestOddSessionHandleNeverReachesTheStore(t *testing.T) {
	const odd = "../../{x}*"
	rec := &getRecorder{Store: ginsecure.NewMemoryStore()}
	e := newEnv(t, "cookie", ginsecure.Config{}, withStore(rec), withRoutes(func(r *gin.Engine, g *ginsecure.Guard) {
		r.POST("/plant", func(c *gin.Context) {
			s := sessions.Default(c)
			s.Set("gsec.h", odd)
			if err := s.Save(); err != nil {
				c.JSON(http.StatusInternalServerError, gin.H{"error": err.Error()})
				return
			}
			c.JSON(http.StatusOK, gin.H{})
		})
	}))
	b := e.browser()
	b.login("alice")
	if r := b.post("/plant"); r.status != http.StatusOK {
		t.Fatalf("plant: %d %v", r.status, r.body)
	}
	// The token names the record; the session's handle is not asked for.
	if r := b.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
		t.Fatalf("odd handle next to the token: %d %v, want 200 alice", r.status, r.body)
	}
	// Without the token, the session's handle is checked before any lookup.
	anon := e.browser()
	anon.setCookie("app", b.cookie("app"))
	if r := anon.get("/cart"); r.status != http.StatusOK || r.user() != "" {
		t.Fatalf("odd handle without the token: %d %v", r.status, r.body)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, h := range rec.asks {
		if h == odd {
			t.Fatalf("the store was asked for %q", odd)
		}
	}
}
