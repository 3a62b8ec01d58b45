package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ginsecure/ginsecure"
	"github.com/ginsecure/ginsecure/internal/redistest"
	"github.com/ginsecure/ginsecure/redisstore"
	"github.com/gomodule/redigo/redis"
)

// restartPool is the pool the package doc recommends (no PING on borrow),
// with room for n idle connections; dials counts every connection opened.
func restartPool(t *testing.T, srv *redistest.Server, n int, dials *atomic.Int64) *redis.Pool {
	p := &redis.Pool{
		MaxIdle: n,
		Dial: func() (redis.Conn, error) {
			dials.Add(1)
			return redis.Dial("unix", srv.Socket, redis.DialConnectTimeout(time.Second),
				redis.DialReadTimeout(2*time.Second), redis.DialWriteTimeout(2*time.Second))
		},
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// fillPool leaves n live idle connections in p, as after a burst of
// parallel requests.
func fillPool(t *testing.T, p *redis.Pool, n int) {
	t.Helper()
	held := make([]redis.Conn, n)
	for i := range held {
		held[i] = p.Get()
		if _, err := held[i].Do("PING"); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range held {
		c.Close()
	}
	if got := p.IdleCount(); got != n {
		t.Fatalf("%d idle connections, want %d", got, n)
	}
}

// TestRedisRestartCostsNoRead: after Redis restarts, every idle connection
// of a pool without a PING on borrow is dead, and each used to cost one
// request a 503. The store's reads (Get, GetMarker, List) retry once on a
// fresh connection: 20 sequential reads after a restart, 20 idle dead
// connections, no failure. The figures are logged (-v).
func TestRedisRestartCostsNoRead(t *testing.T) {
	const idle = 20
	srv := redistest.Start(t)
	ctx := context.Background()
	now := time.Now()
	for _, read := range []string{"Get", "GetMarker", "List"} {
		t.Run(read, func(t *testing.T) {
			var dials atomic.Int64
			pool := restartPool(t, srv, idle, &dials)
			st := redisstore.New(pool, redisstore.WithPrefix("rs:"))
			fillPool(t, pool, idle)
			srv.Restart() // empty, and no scripts loaded
			// The data, written after the restart by another server.
			other := redisstore.New(srv.Pool(), redisstore.WithPrefix("rs:"))
			rec := ginsecure.Record{Handle: "00000000-0000-4000-8000-0000000000r1", UserID: "alice", CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour)}
			if err := other.Create(ctx, rec, ginsecure.Limit{}); err != nil {
				t.Fatal(err)
			}
			if err := other.SetMarker(ctx, "s:m", ginsecure.Marker{At: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			call := map[string]func() error{
				"Get":       func() error { _, err := st.Get(ctx, rec.Handle); return err },
				"GetMarker": func() error { _, err := st.GetMarker(ctx, "s:m"); return err },
				"List": func() error {
					rs, err := st.List(ctx, "alice")
					if err == nil && len(rs) != 1 {
						err = fmt.Errorf("List: %d records", len(rs))
					}
					return err
				},
			}[read]
			dials.Store(0)
			failed := 0
			for i := range idle {
				if err := call(); err != nil {
					failed++
					t.Logf("%s %d after the restart: %v", read, i, err)
				}
			}
			t.Logf("%s: %d of %d sequential reads failed after a restart with %d idle connections (%d dials)", read, failed, idle, idle, dials.Load())
			if failed != 0 {
				t.Fatalf("%d of %d reads failed after a Redis restart, want 0", failed, idle)
			}
		})
	}
}

// TestRedisWritesAreNotRetried: a write whose reply was lost may have been
// applied, so a write on a dead connection fails (the Guard answers 503)
// and is never sent again.
func TestRedisWritesAreNotRetried(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	now := time.Now()
	rec := ginsecure.Record{Handle: "00000000-0000-4000-8000-0000000000w1", UserID: "alice", CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour)}
	writes := []struct {
		name string
		call func(st ginsecure.Store) error
	}{
		{"Create", func(st ginsecure.Store) error { return st.Create(ctx, rec, ginsecure.Limit{}) }},
		{"Update", func(st ginsecure.Store) error {
			_, err := st.Update(ctx, rec.Handle, func(r *ginsecure.Record) error { r.LastSeen = now.Add(time.Second); return nil })
			return err
		}},
		{"SetMarker", func(st ginsecure.Store) error {
			return st.SetMarker(ctx, "s:w", ginsecure.Marker{At: now, ExpiresAt: now.Add(time.Hour)})
		}},
		{"Delete", func(st ginsecure.Store) error { return st.Delete(ctx, rec.Handle) }},
	}
	for _, w := range writes {
		t.Run(w.name, func(t *testing.T) {
			var dials atomic.Int64
			pool := restartPool(t, srv, 1, &dials)
			st := redisstore.New(pool, redisstore.WithPrefix("wr:"))
			fillPool(t, pool, 1)
			srv.Restart()
			other := redisstore.New(srv.Pool(), redisstore.WithPrefix("wr:"))
			if w.name != "Create" {
				if err := other.Create(ctx, rec, ginsecure.Limit{}); err != nil {
					t.Fatal(err)
				}
			}
			dials.Store(0)
			if err := w.call(st); err == nil {
				t.Fatalf("%s on a dead connection succeeded: it was sent again", w.name)
			}
			if n := dials.Load(); n != 0 {
				t.Fatalf("%s dialled %d connections after its connection broke: a retry", w.name, n)
			}
		})
	}
}

// TestRedisReadRetryOnlyForBrokenConnections: a Redis error reply or the
// caller's context ending is the answer, not a broken connection: no
// second attempt.
func TestRedisReadRetryOnlyForBrokenConnections(t *testing.T) {
	srv := redistest.Start(t)
	var dials atomic.Int64
	pool := restartPool(t, srv, 4, &dials)
	st := redisstore.New(pool, redisstore.WithPrefix("rr:"))
	c := pool.Get()
	if _, err := c.Do("LPUSH", "rr:r:wrongtype", "x"); err != nil { // GET on a list: WRONGTYPE
		t.Fatal(err)
	}
	c.Close()
	dials.Store(0)
	if _, err := st.Get(context.Background(), "wrongtype"); err == nil || errors.Is(err, ginsecure.ErrNotFound) {
		t.Fatalf("GET of a list: %v, want the error reply", err)
	}
	if n := dials.Load(); n != 0 {
		t.Fatalf("an error reply dialled %d new connections: retried", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if _, err := st.Get(ctx, "any"); err == nil {
			t.Error("Get with a cancelled context succeeded")
		}
	}()
	wg.Wait()
	if n := dials.Load(); n > 0 {
		t.Fatalf("a cancelled context dialled %d connections", n)
	}
}
