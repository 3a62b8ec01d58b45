package ginsecure_test

// Sessions read and saved together with the records (session_redis.go):
// whatever the fast path does gives what the sequential order gives.

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gin-contrib/sessions"
	gredis "github.com/gin-contrib/sessions/redis"
	"github.com/gin-gonic/gin"
	"github.com/ginsecure/ginsecure"
	"github.com/ginsecure/ginsecure/internal/redistest"
	"github.com/ginsecure/ginsecure/redisstore"
	"github.com/ginsecure/ginsecure/storeext"
	"github.com/gomodule/redigo/redis"
)

// A Guard shared by an engine with Redis sessions and one without any
// sessions middleware (or with gin-contrib's SessionsMany, whose context
// value is not one session): once the Guard has learned the Redis
// sessions, a request with a token cookie on the other engine is served
// as it would be without them, never a panic.
func TestRedisSessionsLearnedServeAnEngineWithoutSessions(t *testing.T) {
	srv := redistest.Start(t)
	pool := srv.Pool()
	st, err := gredis.NewStoreWithPool(pool, sessionSecret)
	if err != nil {
		t.Fatal(err)
	}
	st.Options(sessions.Options{Path: "/", MaxAge: 86400})
	g, err := ginsecure.New(ginsecure.Config{Store: redisstore.New(pool, redisstore.WithPrefix("sr:")), Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	withSessions := gin.New()
	withSessions.Use(sessions.Sessions("app", st), g.Middleware())
	installRoutes(withSessions, g)
	signedIn := cookieHeader("", serveOnce(withSessions, benchReq(http.MethodPost, "/login?user=alice", "")))
	if w := serveOnce(withSessions, benchReq(http.MethodGet, "/me", signedIn)); w.Code != http.StatusOK {
		t.Fatalf("/me: %d %s", w.Code, w.Body)
	}
	for name, mw := range map[string][]gin.HandlerFunc{
		"no sessions":  {g.Middleware()},
		"SessionsMany": {sessions.SessionsMany([]string{"app", "other"}, st), g.Middleware()},
	} {
		t.Run(name, func(t *testing.T) {
			r := gin.New()
			r.Use(mw...)
			r.GET("/public", func(c *gin.Context) {
				u, _ := ginsecure.UserID(c)
				c.String(http.StatusOK, "user=%s", u)
			})
			var w *httptest.ResponseRecorder
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Fatalf("panic: %v", p)
					}
				}()
				w = serveOnce(r, benchReq(http.MethodGet, "/public", signedIn))
			}()
			if w.Code != http.StatusOK || !strings.HasPrefix(w.Body.String(), "user=") {
				t.Fatalf("/public: %d %s", w.Code, w.Body)
			}
		})
	}
}

// redisSnapshot is every key of srv with its value (DUMP) and TTL.
type redisSnapshot map[string][2]any

func snapshotRedis(t *testing.T, srv *redistest.Server) redisSnapshot {
	t.Helper()
	c, err := redis.Dial("unix", srv.Socket)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	keys, err := redis.Strings(c.Do("KEYS", "*"))
	if err != nil {
		t.Fatal(err)
	}
	snap := redisSnapshot{}
	for _, k := range keys {
		v, err := c.Do("DUMP", k)
		if err != nil {
			t.Fatal(err)
		}
		ttl, err := redis.Int64(c.Do("PTTL", k))
		if err != nil {
			t.Fatal(err)
		}
		if ttl < 0 {
			ttl = 0
		}
		snap[k] = [2]any{v, ttl}
	}
	return snap
}

// restore puts the snapshot back (after a restart emptied the server).
func (snap redisSnapshot) restore(t *testing.T, srv *redistest.Server) {
	t.Helper()
	c, err := redis.Dial("unix", srv.Socket)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for k, v := range snap {
		if _, err := c.Do("RESTORE", k, v[1], v[0], "REPLACE"); err != nil {
			t.Fatal(err)
		}
	}
}

// After Redis restarts (the data kept, as with persistence or a
// failover), every idle connection of a pool without a PING on borrow is
// dead. The sequential order's reads go past them (boj/redistore's load is
// tried again, the records' reads retry), so the request's session write
// then succeeds; a write of the fast path must succeed as well.
func TestRedisSessionWriteAfterARestartSucceedsAsInSequence(t *testing.T) {
	srv := redistest.Start(t)
	for _, mode := range readModes {
		t.Run(mode, func(t *testing.T) {
			pool := &redis.Pool{MaxIdle: 8, Dial: func() (redis.Conn, error) {
				return redis.Dial("unix", srv.Socket, redis.DialReadTimeout(2*time.Second), redis.DialWriteTimeout(2*time.Second))
			}}
			t.Cleanup(func() { _ = pool.Close() })
			h := prefetchApp(t, srv, pool, mode)
			signedIn := cookieHeader("", serveOnce(h, benchReq(http.MethodPost, "/login?user=alice", "")))
			if w := serveOnce(h, benchReq(http.MethodGet, "/me", signedIn)); w.Code != http.StatusOK {
				t.Fatalf("/me: %d %s", w.Code, w.Body)
			}
			held := make([]redis.Conn, 8) // a burst left 8 idle connections
			for i := range held {
				held[i] = pool.Get()
				if _, err := held[i].Do("PING"); err != nil {
					t.Fatal(err)
				}
			}
			for _, c := range held {
				c.Close()
			}
			snap := snapshotRedis(t, srv)
			srv.Restart()
			snap.restore(t, srv)
			w := serveOnce(h, benchReq(http.MethodPost, "/cart?item=book", signedIn))
			if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"user":"alice"`) {
				t.Fatalf("session write after a restart: %d %s", w.Code, w.Body)
			}
			if w := serveOnce(h, benchReq(http.MethodGet, "/cart", cookieHeader(signedIn, w))); !strings.Contains(w.Body.String(), `"cart":"book"`) {
				t.Fatalf("/cart after the write: %d %s", w.Code, w.Body)
			}
		})
	}
}

// A client that goes away while its request is served (a navigation, an
// aborted fetch) cancels the request's context. The handler's work is done
// by then; in the sequential order boj/redistore writes the session all
// the same (its commands take no context) and the marker check that cannot
// run lets the write stand. The fast path's write stands as well.
func TestRedisSessionWriteOfARequestWhoseClientLeftStandsAsInSequence(t *testing.T) {
	srv := redistest.Start(t)
	for _, mode := range readModes {
		t.Run(mode, func(t *testing.T) {
			pool := srv.Pool()
			h := prefetchApp(t, srv, pool, mode)
			var cancel context.CancelFunc
			h.(*gin.Engine).POST("/leave-and-write", func(c *gin.Context) {
				s := sessions.Default(c)
				s.Set("cart", c.Query("item"))
				cancel() // the client went away while the handler worked
				if err := s.Save(); err != nil {
					c.String(http.StatusInternalServerError, "save: %v", err)
					return
				}
				c.String(http.StatusOK, "saved")
			})
			signedIn := cookieHeader("", serveOnce(h, benchReq(http.MethodPost, "/login?user=alice", "")))
			for i := range 2 { // the first request learns the session store
				req := benchReq(http.MethodPost, "/leave-and-write?item=book"+strconv.Itoa(i), signedIn)
				ctx, stop := context.WithCancel(req.Context())
				cancel = stop
				w := serveOnce(h, req.WithContext(ctx))
				stop()
				if w.Code != http.StatusOK {
					t.Fatalf("write %d: %d %s", i, w.Code, w.Body)
				}
				signedIn = cookieHeader(signedIn, w)
				if w := serveOnce(h, benchReq(http.MethodGet, "/cart", signedIn)); !strings.Contains(w.Body.String(), `"cart":"book`+strconv.Itoa(i)+`"`) {
					t.Fatalf("/cart after write %d: %d %s", i, w.Code, w.Body)
				}
			}
		})
	}
}

// sharedApp is the test app on one pool shared by gin-contrib's Redis
// session store (redisstore.NewSessionStore, configured by cfg) and
// ginsecure's, reading in readMode (readModes); two apps on one server
// are two servers sharing Redis.
func sharedApp(t *testing.T, pool *redis.Pool, readMode string, cfg ...redisstore.SessionOption) *gin.Engine {
	t.Helper()
	st, err := redisstore.NewSessionStore(pool, [][]byte{sessionSecret}, cfg...)
	if err != nil {
		t.Fatal(err)
	}
	st.Options(sessions.Options{Path: "/", MaxAge: 86400, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	var store storeext.Store = redisstore.New(pool, redisstore.WithPrefix("sa:"))
	if readMode == "prefetch" {
		store = prefetchOnly{store, store.(storeext.Prefetcher), store.(storeext.SessionSharer)}
	}
	g, err := ginsecure.New(ginsecure.Config{Store: store, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	r := gin.New()
	r.Use(sessions.Sessions("app", st), g.Middleware())
	installRoutes(r, g)
	return r
}

// boj/redistore's formats (its serializer, its key prefix, its size
// limit) are kept by both paths: what a server reading the session
// together with the record writes, one reading them in sequence reads,
// and the other way round; a session over the size limit is refused with
// ErrSessionTooLarge on both.
func TestRedisSessionsOfBothReadModesReadEachOther(t *testing.T) {
	srv := redistest.Start(t)
	for name, cfg := range map[string][]redisstore.SessionOption{
		"gob":        nil,
		"json":       {redisstore.WithJSONSessions()},
		"key prefix": {redisstore.WithSessionPrefix("other_")},
		"max length": {redisstore.WithSessionMaxLength(300)},
	} {
		t.Run(name, func(t *testing.T) {
			pool := srv.Pool()
			apps := map[string]*gin.Engine{}
			for _, m := range readModes {
				apps[m] = sharedApp(t, pool, m, cfg...)
			}
			signedIn := cookieHeader("", serveOnce(apps["together"], benchReq(http.MethodPost, "/login?user=alice", "")))
			for i, step := range []struct{ write, read string }{
				{"together", "prefetch"}, {"prefetch", "together"}, {"together", "together"}, {"prefetch", "prefetch"},
			} {
				item := "item" + strconv.Itoa(i)
				w := serveOnce(apps[step.write], benchReq(http.MethodPost, "/cart?item="+item, signedIn))
				if w.Code != http.StatusOK {
					t.Fatalf("write on %s: %d %s", step.write, w.Code, w.Body)
				}
				signedIn = cookieHeader(signedIn, w)
				w = serveOnce(apps[step.read], benchReq(http.MethodGet, "/cart", signedIn))
				if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"cart":"`+item+`"`) || !strings.Contains(w.Body.String(), `"user":"alice"`) {
					t.Fatalf("written on %s, read on %s: %d %s", step.write, step.read, w.Code, w.Body)
				}
			}
			if name != "max length" {
				return
			}
			for _, m := range readModes {
				w := serveOnce(apps[m], benchReq(http.MethodPost, "/cart?item="+strings.Repeat("x", 400), signedIn))
				if w.Code != http.StatusInternalServerError || !strings.Contains(w.Body.String(), "too") {
					t.Fatalf("a session over the size limit on %s: %d %s", m, w.Code, w.Body)
				}
			}
		})
	}
}

// A session's lifetime is boj/redistore's TTL whatever its size: a MaxAge
// beyond what time.Duration holds (some three hundred years) is kept by
// the fast path's write as by boj/redistore's SETEX, not wrapped around.
func TestRedisSessionWriteKeepsAVeryLongMaxAge(t *testing.T) {
	srv := redistest.Start(t)
	const maxAge = 1 << 40 // seconds
	for _, mode := range readModes {
		t.Run(mode, func(t *testing.T) {
			pool := srv.Pool()
			h := sharedApp(t, pool, mode)
			h.POST("/forever", func(c *gin.Context) {
				s := sessions.Default(c)
				s.Options(sessions.Options{Path: "/", MaxAge: maxAge})
				s.Set("cart", "forever")
				if err := s.Save(); err != nil {
					c.String(http.StatusInternalServerError, "save: %v", err)
					return
				}
				c.String(http.StatusOK, "%s", s.ID())
			})
			signedIn := cookieHeader("", serveOnce(h, benchReq(http.MethodPost, "/login?user=alice", "")))
			for i := range 2 {
				w := serveOnce(h, benchReq(http.MethodPost, "/forever", signedIn))
				if w.Code != http.StatusOK {
					t.Fatalf("write %d: %d %s", i, w.Code, w.Body)
				}
				c := pool.Get()
				ttl, err := redis.Int64(c.Do("TTL", "session_"+w.Body.String()))
				c.Close()
				if err != nil || ttl < maxAge-60 {
					t.Fatalf("write %d: TTL %d (%v), want about %d", i, ttl, err, maxAge)
				}
			}
		})
	}
}
