package ginsecure_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/ginsecure/ginsecure"
	"github.com/ginsecure/ginsecure/internal/redistest"
	"github.com/gomodule/redigo/redis"
)

// readmePool is the pool of README's "Several servers: Redis" on srv's
// socket: no PING on borrow for a connection idle less than a minute.
func readmePool(t *testing.T, srv *redistest.Server) *redis.Pool {
	p := &redis.Pool{
		MaxIdle:     16,
		IdleTimeout: 4 * time.Minute,
		Dial: func() (redis.Conn, error) {
			return redis.Dial("unix", srv.Socket,
				redis.DialConnectTimeout(2*time.Second),
				redis.DialReadTimeout(2*time.Second),
				redis.DialWriteTimeout(2*time.Second))
		},
		TestOnBorrow: func(c redis.Conn, idleSince time.Time) error {
			if time.Since(idleSince) < time.Minute {
				return nil
			}
			_, err := c.Do("PING")
			return err
		},
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// restartKind is one kind of request in the mixed sequence: prepare
// readies its browser before the restart, before the clock moves past
// RotateEvery where due is set; send makes the request after it and
// reports whether it was served.
type restartKind struct {
	name    string
	due     bool // prepared before the clock moves: its token is due for rotation
	prepare func(b *browser)
	send    func(b *browser) bool
	stays   bool // the browser is signed in afterwards
}

func restartKinds() []restartKind {
	signIn := func(b *browser) { b.login("alice") }
	served := func(r reply, user string) bool { return r.status == http.StatusOK && r.user() == user }
	return []restartKind{
		{"read", false, signIn, func(b *browser) bool { return served(b.get("/me"), "alice") }, true},
		{"write", false, signIn, func(b *browser) bool { return served(b.post("/me/write"), "alice") }, true},
		{"rotation due", true, signIn, func(b *browser) bool {
			r := b.get("/me")
			return served(r, "alice") && hasCookie(r.cookies, ginsecure.DefaultCookieName)
		}, true},
		{"login", false, func(*browser) {}, func(b *browser) bool { return served(b.post("/login?user=alice"), "alice") }, true},
		{"logout", false, signIn, func(b *browser) bool {
			return served(b.post("/logout"), "") && b.get("/me").status == http.StatusUnauthorized
		}, false},
		{"Renew", false, signIn, func(b *browser) bool { return served(b.post("/renew"), "alice") }, true},
		{"anonymous write", false, func(*browser) {}, func(b *browser) bool {
			r := b.post("/cart?item=book")
			return r.status == http.StatusOK && b.get("/cart").body["cart"] == "book"
		}, false},
	}
}

// restartRun prepares rounds browsers of each of kinds on a fresh app
// with README's pool, fills the pool's 16 idle slots, restarts Redis
// with its data, sends the requests (round by round, each kind in turn)
// and returns the failures per kind; it fails the test for every browser
// signed out that should not be.
// store is the env's kind: "redis" (redisstore.NewSessionStore) or
// "redis-gincontrib" (gin-contrib's own NewStoreWithPool).
func restartRun(t *testing.T, store string, kinds []restartKind, rounds int) (failed map[string]int) {
	srv := redistest.Start(t)
	pool := readmePool(t, srv)
	e := newEnv(t, store, ginsecure.Config{}, withRedis(srv), withPool(pool))
	browsers := make([][]*browser, rounds)
	for i := range browsers {
		browsers[i] = make([]*browser, len(kinds))
	}
	for _, due := range []bool{true, false} {
		for i := range browsers {
			for k, kind := range kinds {
				if kind.due == due {
					browsers[i][k] = e.browser()
					kind.prepare(browsers[i][k])
				}
			}
		}
		if due {
			e.clock.Advance(ginsecure.DefaultRotateEvery + time.Second)
		}
	}
	held := make([]redis.Conn, pool.MaxIdle) // a burst left every idle slot filled
	for i := range held {
		held[i] = pool.Get()
		if _, err := held[i].Do("PING"); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range held {
		c.Close()
	}
	srv.RestartKeepingData()

	failed = map[string]int{}
	for i := range rounds {
		for k, kind := range kinds {
			if !kind.send(browsers[i][k]) {
				failed[kind.name]++
				t.Logf("%s, round %d, after the restart: failed", kind.name, i)
			}
		}
	}
	for i := range rounds {
		for k, kind := range kinds {
			if kind.stays && browsers[i][k].get("/me").status != http.StatusOK {
				t.Errorf("%s, round %d: signed out after the restart", kind.name, i)
			}
		}
	}
	return failed
}

// gincontribOnly is the kind whose request sends no command of
// ginsecure's: a new visitor's write, gin-contrib's store's (boj/
// redistore) SETEX alone, which it does not send again. It fails where
// that SETEX draws a dead pooled connection. A logout's DEL and a Renew's
// SETEX, gin-contrib's too, follow the record's commands, and the first
// of those that finds a dead connection drains the pool of them.
const gincontribOnly = "anonymous write"

// After Redis restarts with its data kept (persistence, a failover), every
// idle connection of README's pool is dead. On one pool for both stores,
// as README builds it, the records' commands are sent again on a fresh
// connection, and the first that finds a dead one drains the pool of
// them: no request fails, and nobody is signed out, in a mixed sequence of
// every kind (four rounds, 28 requests against 16 dead idle connections)
// nor with each kind alone right after the restart, but for a new
// visitor's writes alone (gincontribOnly), which keep gin-contrib's own
// behaviour. The figures are logged (-v).
func TestRedisRestartWithDataKeptSignsNobodyOut(t *testing.T) {
	const rounds = 4
	kinds := restartKinds()
	check := func(t *testing.T, failed map[string]int, kinds []restartKind) {
		total := 0
		for _, kind := range kinds {
			total += failed[kind.name]
			t.Logf("%-16s %d of %d failed", kind.name, failed[kind.name], rounds)
			if kind.name != gincontribOnly && failed[kind.name] > 0 {
				t.Errorf("%s: %d of %d requests failed after a restart", kind.name, failed[kind.name], rounds)
			}
		}
		t.Logf("%d of %d requests failed after a restart with 16 idle dead connections", total, rounds*len(kinds))
	}
	t.Run("mixed", func(t *testing.T) { check(t, restartRun(t, "redis", kinds, rounds), kinds) })
	// gin-contrib's own store, on the ordinary path: the same protections.
	t.Run("mixed, gin-contrib's NewStoreWithPool", func(t *testing.T) {
		check(t, restartRun(t, "redis-gincontrib", kinds, rounds), kinds)
	})
	for _, kind := range kinds {
		t.Run(kind.name, func(t *testing.T) {
			one := []restartKind{kind}
			check(t, restartRun(t, "redis", one, rounds), one)
		})
	}
}
