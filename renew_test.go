package ginsecure_test

// Renew's failure paths and races (DESIGN.md, "Grace period", "Writes",
// "Refusals"), and the grace its stragglers get.

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/ginsecure/ginsecure"
	"github.com/ginsecure/ginsecure/internal/redistest"
	"github.com/ginsecure/ginsecure/storeext"
	gsessions "github.com/gorilla/sessions"
)

// gateStore wraps a Store: while armed, the first call of Update, Create
// or Delete blocks until the test opens the gate, so a test can order two
// requests' store steps exactly; failCreate makes Create fail.
type gateStore struct {
	storeext.Store
	mu         sync.Mutex
	armed      string // "Update", "Create" or "Delete": the next such call blocks
	entered    chan struct{}
	open       chan struct{}
	failCreate error
}

// SharedSessions forwards storeext.SessionSharer (session_shared_test.go).
func (w *gateStore) SharedSessions(s gsessions.Store) storeext.KnownSessions {
	return knownOf(w.Store, s)
}

func newGateStore(s storeext.Store) *gateStore {
	return &gateStore{Store: s, entered: make(chan struct{}), open: make(chan struct{})}
}

func (g *gateStore) UseClock(now func() time.Time) {
	if cu, ok := g.Store.(storeext.ClockUser); ok {
		cu.UseClock(now)
	}
}

func (g *gateStore) arm(method string) { g.mu.Lock(); g.armed = method; g.mu.Unlock() }

func (g *gateStore) gate(method string) {
	g.mu.Lock()
	hit := g.armed == method
	if hit {
		g.armed = ""
	}
	g.mu.Unlock()
	if hit {
		close(g.entered)
		select {
		case <-g.open:
		case <-time.After(holdTimeout):
		}
	}
}

func (g *gateStore) Update(ctx context.Context, h string, fn func(*storeext.Record) error) (storeext.Record, error) {
	g.gate("Update")
	return g.Store.Update(ctx, h, fn)
}

func (g *gateStore) Delete(ctx context.Context, h string) error {
	g.gate("Delete")
	return g.Store.Delete(ctx, h)
}

func (g *gateStore) Create(ctx context.Context, r storeext.Record, l storeext.Limit) error {
	g.gate("Create")
	g.mu.Lock()
	err := g.failCreate
	g.mu.Unlock()
	if err != nil {
		return err
	}
	return g.Store.Create(ctx, r, l)
}

// gatedEnv starts an env on kind whose ginsecure store is wrapped in a
// gateStore.
func gatedEnv(t *testing.T, kind string, cfg ginsecure.Config) (*env, *gateStore) {
	t.Helper()
	var opts []envOption
	var inner storeext.Store = ginsecure.NewMemoryStore()
	if isRedis(kind) {
		srv := redistest.Start(t)
		inner = newRedisStoreForTest(t, srv)
		opts = append(opts, withRedis(srv))
	}
	gs := newGateStore(inner)
	opts = append(opts, withStore(gs))
	return newEnv(t, kind, cfg, opts...), gs
}

// TestRenewDoubleClickKeepsThePredecessorMarker: the user double-clicks a
// step-up button: two Renews from the same session S0. Renew A sets the
// marker S0 → R first; Renew B finds it set (the same record: its own as
// much as A's), wins the token's compare-and-set and moves R to S_B; A,
// losing, leaves the marker B relies on. A pre-Renew response that lands
// last puts S0 back next to B's token and is healed: still signed in.
func TestRenewDoubleClickKeepsThePredecessorMarker(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e, gate := gatedEnv(t, kind, graceConfig(graceWindow))
		b := e.browser()
		b.login("alice")
		pre := b.header()
		// A pre-Renew request answered before the Renews, applied last.
		late := e.send("POST", "/cart?item=pre-renew", pre)
		if late.status != http.StatusOK || late.user() != "alice" {
			t.Fatalf("pre-Renew POST /cart: %d %v", late.status, late.body)
		}

		gate.arm("Update")
		doneA := make(chan reply, 1)
		go func() {
			r, err := e.trySend("POST", "/renew", pre)
			if err != nil {
				t.Error(err)
			}
			doneA <- r
		}()
		select {
		case <-gate.entered:
		case <-time.After(holdTimeout):
			t.Fatal("Renew A never reached the store's Update")
		}
		rb := e.send("POST", "/renew", pre)
		close(gate.open)
		ra := <-doneA
		if rb.status != http.StatusOK {
			t.Fatalf("Renew B: %d %v", rb.status, rb.body)
		}
		t.Logf("Renew A: %d %v", ra.status, ra.body)
		b.apply(ra)
		b.apply(rb)
		b.apply(late)
		if r := b.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
			t.Errorf("after a double Renew and a late pre-Renew response, GET /me: %d %v; want 200 alice (the sign-in is lost)", r.status, r.body)
		}
	})
}

// TestRenewLateStragglerDoesNotOverwriteNewerSessionData: a request sent
// with the pre-Renew cookies is served after the Renew and after the
// browser's next write. It writes nothing itself, so its response sends
// no session cookie: healing a request that presents the previous token
// never puts an older copy of the session over the browser's newer one,
// and the write the browser made after the Renew stays (DESIGN.md,
// "Grace period": never put back older credentials; DESIGN.md, "Writes":
// never lose a write silently).
func TestRenewLateStragglerDoesNotOverwriteNewerSessionData(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, graceConfig(graceWindow))
		b := e.browser()
		b.login("alice")
		if r := b.post("/cart?item=pre-renew"); r.status != http.StatusOK {
			t.Fatalf("POST /cart: %d %v", r.status, r.body)
		}
		pre := b.header()
		if r := b.post("/renew"); r.status != http.StatusOK {
			t.Fatalf("renew: %d %v", r.status, r.body)
		}
		if r := b.post("/cart?item=post-renew"); r.status != http.StatusOK || r.user() != "alice" {
			t.Fatalf("POST /cart after Renew: %d %v", r.status, r.body)
		}
		straggler := e.send("GET", "/public", pre) // left before the Renew, writes nothing
		if straggler.status != http.StatusOK {
			t.Fatalf("straggler: %d %v", straggler.status, straggler.body)
		}
		b.apply(straggler)
		r := b.get("/cart")
		if r.user() != "alice" || r.body["cart"] != "post-renew" {
			t.Errorf("after a pre-Renew GET /public landed last (it sets %q), GET /cart: %d %v; want alice with cart \"post-renew\" (a write answered 200 was lost)",
				graceCookies(straggler.cookies), r.status, r.body)
		}
	})
}

// TestRenewAfterAConfirmedRotationGracesStragglers: a Renew opens a grace
// window of its own even after an earlier rotation was confirmed; its
// previous token is not judged by that earlier confirmation. A parallel
// request sent just before the Renew is served, is no replay, and the
// browser stays signed in.
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

// TestReissueAfterALostRenewKeepsTheLogin: Renew's response is lost on
// memstore/Redis, where Renew regenerates the session ID. The old session
// ID and old token are served for 30 s through the Renew's marker, then
// reissued, and the reissue keeps the browser signed in: it does not leave
// it with a token but no session cookie naming the record.
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

// heldRenew installs POST /renew/held: Renew, once the test lets the
// request go on. It is verified (and its session loaded) before whatever
// the test does meanwhile, and renews after it.
type heldRenew struct {
	entered, release chan struct{}
}

func newHeldRenew() *heldRenew {
	return &heldRenew{entered: make(chan struct{}), release: make(chan struct{})}
}

func (h *heldRenew) routes(r *gin.Engine, g *ginsecure.Guard) {
	r.POST("/renew/held", g.Require(ginsecure.Policy{Authenticated: true}), func(c *gin.Context) {
		close(h.entered)
		select {
		case <-h.release:
		case <-time.After(holdTimeout):
		}
		if err := ginsecure.Renew(c); err != nil {
			c.JSON(ginsecure.ErrorStatus(err), gin.H{"error": ginsecure.ErrorCode(err)})
			return
		}
		u, _ := ginsecure.UserID(c)
		c.JSON(http.StatusOK, gin.H{"user": u})
	})
}

// start sends the held Renew with the Cookie header given and returns once
// it is inside its handler; finish lets it renew and returns its reply.
func (h *heldRenew) start(t *testing.T, e *env, cookieHeader string) (finish func() reply) {
	t.Helper()
	done := make(chan reply, 1)
	go func() {
		r, err := e.trySend("POST", "/renew/held", cookieHeader)
		if err != nil {
			t.Error(err)
		}
		done <- r
	}()
	select {
	case <-h.entered:
	case <-time.After(holdTimeout):
		t.Fatal("the held Renew never entered its handler")
	}
	return func() reply {
		close(h.release)
		return <-done
	}
}

// TestRenewKeepsAParallelAcknowledgedWrite: a write that a parallel
// request saved (Save returned nil) while a Renew was in flight is served
// afterwards, whichever response the browser applies last (DESIGN.md,
// "Writes"). On memstore and Redis Renew carries the session as the store
// holds it at its marker, as Login does; on the cookie store its response
// carries no session cookie, since its data did not change.
func TestRenewKeepsAParallelAcknowledgedWrite(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		for _, order := range []string{"write first", "renew first"} {
			t.Run(order, func(t *testing.T) {
				h := newHeldRenew()
				e := newEnv(t, kind, graceConfig(graceWindow), withRoutes(h.routes))
				b := e.browser()
				b.login("alice")
				if r := b.post("/cart?item=before"); r.status != http.StatusOK {
					t.Fatalf("POST /cart: %d %v", r.status, r.body)
				}
				finish := h.start(t, e, b.header())
				w := e.send("POST", "/cart?item=parallel", b.header())
				if w.status != http.StatusOK || w.user() != "alice" {
					t.Fatalf("the parallel write: %d %v", w.status, w.body)
				}
				rn := finish()
				if rn.status != http.StatusOK || rn.user() != "alice" {
					t.Fatalf("Renew: %d %v", rn.status, rn.body)
				}
				if order == "write first" {
					b.apply(w)
					b.apply(rn)
				} else {
					b.apply(rn)
					b.apply(w)
				}
				if r := b.get("/cart"); r.user() != "alice" || r.body["cart"] != "parallel" {
					t.Errorf("GET /cart, %s: %d %v; want alice with cart \"parallel\" (a write Save acknowledged was lost)", order, r.status, r.body)
				}
			})
		}
	})
}

// TestRenewOnASessionEndedInFlight: the session is revoked while a Renew
// is in flight. Renew returns ErrNoSession and changes nothing: no cookie,
// the record still revoked with its token unrotated, no new session.
func TestRenewOnASessionEndedInFlight(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		h := newHeldRenew()
		e := newEnv(t, kind, graceConfig(graceWindow), withRoutes(h.routes))
		b := e.browser()
		b.login("alice")
		list := e.sessions(t, "alice")
		if len(list) != 1 {
			t.Fatalf("%d sessions, want 1", len(list))
		}
		before, err := e.store.Get(context.Background(), list[0].Handle)
		if err != nil {
			t.Fatal(err)
		}
		finish := h.start(t, e, b.header())
		if _, err := e.guard.RevokeUser(context.Background(), "alice"); err != nil {
			t.Fatal(err)
		}
		r := finish()
		if r.status != http.StatusUnauthorized || r.errCode() != "no_session" {
			t.Errorf("Renew of a session revoked in flight: %d %v; want 401 no_session", r.status, r.body)
		}
		if got := graceCookies(r.cookies); got != "" {
			t.Errorf("Renew of a session revoked in flight sets %q; want no cookie", got)
		}
		after, err := e.store.Get(context.Background(), before.Handle)
		if err != nil {
			t.Fatal(err)
		}
		if after.Revoked == "" || after.TokenHash != before.TokenHash || after.SessionID != before.SessionID || len(after.History) != 0 {
			t.Errorf("Renew changed the revoked record: revoked %q, token changed %v, session changed %v, %d superseded",
				after.Revoked, after.TokenHash != before.TokenHash, after.SessionID != before.SessionID, len(after.History))
		}
		if n := len(e.sessions(t, "alice")); n != 0 {
			t.Errorf("%d live sessions after the revocation; want 0", n)
		}
		b.apply(r)
		if r := b.get("/me"); r.status != http.StatusUnauthorized {
			t.Errorf("GET /me after the revocation: %d %v; want 401", r.status, r.body)
		}
	})
}

// TestRenewWhoseReplyWasLostKeepsTheSession: Renew's rotation of the record
// is applied but its reply lost (a connection that broke after the
// command was sent). Renew then cannot tell the browser the new
// credentials, but the session must survive as it was: signed in (the
// old token is a straggler's, then reissued) and with the data a write
// acknowledged before, on every store. Undoing only the session half of a
// write that happened leaves the record naming a session nobody holds.
func TestRenewWhoseReplyWasLostKeepsTheSession(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e, f := newFailingEnv(t, kind, graceConfig(graceWindow))
		b := e.browser()
		b.login("alice")
		if r := b.post("/cart?item=book"); r.status != http.StatusOK || r.user() != "alice" {
			t.Fatalf("signed-in write: %d %v", r.status, r.body)
		}
		f.arm(0, "Update")
		f.mu.Lock()
		f.applied = true
		f.mu.Unlock()
		r := b.post("/renew")
		if _, failed := f.disarm(); len(failed) == 0 {
			t.Fatalf("Renew made no Update to fail: %d %v", r.status, r.body)
		}
		b.apply(r)
		for _, wait := range []time.Duration{0, 31 * time.Second} {
			e.clock.Advance(wait)
			got := b.get("/cart")
			if got.status != http.StatusOK || got.user() != "alice" || got.body["cart"] != "book" {
				t.Errorf("after a Renew whose reply was lost (renew answered %d %v), +%v: GET /cart %d %v; want alice with her cart",
					r.status, r.body, wait, got.status, got.body)
			}
		}
	})
}

// TestRenewStoreFailureLeavesNothing fails, one at a time, each call the
// Renew request makes to ginsecure's store. Whichever fails, Renew either
// completes or answers 503 store_unavailable and leaves the store as it
// was: no new marker (one left behind would refuse every later write of
// the session as stale), the browser's cookies unchanged, still signed in
// with its cart, and its next write saved.
func TestRenewStoreFailureLeavesNothing(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		for n := 1; ; n++ {
			e, fs := newFailingEnv(t, kind, ginsecure.Config{})
			b := e.browser()
			b.login("alice")
			b.post("/cart?item=apple")
			before, cookieBefore := storeContents(t, e, fs.Store), b.cookie("app")
			fs.arm(n, "")
			r := b.post("/renew")
			calls, failed := fs.disarm()
			if len(failed) == 0 {
				if r.status != http.StatusOK {
					t.Fatalf("Renew without a failure: %d %v", r.status, r.body)
				}
				break // every call has been failed once
			}
			what := fmt.Sprintf("failing call %d (%s) of %v", n, failed[0], calls)
			if r.status == http.StatusOK {
				continue // the failure came after the commit
			}
			if r.status != http.StatusServiceUnavailable || r.errCode() != "store_unavailable" {
				t.Errorf("%s: %d %v, want 503 store_unavailable", what, r.status, r.body)
			}
			if got := storeContents(t, e, fs.Store); got != before {
				t.Errorf("%s: the store holds %s, before the Renew %s", what, got, before)
			}
			if b.cookie("app") != cookieBefore || hasCookie(r.cookies, ginsecure.DefaultCookieName) {
				t.Errorf("%s: the failed Renew changed the browser's cookies: %v", what, r.cookies)
			}
			if got := b.get("/cart"); got.user() != "alice" || got.body["cart"] != "apple" {
				t.Errorf("%s: the visitor after the failed Renew: %v", what, got.body)
			}
			if got := b.post("/cart?item=pear"); got.status != http.StatusOK {
				t.Errorf("%s: the visitor's next write: %d %v", what, got.status, got.body)
			} else if got := b.get("/cart"); got.body["cart"] != "pear" {
				t.Errorf("%s: the visitor's next write did not persist: %v", what, got.body)
			}
			if n > 20 {
				t.Fatal("the Renew makes more than 20 store calls")
			}
		}
	})
}
