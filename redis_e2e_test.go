package ginsecure_test

// Several Gin servers behind a load balancer share one Redis: logins,
// logouts, revocations and rotations made on one must hold on the others
// at once, an unreachable Redis must fail closed, and nothing ginsecure
// writes may live forever.

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-contrib/sessions"
	gredis "github.com/gin-contrib/sessions/redis"
	"github.com/gin-gonic/gin"
	"github.com/ginsecure/ginsecure"
	"github.com/ginsecure/ginsecure/internal/redistest"
	"github.com/ginsecure/ginsecure/redisstore"
	"github.com/gomodule/redigo/redis"
)

// The browser.on helper (binding_test.go) sends one cookie jar to either
// server, as a load balancer would.

// twoServers starts two engines on one redis-server, with the same
// ginsecure key prefix, the same session secret and one clock (A's).
func twoServers(t *testing.T, cfg ginsecure.Config) (a, b *env) {
	t.Helper()
	a = newEnv(t, "redis", cfg)
	cfg.Now = a.clock.Now
	b = newEnv(t, "redis", cfg, withRedis(a.redis))
	return a, b
}

// ourCookies reports whether a response sets the session or token cookie.
func ourCookies(r reply) bool {
	return hasCookie(r.cookies, "app") || hasCookie(r.cookies, ginsecure.DefaultCookieName)
}

func TestRedisLoginOnOneServerHoldsOnTheOther(t *testing.T) {
	a, b := twoServers(t, ginsecure.Config{})
	br := a.browser()
	br.login("alice")
	if r := br.on(b).get("/me"); r.status != http.StatusOK || r.user() != "alice" {
		t.Fatalf("/me on B after login on A: %d %v", r.status, r.body)
	}
	if r := br.on(b).post("/me/write"); r.status != http.StatusOK {
		t.Fatalf("session write on B: %d %v", r.status, r.body)
	}
	if r := br.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
		t.Fatalf("/me on A after a write on B: %d %v", r.status, r.body)
	}
}

// Logout has no grace: a copy of the cookies (stolen, or a second tab
// routed elsewhere) is refused on every server the moment Logout returns.
func TestRedisLogoutOnOneServerRefusesCopiedCookiesOnTheOther(t *testing.T) {
	a, b := twoServers(t, ginsecure.Config{})
	br := a.browser()
	br.login("alice")
	thief := b.browser()
	br.copyTo(thief)
	if r := thief.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
		t.Fatalf("the copy on B before logout: %d %v (the test would prove nothing)", r.status, r.body)
	}
	if r := br.post("/logout"); r.status != http.StatusOK {
		t.Fatalf("logout on A: %d %v", r.status, r.body)
	}
	if r := thief.get("/me"); r.status != http.StatusUnauthorized || r.user() != "" {
		t.Fatalf("copied cookies on B after logout on A: %d %v", r.status, r.body)
	}
	if r := thief.get("/public"); r.user() != "" {
		t.Fatalf("copied cookies on B after logout on A are still signed in: %v", r.body)
	}
	// gin-contrib's Redis session is gone too, so the copy above fails
	// twice over; the security record itself must be gone as well, or a
	// copy of the token with any session naming the handle would live on.
	if s, err := b.guard.Sessions(context.Background(), "alice"); err != nil || len(s) != 0 {
		t.Fatalf("B still lists the signed-out session: %v, %v", s, err)
	}
}

func TestRedisRevokeUserOnOneServerSignsOutOnTheOther(t *testing.T) {
	a, b := twoServers(t, ginsecure.Config{})
	laptop, phone, bob := a.browser(), a.browser(), a.browser()
	laptop.login("alice")
	phone.on(b).login("alice")
	bob.login("bob")
	n, err := b.guard.RevokeUser(context.Background(), "alice")
	if err != nil || n != 2 {
		t.Fatalf("RevokeUser on B: %d, %v; want 2 sessions", n, err)
	}
	for name, br := range map[string]*browser{"laptop on A": laptop, "phone on A": phone, "laptop on B": laptop.on(b)} {
		if r := br.get("/me"); r.status != http.StatusUnauthorized {
			t.Fatalf("%s after RevokeUser: %d %v", name, r.status, r.body)
		}
	}
	if r := bob.get("/me"); r.status != http.StatusOK || r.user() != "bob" {
		t.Fatalf("another user was signed out: %d %v", r.status, r.body)
	}
	if s, err := a.guard.Sessions(context.Background(), "alice"); err != nil || len(s) != 0 {
		t.Fatalf("A still lists alice's sessions: %v, %v", s, err)
	}
}

// A periodic rotation served by A while requests the browser sent earlier
// land on B: inside the grace window B serves them as the same user and
// lets them set no cookie (the browser keeps A's new credentials); after
// it the old token is a replay, and the session, whose credentials two
// parties now hold, is revoked everywhere.
func TestRedisRotationOnOneServerGracesStragglersOnTheOther(t *testing.T) {
	a, b := twoServers(t, ginsecure.Config{})
	br := a.browser()
	br.login("alice")
	straggler := b.browser()
	br.copyTo(straggler) // the requests already on the wire

	a.clock.Advance(ginsecure.DefaultRotateEvery)
	r := br.get("/me")
	if r.status != http.StatusOK || !hasCookie(r.cookies, ginsecure.DefaultCookieName) {
		t.Fatalf("no rotation on A: %d %v %v", r.status, r.body, r.cookies)
	}
	if straggler.cookie(ginsecure.DefaultCookieName) == br.cookie(ginsecure.DefaultCookieName) {
		t.Fatal("the straggler's token is not the old one")
	}
	// The browser's next request, on B, shows it has the new token: the
	// old one's window runs from here.
	if r := br.on(b).get("/public"); r.user() != "alice" {
		t.Fatalf("new token on B: %v", r.body)
	}

	a.clock.Advance(ginsecure.DefaultGracePeriod)
	for _, path := range []string{"/me", "/public", "/silent"} {
		r := straggler.get(path)
		if r.status >= 400 || ourCookies(r) {
			t.Fatalf("straggler %s on B inside the window: %d %v, cookies %v", path, r.status, r.body, r.cookies)
		}
		if path == "/me" && r.user() != "alice" {
			t.Fatalf("straggler on B inside the window is not alice: %v", r.body)
		}
	}
	// A periodic rotation changes only the token: the straggler's session
	// write is kept (it may set the session cookie, never the token).
	if r := straggler.post("/me/write"); r.status != http.StatusOK || hasCookie(r.cookies, ginsecure.DefaultCookieName) {
		t.Fatalf("straggler session write on B inside the window: %d %v, cookies %v", r.status, r.body, r.cookies)
	}
	if r := br.on(b).get("/me"); r.status != http.StatusOK || r.user() != "alice" {
		t.Fatalf("the new credentials on B: %d %v", r.status, r.body)
	}

	a.clock.Advance(time.Millisecond)
	if r := straggler.get("/me"); r.status != http.StatusUnauthorized || r.errCode() != "replay" {
		t.Fatalf("old token on B after the window: %d %v, want 401 replay", r.status, r.body)
	}
	if b.events.count(ginsecure.EventReplay) == 0 {
		t.Fatal("no replay event on B")
	}
	if r := br.get("/me"); r.status != http.StatusUnauthorized {
		t.Fatalf("the replayed session still works on A: %d %v", r.status, r.body)
	}
}

// Redis going away must fail closed: a signed-in browser is told to retry
// (503 store_unavailable), never signed out, never served as anonymous on
// a protected route, and nothing panics or answers 500. When Redis comes
// back the same process serves again (the data is gone, so a new login).
func TestRedisOutageFailsClosedAndRecoversWithoutRestart(t *testing.T) {
	a, b := twoServers(t, ginsecure.Config{})
	alice, anon := a.browser(), a.browser()
	alice.login("alice")
	anon.post("/cart?item=apple") // a session cookie, no token

	a.redis.Stop()
	for _, srv := range []*env{a, b} {
		br := alice.on(srv)
		for _, req := range [][2]string{
			{"GET", "/me"}, {"POST", "/me/write"}, {"GET", "/me/sessions"}, {"GET", "/admin"},
			{"POST", "/renew"}, {"POST", "/logout"}, {"GET", "/public"}, {"GET", "/cart"},
		} {
			r := br.do(req[0], req[1])
			if r.status != http.StatusServiceUnavailable || r.errCode() != "store_unavailable" {
				t.Errorf("signed-in %s %s with Redis down: %d %v, want 503 store_unavailable", req[0], req[1], r.status, r.body)
			}
		}
	}
	// Without a token there is nobody to sign in: a protected route still
	// refuses, and never serves an anonymous 200.
	for _, br := range []*browser{anon, a.browser()} {
		for _, path := range []string{"/me", "/admin", "/me/sessions"} {
			if r := br.get(path); r.status == http.StatusOK || r.status >= 500 && r.status != http.StatusServiceUnavailable {
				t.Errorf("anonymous %s with Redis down: %d %v", path, r.status, r.body)
			}
		}
	}
	if r := a.browser().post("/login?user=bob"); r.status != http.StatusServiceUnavailable || r.errCode() != "store_unavailable" {
		t.Errorf("login with Redis down: %d %v", r.status, r.body)
	}
	if _, err := b.guard.RevokeUser(context.Background(), "alice"); err == nil {
		t.Error("RevokeUser with Redis down reported success")
	}

	a.redis.Restart()
	// Pooled connections from before the outage fail once each (503, and
	// the pool drops them); then the same process logs in again. Restarting
	// the app is never needed.
	fresh := a.browser()
	ok := false
	for i := 0; i < 64 && !ok; i++ {
		r := fresh.post("/login?user=alice")
		switch {
		case r.status == http.StatusOK:
			ok = true
		case r.status != http.StatusServiceUnavailable:
			t.Fatalf("login while the pool recovers: %d %v", r.status, r.body)
		}
	}
	if !ok {
		t.Fatal("no login succeeded after Redis came back")
	}
	for _, srv := range []*env{a, b} {
		var r reply
		for i := 0; i < 64; i++ {
			if r = fresh.on(srv).get("/me"); r.status != http.StatusServiceUnavailable {
				break
			}
		}
		if r.status != http.StatusOK || r.user() != "alice" {
			t.Fatalf("/me after recovery: %d %v", r.status, r.body)
		}
	}
	// The old session died with Redis's data: anonymous, not an error.
	var r reply
	for i := 0; i < 64; i++ {
		if r = alice.get("/me"); r.status != http.StatusServiceUnavailable {
			break
		}
	}
	if r.status != http.StatusUnauthorized {
		t.Fatalf("the session lost with Redis's data: %d %v", r.status, r.body)
	}
}

// Everything ginsecure writes to Redis must expire by itself: records,
// per-user indexes and rotation markers. A key without a TTL is a leak an
// attacker can grow with logins.
func TestRedisEveryGinsecureKeyHasATTL(t *testing.T) {
	a, b := twoServers(t, ginsecure.Config{MaxSessionsPerUser: 2})
	var browsers []*browser
	for i, user := range []string{"alice", "alice", "alice", "bob", "carol"} {
		br := a.browser()
		br.post("/cart?item=x") // an anonymous session first: login leaves a marker
		if i%2 == 1 {
			br = br.on(b)
		}
		br.login(user) // the third alice evicts the first
		browsers = append(browsers, br)
	}
	a.clock.Advance(ginsecure.DefaultRotateEvery)
	for _, br := range browsers {
		br.get("/me") // periodic rotation and touch
	}
	browsers[1].post("/renew")
	browsers[3].post("/logout")
	if err := b.guard.RevokeSession(context.Background(), "carol", browsers[4].ownHandle()); err != nil {
		t.Fatal(err)
	}
	stale := a.browser()
	browsers[2].copyTo(stale)
	a.clock.Advance(ginsecure.DefaultRotateEvery)
	browsers[2].get("/me")
	a.clock.Advance(time.Minute)
	stale.get("/me")          // replay: revoked
	a.browser().login("dave") // signs in and never comes back

	c := a.redis.Pool().Get()
	defer c.Close()
	keys, err := redis.Strings(c.Do("KEYS", "gs:*"))
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	var noTTL []string
	for _, k := range keys {
		kinds[k[:5]]++
		// Kept without TTL on purpose (redisstore, revocation.go): the
		// store's creation counter, one key, and the revocation mark of a
		// user revoked or signed in under a limit, one key per user.
		if k == "gs:seq" || strings.HasPrefix(k, "gs:x:") {
			continue
		}
		if ttl, err := redis.Int64(c.Do("PTTL", k)); err != nil || ttl == -1 {
			noTTL = append(noTTL, k)
		}
	}
	if kinds["gs:r:"] == 0 || kinds["gs:u:"] == 0 || kinds["gs:m:"] == 0 {
		t.Fatalf("the run left no records, indexes or markers to check: %v", kinds)
	}
	if len(noTTL) != 0 {
		t.Fatalf("%d of %d ginsecure keys have no TTL: %v", len(noTTL), len(keys), noTTL)
	}
}

// countConn counts the writes a redigo connection makes: one per command
// sent, since redigo flushes once per command and nothing here pipelines
// or sends more than its 4 KiB buffer. That is the round-trip count, which
// INFO commandstats cannot give: it also counts the commands a Lua script
// runs inside Redis.
type countConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countConn) Write(b []byte) (int, error) { c.n.Add(1); return c.Conn.Write(b) }

// countedPool is a pool on srv whose round trips are counted in n. Like
// redistest's, it does not PING on borrow.
func countedPool(t *testing.T, srv *redistest.Server, n *atomic.Int64) *redis.Pool {
	p := &redis.Pool{MaxIdle: 16, Dial: func() (redis.Conn, error) {
		return redis.Dial("unix", srv.Socket, redis.DialNetDial(func(network, addr string) (net.Conn, error) {
			c, err := net.Dial(network, addr)
			if err != nil {
				return nil, err
			}
			return countConn{Conn: c, n: n}, nil
		}))
	}}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// commandStats is INFO commandstats since the last ResetStats, without the
// measurement's own INFO and CONFIG calls.
func commandStats(s *redistest.Server) map[string]int64 {
	per := s.CommandStats()
	delete(per, "info")
	delete(per, "config|resetstat")
	return per
}

// TestRedisGuardAddsNoRoundTripToAnAuthenticatedRequest measures what an
// authenticated request costs in Redis round trips: gin-contrib's Redis
// store alone (the app reads its session to know its user) against the
// same request through the Guard, both on one pool per app, as the
// redisstore package doc recommends. The budget (DESIGN.md, "Performance
// budget"): the record is read in the session's own round trip (one
// MGET), a session write is one round trip as gin-contrib's SETEX is (the
// marker check rides in its script), and last-seen is written at most
// once per TouchInterval. go test -run RoundTrip -v prints the figures.
func TestRedisGuardAddsNoRoundTripToAnAuthenticatedRequest(t *testing.T) {
	const n = 40
	srv := redistest.Start(t)
	clock := newClock()
	newApp := func(guarded bool, trips *atomic.Int64) *env {
		pool := countedPool(t, srv, trips)
		// The guarded app's session store is redisstore.NewSessionStore,
		// gin-contrib's own Redis store on the records' pool.
		var st sessions.Store
		var err error
		if guarded {
			st, err = redisstore.NewSessionStore(pool, [][]byte{sessionSecret})
		} else {
			st, err = gredis.NewStoreWithPool(pool, sessionSecret)
		}
		if err != nil {
			t.Fatal(err)
		}
		st.Options(sessions.Options{Path: "/", MaxAge: 86400, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
		r := gin.New()
		r.Use(sessions.Sessions("app", st))
		if guarded {
			g, err := ginsecure.New(ginsecure.Config{Store: redisstore.New(pool, redisstore.WithPrefix("rt:")), Now: clock.Now, Logger: discardLogger()})
			if err != nil {
				t.Fatal(err)
			}
			r.Use(g.Middleware())
			installRoutes(r, g)
		} else {
			r.POST("/login", func(c *gin.Context) {
				s := sessions.Default(c)
				s.Set("user", c.Query("user"))
				_ = s.Save()
				c.JSON(http.StatusOK, gin.H{"user": c.Query("user")})
			})
			r.POST("/cart", func(c *gin.Context) {
				s := sessions.Default(c)
				s.Set("cart", c.Query("item"))
				if err := s.Save(); err != nil {
					c.AbortWithStatus(http.StatusInternalServerError)
					return
				}
				c.Status(http.StatusOK)
			})
			r.GET("/me", func(c *gin.Context) {
				u, _ := sessions.Default(c).Get("user").(string)
				if u == "" {
					c.AbortWithStatus(http.StatusUnauthorized)
					return
				}
				c.JSON(http.StatusOK, gin.H{"user": u})
			})
		}
		hs := httptest.NewTLSServer(r)
		t.Cleanup(hs.Close)
		return &env{t: t, srv: hs, clock: clock}
	}
	var plainTrips, guardTrips atomic.Int64
	plain, guarded := newApp(false, &plainTrips), newApp(true, &guardTrips)

	// tokenSent counts the responses of the last measure that set the
	// token cookie: each is read once more as it goes out (DESIGN.md,
	// "Ordering principle").
	var tokenSent int
	measure := func(name string, e *env, trips *atomic.Int64, before func(i int)) (perReq float64, stats map[string]int64) {
		t.Helper()
		br := e.browser()
		br.login("alice")
		br.get("/me") // scripts loaded, connections dialled
		srv.ResetStats()
		trips.Store(0)
		tokenSent = 0
		for i := 0; i < n; i++ {
			if before != nil {
				before(i)
			}
			r := br.get("/me")
			if r.status != http.StatusOK || r.user() != "alice" {
				t.Fatalf("%s: /me %d %v", name, r.status, r.body)
			}
			if hasCookie(r.cookies, ginsecure.DefaultCookieName) {
				tokenSent++
			}
		}
		perReq, stats = float64(trips.Load())/n, commandStats(srv)
		t.Logf("%-44s %.2f round trips per request; commandstats %v", name, perReq, stats)
		return perReq, stats
	}

	base, _ := measure("gin-contrib redis store alone", plain, &plainTrips, nil)
	idle, stats := measure("with the Guard, nothing due", guarded, &guardTrips, nil)
	if idle > base {
		t.Errorf("the Guard adds %.2f round trips per authenticated request, budget 0", idle-base)
	}
	// One MGET reads the record, the session and the user's revocation
	// mark (the server read the record before: it knows the user).
	if len(stats) != 1 || stats["mget"] != n {
		t.Errorf("a request with nothing due did more than one MGET of record, session and mark: %v", stats)
	}

	// A session write: gin-contrib's GET and SETEX, against the Guard's
	// MGET and one script (the write unless a marker retired the session).
	writes := func(name string, e *env, trips *atomic.Int64) (float64, map[string]int64) {
		t.Helper()
		br := e.browser()
		br.login("alice")
		br.post("/cart?item=warmup")
		srv.ResetStats()
		trips.Store(0)
		for i := 0; i < n; i++ {
			if r := br.post("/cart?item=x" + strconv.Itoa(i)); r.status != http.StatusOK {
				t.Fatalf("%s: /cart %d %v", name, r.status, r.body)
			}
		}
		perReq, stats := float64(trips.Load())/n, commandStats(srv)
		t.Logf("%-44s %.2f round trips per request; commandstats %v", name, perReq, stats)
		return perReq, stats
	}
	baseW, _ := writes("session write, gin-contrib alone", plain, &plainTrips)
	guardW, stats := writes("session write, with the Guard", guarded, &guardTrips)
	if guardW > baseW {
		t.Errorf("the Guard adds %.2f round trips per session write, budget 0: %v", guardW-baseW, stats)
	}
	if stats["mget"] != n || stats["evalsha"] != n {
		t.Errorf("a session write was not one MGET and one script (commands inside scripts count too): %v", stats)
	}

	// The price of the coalesced last-seen write, paid here on every
	// request because the clock moves a TouchInterval each time.
	// Every script loaded (a first EVALSHA costs an EVAL more).
	warm := guarded.browser()
	warm.login("carol")
	warm.login("carol")
	clock.Advance(ginsecure.DefaultTouchInterval)
	warm.get("/me")
	// The write compares against the record the MGET read
	// (HeldUpdater): no second read of it.
	// A touch that also sends the cookies' new lifetime (once per quarter
	// of their Max-Age) sends the token again: that response reads the
	// record once more as it goes out, to send nothing of a record that
	// ended meanwhile.
	if touch, stats := measure("with the Guard, a touch due each time", guarded, &guardTrips, func(int) { clock.Advance(ginsecure.DefaultTouchInterval) }); touch > 2+float64(tokenSent)/n {
		t.Errorf("a touch costs %.2f round trips, want 2 (the MGET, one compare-and-set) and one per response that sent the token (%d of %d): %v", touch, tokenSent, n, stats)
	}
	// A rotation due on every request (each one's grace window long over).
	measure("with the Guard, a rotation due each time", guarded, &guardTrips, func(int) { clock.Advance(ginsecure.DefaultRotateEvery) })

	// Within one TouchInterval, however many requests: one write at most.
	_, stats = measure("with the Guard, n requests in one interval", guarded, &guardTrips, func(i int) {
		if i == 0 {
			clock.Advance(ginsecure.DefaultTouchInterval)
		}
	})
	if w := stats["evalsha"] + stats["eval"]; w != 1 {
		t.Errorf("%d record writes for %d requests within one TouchInterval, want 1", w, n)
	}

	// A first-visit login: gin-contrib's SETEX, against one script that
	// creates the record and writes the new session (CreateWithSession).
	login := func(name string, e *env, trips *atomic.Int64, br *browser) int64 {
		t.Helper()
		srv.ResetStats()
		trips.Store(0)
		br.signIn("bob") // the login alone (its first presentation is one more write)
		n := trips.Load()
		t.Logf("%-44s %d round trips; commandstats %v", name, n, commandStats(srv))
		return n
	}
	if n := login("login, fresh browser, gin-contrib alone", plain, &plainTrips, plain.browser()); n != 1 {
		t.Errorf("gin-contrib's login took %d round trips, want 1 (the test would prove nothing)", n)
	}
	if n := login("login, fresh browser, with the Guard", guarded, &guardTrips, guarded.browser()); n != 1 {
		t.Errorf("a first-visit login costs %d round trips, want 1 (record and session in one script)", n)
	}
	// Signing in again from a signed-in session: gin-contrib's GET and
	// SETEX, against the Guard's MGET, the marker with the session's
	// re-read, the record with the new session, and the replaced record
	// retired with its session.
	pb, gb := plain.browser(), guarded.browser()
	pb.login("bob")
	gb.login("bob")
	if n := login("login again, gin-contrib alone", plain, &plainTrips, pb); n != 2 {
		t.Errorf("gin-contrib's login again took %d round trips, want 2", n)
	}
	if n := login("login again, with the Guard", guarded, &guardTrips, gb); n > maxReloginTrips {
		t.Errorf("a login from a signed-in session costs %d round trips, want at most %d", n, maxReloginTrips)
	}
}

// maxReloginTrips is what a login from a signed-in session costs on a
// Redis shared with the sessions (login.go, Login).
const maxReloginTrips = 4

// A page fires its requests in parallel, and behind a load balancer they
// land on different servers: when a touch is due they all see a stale
// last-seen, but only one may write it (coalesced writes are the budget
// that keeps Redis load flat); the others find it fresh and write nothing.
func TestRedisParallelRequestsWriteLastSeenOncePerInterval(t *testing.T) {
	a, b := twoServers(t, ginsecure.Config{})
	br := a.browser()
	br.login("alice")
	br.get("/me")
	a.clock.Advance(ginsecure.DefaultTouchInterval)
	br.on(b).get("/me") // the compare-and-set script loaded
	const parallel = 8
	for round := 0; round < 10; round++ {
		a.clock.Advance(ginsecure.DefaultTouchInterval)
		a.redis.ResetStats()
		statuses := make(chan int, parallel)
		var wg sync.WaitGroup
		for i := 0; i < parallel; i++ {
			srv := []*env{a, b}[i%2]
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := br.client.Get(srv.srv.URL + "/me")
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				statuses <- resp.StatusCode
			}()
		}
		wg.Wait()
		close(statuses)
		for s := range statuses {
			if s != http.StatusOK {
				t.Fatalf("round %d: a parallel request got %d", round, s)
			}
		}
		// Inside the scripts, SET runs only when the compare succeeded.
		if w := commandStats(a.redis)["set"]; w != 1 {
			t.Fatalf("round %d: %d last-seen writes by %d parallel requests with one touch due, want 1", round, w, parallel)
		}
	}
}

// The same outage when only ginsecure's Redis is gone and the sessions
// still load (a cookie session store, or sessions on another Redis): the
// record cannot be read, and a session that cannot be checked is never
// served, neither as its user nor as anonymous on a protected route.
func TestRedisOutageOfTheGuardStoreAloneFailsClosed(t *testing.T) {
	rs := redistest.Start(t)
	for _, kind := range []string{"cookie", "redis"} {
		t.Run(kind, func(t *testing.T) {
			prefix := "alone-" + kind + ":"
			e := newEnv(t, kind, ginsecure.Config{}, withStore(redisstore.New(rs.Pool(), redisstore.WithPrefix(prefix))))
			br := e.browser()
			br.login("alice")
			stolenSession := e.browser() // a session cookie without its token
			br.copyTo(stolenSession)
			stolenSession.setCookie(ginsecure.DefaultCookieName, "")

			rs.Stop()
			defer rs.Restart()
			for _, path := range []string{"/me", "/admin", "/public", "/me/sessions"} {
				if r := br.get(path); r.status != http.StatusServiceUnavailable || r.errCode() != "store_unavailable" {
					t.Errorf("signed-in %s with the Guard's Redis down: %d %v", path, r.status, r.body)
				}
			}
			if r := br.post("/logout"); r.status != http.StatusServiceUnavailable {
				t.Errorf("logout with the Guard's Redis down: %d %v", r.status, r.body)
			}
			if r := stolenSession.get("/me"); r.status == http.StatusOK || r.status >= 500 && r.status != http.StatusServiceUnavailable {
				t.Errorf("session cookie without token, Redis down: %d %v", r.status, r.body)
			}
		})
	}
}
