package ginsecure_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
	"unique"

	"github.com/ginsecure/ginsecure"
	"github.com/ginsecure/ginsecure/internal/redistest"
	"github.com/ginsecure/ginsecure/redisstore"
	"github.com/ginsecure/ginsecure/storeext"
	"github.com/gomodule/redigo/redis"
	"github.com/google/uuid"
)

// memSizeSessions is how many live sessions the memory measurements hold.
const memSizeSessions = 100_000

// memSizeUA is a current desktop Chrome's User-Agent: records keep it.
const memSizeUA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

// memSizeRecord is a record as Login leaves it, for user i (one session
// per user: every session pays for its own index entry): its User-Agent
// one shared copy, as Login keeps it (newRecord).
func memSizeRecord(i int, now time.Time) storeext.Record {
	var tok [32]byte
	_, _ = rand.Read(tok[:])
	return storeext.Record{
		Handle: uuid.NewString(), UserID: "user-" + strconv.Itoa(i), TokenHash: tok, IssuedAt: now,
		IP: fmt.Sprintf("198.51.%d.%d", i/256%256, i%256), UserAgent: unique.Make(strings.Clone(memSizeUA)).Value(),
		CreatedAt: now, AuthAt: now, LastSeen: now, ExpiresAt: now.Add(30 * time.Minute),
	}
}

func heapAfterGC() uint64 {
	var ms runtime.MemStats
	for range 2 {
		runtime.GC()
	}
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestMemoryPerSession measures the bytes each live session costs in the
// memory store and in Redis, at 100k sessions. It is a measurement, not a
// check: it runs only with GINSECURE_MEMSIZE=1 (BENCHMARKS.md has the
// command) and logs its figures.
func TestMemoryPerSession(t *testing.T) {
	if os.Getenv("GINSECURE_MEMSIZE") == "" {
		t.Skip("a measurement: run with GINSECURE_MEMSIZE=1 -v")
	}
	ctx := context.Background()
	now := time.Now()

	t.Run("memory", func(t *testing.T) {
		st := ginsecure.NewMemoryStore()
		before := heapAfterGC()
		// Records built here, as Login builds them from the request: the
		// store holds the only reference to their strings.
		for i := range memSizeSessions {
			if err := st.Create(ctx, memSizeRecord(i, now), storeext.Limit{Max: 10}); err != nil {
				t.Fatal(err)
			}
		}
		afterRecs := heapAfterGC()
		for range memSizeSessions {
			// A login's marker: the replaced session's ID names the record.
			if err := st.SetMarker(ctx, "s:"+uuid.NewString(), storeext.Marker{At: now, Handle: "0123456789abcdefghijkA", ExpiresAt: now.Add(30 * time.Minute)}); err != nil {
				t.Fatal(err)
			}
		}
		afterMarks := heapAfterGC()
		t.Logf("memory store, %d sessions: %.0f bytes per session (record + user index), %.0f bytes per login marker",
			memSizeSessions, float64(afterRecs-before)/memSizeSessions, float64(afterMarks-afterRecs)/memSizeSessions)
		runtime.KeepAlive(st)
	})

	t.Run("redis", func(t *testing.T) {
		recs := make([]storeext.Record, memSizeSessions)
		for i := range recs {
			recs[i] = memSizeRecord(i, now)
		}
		srv := redistest.Start(t)
		pool := srv.Pool()
		st := redisstore.New(pool)
		c := pool.Get()
		defer c.Close()
		used := func() int64 {
			info, err := redis.String(c.Do("INFO", "memory"))
			if err != nil {
				t.Fatal(err)
			}
			for _, line := range strings.Split(info, "\r\n") {
				if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
					n, _ := strconv.ParseInt(v, 10, 64)
					return n
				}
			}
			t.Fatal("no used_memory in INFO memory")
			return 0
		}
		before := used()
		for _, r := range recs {
			if err := st.Create(ctx, r, storeext.Limit{Max: 10}); err != nil {
				t.Fatal(err)
			}
		}
		afterRecs := used()
		for _, r := range recs {
			if err := st.SetMarker(ctx, "s:"+uuid.NewString(), storeext.Marker{At: now, Handle: r.Handle, ExpiresAt: r.ExpiresAt}); err != nil {
				t.Fatal(err)
			}
		}
		afterMarks := used()
		recKey := "ginsecure:r:" + recs[0].Handle
		userKey := "ginsecure:u:" + recs[0].UserID
		recBytes, err := redis.Int64(c.Do("MEMORY", "USAGE", recKey))
		if err != nil {
			t.Fatal(err)
		}
		idxBytes, err := redis.Int64(c.Do("MEMORY", "USAGE", userKey))
		if err != nil {
			t.Fatal(err)
		}
		val, _ := redis.Bytes(c.Do("GET", recKey))
		t.Logf("redis, %d sessions: used_memory +%.0f bytes per session (record + user index), +%.0f per login marker; MEMORY USAGE: record key %d bytes (JSON value %d bytes), user index (one entry) %d bytes",
			memSizeSessions, float64(afterRecs-before)/memSizeSessions, float64(afterMarks-afterRecs)/memSizeSessions, recBytes, len(val), idxBytes)
	})
}
