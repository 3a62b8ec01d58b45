package ginsecure

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/ginsecure/ginsecure/storeext"
)

// FuzzElapsedAgreesWithSub: the hot path's time checks answer exactly what
// now.Sub(t) compared with d would, for any two instants (the zero time of
// a record that lacks one included) and any duration the Config allows.
func FuzzElapsedAgreesWithSub(f *testing.F) {
	f.Add(int64(1e9), int64(0), int64(0), int64(0), int64(time.Minute))
	f.Add(int64(1e9), int64(5), int64(1e9-60), int64(5), int64(time.Minute))
	f.Add(int64(-62135596800), int64(0), int64(1e9), int64(0), int64(time.Hour)) // zero time
	f.Add(int64(1e9), int64(0), int64(1e9), int64(1), int64(0))
	f.Fuzz(func(t *testing.T, nowSec, nowNsec, thenSec, thenNsec, d int64) {
		now := time.Unix(nowSec, nowNsec%1e9).UTC()
		then := time.Unix(thenSec, thenNsec%1e9).UTC()
		if thenSec == -62135596800 {
			then = time.Time{}
		}
		if d < 0 {
			d = -d
		}
		dur := time.Duration(d % int64(400*24*time.Hour)) // no Config duration is longer
		if got, want := longerThan(now, then, dur), now.Sub(then) > dur; got != want {
			t.Fatalf("longerThan(%v, %v, %v) = %v, Sub says %v", now, then, dur, got, want)
		}
		if got, want := atLeast(now, then, dur), now.Sub(then) >= dur; got != want {
			t.Fatalf("atLeast(%v, %v, %v) = %v, Sub says %v", now, then, dur, got, want)
		}
	})
}

// BenchmarkVerifyHotPath is the Guard's own work on a signed-in read, with
// nothing of gin-contrib's around it: the record lookup, the token compare,
// the timeouts, the IP check and the refresh decision. bench_test.go
// measures whole requests against gin-contrib alone; this one shows what
// the checks themselves cost.
func BenchmarkVerifyHotPath(b *testing.B) {
	fixed := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	g, _ := New(Config{Now: func() time.Time { return fixed }})
	h, _ := newHandle()
	secret, hash, _ := newSecret()
	rec := storeext.Record{Handle: h, UserID: "alice", TokenHash: hash, IssuedAt: fixed, IP: "192.0.2.1", CreatedAt: fixed, AuthAt: fixed, LastSeen: fixed, ExpiresAt: fixed.Add(time.Hour)}
	if err := g.store.Create(context.Background(), rec, storeext.Limit{}); err != nil {
		b.Fatal(err)
	}
	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	c.Request = httptest.NewRequest("GET", "/", nil)
	c.Request.RemoteAddr = "192.0.2.1:1234"
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		st := reqState{g: g, io: reqIO{r: c.Request, w: c.Writer}, tok: presented{handle: h, secret: secret, hash: hash}, token: tokenParsed}
		if err := g.verify(c, &st); err != nil || !st.authenticated() {
			b.Fatal(err)
		}
	}
}
