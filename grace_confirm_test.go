package ginsecure_test

// The grace window runs from the moment the browser shows it received the
// new token, not from the moment the server minted it (see prevToken in
// grace.go): a rotating response that is slow, aborted or lost must not
// turn the browser's next requests into "replays".

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ginsecure/ginsecure"
	"github.com/ginsecure/ginsecure/storeext"
)

// TestUnconfirmedRotation: the response carrying a new token never reaches
// the browser (or reaches it late). Its old token keeps working, and every
// request with it is sent the same pending token, never another: when the
// lost response turns up after all it carries what the browser already
// has. Once the new token is presented, a copy of the old one after the
// window is a replay.
func TestUnconfirmedRotation(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{})
		b := e.browser()
		b.login("alice")
		oldHdr := b.header() // the old cookies, as the browser keeps sending them
		e.clock.Advance(ginsecure.DefaultRotateEvery)

		// The rotating request leaves from a copy of the browser: its
		// Set-Cookie is lost (aborted navigation) or late (a long poll).
		lost := e.browser()
		b.copyTo(lost)
		r := lost.get("/me")
		pending := ""
		for _, c := range r.cookies {
			if c.Name == ginsecure.DefaultCookieName {
				pending = c.Value
			}
		}
		if pending == "" {
			t.Fatalf("no rotation: %d %v", r.status, r.body)
		}
		for _, wait := range []time.Duration{5 * time.Second, 30 * time.Second, 5 * time.Minute} {
			e.clock.Advance(wait)
			r = e.send("GET", "/me", oldHdr) // the browser's own request, still on the old token
			got := ""
			for _, c := range r.cookies {
				if c.Name == ginsecure.DefaultCookieName {
					got = c.Value
				}
			}
			if r.status != http.StatusOK || r.user() != "alice" || got != pending {
				t.Fatalf("old token of an unconfirmed rotation after %v: %d %v, token %q; want 200 alice and the pending token again", wait, r.status, r.body, got)
			}
		}
		if n := e.events.count(ginsecure.EventReplay); n != 0 {
			t.Fatalf("an unconfirmed rotation produced %d replays", n)
		}
		if n := e.events.count(ginsecure.EventRotate); n != 1 {
			t.Fatalf("%d rotations, want 1: the pending token is resent, not reminted", n)
		}
		// The late response lands: the browser now presents the new token.
		if r := lost.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
			t.Fatalf("the late rotating response's token: %d %v", r.status, r.body)
		}
		e.clock.Advance(ginsecure.DefaultGracePeriod + time.Millisecond)
		if r := e.send("GET", "/me", oldHdr); r.status != http.StatusUnauthorized || r.errCode() != "replay" {
			t.Fatalf("the old token after the confirmed window: %d %v, want 401 replay", r.status, r.body)
		}
		if r := lost.get("/me"); r.status != http.StatusUnauthorized {
			t.Fatalf("session survived the replay: %d %v", r.status, r.body)
		}
	})
}

// TestSlowRotatingRequest: the rotating request takes longer than the grace
// period; the browser's parallel requests with the old token are served,
// and once the new token is presented the old one lives the window more.
func TestSlowRotatingRequest(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{})
		b := e.browser()
		b.login("alice")
		e.clock.Advance(ginsecure.DefaultRotateEvery)
		old := e.browser()
		b.copyTo(old)
		rot := b.get("/me") // rotates; its answer "arrives" only now in the jar
		if !hasCookie(rot.cookies, ginsecure.DefaultCookieName) {
			t.Fatal("no rotation")
		}
		e.clock.Advance(4 * time.Second) // the slow response was still on its way
		if r := e.send("GET", "/me", old.header()); r.status != http.StatusOK || r.user() != "alice" {
			t.Fatalf("parallel request during a slow rotation: %d %v", r.status, r.body)
		}
		// The new token is used for the first time: the window starts.
		if r := b.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
			t.Fatalf("new token: %d %v", r.status, r.body)
		}
		e.clock.Advance(ginsecure.DefaultGracePeriod)
		if r := e.send("GET", "/me", old.header()); r.status != http.StatusOK {
			t.Fatalf("straggler inside the window after confirmation: %d %v", r.status, r.body)
		}
		e.clock.Advance(time.Millisecond)
		if r := e.send("GET", "/me", old.header()); r.status != http.StatusUnauthorized || r.errCode() != "replay" {
			t.Fatalf("old token after the confirmed window: %d %v, want 401 replay", r.status, r.body)
		}
		if e.events.count(ginsecure.EventReplay) != 1 {
			t.Fatal("want one replay event")
		}
	})
}

// TestRenewOnTheRotatingRequest: a step-up that happens to be the first
// request after RotateEvery renews on the token it just minted.
func TestRenewOnTheRotatingRequest(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{})
		b := e.browser()
		b.login("alice")
		e.clock.Advance(ginsecure.DefaultRotateEvery)
		if r := b.post("/renew"); r.status != http.StatusOK || r.user() != "alice" {
			t.Fatalf("renew on the rotating request: %d %v", r.status, r.body)
		}
		if r := b.get("/admin"); r.status != http.StatusOK {
			t.Fatalf("/admin after renew: %d %v", r.status, r.body)
		}
	})
}

// TestRenewOnTheRotatingRequestLateResendIsNoReplay: a Renew on the
// request that rotated the token on its way in supersedes the rotation's
// token in the same response, before the browser ever presented it. A
// request of the browser still on the previous token, verified before the
// browser presented the Renew's, is sent the rotation's token again (the
// pending token, DESIGN.md "Ordering principle" 4); landing after the
// browser moved on, that token's first presentation is a late response
// whenever it comes, answered with the current token, never a replay
// (DESIGN.md, "Superseded credentials"). Renew had recorded the token it
// superseded as presented by its request, so the presentation after the
// window revoked the session.
func TestRenewOnTheRotatingRequestLateResendIsNoReplay(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{})
		b := e.browser()
		b.login("alice")
		if r := b.get("/me"); r.user() != "alice" {
			t.Fatalf("/me after login: %d %v", r.status, r.body)
		}
		before := b.header()
		e.clock.Advance(ginsecure.DefaultRotateEvery)
		if r := b.post("/renew"); r.status != http.StatusOK || r.user() != "alice" {
			t.Fatalf("renew on the rotating request: %d %v", r.status, r.body)
		}
		straggler := e.send("GET", "/me", before) // left before the Renew's response landed
		if straggler.status != http.StatusOK || !hasCookie(straggler.cookies, ginsecure.DefaultCookieName) {
			t.Fatalf("straggler on the pre-Renew token: %d %v, token sent %v; want 200 and the pending token", straggler.status, straggler.body, hasCookie(straggler.cookies, ginsecure.DefaultCookieName))
		}
		if r := b.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
			t.Fatalf("the Renew's token: %d %v", r.status, r.body)
		}
		b.apply(straggler) // lands last
		e.clock.Advance(ginsecure.DefaultGracePeriod + time.Second)
		if r := b.get("/me"); r.status != http.StatusOK || r.user() != "alice" || !hasCookie(r.cookies, ginsecure.DefaultCookieName) {
			t.Fatalf("the resent rotation token after the window: %d %v, token sent %v; want alice, answered with the current token", r.status, r.body, hasCookie(r.cookies, ginsecure.DefaultCookieName))
		}
		if r := b.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
			t.Fatalf("after the late response: %d %v", r.status, r.body)
		}
		if n := e.events.count(ginsecure.EventReplay); n != 0 {
			t.Fatalf("%d replays, want none", n)
		}
	})
}

// TestWebSocketUpgradeDoesNotRotate: an upgrade answers with its own
// headers, so a token minted there would be lost.
func TestWebSocketUpgradeDoesNotRotate(t *testing.T) {
	e := newEnv(t, "memstore", ginsecure.Config{})
	b := e.browser()
	b.login("alice")
	e.clock.Advance(ginsecure.DefaultRotateEvery)
	r := b.do(http.MethodGet, "/me", "Upgrade", "websocket")
	if r.status != http.StatusOK || hasCookie(r.cookies, ginsecure.DefaultCookieName) {
		t.Fatalf("upgrade request: %d %v %v", r.status, r.body, r.header["Set-Cookie"])
	}
	if e.events.count(ginsecure.EventRotate) != 0 {
		t.Fatal("rotated on an upgrade request")
	}
	if r := b.get("/me"); !hasCookie(r.cookies, ginsecure.DefaultCookieName) {
		t.Fatal("the next ordinary request should rotate")
	}
}

// TestIdenticalAnonymousCookiesDoNotShareAMarker: on the cookie store two
// visitors saving the same cart in the same second must still get distinct
// cookies, so that one's login cannot make the other's writes stale.
func TestIdenticalAnonymousCookiesDoNotShareAMarker(t *testing.T) {
	e := newEnv(t, "cookie", ginsecure.Config{})
	a, b := e.browser(), e.browser()
	a.post("/cart?item=apple")
	b.post("/cart?item=apple")
	if a.cookie("app") == b.cookie("app") {
		t.Fatal("identical anonymous cookies")
	}
	a.login("mallory")
	if r := b.post("/cart?item=pear"); !hasCookie(r.cookies, "app") {
		t.Fatalf("the other visitor's write was dropped: %v", r.header["Set-Cookie"])
	}
	if r := b.get("/cart"); r.body["cart"] != "pear" {
		t.Fatalf("cart: %v", r.body)
	}
}

// barrierStore makes the first n Get calls of a handle wait for each
// other, so that n parallel requests read the same record version (what
// happens naturally with Redis round trips).
type barrierStore struct {
	storeext.Store
	armed atomic.Bool
	n     int
	mu    sync.Mutex
	count int
	ch    chan struct{}
}

func (s *barrierStore) UseClock(now func() time.Time) {
	if cu, ok := s.Store.(storeext.ClockUser); ok {
		cu.UseClock(now)
	}
}

func (s *barrierStore) Get(ctx context.Context, h string) (storeext.Record, error) {
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
