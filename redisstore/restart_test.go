package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ginsecure/ginsecure/internal/redistest"
	"github.com/ginsecure/ginsecure/redisstore"
	"github.com/ginsecure/ginsecure/storeext"
	"github.com/gomodule/redigo/redis"
)

// restartPool is the pool the package doc recommends (no PING on borrow),
// with room for n idle connections; dials counts every connection opened.
func restartPool(t *testing.T, srv *redistest.Server, n int, dials *atomic.Int64) *redis.Pool {
	p := &redis.Pool{
		MaxIdle: n,
		Dial: func() (redis.Conn, error) {
			dials.Add(1)
			return redis.Dial("unix", srv.Socket, redis.DialConnectTimeout(time.Second),
				redis.DialReadTimeout(2*time.Second), redis.DialWriteTimeout(2*time.Second))
		},
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// fillPool leaves n live idle connections in p, as after a burst of
// parallel requests.
func fillPool(t *testing.T, p *redis.Pool, n int) {
	t.Helper()
	held := make([]redis.Conn, n)
	for i := range held {
		held[i] = p.Get()
		if _, err := held[i].Do("PING"); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range held {
		c.Close()
	}
	if got := p.IdleCount(); got != n {
		t.Fatalf("%d idle connections, want %d", got, n)
	}
}

// TestRedisRestartCostsNoRead: after Redis restarts, every idle connection
// of a pool without a PING on borrow is dead, and each used to cost one
// request a 503. The store's reads (Get, GetMarker, List) retry once on a
// fresh connection: 20 sequential reads after a restart, 20 idle dead
// connections, no failure. The figures are logged (-v).
func TestRedisRestartCostsNoRead(t *testing.T) {
	const idle = 20
	srv := redistest.Start(t)
	ctx := context.Background()
	now := time.Now()
	for _, read := range []string{"Get", "GetMarker", "List"} {
		t.Run(read, func(t *testing.T) {
			var dials atomic.Int64
			pool := restartPool(t, srv, idle, &dials)
			st := redisstore.New(pool, redisstore.WithPrefix("rs:"))
			fillPool(t, pool, idle)
			srv.Restart() // empty, and no scripts loaded
			// The data, written after the restart by another server.
			other := redisstore.New(srv.Pool(), redisstore.WithPrefix("rs:"))
			rec := storeext.Record{Handle: "00000000-0000-4000-8000-0000000000r1", UserID: "alice", CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour)}
			if err := other.Create(ctx, rec, storeext.Limit{}); err != nil {
				t.Fatal(err)
			}
			if err := other.SetMarker(ctx, "s:m", storeext.Marker{At: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			call := map[string]func() error{
				"Get":       func() error { _, err := st.Get(ctx, rec.Handle); return err },
				"GetMarker": func() error { _, err := st.GetMarker(ctx, "s:m"); return err },
				"List": func() error {
					rs, err := st.List(ctx, "alice")
					if err == nil && len(rs) != 1 {
						err = fmt.Errorf("List: %d records", len(rs))
					}
					return err
				},
			}[read]
			dials.Store(0)
			failed := 0
			for i := range idle {
				if err := call(); err != nil {
					failed++
					t.Logf("%s %d after the restart: %v", read, i, err)
				}
			}
			t.Logf("%s: %d of %d sequential reads failed after a restart with %d idle connections (%d dials)", read, failed, idle, idle, dials.Load())
			if failed != 0 {
				t.Fatalf("%d of %d reads failed after a Redis restart, want 0", failed, idle)
			}
		})
	}
}

// storeOp is one kind of store operation, run afresh each round i.
type storeOp struct {
	name string
	run  func(i int) error
}

// restartOps are every operation of the store and of its shared-Redis
// side, each with inputs of its own per round (records, markers and
// sessions prepared before the restart by prepare).
func restartOps(ctx context.Context, st *redisstore.Store, now time.Time, held map[int]*storeext.Record) (ops []storeOp, prepare func(rounds int) error) {
	h := func(kind string, i int) string { return fmt.Sprintf("%s-%d", kind, i) }
	touch := func(r *storeext.Record) error { r.LastSeen = r.LastSeen.Add(time.Second); return nil }
	present := func(r *storeext.Record) error { r.Unpresented = false; return nil }
	wantN := func(what string, got, want int, err error) error {
		if err == nil && got != want {
			err = fmt.Errorf("%s: %d, want %d", what, got, want)
		}
		return err
	}
	prepare = func(rounds int) error {
		for i := range rounds {
			for _, kind := range []string{"upd", "held", "del", "hds"} {
				if err := st.Create(ctx, liveRecord(h(kind, i), "alice", now), storeext.Limit{}); err != nil {
					return err
				}
			}
			r, err := st.Get(ctx, h("held", i))
			if err != nil {
				return err
			}
			held[i] = &r
			un := liveRecord(h("pres", i), "bob", now)
			un.Unpresented = true
			if err := st.Create(ctx, un, storeext.Limit{}); err != nil {
				return err
			}
			if err := st.SetMarker(ctx, h("dm", i), storeext.Marker{At: now, ExpiresAt: now.Add(time.Hour), Handle: "x"}); err != nil {
				return err
			}
		}
		return st.SetMarker(ctx, "gm", storeext.Marker{At: now, ExpiresAt: now.Add(time.Hour)})
	}
	ops = []storeOp{
		{"Get", func(i int) error { _, err := st.Get(ctx, h("upd", i)); return err }},
		{"GetMarker", func(int) error { _, err := st.GetMarker(ctx, "gm"); return err }},
		{"List", func(int) error { l, err := st.List(ctx, "alice"); return wantN("List", min(len(l), 1), 1, err) }},
		{"GetWithSession", func(i int) error { _, _, err := st.GetWithSession(ctx, h("upd", i), "sess"); return err }},
		{"Create", func(i int) error {
			return st.Create(ctx, liveRecord(h("new", i), "carol", now), storeext.Limit{Max: 100})
		}},
		{"CreateWithSession", func(i int) error {
			return st.CreateWithSession(ctx, liveRecord(h("newS", i), "carol", now), storeext.Limit{}, h("sessC", i), []byte("v"), time.Hour)
		}},
		{"Update", func(i int) error { _, err := st.Update(ctx, h("upd", i), touch); return err }},
		{"UpdateHeld", func(i int) error { _, err := st.UpdateHeld(ctx, *held[i], touch); return err }},
		{"UpdateHeldDeletingSession", func(i int) error {
			r, err := st.Get(ctx, h("hds", i))
			if err == nil {
				_, err = st.UpdateHeldDeletingSession(ctx, r, touch, h("sessD", i))
			}
			return err
		}},
		{"Present", func(i int) error {
			r, err := st.Get(ctx, h("pres", i))
			if err == nil {
				_, _, err = st.Present(ctx, r, present, storeext.Limit{Max: 100})
			}
			return err
		}},
		{"Delete", func(i int) error { return st.Delete(ctx, h("del", i)) }},
		{"SetMarker", func(i int) error {
			return st.SetMarker(ctx, h("sm", i), storeext.Marker{At: now, ExpiresAt: now.Add(time.Hour)})
		}},
		{"SetMarkerReadSession", func(i int) error {
			_, err := st.SetMarkerReadSession(ctx, h("smr", i), storeext.Marker{At: now, ExpiresAt: now.Add(time.Hour), Handle: "y"}, "sess")
			return err
		}},
		{"DeleteMarker", func(i int) error { return st.DeleteMarker(ctx, h("dm", i), "x") }},
		{"SaveSessionUnlessMarked", func(i int) error {
			_, _, err := st.SaveSessionUnlessMarked(ctx, h("nomarker", i), h("sessS", i), []byte("v"), time.Hour)
			return err
		}},
		{"Trim", func(int) error { _, err := st.Trim(ctx, "alice", 1000); return err }},
	}
	return ops, prepare
}

// TestRedisRestartWithDataKeptFailsNoOperation: after Redis restarts with
// its data (persistence, a failover), every idle connection of a pool
// without a PING on borrow is dead. Every operation of the store, writes
// included, is sent again on a freshly dialled connection: a mixed
// sequence of every kind, three rounds (48 operations) against 16 idle
// dead connections, fails none. The figure per kind is logged (-v).
func TestRedisRestartWithDataKeptFailsNoOperation(t *testing.T) {
	const idle, rounds = 16, 3
	srv := redistest.Start(t)
	ctx, now := context.Background(), time.Now()
	var dials atomic.Int64
	pool := restartPool(t, srv, idle, &dials)
	st := redisstore.New(pool, redisstore.WithPrefix("rk:"))
	held := map[int]*storeext.Record{}
	ops, prepare := restartOps(ctx, st, now, held)
	if err := prepare(rounds); err != nil {
		t.Fatal(err)
	}
	fillPool(t, pool, idle)
	srv.RestartKeepingData()
	dials.Store(0)
	failed, total := map[string]int{}, 0
	for i := range rounds {
		for _, op := range ops {
			if err := op.run(i); err != nil {
				failed[op.name]++
				total++
				t.Logf("%s, round %d, after the restart: %v", op.name, i, err)
			}
		}
	}
	for _, op := range ops {
		t.Logf("%-26s %d of %d failed", op.name, failed[op.name], rounds)
	}
	t.Logf("%d of %d operations failed after a restart with %d idle connections (%d dials)", total, rounds*len(ops), idle, dials.Load())
	if total != 0 {
		t.Fatalf("%d of %d operations failed after a Redis restart with the data kept, want 0", total, rounds*len(ops))
	}
}

// lossyConn loses the reply of the first script Redis runs while lose is
// set: the script ran, and the connection breaks before its answer, as
// when Redis or the network fails between the two.
type lossyConn struct {
	redis.Conn
	lose *atomic.Bool
	err  error
}

func (c *lossyConn) Do(cmd string, args ...any) (any, error) {
	if c.err != nil {
		return nil, c.err
	}
	v, err := c.Conn.Do(cmd, args...)
	var re redis.Error
	if strings.HasPrefix(cmd, "EVAL") && !(errors.As(err, &re) && strings.HasPrefix(string(re), "NOSCRIPT")) && c.lose.CompareAndSwap(true, false) {
		c.Conn.Close()
		c.err = io.ErrUnexpectedEOF
		return nil, c.err
	}
	return v, err
}

func (c *lossyConn) Err() error {
	if c.err != nil {
		return c.err
	}
	return c.Conn.Err()
}

// TestRedisWriteSentAgainAfterALostReplyIsAppliedOnce: a write whose
// reply was lost with its connection ran all the same; sent again, it
// takes what it finds of its own as done. A compare-and-set does not
// apply its function a second time (a token minted twice), a marker is
// not refused as another's, a create does not find its own record in
// the way.
func TestRedisWriteSentAgainAfterALostReplyIsAppliedOnce(t *testing.T) {
	srv := redistest.Start(t)
	ctx, now := context.Background(), time.Now()
	var lose atomic.Bool
	pool := &redis.Pool{MaxIdle: 4, Dial: func() (redis.Conn, error) {
		c, err := redis.Dial("unix", srv.Socket, redis.DialReadTimeout(2*time.Second), redis.DialWriteTimeout(2*time.Second))
		if err != nil {
			return nil, err
		}
		return &lossyConn{Conn: c, lose: &lose}, nil
	}}
	t.Cleanup(func() { _ = pool.Close() })
	st := redisstore.New(pool, redisstore.WithPrefix("lr:"))
	raw := srv.Pool().Get()
	defer raw.Close()
	f := &lostReply{t: t, ctx: ctx, st: st, now: now, raw: raw}
	for i, h := range []string{"u", "uh", "uhd", "d"} {
		if err := st.Create(ctx, liveRecord(h, "alice", now.Add(time.Duration(i)*time.Millisecond)), storeext.Limit{}); err != nil {
			t.Fatal(err)
		}
	}
	un := liveRecord("p", "alice", now)
	un.Unpresented = true
	if err := st.Create(ctx, un, storeext.Limit{}); err != nil {
		t.Fatal(err)
	}
	if err := st.SetMarker(ctx, "dm", storeext.Marker{At: now, ExpiresAt: now.Add(time.Hour), Handle: "x"}); err != nil {
		t.Fatal(err)
	}
	for _, w := range f.writes() {
		t.Run(w.name, func(t *testing.T) {
			f.minted = 0
			lose.Store(true)
			err := w.run(0)
			if lose.Load() {
				t.Fatalf("%s ran no script whose reply could be lost", w.name)
			}
			if err != nil {
				t.Fatalf("%s sent again after its reply was lost: %v", w.name, err)
			}
		})
	}
}

// lostReply is the fixture of TestRedisWriteSentAgainAfterALostReplyIsAppliedOnce.
type lostReply struct {
	t      *testing.T
	ctx    context.Context
	st     *redisstore.Store
	now    time.Time
	raw    redis.Conn // outside the lossy pool
	minted int        // how often the write's function ran
}

func (f *lostReply) got(h string) storeext.Record {
	r, err := f.st.Get(f.ctx, h)
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

// mint is a rotation: a token that no second run would mint again.
func (f *lostReply) mint(r *storeext.Record) error {
	f.minted++
	r.TokenHash = [32]byte{byte(f.minted), 7}
	return nil
}

// present is a first presentation that mints, as mint.
func (f *lostReply) present(r *storeext.Record) error {
	r.Unpresented = false
	return f.mint(r)
}

// mintedOnce checks a compare-and-set's answer: its function ran once,
// and the token it returned is the stored one.
func (f *lostReply) mintedOnce(op string, rec storeext.Record, err error) error {
	switch {
	case err != nil:
		return err
	case f.minted != 1:
		return fmt.Errorf("%s applied its function %d times", op, f.minted)
	case f.got(rec.Handle).TokenHash != rec.TokenHash:
		return fmt.Errorf("%s returned a token that is not the stored one", op)
	}
	return nil
}

// writes are every write of the store, each on records and markers of
// its own.
func (f *lostReply) writes() []storeOp {
	st, ctx, now, raw := f.st, f.ctx, f.now, f.raw
	got, mint, present, mintedOnce := f.got, f.mint, f.present, f.mintedOnce
	return []storeOp{
		{"Create", func(int) error {
			return st.Create(ctx, liveRecord("c", "carol", now), storeext.Limit{Max: 5, Reject: true})
		}},
		{"CreateWithSession", func(int) error {
			err := st.CreateWithSession(ctx, liveRecord("cs", "carol", now), storeext.Limit{}, "lr-sess", []byte("v"), time.Hour)
			if v, _ := redis.String(raw.Do("GET", "lr-sess")); err == nil && v != "v" {
				err = fmt.Errorf("the session: %q", v)
			}
			return err
		}},
		{"Update", func(int) error { r, err := st.Update(ctx, "u", mint); return mintedOnce("Update", r, err) }},
		{"UpdateHeld", func(int) error {
			r, err := st.UpdateHeld(ctx, got("uh"), mint)
			return mintedOnce("UpdateHeld", r, err)
		}},
		{"UpdateHeldDeletingSession", func(int) error {
			r, err := st.UpdateHeldDeletingSession(ctx, got("uhd"), mint, "lr-sess")
			return mintedOnce("UpdateHeldDeletingSession", r, err)
		}},
		{"Present", func(int) error {
			r, _, err := st.Present(ctx, got("p"), present, storeext.Limit{Max: 10})
			return mintedOnce("Present", r, err)
		}},
		{"SetMarker", func(int) error {
			return st.SetMarker(ctx, "sm", storeext.Marker{At: now, ExpiresAt: now.Add(time.Hour)})
		}},
		{"SetMarkerReadSession", func(int) error {
			_, err := st.SetMarkerReadSession(ctx, "smr", storeext.Marker{At: now, ExpiresAt: now.Add(time.Hour), Handle: "y"}, "lr-none")
			return err
		}},
		{"Delete", func(int) error {
			err := st.Delete(ctx, "d")
			if _, gerr := st.Get(ctx, "d"); err == nil && !errors.Is(gerr, storeext.ErrNotFound) {
				err = fmt.Errorf("the record is still there: %v", gerr)
			}
			return err
		}},
		{"DeleteMarker", func(int) error { return st.DeleteMarker(ctx, "dm", "x") }},
		{"SaveSessionUnlessMarked", func(int) error {
			_, saved, err := st.SaveSessionUnlessMarked(ctx, "none", "lr-saved", []byte("v"), time.Hour)
			if err == nil && !saved {
				err = errors.New("not saved")
			}
			return err
		}},
		{"Trim", func(int) error {
			ev, err := st.Trim(ctx, "alice", 1)
			if l, _ := st.List(ctx, "alice"); err == nil && len(l) != 1 {
				err = fmt.Errorf("Trim to 1 left %d live (evicted %v)", len(l), ev)
			}
			return err
		}},
	}
}

// TestRedisReadRetryOnlyForBrokenConnections: a Redis error reply or the
// caller's context ending is the answer, not a broken connection: no
// second attempt.
func TestRedisReadRetryOnlyForBrokenConnections(t *testing.T) {
	srv := redistest.Start(t)
	var dials atomic.Int64
	pool := restartPool(t, srv, 4, &dials)
	st := redisstore.New(pool, redisstore.WithPrefix("rr:"))
	c := pool.Get()
	if _, err := c.Do("LPUSH", "rr:r:wrongtype", "x"); err != nil { // GET on a list: WRONGTYPE
		t.Fatal(err)
	}
	c.Close()
	dials.Store(0)
	if _, err := st.Get(context.Background(), "wrongtype"); err == nil || errors.Is(err, storeext.ErrNotFound) {
		t.Fatalf("GET of a list: %v, want the error reply", err)
	}
	if n := dials.Load(); n != 0 {
		t.Fatalf("an error reply dialled %d new connections: retried", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if _, err := st.Get(ctx, "any"); err == nil {
			t.Error("Get with a cancelled context succeeded")
		}
	}()
	wg.Wait()
	if n := dials.Load(); n > 0 {
		t.Fatalf("a cancelled context dialled %d connections", n)
	}
}

// TestRedisBrokenConnectionDrainsThePool: the first operation that finds
// a dead pooled connection discards every dead idle one, so that the
// commands other code sends on the same pool (gin-contrib's store's,
// which are not sent again) find live connections.
func TestRedisBrokenConnectionDrainsThePool(t *testing.T) {
	const idle = 16
	srv := redistest.Start(t)
	var dials atomic.Int64
	pool := restartPool(t, srv, idle, &dials)
	st := redisstore.New(pool, redisstore.WithPrefix("dr:"))
	fillPool(t, pool, idle)
	srv.RestartKeepingData()
	if _, err := st.Get(context.Background(), "any"); !errors.Is(err, storeext.ErrNotFound) {
		t.Fatalf("Get after the restart: %v", err)
	}
	for i := range idle {
		c := pool.Get()
		_, err := c.Do("SET", "dr:other", i)
		c.Close()
		if err != nil {
			t.Fatalf("command %d of another user of the pool after the store's first: %v", i, err)
		}
	}
}
