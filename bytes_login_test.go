package ginsecure_test

import (
	"net/http"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/ginsecure/ginsecure/internal/redistest"
	"github.com/gomodule/redigo/redis"
)

// TestRedisBytesPerLogin logs what one signed-in session costs Redis
// (MEMORY USAGE of every key one login leaves) in the benchmark's apps:
// gin-contrib/sessions alone and the Guard, each after one login of
// user-12345, without and with a desktop Chrome User-Agent, as the login
// leaves them and after its first request. It is a
// measurement, not a check: it runs only with GINSECURE_MEMSIZE=1
// (BENCHMARKS.md has the command).
func TestRedisBytesPerLogin(t *testing.T) {
	if os.Getenv("GINSECURE_MEMSIZE") == "" {
		t.Skip("a measurement: run with GINSECURE_MEMSIZE=1 -v")
	}
	for _, tc := range []struct {
		ua        string
		presented bool
	}{{"", false}, {"", true}, {memSizeUA, false}, {memSizeUA, true}} {
		ua := tc.ua
		srv := redistest.Start(t)
		bk := benchBackend{kind: "redis", redis: srv}
		base := baselineSide(t, bk)
		guard, _ := guardSide(t, bk, realConfig())
		c, err := redis.Dial("unix", srv.Socket)
		if err != nil {
			t.Fatal(err)
		}
		baseBytes := loginBytes(t, c, base, ua, tc.presented)
		guardBytes := loginBytes(t, c, guard, ua, tc.presented)
		c.Close()
		t.Logf("User-Agent %d bytes, presented %v: gin-contrib %s; guard %s", len(ua), tc.presented, baseBytes, guardBytes)
	}
}

// loginBytes signs user-12345 in on side (with User-Agent ua) and returns
// the MEMORY USAGE of each key the login added (and, where presented,
// its first request), logging the record's value.
func loginBytes(t *testing.T, c redis.Conn, side *benchSide, ua string, presented bool) string {
	t.Helper()
	before := keySet(t, c)
	r := benchReq(http.MethodPost, "/login?user=user-12345", "")
	if ua != "" {
		r.Header.Set("User-Agent", ua)
	}
	w := serveOnce(side.h, r)
	if w.Code != http.StatusOK {
		t.Fatalf("%s: login: %d %s", side.name, w.Code, w.Body.String())
	}
	if presented {
		// The first request after the login presents its credentials.
		r = benchReq(http.MethodGet, "/read", cookieHeader("", w))
		r.Header.Set("User-Agent", ua)
		if w := serveOnce(side.h, r); w.Code != http.StatusOK || w.Body.String() != "user-12345" {
			t.Fatalf("%s: read: %d %s", side.name, w.Code, w.Body.String())
		}
	}
	var parts []string
	total := int64(0)
	for _, k := range sortedKeys(keySet(t, c)) {
		if before[k] {
			continue
		}
		n, err := redis.Int64(c.Do("MEMORY", "USAGE", k, "SAMPLES", "0"))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(k, ":r:") {
			g, _ := redis.String(c.Do("GET", k))
			t.Logf("%s: %d bytes %s", k, len(g), g)
		}
		total += n
		parts = append(parts, k[:min(len(k), 14)]+"… "+itoa(n))
	}
	return strings.Join(parts, " + ") + " = " + itoa(total)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// keySet is every key in c's Redis (KEYS: a test server).
func keySet(t *testing.T, c redis.Conn) map[string]bool {
	t.Helper()
	ks, err := redis.Strings(c.Do("KEYS", "*"))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]bool{}
	for _, k := range ks {
		m[k] = true
	}
	return m
}

// sortedKeys is m's keys in order.
func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestMemstoreBytesPerLogin logs the heap one signed-in session costs on
// gin-contrib's memstore, alone and with the Guard (its memory store: the
// record, the user index, the login's marker), in the benchmark's apps:
// the heap after GC, before and after 20 000 logins of distinct users
// with a desktop Chrome User-Agent. A measurement: GINSECURE_MEMSIZE=1.
func TestMemstoreBytesPerLogin(t *testing.T) {
	if os.Getenv("GINSECURE_MEMSIZE") == "" {
		t.Skip("a measurement: run with GINSECURE_MEMSIZE=1 -v")
	}
	const n = 20_000
	bk := benchBackend{kind: "memstore"}
	per := map[string]float64{}
	for _, side := range []*benchSide{baselineSide(t, bk), func() *benchSide { s, _ := guardSide(t, bk, realConfig()); return s }()} {
		before := heapAfterGC()
		for i := range n {
			r := benchReq(http.MethodPost, "/login?user=user-"+strconv.Itoa(10000+i), "")
			r.Header.Set("User-Agent", memSizeUA)
			if w := serveOnce(side.h, r); w.Code != http.StatusOK {
				t.Fatalf("%s: login: %d %s", side.name, w.Code, w.Body.String())
			}
		}
		per[side.name] = (float64(heapAfterGC()) - float64(before)) / n
		runtime.KeepAlive(side)
	}
	t.Logf("memstore, %d logins: gin-contrib alone %.0f bytes per session, with the Guard %.0f (%.2fx)",
		n, per["baseline"], per["guard"], per["guard"]/per["baseline"])
}
