package ginsecure_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ginsecure/ginsecure"
	"github.com/ginsecure/ginsecure/internal/redistest"
	"github.com/ginsecure/ginsecure/redisstore"
)

// logCapture is a Config.Logger whose records the test reads back.
type logCapture struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logCapture) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(&lockedWriter{w: &l.buf, mu: &l.mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// about returns the records whose message contains s.
func (l *logCapture) about(s string) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(l.buf.Bytes()))
	for sc.Scan() {
		var r map[string]any
		if json.Unmarshal(sc.Bytes(), &r) == nil && strings.Contains(r["msg"].(string), s) {
			out = append(out, r)
		}
	}
	return out
}

// await waits (up to 5 s) for a record about s: the check runs in a
// goroutine of its own.
func (l *logCapture) await(t *testing.T, s string) map[string]any {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if rs := l.about(s); len(rs) > 0 {
			return rs[0]
		}
	}
	t.Fatalf("no log record about %q", s)
	return nil
}

// Revocation finds a user's sessions through the per-user index key; a
// Redis that may evict keys (allkeys-*, volatile-*: every key of the
// store has a TTL) can drop it, and RevokeUser then misses sessions. At
// the first connection the Redis store checks maxmemory-policy and says
// so through Config.Logger: an ERROR naming noeviction where another
// policy is set, a WARN where CONFIG GET is refused, nothing above DEBUG
// under noeviction. The check never holds New or a request.
func TestRedisEvictionPolicyIsCheckedThroughTheLogger(t *testing.T) {
	cases := []struct {
		name  string
		args  []string
		level string // of the record about maxmemory-policy
	}{
		{"allkeys-lru", []string{"--maxmemory-policy", "allkeys-lru"}, "ERROR"},
		{"volatile-ttl", []string{"--maxmemory-policy", "volatile-ttl"}, "ERROR"},
		{"noeviction", []string{"--maxmemory-policy", "noeviction"}, "DEBUG"},
		{"CONFIG renamed", []string{"--rename-command", "CONFIG", ""}, "WARN"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := redistest.StartWith(t, tc.args...)
			var logs logCapture
			e := newEnv(t, "redis", ginsecure.Config{Logger: logs.logger()}, withRedis(srv))
			e.browser().login("alice")
			r := logs.await(t, "maxmemory-policy")
			if r["level"] != tc.level {
				t.Fatalf("the check logged %v %q, want %s", r["level"], r["msg"], tc.level)
			}
			if n := len(logs.about("maxmemory-policy")); n != 1 {
				t.Fatalf("%d records about maxmemory-policy, want 1 (once per store)", n)
			}
			if tc.level == "ERROR" && (!strings.Contains(r["msg"].(string), "noeviction") || r["policy"] != tc.name) {
				t.Fatalf("the ERROR does not name noeviction and the policy: %v", r)
			}
		})
	}
}

// A Redis that is down holds nothing up: New returns at once, and the
// check, tried by the first operation, waits for a later one after Redis
// answers.
func TestRedisEvictionPolicyCheckWaitsForRedis(t *testing.T) {
	srv := redistest.StartWith(t, "--maxmemory-policy", "allkeys-lru")
	var logs logCapture
	e := newEnv(t, "redis", ginsecure.Config{Logger: logs.logger()}, withRedis(srv))
	srv.Stop()
	start := time.Now()
	if _, err := ginsecure.New(ginsecure.Config{Store: redisstore.New(srv.Pool()), Logger: logs.logger()}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Fatalf("New with Redis down took %v", d)
	}
	b := e.browser()
	if r := b.post("/login?user=alice"); r.status != http.StatusServiceUnavailable {
		t.Fatalf("login with Redis down: %d %v, want 503", r.status, r.body)
	}
	time.Sleep(100 * time.Millisecond)
	if rs := logs.about("maxmemory-policy"); len(rs) != 0 {
		t.Fatalf("logged with Redis down: %v", rs)
	}
	srv.Restart()
	b.login("alice")
	if r := logs.await(t, "maxmemory-policy"); r["level"] != "ERROR" {
		t.Fatalf("after Redis came up: %v, want the ERROR", r)
	}
}
