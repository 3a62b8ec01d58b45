package ginsecure_test

// On Redis the record a token names is read together with the session
// where both stores share one pool (one MGET: session_redis.go), or while
// gin-contrib loads the session (prefetch.go, redisstore.Prefetch).
// Whatever the pool allows, the answers are those of the sequential order,
// and nothing is left behind: no connection in use, no goroutine.

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ginsecure/ginsecure/internal/redistest"
	"github.com/ginsecure/ginsecure/storeext"
	"github.com/gomodule/redigo/redis"
)

// prefetchApp is the test app on one redigo pool shared by gin-contrib's
// session store and ginsecure's, as the redisstore docs recommend, served
// without a network (gin.Engine.ServeHTTP) so that every goroutine counted
// is the app's own.
// With readMode "prefetch" the store is seen without its SharedRedis
// methods, so that the Guard reads the record beside the session on a
// second connection; with "together" both are read in one MGET.
func prefetchApp(t *testing.T, _ *redistest.Server, pool *redis.Pool, readMode string) http.Handler {
	t.Helper()
	return sharedApp(t, pool, readMode) // session_redis_test.go
}

// prefetchOnly is a redisstore without its SharedRedis methods: it still
// knows the session store (SessionSharer), so the protections of
// gin-contrib's Redis store hold as on the ordinary path.
type prefetchOnly struct {
	storeext.Store
	storeext.Prefetcher
	storeext.SessionSharer
}

// readModes are the two ways the Guard reads a record on Redis.
var readModes = []string{"together", "prefetch"}

// poolInUse is the pool's connections in use (not idle).
func poolInUse(p *redis.Pool) int { s := p.Stats(); return s.ActiveCount - s.IdleCount }

// settles waits for the pool to have no connection in use and the
// goroutines to be back to at most before.
func settles(t *testing.T, pool *redis.Pool, before int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, g := poolInUse(pool), runtime.NumGoroutine()
		if n == 0 && g <= before {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("leak: %d connections in use, %d goroutines (were %d)", n, g, before)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRedisRecordReadWhileTheSessionLoadsAnswersAsInSequence(t *testing.T) {
	srv := redistest.Start(t)
	for _, tc := range []struct {
		name      string
		maxActive int
		wait      bool
		parallel  bool // the sequential order itself serves parallel requests on this pool
	}{
		{"unlimited", 0, false, true},
		{"MaxActive 1", 1, false, false}, // parallel requests get ErrPoolExhausted in any order
		{"MaxActive 1 with Wait", 1, true, true},
		{"MaxActive 2 with Wait", 2, true, true},
		{"MaxActive 3", 3, false, false},
	} {
		for _, mode := range readModes {
			t.Run(tc.name+"/"+mode, func(t *testing.T) {
				pool := &redis.Pool{MaxIdle: 4, MaxActive: tc.maxActive, Wait: tc.wait, Dial: func() (redis.Conn, error) {
					return redis.Dial("unix", srv.Socket, redis.DialReadTimeout(5*time.Second), redis.DialWriteTimeout(5*time.Second))
				}}
				h := prefetchApp(t, srv, pool, mode)
				w := serveOnce(h, benchReq(http.MethodPost, "/login?user=alice", ""))
				if w.Code != http.StatusOK {
					t.Fatalf("login: %d %s", w.Code, w.Body)
				}
				signedIn := cookieHeader("", w)
				before := runtime.NumGoroutine()
				check := func(cookie, want string) {
					w := serveOnce(h, benchReq(http.MethodGet, "/me", cookie))
					if want == "" && w.Code == http.StatusUnauthorized {
						return
					}
					if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"user":"`+want+`"`) {
						t.Errorf("/me: %d %s, want user %q", w.Code, w.Body, want)
					}
				}
				for i := 0; i < 20; i++ {
					check(signedIn, "alice")
					check(signedIn[:len(signedIn)-4]+"AAAA", "") // a token whose secret is wrong: anonymous
				}
				if tc.parallel {
					var wg sync.WaitGroup
					for range 8 {
						wg.Add(1)
						go func() {
							defer wg.Done()
							for range 10 {
								check(signedIn, "alice")
							}
						}()
					}
					wg.Wait()
				}
				settles(t, pool, before)
				_ = pool.Close()
			})
		}
	}
}

// A request whose context is cancelled (the client went away) gets what
// the sequential order gives it, 200 or 503, never anonymous or another
// user, and leaves no connection or goroutine behind.
func TestRedisCancelledRequestLeavesNothingBehind(t *testing.T) {
	srv := redistest.Start(t)
	for i := range 4 {
		wait, mode := i%2 == 1, readModes[i/2]
		pool := &redis.Pool{MaxIdle: 4, MaxActive: 4, Wait: wait, Dial: func() (redis.Conn, error) {
			return redis.Dial("unix", srv.Socket, redis.DialReadTimeout(5*time.Second), redis.DialWriteTimeout(5*time.Second))
		}}
		h := prefetchApp(t, srv, pool, mode)
		w := serveOnce(h, benchReq(http.MethodPost, "/login?user=alice", ""))
		signedIn := cookieHeader("", w)
		before := runtime.NumGoroutine()
		var ok, unavailable int
		for i := 0; i < 40; i++ {
			ctx, cancel := context.WithCancel(context.Background())
			r := benchReq(http.MethodGet, "/me", signedIn).WithContext(ctx)
			if i%2 == 0 {
				cancel()
			} else {
				time.AfterFunc(time.Duration(i)*time.Microsecond, cancel)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			cancel()
			switch {
			case w.Code == http.StatusOK && strings.Contains(w.Body.String(), `"user":"alice"`):
				ok++
			case w.Code == http.StatusServiceUnavailable:
				unavailable++
			default:
				t.Fatalf("%s, wait=%v: cancelled /me: %d %s", mode, wait, w.Code, w.Body)
			}
		}
		t.Logf("%s, wait=%v: cancelled requests: %d served, %d 503", mode, wait, ok, unavailable)
		settles(t, pool, before)
		// The pool is not closed: a prefetch whose wait its context ended
		// has handed its slot back inside redigo's pool, and settles sees
		// its goroutine gone by count, which the race detector does not
		// take for an order between that send and Close. The server's
		// stop closes the connections.
	}
}

// inFlightConn tracks how many commands are in flight on all connections
// of a pool at once, each held for a moment so that overlap shows.
type inFlightConn struct {
	redis.Conn
	now, peak *atomic.Int64
}

func (c inFlightConn) track() func() {
	n := c.now.Add(1)
	for p := c.peak.Load(); n > p && !c.peak.CompareAndSwap(p, n); p = c.peak.Load() {
	}
	time.Sleep(2 * time.Millisecond)
	return func() { c.now.Add(-1) }
}

func (c inFlightConn) Do(cmd string, args ...any) (any, error) {
	defer c.track()()
	return c.Conn.Do(cmd, args...)
}

func (c inFlightConn) DoContext(ctx context.Context, cmd string, args ...any) (any, error) {
	defer c.track()()
	return c.Conn.(redis.ConnWithContext).DoContext(ctx, cmd, args...)
}

func (c inFlightConn) ReceiveContext(ctx context.Context) (any, error) {
	return c.Conn.(redis.ConnWithContext).ReceiveContext(ctx)
}

// The point of it all: one authenticated read has the session's GET and
// the record's in flight together, instead of one after the other.
func TestRedisRecordGETOverlapsTheSessionGET(t *testing.T) {
	srv := redistest.Start(t)
	var now, peak atomic.Int64
	pool := &redis.Pool{MaxIdle: 4, Dial: func() (redis.Conn, error) {
		c, err := redis.Dial("unix", srv.Socket)
		if err != nil {
			return nil, err
		}
		return inFlightConn{Conn: c, now: &now, peak: &peak}, nil
	}}
	t.Cleanup(func() { _ = pool.Close() })
	h := prefetchApp(t, srv, pool, "prefetch")
	signedIn := cookieHeader("", serveOnce(h, benchReq(http.MethodPost, "/login?user=alice", "")))
	peak.Store(0)
	if w := serveOnce(h, benchReq(http.MethodGet, "/me", signedIn)); w.Code != http.StatusOK {
		t.Fatalf("/me: %d %s", w.Code, w.Body)
	}
	if p := peak.Load(); p != 2 {
		t.Fatalf("at most %d Redis commands in flight during an authenticated read, want 2 (session and record together)", p)
	}
}

// Where both stores share the pool, an authenticated read is one command
// (an MGET of record, session and the user's revocation mark, once the
// server has read the record before) on one connection.
func TestRedisRecordAndSessionReadInOneCommand(t *testing.T) {
	srv := redistest.Start(t)
	var now, peak atomic.Int64
	var cmds []string
	var mu sync.Mutex
	pool := &redis.Pool{MaxIdle: 4, Dial: func() (redis.Conn, error) {
		c, err := redis.Dial("unix", srv.Socket)
		if err != nil {
			return nil, err
		}
		return loggingConn{inFlightConn{Conn: c, now: &now, peak: &peak}, &mu, &cmds}, nil
	}}
	t.Cleanup(func() { _ = pool.Close() })
	h := prefetchApp(t, srv, pool, "together")
	signedIn := cookieHeader("", serveOnce(h, benchReq(http.MethodPost, "/login?user=alice", "")))
	for i := range 3 { // the first read learns the session store; the rest use it
		mu.Lock()
		cmds = nil
		mu.Unlock()
		peak.Store(0)
		if w := serveOnce(h, benchReq(http.MethodGet, "/me", signedIn)); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"user":"alice"`) {
			t.Fatalf("/me: %d %s", w.Code, w.Body)
		}
		mu.Lock()
		got := strings.Join(cmds, " ")
		mu.Unlock()
		if i > 0 && (got != "MGET" || peak.Load() != 1) {
			t.Fatalf("read %d: commands %q, at most %d in flight; want one MGET", i, got, peak.Load())
		}
	}
}

// loggingConn records the name of every command sent on it.
type loggingConn struct {
	inFlightConn
	mu   *sync.Mutex
	cmds *[]string
}

func (c loggingConn) log(cmd string) {
	if cmd == "" {
		return // the pool's flush when a connection is given back
	}
	c.mu.Lock()
	*c.cmds = append(*c.cmds, cmd)
	c.mu.Unlock()
}

func (c loggingConn) Do(cmd string, args ...any) (any, error) {
	c.log(cmd)
	return c.inFlightConn.Do(cmd, args...)
}

func (c loggingConn) DoContext(ctx context.Context, cmd string, args ...any) (any, error) {
	c.log(cmd)
	return c.inFlightConn.DoContext(ctx, cmd, args...)
}
