package ginsecure_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ginsecure/ginsecure"
	"github.com/ginsecure/ginsecure/internal/redistest"
	"github.com/gomodule/redigo/redis"
)

// toPreviousEncoding rewrites every record in e's Redis into the previous
// release's encoding (redistest.PreviousRecord), TTLs kept, and returns
// how many it rewrote.
func toPreviousEncoding(t *testing.T, e *env) int {
	t.Helper()
	c := e.redis.Pool().Get()
	defer c.Close()
	keys, err := redis.Strings(c.Do("KEYS", "gs:r:*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		v, err := redis.Bytes(c.Do("GET", k))
		if err != nil {
			t.Fatal(err)
		}
		old, err := redistest.PreviousRecord(v)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Do("SET", k, old, "KEEPTTL"); err != nil {
			t.Fatal(err)
		}
	}
	return len(keys)
}

// recordsInPreviousEncoding counts the records in e's Redis whose token
// hash is still in the previous encoding's hex.
func recordsInPreviousEncoding(t *testing.T, e *env) int {
	t.Helper()
	c := e.redis.Pool().Get()
	defer c.Close()
	keys, err := redis.Strings(c.Do("KEYS", "gs:r:*"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, k := range keys {
		v, _ := redis.String(c.Do("GET", k))
		if i := strings.Index(v, `"t":"`); i >= 0 && len(v) > i+5+64 && v[i+5+64] == '"' {
			n++
		}
	}
	return n
}

// A release upgrade with live sessions: the records already in Redis are
// of the previous encoding. Every signed-in browser stays signed in: its
// reads, its session writes, its first presentation after the login, its
// rotation, the listing, and its logout work on them as on the new
// encoding's, and what the new release writes over them is its own.
func TestRedisRecordsOfThePreviousEncodingKeepTheirSessions(t *testing.T) {
	e := newEnv(t, "redis", ginsecure.Config{})
	laptop, phone, bob := e.browser(), e.browser(), e.browser()
	laptop.login("alice")
	if r := laptop.get("/me"); r.status != http.StatusOK {
		t.Fatalf("/me before the upgrade: %d %v", r.status, r.body)
	}
	phone.signIn("alice") // not presented yet: the upgrade finds it waiting
	bob.login("bob")
	if n := toPreviousEncoding(t, e); n != 3 {
		t.Fatalf("%d records rewritten, want 3", n)
	}
	for name, br := range map[string]*browser{"laptop": laptop, "phone (first presentation)": phone} {
		if r := br.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
			t.Fatalf("%s after the upgrade: %d %v", name, r.status, r.body)
		}
	}
	if r := laptop.post("/me/write"); r.status != http.StatusOK || r.user() != "alice" {
		t.Fatalf("session write after the upgrade: %d %v", r.status, r.body)
	}
	if got := len(e.sessions(t, "alice")); got != 2 {
		t.Fatalf("alice lists %d sessions after the upgrade, want 2", got)
	}
	toPreviousEncoding(t, e)
	e.clock.Advance(ginsecure.DefaultRotateEvery + time.Second)
	r := laptop.get("/me")
	if r.status != http.StatusOK || r.user() != "alice" || !hasCookie(r.cookies, ginsecure.DefaultCookieName) {
		t.Fatalf("rotation due after the upgrade: %d %v, token cookie set %v", r.status, r.body, hasCookie(r.cookies, ginsecure.DefaultCookieName))
	}
	if r := laptop.get("/me"); r.status != http.StatusOK || r.user() != "alice" {
		t.Fatalf("the rotated token: %d %v", r.status, r.body)
	}
	if r := bob.post("/logout"); r.status != http.StatusOK {
		t.Fatalf("logout after the upgrade: %d %v", r.status, r.body)
	}
	if r := bob.get("/me"); r.status != http.StatusUnauthorized {
		t.Fatalf("/me after logout: %d %v", r.status, r.body)
	}
	if n, err := e.guard.RevokeUser(context.Background(), "alice"); err != nil || n != 2 {
		t.Fatalf("RevokeUser: %d, %v; want 2", n, err)
	}
	if r := phone.get("/me"); r.status != http.StatusUnauthorized {
		t.Fatalf("/me after RevokeUser: %d %v", r.status, r.body)
	}
}

// What the new release writes over a record of the previous encoding is
// in its own encoding.
func TestRedisRecordsOfThePreviousEncodingAreWrittenInTheNewOne(t *testing.T) {
	e := newEnv(t, "redis", ginsecure.Config{})
	br := e.browser()
	br.signIn("alice")
	toPreviousEncoding(t, e)
	if n := recordsInPreviousEncoding(t, e); n != 1 {
		t.Fatalf("%d records in the previous encoding, want 1 (the check would prove nothing)", n)
	}
	if r := br.get("/me"); r.status != http.StatusOK { // the first presentation writes the record
		t.Fatalf("/me: %d %v", r.status, r.body)
	}
	if n := recordsInPreviousEncoding(t, e); n != 0 {
		t.Fatalf("%d records still in the previous encoding after a write", n)
	}
}
