package redisstore_test

// How the store's per-user work grows with one user's sessions, and the
// slowest call it makes under a large account (BENCHMARKS.md, "Redis at
// scale"). Figures only: nothing here asserts a time.

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ginsecure/ginsecure"
	"github.com/ginsecure/ginsecure/internal/redistest"
	"github.com/ginsecure/ginsecure/redisstore"
	"github.com/ginsecure/ginsecure/storeext"
	"github.com/gomodule/redigo/redis"
)

// scaleHandle is a random handle of the Guard's form.
func scaleHandle() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// scaleRecord is a presented session of user, as a login leaves it after
// its first presentation, with a browser's User-Agent.
func scaleRecord(user string, now time.Time) storeext.Record {
	h := scaleHandle()
	return storeext.Record{
		Handle: h, UserID: user, SessionID: "S" + h, TokenHash: [32]byte{1}, TokenKey: make([]byte, 33),
		IP: "192.0.2.1", UserAgent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
		IssuedAt: now, CreatedAt: now, AuthAt: now, LastSeen: now, ExpiresAt: now.Add(12 * time.Hour),
	}
}

// fill gives user n presented sessions, their last activity spread over
// the past hour.
func fill(tb testing.TB, st *redisstore.Store, user string, n int) {
	tb.Helper()
	ctx, now := context.Background(), time.Now()
	for i := 0; i < n; i++ {
		r := scaleRecord(user, now.Add(-time.Duration(n-i)*time.Hour/time.Duration(n)))
		if err := st.Create(ctx, r, storeext.Limit{}); err != nil {
			tb.Fatal(err)
		}
	}
}

// login is the store's part of a Guard login: a record created
// unpresented, under the bound of waiting logins (no session limit).
func login(tb testing.TB, st *redisstore.Store, user string, lim storeext.Limit) {
	r := scaleRecord(user, time.Now())
	r.Unpresented = true
	lim.Unpresented = ginsecure.MaxUnpresented
	if err := st.Create(context.Background(), r, lim); err != nil {
		tb.Fatal(err)
	}
}

// revokeAll is the store's part of RevokeUser: the mark, then batches of
// revokeSize sessions each ended, the previous batch's tombstoned and
// their session deleted in the same call, and a last call for the last
// batch's.
func revokeAll(tb testing.TB, st *redisstore.Store, user string) int {
	ctx, now := context.Background(), time.Now()
	if err := st.RevokeBefore(ctx, user, "", storeext.RevokedByUser); err != nil {
		tb.Fatal(err)
	}
	n := 0
	var prev storeext.Retirement
	for more := true; more; {
		recs, m, err := st.RevokeBatch(ctx, user, "", storeext.RevokedByUser, revokeSize, prev)
		if err != nil {
			tb.Fatal(err)
		}
		more = m
		prev = storeext.Retirement{MarkerKeys: make([]string, len(recs)), SessionKeys: make([]string, len(recs)),
			Marker: storeext.Marker{At: now, ExpiresAt: now.Add(12 * time.Hour)}}
		for i, r := range recs {
			prev.MarkerKeys[i], prev.SessionKeys[i] = "s:"+r.SessionID, "session_"+r.SessionID
		}
		n += len(recs)
	}
	if err := st.RetireBatch(ctx, prev); err != nil {
		tb.Fatal(err)
	}
	return n
}

// revokeSize is the Guard's batch (binding.go, revokeBatch).
const revokeSize = 32

var scaleSizes = []int{1, 10, 100, 1000, 10000}

// BenchmarkRedisScale: the store's work for one user holding n sessions,
// on a unix socket. Login and List per call; RevokeUser per session (the
// ns/session metric: the whole of it, session deletion included, over n).
//
//	go test -run '^$' -bench RedisScale -benchtime 200x ./redisstore/
func BenchmarkRedisScale(b *testing.B) {
	srv := redistest.Start(b)
	pool := srv.Pool()
	for _, n := range scaleSizes {
		prefix := fmt.Sprintf("sc%d:", n)
		st := redisstore.New(pool, redisstore.WithPrefix(prefix))
		fill(b, st, "alice", n)
		b.Run(fmt.Sprintf("login/sessions=%d", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				login(b, st, "alice", storeext.Limit{})
			}
		})
		b.Run(fmt.Sprintf("list/sessions=%d", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := st.ListRecent(context.Background(), "alice", ginsecure.MaxListedSessions); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("revoke/sessions=%d", n), func(b *testing.B) {
			var total time.Duration
			ended := 0
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				user := fmt.Sprintf("bob%d", i)
				fill(b, st, user, n)
				b.StartTimer()
				start := time.Now()
				ended += revokeAll(b, st, user)
				total += time.Since(start)
			}
			b.ReportMetric(float64(total.Nanoseconds())/float64(ended), "ns/session")
		})
	}
}

// TestRedisSlowestCallUnderALargeAccount runs what one user with 2 000
// sessions can make the store do (a login and its first presentation, an
// authenticated read, a touch, the sessions page, RevokeOthers, RevokeUser)
// on a Redis that logs every command (slowlog-log-slower-than 0), and
// logs the slowest. It asserts nothing about time: go test -run
// SlowestCall -v ./redisstore/ prints them.
func TestRedisSlowestCallUnderALargeAccount(t *testing.T) {
	const sessions = 2000
	srv := redistest.StartWith(t, "--slowlog-log-slower-than", "0", "--slowlog-max-len", "100000")
	pool := srv.Pool()
	st := redisstore.New(pool, redisstore.WithPrefix("slow:"))
	fill(t, st, "alice", sessions)
	c := pool.Get()
	defer c.Close()
	// Every script loaded first, by a small account: the figures are of
	// the large one's calls, not of compiling the scripts.
	fill(t, st, "warm", 3)
	large(t, st, "warm")
	if _, err := c.Do("SLOWLOG", "RESET"); err != nil {
		t.Fatal(err)
	}
	large(t, st, "alice")
	logSlowest(t, c, 8)
}

// large is what the SLOWLOG test does with user's account.
func large(t *testing.T, st *redisstore.Store, user string) {
	t.Helper()
	ctx := context.Background()
	// A login, its first presentation (with and without a limit), a read
	// and a touch of it.
	r := scaleRecord(user, time.Now())
	r.Unpresented = true
	if err := st.Create(ctx, r, storeext.Limit{Unpresented: ginsecure.MaxUnpresented}); err != nil {
		t.Fatal(err)
	}
	got, err := st.Get(ctx, r.Handle)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err = st.Present(ctx, got, func(x *storeext.Record) error { x.Unpresented = false; return nil }, storeext.Limit{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.UpdateHeld(ctx, got, func(x *storeext.Record) error { x.LastSeen = time.Now(); return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ListRecent(ctx, user, ginsecure.MaxListedSessions); err != nil {
		t.Fatal(err)
	}
	// RevokeOthers from the new session, then a RevokeUser of what is left.
	if err := st.RevokeBefore(ctx, user, r.Handle, storeext.RevokedByUser); err != nil {
		t.Fatal(err)
	}
	if n := revokeAll(t, st, user); n == 0 {
		t.Fatal("RevokeUser ended nothing: the test would prove nothing")
	}
}

// logSlowest logs the n slowest commands in the SLOWLOG, the store's
// scripts by name (a first EVAL of a script includes its compilation),
// and the slowest of each script.
func logSlowest(t *testing.T, c redis.Conn, n int) {
	t.Helper()
	entries, err := redis.Values(c.Do("SLOWLOG", "GET", "-1"))
	if err != nil {
		t.Fatal(err)
	}
	type entry struct {
		us   int64
		name string
	}
	var all []entry
	each := map[string][]int64{}
	for _, e := range entries {
		f, err := redis.Values(e, nil)
		if err != nil || len(f) < 4 {
			t.Fatalf("SLOWLOG entry %v: %v", e, err)
		}
		us, _ := redis.Int64(f[2], nil)
		args, _ := redis.Strings(f[3], nil)
		if len(args) == 0 || strings.EqualFold(args[0], "SLOWLOG") {
			continue
		}
		name := strings.ToUpper(args[0])
		if name == "EVALSHA" && len(args) > 1 {
			name = "script " + redisstore.ScriptNames[args[1]]
		} else if name == "EVAL" && len(args) > 1 {
			name = "first EVAL of " + redisstore.ScriptNames[fmt.Sprintf("%x", sha1.Sum([]byte(args[1])))]
		}
		all = append(all, entry{us, name})
		each[name] = append(each[name], us)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].us > all[j].us })
	t.Logf("%d commands logged; the slowest:", len(all))
	for i := 0; i < n && i < len(all); i++ {
		t.Logf("%6d µs  %s", all[i].us, all[i].name)
	}
	names := make([]string, 0, len(each))
	for k, v := range each {
		sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
		names = append(names, k)
	}
	worst := func(k string) int64 { return each[k][len(each[k])-1] }
	sort.Slice(names, func(i, j int) bool { return worst(names[i]) > worst(names[j]) })
	for _, k := range names {
		t.Logf("slowest %-26s %6d µs (median %d µs of %d calls)", k, worst(k), each[k][len(each[k])/2], len(each[k]))
	}
}

// TestRedisBytesPerSession logs what one user's sessions cost Redis
// (MEMORY USAGE): a record, the index per entry, and the keys the
// revocation mark adds (the store's counter, one mark per user). Figures
// only: go test -run BytesPerSession -v ./redisstore/.
func TestRedisBytesPerSession(t *testing.T) {
	srv := redistest.Start(t)
	pool := srv.Pool()
	st := redisstore.New(pool, redisstore.WithPrefix("mem:"))
	const n = 100
	fill(t, st, "alice", n)
	if err := st.RevokeBefore(context.Background(), "bob", "", storeext.RevokedByUser); err != nil {
		t.Fatal(err)
	}
	c := pool.Get()
	defer c.Close()
	usage := func(key string) int64 {
		v, err := redis.Int64(c.Do("MEMORY", "USAGE", key, "SAMPLES", "0"))
		if err != nil {
			t.Fatalf("MEMORY USAGE %s: %v", key, err)
		}
		return v
	}
	hs, err := redis.Strings(c.Do("ZRANGE", "mem:u:alice", 0, -1))
	if err != nil || len(hs) != n {
		t.Fatalf("index: %d entries, %v", len(hs), err)
	}
	var recs int64
	for _, h := range hs {
		recs += usage("mem:r:" + h)
	}
	t.Logf("record %d bytes, index %d bytes per entry (%d sessions), counter %d bytes per store, mark %d bytes per revoked user",
		recs/n, usage("mem:u:alice")/n, n, usage("mem:seq"), usage("mem:x:bob"))
}

// TestRedisRevokeTimeInRedis logs, per session of a RevokeUser of 2 000
// sessions (three rounds, a fresh account each; the sessions' data, 180
// bytes each, deleted): the wall time, round trips and client included; the time Redis spends in the scripts (INFO
// commandstats: their usec, inner commands included) and in those inner
// commands alone; the CPU time redis-server used (INFO cpu: scripts, the
// socket, the event loop) and the test process used (the client's
// encoding and decoding; 0 where the OS does not report it): CPU times do
// not count the time a busy machine kept a process waiting. Figures only:
// go test -run RevokeTimeInRedis -v ./redisstore/.
func TestRedisRevokeTimeInRedis(t *testing.T) {
	const sessions = 2000
	srv := redistest.Start(t)
	pool := srv.Pool()
	st := redisstore.New(pool, redisstore.WithPrefix("rt:"))
	fill(t, st, "warm", 3)
	revokeAll(t, st, "warm")
	c := pool.Get()
	defer c.Close()
	for round := range 3 {
		user := fmt.Sprintf("alice%d", round)
		fill(t, st, user, sessions)
		keys := sessionData(t, c, "rt:u:"+user)
		if _, err := c.Do("CONFIG", "RESETSTAT"); err != nil {
			t.Fatal(err)
		}
		cpu0, start, own0 := redisCPU(t, c), time.Now(), processCPU()
		n := revokeAll(t, st, user)
		wall, own := time.Since(start), processCPU()-own0
		cpu := redisCPU(t, c) - cpu0
		if left, err := redis.Int(c.Do("EXISTS", keys...)); err != nil || left != 0 {
			t.Fatalf("%d sessions' data left after RevokeUser, %v", left, err)
		}
		stats := commandStats(t, c)
		var inner int64
		for name, st := range stats {
			if name != "evalsha" && name != "config|resetstat" && name != "info" {
				inner += st.usec
			}
		}
		per := func(us int64) float64 { return float64(us) / float64(n) }
		t.Logf("RevokeUser of %d sessions in %d calls: %.1f µs per session in all; %.1f in the scripts (%.1f of it their inner commands); CPU: Redis %.1f, client %.1f",
			n, stats["evalsha"].calls, per(wall.Microseconds()), per(stats["evalsha"].usec), per(inner), per(cpu.Microseconds()), per(own.Microseconds()))
	}
}

// sessionData gives each record the index lists a session's data (under
// the key revokeAll deletes, a gin-contrib session's size) and returns
// their keys.
func sessionData(t *testing.T, c redis.Conn, index string) []any {
	t.Helper()
	hs, err := redis.Strings(c.Do("ZRANGE", index, 0, -1))
	if err != nil {
		t.Fatal(err)
	}
	value := strings.Repeat("x", 180)
	keys := make([]any, len(hs))
	for i, h := range hs {
		keys[i] = "session_S" + h
		if err := c.Send("SET", keys[i], value, "EX", 3600); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Do(""); err != nil {
		t.Fatal(err)
	}
	return keys
}

// cmdStat is a command's line of INFO commandstats.
type cmdStat struct{ calls, usec int64 }

// commandStats reads INFO commandstats: calls and usec per command.
func commandStats(t *testing.T, c redis.Conn) map[string]cmdStat {
	t.Helper()
	info, err := redis.String(c.Do("INFO", "commandstats"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]cmdStat{}
	for _, line := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(strings.TrimPrefix(line, "cmdstat_")), ":")
		if !ok || !strings.HasPrefix(line, "cmdstat_") {
			continue
		}
		var st cmdStat
		for _, f := range strings.Split(rest, ",") {
			if v, ok := strings.CutPrefix(f, "calls="); ok {
				st.calls, _ = strconv.ParseInt(v, 10, 64)
			}
			if v, ok := strings.CutPrefix(f, "usec="); ok {
				st.usec, _ = strconv.ParseInt(v, 10, 64)
			}
		}
		out[name] = st
	}
	return out
}

// redisCPU is the CPU time redis-server used so far (INFO cpu: user and
// system, its threads together).
func redisCPU(t *testing.T, c redis.Conn) time.Duration {
	t.Helper()
	info, err := redis.String(c.Do("INFO", "cpu"))
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && (k == "used_cpu_sys" || k == "used_cpu_user") {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("INFO cpu %s: %v", k, err)
			}
			sum += f
		}
	}
	return time.Duration(sum * float64(time.Second))
}

// TestRedisPerUserWorkDoesNotGrowWithTheSessions counts the record reads
// (GETs, inside the scripts: INFO commandstats) of a login, the sessions
// page and one revocation batch for a user with 10 and with 1 000
// sessions: the same, and bounded (a count, not a time: no machine is too
// slow for it).
func TestRedisPerUserWorkDoesNotGrowWithTheSessions(t *testing.T) {
	srv := redistest.Start(t)
	pool := srv.Pool()
	ctx := context.Background()
	gets := map[int][3]int64{}
	for _, n := range []int{10, 1000} {
		st := redisstore.New(pool, redisstore.WithPrefix(fmt.Sprintf("bw%d:", n)))
		fill(t, st, "alice", n)
		login(t, st, "warm", storeext.Limit{}) // scripts loaded
		var g [3]int64
		srv.ResetStats()
		login(t, st, "alice", storeext.Limit{})
		g[0] = srv.CommandStats()["get"]
		srv.ResetStats()
		if _, err := st.ListRecent(ctx, "alice", ginsecure.MaxListedSessions); err != nil {
			t.Fatal(err)
		}
		g[1] = srv.CommandStats()["get"]
		srv.ResetStats()
		if _, _, err := st.RevokeBatch(ctx, "alice", "", storeext.RevokedByUser, revokeSize, storeext.Retirement{}); err != nil {
			t.Fatal(err)
		}
		g[2] = srv.CommandStats()["get"]
		gets[n] = g
	}
	t.Logf("GETs of a login, the sessions page, a revocation batch: %v at 10 sessions, %v at 1 000", gets[10], gets[1000])
	if gets[1000][0] != gets[10][0] || gets[1000][0] > 8 {
		t.Errorf("a login reads %d records at 1 000 sessions, %d at 10: want the same few", gets[1000][0], gets[10][0])
	}
	if gets[1000][1] > ginsecure.MaxListedSessions+9 {
		t.Errorf("the sessions page reads %d records at 1 000 sessions, want at most %d", gets[1000][1], ginsecure.MaxListedSessions+9)
	}
	if gets[1000][2] > revokeSize+1 {
		t.Errorf("a revocation batch reads %d records, want at most %d", gets[1000][2], revokeSize+1)
	}
}
