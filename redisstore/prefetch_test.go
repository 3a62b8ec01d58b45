package redisstore

// The record's GET started ahead of the session's: it answers as Get
// would, gives its connection back as soon as it is answered, never waits
// for a connection the pool cannot give at once, and leaks nothing when
// it is left behind or its request is cancelled.

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ginsecure/ginsecure/internal/redistest"
	"github.com/ginsecure/ginsecure/storeext"
	"github.com/gomodule/redigo/redis"
)

// limitedPool is a pool on srv with the given limit and no idle
// connections kept, so that ActiveCount is the connections in use. The
// tests check it is back to 0, so it is not closed: redigo's Close closes
// the Wait channel that a cancelled GetContext sends its slot back on
// outside the pool's lock, which the race detector reports (and which
// panics, closed, under a waiter: see fetch.run).
func limitedPool(t *testing.T, srv *redistest.Server, maxActive int, wait bool) *redis.Pool {
	t.Helper()
	return &redis.Pool{MaxIdle: 0, MaxActive: maxActive, Wait: wait, Dial: func() (redis.Conn, error) {
		return redis.Dial("unix", srv.Socket, redis.DialReadTimeout(5*time.Second), redis.DialWriteTimeout(5*time.Second))
	}}
}

// settled waits until no connection of pool is in use and the goroutines
// are back to at most before, and fails the test if that does not happen.
func settled(t *testing.T, pool *redis.Pool, before int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		inUse, g := pool.ActiveCount()-pool.IdleCount(), runtime.NumGoroutine()
		if inUse == 0 && g <= before {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("leak: %d connections still in use, %d goroutines (were %d)", inUse, g, before)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var seeds atomic.Int64

// seeded is a store on pool holding one live record, and its handle.
func seeded(t *testing.T, pool *redis.Pool) (*Store, string) {
	t.Helper()
	s := New(pool, WithPrefix(fmt.Sprintf("pf%d:", seeds.Add(1))))
	now := time.Now()
	rec := storeext.Record{Handle: "AAAAAAAAAAAAAAAAAAAAAA", UserID: "alice", SessionID: "sid",
		IssuedAt: now, CreatedAt: now, AuthAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour)}
	if err := s.Create(context.Background(), rec, storeext.Limit{}); err != nil {
		t.Fatal(err)
	}
	return s, rec.Handle
}

func TestPrefetchAnswersAsGetAndGivesItsConnectionBack(t *testing.T) {
	srv := redistest.Start(t)
	for _, tc := range []struct {
		name      string
		maxActive int
		wait      bool
		started   bool // a second connection can be had at once
	}{
		{"unlimited", 0, false, true},
		{"MaxActive 2 without Wait (another request would fail at once)", 2, false, false},
		{"MaxActive 2 with Wait", 2, true, true},
		{"MaxActive 1", 1, false, false},
		{"MaxActive 1 with Wait", 1, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pool := limitedPool(t, srv, tc.maxActive, tc.wait)
			s, h := seeded(t, pool)
			before := runtime.NumGoroutine()
			for _, handle := range []string{h, "BBBBBBBBBBBBBBBBBBBBBB"} {
				join := s.Prefetch(context.Background(), handle)
				if (join != nil) != tc.started {
					t.Fatalf("Prefetch started: %v, want %v", join != nil, tc.started)
				}
				if join == nil {
					continue
				}
				rec, err := join()
				want, wantErr := s.Get(context.Background(), handle)
				if !errors.Is(err, wantErr) && err != wantErr || rec.UserID != want.UserID || rec.Handle != want.Handle {
					t.Fatalf("join: %+v %v; Get: %+v %v", rec, err, want, wantErr)
				}
			}
			settled(t, pool, before)
		})
	}
}

// A prefetch nobody joins (the session's load failed and the request was
// answered 503) frees its connection and goroutine by itself.
func TestPrefetchLeftUnjoinedFreesItself(t *testing.T) {
	srv := redistest.Start(t)
	pool := limitedPool(t, srv, 4, true)
	s, h := seeded(t, pool)
	before := runtime.NumGoroutine()
	for i := 0; i < 20; i++ {
		// Idle again (the last one's goroutine returned its connection):
		// a loaded machine may still be running it.
		for deadline := time.Now().Add(5 * time.Second); pool.ActiveCount() > pool.IdleCount() && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		if s.Prefetch(context.Background(), h) == nil {
			t.Fatal("not started on an idle pool of 4")
		}
	}
	settled(t, pool, before)
}

// A request cancelled before or during its prefetch gets what Get gives a
// cancelled context (an error or the record, never another record) and
// leaves no connection or goroutine behind.
func TestPrefetchWithACancelledContextLeaksNothing(t *testing.T) {
	srv := redistest.Start(t)
	for _, wait := range []bool{false, true} {
		pool := limitedPool(t, srv, 4, wait)
		s, h := seeded(t, pool)
		before := runtime.NumGoroutine()
		started := 0
		for i := 0; i < 50; i++ {
			ctx, cancel := context.WithCancel(context.Background())
			if i%2 == 0 {
				cancel() // before
			}
			join := s.Prefetch(ctx, h)
			if join == nil {
				// The last one's goroutine still holds its connection:
				// the sequential order, nothing to test.
				cancel()
				continue
			}
			started++
			cancel() // during, or already
			rec, err := join()
			if err == nil && rec.UserID != "alice" {
				t.Fatalf("cancelled prefetch answered %+v", rec)
			}
		}
		if wait && started < 10 {
			t.Fatalf("only %d of 50 prefetches started on a pool of 4", started)
		}
		if !wait && started != 0 {
			t.Fatalf("%d prefetches started on a pool of 4 without Wait", started)
		}
		settled(t, pool, before)
	}
}

// The count of spare connections and the goroutine's GetContext are two
// steps: another request may take the last connection in between. Then
// join neither fails where Get would not nor waits behind the pool: it
// leaves the goroutine (which gives up its wait) and reads on its own.
func TestPrefetchRaceForTheLastConnectionFallsBackToGet(t *testing.T) {
	srv := redistest.Start(t)
	for _, wait := range []bool{false, true} {
		pool := limitedPool(t, srv, 2, wait)
		s, h := seeded(t, pool)
		before := runtime.NumGoroutine()
		held := []redis.Conn{pool.Get(), pool.Get()} // the pool is full
		for _, c := range held {
			if c.Err() != nil {
				t.Fatal(c.Err())
			}
		}
		f := &fetch{s: s, ctx: context.Background(), wctx: context.Background(), handle: h, done: make(chan struct{})}
		if wait {
			f.wctx, f.cancel = context.WithCancel(f.ctx)
		}
		go f.run() // as Prefetch would, had it counted before the two were taken
		time.Sleep(10 * time.Millisecond)
		if !wait {
			<-f.done // ErrPoolExhausted at once
		}
		// Sequential order from here: the session's connection is given
		// back, and the record is read on it.
		held[0].Close()
		rec, err := f.join()
		if err != nil || rec.UserID != "alice" {
			t.Fatalf("wait=%v: join: %+v %v", wait, rec, err)
		}
		held[1].Close()
		<-f.done
		settled(t, pool, before)
	}
}
