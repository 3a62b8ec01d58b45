package redisstore_test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/ginsecure/ginsecure/internal/redistest"
	"github.com/ginsecure/ginsecure/redisstore"
	"github.com/ginsecure/ginsecure/storeext"
	"github.com/gomodule/redigo/redis"
)

var _ storeext.BatchRevoker = (*redisstore.Store)(nil)

// RevokeBatch ends exactly the user's live records but the one it spares,
// a few per call, and names each by its handle and session ID exactly
// (whatever JSON escapes in them); each call retires what it is given
// first: a tombstone where no live marker is, the session's key deleted.
func TestRevokeBatchEndsTheLiveRecordsAndRetiresThePrevious(t *testing.T) {
	srv := redistest.Start(t)
	pool := srv.Pool()
	c := pool.Get()
	defer c.Close()
	ctx, now := context.Background(), time.Now()
	for i, user := range []string{"alice", `a"b\c`, "<&>\u2028é"} {
		t.Run(fmt.Sprintf("user%d", i), func(t *testing.T) {
			prefix := fmt.Sprintf("bt%d:", i)
			st := redisstore.New(pool, redisstore.WithPrefix(prefix))
			live, prev := batchFixture(t, c, st, prefix, user, now)
			got := map[string]string{}
			for calls, more := 0, true; more; calls++ {
				if calls > 5 {
					t.Fatal("RevokeBatch never ends")
				}
				ended, m, err := st.RevokeBatch(ctx, user, "h3", storeext.RevokedByUser, 2, prev)
				if err != nil {
					t.Fatal(err)
				}
				if len(ended) > 2 {
					t.Fatalf("a batch of 2 ended %d", len(ended))
				}
				if calls == 0 {
					checkRetired(t, c, st, prefix, now)
				}
				more, prev = m, storeext.Retirement{}
				for _, e := range ended {
					got[e.Handle] = e.SessionID
				}
			}
			if fmt.Sprint(sorted(got)) != fmt.Sprint(sorted(live)) {
				t.Errorf("ended %v, want %v", sorted(got), sorted(live))
			}
			checkEnded(t, c, st, prefix, live)
		})
	}
}

// batchFixture gives user seven records (session IDs JSON escapes, and
// none), one spared (h3), one revoked already (h5), one expired, and a
// record of another user in user's index; markers and sessions for the
// first call's retirement. It returns the records the batches must end
// (handle: session ID) and that retirement.
func batchFixture(t *testing.T, c redis.Conn, st *redisstore.Store, prefix, user string, now time.Time) (map[string]string, storeext.Retirement) {
	t.Helper()
	ctx := context.Background()
	sids := []string{"plain", `q"uo\te`, "<&>\u2028", ""}
	live := map[string]string{}
	for n := range 7 {
		r := liveRecord(fmt.Sprintf("h%d", n), user, now)
		r.SessionID = sids[n%len(sids)]
		if err := st.Create(ctx, r, storeext.Limit{}); err != nil {
			t.Fatal(err)
		}
		live[r.Handle] = r.SessionID
	}
	delete(live, "h3") // spared
	if _, err := st.Update(ctx, "h5", func(r *storeext.Record) error { r.Revoked = storeext.RevokedReplay; return nil }); err != nil {
		t.Fatal(err)
	}
	delete(live, "h5")
	for _, r := range []storeext.Record{liveRecord("old", user, now.Add(-2*time.Hour)), liveRecord("other", "mallory", now)} {
		if err := st.Create(ctx, r, storeext.Limit{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Do("ZADD", prefix+"u:"+user, 1, "other"); err != nil {
		t.Fatal(err)
	}
	// The markers the retirement finds: a live one (kept), one whose time
	// is over (replaced by the tombstone).
	if err := st.SetMarker(ctx, "s:plain", storeext.Marker{At: now, ExpiresAt: now.Add(time.Hour), Handle: "h0"}); err != nil {
		t.Fatal(err)
	}
	stale := fmt.Sprintf(`{"at":1,"exp":%d,"h":"x"}`, now.Add(-time.Minute).UnixMilli())
	if _, err := c.Do("SET", prefix+"m:c:x", stale, "PX", 60000); err != nil {
		t.Fatal(err)
	}
	prev := storeext.Retirement{MarkerKeys: []string{"s:plain", "c:x", "s:none"}, SessionKeys: []string{"", "sess:a", "sess:b"},
		Marker: storeext.Marker{At: now, ExpiresAt: now.Add(time.Hour)}}
	for _, k := range prev.SessionKeys[1:] {
		if _, err := c.Do("SET", k, "data"); err != nil {
			t.Fatal(err)
		}
	}
	return live, prev
}

// checkEnded checks the records after the batches: those of live revoked
// with their TTL kept, the spared one and the other user's live, the one
// revoked before with its own reason.
func checkEnded(t *testing.T, c redis.Conn, st *redisstore.Store, prefix string, live map[string]string) {
	t.Helper()
	ctx := context.Background()
	for h := range live {
		if r, err := st.Get(ctx, h); err != nil || r.Revoked != storeext.RevokedByUser {
			t.Errorf("%s: revoked %q, %v", h, r.Revoked, err)
		}
		if ttl, err := redis.Int64(c.Do("PTTL", prefix+"r:"+h)); err != nil || ttl < int64(time.Hour/time.Millisecond) {
			t.Errorf("%s: TTL %d ms, %v; want the record's kept", h, ttl, err)
		}
	}
	for _, h := range []string{"h3", "other"} {
		if r, err := st.Get(ctx, h); err != nil || r.Revoked != "" {
			t.Errorf("%s: revoked %q, %v; want it live", h, r.Revoked, err)
		}
	}
	if r, err := st.Get(ctx, "h5"); err != nil || r.Revoked != storeext.RevokedReplay {
		t.Errorf("h5: revoked %q, %v; want its own reason kept", r.Revoked, err)
	}
}

// checkRetired checks what the first call's retirement left: the live
// marker kept, the others the tombstone, the sessions deleted.
func checkRetired(t *testing.T, c redis.Conn, st *redisstore.Store, prefix string, now time.Time) {
	t.Helper()
	ctx := context.Background()
	if m, err := st.GetMarker(ctx, "s:plain"); err != nil || m.Handle != "h0" {
		t.Errorf("the live marker: %+v, %v; want it kept", m, err)
	}
	for _, k := range []string{"c:x", "s:none"} {
		if m, err := st.GetMarker(ctx, k); err != nil || m.Handle != "" || m.ExpiresAt.UnixMilli() != now.Add(time.Hour).UnixMilli() {
			t.Errorf("marker %s: %+v, %v; want the tombstone", k, m, err)
		}
		if ttl, err := redis.Int64(c.Do("PTTL", prefix+"m:"+k)); err != nil || ttl <= 0 {
			t.Errorf("marker %s: TTL %d, %v", k, ttl, err)
		}
	}
	if n, err := redis.Int(c.Do("EXISTS", "sess:a", "sess:b")); err != nil || n != 0 {
		t.Errorf("%d of the sessions left, %v", n, err)
	}
}

func sorted(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for h, id := range m {
		out = append(out, h+"="+id)
	}
	sort.Strings(out)
	return out
}

// A retirement whose keys do not pair is refused, before anything is sent.
func TestRetirementOfUnpairedKeysIsRefused(t *testing.T) {
	srv := redistest.Start(t)
	st := redisstore.New(srv.Pool())
	r := storeext.Retirement{MarkerKeys: []string{"s:a"}, Marker: storeext.Marker{ExpiresAt: time.Now().Add(time.Hour)}}
	if err := st.RetireBatch(context.Background(), r); err == nil {
		t.Error("RetireBatch of one marker and no session: no error")
	}
	if _, _, err := st.RevokeBatch(context.Background(), "alice", "", storeext.RevokedByUser, 2, r); err == nil {
		t.Error("RevokeBatch retiring one marker and no session: no error")
	}
}
