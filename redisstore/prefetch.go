package redisstore

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/ginsecure/ginsecure/storeext"
)

// Prefetch implements storeext.Prefetcher: it starts the record's GET on
// a second pooled connection, in a goroutine of its own, so that it runs
// while gin-contrib loads the session on another. The goroutine holds only
// ctx, the handle and the store (never the request's gin.Context), and
// gives its connection back as soon as its GET is answered.
//
// It returns nil, and the Guard reads the record after the session as
// without a Prefetcher, on a pool with MaxActive set and no Wait (where a
// second connection held here could make another request fail at once),
// and when the pool cannot give a second connection at once: with
// MaxActive set, unless the connections in use leave room for both the
// session's and the record's. redigo has no "get if free": with
// Wait, GetContext would queue behind other requests, and an already
// expired context always fails (the pool checks the context again after
// taking a slot). So the room is counted from Pool.Stats, and since
// another request may take the last slot between that count and the
// goroutine's GetContext, join never waits for a goroutine still waiting
// for a connection: it leaves it (cancelling its wait where the pool
// could make it wait) and reads on its own, the sequential order.
func (s *Store) Prefetch(ctx context.Context, handle string) func() (storeext.Record, error) {
	if !s.spare() {
		return nil
	}
	f := &fetch{s: s, ctx: ctx, wctx: ctx, handle: handle, done: make(chan struct{})}
	if s.pool.Wait && s.pool.MaxActive > 0 {
		// Only this pool can make GetContext wait: only here is a
		// context worth its allocation.
		f.wctx, f.cancel = context.WithCancel(ctx)
	}
	go f.run()
	return f.join
}

// spare reports whether the pool has room for two connections of this
// request (the session's and the record's) beyond those in use.
func (s *Store) spare() bool {
	max := s.pool.MaxActive
	if max <= 0 {
		return true // no limit: GetContext never waits for a slot
	}
	if !s.pool.Wait {
		// A second connection held here could make another request's
		// Get fail at once (ErrPoolExhausted: a 503 the sequential order
		// would not give): never on such a pool.
		return false
	}
	st := s.pool.Stats()
	return st.ActiveCount-st.IdleCount+2 <= max
}

// fetch states: the goroutine moves fetchWaiting to fetchRunning once it
// holds a connection; join moves fetchWaiting to fetchLeft when it would
// otherwise wait for one. Whichever moves first decides.
const (
	fetchWaiting int32 = iota
	fetchRunning
	fetchLeft
)

// fetch is one record's GET started ahead of the session's.
type fetch struct {
	s      *Store
	ctx    context.Context // the request's
	wctx   context.Context // the goroutine's: ctx, or ctx with cancel
	cancel context.CancelFunc
	handle string
	state  atomic.Int32
	done   chan struct{} // closed when rec and err are set

	rec storeext.Record
	err error
}

var errLeft = errors.New("redisstore: prefetch left behind")

func (f *fetch) run() {
	defer func() {
		// In the sequential order this read runs on the request's
		// goroutine, where a panic is recovered (gin.Recovery, net/http);
		// here it would take the process down. redigo has one: GetContext
		// sends its slot back on a closed channel when the pool is closed
		// under a waiter whose context ends. join then reads again on the
		// request's goroutine, as the sequential order would.
		if r := recover(); r != nil {
			f.err = fmt.Errorf("redisstore: prefetch: %v", r)
		}
		close(f.done)
	}()
	if f.cancel != nil {
		defer f.cancel()
	}
	c, err := f.s.pool.GetContext(f.wctx)
	if err != nil {
		f.err = err // join reads again with Get (ErrPoolExhausted, a dial error, ctx done)
		return
	}
	if !f.state.CompareAndSwap(fetchWaiting, fetchRunning) {
		c.Close() // join went on without us: back to the pool unused
		f.err = errLeft
		return
	}
	defer c.Close() // as soon as the GET is answered, before done tells join
	f.rec, f.err = f.s.getOn(f.wctx, c, f.handle)
}

// join returns what Get would: the prefetched record, or a read of its
// own where the prefetch had no connection yet or failed for any reason
// but ErrNotFound, so that prefetching never gives an error the
// sequential order would not.
func (f *fetch) join() (storeext.Record, error) {
	if f.state.CompareAndSwap(fetchWaiting, fetchLeft) {
		// Still waiting for a connection (or failed to get one): never
		// wait behind other requests for it, read on our own.
		if f.cancel != nil {
			f.cancel()
		}
		return f.s.Get(f.ctx, f.handle)
	}
	<-f.done
	if f.err != nil && !errors.Is(f.err, storeext.ErrNotFound) {
		return f.s.Get(f.ctx, f.handle)
	}
	return f.rec, f.err
}
