package redisstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ginsecure/ginsecure/internal/redistest"
	"github.com/gomodule/redigo/redis"
)

// The undo of a stale session write puts back what the write overwrote,
// with its lifetime, and leaves a write made after it (DESIGN.md,
// "Writes"): an ending's stale write must not take the browser's later
// acknowledged write with it.
func TestUndoOfASessionWriteKeepsALaterWrite(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Pool().Get()
	defer c.Close()
	ctx := context.Background()
	get := func(key string) (string, int64) {
		t.Helper()
		v, err := redis.String(c.Do("GET", key))
		if errors.Is(err, redis.ErrNil) {
			v = "(none)"
		} else if err != nil {
			t.Fatal(err)
		}
		ttl, err := redis.Int64(c.Do("TTL", key))
		if err != nil {
			t.Fatal(err)
		}
		return v, ttl
	}
	set := func(key, v string, secs int) {
		t.Helper()
		if _, err := c.Do("SETEX", key, secs, v); err != nil {
			t.Fatal(err)
		}
	}
	stale := func(key string) func(context.Context, redis.Conn) error {
		t.Helper()
		undo, err := saveKeepingPrevious(ctx, c, key, []byte("stale"), 90*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if v, ttl := get(key); v != "stale" || ttl != 90 {
			t.Fatalf("after the write: %q ttl %d; want stale, 90", v, ttl)
		}
		return undo
	}
	undo := func(u func(context.Context, redis.Conn) error) {
		t.Helper()
		if err := u(ctx, c); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("previous value back with its lifetime", func(t *testing.T) {
		set("s:a", "anonymous-after-the-ending", 50)
		undo(stale("s:a"))
		if v, ttl := get("s:a"); v != "anonymous-after-the-ending" || ttl < 49 || ttl > 50 {
			t.Errorf("after the undo: %q ttl %d; want the previous value, ttl 50", v, ttl)
		}
	})
	t.Run("nothing before: deleted", func(t *testing.T) {
		undo(stale("s:b"))
		if v, _ := get("s:b"); v != "(none)" {
			t.Errorf("after the undo: %q; want no key", v)
		}
	})
	t.Run("no expiry before: none after", func(t *testing.T) {
		if _, err := c.Do("SET", "s:c", "forever"); err != nil {
			t.Fatal(err)
		}
		undo(stale("s:c"))
		if v, ttl := get("s:c"); v != "forever" || ttl != -1 {
			t.Errorf("after the undo: %q ttl %d; want forever, no expiry", v, ttl)
		}
	})
	t.Run("a later write stays", func(t *testing.T) {
		set("s:d", "before", 50)
		u := stale("s:d")
		set("s:d", "later", 70)
		undo(u)
		if v, ttl := get("s:d"); v != "later" || ttl < 69 {
			t.Errorf("after the undo: %q ttl %d; want the later write, ttl 70", v, ttl)
		}
	})
}
