package ginsecure_test

// Black-box scenarios of the session lifecycle (DESIGN.md, "Lifecycle"),
// driven as a new user of the library would drive it: an app built the
// way README's Quick start builds one, on every store kind, with the
// variants of each rule that the rule's own tests do not spell out
// (other endings, other orders, other counts, other networks).

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"
	"github.com/ginsecure/ginsecure"
	"github.com/ginsecure/ginsecure/storeext"
	gsessions "github.com/gorilla/sessions"
)

// scenarioApp adds the routes the scenarios need beyond the test app's:
// a free key/value write and read, gin-contrib's logout idiom with a
// chosen MaxAge, and a Renew held inside its handler after Require
// verified it. Holds are the env's own (holds.get).
func scenarioApp(h **holds) envOption {
	return withRoutes(func(r *gin.Engine, g *ginsecure.Guard) {
		who := func(c *gin.Context) gin.H {
			u, _ := ginsecure.UserID(c)
			out := gin.H{"user": u}
			if err := ginsecure.FailureReason(c); err != nil {
				out["reason"] = ginsecure.ErrorCode(err)
			}
			return out
		}
		r.POST("/sc/set", func(c *gin.Context) {
			s := sessions.Default(c)
			s.Set(c.Query("k"), c.Query("v"))
			if err := s.Save(); err != nil {
				c.JSON(saveFailure(err))
				return
			}
			c.JSON(http.StatusOK, who(c))
		})
		r.GET("/sc/get", func(c *gin.Context) {
			out := who(c)
			out["v"] = sessions.Default(c).Get(c.Query("k"))
			c.JSON(http.StatusOK, out)
		})
		r.POST("/sc/bye", func(c *gin.Context) {
			s := sessions.Default(c)
			if c.Query("clear") != "" {
				s.Clear()
			}
			var maxAge int
			_, _ = fmt.Sscan(c.Query("maxage"), &maxAge)
			s.Options(sessions.Options{Path: "/", MaxAge: maxAge})
			if err := s.Save(); err != nil {
				c.JSON(ginsecure.ErrorStatus(err), gin.H{"error": ginsecure.ErrorCode(err)})
				return
			}
			c.JSON(http.StatusOK, who(c))
		})
		r.POST("/sc/renew-held", g.Require(ginsecure.Policy{Authenticated: true}), func(c *gin.Context) {
			x := (*h).get(c.Query("id"))
			close(x.entered)
			select {
			case <-x.release:
			case <-time.After(holdTimeout):
				c.JSON(http.StatusGatewayTimeout, gin.H{"error": "never released"})
				return
			}
			if err := ginsecure.Renew(c); err != nil {
				c.JSON(ginsecure.ErrorStatus(err), gin.H{"error": ginsecure.ErrorCode(err)})
				return
			}
			c.JSON(http.StatusOK, who(c))
		})
	})
}

// newScenarioEnv is newEnv with the scenario routes.
func newScenarioEnv(t *testing.T, kind string, cfg ginsecure.Config) *env {
	t.Helper()
	var h *holds
	e := newEnv(t, kind, cfg, scenarioApp(&h))
	h = e.holds
	return e
}

// held sends a request with exactly the Cookie header given, returns once
// it is inside its handler (id's hold), and gives back the release.
func (e *env) held(t *testing.T, method, path, id, cookieHeader string) func() reply {
	t.Helper()
	done := make(chan reply, 1)
	go func() {
		r, err := e.trySend(method, path, cookieHeader)
		if err != nil {
			t.Error(err)
		}
		done <- r
	}()
	if err := e.holds.waitEntered(id); err != nil {
		t.Fatal(err)
	}
	return func() reply { e.holds.free(id); return <-done }
}

func wantStatusUser(t *testing.T, what string, r reply, status int, user string) {
	t.Helper()
	if r.status != status || r.user() != user {
		t.Errorf("%s: %d %v; want %d as %q", what, r.status, r.body, status, user)
	}
}

func liveCount(t *testing.T, e *env, user string) int { t.Helper(); return len(e.sessions(t, user)) }

// ---------------------------------------------------------------------
// Endings: every ending hides, never serves, never carries the data.

type scenarioEnding struct {
	name string
	cfg  ginsecure.Config
	// end ends alice's record on b; copy holds b's cookies from before.
	// It returns the browser the test should treat as the ended browser
	// (b) and the copy (which may have been the one to end it).
	end func(t *testing.T, e *env, b, copy *browser)
}

var scenarioEndings = []scenarioEnding{
	{name: "Logout by the browser", end: func(t *testing.T, e *env, b, _ *browser) {
		if r := b.post("/logout"); r.status != http.StatusOK {
			t.Fatalf("logout: %d %v", r.status, r.body)
		}
	}},
	{name: "RevokeSession from a second device", end: func(t *testing.T, e *env, b, _ *browser) {
		list := e.sessions(t, "alice")
		phone := e.browser()
		phone.login("alice")
		if err := e.guard.RevokeSession(context.Background(), "alice", list[0].Handle); err != nil {
			t.Fatal(err)
		}
		wantStatusUser(t, "the second device after RevokeSession", phone.get("/me"), 200, "alice")
	}},
	{name: "RevokeUser with two sessions", end: func(t *testing.T, e *env, b, _ *browser) {
		e.browser().login("alice")
		if n, err := e.guard.RevokeUser(context.Background(), "alice"); err != nil || n != 2 {
			t.Fatalf("RevokeUser: %d %v", n, err)
		}
	}},
	{name: "RevokeOthers after a password change elsewhere", end: func(t *testing.T, e *env, b, _ *browser) {
		o := e.browser()
		o.login("alice")
		if r := o.post("/me/revoke-others"); r.status != 200 {
			t.Fatalf("revoke-others: %d %v", r.status, r.body)
		}
		wantStatusUser(t, "the revoking device", o.get("/me"), 200, "alice")
	}},
	{name: "eviction by two newer devices over a limit of 2", cfg: ginsecure.Config{MaxSessionsPerUser: 2}, end: func(t *testing.T, e *env, b, _ *browser) {
		e.clock.Advance(time.Minute)
		e.browser().login("alice")
		e.clock.Advance(time.Minute)
		e.browser().login("alice")
	}},
	{name: "replay of the copy's pre-rotation token", cfg: graceConfig(graceWindow), end: func(t *testing.T, e *env, b, copy *browser) {
		e.clock.Advance(graceRotateEvery + time.Second)
		b.get("/public")
		b.get("/public")
		e.clock.Advance(graceWindow + time.Second)
		if r := copy.get("/me"); r.status != 401 || r.errCode() != "replay" {
			t.Fatalf("copy's old token after the window: %d %v; want 401 replay", r.status, r.body)
		}
	}},
	{name: "IP mismatch of the copy from another address", end: func(t *testing.T, e *env, b, _ *browser) {
		far := e.browserFrom("127.0.0.3")
		b.copyTo(far)
		if r := far.get("/me"); r.status != 401 || r.errCode() != "ip_mismatch" {
			t.Fatalf("copy from 127.0.0.3: %d %v", r.status, r.body)
		}
	}},
	{name: "idle timeout", cfg: ginsecure.Config{RotateEvery: -1}, end: func(t *testing.T, e *env, b, _ *browser) {
		e.clock.Advance(30*time.Minute + time.Second)
	}},
	{name: "idle timeout at its exact instant", cfg: ginsecure.Config{RotateEvery: -1}, end: func(t *testing.T, e *env, b, _ *browser) {
		e.clock.Advance(30 * time.Minute)
	}},
	{name: "absolute timeout at its exact instant", cfg: ginsecure.Config{RotateEvery: -1, IdleTimeout: 30 * time.Minute, AbsoluteTimeout: time.Hour}, end: func(t *testing.T, e *env, b, _ *browser) {
		e.clock.Advance(25 * time.Minute)
		wantStatusUser(t, "active browser", b.get("/me"), 200, "alice")
		e.clock.Advance(25 * time.Minute)
		wantStatusUser(t, "active browser", b.get("/me"), 200, "alice")
		e.clock.Advance(10 * time.Minute)
	}},
	{name: "absolute timeout of an active session", cfg: ginsecure.Config{RotateEvery: -1, IdleTimeout: 30 * time.Minute, AbsoluteTimeout: time.Hour}, end: func(t *testing.T, e *env, b, _ *browser) {
		for i := 0; i < 3; i++ {
			e.clock.Advance(20 * time.Minute)
			if i < 2 {
				wantStatusUser(t, "active browser before the absolute timeout", b.get("/me"), 200, "alice")
			}
		}
	}},
}

// TestEndingScenarios: for each way a signed-in session ends, neither the
// ended browser nor a copy of its cookies reads or writes the session's
// data, and a later login on either (the same user, another user) starts
// without it.
func TestEndingScenarios(t *testing.T) {
	for _, end := range scenarioEndings {
		for _, next := range []string{"alice", "bob"} {
			t.Run(end.name+"/then "+next+" signs in", func(t *testing.T) {
				forEachStore(t, func(t *testing.T, kind string) {
					e := newScenarioEnv(t, kind, end.cfg)
					b, copy := e.browser(), e.browser()
					b.login("alice")
					if r := b.post("/cart?item=alice-private"); r.status != 200 {
						t.Fatalf("alice's write: %d %v", r.status, r.body)
					}
					b.post("/sc/set?k=addr&v=alice-addr")
					b.copyTo(copy)
					// A write verified before the ending, saved after it.
					release := e.holdAt(t, "/hold/auth?id=inflight&write=in-flight", "inflight", b.header())
					end.end(t, e, b, copy)
					// (A timeout ends the record only when a request finds
					// it (DESIGN.md, "Timeouts"): a write saved before that
					// is an ordinary one, hidden with the rest afterwards.)
					if w := release(); w.status == 200 && !strings.Contains(end.name, "timeout") {
						t.Errorf("a write verified before the ending, saved after it: %d %v; want it refused", w.status, w.body)
					} else {
						b.apply(w)
					}

					for _, x := range []struct {
						who string
						b   *browser
					}{{"ended browser", b}, {"copy", copy}} {
						if r := x.b.get("/cart"); r.status != 200 || r.user() != "" || r.body["cart"] != nil {
							t.Errorf("%s reads: %d %v; want 200 anonymous, no cart", x.who, r.status, r.body)
						}
						if r := x.b.get("/sc/get?k=addr"); r.body["v"] != nil {
							t.Errorf("%s reads addr: %v", x.who, r.body)
						}
						if r := x.b.get("/me"); r.status != 401 {
							t.Errorf("%s on a protected route: %d %v; want 401", x.who, r.status, r.body)
						}
					}
					// The copy's holder writes into what it holds; nothing of
					// it is ever the signed-in user's.
					if r := copy.post("/sc/set?k=addr&v=thief-addr"); r.user() != "" || r.status >= 500 {
						t.Errorf("copy's write: %d %v; want anonymous", r.status, r.body)
					}
					if r := copy.get("/cart"); r.body["cart"] == "alice-private" {
						t.Errorf("copy after its write sees alice's cart: %v", r.body)
					}
					// The ended browser's own guest write after the ending
					// is kept for its anonymous pages, not carried into a
					// login from the tombstoned session (README, "Known
					// limits").
					if r := b.post("/cart?item=guest-after"); r.status != 200 || r.user() != "" {
						t.Errorf("ended browser's guest write: %d %v", r.status, r.body)
					}
					if r := b.get("/cart"); r.body["cart"] != "guest-after" {
						t.Errorf("ended browser's guest write is not kept: %v", r.body)
					}
					b.login(next)
					r := b.get("/cart")
					// Logout alone gives the browser a fresh anonymous
					// session (README, "Quick start"): its guest cart is
					// an anonymous session's, carried as any is.
					var want any
					if strings.HasPrefix(end.name, "Logout") {
						want = "guest-after"
					}
					if r.user() != next || r.body["cart"] != want {
						t.Errorf("%s signed in on the ended browser: %v; want cart %v", next, r.body, want)
					}
					if r := b.get("/sc/get?k=addr"); r.body["v"] != nil {
						t.Errorf("%s signed in on the ended browser reads addr %v; want nothing (neither alice's nor the copy's)", next, r.body["v"])
					}
					copy.login(map[string]string{"alice": "bob", "bob": "alice"}[next])
					if r := copy.get("/cart"); r.body["cart"] != nil {
						t.Errorf("login on the copy: %v; want no cart", r.body)
					}
					if r := copy.get("/sc/get?k=addr"); r.body["v"] == "alice-addr" {
						t.Errorf("login on the copy reads alice's addr: %v", r.body)
					}
				})
			})
		}
	}
}

// ---------------------------------------------------------------------
// Carry-over: only from an anonymous session or the same user's own.

func TestCarryOverScenarios(t *testing.T) {
	cases := []struct {
		name     string
		cfg      ginsecure.Config
		setup    func(t *testing.T, e *env, b *browser) // ends with b holding some session
		user     string                                 // who signs in next on b
		wantCart any
		wantCSRF any
	}{
		{name: "bob over alice live", user: "bob", setup: func(t *testing.T, e *env, b *browser) {
			b.login("alice")
			b.post("/cart?item=alice-private")
		}},
		{name: "bob over alice revoked", user: "bob", setup: func(t *testing.T, e *env, b *browser) {
			b.login("alice")
			b.post("/cart?item=alice-private")
			if _, err := e.guard.RevokeUser(context.Background(), "alice"); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "bob over alice replaced by alice", user: "bob", setup: func(t *testing.T, e *env, b *browser) {
			b.login("alice")
			b.post("/cart?item=alice-private")
			b.login("alice")
			if r := b.get("/cart"); r.body["cart"] != "alice-private" {
				t.Fatalf("alice over alice should keep her cart: %v", r.body)
			}
		}},
		{name: "bob over alice timed out", user: "bob", cfg: ginsecure.Config{RotateEvery: -1}, setup: func(t *testing.T, e *env, b *browser) {
			b.login("alice")
			b.post("/cart?item=alice-private")
			e.clock.Advance(31 * time.Minute)
		}},
		{name: "bob over alice who signed in over an anonymous cart", user: "bob", setup: func(t *testing.T, e *env, b *browser) {
			b.post("/cart?item=guest-cart")
			b.login("alice")
		}},
		{name: "alice over alice live keeps it", user: "alice", wantCart: "alice-private", setup: func(t *testing.T, e *env, b *browser) {
			b.login("alice")
			b.post("/cart?item=alice-private")
		}},
		{name: "anonymous cart carried", user: "alice", wantCart: "guest-cart", wantCSRF: "planted", setup: func(t *testing.T, e *env, b *browser) {
			b.post("/cart?item=guest-cart")
			b.post("/sc/set?k=csrf&v=planted")
		}},
		{name: "anonymous cart carried, CarryOver drops csrf", user: "alice", wantCart: "guest-cart",
			cfg: ginsecure.Config{CarryOver: func(k, _ any) bool { return k != "csrf" }},
			setup: func(t *testing.T, e *env, b *browser) {
				b.post("/cart?item=guest-cart")
				b.post("/sc/set?k=csrf&v=planted")
			}},
		{name: "bob over alice live, CarryOver keeps everything", user: "bob",
			cfg: ginsecure.Config{CarryOver: func(_, _ any) bool { return true }},
			setup: func(t *testing.T, e *env, b *browser) {
				b.login("alice")
				b.post("/cart?item=alice-private")
				b.post("/sc/set?k=csrf&v=alice-csrf")
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			forEachStore(t, func(t *testing.T, kind string) {
				e := newScenarioEnv(t, kind, c.cfg)
				b := e.browser()
				c.setup(t, e, b)
				b.login(c.user)
				r := b.get("/cart")
				if r.user() != c.user || r.body["cart"] != c.wantCart {
					t.Errorf("after %s signs in: %v; want cart %v", c.user, r.body, c.wantCart)
				}
				if r := b.get("/sc/get?k=csrf"); r.body["v"] != c.wantCSRF {
					t.Errorf("csrf after %s signs in: %v; want %v", c.user, r.body["v"], c.wantCSRF)
				}
			})
		})
	}
}

// ---------------------------------------------------------------------
// Superseded credentials: a late response is served, never revoked.

func TestSupersededLateResponseScenarios(t *testing.T) {
	cases := []struct {
		name string
		run  func(t *testing.T, e *env, b *browser)
	}{
		{"Renew's response lands 10 min after its reissue, on a write", func(t *testing.T, e *env, b *browser) {
			b.login("alice")
			late := e.send("POST", "/renew", b.header())
			if late.status != 200 || tokenOf(late.cookies) == "" {
				t.Fatalf("renew: %d %v", late.status, late.body)
			}
			e.clock.Advance(31 * time.Second)
			if r := b.get("/me"); r.status != 200 || tokenOf(r.cookies) == "" {
				t.Fatalf("reissue: %d %v", r.status, r.body)
			} else {
				b.apply(r)
			}
			wantStatusUser(t, "reissued token", b.get("/me"), 200, "alice")
			e.clock.Advance(10 * time.Minute)
			b.apply(late)
			wantStatusUser(t, "late Renew token on a write", b.post("/cart?item=late-write"), 200, "alice")
			if r := b.get("/cart"); r.user() != "alice" || r.body["cart"] != "late-write" {
				t.Errorf("after the late Renew response: %v", r.body)
			}
		}},
		{"third of three double-submitted logins lands last", func(t *testing.T, e *env, b *browser) {
			b.post("/cart?item=guest")
			hdr := b.header()
			var rs []reply
			for i := 0; i < 3; i++ {
				r := e.send("POST", "/login?user=alice", hdr)
				if r.status != 200 {
					t.Fatalf("login %d: %d %v", i, r.status, r.body)
				}
				rs = append(rs, r)
			}
			for i, r := range rs {
				b.apply(r)
				wantStatusUser(t, fmt.Sprintf("after login response %d", i+1), b.get("/me"), 200, "alice")
				e.clock.Advance(5 * time.Second)
			}
			if r := b.get("/cart"); r.user() != "alice" || r.body["cart"] != "guest" {
				t.Errorf("cart: %v", r.body)
			}
			if n := liveCount(t, e, "alice"); n != 1 {
				t.Errorf("alice has %d sessions; want 1 (joined)", n)
			}
		}},
		{"first of three double-submitted logins lands last, a minute late", func(t *testing.T, e *env, b *browser) {
			hdr := b.header()
			var rs []reply
			for i := 0; i < 3; i++ {
				rs = append(rs, e.send("POST", "/login?user=alice", hdr))
			}
			for _, i := range []int{2, 1, 0} {
				b.apply(rs[i])
				wantStatusUser(t, fmt.Sprintf("after login response %d", i+1), b.get("/me"), 200, "alice")
				e.clock.Advance(30 * time.Second)
			}
			wantStatusUser(t, "later", b.get("/me"), 200, "alice")
		}},
		{"periodic rotation's response lands 40 s late", func(t *testing.T, e *env, b *browser) {
			b.login("alice")
			e.clock.Advance(graceRotateEvery + time.Second)
			rot := e.send("GET", "/me", b.header())
			if tokenOf(rot.cookies) == "" {
				t.Fatalf("no rotation: %d %v", rot.status, rot.body)
			}
			again := b.get("/me")
			if tokenOf(again.cookies) != tokenOf(rot.cookies) {
				t.Errorf("old token again was sent %q; want the same pending token", tokenOf(again.cookies))
			}
			wantStatusUser(t, "confirming", b.get("/me"), 200, "alice")
			e.clock.Advance(40 * time.Second)
			b.apply(rot)
			wantStatusUser(t, "after the late rotating response", b.get("/me"), 200, "alice")
		}},
		{"periodic rotation's response lost, its twin lands after a write", func(t *testing.T, e *env, b *browser) {
			b.login("alice")
			e.clock.Advance(graceRotateEvery + time.Second)
			hdr := b.header()
			_ = e.send("GET", "/me", hdr) // lost
			w := e.send("POST", "/cart?item=during", hdr)
			wantStatusUser(t, "write with the old token", w, 200, "alice")
			e.clock.Advance(20 * time.Second)
			b.apply(w)
			wantStatusUser(t, "after the twin", b.get("/me"), 200, "alice")
			if r := b.get("/cart"); r.body["cart"] != "during" {
				t.Errorf("cart %v; want the acknowledged write", r.body)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			forEachStore(t, func(t *testing.T, kind string) {
				e := newScenarioEnv(t, kind, graceConfig(graceWindow))
				b := e.browser()
				c.run(t, e, b)
				wantNoRevocation(t, e)
			})
		})
	}
}

// ---------------------------------------------------------------------
// An older token: a replay within the history, a mismatch beyond it.

func TestOlderTokenScenarios(t *testing.T) {
	for back := 1; back <= 6; back++ {
		for _, path := range []string{"/me", "/cart"} {
			t.Run(fmt.Sprintf("%d rotations back on %s", back, path), func(t *testing.T) {
				forEachStore(t, func(t *testing.T, kind string) {
					e := newScenarioEnv(t, kind, graceConfig(graceWindow))
					b := e.browser()
					b.login("alice")
					b.post("/cart?item=alice-private")
					var hdrs []string
					for i := 0; i < back; i++ {
						hdrs = append(hdrs, rotateAndUse(t, e, b))
					}
					stolen := hdrs[0] // the token from `back` rotations ago
					e.clock.Advance(graceWindow + time.Second)
					e.events.reset()
					r := e.send("GET", path, stolen)
					if r.body["cart"] != nil || r.user() != "" {
						t.Errorf("copy served: %d %v", r.status, r.body)
					}
					want := "replay"
					if back > 4 {
						want = "token_mismatch"
					}
					got := r.errCode()
					if path == "/cart" {
						got, _ = r.body["reason"].(string)
					}
					if got != want {
						t.Errorf("copy from %d rotations back: %d %v; want %s", back, r.status, r.body, want)
					}
					victim := b.get("/me")
					if want == "replay" {
						if n := e.events.count(ginsecure.EventReplay); n != 1 {
							t.Errorf("%d replay events; want 1", n)
						}
						if victim.status != 401 {
							t.Errorf("victim after the replay: %d %v; want 401", victim.status, victim.body)
						}
					} else {
						if n := e.events.count(ginsecure.EventTokenMismatch); n < 1 {
							t.Errorf("no token_mismatch event")
						}
						wantNoRevocation(t, e)
						wantStatusUser(t, "victim", victim, 200, "alice")
					}
				})
			})
		}
	}
}

// ---------------------------------------------------------------------
// Renew keeps acknowledged writes and refuses an ended record.

func TestRenewScenarios(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		for _, order := range []string{"write response first", "Renew response first"} {
			t.Run("write acknowledged while Renew is held, "+order, func(t *testing.T) {
				e := newScenarioEnv(t, kind, ginsecure.Config{})
				b := e.browser()
				b.login("alice")
				b.post("/cart?item=before")
				hdr := b.header()
				renew := e.held(t, "POST", "/sc/renew-held?id=rn", "rn", hdr)
				w := e.send("POST", "/cart?item=acked", hdr)
				if w.status != 200 {
					t.Fatalf("write: %d %v", w.status, w.body)
				}
				rr := renew()
				if rr.status != 200 {
					t.Fatalf("renew: %d %v", rr.status, rr.body)
				}
				if order == "write response first" {
					b.apply(w)
					b.apply(rr)
				} else {
					b.apply(rr)
					b.apply(w)
				}
				if r := b.get("/cart"); r.user() != "alice" || r.body["cart"] != "acked" {
					t.Errorf("after Renew: %v; want the acknowledged write", r.body)
				}
			})
			t.Run("write held across a Renew, "+order, func(t *testing.T) {
				e := newScenarioEnv(t, kind, ginsecure.Config{})
				b := e.browser()
				b.login("alice")
				hdr := b.header()
				wr := e.holdAt(t, "/hold?id=w&write=held-write", "w", hdr)
				rr := e.send("POST", "/renew", hdr)
				w := wr()
				if order == "write response first" {
					b.apply(w)
					b.apply(rr)
				} else {
					b.apply(rr)
					b.apply(w)
				}
				r := b.get("/cart")
				if r.user() != "alice" {
					t.Fatalf("after Renew: %v", r.body)
				}
				if w.status == 200 && r.body["cart"] != "held-write" {
					t.Errorf("write acknowledged (200 %v) but gone after the Renew: %v", w.body, r.body)
				}
				if w.status != 200 && w.status != 409 {
					t.Errorf("held write: %d %v", w.status, w.body)
				}
			})
		}
		ends := map[string]func(e *env, b *browser){
			"RevokeUser":   func(e *env, b *browser) { _, _ = e.guard.RevokeUser(context.Background(), "alice") },
			"Logout":       func(e *env, b *browser) { e.send("POST", "/logout", b.header()) },
			"RevokeOthers": func(e *env, b *browser) { o := e.browser(); o.login("alice"); o.post("/me/revoke-others") },
			"eviction": func(e *env, b *browser) {
				e.clock.Advance(time.Minute)
				e.browser().login("alice")
			},
		}
		for name, end := range ends {
			t.Run("Renew on a record ended in flight by "+name, func(t *testing.T) {
				e := newScenarioEnv(t, kind, ginsecure.Config{MaxSessionsPerUser: 1})
				b := e.browser()
				b.login("alice")
				renew := e.held(t, "POST", "/sc/renew-held?id=rn", "rn", b.header())
				end(e, b)
				rr := renew()
				if rr.status != 401 || rr.errCode() != "no_session" || tokenOf(rr.cookies) != "" {
					t.Errorf("Renew on an ended record: %d %v %v; want 401 no_session, no token", rr.status, rr.body, rr.header["Set-Cookie"])
				}
				b.apply(rr)
				if r := b.get("/me"); r.status != 401 {
					t.Errorf("after the refused Renew: %d %v", r.status, r.body)
				}
			})
		}
	})
}

// ---------------------------------------------------------------------
// IP mismatch: refused, never locked out of signing in.

// ipJar keeps one client's cookies for ipServe.
type ipJar map[string]*http.Cookie

func (j ipJar) apply(cs []*http.Cookie) {
	for _, c := range cs {
		if c.MaxAge < 0 {
			delete(j, c.Name)
			continue
		}
		j[c.Name] = c
	}
}

func (j ipJar) list() []*http.Cookie {
	var out []*http.Cookie
	for _, c := range j {
		out = append(out, &http.Cookie{Name: c.Name, Value: c.Value})
	}
	return out
}

func (j ipJar) clone() ipJar {
	o := ipJar{}
	for k, v := range j {
		o[k] = v
	}
	return o
}

func TestIPMismatchScenarios(t *testing.T) {
	moves := []struct {
		name, from, to string
		sameFamily     bool
	}{
		{"IPv4 to another /24", "192.0.2.10:1000", "198.51.100.7:1000", true},
		{"IPv4 to another host of its /24", "192.0.2.10:1000", "192.0.2.11:1000", true},
		{"IPv4 to IPv6", "192.0.2.10:1000", "[2001:db8::1]:1000", false},
		{"IPv6 to another /64", "[2001:db8:1::5]:1000", "[2001:db8:2::5]:1000", true},
		{"IPv6 to IPv4", "[2001:db8:1::5]:1000", "192.0.2.10:1000", false},
	}
	forEachStore(t, func(t *testing.T, kind string) {
		for _, m := range moves {
			for _, keep := range []bool{false, true} {
				for _, next := range []string{"alice", "bob"} {
					t.Run(fmt.Sprintf("%s/keep=%v/then %s signs in", m.name, keep, next), func(t *testing.T) {
						e := newScenarioEnv(t, kind, ginsecure.Config{KeepSessionOnIPMismatch: keep})
						home := ipJar{}
						home.apply(e.ipLogin(t, m.from, "alice"))
						home.apply(e.ipServe(m.from, home.list(), "POST", "/cart?item=alice-private").cookies)
						wantStatusUser(t, "alice at home", e.ipServe(m.from, home.list(), "GET", "/me"), 200, "alice")
						away := home.clone()

						r := e.ipServe(m.to, away.list(), "GET", "/cart")
						if r.status != 200 || r.user() != "" || r.body["cart"] != nil || r.body["reason"] != "ip_mismatch" {
							t.Errorf("public page from %s: %d %v; want 200 anonymous, reason ip_mismatch", m.to, r.status, r.body)
						}
						if got := graceCookies(r.cookies); got != "" {
							t.Errorf("public page from %s sets %s", m.to, got)
						}
						for _, p := range []string{"/me", "/admin"} {
							if r := e.ipServe(m.to, away.list(), "GET", p); r.status != 401 || r.errCode() != "ip_mismatch" {
								t.Errorf("%s from %s: %d %v; want 401 ip_mismatch", p, m.to, r.status, r.body)
							}
						}
						revoked := !keep && m.sameFamily
						lr := e.ipServe(m.to, away.list(), "POST", "/login?user="+next)
						if lr.status != 200 || lr.user() != next {
							t.Fatalf("login as %s from %s: %d %v", next, m.to, lr.status, lr.body)
						}
						away.apply(lr.cookies)
						wantStatusUser(t, "after signing in away", e.ipServe(m.to, away.list(), "GET", "/me"), 200, next)
						if r := e.ipServe(m.to, away.list(), "GET", "/cart"); r.body["cart"] != nil {
							t.Errorf("the new session carries %v", r.body["cart"])
						}
						hr := e.ipServe(m.from, home.list(), "GET", "/cart")
						homeLives := !revoked && next != "alice"
						if homeLives {
							if hr.user() != "alice" || hr.body["cart"] != "alice-private" {
								t.Errorf("alice back home after %s signed in away: %v; want her session", next, hr.body)
							}
						} else if hr.user() != "" || hr.body["cart"] != nil {
							t.Errorf("the refused session at home: %v; want ended", hr.body)
						}
						want := 1
						if next == "alice" || !homeLives {
							want = map[bool]int{true: 1, false: 0}[next == "alice"]
						}
						if n := liveCount(t, e, "alice"); n != want {
							t.Errorf("alice has %d sessions; want %d", n, want)
						}
					})
				}
			}
		}
	})
}

// ---------------------------------------------------------------------
// A double submit from a browser with no cookies evicts nobody.

func TestCookielessDoubleSubmitScenarios(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		for _, limit := range []int{1, 2, 3} {
			for _, reject := range []bool{false, true} {
				for _, order := range []string{"12", "21", "312", "123"} {
					t.Run(fmt.Sprintf("limit %d/reject=%v/order %s", limit, reject, order), func(t *testing.T) {
						e := newScenarioEnv(t, kind, ginsecure.Config{MaxSessionsPerUser: limit, RejectExtraLogins: reject})
						var others []*browser
						for i := 1; i < limit; i++ {
							o := e.browser()
							o.login("alice")
							e.clock.Advance(time.Second)
							others = append(others, o)
						}
						laptop := e.browser()
						n := len(order)
						subs := make([]reply, n)
						errs := make(chan error, n)
						for i := 0; i < n; i++ {
							go func(i int) {
								r, err := laptop.submitBare("/login?user=alice")
								subs[i] = r
								errs <- err
							}(i)
						}
						for i := 0; i < n; i++ {
							if err := <-errs; err != nil {
								t.Fatal(err)
							}
						}
						for i, r := range subs {
							if r.status != 200 {
								t.Fatalf("submit %d: %d %v", i, r.status, r.body)
							}
						}
						for _, c := range order {
							laptop.apply(subs[c-'1'])
						}
						wantStatusUser(t, "laptop", laptop.get("/me"), 200, "alice")
						for i, o := range others {
							wantStatusUser(t, fmt.Sprintf("device %d", i), o.get("/me"), 200, "alice")
						}
						if k := e.events.count(ginsecure.EventLimit); k != 0 {
							t.Errorf("%d limit events", k)
						}
						e.clock.Advance(ginsecure.UnpresentedAge + time.Second)
						if list, err := e.store.List(context.Background(), "alice"); err != nil || len(list) != limit {
							t.Errorf("%d records (%v) after UnpresentedAge; want %d", len(list), err, limit)
						}
						wantStatusUser(t, "laptop later", laptop.get("/me"), 200, "alice")
						for i, o := range others {
							wantStatusUser(t, fmt.Sprintf("device %d later", i), o.get("/me"), 200, "alice")
						}
					})
				}
			}
		}
	})
}

// ---------------------------------------------------------------------
// gin-contrib's logout idiom is a logout.

func TestLogoutIdiomScenarios(t *testing.T) {
	type result int
	const (
		loggedOut result = iota
		notLogout
		foreign
	)
	cases := []struct {
		name string
		cfg  ginsecure.Config
		// request returns the Cookie header and the address to send the
		// idiom from ("" for the browser's own).
		request func(t *testing.T, e *env, b *browser) (hdr, from string)
		path    string
		want    result
	}{
		{"MaxAge -1 cleared", ginsecure.Config{}, nil, "/sc/bye?clear=1&maxage=-1", loggedOut},
		{"MaxAge -1 not cleared", ginsecure.Config{}, nil, "/sc/bye?maxage=-1", loggedOut},
		{"MaxAge -3600 cleared", ginsecure.Config{}, nil, "/sc/bye?clear=1&maxage=-3600", loggedOut},
		{"MaxAge 0 is not a logout", ginsecure.Config{}, nil, "/sc/bye?clear=1&maxage=0", notLogout},
		{"previous token within its window", graceConfig(graceWindow), func(t *testing.T, e *env, b *browser) (string, string) {
			return rotateAndUse(t, e, b), ""
		}, "/sc/bye?maxage=-1", loggedOut},
		{"pending token's predecessor before confirmation", graceConfig(graceWindow), func(t *testing.T, e *env, b *browser) (string, string) {
			old := b.header()
			e.clock.Advance(graceRotateEvery + time.Second)
			b.apply(e.send("GET", "/me", old))
			return old, ""
		}, "/sc/bye?clear=1&maxage=-1", loggedOut},
		{"a Renew's token landing after its reissue", ginsecure.Config{}, func(t *testing.T, e *env, b *browser) (string, string) {
			late := e.send("POST", "/renew", b.header())
			e.clock.Advance(31 * time.Second)
			b.apply(b.get("/me"))
			b.get("/me")
			e.clock.Advance(time.Minute)
			b.apply(late)
			return b.header(), ""
		}, "/sc/bye?clear=1&maxage=-1", loggedOut},
		{"the first of two joined re-logins landing last", ginsecure.Config{}, func(t *testing.T, e *env, b *browser) (string, string) {
			hdr := b.header()
			first := e.send("POST", "/login?user=alice", hdr)
			b.apply(e.send("POST", "/login?user=alice", hdr))
			b.get("/me")
			e.clock.Advance(time.Minute)
			b.apply(first)
			return b.header(), ""
		}, "/sc/bye?maxage=-1", loggedOut},
		{"stand-in: foreign session cookie next to the token", ginsecure.Config{}, func(t *testing.T, e *env, b *browser) (string, string) {
			// Past the login's window: within it an anonymous session
			// beside the token is the browser's late response (DESIGN.md,
			// "Cookieless sign-in").
			e.clock.Advance(ginsecure.DefaultGracePeriod + time.Second)
			anon := e.browser()
			anon.post("/cart?item=anon")
			return "app=" + anon.cookie("app") + "; " + tokCookieName + "=" + b.cookie(tokCookieName), ""
		}, "/sc/bye?clear=1&maxage=-1", foreign},
		{"stand-in: kept session from another network", ginsecure.Config{KeepSessionOnIPMismatch: true}, func(t *testing.T, e *env, b *browser) (string, string) {
			return b.header(), "127.0.0.2"
		}, "/sc/bye?clear=1&maxage=-1", foreign},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			forEachStore(t, func(t *testing.T, kind string) {
				e := newScenarioEnv(t, kind, c.cfg)
				b, copy := e.browser(), e.browser()
				b.login("alice")
				b.post("/cart?item=alice-private")
				b.copyTo(copy)
				hdr, from := b.header(), ""
				if c.request != nil {
					hdr, from = c.request(t, e, b)
				}
				var r reply
				if from == "" {
					r = e.send("POST", c.path, hdr)
				} else {
					x := e.browserFrom(from)
					b.copyTo(x)
					r = x.post(c.path)
				}
				switch c.want {
				case loggedOut:
					if r.status != 200 || !expires(r.cookies, "app") || !expires(r.cookies, tokCookieName) {
						t.Errorf("idiom: %d %v %v; want 200 and both cookies expired", r.status, r.body, r.header["Set-Cookie"])
					}
					if n := liveCount(t, e, "alice"); n != 0 {
						t.Errorf("alice has %d sessions after the idiom", n)
					}
					for who, x := range map[string]*browser{"browser": b, "copy": copy} {
						if r := x.get("/cart"); r.user() != "" || r.body["cart"] != nil {
							t.Errorf("%s after the idiom: %v", who, r.body)
						}
					}
				case notLogout:
					if isRedis(kind) {
						// boj/redistore deletes a session saved with
						// MaxAge <= 0: the save is refused and deletes
						// nothing (DESIGN.md, "The logout idiom").
						if r.status != 500 || r.errCode() != "session_not_persisted" || len(r.cookies) != 0 {
							t.Errorf("MaxAge 0 on Redis: %d %v %v; want 500 session_not_persisted and no cookie", r.status, r.body, r.header["Set-Cookie"])
						}
						if r := b.get("/cart"); r.status != 200 || r.user() != "alice" || r.body["cart"] != "alice-private" {
							t.Errorf("after MaxAge 0 on Redis: %d %v; want alice with her cart", r.status, r.body)
						}
						if n := liveCount(t, e, "alice"); n != 1 {
							t.Errorf("alice has %d sessions after a refused MaxAge 0", n)
						}
						break
					}
					if r.status != 200 {
						t.Errorf("idiom with MaxAge 0: %d %v", r.status, r.body)
					}
					if expires(r.cookies, tokCookieName) {
						t.Errorf("MaxAge 0 expired the token")
					}
					if n := liveCount(t, e, "alice"); n != 1 {
						t.Errorf("alice has %d sessions after MaxAge 0", n)
					}
					b.apply(r)
					wantStatusUser(t, "after MaxAge 0", b.get("/me"), 200, "alice")
				case foreign:
					if r.status != 401 || r.errCode() != "foreign_session" || len(r.cookies) != 0 {
						t.Errorf("idiom on a stand-in: %d %v %v; want 401 foreign_session and no cookie", r.status, r.body, r.header["Set-Cookie"])
					}
					if n := liveCount(t, e, "alice"); n != 1 {
						t.Errorf("alice has %d sessions after a stand-in's idiom", n)
					}
					if r := b.get("/cart"); r.user() != "alice" || r.body["cart"] != "alice-private" {
						t.Errorf("owner after a stand-in's idiom: %v", r.body)
					}
				}
			})
		})
	}
}

// ---------------------------------------------------------------------
// A token whose session cookie is gone ends with it.

func TestLostSessionCookieScenarios(t *testing.T) {
	u := func(e *env) *url.URL { x, _ := url.Parse(e.srv.URL); return x }
	losses := map[string]func(t *testing.T, e *env, b *browser){
		"the user clears it": func(t *testing.T, e *env, b *browser) {
			b.jar.SetCookies(u(e), []*http.Cookie{{Name: "app", Value: "", Path: "/", MaxAge: -1}})
		},
		"its Max-Age runs out": func(t *testing.T, e *env, b *browser) {
			b.jar.SetCookies(u(e), []*http.Cookie{{Name: "app", Value: b.cookie("app"), Path: "/", Secure: true, Expires: time.Now().Add(-time.Second)}})
		},
		"gin-contrib deletes it around the wrapper": func(t *testing.T, e *env, b *browser) {
			r := b.post("/drop")
			if !expires(r.cookies, "app") {
				t.Fatalf("drop: %d %v", r.status, r.body)
			}
		},
	}
	for name, lose := range losses {
		for _, first := range []string{"GET /cart", "POST /cart", "POST /login"} {
			t.Run(name+"/first "+first, func(t *testing.T) {
				forEachStore(t, func(t *testing.T, kind string) {
					e := newEnv(t, kind, ginsecure.Config{}, withRoutes(func(r *gin.Engine, g *ginsecure.Guard) {
						r.POST("/drop", func(c *gin.Context) {
							gs := sessions.Default(c).(interface{ Session() *gsessions.Session }).Session()
							gs.Options.MaxAge = -1
							_ = gs.Save(c.Request, c.Writer)
							c.JSON(http.StatusOK, gin.H{})
						})
					}))
					b, copy := e.browser(), e.browser()
					b.login("alice")
					b.post("/cart?item=alice-private")
					b.copyTo(copy)
					lose(t, e, b)
					if b.cookie("app") != "" || b.cookie(tokCookieName) == "" {
						t.Fatalf("setup: app %q token %q", b.cookie("app"), b.cookie(tokCookieName))
					}
					switch first {
					case "GET /cart":
						if r := b.get("/cart"); r.status != 200 || r.user() != "" || r.body["cart"] != nil {
							t.Errorf("first request: %d %v", r.status, r.body)
						}
					case "POST /cart":
						wantStatusUser(t, "first write", b.post("/cart?item=guest"), 200, "")
						if r := b.get("/cart"); r.body["cart"] != "guest" {
							t.Errorf("the write is not kept: %v", r.body)
						}
					case "POST /login":
						b.login("alice")
						if r := b.get("/cart"); r.user() != "alice" || r.body["cart"] != nil {
							t.Errorf("login after the loss: %v", r.body)
						}
					}
					if first != "POST /login" {
						if n := liveCount(t, e, "alice"); n != 0 {
							t.Errorf("alice has %d sessions after the loss", n)
						}
						if r := b.post("/cart?item=guest2"); r.status != 200 {
							t.Errorf("write after: %d %v", r.status, r.body)
						}
						b.login("alice")
						if r := b.get("/cart"); r.user() != "alice" || r.body["cart"] != "guest2" {
							t.Errorf("login after: %v; want the anonymous cart carried", r.body)
						}
					}
					if r := copy.get("/cart"); r.user() != "" || r.body["cart"] != nil {
						t.Errorf("copy with the session cookie after the loss: %v", r.body)
					}
				})
			})
		}
	}
}

// ---------------------------------------------------------------------
// Tossed cookies: the record's own session cookie wins.

func TestTossedCookieScenarios(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newScenarioEnv(t, kind, ginsecure.Config{})
		anon := e.browser()
		anon.post("/cart?item=sibling")
		bob := e.browser()
		bob.login("bob")
		bob.post("/cart?item=bob-private")
		tossKinds := map[string]string{
			"garbage":           "garbage",
			"anonymous session": anon.cookie("app"),
			"another account":   bob.cookie("app"),
		}
		for tk, val := range tossKinds {
			for _, n := range []int{1, 8, 50} {
				for _, where := range []string{"front", "behind", "both"} {
					t.Run(fmt.Sprintf("%d %s %s", n, tk, where), func(t *testing.T) {
						b := e.browser()
						b.login("alice")
						b.post("/cart?item=alice-private")
						var tossed []string
						for i := 0; i < n; i++ {
							tossed = append(tossed, "app="+val)
						}
						toss := strings.Join(tossed, "; ")
						hdrOf := func() string {
							own := "app=" + b.cookie("app")
							tok := tokCookieName + "=" + b.cookie(tokCookieName)
							switch where {
							case "front":
								return toss + "; " + own + "; " + tok
							case "behind":
								return own + "; " + toss + "; " + tok
							}
							return toss + "; " + own + "; " + toss + "; " + tok
						}
						if r := e.send("GET", "/cart", hdrOf()); r.user() != "alice" || r.body["cart"] != "alice-private" {
							t.Errorf("read: %d %v", r.status, r.body)
						}
						w := e.send("POST", "/cart?item=tossed-write", hdrOf())
						wantStatusUser(t, "write", w, 200, "alice")
						b.apply(w)
						if r := e.send("GET", "/cart", hdrOf()); r.body["cart"] != "tossed-write" {
							t.Errorf("after the write: %v", r.body)
						}
						wantStatusUser(t, "protected", e.send("GET", "/me", hdrOf()), 200, "alice")
						lr := e.send("POST", "/login?user=alice", hdrOf())
						wantStatusUser(t, "login", lr, 200, "alice")
						b.apply(lr)
						if r := e.send("GET", "/cart", hdrOf()); r.user() != "alice" || r.body["cart"] != "tossed-write" {
							t.Errorf("after the login: %v", r.body)
						}
						if r := anon.get("/cart"); r.body["cart"] != "sibling" {
							t.Errorf("the tossed anonymous session changed: %v", r.body)
						}
						if r := bob.get("/cart"); r.user() != "bob" || r.body["cart"] != "bob-private" {
							t.Errorf("bob's session changed: %v", r.body)
						}
					})
				}
			}
		}
	})
}

// TestTimeoutScenariosAtTheExactInstant: a timeout holds from its instant
// on, as the store's ExpiresAt does: a request at exactly IdleTimeout
// after the last one, or AbsoluteTimeout after the login, is an ordinary
// timed-out request (anonymous on a public page, EventTimeout, the
// sign-in route working), never a 401 on every route.
func TestTimeoutScenariosAtTheExactInstant(t *testing.T) {
	cases := []struct {
		name   string
		cfg    ginsecure.Config
		steps  []time.Duration // clock moves, a signed-in request after each but the last
		reason string
	}{
		{"idle", ginsecure.Config{RotateEvery: -1}, []time.Duration{30 * time.Minute}, "idle_timeout"},
		{"idle after activity", ginsecure.Config{RotateEvery: -1}, []time.Duration{10 * time.Minute, 30 * time.Minute}, "idle_timeout"},
		{"absolute", ginsecure.Config{RotateEvery: -1, AbsoluteTimeout: time.Hour}, []time.Duration{25 * time.Minute, 25 * time.Minute, 10 * time.Minute}, "expired"},
	}
	for _, c := range cases {
		for _, first := range []string{"/cart", "/login?user=bob"} {
			t.Run(c.name+" "+first, func(t *testing.T) {
				forEachStore(t, func(t *testing.T, kind string) {
					e := newScenarioEnv(t, kind, c.cfg)
					b := e.browser()
					b.login("alice")
					b.post("/cart?item=alice-private")
					for i, d := range c.steps {
						e.clock.Advance(d)
						if i < len(c.steps)-1 {
							wantStatusUser(t, "before the timeout", b.get("/me"), 200, "alice")
						}
					}
					if first == "/cart" {
						r := b.get("/cart")
						if r.status != 200 || r.user() != "" || r.body["cart"] != nil || r.body["reason"] != c.reason {
							t.Errorf("public page at the instant: %d %v; want 200 anonymous, reason %s", r.status, r.body, c.reason)
						}
					} else {
						wantStatusUser(t, "sign-in at the instant", b.post(first), 200, "bob")
					}
					if n := e.events.count(ginsecure.EventTimeout); n != 1 {
						t.Errorf("%d timeout events; want 1", n)
					}
					if n := liveCount(t, e, "alice"); n != 0 {
						t.Errorf("alice has %d sessions", n)
					}
				})
			})
		}
	}
}

// vanishingStore deletes a record right after handing it out, when armed:
// the record ends (a Logout on another server, the store's own expiry)
// between a request's read and its write.
type vanishingStore struct {
	storeext.Store
	armed bool
}

// UseClock passes the test clock on to the memory store.
func (s *vanishingStore) UseClock(now func() time.Time) {
	s.Store.(storeext.ClockUser).UseClock(now)
}

func (s *vanishingStore) Get(ctx context.Context, h string) (storeext.Record, error) {
	rec, err := s.Store.Get(ctx, h)
	if err == nil && s.armed {
		_ = s.Store.Delete(ctx, h)
	}
	return rec, err
}

// TestRecordEndedMidRequestScenarios: a record that ends after the
// request read it and before its touch, rotation or late-response write
// leaves the request anonymous (its credentials dead), never a 401 on a
// public page or the sign-in route.
func TestRecordEndedMidRequestScenarios(t *testing.T) {
	cases := []struct {
		name string
		prep func(e *env, b *browser) string // returns the Cookie header to send
	}{
		{"touch due", func(e *env, b *browser) string { e.clock.Advance(2 * time.Minute); return b.header() }},
		{"rotation due", func(e *env, b *browser) string { e.clock.Advance(graceRotateEvery + time.Second); return b.header() }},
		{"late response of a joined login", func(e *env, b *browser) string {
			b.post("/cart?item=guest")
			hdr := b.header()
			first := e.send("POST", "/login?user=alice", hdr)
			b.apply(e.send("POST", "/login?user=alice", hdr))
			b.get("/me")
			b.apply(first) // its token was never presented: a late response
			return b.header()
		}},
	}
	for _, c := range cases {
		for _, path := range []string{"/cart", "/login?user=bob"} {
			t.Run(c.name+" "+path, func(t *testing.T) {
				for _, kind := range []string{"cookie", "memstore"} {
					vs := &vanishingStore{Store: ginsecure.NewMemoryStore()}
					e := newScenarioEnv(t, kind, ginsecure.Config{Store: vs, RotateEvery: graceRotateEvery})
					b := e.browser()
					if c.name != "late response of a joined login" {
						b.login("alice")
					}
					hdr := c.prep(e, b)
					vs.armed = true
					method := "GET"
					if strings.HasPrefix(path, "/login") {
						method = "POST"
					}
					r := e.send(method, path, hdr)
					vs.armed = false
					if r.status != 200 || (method == "GET" && (r.user() != "" || r.body["cart"] != nil)) || (method == "POST" && r.user() != "bob") {
						t.Errorf("%s: %s %s with a record ended mid-request: %d %v; want 200", kind, method, path, r.status, r.body)
					}
				}
			})
		}
	}
}

// TestCarryOverAcrossUsersWithWritesInFlight: alice's write is inside its
// handler when bob signs in on the same browser; whichever of the two
// responses lands last, bob's session never holds alice's data.
func TestCarryOverAcrossUsersWithWritesInFlight(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		for _, order := range []string{"write response last", "login response last"} {
			t.Run(order, func(t *testing.T) {
				e := newScenarioEnv(t, kind, ginsecure.Config{})
				b := e.browser()
				b.login("alice")
				b.post("/cart?item=alice-private")
				hdr := b.header()
				release := e.holdAt(t, "/hold/auth?id=aw&write=alice-inflight", "aw", hdr)
				lr := e.send("POST", "/login?user=bob", hdr)
				wantStatusUser(t, "bob's login", lr, 200, "bob")
				w := release()
				if order == "write response last" {
					b.apply(lr)
					b.apply(w)
				} else {
					b.apply(w)
					b.apply(lr)
				}
				r := b.get("/cart")
				if r.user() != "bob" || r.body["cart"] != nil {
					t.Errorf("bob after alice's in-flight write (%d %v): %v; want bob, empty", w.status, w.body, r.body)
				}
			})
		}
	})
}

// TestTossedCookiesOnlyThenSignIn: a browser holding nothing but cookies
// a sibling tossed signs in; its own session cookie then wins behind them.
func TestTossedCookiesOnlyThenSignIn(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newScenarioEnv(t, kind, ginsecure.Config{})
		anon := e.browser()
		anon.post("/cart?item=sibling")
		for _, n := range []int{1, 8, 50} {
			toss := strings.TrimSuffix(strings.Repeat("app="+anon.cookie("app")+"; ", n), "; ")
			b := e.browser()
			lr := e.send("POST", "/login?user=alice", toss)
			wantStatusUser(t, fmt.Sprintf("login behind %d tossed", n), lr, 200, "alice")
			b.apply(lr)
			hdr := toss + "; app=" + b.cookie("app") + "; " + tokCookieName + "=" + b.cookie(tokCookieName)
			wantStatusUser(t, fmt.Sprintf("/me behind %d tossed", n), e.send("GET", "/me", hdr), 200, "alice")
			// (The first tossed cookie is the session the browser presented:
			// an anonymous one, carried as a planted session is; filter
			// what a planter could choose with Config.CarryOver.)
			w := e.send("POST", "/cart?item=alice-own", hdr)
			if w.status != 200 || w.user() != "alice" {
				t.Errorf("write behind %d tossed: %d %v", n, w.status, w.body)
			}
			b.apply(w)
			hdr = toss + "; app=" + b.cookie("app") + "; " + tokCookieName + "=" + b.cookie(tokCookieName)
			if r := e.send("GET", "/cart", hdr); r.user() != "alice" || r.body["cart"] != "alice-own" {
				t.Errorf("read behind %d tossed: %v", n, r.body)
			}
		}
	})
}

// TestCookieStoreRotationsSendNoSessionCookie: on the cookie store a
// Renew's or a periodic rotation's response carries no session cookie
// unless its own request changed the data, so that it cannot land over a
// parallel write's (DESIGN.md, "Writes").
func TestCookieStoreRotationsSendNoSessionCookie(t *testing.T) {
	e := newScenarioEnv(t, "cookie", graceConfig(graceWindow))
	b := e.browser()
	b.login("alice")
	b.post("/cart?item=before")
	hdr := b.header()
	w := e.send("POST", "/cart?item=parallel", hdr)
	rn := e.send("POST", "/renew", hdr)
	if rn.status != 200 || hasCookie(rn.cookies, "app") {
		t.Errorf("Renew: %d %v %v; want 200 and no session cookie", rn.status, rn.body, rn.header["Set-Cookie"])
	}
	b.apply(w)
	b.apply(rn)
	if r := b.get("/cart"); r.user() != "alice" || r.body["cart"] != "parallel" {
		t.Errorf("after the Renew landed last: %v; want the parallel write", r.body)
	}
	e.clock.Advance(graceRotateEvery + time.Second)
	hdr = b.header()
	w = e.send("POST", "/cart?item=parallel-2", hdr)
	rot := e.send("GET", "/me", hdr)
	if tokenOf(rot.cookies) == "" || hasCookie(rot.cookies, "app") {
		t.Errorf("rotation: %v; want a token and no session cookie", rot.header["Set-Cookie"])
	}
	b.apply(w)
	b.apply(rot)
	if r := b.get("/cart"); r.user() != "alice" || r.body["cart"] != "parallel-2" {
		t.Errorf("after the rotation landed last: %v; want the parallel write", r.body)
	}
}
