package ginsecure

// The embedded memory store: the default Store, for one server.

import (
	"cmp"
	"context"
	"errors"
	"github.com/ginsecure/ginsecure/storeext"
	"hash/maphash"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// memShards spreads the memory store over several locks so that parallel
// requests of different sessions (and per-user work of different users)
// do not queue on one mutex.
const memShards = 32

// memItem is one record in the store, from its Create to its deletion:
// its place in the shard (records, recKeys) and in its user's index.
type memItem struct {
	// rec is the record now. It is never changed in place: Update and
	// eviction store a new one, so a reader that loaded it decodes a
	// consistent snapshot. Guarded by the record shard's lock.
	rec *memRec
	// handle, userID and seq never change: read without a lock.
	handle, userID string
	seq            uint64 // Record.Seq: told apart from a later record of the same handle
	// The index's fields (memindex.go), guarded by the user shard's lock:
	// indexed is false while the record is in no index (revoked,
	// expired, swept).
	lastSeen, expires int64 // Unix ns; math.MinInt64 and math.MaxInt64 for the zero time
	usePos, expPos    int32
	at                int32 // the position in its shard's recKeys, guarded by the record shard's lock
	class             uint8
	indexed           bool
}

type markSlot struct {
	storeext.Marker
	at int
}

type memShard struct {
	mu      sync.RWMutex
	records map[string]*memItem
	markers map[string]markSlot
	// recKeys and markKeys list the maps' keys, so that the sweep can stop
	// anywhere and resume there (a map cannot be walked in parts).
	recKeys  []string
	markKeys []string
	_        [40]byte // two 64-byte cache lines per shard: no false sharing between cores
}

// The hot path reads the memory store through sharedReader (store.go).
var _ sharedReader = (*memoryStore)(nil)

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
		m.shards[i].records = make(map[string]*memItem)
		m.shards[i].markers = make(map[string]markSlot)
		m.users[i].users = make(map[string]*userIndex)
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

// item is the item under handle, or nil. The caller holds s.mu.
func (s *memShard) item(handle string) *memItem { return s.records[handle] }

// putItem stores e under its handle, in place of any other. The caller
// holds s.mu.
func (s *memShard) putItem(e *memItem) {
	if old, ok := s.records[e.handle]; ok {
		e.at = old.at
		s.records[e.handle] = e
		return
	}
	e.at = int32(len(s.recKeys))
	s.records[e.handle] = e
	s.recKeys = append(s.recKeys, e.handle)
}

// dropItem deletes e, the item under its handle; the last key takes its
// place in recKeys. The caller holds s.mu.
func (s *memShard) dropItem(e *memItem) {
	delete(s.records, e.handle)
	last := len(s.recKeys) - 1
	if moved := s.recKeys[last]; int(e.at) != last {
		s.recKeys[e.at] = moved
		s.records[moved].at = e.at
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

// record is a copy of the record e holds, its slices its own. The caller
// holds e's shard lock.
func (e *memItem) record() storeext.Record {
	var view storeext.Record
	e.rec.decode(e, &view)
	return view.Clone()
}

func (m *memoryStore) Get(_ context.Context, handle string) (storeext.Record, error) {
	var view storeext.Record
	if err := m.viewShared(handle, m.now(), &view); err != nil {
		return storeext.Record{}, err
	}
	return view.Clone(), nil
}

// viewShared implements sharedReader: Get without the copies, for the
// Guard's hot path. It decodes the record into out, whose slices are then
// shared with the store and must not be modified (records are replaced,
// never changed in place, so they stay a consistent snapshot). now is
// the Guard's reading of the store's clock: one clock read per request.
func (m *memoryStore) viewShared(handle string, now time.Time, out *storeext.Record) error {
	m.sweepIfDue(now)
	s := m.shard(handle)
	s.mu.RLock()
	e := s.records[handle]
	var r *memRec
	if e != nil {
		r = e.rec
	}
	s.mu.RUnlock()
	if r == nil || r.gone(nanos(now, memZero)) {
		return storeext.ErrNotFound
	}
	r.decode(e, out)
	return nil
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
	if limit.Max > 0 && limit.Reject && presentedBut(u, m.itemOf(limit.Replacing, u)) >= limit.Max {
		return ErrTooManySessions
	}
	// One copy of the user's ID, shared by the user's records and index:
	// not the caller's string, which may be a slice of a larger one.
	userID := strings.Clone(rec.UserID)
	if u != nil {
		userID = u.id
	}
	r := encodeRec(&rec)
	e := &memItem{handle: rec.Handle, userID: userID, rec: r}
	s := m.shard(rec.Handle)
	s.mu.Lock()
	old := s.item(rec.Handle)
	if old != nil && !old.rec.expiredAt(nanos(now, memZero)) {
		s.mu.Unlock()
		return errHandleExists
	}
	e.seq = m.seq.Add(1)
	s.putItem(e)
	s.mu.Unlock()
	if old != nil && old.userID == rec.UserID {
		us.remove(old) // a record gone with its handle: its entry goes too
	}
	if u != nil && rec.Unpresented && limit.Unpresented > 0 {
		m.evictWhile(us, u, classUnpresented, limit.Unpresented-1)
	}
	// The ceiling, whatever the limit: the new record is not indexed yet,
	// so it is never the one signed out.
	for ceiling := userCeiling(limit); u != nil && u.total() >= ceiling; {
		m.evict(us, u.oldest())
	}
	us.add(e, r) // not e.rec: it is the record shard's to read
	return nil
}

// itemOf is the item under handle where it is u's ("" or another's: nil).
// The caller holds u's shard lock, and no record shard's.
func (m *memoryStore) itemOf(handle string, u *userIndex) *memItem {
	if handle == "" || u == nil {
		return nil
	}
	s := m.shard(handle)
	s.mu.RLock()
	e := s.item(handle)
	s.mu.RUnlock()
	if e == nil || e.userID != u.id {
		return nil
	}
	return e
}

// presentedBut counts u's live presented entries but e (an item of u's
// user, or nil). The caller holds u's shard lock and has purged u.
func presentedBut(u *userIndex, e *memItem) int {
	if u == nil {
		return 0
	}
	n := u.count(classPresented)
	if e != nil && e.indexed && e.class == classPresented {
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
	for u.count(class) > keep {
		if h := m.evict(us, u.leastUsed(class)); h != "" {
			evicted = append(evicted, h)
		}
	}
	return evicted
}

// evict signs out e's record (RevokedEvicted), takes e out of the index
// and returns the handle, or "" where the record ended meanwhile (it keeps
// its reason). The caller holds us.mu.
func (m *memoryStore) evict(us *userShard, e *memItem) string {
	s := m.shard(e.handle)
	s.mu.Lock()
	ok := s.item(e.handle) == e && e.rec.revoked == ""
	if ok {
		cp := *e.rec
		cp.revoked = storeext.RevokedEvicted
		e.rec = &cp
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
	for {
		userID, err := m.userOf(handle, now)
		if err != nil {
			return storeext.Record{}, nil, err
		}
		rec, evicted, err := m.presentAs(userID, handle, now, fn, limit)
		if !errors.Is(err, errOtherUser) {
			return rec, evicted, err
		}
	}
}

// errOtherUser: the handle came back for another user's record while
// Present or Update waited for the first one's lock; they start again.
var errOtherUser = errors.New("ginsecure: memory store: record changed user")

// lockedItem is the live item under handle, of userID's record, from s
// locked by the caller: ErrNotFound, or errOtherUser where the handle now
// names another user's record.
func lockedItem(s *memShard, handle, userID string, now time.Time) (*memItem, error) {
	e := s.item(handle)
	switch {
	case e == nil || e.rec.expiredAt(nanos(now, memZero)):
		return nil, storeext.ErrNotFound
	case e.userID != userID:
		return nil, errOtherUser
	}
	return e, nil
}

// presentAs is Present under the lock of userID, the user of the record.
func (m *memoryStore) presentAs(userID, handle string, now time.Time, fn func(*storeext.Record) error, limit storeext.Limit) (storeext.Record, []string, error) {
	us := m.userShard(userID)
	us.mu.Lock()
	defer us.mu.Unlock()
	u := us.purge(userID, now)
	s := m.shard(handle)
	s.mu.Lock()
	e, err := lockedItem(s, handle, userID, now)
	if err != nil {
		s.mu.Unlock()
		return storeext.Record{}, nil, err
	}
	r := e.rec
	cp := e.record()
	if err := fn(&cp); err != nil {
		out := e.record()
		s.mu.Unlock()
		return out, nil, err
	}
	first := limit.Max > 0 && r.unpresented() && !cp.Unpresented
	if first && limit.Reject && presentedBut(u, e) >= limit.Max {
		out := e.record()
		s.mu.Unlock()
		return out, nil, ErrTooManySessions
	}
	stored := store(e, &cp)
	e.rec = stored
	s.mu.Unlock()
	var evicted []string
	if first && !limit.Reject && u != nil && cp.Revoked == "" {
		evicted = m.evictWhile(us, u, classPresented, limit.Max-1)
	}
	us.sync(e, stored)
	return cp, evicted, nil
}

// store is fn's result cp, written over e's record, in the compact form;
// the caller stores it (e.rec) under the shard's lock. The handle and the
// user are not fn's to change (the user's index is keyed by them). A new
// record (readers may hold the old one), sharing nothing with cp: a
// pointer fn kept must not reach the store.
func store(e *memItem, cp *storeext.Record) *memRec {
	cp.Handle, cp.UserID, cp.Seq = e.handle, e.userID, e.seq
	return encodeRec(cp)
}

// reindexes reports whether b, written over a, changes what the user's
// index holds of the record (its last use, expiry, presentation or
// revocation).
func reindexes(a, b *memRec) bool {
	if a.revoked != "" && b.revoked != "" {
		return false // in no index, before or after
	}
	return a.revoked != b.revoked || a.unpresented() != b.unpresented() ||
		a.lastSeen != b.lastSeen || a.expires != b.expires
}

// Update writes under the record's shard lock alone when fn leaves what
// the index holds as it was (a rotation); otherwise it applies fn again
// under the user's shard lock too, so that the record and its index entry
// change in one step.
func (m *memoryStore) Update(_ context.Context, handle string, fn func(*storeext.Record) error) (storeext.Record, error) {
	now := m.now()
	s := m.shard(handle)
	s.mu.Lock()
	e := s.item(handle)
	if e == nil || e.rec.expiredAt(nanos(now, memZero)) {
		s.mu.Unlock()
		return storeext.Record{}, storeext.ErrNotFound
	}
	r := e.rec
	cp := e.record()
	if err := fn(&cp); err != nil {
		out := e.record()
		s.mu.Unlock()
		return out, err
	}
	if next := store(e, &cp); !reindexes(r, next) {
		e.rec = next
		s.mu.Unlock()
		return cp, nil
	}
	userID := e.userID
	s.mu.Unlock()
	for {
		rec, err := m.updateAs(userID, handle, fn)
		if !errors.Is(err, errOtherUser) {
			return rec, err
		}
		if userID, err = m.userOf(handle, m.now()); err != nil {
			return storeext.Record{}, err
		}
	}
}

// userOf is the user of the live record stored under handle.
func (m *memoryStore) userOf(handle string, now time.Time) (string, error) {
	s := m.shard(handle)
	s.mu.RLock()
	e := s.item(handle)
	var r *memRec
	if e != nil {
		r = e.rec
	}
	s.mu.RUnlock()
	if r == nil || r.expiredAt(nanos(now, memZero)) {
		return "", storeext.ErrNotFound
	}
	return e.userID, nil
}

// updateAs is Update under the lock of userID, the user of the record.
func (m *memoryStore) updateAs(userID, handle string, fn func(*storeext.Record) error) (storeext.Record, error) {
	us := m.userShard(userID)
	us.mu.Lock()
	defer us.mu.Unlock()
	s := m.shard(handle)
	s.mu.Lock()
	e, err := lockedItem(s, handle, userID, m.now())
	if err != nil {
		s.mu.Unlock()
		return storeext.Record{}, err
	}
	cp := e.record()
	if err := fn(&cp); err != nil {
		out := e.record()
		s.mu.Unlock()
		return out, err
	}
	stored := store(e, &cp)
	e.rec = stored
	s.mu.Unlock()
	us.sync(e, stored)
	return cp, nil
}

func (m *memoryStore) Delete(_ context.Context, handle string) error {
	s := m.shard(handle)
	for {
		s.mu.RLock()
		e := s.item(handle)
		s.mu.RUnlock()
		if e == nil {
			return nil
		}
		us := m.userShard(e.userID)
		us.mu.Lock()
		s.mu.Lock()
		same := s.item(handle) == e
		if same {
			s.dropItem(e)
		}
		s.mu.Unlock()
		if same {
			us.remove(e)
		}
		us.mu.Unlock()
		if same {
			return nil
		}
	}
}

// List holds the user's shard lock only to copy the user's live items (at
// most MemoryStoreMaxSessionsPerUser of them), then reads each record
// under its own shard's lock.
func (m *memoryStore) List(_ context.Context, userID string) ([]storeext.Record, error) {
	now := m.now()
	var items []*memItem
	us := m.userShard(userID)
	us.mu.Lock()
	if u := us.purge(userID, now); u != nil {
		items = make([]*memItem, 0, u.total())
		u.entries(func(e *memItem) { items = append(items, e) })
	}
	us.mu.Unlock()
	n := nanos(now, memZero)
	live := make([]storeext.Record, 0, len(items))
	for _, e := range items {
		s := m.shard(e.handle)
		s.mu.RLock()
		cur, r := s.item(e.handle), e.rec
		s.mu.RUnlock()
		if cur != e || r.revoked != "" || r.expiredAt(n) {
			continue // ended since the copy
		}
		var view storeext.Record
		r.decode(e, &view)
		live = append(live, view.Clone())
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
	dead    []*memItem // the items a step deleted, reused: a step allocates nothing
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
	n := nanos(now, memZero)
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
			if e := s.records[s.recKeys[c.pos]]; e.rec.gone(n) {
				s.dropItem(e) // the last key moved to pos: examined next
				dead = append(dead, e)
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
	for _, e := range dead {
		us := m.userShard(e.userID)
		us.mu.Lock()
		us.remove(e)
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
