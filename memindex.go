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

// userIndex is one user's live records. A user with one record (the
// common case) holds it in one; a user with more holds them in heaps,
// allocated at the second: two by last use (Trim's order, useBefore),
// presented and unpresented, and one by expiry. Entries are the records'
// memItems (memstore.go): the index allocates nothing per record.
type userIndex struct {
	id   string
	one  *memItem
	many *userHeaps
}

// userHeaps are the heaps of a user with more than one record.
type userHeaps struct {
	use [2]entryHeap[byUse]
	exp entryHeap[byExpiry]
}

func (u *userIndex) total() int {
	if u.many != nil {
		return len(u.many.use[0].es) + len(u.many.use[1].es)
	}
	if u.one != nil {
		return 1
	}
	return 0
}

// count is how many of the user's entries are of class.
func (u *userIndex) count(class uint8) int {
	if u.many != nil {
		return len(u.many.use[class].es)
	}
	if u.one != nil && u.one.class == class {
		return 1
	}
	return 0
}

// leastUsed is the least recently used of the user's entries of class
// (nil for none).
func (u *userIndex) leastUsed(class uint8) *memItem {
	if u.many != nil {
		return u.many.use[class].min()
	}
	if u.one != nil && u.one.class == class {
		return u.one
	}
	return nil
}

// soonest is the user's entry that expires first (nil for none).
func (u *userIndex) soonest() *memItem {
	if u.many != nil {
		return u.many.exp.min()
	}
	return u.one
}

// oldest is the least recently used of the user's entries, presented or
// not (nil for none).
func (u *userIndex) oldest() *memItem {
	a, b := u.leastUsed(classPresented), u.leastUsed(classUnpresented)
	switch {
	case a == nil:
		return b
	case b == nil || useBefore(a, b):
		return a
	}
	return b
}

// entries calls fn with each of the user's entries.
func (u *userIndex) entries(fn func(e *memItem)) {
	if u.many == nil {
		if u.one != nil {
			fn(u.one)
		}
		return
	}
	for _, h := range u.many.use {
		for _, e := range h.es {
			fn(e)
		}
	}
}

// insert adds e, whose fields are set, to u.
func (u *userIndex) insert(e *memItem) {
	e.indexed = true
	switch {
	case u.many == nil && u.one == nil:
		u.one = e
		return
	case u.many == nil:
		u.many = &userHeaps{}
		first := u.one
		u.one = nil
		u.many.push(first)
	}
	u.many.push(e)
}

func (h *userHeaps) push(e *memItem) {
	h.use[e.class].push(e)
	h.exp.push(e)
}

// delete takes e out of u; a user left with one entry gives up its heaps.
func (u *userIndex) delete(e *memItem) {
	e.indexed = false
	if u.many == nil {
		if u.one == e {
			u.one = nil
		}
		return
	}
	u.many.use[e.class].remove(int(e.usePos))
	u.many.exp.remove(int(e.expPos))
	if u.total() == 1 {
		last := u.many.exp.es[0]
		u.many, u.one = nil, last
	}
}

// moved puts e, whose fields changed (class was its class before), back
// in order.
func (u *userIndex) moved(e *memItem, class uint8) {
	if u.many == nil {
		return
	}
	h := u.many
	if class != e.class {
		h.use[class].remove(int(e.usePos))
		h.use[e.class].push(e)
	} else {
		h.use[e.class].fix(int(e.usePos))
	}
	h.exp.fix(int(e.expPos))
}

// userShard holds the indexes of the users whose IDs hash to it; its lock
// is taken before a record shard's, never while holding one.
type userShard struct {
	mu    sync.Mutex
	users map[string]*userIndex
	_     [56]byte // no false sharing between shards
}

// add indexes e, the item of a live record r of a user of this shard.
func (us *userShard) add(e *memItem, r *memRec) {
	u := us.users[e.userID]
	if u == nil {
		u = &userIndex{id: e.userID}
		us.users[e.userID] = u
	}
	e.set(r)
	u.insert(e)
}

// set copies into e what the index orders r by.
func (e *memItem) set(r *memRec) {
	e.lastSeen = orNanos(r.lastSeen, math.MinInt64)
	e.expires = orNanos(r.expires, math.MaxInt64)
	e.class = classPresented
	if r.unpresented() {
		e.class = classUnpresented
	}
}

// remove takes e out of its user's index (a no-op for an entry in none),
// and the user out of the shard when nothing is left.
func (us *userShard) remove(e *memItem) {
	if !e.indexed {
		return
	}
	u := us.users[e.userID]
	u.delete(e)
	if u.total() == 0 {
		delete(us.users, u.id)
	}
}

// sync makes e's entry what r, its record now, is: gone when r is
// revoked, else ordered by its current last use and expiry (added when
// missing).
func (us *userShard) sync(e *memItem, r *memRec) {
	switch {
	case r.revoked != "":
		us.remove(e)
	case !e.indexed:
		us.add(e, r)
	default:
		class := e.class
		e.set(r)
		us.users[e.userID].moved(e, class)
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
		e := u.soonest()
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
func useBefore(a, b *memItem) bool {
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
	less(a, b *memItem) bool
	pos(e *memItem) *int32
}

type byUse struct{}

func (byUse) less(a, b *memItem) bool { return useBefore(a, b) }
func (byUse) pos(e *memItem) *int32   { return &e.usePos }

type byExpiry struct{}

func (byExpiry) less(a, b *memItem) bool { return a.expires < b.expires }
func (byExpiry) pos(e *memItem) *int32   { return &e.expPos }

// entryHeap is a binary min-heap of entries in order O: push, remove and
// fix in O(log n), the minimum in O(1).
type entryHeap[O heapOrder] struct{ es []*memItem }

func (h *entryHeap[O]) min() *memItem {
	if len(h.es) == 0 {
		return nil
	}
	return h.es[0]
}

func (h *entryHeap[O]) push(e *memItem) {
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
		h.es = append([]*memItem(nil), h.es...) // one account's spike does not stay
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
