package ginsecure_test

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/ginsecure/ginsecure"
	"github.com/ginsecure/ginsecure/storeext"
	"github.com/google/uuid"
)

// scaleSessions are the per-user session counts of the memory store's
// scaling table (BENCHMARKS.md, "Memory store").
var scaleSessions = []int{1, 10, 100, 1000, 10000}

// scaleUser is a memory store (behind a Guard) holding n presented
// sessions of one user, "alice", each last seen at its own instant.
type scaleUser struct {
	st    storeext.Store
	g     *ginsecure.Guard
	clock *benchClock
}

func newScaleUser(b *testing.B, n int, limit storeext.Limit) *scaleUser {
	clock := newBenchClock()
	st := ginsecure.NewMemoryStore()
	g, err := ginsecure.New(ginsecure.Config{Store: st, Now: clock.Now})
	if err != nil {
		b.Fatal(err)
	}
	u := &scaleUser{st: st, g: g, clock: clock}
	u.fill(b, n, limit)
	return u
}

// fill signs alice in n times more under limit, as Login leaves a session
// after its first request (presented).
func (u *scaleUser) fill(b *testing.B, n int, limit storeext.Limit) {
	for range n {
		if _, err := u.login(limit); err != nil {
			b.Fatal(err)
		}
	}
}

// login is what Guard.Login and the session's first request ask of the
// store: Create of an unpresented record, then its first presentation
// under the limit. It returns the new handle.
func (u *scaleUser) login(limit storeext.Limit) (string, error) { return u.loginAs("alice", limit) }

// loginAs is login of user.
func (u *scaleUser) loginAs(user string, limit storeext.Limit) (string, error) {
	h, rec, err := u.createRec(user, limit)
	if err != nil {
		return "", err
	}
	_, _, err = u.st.Present(context.Background(), rec, func(r *storeext.Record) error { r.Unpresented = false; return nil }, limit)
	return h, err
}

// createRec is a login's Create: its record, unpresented.
func (u *scaleUser) createRec(user string, limit storeext.Limit) (string, storeext.Record, error) {
	ctx := context.Background()
	u.clock.Advance(time.Millisecond)
	now := u.clock.Now()
	rec := storeext.Record{Handle: uuid.NewString(), UserID: user, Unpresented: true, UserAgent: memSizeUA,
		IP: "198.51.100.7", IssuedAt: now, CreatedAt: now, AuthAt: now, LastSeen: now, ExpiresAt: now.Add(24 * time.Hour)}
	create := limit
	create.Unpresented = ginsecure.MaxUnpresented
	err := u.st.Create(ctx, rec, create)
	return rec.Handle, rec, err
}

// BenchmarkMemoryStoreUserScaling is the memory store's work for one user
// holding n sessions (1 to 10 000): a login with MaxSessionsPerUser n (so
// that it evicts the least recently used one and n stays n), a login and
// logout without a limit, the listing SessionsOf returns (Guard.Sessions),
// and RevokeUser of all of them (its figure is per call; the sessions are
// put back between calls, off the clock). Each n is its own store. Without
// a limit the store keeps MemoryStoreMaxSessionsPerUser of one user's
// sessions (1000): at n = 10 000 the last three list and revoke 1000.
//
//	go test -run '^$' -bench 'MemoryStoreUserScaling' -benchmem -count 5 .
func BenchmarkMemoryStoreUserScaling(b *testing.B) {
	ctx := context.Background()
	for _, n := range scaleSessions {
		b.Run(fmt.Sprintf("login/n=%d", n), func(b *testing.B) {
			u := newScaleUser(b, n, storeext.Limit{Max: n})
			b.ReportAllocs()
			for b.Loop() {
				if _, err := u.login(storeext.Limit{Max: n}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("login-logout-nolimit/n=%d", n), func(b *testing.B) {
			u := newScaleUser(b, n, storeext.Limit{})
			b.ReportAllocs()
			for b.Loop() {
				h, err := u.login(storeext.Limit{})
				if err == nil {
					err = u.st.Delete(ctx, h)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("sessions/n=%d", n), func(b *testing.B) {
			u := newScaleUser(b, n, storeext.Limit{})
			b.ReportAllocs()
			for b.Loop() {
				list, err := u.g.Sessions(ctx, "alice")
				if err != nil || len(list) != min(n, ginsecure.MemoryStoreMaxSessionsPerUser) {
					b.Fatalf("listed %d sessions (%v), want %d", len(list), err, n)
				}
			}
		})
		b.Run(fmt.Sprintf("revokeuser/n=%d", n), func(b *testing.B) {
			u := newScaleUser(b, 0, storeext.Limit{})
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				u.fill(b, n, storeext.Limit{})
				b.StartTimer()
				if _, err := u.g.RevokeUser(ctx, "alice"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkMemoryStoreSweepPause fills a memory store with n sessions of
// as many users (a record and a login marker each), lets them expire past
// RetainExpired, then reads one live record over and over (as the Guard
// does, without a copy, so that the read itself allocates nothing) until the sweep
// has removed them all, timing each read: max-pause-µs is the longest any
// read waited (the sweep's step, and the longest it held a shard's lock),
// reads-to-sweep how many reads the sweep took. As many reads again once
// the sweep is done give max-plain-µs and p99-plain-µs: what a read waits
// on this machine without a sweep (a busy machine's preemption shows in
// both); max-cpu-µs is the most CPU time one read used while the sweep
// was under way (Linux: the thread's own time, which a busy machine's
// preemption does not inflate). One store per iteration; wall-clock
// figures are of the last one, max-cpu-µs of them all.
//
//	go test -run '^$' -bench 'MemoryStoreSweepPause' -benchtime 3x .
func BenchmarkMemoryStoreSweepPause(b *testing.B) {
	for _, n := range []int{100_000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			var pauses, plain []time.Duration
			var maxCPU time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				st, live, clock := expiredStore(b, n)
				b.StartTimer()
				pauses = sweepByReads(b, st, live, clock, &maxCPU)
				b.StopTimer()
				plain = timedReads(b, st, live, clock, len(pauses))
				b.StartTimer()
			}
			slices.Sort(pauses)
			slices.Sort(plain)
			b.ReportMetric(float64(pauses[len(pauses)-1].Microseconds()), "max-pause-µs")
			b.ReportMetric(float64(pauses[len(pauses)*99/100].Microseconds()), "p99-pause-µs")
			b.ReportMetric(float64(len(pauses)), "reads-to-sweep")
			b.ReportMetric(float64(maxCPU.Microseconds()), "max-cpu-µs")
			b.ReportMetric(float64(plain[len(plain)-1].Microseconds()), "max-plain-µs")
			b.ReportMetric(float64(plain[len(plain)*99/100].Microseconds()), "p99-plain-µs")
		})
	}
}

// timedReads reads live n times and returns each read's duration.
func timedReads(b *testing.B, st storeext.Store, live string, clock *benchClock, n int) []time.Duration {
	ds := make([]time.Duration, 0, n)
	for range n {
		start := time.Now()
		if _, err := ginsecure.MemoryStoreViewAt(st, live, clock.Now()); err != nil {
			b.Fatal(err)
		}
		ds = append(ds, time.Since(start))
		clock.Advance(time.Millisecond)
	}
	return ds
}

// expiredStore is a memory store holding n expired sessions and markers,
// past RetainExpired, and one live record; no call has swept them yet.
func expiredStore(b *testing.B, n int) (storeext.Store, string, *benchClock) {
	ctx := context.Background()
	clock := newBenchClock()
	st := ginsecure.NewMemoryStore()
	st.(storeext.ClockUser).UseClock(clock.Now)
	now := clock.Now()
	for i := range n {
		if err := st.Create(ctx, memSizeRecord(i, now), storeext.Limit{}); err != nil {
			b.Fatal(err)
		}
		if err := st.SetMarker(ctx, "s:"+uuid.NewString(), storeext.Marker{At: now, Handle: "0123456789abcdefghijkA", ExpiresAt: now.Add(30 * time.Minute)}); err != nil {
			b.Fatal(err)
		}
	}
	live := memSizeRecord(n, now)
	live.ExpiresAt = now.Add(48 * time.Hour)
	if err := st.Create(ctx, live, storeext.Limit{}); err != nil {
		b.Fatal(err)
	}
	clock.Advance(30*time.Minute + storeext.RetainExpired) // the next call finds the sweep due
	return st, live.Handle, clock
}

// sweepByReads reads live until the store holds nothing else (at least
// once), and returns each read's duration; maxCPU becomes the most CPU
// time one read used, if more.
func sweepByReads(b *testing.B, st storeext.Store, live string, clock *benchClock, maxCPU *time.Duration) []time.Duration {
	var pauses []time.Duration
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for recs, marks := 2, 0; recs > 1 || marks > 0; recs, marks = ginsecure.MemoryStoreSize(st) {
		start, cpu := time.Now(), threadCPU()
		if _, err := ginsecure.MemoryStoreViewAt(st, live, clock.Now()); err != nil {
			b.Fatal(err)
		}
		pauses = append(pauses, time.Since(start))
		*maxCPU = max(*maxCPU, threadCPU()-cpu)
		clock.Advance(time.Millisecond)
		if len(pauses) > 1e7 {
			b.Fatal("the sweep does not finish")
		}
	}
	return pauses
}

// BenchmarkMemoryStoreOtherUsers times another user's login and logout
// (bob's) while one goroutine lists a user holding n sessions (alice's
// sessions page, over and over): max-µs is the longest bob waited. With
// per-user locks bob never waits for alice's list.
//
//	go test -run '^$' -bench 'MemoryStoreOtherUsers' -benchtime 20000x .
func BenchmarkMemoryStoreOtherUsers(b *testing.B) {
	ctx := context.Background()
	for _, n := range []int{1000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			alice := newScaleUser(b, n, storeext.Limit{})
			bob := &scaleUser{st: alice.st, g: alice.g, clock: alice.clock}
			stop := make(chan struct{})
			done := make(chan struct{})
			go func() {
				defer close(done)
				for {
					select {
					case <-stop:
						return
					default:
						_, _ = alice.g.Sessions(ctx, "alice")
					}
				}
			}()
			var worst, total time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				start := time.Now()
				h, err := bob.loginAs("bob", storeext.Limit{})
				if err == nil {
					err = bob.st.Delete(ctx, h)
				}
				if err != nil {
					b.Fatal(err)
				}
				d := time.Since(start)
				total += d
				worst = max(worst, d)
			}
			close(stop)
			<-done
			b.ReportMetric(float64(total.Microseconds())/float64(b.N), "mean-µs")
			b.ReportMetric(float64(worst.Microseconds()), "max-µs")
		})
	}
}
