package ginsecure_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/gin-contrib/sessions"
	"github.com/gin-contrib/sessions/memstore"
	gredis "github.com/gin-contrib/sessions/redis"
	"github.com/gin-gonic/gin"
	"github.com/ginsecure/ginsecure"
	"github.com/ginsecure/ginsecure/internal/redistest"
	"github.com/ginsecure/ginsecure/redisstore"
	"github.com/ginsecure/ginsecure/storeext"
	gsessions "github.com/gorilla/sessions"
)

// A Guard that learned the Redis sessions of redisstore.NewSessionStore
// also serves a route whose sessions.Sessions keeps sessions of the same
// name in another store (gin-contrib's memstore, with the same keys: its
// cookie decodes as a Redis session's would). The session read early
// from Redis is handed to gin-contrib, whose memstore takes it from
// gorilla's registry; the Guard finds it in another store after the load
// and loads it again there, so the signed-in user keeps its cart.
func TestSessionOfAnotherStoreIsLoadedThroughItsOwnStore(t *testing.T) {
	srv := redistest.Start(t)
	pool := srv.Pool()
	rst, err := redisstore.NewSessionStore(pool, [][]byte{sessionSecret})
	if err != nil {
		t.Fatal(err)
	}
	mst := memstore.NewStore(sessionSecret)
	opts := sessions.Options{Path: "/", MaxAge: 86400}
	rst.Options(opts)
	mst.Options(opts)
	g, err := ginsecure.New(ginsecure.Config{Store: redisstore.New(pool, redisstore.WithPrefix("ao:")), Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	onRedis, onMem := gin.New(), gin.New()
	onRedis.Use(sessions.Sessions("app", rst), g.Middleware())
	onMem.Use(sessions.Sessions("app", mst), g.Middleware())
	installRoutes(onRedis, g)
	installRoutes(onMem, g)

	// The Guard learns the Redis sessions first.
	bob := cookieHeader("", serveOnce(onRedis, benchReq(http.MethodPost, "/login?user=bob", "")))
	if w := serveOnce(onRedis, benchReq(http.MethodGet, "/me", bob)); w.Code != http.StatusOK {
		t.Fatalf("/me on Redis: %d %s", w.Code, w.Body)
	}
	alice := cookieHeader("", serveOnce(onMem, benchReq(http.MethodPost, "/login?user=alice", "")))
	w := serveOnce(onMem, benchReq(http.MethodPost, "/cart?item=pear", alice))
	if w.Code != http.StatusOK {
		t.Fatalf("cart on memstore: %d %s", w.Code, w.Body)
	}
	alice = cookieHeader(alice, w)
	w = serveOnce(onMem, benchReq(http.MethodGet, "/cart", alice))
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"cart":"pear"`) || !strings.Contains(w.Body.String(), `"user":"alice"`) {
		t.Fatalf("a memstore session served next to learned Redis sessions: %d %s", w.Code, w.Body)
	}
}

// gin-contrib's own Redis store (ginredis.NewStoreWithPool) on the
// records' pool works on the ordinary path, with the protections of the
// Redis store: a store that deletes every session it saves (no MaxAge)
// is refused at login with ErrSessionNotPersisted and logged at the first
// request; with a MaxAge the user signs in, reads and writes.
func TestGinContribOwnRedisStoreKeepsTheProtections(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, nil))
	e := newEnv(t, "redis-gincontrib", ginsecure.Config{Logger: logger})
	if _, err := gredis.GetRedisStore(e.sess.(gredis.Store)); err != nil {
		t.Fatalf("the env's session store is not gin-contrib's own: %v", err)
	}
	e.sess.Options(sessions.Options{Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode}) // no MaxAge
	b := e.browser()
	if r := b.get("/public"); r.status != http.StatusOK {
		t.Fatalf("first request: %d %v", r.status, r.body)
	}
	mu.Lock()
	logged := buf.String()
	mu.Unlock()
	if !strings.Contains(logged, "level=ERROR") || !strings.Contains(logged, "MaxAge") {
		t.Errorf("the first request logged no error naming MaxAge: %q", logged)
	}
	if r := b.post("/login?user=alice"); r.errCode() != "session_not_persisted" {
		t.Fatalf("login on gin-contrib's Redis store without MaxAge: %d %v, want session_not_persisted", r.status, r.body)
	}
	if list, _ := e.guard.Sessions(context.Background(), "alice"); len(list) != 0 {
		t.Errorf("the refused login left sessions: %v", list)
	}

	e2 := newEnv(t, "redis-gincontrib", ginsecure.Config{})
	b2 := e2.browser()
	b2.login("alice")
	if r := b2.post("/cart?item=fig"); r.status != http.StatusOK {
		t.Fatalf("write: %d %v", r.status, r.body)
	}
	if r := b2.get("/cart"); r.status != http.StatusOK || r.body["cart"] != "fig" || r.body["user"] != "alice" {
		t.Fatalf("read: %d %v", r.status, r.body)
	}
}

// knownOf forwards storeext.SessionSharer through a test's wrapper of a
// Store: a records store that knows gin-contrib's Redis session store
// (redisstore) keeps knowing it behind the wrapper.
func knownOf(st storeext.Store, s gsessions.Store) storeext.KnownSessions {
	if sh, ok := st.(storeext.SessionSharer); ok {
		return sh.SharedSessions(s)
	}
	return nil
}

// A route whose own middleware reads the session before the Guard (a
// session already loaded on the request) keeps its session store: the
// Guard, which learned Redis sessions on another route, hands it no early
// read, so a memstore session there is neither replaced nor given the
// Redis store (its Save would write it into Redis).
func TestSessionLoadedBeforeTheGuardKeepsItsStore(t *testing.T) {
	srv := redistest.Start(t)
	pool := srv.Pool()
	rst, err := redisstore.NewSessionStore(pool, [][]byte{sessionSecret})
	if err != nil {
		t.Fatal(err)
	}
	mst := memstore.NewStore(sessionSecret)
	opts := sessions.Options{Path: "/", MaxAge: 86400}
	rst.Options(opts)
	mst.Options(opts)
	g, err := ginsecure.New(ginsecure.Config{Store: redisstore.New(pool, redisstore.WithPrefix("lb:")), Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	onRedis, onMem := gin.New(), gin.New()
	onRedis.Use(sessions.Sessions("app", rst), g.Middleware())
	peek := func(c *gin.Context) { _ = sessions.Default(c).Get("peek") } // loads the session before the Guard
	onMem.Use(sessions.Sessions("app", mst), peek, g.Middleware())
	installRoutes(onRedis, g)
	installRoutes(onMem, g)

	bob := cookieHeader("", serveOnce(onRedis, benchReq(http.MethodPost, "/login?user=bob", "")))
	if w := serveOnce(onRedis, benchReq(http.MethodGet, "/me", bob)); w.Code != http.StatusOK {
		t.Fatalf("/me on Redis: %d %s", w.Code, w.Body)
	}
	alice := cookieHeader("", serveOnce(onMem, benchReq(http.MethodPost, "/login?user=alice", "")))
	for _, item := range []string{"pear", "plum"} {
		w := serveOnce(onMem, benchReq(http.MethodPost, "/cart?item="+item, alice))
		if w.Code != http.StatusOK {
			t.Fatalf("cart on memstore: %d %s", w.Code, w.Body)
		}
		alice = cookieHeader(alice, w)
		w = serveOnce(onMem, benchReq(http.MethodGet, "/cart", alice))
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"cart":"`+item+`"`) || !strings.Contains(w.Body.String(), `"user":"alice"`) {
			t.Fatalf("a memstore session loaded before the Guard, after a write of %s: %d %s", item, w.Code, w.Body)
		}
	}
	c := pool.Get()
	defer c.Close()
	if keys, _ := redisKeys(c, "session_*"); len(keys) != 1 {
		t.Fatalf("Redis holds %d sessions, want bob's alone: %v", len(keys), keys)
	}
}

// redisKeys lists the keys matching pattern.
func redisKeys(c interface {
	Do(string, ...any) (any, error)
}, pattern string) ([]string, error) {
	v, err := c.Do("KEYS", pattern)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, k := range v.([]any) {
		out = append(out, string(k.([]byte)))
	}
	return out, nil
}
