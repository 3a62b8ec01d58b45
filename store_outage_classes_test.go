package ginsecure_test

// Redis stopped in the middle of a sequence (DESIGN.md, "Errors and
// events", "Store contract"): a write, a login, a Renew, a Logout and a
// periodic rotation, each verified and then held while Redis stops, answer
// 503 store_unavailable (never a 500, a panic, an expiring cookie or a
// reported success), and once Redis is back with its data the browser is
// signed in as before with every acknowledged write: no lock-out, no
// silent loss.

import (
	"net/http"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"
	"github.com/ginsecure/ginsecure"
	"github.com/ginsecure/ginsecure/internal/redistest"
)

// gate holds one request inside its handler until released.
type gate struct {
	entered, release chan struct{}
	once             sync.Once
}

func newGate() *gate { return &gate{entered: make(chan struct{}), release: make(chan struct{})} }

func (g *gate) wait() {
	g.once.Do(func() { close(g.entered) })
	select {
	case <-g.release:
	case <-time.After(holdTimeout):
	}
}

// outageRoutes are held operations that answer with ginsecure's own
// status and code for any error.
func outageRoutes(gt *gate) func(r *gin.Engine, g *ginsecure.Guard) {
	fail := func(c *gin.Context, err error) {
		c.JSON(ginsecure.ErrorStatus(err), gin.H{"error": ginsecure.ErrorCode(err)})
	}
	return func(r *gin.Engine, g *ginsecure.Guard) {
		r.POST("/held/save", func(c *gin.Context) {
			gt.wait()
			s := sessions.Default(c)
			s.Set("cart", "held")
			if err := s.Save(); err != nil {
				fail(c, err)
				return
			}
			c.JSON(http.StatusOK, gin.H{})
		})
		r.POST("/held/login", func(c *gin.Context) {
			gt.wait()
			user := c.DefaultQuery("user", "alice")
			if err := ginsecure.Login(c, user); err != nil {
				fail(c, err)
				return
			}
			c.JSON(http.StatusOK, gin.H{"user": user})
		})
		r.POST("/held/logout", func(c *gin.Context) {
			gt.wait()
			if err := ginsecure.Logout(c); err != nil {
				fail(c, err)
				return
			}
			c.JSON(http.StatusOK, gin.H{})
		})
		r.POST("/held/idiom", func(c *gin.Context) {
			gt.wait()
			s := sessions.Default(c)
			s.Clear()
			s.Options(sessions.Options{Path: "/", MaxAge: -1})
			if err := s.Save(); err != nil {
				fail(c, err)
				return
			}
			c.JSON(http.StatusOK, gin.H{})
		})
		r.POST("/held/renew", g.Require(ginsecure.Policy{Authenticated: true}), func(c *gin.Context) {
			gt.wait()
			if err := ginsecure.Renew(c); err != nil {
				fail(c, err)
				return
			}
			c.JSON(http.StatusOK, gin.H{})
		})
	}
}

// outageEnvs are the Redis set-ups: one Redis for sessions and records
// (one pool, two pools), and memstore sessions with records in Redis.
func outageEnv(t *testing.T, setup string, cfg ginsecure.Config, opts ...envOption) (*env, *redistest.Server) {
	switch setup {
	case "memstore sessions, Redis records":
		s := redistest.Start(t)
		cfg.Store = newRedisStoreForTest(t, s)
		return newEnv(t, "memstore", cfg, opts...), s
	default:
		e := newEnv(t, setup, cfg, opts...)
		return e, e.redis
	}
}

var outageSetups = []string{"redis", "redis-2pools", "memstore sessions, Redis records"}

// untilUp retries a request while Redis's pooled connections from before
// the restart fail (each at most once).
func untilUp(f func() reply) reply {
	var r reply
	for range 32 {
		if r = f(); r.status != http.StatusServiceUnavailable {
			break
		}
	}
	return r
}

func wantOutage(t *testing.T, what string, r reply) {
	t.Helper()
	if r.status != http.StatusServiceUnavailable || r.errCode() != "store_unavailable" {
		t.Errorf("%s with Redis stopped mid-request: %d %v; want 503 store_unavailable", what, r.status, r.body)
	}
	if x := expiring(r.cookies); len(x) != 0 {
		t.Errorf("%s with Redis stopped mid-request expired %v", what, x)
	}
	if got := graceCookies(r.cookies); got != "" {
		t.Errorf("%s with Redis stopped mid-request sets %q; want no cookie of ours", what, got)
	}
}

// TestRedisStoppedMidRequest: each held operation of a signed-in browser
// (a write, Renew, Logout) and an anonymous browser's held login, with
// Redis stopped while it is held.
func TestRedisStoppedMidRequest(t *testing.T) {
	for _, setup := range outageSetups {
		for _, op := range []string{"save", "renew", "logout", "login"} {
			t.Run(setup+"/"+op, func(t *testing.T) {
				gt := newGate()
				e, rs := outageEnv(t, setup, graceConfig(graceWindow), withRoutes(outageRoutes(gt)))
				b := e.browser()
				if r := b.post("/cart?item=guest"); r.status != http.StatusOK {
					t.Fatalf("guest cart: %d %v", r.status, r.body)
				}
				if op != "login" {
					b.login("alice")
					if r := b.post("/cart?item=acked"); r.status != http.StatusOK || r.user() != "alice" {
						t.Fatalf("acknowledged write: %d %v", r.status, r.body)
					}
				}
				done := make(chan reply, 1)
				hdr := b.header()
				go func() {
					r, err := e.trySend("POST", "/held/"+op, hdr)
					if err != nil {
						t.Error(err)
					}
					done <- r
				}()
				select {
				case <-gt.entered:
				case <-time.After(holdTimeout):
					t.Fatal("the held request never entered")
				}
				stopKeepingData(t, rs)
				close(gt.release)
				r := <-done
				want, cart := "alice", "acked"
				if op == "save" && r.status == http.StatusOK && setup == "memstore sessions, Redis records" {
					// The session store is up: the write is kept (it could
					// not be checked against a login, guardsession.go
					// undoIfRetired) and must then be served.
					cart = "held"
				} else {
					wantOutage(t, "POST /held/"+op, r)
				}
				b.apply(r)
				startAgain(t, rs)
				if op == "login" {
					want, cart = "", "guest"
				}
				got := untilUp(func() reply { return b.get("/cart") })
				if got.status != http.StatusOK || got.user() != want || got.body["cart"] != cart {
					t.Errorf("after Redis came back: %d %v; want %q with cart %q", got.status, got.body, want, cart)
				}
				if op == "login" {
					b.login("alice")
					if got := b.get("/cart"); got.user() != "alice" || got.body["cart"] != "guest" {
						t.Errorf("signing in after Redis came back: %v; want alice with the guest cart", got.body)
					}
				}
			})
		}
	}
}

// stopKeepingData snapshots the server's data and stops it: Redis is down
// until startAgain.
func stopKeepingData(t *testing.T, s *redistest.Server) {
	t.Helper()
	c := s.Pool().Get()
	if _, err := c.Do("SAVE"); err != nil {
		t.Fatalf("SAVE: %v", err)
	}
	c.Close()
	s.Stop()
}

// startAgain starts redis-server on the stopped server's socket and
// directory, loading its snapshot, and stops it by PID when the test ends.
func startAgain(t *testing.T, s *redistest.Server) {
	t.Helper()
	cmd := exec.Command("redis-server", "--port", "0", "--unixsocket", s.Socket, "--unixsocketperm", "700",
		"--dir", s.Dir, "--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server again: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c := s.Pool().Get()
		_, err := c.Do("PING")
		c.Close()
		if err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("redis-server did not come back")
}

// revokedThenStoreDown: alice's write is verified, RevokeUser ends her
// record, the browser's next request empties the ended session, and then
// the record store goes down while the held write saves. It returns the
// held write's reply and the browser and a copy of its cookies, with the
// record store back.
func revokedThenStoreDown(t *testing.T, kind string, down bool) (held reply, b, thief *browser, e *env) {
	t.Helper()
	gt := newGate()
	rs := redistest.Start(t)
	e = newEnv(t, kind, ginsecure.Config{Store: newRedisStoreForTest(t, rs)}, withRoutes(outageRoutes(gt)))
	b = e.browser()
	b.login("alice")
	b.post("/cart?item=alice-card")
	thief = b.clone()
	done := make(chan reply, 1)
	hdr := b.header()
	go func() {
		r, err := e.trySend("POST", "/held/save", hdr)
		if err != nil {
			t.Error(err)
		}
		done <- r
	}()
	select {
	case <-gt.entered:
	case <-time.After(holdTimeout):
		t.Fatal("the held write never entered")
	}
	if n, err := e.guard.RevokeUser(t.Context(), "alice"); err != nil || n != 1 {
		t.Fatalf("RevokeUser: %d %v", n, err)
	}
	if r := b.get("/cart"); r.user() != "" || r.body["cart"] != nil {
		t.Fatalf("after RevokeUser: %v; want anonymous, no cart", r.body)
	}
	if down {
		stopKeepingData(t, rs)
	}
	close(gt.release)
	held = <-done
	if down {
		startAgain(t, rs)
	}
	return held, b, thief, e
}

// TestWriteInFlightAcrossARevocationWithRecordsInRedis: the control of
// TestFindingWriteInFlightAcrossARevocationWithTheRecordStoreDown, with
// the record store up: the held write is refused (409) and never served.
func TestWriteInFlightAcrossARevocationWithRecordsInRedis(t *testing.T) {
	for _, kind := range []string{"memstore", "cookie", "redis"} {
		t.Run(kind, func(t *testing.T) {
			held, b, thief, _ := revokedThenStoreDown(t, kind, false)
			if held.status != http.StatusConflict || held.errCode() != "stale_credentials" {
				t.Errorf("the held write, saved after RevokeUser: %d %v; want 409 stale_credentials", held.status, held.body)
			}
			b.apply(held)
			for who, x := range map[string]*browser{"ended browser": b, "copy": thief} {
				if r := x.get("/cart"); r.user() != "" || r.body["cart"] == "held" {
					t.Errorf("%s after the held write: %d %v; want anonymous, none of the late write", who, r.status, r.body)
				}
			}
		})
	}
}

// TestRecordStoreLostItsDataIsNoLockOut: the record store (Redis) restarts
// without its data while the sessions live on elsewhere (gin-contrib's
// memstore or cookie store), or in the same Redis (gone too). The signed-in
// browser is then anonymous: it reads nothing of the signed-in session,
// its writes as a visitor are kept (never refused as foreign until the
// session cookie expires), and it signs in again.
func TestRecordStoreLostItsDataIsNoLockOut(t *testing.T) {
	for _, kind := range []string{"memstore", "cookie", "redis"} {
		t.Run(kind, func(t *testing.T) {
			var e *env
			var rs *redistest.Server
			if kind == "redis" {
				e = newEnv(t, kind, ginsecure.Config{})
				rs = e.redis
			} else {
				rs = redistest.Start(t)
				e = newEnv(t, kind, ginsecure.Config{Store: newRedisStoreForTest(t, rs)})
			}
			b := e.browser()
			b.login("alice")
			b.post("/cart?item=alice-card")
			sessOnly := "app=" + b.cookie("app")
			rs.Restart()
			if r := untilUp(func() reply { return e.send("GET", "/cart", sessOnly) }); r.status != http.StatusOK || r.body["cart"] == "alice-card" {
				t.Errorf("the session cookie alone after the record store lost its data: %d %v; want none of alice's data", r.status, r.body)
			}
			r := untilUp(func() reply { return b.get("/cart") })
			if r.status != http.StatusOK || r.user() != "" || r.body["cart"] == "alice-card" {
				t.Errorf("after the record store lost its data: %d %v; want anonymous, none of alice's data", r.status, r.body)
			}
			for _, item := range []string{"guest-1", "guest-2"} {
				if w := b.post("/cart?item=" + item); w.status != http.StatusOK || w.user() != "" {
					t.Errorf("a visitor's write after the record store lost its data: %d %v; want 200", w.status, w.body)
				}
				if r := b.get("/cart"); r.body["cart"] != item {
					t.Errorf("its read: %v; want %s", r.body, item)
				}
			}
			b.login("alice")
			expectSignedIn(t, b, "alice")
		})
	}
}

// TestSessionRedisStoppedMidRequest: sessions in one Redis, records in
// another; the session Redis stops while a write, a Renew or a login is
// held. Each answers 503 store_unavailable or completes; when it reports
// success its effect holds once the session Redis is back, and when it
// reports a failure the browser is as before. (Logout in the same
// position: TestFindingLogoutWithTheSessionRedisDown.)
func TestSessionRedisStoppedMidRequest(t *testing.T) {
	for _, op := range []string{"save", "renew", "login"} {
		t.Run(op, func(t *testing.T) {
			r, b, _, _ := sessionRedisStoppedDuring(t, op, "records in another Redis")
			got := untilUp(func() reply { return b.get("/cart") })
			ok := r.status == http.StatusOK
			if r.status >= 500 && r.status != http.StatusServiceUnavailable {
				t.Errorf("POST /held/%s: %d %v; want 503 or success", op, r.status, r.body)
			}
			switch {
			case op == "save" && ok:
				if got.body["cart"] != "held" {
					t.Errorf("after an acknowledged write: %v; want held", got.body)
				}
			case op == "login" && ok:
				if got.user() != "alice" {
					t.Errorf("after a login that reported success: %v; want alice", got.body)
				}
			case op == "login":
				if got.user() != "" || got.body["cart"] != "guest" {
					t.Errorf("after a failed login: %v; want the visitor with its guest cart", got.body)
				}
			case op == "renew" && ok:
				if got.user() != "alice" || got.body["cart"] != "acked" {
					t.Errorf("after a Renew that reported success: %v; want alice with acked", got.body)
				}
			case !ok:
				if got.user() != "alice" || got.body["cart"] != "acked" {
					t.Errorf("after POST /held/%s failed with %d: %v; want alice with acked, as before", op, r.status, got.body)
				}
			}
		})
	}
}

// sessionRedisStoppedDuring runs POST /held/op with gin-contrib's Redis
// session store stopped while the request is held (records elsewhere:
// another Redis, or ginsecure's memory store), then starts the session
// Redis again with its data. It returns the held reply (already applied
// to the browser b) and a copy of b's cookies taken before.
func sessionRedisStoppedDuring(t *testing.T, op, records string) (r reply, b, thief *browser, e *env) {
	t.Helper()
	gt := newGate()
	cfg := ginsecure.Config{Store: ginsecure.NewMemoryStore()}
	if records == "records in another Redis" {
		cfg.Store = newRedisStoreForTest(t, redistest.Start(t))
	}
	e = newEnv(t, "redis", cfg, withRoutes(outageRoutes(gt)))
	b = e.browser()
	b.post("/cart?item=guest")
	if op != "login" {
		b.login("alice")
		b.post("/cart?item=acked")
	}
	thief = b.clone()
	done := make(chan reply, 1)
	hdr := b.header()
	go func() {
		r, err := e.trySend("POST", "/held/"+op, hdr)
		if err != nil {
			t.Error(err)
		}
		done <- r
	}()
	select {
	case <-gt.entered:
	case <-time.After(holdTimeout):
		t.Fatal("the held request never entered")
	}
	stopKeepingData(t, e.redis)
	close(gt.release)
	r = <-done
	b.apply(r)
	startAgain(t, e.redis)
	return r, b, thief, e
}

// TestSessionRedisStoppedMidReloginLeavesTheSession: alice, signed in,
// signs in again (as herself, or bob on her browser) while the session
// Redis is stopped (records in another Redis). The login fails closed (or
// completes), and a failed one leaves alice signed in with her data:
// Login is all-or-nothing (DESIGN.md, "Bad input").
func TestSessionRedisStoppedMidReloginLeavesTheSession(t *testing.T) {
	for _, user := range []string{"alice", "bob"} {
		t.Run(user, func(t *testing.T) {
			gt := newGate()
			e := newEnv(t, "redis", ginsecure.Config{Store: newRedisStoreForTest(t, redistest.Start(t))}, withRoutes(outageRoutes(gt)))
			b := e.browser()
			b.login("alice")
			b.post("/cart?item=acked")
			done := make(chan reply, 1)
			hdr := b.header()
			go func() {
				r, err := e.trySend("POST", "/held/login?user="+user, hdr)
				if err != nil {
					t.Error(err)
				}
				done <- r
			}()
			select {
			case <-gt.entered:
			case <-time.After(holdTimeout):
				t.Fatal("never entered")
			}
			stopKeepingData(t, e.redis)
			close(gt.release)
			r := <-done
			b.apply(r)
			startAgain(t, e.redis)
			got := untilUp(func() reply { return b.get("/cart") })
			switch {
			case r.status == http.StatusOK:
				if got.user() != user {
					t.Errorf("after %s's login reported success: %v; want %s", user, got.body, user)
				}
			case r.status != http.StatusServiceUnavailable || r.errCode() != "store_unavailable":
				t.Errorf("%s's login with the session Redis stopped: %d %v; want 503 store_unavailable or success", user, r.status, r.body)
			case got.user() != "alice" || got.body["cart"] != "acked":
				t.Errorf("after %s's failed login: %d %v; want alice with acked, as before", user, got.status, got.body)
			}
		})
	}
}
