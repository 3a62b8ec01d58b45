package ginsecure

// The memory store's per-user index (DESIGN.md, "Memory store"): each
// user's live records ordered by last use, so that the limit's eviction
// reads only the records it signs out, and by expiry, so that counting a
// user's live sessions never reads the others.

import (
	"github.com/ginsecure/ginsecure/storeext"
	"math"
	"sync"
	"time"
)

// MemoryStoreMaxSessionsPerUser is the most live sessions (presented or
// not) the memory store keeps for one user, unless MaxSessionsPerUser plus
// MaxUnpresented is higher: a login over it signs out (ErrEvicted) the
// least recently used of the user's sessions, with or without
// RejectExtraLogins. It bounds what one account can make the store hold
// and every per-user call's work (the listing Guard.SessionsOf returns,
// RevokeUser's round): a user with more live sessions than this is an
// automated client that discards its cookies, whose oldest sessions nobody
// holds any more.
const MemoryStoreMaxSessionsPerUser = 1000

// userCeiling is the most live records Create leaves one user under limit.
func userCeiling(limit storeext.Limit) int {
	return max(MemoryStoreMaxSessionsPerUser, limit.Max+limit.Unpresented)
}

// Entry classes: which of a user's two last-use heaps an entry is in.
const (
	classPresented   = 0
	classUnpresented = 1
)

// userEntry mirrors the fields of one live record the index orders by.
// Every change of those fields in the record is made under the user's
// shard lock together with the entry's (memoryStore.Update's slow path).
type userEntry struct {
	handle   string
	u        *userIndex
	lastSeen int64  // Record.LastSeen, Unix ns (nanos)
	seq      uint64 // Record.Seq: ties of lastSeen, and a reused handle told apart
	expires  int64  // Record.ExpiresAt, Unix ns; math.MaxInt64 for never
	usePos   int32
	expPos   int32
	class    uint8
}

// userIndex is one user's live records: two heaps by last use (Trim's
// order, useBefore), presented and unpresented, and one by expiry.
type userIndex struct {
	id  string
	use [2]entryHeap[byUse]
	exp entryHeap[byExpiry]
}

func (u *userIndex) total() int { return len(u.use[0].es) + len(u.use[1].es) }

// oldest is the least recently used of the user's entries, presented or
// not (nil for none).
func (u *userIndex) oldest() *userEntry {
	a, b := u.use[0].min(), u.use[1].min()
	switch {
	case a == nil:
		return b
	case b == nil || useBefore(a, b):
		return a
	}
	return b
}

// userShard holds the indexes of the users whose IDs hash to it; its lock
// is taken before a record shard's, never while holding one.
type userShard struct {
	mu    sync.Mutex
	users map[string]*userIndex
	// entries finds a record's entry by its handle. A handle that came back
	// for another record (after expiry) is told apart by seq.
	entries map[string]*userEntry
	_       [40]byte // no false sharing between shards
}

// entryOf is the index entry of rec, or nil.
func (us *userShard) entryOf(rec *storeext.Record) *userEntry {
	e := us.entries[rec.Handle]
	if e == nil || e.seq != rec.Seq || e.u.id != rec.UserID {
		return nil
	}
	return e
}

// add indexes rec, a live record of a user of this shard.
func (us *userShard) add(rec *storeext.Record) {
	if old := us.entries[rec.Handle]; old != nil {
		us.remove(old) // a record gone with its handle: its entry goes too
	}
	u := us.users[rec.UserID]
	if u == nil {
		u = &userIndex{id: rec.UserID}
		us.users[rec.UserID] = u
	}
	e := &userEntry{handle: rec.Handle, u: u, seq: rec.Seq}
	e.set(rec)
	u.use[e.class].push(e)
	u.exp.push(e)
	us.entries[rec.Handle] = e
}

func (e *userEntry) set(rec *storeext.Record) {
	e.lastSeen = nanos(rec.LastSeen, math.MinInt64)
	e.expires = nanos(rec.ExpiresAt, math.MaxInt64)
	e.class = classPresented
	if rec.Unpresented {
		e.class = classUnpresented
	}
}

// remove takes e out of its user's index, and the user out of the shard
// when nothing is left.
func (us *userShard) remove(e *userEntry) {
	u := e.u
	u.use[e.class].remove(int(e.usePos))
	u.exp.remove(int(e.expPos))
	if us.entries[e.handle] == e {
		delete(us.entries, e.handle)
	}
	if u.total() == 0 && us.users[u.id] == u {
		delete(us.users, u.id)
	}
}

// sync makes rec's entry what rec is now: gone when rec is revoked, else
// ordered by its current last use and expiry (added when missing).
func (us *userShard) sync(rec *storeext.Record) {
	e := us.entryOf(rec)
	switch {
	case rec.Revoked != "":
		if e != nil {
			us.remove(e)
		}
	case e == nil:
		us.add(rec)
	default:
		class := e.class
		e.set(rec)
		if class != e.class {
			e.u.use[class].remove(int(e.usePos))
			e.u.use[e.class].push(e)
		} else {
			e.u.use[e.class].fix(int(e.usePos))
		}
		e.u.exp.fix(int(e.expPos))
	}
}

// purge drops the user's expired entries (their records are gone from
// ExpiresAt on: Store's contract) and returns the user's index, nil when
// none is left. Each entry is dropped once: the work is the expired
// entries', not the user's whole list.
func (us *userShard) purge(userID string, now time.Time) *userIndex {
	u := us.users[userID]
	n := nanos(now, math.MinInt64)
	for u != nil {
		e := u.exp.min()
		if e == nil || n < e.expires {
			break
		}
		us.remove(e)
		u = us.users[userID]
	}
	return u
}

// nanos is t in Unix nanoseconds, clamped to what int64 holds; zero (the
// zero time) is given for the zero time.
func nanos(t time.Time, zero int64) int64 {
	const lo, hi = -9_000_000_000, 9_000_000_000 // seconds: about 1685 to 2255
	switch s := t.Unix(); {
	case t.IsZero():
		return zero
	case s < lo:
		return math.MinInt64 + 1
	case s > hi:
		return math.MaxInt64 - 1
	}
	return t.UnixNano()
}

// useBefore orders entries by last use, then by creation order (Seq), so
// that every server (and every racing login) agrees which are the most
// recent: Trim keeps those, whoever calls it.
func useBefore(a, b *userEntry) bool {
	if a.lastSeen != b.lastSeen {
		return a.lastSeen < b.lastSeen
	}
	if a.seq != b.seq {
		return a.seq < b.seq
	}
	return a.handle < b.handle
}

// heapOrder is one order of a user's entries and the position it keeps in
// each entry.
type heapOrder interface {
	less(a, b *userEntry) bool
	pos(e *userEntry) *int32
}

type byUse struct{}

func (byUse) less(a, b *userEntry) bool { return useBefore(a, b) }
func (byUse) pos(e *userEntry) *int32   { return &e.usePos }

type byExpiry struct{}

func (byExpiry) less(a, b *userEntry) bool { return a.expires < b.expires }
func (byExpiry) pos(e *userEntry) *int32   { return &e.expPos }

// entryHeap is a binary min-heap of entries in order O: push, remove and
// fix in O(log n), the minimum in O(1).
type entryHeap[O heapOrder] struct{ es []*userEntry }

func (h *entryHeap[O]) min() *userEntry {
	if len(h.es) == 0 {
		return nil
	}
	return h.es[0]
}

func (h *entryHeap[O]) push(e *userEntry) {
	h.es = append(h.es, e)
	h.place(len(h.es) - 1)
	h.up(len(h.es) - 1)
}

func (h *entryHeap[O]) remove(i int) {
	last := len(h.es) - 1
	if i != last {
		h.es[i] = h.es[last]
		h.place(i)
	}
	h.es[last] = nil
	h.es = h.es[:last]
	if i < last {
		h.fix(i)
	}
	if cap(h.es) > 16 && len(h.es) < cap(h.es)/4 {
		h.es = append([]*userEntry(nil), h.es...) // one account's spike does not stay
	}
}

func (h *entryHeap[O]) fix(i int) {
	if !h.down(i) {
		h.up(i)
	}
}

func (h *entryHeap[O]) place(i int) {
	var o O
	*o.pos(h.es[i]) = int32(i)
}

func (h *entryHeap[O]) up(i int) {
	var o O
	for i > 0 {
		p := (i - 1) / 2
		if !o.less(h.es[i], h.es[p]) {
			return
		}
		h.swap(i, p)
		i = p
	}
}

// down moves the entry at i down to its place and reports whether it moved.
func (h *entryHeap[O]) down(i int) bool {
	var o O
	start := i
	for {
		l := 2*i + 1
		if l >= len(h.es) {
			break
		}
		c := l
		if r := l + 1; r < len(h.es) && o.less(h.es[r], h.es[l]) {
			c = r
		}
		if !o.less(h.es[c], h.es[i]) {
			break
		}
		h.swap(i, c)
		i = c
	}
	return i > start
}

func (h *entryHeap[O]) swap(i, j int) {
	h.es[i], h.es[j] = h.es[j], h.es[i]
	h.place(i)
	h.place(j)
}
