package ginsecure

// The embedded memory store: the default Store, for one server.

import (
	"cmp"
	"context"
	"errors"
	"github.com/ginsecure/ginsecure/storeext"
	"hash/maphash"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// memShards spreads the memory store over several locks so that parallel
// requests of different sessions (and per-user work of different users)
// do not queue on one mutex.
const memShards = 32

// memSlot is a stored record and its place in its shard's recKeys (the
// sweep's order).
type memSlot struct {
	// rec is never changed in place: Update and eviction store a new
	// *Record, so a pointer handed out by viewShared stays a consistent snapshot.
	rec *storeext.Record
	at  int
}

type markSlot struct {
	storeext.Marker
	at int
}

type memShard struct {
	mu      sync.RWMutex
	records map[string]memSlot
	markers map[string]markSlot
	// recKeys and markKeys list the maps' keys, so that the sweep can stop
	// anywhere and resume there (a map cannot be walked in parts).
	recKeys  []string
	markKeys []string
	_        [40]byte // two 64-byte cache lines per shard: no false sharing between cores
}

type memoryStore struct {
	shards [memShards]memShard
	users  [memShards]userShard // the per-user indexes (memindex.go)
	seq    atomic.Uint64        // Record.Seq
	seed   maphash.Seed
	now    func() time.Time

	// sweep is where the incremental sweep stands; nextSweep is when a
	// step is next due (store clock, Unix ns): every read and write checks
	// it with one atomic load, no lock.
	sweepMu   sync.Mutex
	sweep     sweepCursor
	nextSweep atomic.Int64
}

// NewMemoryStore returns the embedded default store (Config.Store's
// default): safe for concurrent use, for one server. It expires records and markers itself (lazily on
// access, and by a sweep that starts at most once a minute and advances
// a bounded step, at most 64 entries under one shard's lock, with
// each read or write that finds it due), so it does not grow without bound
// as gin-contrib's memstore does, even under read-only traffic, and no
// request waits for a whole sweep. Per-user work (a login's limit, the
// listing, revoking) locks one shard of users and reads only the records
// it must: the user's index is ordered by last use and by expiry. It keeps
// at most MemoryStoreMaxSessionsPerUser live sessions per user. It starts
// no goroutine and needs no Close. (DESIGN.md, "Memory store")
func NewMemoryStore() storeext.Store {
	m := &memoryStore{now: time.Now, seed: maphash.MakeSeed()}
	for i := range m.shards {
		m.shards[i].records = make(map[string]memSlot)
		m.shards[i].markers = make(map[string]markSlot)
		m.users[i].users = make(map[string]*userIndex)
		m.users[i].entries = make(map[string]*userEntry)
	}
	m.sweep.shard = memShards // no round under way: the first call starts one
	return m
}

// UseClock implements ClockUser.
func (m *memoryStore) UseClock(now func() time.Time) { m.now = now }

func (m *memoryStore) shard(key string) *memShard { return &m.shards[m.slot(key)] }

func (m *memoryStore) userShard(userID string) *userShard {
	return &m.users[maphash.String(m.seed, userID)%memShards]
}

func (m *memoryStore) slot(key string) uint32 {
	// Every key ends in random characters (a handle, a session ID, a
	// cookie's hash), so eight of them spread the shards as well as a full
	// hash would, for a third of the cost on the hot path.
	if n := len(key); n >= 8 {
		h := uint32(2166136261) // FNV-1a
		for i := n - 8; i < n; i++ {
			h = (h ^ uint32(key[i])) * 16777619
		}
		return h % memShards
	}
	return uint32(maphash.String(m.seed, key) % memShards)
}

func (s *memShard) record(handle string) *storeext.Record { return s.records[handle].rec }

// putRecord stores r under handle. The caller holds s.mu.
func (s *memShard) putRecord(handle string, r *storeext.Record) {
	if sl, ok := s.records[handle]; ok {
		sl.rec = r
		s.records[handle] = sl
		return
	}
	s.records[handle] = memSlot{rec: r, at: len(s.recKeys)}
	s.recKeys = append(s.recKeys, handle)
}

// dropRecord deletes the record under handle; the last key takes its place
// in recKeys. The caller holds s.mu.
func (s *memShard) dropRecord(handle string) {
	if sl, ok := s.records[handle]; ok {
		s.dropSlot(handle, sl)
	}
}

// dropSlot is dropRecord of sl, the slot under handle.
func (s *memShard) dropSlot(handle string, sl memSlot) {
	delete(s.records, handle)
	last := len(s.recKeys) - 1
	if moved := s.recKeys[last]; sl.at != last {
		s.recKeys[sl.at] = moved
		ms := s.records[moved]
		ms.at = sl.at
		s.records[moved] = ms
	}
	s.recKeys[last] = ""
	s.recKeys = s.recKeys[:last]
}

// putMarker stores mk under key. The caller holds s.mu.
func (s *memShard) putMarker(key string, mk storeext.Marker) {
	if sl, ok := s.markers[key]; ok {
		sl.Marker = mk
		s.markers[key] = sl
		return
	}
	s.markers[key] = markSlot{Marker: mk, at: len(s.markKeys)}
	s.markKeys = append(s.markKeys, key)
}

// dropMarker is dropRecord for markers.
func (s *memShard) dropMarker(key string) {
	sl, ok := s.markers[key]
	if !ok {
		return
	}
	delete(s.markers, key)
	last := len(s.markKeys) - 1
	if moved := s.markKeys[last]; sl.at != last {
		s.markKeys[sl.at] = moved
		ms := s.markers[moved]
		ms.at = sl.at
		s.markers[moved] = ms
	}
	s.markKeys[last] = ""
	s.markKeys = s.markKeys[:last]
}

func expired(exp, now time.Time) bool { return !exp.IsZero() && !now.Before(exp) }

func retained(exp time.Time) time.Time {
	if exp.IsZero() {
		return exp
	}
	return exp.Add(storeext.RetainExpired)
}

// cloneRecord copies a record with its slices: values are copied in and
// out of the store.
func cloneRecord(r *storeext.Record) storeext.Record { return r.Clone() }

func (m *memoryStore) Get(_ context.Context, handle string) (storeext.Record, error) {
	r, err := m.viewShared(handle, m.now())
	if err != nil {
		return storeext.Record{}, err
	}
	return cloneRecord(r), nil
}

// viewShared implements sharedReader: Get without the copy, for the
// Guard's hot path. The record is shared with the store and must not be
// modified (records are replaced, never changed in place, so it stays a
// consistent snapshot). now is the Guard's reading of the store's clock:
// one clock read per request.
func (m *memoryStore) viewShared(handle string, now time.Time) (*storeext.Record, error) {
	m.sweepIfDue(now)
	s := m.shard(handle)
	s.mu.RLock()
	r := s.records[handle].rec
	s.mu.RUnlock()
	if r == nil || expired(retained(r.ExpiresAt), now) {
		return nil, storeext.ErrNotFound
	}
	return r, nil
}

// errHandleExists: Create was given the handle of a live record.
var errHandleExists = errors.New("ginsecure: memory store: handle already exists")

// Create holds the user's shard lock across the limit's count, the
// insertion and the evictions: one user's logins are one at a time. It
// reads the user's session count, not the sessions; it signs out only the
// ones it evicts.
func (m *memoryStore) Create(_ context.Context, rec storeext.Record, limit storeext.Limit) error {
	now := m.now()
	m.sweepIfDue(now)
	us := m.userShard(rec.UserID)
	us.mu.Lock()
	defer us.mu.Unlock()
	u := us.purge(rec.UserID, now)
	if limit.Max > 0 && limit.Reject && presentedBut(us, u, limit.Replacing) >= limit.Max {
		return ErrTooManySessions
	}
	s := m.shard(rec.Handle)
	s.mu.Lock()
	if old := s.record(rec.Handle); old != nil && !expired(old.ExpiresAt, now) {
		s.mu.Unlock()
		return errHandleExists
	}
	cp := cloneRecord(&rec)
	cp.Seq = m.seq.Add(1)
	s.putRecord(rec.Handle, &cp)
	s.mu.Unlock()
	if u != nil && rec.Unpresented && limit.Unpresented > 0 {
		m.evictWhile(us, u, classUnpresented, limit.Unpresented-1)
	}
	// The ceiling, whatever the limit: the new record is not indexed yet,
	// so it is never the one signed out.
	for ceiling := userCeiling(limit); u != nil && u.total() >= ceiling; {
		m.evict(us, u.oldest())
	}
	us.add(&cp)
	return nil
}

// presentedBut counts u's live presented entries but the one of handle.
// The caller holds us.mu and has purged u.
func presentedBut(us *userShard, u *userIndex, handle string) int {
	if u == nil {
		return 0
	}
	n := len(u.use[classPresented].es)
	if e := us.entries[handle]; e != nil && e.u == u && e.class == classPresented {
		n--
	}
	return n
}

func (m *memoryStore) Trim(_ context.Context, userID string, max int) ([]string, error) {
	if max <= 0 {
		return nil, nil
	}
	us := m.userShard(userID)
	us.mu.Lock()
	defer us.mu.Unlock()
	u := us.purge(userID, m.now())
	if u == nil {
		return nil, nil
	}
	return m.evictWhile(us, u, classPresented, max), nil
}

// evictWhile signs out the least recently used of u's entries of class
// until keep remain (Trim's order) and returns their handles: it reads
// only those. The caller holds us.mu and has purged u.
func (m *memoryStore) evictWhile(us *userShard, u *userIndex, class uint8, keep int) []string {
	var evicted []string
	for len(u.use[class].es) > keep {
		if h := m.evict(us, u.use[class].min()); h != "" {
			evicted = append(evicted, h)
		}
	}
	return evicted
}

// evict signs out e's record (RevokedEvicted), takes e out of the index
// and returns the handle, or "" where the record ended meanwhile (it keeps
// its reason). The caller holds us.mu.
func (m *memoryStore) evict(us *userShard, e *userEntry) string {
	s := m.shard(e.handle)
	s.mu.Lock()
	r := s.record(e.handle)
	ok := r != nil && r.Seq == e.seq && r.Revoked == ""
	if ok {
		cp := *r
		cp.Revoked = storeext.RevokedEvicted
		s.putRecord(e.handle, &cp)
	}
	s.mu.Unlock()
	us.remove(e)
	if !ok {
		return ""
	}
	return e.handle
}

// Present holds the user's shard lock across the limit's count, the write
// and the evictions: presentations of one user's records are one at a time.
func (m *memoryStore) Present(_ context.Context, held storeext.Record, fn func(*storeext.Record) error, limit storeext.Limit) (storeext.Record, []string, error) {
	now := m.now()
	handle := held.Handle
	s := m.shard(handle)
	for {
		s.mu.RLock()
		r := s.record(handle)
		s.mu.RUnlock()
		if r == nil || expired(r.ExpiresAt, now) {
			return storeext.Record{}, nil, storeext.ErrNotFound
		}
		rec, evicted, err := m.presentAs(r.UserID, handle, now, fn, limit)
		if !errors.Is(err, errOtherUser) {
			return rec, evicted, err
		}
	}
}

// errOtherUser: the handle came back for another user's record while
// Present or Update waited for the first one's lock; they start again.
var errOtherUser = errors.New("ginsecure: memory store: record changed user")

// presentAs is Present under the lock of userID, the user of the record.
func (m *memoryStore) presentAs(userID, handle string, now time.Time, fn func(*storeext.Record) error, limit storeext.Limit) (storeext.Record, []string, error) {
	us := m.userShard(userID)
	us.mu.Lock()
	defer us.mu.Unlock()
	u := us.purge(userID, now)
	s := m.shard(handle)
	s.mu.Lock()
	r := s.record(handle)
	switch {
	case r == nil || expired(r.ExpiresAt, now):
		s.mu.Unlock()
		return storeext.Record{}, nil, storeext.ErrNotFound
	case r.UserID != userID:
		s.mu.Unlock()
		return storeext.Record{}, nil, errOtherUser
	}
	cp := cloneRecord(r)
	if err := fn(&cp); err != nil {
		out := cloneRecord(r)
		s.mu.Unlock()
		return out, nil, err
	}
	first := limit.Max > 0 && r.Unpresented && !cp.Unpresented
	if first && limit.Reject && presentedBut(us, u, handle) >= limit.Max {
		out := cloneRecord(r)
		s.mu.Unlock()
		return out, nil, ErrTooManySessions
	}
	stored := m.store(s, handle, r, &cp)
	s.mu.Unlock()
	var evicted []string
	if first && !limit.Reject && u != nil && cp.Revoked == "" {
		evicted = m.evictWhile(us, u, classPresented, limit.Max-1)
	}
	us.sync(stored)
	return cp, evicted, nil
}

// store writes fn's result cp over r, the record stored under handle, and
// returns the stored copy. The handle and the user are not fn's to change
// (the user's index is keyed by them). The caller holds s.mu.
func (m *memoryStore) store(s *memShard, handle string, r, cp *storeext.Record) *storeext.Record {
	cp.Handle, cp.UserID, cp.Seq = handle, r.UserID, r.Seq
	// A new record (readers may hold the old one), not the one fn saw: a
	// pointer fn kept must not reach the store.
	stored := cloneRecord(cp)
	s.putRecord(handle, &stored)
	return &stored
}

// reindexes reports whether writing b over a changes what the user's index
// holds of the record (its last use, expiry, presentation or revocation).
func reindexes(a, b *storeext.Record) bool {
	if a.Revoked != "" && b.Revoked != "" {
		return false // in no index, before or after
	}
	return a.Revoked != b.Revoked || a.Unpresented != b.Unpresented ||
		!a.LastSeen.Equal(b.LastSeen) || !a.ExpiresAt.Equal(b.ExpiresAt)
}

// Update writes under the record's shard lock alone when fn leaves what
// the index holds as it was (a rotation); otherwise it applies fn again
// under the user's shard lock too, so that the record and its index entry
// change in one step.
func (m *memoryStore) Update(_ context.Context, handle string, fn func(*storeext.Record) error) (storeext.Record, error) {
	s := m.shard(handle)
	s.mu.Lock()
	r := s.record(handle)
	if r == nil || expired(r.ExpiresAt, m.now()) {
		s.mu.Unlock()
		return storeext.Record{}, storeext.ErrNotFound
	}
	cp := cloneRecord(r)
	if err := fn(&cp); err != nil {
		out := cloneRecord(r)
		s.mu.Unlock()
		return out, err
	}
	if !reindexes(r, &cp) {
		m.store(s, handle, r, &cp)
		s.mu.Unlock()
		return cp, nil
	}
	userID := r.UserID
	s.mu.Unlock()
	for {
		rec, err := m.updateAs(userID, handle, fn)
		if !errors.Is(err, errOtherUser) {
			return rec, err
		}
		if userID, err = m.userOf(handle); err != nil {
			return storeext.Record{}, err
		}
	}
}

// userOf is the user of the record stored under handle.
func (m *memoryStore) userOf(handle string) (string, error) {
	s := m.shard(handle)
	s.mu.RLock()
	r := s.record(handle)
	s.mu.RUnlock()
	if r == nil || expired(r.ExpiresAt, m.now()) {
		return "", storeext.ErrNotFound
	}
	return r.UserID, nil
}

// updateAs is Update under the lock of userID, the user of the record.
func (m *memoryStore) updateAs(userID, handle string, fn func(*storeext.Record) error) (storeext.Record, error) {
	us := m.userShard(userID)
	us.mu.Lock()
	defer us.mu.Unlock()
	s := m.shard(handle)
	s.mu.Lock()
	r := s.record(handle)
	switch {
	case r == nil || expired(r.ExpiresAt, m.now()):
		s.mu.Unlock()
		return storeext.Record{}, storeext.ErrNotFound
	case r.UserID != userID:
		s.mu.Unlock()
		return storeext.Record{}, errOtherUser
	}
	cp := cloneRecord(r)
	if err := fn(&cp); err != nil {
		out := cloneRecord(r)
		s.mu.Unlock()
		return out, err
	}
	stored := m.store(s, handle, r, &cp)
	s.mu.Unlock()
	us.sync(stored)
	return cp, nil
}

func (m *memoryStore) Delete(_ context.Context, handle string) error {
	s := m.shard(handle)
	for {
		s.mu.RLock()
		r := s.record(handle)
		s.mu.RUnlock()
		if r == nil {
			return nil
		}
		us := m.userShard(r.UserID)
		us.mu.Lock()
		s.mu.Lock()
		now := s.record(handle)
		if now == r {
			s.dropRecord(handle)
		}
		s.mu.Unlock()
		if now == r {
			if e := us.entryOf(r); e != nil {
				us.remove(e)
			}
		}
		us.mu.Unlock()
		if now == r {
			return nil
		}
	}
}

// List holds the user's shard lock only to copy the handles of the user's
// live records (at most MemoryStoreMaxSessionsPerUser of them), then reads
// each under its own shard's lock.
func (m *memoryStore) List(_ context.Context, userID string) ([]storeext.Record, error) {
	now := m.now()
	type ref struct {
		handle string
		seq    uint64
	}
	var refs []ref
	us := m.userShard(userID)
	us.mu.Lock()
	if u := us.purge(userID, now); u != nil {
		refs = make([]ref, 0, u.total())
		for _, h := range u.use {
			for _, e := range h.es {
				refs = append(refs, ref{e.handle, e.seq})
			}
		}
	}
	us.mu.Unlock()
	live := make([]storeext.Record, 0, len(refs))
	for _, f := range refs {
		s := m.shard(f.handle)
		s.mu.RLock()
		r := s.record(f.handle)
		s.mu.RUnlock()
		if r == nil || r.Seq != f.seq || r.Revoked != "" || expired(r.ExpiresAt, now) {
			continue // ended since the copy
		}
		live = append(live, cloneRecord(r))
	}
	slices.SortFunc(live, func(a, b storeext.Record) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.Seq, b.Seq))
	})
	return live, nil
}

func (m *memoryStore) SetMarker(_ context.Context, key string, mk storeext.Marker) error {
	now := m.now()
	m.sweepIfDue(now)
	s := m.shard(key)
	s.mu.Lock()
	if old, ok := s.markers[key]; ok && !expired(old.ExpiresAt, now) && (old.Handle != "" || mk.Handle == "") {
		s.mu.Unlock()
		return storeext.ErrMarkerExists
	}
	s.putMarker(key, mk)
	s.mu.Unlock()
	return nil
}

func (m *memoryStore) DeleteMarker(_ context.Context, key, handle string) error {
	s := m.shard(key)
	s.mu.Lock()
	if old, ok := s.markers[key]; ok && old.Handle == handle {
		s.dropMarker(key)
	}
	s.mu.Unlock()
	return nil
}

func (m *memoryStore) GetMarker(_ context.Context, key string) (storeext.Marker, error) {
	s := m.shard(key)
	s.mu.RLock()
	mk, ok := s.markers[key]
	s.mu.RUnlock()
	if !ok || expired(mk.ExpiresAt, m.now()) {
		return storeext.Marker{}, storeext.ErrNotFound
	}
	return mk.Marker, nil
}

// size reports how many records and markers the store holds, expired or
// not; tests use it to prove the store does not grow without bound.
func (m *memoryStore) size() (records, markers int) {
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.RLock()
		records += len(s.records)
		markers += len(s.markers)
		s.mu.RUnlock()
	}
	return
}

// sweepEvery is how often a sweep of expired entries starts; between
// sweeps expired entries are invisible (checked on access).
const sweepEvery = time.Minute

// sweepStep is the most entries (records and markers) one step of a sweep
// examines: the longest a request waits for the sweep, and the longest one
// shard stays locked by it (about 100 µs of CPU with every entry expired
// and out of cache, at 100 000 sessions). A sweep under way takes a step
// with every read and write, so it outpaces Create and SetMarker, which
// add one entry each.
const sweepStep = 64

// sweepCursor is where the sweep under way stands: the shard, its keys
// (records, then markers) and the position among them; shard is memShards
// when no sweep is under way. Guarded by sweepMu.
type sweepCursor struct {
	started time.Time // when the last sweep started
	shard   int
	markers bool
	pos     int
	dead    []*storeext.Record // the records a step deleted, reused: a step allocates nothing
}

// sweepIfDue takes a step of the sweep when one is under way or due
// (sweepEvery since the last one started, or the clock went back). Reads
// call it too: a store that only serves reads would otherwise keep
// expired records until the next login (hours under read-only traffic).
// While no step is due it costs one atomic load and no lock, so the hot
// path's view stays allocation- and contention-free; one request at a
// time takes a step, the others go on (DESIGN.md, "Memory store").
func (m *memoryStore) sweepIfDue(now time.Time) {
	n := now.UnixNano()
	if next := m.nextSweep.Load(); n < next && n >= next-int64(sweepEvery) {
		return
	}
	if !m.sweepMu.TryLock() {
		return // another request is taking the step
	}
	defer m.sweepMu.Unlock()
	c := &m.sweep
	if c.shard == memShards {
		if now.Sub(c.started) < sweepEvery && !now.Before(c.started) {
			m.nextSweep.Store(c.started.UnixNano() + int64(sweepEvery))
			return
		}
		*c = sweepCursor{started: now, dead: c.dead}
	}
	for budget := sweepStep; budget > 0 && c.shard < memShards; {
		budget -= m.sweepPart(now, budget)
	}
	next := n // under way: the next call takes the next step
	if c.shard == memShards {
		next = c.started.UnixNano() + int64(sweepEvery)
	}
	m.nextSweep.Store(next)
}

// sweepPart examines at most budget entries of the cursor's shard under
// its lock, deletes the expired ones, moves the cursor on and returns how
// many it examined. Records past RetainExpired leave their user's index
// after the shard's lock is released.
func (m *memoryStore) sweepPart(now time.Time, budget int) int {
	c := &m.sweep
	s := &m.shards[c.shard]
	dead := c.dead[:0]
	seen := 0
	s.mu.Lock()
	for ; seen < budget && c.pos < s.keys(c.markers); seen++ {
		if c.markers {
			k := s.markKeys[c.pos]
			if expired(s.markers[k].ExpiresAt, now) {
				s.dropMarker(k) // the last key moved to pos: examined next
				continue
			}
		} else {
			k := s.recKeys[c.pos]
			if sl := s.records[k]; expired(retained(sl.rec.ExpiresAt), now) {
				s.dropSlot(k, sl)
				dead = append(dead, sl.rec)
				continue
			}
		}
		c.pos++
	}
	if c.pos >= s.keys(c.markers) {
		c.pos = 0
		if c.markers = !c.markers; !c.markers {
			c.shard++
		}
	}
	s.mu.Unlock()
	for _, r := range dead {
		us := m.userShard(r.UserID)
		us.mu.Lock()
		if e := us.entryOf(r); e != nil {
			us.remove(e)
		}
		us.mu.Unlock()
	}
	clear(dead)
	c.dead = dead
	return max(seen, 1) // an empty part costs a lock: count it
}

// keys is how many records (or markers) s holds. The caller holds s.mu.
func (s *memShard) keys(markers bool) int {
	if markers {
		return len(s.markKeys)
	}
	return len(s.recKeys)
}
