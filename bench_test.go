package ginsecure_test

// Benchmarks of the per-request cost of the Guard against gin-contrib/sessions
// alone (the baseline), on the cookie store, memstore and Redis.
//
// Method: each benchmark builds two engines on the same kind of session
// store, a baseline (gin + sessions.Sessions, the user ID kept in the
// session, as an application without ginsecure would) and a guarded one
// (the same plus sec.Middleware(), signed in with ginsecure.Login), and
// serves them the same request alternately, one each per iteration, in
// alternating order. Only ServeHTTP is timed, separately per side, so both
// sides see the same machine at the same moment; the ratio guard/baseline
// is reported with both times. Allocations per side are counted before the
// timed loop. The guard reads the real clock (it pays for time.Now as in
// production); the cases about time (grace, touch) move a clock of their
// own through Config.Now.
//
// These are benchmarks, not tests: nothing here fails because the machine
// is slow. The checks only make sure each side did what the case says.
//
//	go test -run '^$' -bench . -count 6 -benchtime 2000x . | tee new.txt
//	benchstat new.txt

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
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
)

// benchClock is a lock-free movable clock: reading it must cost next to
// nothing, since the Guard reads it several times per request.
type benchClock struct{ ns atomic.Int64 }

func newBenchClock() *benchClock {
	c := &benchClock{}
	c.ns.Store(time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *benchClock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *benchClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// countingConn counts round trips to Redis (each Do is one).
type countingConn struct {
	redis.Conn
	n *atomic.Int64
}

func (c countingConn) Do(cmd string, args ...any) (any, error) {
	if cmd != "" {
		c.n.Add(1)
	}
	return c.Conn.Do(cmd, args...)
}

func (c countingConn) DoContext(ctx context.Context, cmd string, args ...any) (any, error) {
	if cmd != "" {
		c.n.Add(1)
	}
	return c.Conn.(redis.ConnWithContext).DoContext(ctx, cmd, args...)
}

func (c countingConn) ReceiveContext(ctx context.Context) (any, error) {
	return c.Conn.(redis.ConnWithContext).ReceiveContext(ctx)
}

// farConn puts a Redis server at a network's distance: a reply is not
// read before rtt has passed since the command was written, as over a
// link with that round-trip time. Commands on different connections are
// delayed independently, as on a network; the server's own work and the
// client's are untouched.
type farConn struct {
	net.Conn
	rtt  time.Duration
	sent time.Time
}

func (c *farConn) Write(p []byte) (int, error) {
	c.sent = time.Now()
	return c.Conn.Write(p)
}

func (c *farConn) Read(p []byte) (int, error) {
	if d := c.rtt - time.Since(c.sent); d > 0 {
		time.Sleep(d)
	}
	return c.Conn.Read(p)
}

// countingPool is a redigo pool without a PING on borrow (as the docs
// recommend) whose round trips are counted; with rtt > 0 the server is
// that far away (farConn).
func countingPool(b testing.TB, s *redistest.Server, n *atomic.Int64, rtt time.Duration) *redis.Pool {
	p := &redis.Pool{
		MaxIdle:     64,
		IdleTimeout: time.Minute,
		Dial: func() (redis.Conn, error) {
			c, err := redis.Dial("unix", s.Socket,
				redis.DialConnectTimeout(time.Second),
				redis.DialReadTimeout(5*time.Second),
				redis.DialWriteTimeout(5*time.Second),
				redis.DialNetDial(func(network, addr string) (net.Conn, error) {
					c, err := net.Dial(network, addr)
					if err != nil || rtt <= 0 {
						return c, err
					}
					return &farConn{Conn: c, rtt: rtt}, nil
				}))
			if err != nil {
				return nil, err
			}
			return countingConn{Conn: c, n: n}, nil
		},
	}
	b.Cleanup(func() { _ = p.Close() })
	return p
}

// benchBackend is one store kind with what both sides need from it.
type benchBackend struct {
	kind  string
	redis *redistest.Server
	rtt   time.Duration // for "redis": the simulated network round trip (farConn), 0 for none
	// own: for "redis", the session store of gin-contrib's own
	// constructor (ginredis.NewStoreWithPool), which the records store
	// knows only by its type: the ordinary path (the record read beside
	// the session, a write checked after it). Otherwise
	// redisstore.NewSessionStore's.
	own bool
}

func (bk benchBackend) sessions(b testing.TB, n *atomic.Int64) (sessions.Store, *redis.Pool) {
	var st sessions.Store
	var pool *redis.Pool
	switch bk.kind {
	case "cookie":
		st = cookie.NewStore(sessionSecret)
	case "memstore":
		st = memstore.NewStore(sessionSecret)
	case "redis":
		pool = countingPool(b, bk.redis, n, bk.rtt)
		var rs sessions.Store
		var err error
		if bk.own {
			rs, err = gredis.NewStoreWithPool(pool, sessionSecret)
		} else {
			rs, err = redisstore.NewSessionStore(pool, [][]byte{sessionSecret})
		}
		if err != nil {
			b.Fatal(err)
		}
		st = rs
	default:
		b.Fatalf("unknown store kind %q", bk.kind)
	}
	st.Options(sessions.Options{Path: "/", MaxAge: 86400, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	return st, pool
}

// benchSide is one engine of a pair and the cookies of its signed-in user.
type benchSide struct {
	name   string
	h      http.Handler
	cookie string       // Cookie header of the signed-in browser
	trips  atomic.Int64 // Redis round trips
	isRed  bool
	redis  *redistest.Server
}

const benchRemote = "192.0.2.10:40000"

// baselineSide is gin + gin-contrib/sessions with the user ID in the session.
func baselineSide(b testing.TB, bk benchBackend) *benchSide {
	s := &benchSide{name: "baseline", isRed: bk.kind == "redis", redis: bk.redis}
	sess, _ := bk.sessions(b, &s.trips)
	r := gin.New()
	r.Use(sessions.Sessions("app", sess))
	r.GET("/read", func(c *gin.Context) {
		uid, _ := sessions.Default(c).Get("uid").(string)
		c.String(http.StatusOK, uid)
	})
	r.POST("/write", func(c *gin.Context) {
		s := sessions.Default(c)
		uid, _ := s.Get("uid").(string)
		s.Set("n", 1)
		if err := s.Save(); err != nil {
			c.String(http.StatusInternalServerError, err.Error())
			return
		}
		c.String(http.StatusOK, uid)
	})
	r.POST("/login", func(c *gin.Context) {
		s := sessions.Default(c)
		uid := c.Query("user")
		s.Set("uid", uid)
		if err := s.Save(); err != nil {
			c.String(http.StatusInternalServerError, err.Error())
			return
		}
		c.String(http.StatusOK, uid)
	})
	cartRoute(r)
	s.h = r
	return s
}

// guardSide is the same app with sec.Middleware() and ginsecure.Login.
func guardSide(b testing.TB, bk benchBackend, cfg ginsecure.Config) (*benchSide, *ginsecure.Guard) {
	s := &benchSide{name: "guard", isRed: bk.kind == "redis", redis: bk.redis}
	sess, pool := bk.sessions(b, &s.trips)
	if pool != nil && cfg.Store == nil {
		// One pool for both stores, as the redisstore docs recommend.
		cfg.Store = redisstore.New(pool, redisstore.WithPrefix("gs:"))
	}
	if cfg.Logger == nil {
		cfg.Logger = discardLogger()
	}
	g, err := ginsecure.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	r := gin.New()
	r.Use(sessions.Sessions("app", sess), g.Middleware())
	signedInRoutes(r, ginsecure.UserID, ginsecure.Login)
	r.POST("/write", func(c *gin.Context) {
		s := sessions.Default(c)
		s.Set("n", 1)
		if err := s.Save(); err != nil {
			c.String(http.StatusInternalServerError, err.Error())
			return
		}
		uid, _ := ginsecure.UserID(c)
		c.String(http.StatusOK, uid)
	})
	cartRoute(r)
	s.h = r
	return s, g
}

// signedInRoutes adds the read (GET /read answers the user ID) and the
// login (POST /login?user=) of an app that signs in through login and
// knows its user through userID.
func signedInRoutes(r *gin.Engine, userID func(*gin.Context) (string, bool), login func(*gin.Context, string) error) {
	r.GET("/read", func(c *gin.Context) {
		uid, _ := userID(c)
		c.String(http.StatusOK, uid)
	})
	r.POST("/login", func(c *gin.Context) {
		uid := c.Query("user")
		if err := login(c, uid); err != nil {
			c.String(http.StatusInternalServerError, err.Error())
			return
		}
		c.String(http.StatusOK, uid)
	})
}

func benchReq(method, target, cookie string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	r.RemoteAddr = benchRemote
	if cookie != "" {
		r.Header.Set("Cookie", cookie)
	}
	return r
}

// fresh returns a shallow copy of base: gorilla's registry stores itself in
// the request (*r = *r.WithContext(...)), so reusing one request would
// cache the session and skip the load being measured.
func fresh(base *http.Request) *http.Request {
	r := *base
	return &r
}

// cookieHeader merges a response's Set-Cookie into a Cookie header.
func cookieHeader(prev string, w *httptest.ResponseRecorder) string {
	jar := map[string]string{}
	var order []string
	for _, kv := range strings.Split(prev, "; ") {
		if name, val, ok := strings.Cut(kv, "="); ok {
			jar[name] = val
			order = append(order, name)
		}
	}
	for _, c := range w.Result().Cookies() {
		if _, ok := jar[c.Name]; !ok {
			order = append(order, c.Name)
		}
		jar[c.Name] = c.Value
		if c.MaxAge < 0 {
			delete(jar, c.Name)
		}
	}
	var parts []string
	for _, n := range order {
		if v, ok := jar[n]; ok {
			parts = append(parts, n+"="+v)
		}
	}
	return strings.Join(parts, "; ")
}

func serveOnce(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// signIn logs user in on side and keeps its cookies.
func (s *benchSide) signIn(b testing.TB, user string) {
	w := serveOnce(s.h, benchReq(http.MethodPost, "/login?user="+user, ""))
	if w.Code != http.StatusOK || w.Body.String() != user {
		b.Fatalf("%s: login: %d %q", s.name, w.Code, w.Body.String())
	}
	s.cookie = cookieHeader("", w)
}

// benchCase is what one side does per iteration.
type benchCase struct {
	side   *benchSide
	req    func() *http.Request             // a fresh request (untimed)
	before func()                           // untimed, right before the request
	after  func(*httptest.ResponseRecorder) // untimed, right after it (keep the cookies)
	want   string                           // expected body
}

func (bc *benchCase) do() (time.Duration, error) {
	r := bc.req()
	w := httptest.NewRecorder()
	if bc.before != nil {
		bc.before()
	}
	t0 := time.Now()
	bc.side.h.ServeHTTP(w, r)
	d := time.Since(t0)
	if w.Code != http.StatusOK || (bc.want != "*" && w.Body.String() != bc.want) {
		return d, fmt.Errorf("%s: %d %q, want 200 %q", bc.side.name, w.Code, w.Body.String(), bc.want)
	}
	if bc.after != nil {
		bc.after(w)
	}
	return d, nil
}

func (bc *benchCase) serve(b *testing.B) time.Duration {
	d, err := bc.do()
	if err != nil {
		b.Fatal(err)
	}
	return d
}

// perRun measures allocations and bytes per run of f, like
// testing.AllocsPerRun but with bytes as well.
func perRun(n int, f func()) (allocs, bytes float64) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	f()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	for i := 0; i < n; i++ {
		f()
	}
	runtime.ReadMemStats(&m1)
	return float64(m1.Mallocs-m0.Mallocs) / float64(n), float64(m1.TotalAlloc-m0.TotalAlloc) / float64(n)
}

// roundTrips counts the Redis round trips of n runs of bc.
func roundTrips(b *testing.B, bc *benchCase, n int) float64 {
	start := bc.side.trips.Load()
	for i := 0; i < n; i++ {
		bc.serve(b)
	}
	return float64(bc.side.trips.Load()-start) / float64(n)
}

// commandsPerRequest runs bc n times and returns INFO commandstats per
// request (commands called from Lua scripts count as well).
func commandsPerRequest(b *testing.B, bc *benchCase, n int) string {
	srv := bc.side.redis
	srv.ResetStats()
	for i := 0; i < n; i++ {
		bc.serve(b)
	}
	stats := srv.CommandStats()
	var parts []string
	for name, calls := range stats {
		if strings.HasPrefix(name, "config") || name == "info" {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s=%.2f", name, float64(calls)/float64(n)))
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}

// runInterleaved times base and guard request by request in one loop.
func runInterleaved(b *testing.B, base, guard *benchCase) {
	b.Helper()
	// Warm up both (and check them) before counting anything.
	for i := 0; i < 8; i++ {
		base.serve(b)
		guard.serve(b)
	}
	ab, bb := perRun(200, func() { base.serve(b) })
	ag, bg := perRun(200, func() { guard.serve(b) })
	var rttB, rttG float64
	if base.side.isRed {
		rttB, rttG = roundTrips(b, base, 50), roundTrips(b, guard, 50)
		if base.side.redis != nil && b.N == 1 {
			b.Logf("redis commands per request (INFO commandstats, 50 requests each): baseline %v; guard %v",
				commandsPerRequest(b, base, 50), commandsPerRequest(b, guard, 50))
		}
	}
	db := make([]time.Duration, b.N)
	dg := make([]time.Duration, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i&1 == 0 {
			db[i] = base.serve(b)
			dg[i] = guard.serve(b)
		} else {
			dg[i] = guard.serve(b)
			db[i] = base.serve(b)
		}
	}
	b.StopTimer()
	pair := pairRatio(db, dg)
	nb, mb := meanMedian(db)
	ng, mg := meanMedian(dg)
	b.ReportMetric(nb, "ns/op-baseline")
	b.ReportMetric(ng, "ns/op-guard")
	b.ReportMetric(ng/nb, "ratio")
	b.ReportMetric(mb, "med-ns/op-baseline")
	b.ReportMetric(mg, "med-ns/op-guard")
	b.ReportMetric(mg/mb, "ratio-med")
	b.ReportMetric(pair, "ratio-pair")
	b.ReportMetric(ab, "allocs/op-baseline")
	b.ReportMetric(ag, "allocs/op-guard")
	b.ReportMetric(ag-ab, "allocs/op-extra")
	b.ReportMetric(bb, "B/op-baseline")
	b.ReportMetric(bg, "B/op-guard")
	if base.side.isRed {
		// Reported after the loop: ResetTimer deletes metrics reported before it.
		b.ReportMetric(rttB, "rtt/op-baseline")
		b.ReportMetric(rttG, "rtt/op-guard")
	}
}

// pairRatio is the median over the iterations of guard ÷ baseline, each
// pair timed next to each other: a moment of load slows both of a pair.
func pairRatio(db, dg []time.Duration) float64 {
	r := make([]float64, 0, len(db))
	for i := range db {
		if db[i] > 0 {
			r = append(r, float64(dg[i])/float64(db[i]))
		}
	}
	if len(r) == 0 {
		return 0
	}
	slices.Sort(r)
	if len(r)%2 == 0 {
		return (r[len(r)/2-1] + r[len(r)/2]) / 2
	}
	return r[len(r)/2]
}

// meanMedian returns the mean and the median of ds in nanoseconds. The
// median shrugs off requests that lost the CPU to another process, which
// on a shared 2-core machine the mean cannot.
func meanMedian(ds []time.Duration) (mean, median float64) {
	if len(ds) == 0 {
		return 0, 0
	}
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	slices.Sort(ds)
	mid := ds[len(ds)/2]
	if len(ds)%2 == 0 {
		mid = (ds[len(ds)/2-1] + ds[len(ds)/2]) / 2
	}
	return float64(sum.Nanoseconds()) / float64(len(ds)), float64(mid.Nanoseconds())
}

func benchBackends(b *testing.B) []benchBackend {
	out := []benchBackend{{kind: "cookie"}, {kind: "memstore"}}
	srv := redistest.Start(b)
	out = append(out, benchBackend{kind: "redis", redis: srv},
		benchBackend{kind: "redis", redis: srv, rtt: farRTT},
		benchBackend{kind: "redis", redis: srv, own: true})
	return out
}

// farRTT is the round trip of the "redis-far" backend: Redis on another
// host, where a round trip is mostly waiting rather than CPU, unlike a
// unix socket on a 2-core machine. It is a time.Sleep, which a loaded VM
// stretches (about 1.2 ms per round trip on the benchmark machine: read
// med-ns/op-baseline); the ratio, not the figure, is the point.
const farRTT = 200 * time.Microsecond

func (bk benchBackend) name() string {
	switch {
	case bk.rtt > 0:
		return bk.kind + "-far"
	case bk.own:
		return bk.kind + "-gincontrib"
	}
	return bk.kind
}

// BenchmarkGuard compares the guard with gin-contrib/sessions alone, per
// store kind and request kind. "redis-far" is Redis with a simulated
// network round trip of farRTT (farConn).
func BenchmarkGuard(b *testing.B) {
	for _, bk := range benchBackends(b) {
		b.Run(bk.name(), func(b *testing.B) {
			b.Run("anonymous", func(b *testing.B) { benchAnonymous(b, bk) })
			b.Run("read", func(b *testing.B) { benchRead(b, bk) })
			b.Run("read-uuid", func(b *testing.B) { benchReadUUID(b, bk) })
			b.Run("write", func(b *testing.B) { benchWrite(b, bk) })
			b.Run("login", func(b *testing.B) { benchLogin(b, bk) })
			b.Run("login-anon", func(b *testing.B) { benchLoginAnon(b, bk) })
			b.Run("relogin", func(b *testing.B) { benchRelogin(b, bk) })
			b.Run("grace", func(b *testing.B) { benchGrace(b, bk) })
			b.Run("touch", func(b *testing.B) { benchTouch(b, bk) })
		})
	}
}

// floorSide is the baseline's app on ginsecure.ContractFloor (floor_test.go):
// the least the two-cookie model (DESIGN.md, "Model") can cost on an
// authenticated read.
func floorSide(b testing.TB, bk benchBackend) *benchSide {
	s := &benchSide{name: "floor"}
	sess, _ := bk.sessions(b, &s.trips)
	f := ginsecure.NewContractFloor()
	r := gin.New()
	r.Use(sessions.Sessions("app", sess), f.Middleware())
	signedInRoutes(r, f.UserID, f.Login)
	s.h = r
	return s
}

// BenchmarkContractFloor measures, in the same interleaved way as
// BenchmarkGuard, the floor of the model (DESIGN.md, "Model") against
// gin-contrib/sessions alone: what any implementation of the two-cookie design must pay on an
// authenticated read (the handle in the session, the token cookie, its
// hash, the clock, the record, one wrapper in the context), with none of
// the Guard's other checks. It shows how much of the Guard's ratio the
// design itself fixes.
func BenchmarkContractFloor(b *testing.B) {
	for _, kind := range []string{"cookie", "memstore"} {
		bk := benchBackend{kind: kind}
		b.Run(kind, func(b *testing.B) {
			for _, u := range []struct{ name, user string }{{"read", "alice"}, {"read-uuid", uuidUser}} {
				b.Run(u.name, func(b *testing.B) {
					benchPair(b, baselineSide(b, bk), floorSide(b, bk), http.MethodGet, "/read", u.user)
				})
			}
		})
	}
}

func fixedConfig(clock *benchClock) ginsecure.Config {
	return ginsecure.Config{Now: clock.Now}
}

// realConfig is the defaults, time.Now included: a request pays for its
// clock read (about 45 ns on the benchmark machine) as it does in
// production. A signed-in read stays a read for the benchmark's length: the
// first last-seen write is due a minute after sign-in.
func realConfig() ginsecure.Config { return ginsecure.Config{} }

// benchAnonymous: no cookies at all; the handler asks who the user is.
func benchAnonymous(b *testing.B, bk benchBackend) {
	base := baselineSide(b, bk)
	guard, _ := guardSide(b, bk, realConfig())
	rb := benchReq(http.MethodGet, "/read", "")
	rg := benchReq(http.MethodGet, "/read", "")
	runInterleaved(b,
		&benchCase{side: base, req: func() *http.Request { return fresh(rb) }},
		&benchCase{side: guard, req: func() *http.Request { return fresh(rg) }})
}

// benchRead: a signed-in user reads a page; no session write.
func benchRead(b *testing.B, bk benchBackend) { benchSignedIn(b, bk, http.MethodGet, "/read", "alice") }

// benchReadUUID: the same read for a user whose ID is a UUID, as in many
// applications: the baseline's session then holds 36 characters of user
// ID where the guard's holds its 22-character handle.
func benchReadUUID(b *testing.B, bk benchBackend) {
	benchSignedIn(b, bk, http.MethodGet, "/read", uuidUser)
}

// uuidUser is a user ID in UUID text form.
const uuidUser = "7d444840-9dc0-11d1-b245-5ffdce74fad2"

// benchWrite: a signed-in user changes the session (Set + Save).
func benchWrite(b *testing.B, bk benchBackend) {
	benchSignedIn(b, bk, http.MethodPost, "/write", "alice")
}

// benchSignedIn serves method path to user, signed in on both sides.
func benchSignedIn(b *testing.B, bk benchBackend, method, path, user string) {
	base := baselineSide(b, bk)
	guard, _ := guardSide(b, bk, realConfig())
	benchPair(b, base, guard, method, path, user)
}

// benchPair signs user in on both sides and serves them method path.
func benchPair(b *testing.B, base, other *benchSide, method, path, user string) {
	base.signIn(b, user)
	other.signIn(b, user)
	rb := benchReq(method, path, base.cookie)
	ro := benchReq(method, path, other.cookie)
	runInterleaved(b,
		&benchCase{side: base, req: func() *http.Request { return fresh(rb) }, want: user},
		&benchCase{side: other, req: func() *http.Request { return fresh(ro) }, want: user})
}

// benchLogin: a new browser signs in (a user of its own each time, so no
// per-user index grows). The baseline stores the user ID in the session;
// the guard regenerates the session, mints a handle and a token and
// creates the record.
func benchLogin(b *testing.B, bk benchBackend) {
	base := baselineSide(b, bk)
	guard, _ := guardSide(b, bk, realConfig())
	var nb, ng int
	run := benchRunID()
	runInterleaved(b,
		&benchCase{side: base, want: "*", req: func() *http.Request {
			nb++
			return benchReq(http.MethodPost, "/login?user="+run+"u"+strconv.Itoa(nb), "")
		}},
		&benchCase{side: guard, want: "*", req: func() *http.Request {
			ng++
			return benchReq(http.MethodPost, "/login?user="+run+"u"+strconv.Itoa(ng), "")
		}})
}

// benchLoginAnon: a browser that has an anonymous session with data (a
// cart, set by an earlier POST /cart) signs in. The baseline writes the
// user ID into that session; the guard carries the cart over into a new
// session (DESIGN.md, "Lifecycle"). The cart's visit is untimed: each
// iteration's browser fills a fresh anonymous session first.
func benchLoginAnon(b *testing.B, bk benchBackend) {
	base := baselineSide(b, bk)
	guard, _ := guardSide(b, bk, realConfig())
	run := benchRunID()
	withCart := func(s *benchSide, n *int) func() *http.Request {
		return func() *http.Request {
			w := serveOnce(s.h, benchReq(http.MethodPost, "/cart", ""))
			if w.Code != http.StatusOK {
				b.Fatalf("%s: cart: %d %q", s.name, w.Code, w.Body.String())
			}
			*n++
			return benchReq(http.MethodPost, "/login?user="+run+"u"+strconv.Itoa(*n), cookieHeader("", w))
		}
	}
	var nb, ng int
	runInterleaved(b,
		&benchCase{side: base, want: "*", req: withCart(base, &nb)},
		&benchCase{side: guard, want: "*", req: withCart(guard, &ng)})
}

// cartRoute adds POST /cart: an anonymous visitor puts three items in the
// session, as a shop does before sign-in.
func cartRoute(r *gin.Engine) {
	r.POST("/cart", func(c *gin.Context) {
		s := sessions.Default(c)
		s.Set("cart", "sku-1001,sku-2002,sku-3003")
		s.Set("currency", "EUR")
		s.Set("visits", 3)
		if err := s.Save(); err != nil {
			c.String(http.StatusInternalServerError, err.Error())
			return
		}
		c.String(http.StatusOK, "ok")
	})
}

var benchRuns atomic.Int64

// benchRunID tells one run of a benchmark from the others in the process:
// on Redis every run shares one server, and a user signed in by an
// earlier run would still be in the index the login script walks.
func benchRunID() string { return "r" + strconv.FormatInt(benchRuns.Add(1), 10) }

// benchRelogin: a signed-in browser signs in again, from its session and
// token (the same user: its old record is replaced, not counted against a
// limit). The baseline writes the user ID into the session it has; the
// guard sets the marker on the old session, creates the new record, saves
// the new session, retires the old record and session and mints a token.
// Each side's next request carries the cookies of its last response.
func benchRelogin(b *testing.B, bk benchBackend) {
	base := baselineSide(b, bk)
	guard, _ := guardSide(b, bk, realConfig())
	user := benchRunID() + "alice"
	base.signIn(b, user)
	guard.signIn(b, user)
	keep := func(s *benchSide) func(*httptest.ResponseRecorder) {
		return func(w *httptest.ResponseRecorder) { s.cookie = cookieHeader(s.cookie, w) }
	}
	runInterleaved(b,
		&benchCase{side: base, want: user, after: keep(base), req: func() *http.Request {
			return benchReq(http.MethodPost, "/login?user="+user, base.cookie)
		}},
		&benchCase{side: guard, want: user, after: keep(guard), req: func() *http.Request {
			return benchReq(http.MethodPost, "/login?user="+user, guard.cookie)
		}})
}

// benchGrace: a request that left the browser before a periodic rotation
// arrives one second after it: served as the same user, no cookie writes.
// The baseline has no such thing and serves its ordinary authenticated read.
func benchGrace(b *testing.B, bk benchBackend) {
	clock := newBenchClock()
	base := baselineSide(b, bk)
	guard, _ := guardSide(b, bk, fixedConfig(clock))
	base.signIn(b, "alice")
	guard.signIn(b, "alice")
	old := guard.cookie
	clock.Advance(ginsecure.DefaultRotateEvery)
	w := serveOnce(guard.h, benchReq(http.MethodGet, "/read", old))
	if w.Code != http.StatusOK || !strings.Contains(strings.Join(w.Header()["Set-Cookie"], "\n"), ginsecure.DefaultCookieName+"=") {
		b.Fatalf("no rotation: %d %v", w.Code, w.Header())
	}
	clock.Advance(time.Second)
	rb := benchReq(http.MethodGet, "/read", base.cookie)
	rg := benchReq(http.MethodGet, "/read", old)
	runInterleaved(b,
		&benchCase{side: base, req: func() *http.Request { return fresh(rb) }, want: "alice"},
		&benchCase{side: guard, req: func() *http.Request { return fresh(rg) }, want: "alice"})
}

// benchTouch: an authenticated read on which a last-seen write is due every
// time (TouchInterval 1ms, the clock moving 1ms per request; periodic
// rotation off). In production this happens at most once a minute per
// session; this shows what that one request costs.
func benchTouch(b *testing.B, bk benchBackend) {
	clock := newBenchClock()
	base := baselineSide(b, bk)
	cfg := fixedConfig(clock)
	cfg.TouchInterval = time.Millisecond
	cfg.RotateEvery = -1
	guard, _ := guardSide(b, bk, cfg)
	base.signIn(b, "alice")
	guard.signIn(b, "alice")
	rb := benchReq(http.MethodGet, "/read", base.cookie)
	rg := benchReq(http.MethodGet, "/read", guard.cookie)
	runInterleaved(b,
		&benchCase{side: base, req: func() *http.Request { return fresh(rb) }, want: "alice"},
		&benchCase{side: guard, req: func() *http.Request { return fresh(rg) }, want: "alice",
			before: func() { clock.Advance(time.Millisecond) }})
}

// oneLockStore serialises every call of a Store on one mutex: the contrast
// that shows the memory store's shards at work.
type oneLockStore struct {
	mu sync.Mutex
	storeext.Store
}

func (s *oneLockStore) Get(ctx context.Context, h string) (storeext.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.Store.Get(ctx, h)
}

func (s *oneLockStore) Update(ctx context.Context, h string, fn func(*storeext.Record) error) (storeext.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.Store.Update(ctx, h, fn)
}

// BenchmarkMemoryStoreParallel reads (and every 16th time updates) records
// of 1024 sessions from all CPUs. Run with -cpu 1,2: the sharded store's
// time per operation falls with more CPUs, one lock's does not.
func BenchmarkMemoryStoreParallel(b *testing.B) {
	for _, name := range []string{"sharded", "onelock"} {
		b.Run(name, func(b *testing.B) {
			clock := newBenchClock()
			var st storeext.Store = ginsecure.NewMemoryStore()
			st.(storeext.ClockUser).UseClock(clock.Now)
			if name == "onelock" {
				st = &oneLockStore{Store: st}
			}
			now := clock.Now()
			handles := make([]string, 1024)
			ctx := context.Background()
			for i := range handles {
				handles[i] = fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i)
				err := st.Create(ctx, storeext.Record{Handle: handles[i], UserID: "u" + strconv.Itoa(i),
					IssuedAt: now, CreatedAt: now, AuthAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour)}, storeext.Limit{})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				rng := rand.New(rand.NewPCG(rand.Uint64(), 1))
				i := 0
				for pb.Next() {
					h := handles[rng.IntN(len(handles))]
					i++
					if i%16 == 0 {
						_, err := st.Update(ctx, h, func(r *storeext.Record) error { r.LastSeen = now; return nil })
						if err != nil {
							b.Error(err)
							return
						}
						continue
					}
					if _, err := st.Get(ctx, h); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkGuardParallel serves authenticated reads through the whole
// middleware from all CPUs, each goroutine its own signed-in browser,
// baseline and guard interleaved as in BenchmarkGuard. Run with -cpu 1,2.
func BenchmarkGuardParallel(b *testing.B) {
	for _, kind := range []string{"cookie", "memstore"} {
		b.Run(kind, func(b *testing.B) {
			bk := benchBackend{kind: kind}
			base := baselineSide(b, bk)
			guard, _ := guardSide(b, bk, realConfig())
			const browsers = 64
			var rb, rg [browsers]*http.Request
			for i := range browsers {
				u := "u" + strconv.Itoa(i)
				base.signIn(b, u)
				guard.signIn(b, u)
				rb[i] = benchReq(http.MethodGet, "/read", base.cookie)
				rg[i] = benchReq(http.MethodGet, "/read", guard.cookie)
			}
			var next atomic.Int64
			var tb, tg atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				me := int(next.Add(1)-1) % browsers
				want := "u" + strconv.Itoa(me)
				cb := &benchCase{side: base, req: func() *http.Request { return fresh(rb[me]) }, want: want}
				cg := &benchCase{side: guard, req: func() *http.Request { return fresh(rg[me]) }, want: want}
				var sb, sg time.Duration
				first, second, s1, s2 := cb, cg, &sb, &sg
				for pb.Next() {
					d1, err1 := first.do()
					d2, err2 := second.do()
					if err1 != nil || err2 != nil {
						b.Error(err1, err2) // not Fatal: this is not the benchmark's goroutine
						return
					}
					*s1 += d1
					*s2 += d2
					first, second, s1, s2 = second, first, s2, s1
				}
				tb.Add(int64(sb))
				tg.Add(int64(sg))
			})
			b.StopTimer()
			nb := float64(tb.Load()) / float64(b.N)
			ng := float64(tg.Load()) / float64(b.N)
			b.ReportMetric(nb, "ns/op-baseline")
			b.ReportMetric(ng, "ns/op-guard")
			b.ReportMetric(ng/nb, "ratio")
		})
	}
}

// BenchmarkTossedCookies is the worst case of the record's own session
// cookie winning against tossed ones (DESIGN.md, "Tossed cookies"): one
// signed-in request whose Cookie header is filled to near the server's
// MaxHeaderBytes (1 MB) with session cookies of the app's name in front of
// the user's own: signed ones (copies of sessions from the app: each is
// verified, its ID decoded on memstore and Redis, its values decoded on
// the cookie store), or the shortest garbage ("app=x", 150,000 of them);
// with a session store that signs only, and one that also encrypts (every
// signed cookie then decoded in full). Only the Guard's engine, no network.
//
//	go test -run '^$' -bench TossedCookies -benchtime 20x .
func BenchmarkTossedCookies(b *testing.B) {
	encKey := []byte("abcdefghijklmnopqrstuvwxyz012345")
	for _, kind := range []string{"cookie", "memstore", "redis", "cookie-encrypted", "memstore-encrypted"} {
		for _, fill := range []string{"signed", "garbage"} {
			b.Run(kind+"/"+fill, func(b *testing.B) {
				var keys [][]byte
				store, enc := strings.CutSuffix(kind, "-encrypted")
				if enc {
					keys = [][]byte{sessionSecret, encKey}
				}
				e := newEnv(b, store, ginsecure.Config{}, withSessionKeys(keys...))
				r := e.ipServe("127.0.0.1:1000", nil, http.MethodPost, "/login?user=alice")
				own := []string{}
				for _, c := range r.cookies {
					own = append(own, c.Name+"="+c.Value)
				}
				room := 1<<20 - len(strings.Join(own, "; ")) - 64
				var tossed []string
				if fill == "signed" {
					tossed = tossedCookies(b, e, -1, room, keys...)
				} else {
					tossed = slices.Repeat([]string{"app=x"}, room/len("app=x; "))
				}
				hdr := strings.Join(append(tossed, own...), "; ")
				serve := func() *httptest.ResponseRecorder {
					req := httptest.NewRequest(http.MethodGet, "https://example.test/me", nil)
					req.RemoteAddr = "127.0.0.1:1000"
					req.Header.Set("Cookie", hdr)
					w := httptest.NewRecorder()
					e.engine.ServeHTTP(w, req)
					return w
				}
				if w := serve(); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"alice"`) {
					b.Fatalf("%d tossed cookies, %d bytes: %d %s", len(tossed), len(hdr), w.Code, w.Body.String())
				}
				cpu0 := processCPU()
				for b.Loop() {
					serve()
				}
				// CPU time, as well as wall time: on a shared machine the
				// wall time also counts waiting for a core.
				b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
				b.ReportMetric(float64(len(tossed)), "cookies")
				b.ReportMetric(float64(len(hdr)), "header-bytes")
			})
		}
	}
}

// processCPU is the CPU time the process has used (user and system, every
// thread: the garbage collector's work counts too).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
