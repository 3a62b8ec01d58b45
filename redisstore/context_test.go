package redisstore_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/ginsecure/ginsecure/redisstore"
	"github.com/ginsecure/ginsecure/storeext"
	"github.com/gomodule/redigo/redis"
)

// silentRedis accepts connections and reads commands but never answers (a
// Redis that hangs: stopped, swapping, a black-holed route). got is
// signalled at each command's first bytes.
func silentRedis(t *testing.T) (addr string, got <-chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan struct{}, 16)
	var mu sync.Mutex
	var conns []net.Conn
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				buf := make([]byte, 4096)
				for {
					if _, err := c.Read(buf); err != nil {
						return
					}
					select {
					case ch <- struct{}{}:
					default:
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String(), ch
}

// A store call returns when its context is cancelled, even where the
// Redis it waits for never answers and the pool's connections have no
// read timeout (the pool the package doc shows): a caller's context bounds
// the call, as it did with redigo's DoContext, whether or not it has a
// deadline. (A request's context is cancelled when its client goes away;
// an admin call's when its caller gives up.)
func TestRedisStoreCallReturnsWhenItsContextIsCancelled(t *testing.T) {
	addr, got := silentRedis(t)
	pool := &redis.Pool{MaxIdle: 4, Dial: func() (redis.Conn, error) { return redis.Dial("tcp", addr) }}
	t.Cleanup(func() { _ = pool.Close() })
	st := redisstore.New(pool)
	calls := map[string]func(context.Context) error{
		"Get":  func(ctx context.Context) error { _, err := st.Get(ctx, "h"); return err },
		"List": func(ctx context.Context) error { _, err := st.List(ctx, "alice"); return err },
		"Update": func(ctx context.Context) error {
			_, err := st.Update(ctx, "h", func(*storeext.Record) error { return nil })
			return err
		},
		"DeleteMarker": func(ctx context.Context) error { return st.DeleteMarker(ctx, "s:x", "h") },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- call(ctx) }()
			<-got // the command reached the server
			cancel()
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("%s after its context was cancelled: %v, want context.Canceled", name, err)
				}
			case <-time.After(10 * time.Second): // a hang detector, not a timing assertion
				t.Fatalf("%s still waits for a Redis that never answers after its context was cancelled", name)
			}
		})
	}
}
