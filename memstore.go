package ginsecure

// The embedded memory store: the default Store, for one server.

import (
	"context"
	"errors"
	"hash/maphash"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// memShards spreads the memory store over several locks so that parallel
// requests of different sessions do not queue on one mutex.
const memShards = 32

type memShard struct {
	mu sync.RWMutex
	// records are never changed in place: Update and eviction store a new
	// *Record, so a pointer handed out by viewShared stays a consistent snapshot.
	records map[string]*Record
	markers map[string]Marker
	_       [24]byte // one 64-byte cache line per shard: no false sharing between cores
}

type memoryStore struct {
	shards [memShards]memShard
	seq    atomic.Uint64 // Record.Seq
	seed   maphash.Seed
	now    func() time.Time

	userMu sync.Mutex // guards users; taken before a shard lock, never while holding one
	users  map[string]map[string]struct{}

	sweepMu   sync.Mutex
	lastSweep time.Time
	// nextSweep is when the next sweep is due (store clock, Unix ns): every
	// read and write checks it with one atomic load, no lock.
	nextSweep atomic.Int64
}

// NewMemoryStore returns the embedded default Store: safe for concurrent
// use, for one server. It expires records and markers itself (lazily on
// access, and by a sweep at most once a minute that any read or write
// runs when it is due), so it does not grow without bound as
// gin-contrib's memstore does, even under read-only traffic. It starts no
// goroutine and needs no Close.
func NewMemoryStore() Store {
	m := &memoryStore{now: time.Now, seed: maphash.MakeSeed(), users: make(map[string]map[string]struct{})}
	for i := range m.shards {
		m.shards[i].records = make(map[string]*Record)
		m.shards[i].markers = make(map[string]Marker)
	}
	return m
}

// UseClock implements ClockUser.
func (m *memoryStore) UseClock(now func() time.Time) { m.now = now }

func (m *memoryStore) shard(key string) *memShard {
	// Every key ends in random characters (a handle, a session ID, a
	// cookie's hash), so eight of them spread the shards as well as a full
	// hash would, for a third of the cost on the hot path.
	if n := len(key); n >= 8 {
		h := uint32(2166136261) // FNV-1a
		for i := n - 8; i < n; i++ {
			h = (h ^ uint32(key[i])) * 16777619
		}
		return &m.shards[h%memShards]
	}
	return &m.shards[maphash.String(m.seed, key)%memShards]
}

func expired(exp, now time.Time) bool { return !exp.IsZero() && !now.Before(exp) }

func retained(exp time.Time) time.Time {
	if exp.IsZero() {
		return exp
	}
	return exp.Add(RetainExpired)
}

// cloneRecord copies a record with its slices: values are copied in and
// out of the store.
func cloneRecord(r *Record) Record { return r.Clone() }

func (m *memoryStore) Get(_ context.Context, handle string) (Record, error) {
	r, err := m.viewShared(handle, m.now())
	if err != nil {
		return Record{}, err
	}
	return cloneRecord(r), nil
}

// viewShared implements sharedReader: Get without the copy, for the
// Guard's hot path. The record is shared with the store and must not be
// modified (records are replaced, never changed in place, so it stays a
// consistent snapshot). now is the Guard's reading of the store's clock:
// one clock read per request.
func (m *memoryStore) viewShared(handle string, now time.Time) (*Record, error) {
	m.sweepIfDue(now)
	s := m.shard(handle)
	s.mu.RLock()
	r := s.records[handle]
	s.mu.RUnlock()
	if r == nil || expired(retained(r.ExpiresAt), now) {
		return nil, ErrNotFound
	}
	return r, nil
}

func (m *memoryStore) Create(_ context.Context, rec Record, limit Limit) error {
	m.maybeSweep()
	now := m.now()
	// The user lock serialises logins of one user, so the limit check and
	// the insertion are one atomic step.
	m.userMu.Lock()
	defer m.userMu.Unlock()
	if limit.Max > 0 && limit.Reject {
		live := slices.DeleteFunc(m.liveLocked(rec.UserID, now), func(r Record) bool {
			return r.Unpresented || r.Handle == limit.Replacing
		})
		if len(live) >= limit.Max {
			return ErrTooManySessions
		}
	}
	var waiting []Record // the user's other unpresented records
	if rec.Unpresented && limit.Unpresented > 0 {
		waiting = slices.DeleteFunc(m.liveLocked(rec.UserID, now), func(r Record) bool { return !r.Unpresented })
	}
	s := m.shard(rec.Handle)
	s.mu.Lock()
	if old, ok := s.records[rec.Handle]; ok && !expired(old.ExpiresAt, now) {
		s.mu.Unlock()
		return errors.New("ginsecure: memory store: handle already exists")
	}
	cp := cloneRecord(&rec)
	cp.Seq = m.seq.Add(1)
	s.records[rec.Handle] = &cp
	s.mu.Unlock()
	if waiting != nil {
		m.evictLocked(rec.UserID, waiting, limit.Unpresented-1)
	}
	set := m.users[rec.UserID]
	if set == nil {
		set = make(map[string]struct{})
		m.users[rec.UserID] = set
	}
	set[rec.Handle] = struct{}{}
	return nil
}

func (m *memoryStore) Trim(_ context.Context, userID string, max int) ([]string, error) {
	if max <= 0 {
		return nil, nil
	}
	now := m.now()
	m.userMu.Lock()
	defer m.userMu.Unlock()
	return m.evictLocked(userID, m.presentedLocked(userID, now, ""), max), nil
}

// presentedLocked is the user's live presented records but except. The
// caller holds userMu.
func (m *memoryStore) presentedLocked(userID string, now time.Time, except string) []Record {
	return slices.DeleteFunc(m.liveLocked(userID, now), func(r Record) bool {
		return r.Unpresented || r.Handle == except
	})
}

// evictLocked signs out all but the keep most recently seen of live (Trim's
// order) and returns their handles. The caller holds userMu.
func (m *memoryStore) evictLocked(userID string, live []Record, keep int) []string {
	if len(live) <= keep {
		return nil
	}
	sort.Slice(live, func(i, j int) bool { return recentBefore(live[i], live[j]) })
	var evicted []string
	for _, old := range live[:len(live)-keep] {
		s := m.shard(old.Handle)
		s.mu.Lock()
		r, ok := s.records[old.Handle]
		ok = ok && r.Revoked == "" // ended meanwhile: it keeps its reason
		if ok {
			cp := *r
			cp.Revoked = RevokedEvicted
			s.records[old.Handle] = &cp
		}
		s.mu.Unlock()
		m.unindexLocked(userID, old.Handle)
		if ok {
			evicted = append(evicted, old.Handle)
		}
	}
	return evicted
}

// Present holds the user's lock across the limit's count, the write and the
// evictions: presentations of one user's records are one at a time.
func (m *memoryStore) Present(_ context.Context, held Record, fn func(*Record) error, limit Limit) (Record, []string, error) {
	now := m.now()
	handle := held.Handle
	s := m.shard(handle)
	s.mu.RLock()
	r, ok := s.records[handle]
	s.mu.RUnlock()
	if !ok || expired(r.ExpiresAt, now) {
		return Record{}, nil, ErrNotFound
	}
	m.userMu.Lock()
	defer m.userMu.Unlock()
	var others []Record
	if limit.Max > 0 && r.Unpresented {
		others = m.presentedLocked(r.UserID, now, handle)
	}
	s.mu.Lock()
	r, ok = s.records[handle]
	if !ok || expired(r.ExpiresAt, now) {
		s.mu.Unlock()
		return Record{}, nil, ErrNotFound
	}
	cp := cloneRecord(r)
	if err := fn(&cp); err != nil {
		out := cloneRecord(r)
		s.mu.Unlock()
		return out, nil, err
	}
	first := limit.Max > 0 && r.Unpresented && !cp.Unpresented
	if first && limit.Reject && len(others) >= limit.Max {
		out := cloneRecord(r)
		s.mu.Unlock()
		return out, nil, ErrTooManySessions
	}
	cp.Handle = handle
	stored := cloneRecord(&cp)
	s.records[handle] = &stored
	s.mu.Unlock()
	if cp.Revoked != "" {
		m.unindexLocked(cp.UserID, handle)
	}
	var evicted []string
	if first && !limit.Reject {
		evicted = m.evictLocked(cp.UserID, others, limit.Max-1)
	}
	return cp, evicted, nil
}

// recentBefore orders records by last use, then by creation order (Seq),
// so that every server (and every racing login) agrees which are the most
// recent: Trim keeps those, whoever calls it.
func recentBefore(a, b Record) bool {
	if !a.LastSeen.Equal(b.LastSeen) {
		return a.LastSeen.Before(b.LastSeen)
	}
	if a.Seq != b.Seq {
		return a.Seq < b.Seq
	}
	return a.Handle < b.Handle
}

// liveLocked returns the user's live records and prunes dead index entries.
// The caller holds userMu.
func (m *memoryStore) liveLocked(userID string, now time.Time) []Record {
	var live []Record
	for h := range m.users[userID] {
		s := m.shard(h)
		s.mu.RLock()
		r, ok := s.records[h]
		var cp Record
		if ok {
			cp = *r
		}
		s.mu.RUnlock()
		if !ok || cp.Revoked != "" || expired(cp.ExpiresAt, now) {
			delete(m.users[userID], h)
			continue
		}
		live = append(live, cp)
	}
	if len(m.users[userID]) == 0 {
		delete(m.users, userID)
	}
	return live
}

func (m *memoryStore) Update(_ context.Context, handle string, fn func(*Record) error) (Record, error) {
	s := m.shard(handle)
	s.mu.Lock()
	r, ok := s.records[handle]
	if !ok || expired(r.ExpiresAt, m.now()) {
		s.mu.Unlock()
		return Record{}, ErrNotFound
	}
	cp := cloneRecord(r)
	if err := fn(&cp); err != nil {
		out := cloneRecord(r)
		s.mu.Unlock()
		return out, err
	}
	cp.Handle = handle // the key is not fn's to change
	// A new record (readers may hold the old one), not the one fn saw: a
	// pointer fn kept must not reach the store.
	stored := cloneRecord(&cp)
	s.records[handle] = &stored
	s.mu.Unlock()
	if cp.Revoked != "" {
		m.userMu.Lock()
		m.unindexLocked(cp.UserID, handle)
		m.userMu.Unlock()
	}
	return cp, nil
}

func (m *memoryStore) Delete(_ context.Context, handle string) error {
	s := m.shard(handle)
	s.mu.Lock()
	r, ok := s.records[handle]
	if ok {
		delete(s.records, handle)
	}
	s.mu.Unlock()
	if ok {
		m.userMu.Lock()
		m.unindexLocked(r.UserID, handle)
		m.userMu.Unlock()
	}
	return nil
}

// unindexLocked takes handle out of the user's index, and the user out of
// the map when nothing is left. The caller holds userMu.
func (m *memoryStore) unindexLocked(userID, handle string) {
	if set := m.users[userID]; set != nil {
		delete(set, handle)
		if len(set) == 0 {
			delete(m.users, userID)
		}
	}
}

func (m *memoryStore) List(_ context.Context, userID string) ([]Record, error) {
	m.userMu.Lock()
	defer m.userMu.Unlock()
	live := m.liveLocked(userID, m.now())
	sort.Slice(live, func(i, j int) bool { return live[i].CreatedAt.Before(live[j].CreatedAt) })
	return live, nil
}

func (m *memoryStore) SetMarker(_ context.Context, key string, mk Marker) error {
	m.maybeSweep()
	s := m.shard(key)
	s.mu.Lock()
	if old, ok := s.markers[key]; ok && !expired(old.ExpiresAt, m.now()) && (old.Handle != "" || mk.Handle == "") {
		s.mu.Unlock()
		return ErrMarkerExists
	}
	s.markers[key] = mk
	s.mu.Unlock()
	return nil
}

func (m *memoryStore) DeleteMarker(_ context.Context, key, handle string) error {
	s := m.shard(key)
	s.mu.Lock()
	if old, ok := s.markers[key]; ok && old.Handle == handle {
		delete(s.markers, key)
	}
	s.mu.Unlock()
	return nil
}

func (m *memoryStore) GetMarker(_ context.Context, key string) (Marker, error) {
	s := m.shard(key)
	s.mu.RLock()
	mk, ok := s.markers[key]
	s.mu.RUnlock()
	if !ok || expired(mk.ExpiresAt, m.now()) {
		return Marker{}, ErrNotFound
	}
	return mk, nil
}

// sweepEvery bounds how often a request pays for a full sweep of expired
// entries; between sweeps expired entries are invisible (checked on access).
const sweepEvery = time.Minute

func (m *memoryStore) maybeSweep() { m.sweepIfDue(m.now()) }

// sweepIfDue sweeps when sweepEvery has passed since the last sweep (or
// the clock went back). Reads call it too: a store that only serves reads
// would otherwise keep expired records until the next login (hours under
// read-only traffic). While no sweep is due it costs one atomic load and no
// lock, so the hot path's view stays allocation- and contention-free. The
// request that finds a sweep due runs it (one goroutine at a time: the
// others see the next due time already moved on).
func (m *memoryStore) sweepIfDue(now time.Time) {
	n := now.UnixNano()
	if next := m.nextSweep.Load(); n < next && n >= next-int64(sweepEvery) {
		return
	}
	m.sweepMu.Lock()
	if now.Sub(m.lastSweep) < sweepEvery && !now.Before(m.lastSweep) {
		m.sweepMu.Unlock()
		return
	}
	m.lastSweep = now
	m.nextSweep.Store(n + int64(sweepEvery))
	m.sweepMu.Unlock()
	m.sweep(now)
}

func (m *memoryStore) sweep(now time.Time) {
	type gone struct{ user, handle string }
	var dead []gone
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		for h, r := range s.records {
			if expired(retained(r.ExpiresAt), now) {
				delete(s.records, h)
				dead = append(dead, gone{r.UserID, h})
			}
		}
		for k, mk := range s.markers {
			if expired(mk.ExpiresAt, now) {
				delete(s.markers, k)
			}
		}
		s.mu.Unlock()
	}
	if len(dead) == 0 {
		return
	}
	m.userMu.Lock()
	for _, d := range dead {
		m.unindexLocked(d.user, d.handle)
	}
	m.userMu.Unlock()
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
