// Package storetest checks that a ginsecure.Store keeps the contract
// written on the interface, so that the memory store and the Redis store
// (and any store a user writes) cannot drift apart. Call Run from a test:
//
//	func TestStoreContract(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) ginsecure.Store { return mystore.New(...) })
//	}
//
// newStore is called once per subtest and must return an empty store (a
// fresh key prefix is enough on a shared server). A store that implements
// storeext.ClockUser is handed the suite's own clock, which the expiry
// checks move instead of sleeping; without it those checks are skipped.
package storetest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ginsecure/ginsecure"
	"github.com/ginsecure/ginsecure/storeext"
)

// Clock is the movable clock the suite hands to stores through
// storeext.ClockUser.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock at a fixed instant with millisecond precision,
// the precision stores may keep times in.
func NewClock() *Clock {
	return &Clock{t: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Run runs the contract suite; every check is a subtest with its own store.
func Run(t *testing.T, newStore func(t *testing.T) storeext.Store) {
	for _, tc := range []struct {
		name string
		f    func(t *testing.T, s *suite)
	}{
		{"NotFoundIsErrNotFound", testNotFound},
		{"RoundTripKeepsEveryField", testRoundTrip},
		{"ValuesAreCopiedInAndOut", testCopies},
		{"CreateNeverOverwritesALiveRecord", testCreateDuplicate},
		{"LimitEvictsLeastRecentlySeen", testLimitEvict},
		{"LimitRejectStoresNothing", testLimitReject},
		{"TrimTiesGoToTheLaterCreated", testTrimTiesGoToTheLaterCreated},
		{"LimitCountsOnlyLiveRecords", testLimitCountsLive},
		{"LimitDoesNotCountTheReplacedRecord", testLimitReplacing},
		{"UserIDsAreKeptExactlyAndIndexedApart", testUserIDsExact},
		{"UpdateErrorWritesNothing", testUpdateError},
		{"UpdateCannotMoveTheKey", testUpdateKeepsHandle},
		{"RevokedRecordsLeaveTheIndex", testRevokedLeaveIndex},
		{"DeleteIsIdempotentAndLeavesTheIndex", testDelete},
		{"ListReturnsOnlyLiveRecordsOldestFirst", testList},
		{"MarkersAreSetOnceRoundTripAndExpire", testMarkers},
		{"ConcurrentSetMarkerHasOneWinner", testMarkerRace},
		{"RecordsExpireByTheClock", testExpiry},
		{"UpdateExtendsExpiry", testUpdateExtends},
		{"ConcurrentCASUpdateHasOneWinnerPerRound", testCASRace},
		{"ConcurrentUpdatesLoseNothing", testNoLostUpdates},
		{"ConcurrentCreatesNeverExceedTheLimit", testCreateRaceEvict},
		{"ConcurrentCreatesWithRejectAdmitOne", testCreateRaceReject},
		{"UpdateHeldAnswersAsUpdate", testUpdateHeld},
		{"ConcurrentUpdateHeldLosesNothing", testUpdateHeldRace},
		{"UnpresentedRecordsNeitherCountNorAreTrimmed", testUnpresented},
		{"PresentEvictsLeastRecentlySeenOtherPresented", testPresentEvict},
		{"PresentWithRejectWritesNothing", testPresentReject},
		{"PresentAnswersAsUpdate", testPresentAsUpdate},
		{"ConcurrentPresentsNeverExceedTheLimit", testPresentRace},
		{"UnpresentedRecordsAreBounded", testUnpresentedBound},
		{"DeviceKeyBindsOnceAndSurvivesEviction", testDeviceBindsOnce},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &suite{t: t, st: newStore(t), clock: NewClock(), ctx: context.Background()}
			if cu, ok := s.st.(storeext.ClockUser); ok {
				cu.UseClock(s.clock.Now)
				s.clocked = true
			}
			tc.f(t, s)
		})
	}
}

type suite struct {
	t       *testing.T
	st      storeext.Store
	clock   *Clock
	clocked bool
	ctx     context.Context
}

func (s *suite) needClock() {
	if !s.clocked {
		s.t.Skip("store does not implement storeext.ClockUser: expiry cannot be driven by a test clock")
	}
}

func randHash() [32]byte {
	var h [32]byte
	_, _ = rand.Read(h[:])
	return h
}

func newHandle() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// record returns a fully populated live record of user, seen at seen.
func (s *suite) record(user string, seen time.Time) storeext.Record {
	now := s.clock.Now()
	return storeext.Record{
		Handle: newHandle(), UserID: user, SessionID: "SID" + newHandle(),
		TokenHash: randHash(), IssuedAt: now, TokenKey: []byte("key\x00\xff"),
		History: []storeext.Superseded{
			{Hash: randHash(), At: now.Add(-time.Second), AuthAt: now.Add(-time.Hour), Raised: true,
				Seen: now.Add(-2 * time.Second), Open: now.Add(-time.Millisecond), Sealed: []byte("sealed\x00\xffpending")},
			{Hash: randHash(), At: now.Add(-3 * time.Second), AuthAt: now.Add(-time.Hour), Key: []byte("k\x01")},
		},
		ReplacedBy: newHandle(), ForwardPending: []byte("forwarded\x01"),
		IP: "192.0.2.7", UserAgent: "storetest/1 (\"quoted\" ünïcode \\ </script>)",
		CreatedAt: now, AuthAt: now, LastSeen: seen,
		ExpiresAt: now.Add(30 * time.Minute),
		Device: storeext.DeviceKey{Algorithm: string(ginsecure.ES256), JWK: `{"crv":"P-256","kty":"EC","x":"a/b\\c","y":"d_-e"}`,
			Thumbprint: "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs", BoundAt: now.Add(-time.Minute)},
	}
}

func (s *suite) create(r storeext.Record, l storeext.Limit) {
	s.t.Helper()
	if err := s.st.Create(s.ctx, r, l); err != nil {
		s.t.Fatalf("Create %s: %v", r.Handle, err)
	}
}

func (s *suite) trim(user string, max int) []string {
	s.t.Helper()
	ev, err := s.st.Trim(s.ctx, user, max)
	if err != nil {
		s.t.Fatalf("Trim %s: %v", user, err)
	}
	return ev
}

func (s *suite) get(h string) storeext.Record {
	s.t.Helper()
	r, err := s.st.Get(s.ctx, h)
	if err != nil {
		s.t.Fatalf("Get %s: %v", h, err)
	}
	return r
}

func (s *suite) notFound(h string) {
	s.t.Helper()
	if r, err := s.st.Get(s.ctx, h); !errors.Is(err, storeext.ErrNotFound) {
		s.t.Fatalf("Get %s: want ErrNotFound, got %+v, %v", h, r, err)
	}
}

func (s *suite) handles(user string) []string {
	s.t.Helper()
	rs, err := s.st.List(s.ctx, user)
	if err != nil {
		s.t.Fatalf("List %s: %v", user, err)
	}
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Handle
	}
	return out
}

func sameHandles(got, want []string) bool {
	g := append([]string(nil), got...)
	w := append([]string(nil), want...)
	sort.Strings(g)
	sort.Strings(w)
	return fmt.Sprint(g) == fmt.Sprint(w)
}

// diff names the fields in which two records differ; times are compared
// as instants.
func diff(a, b storeext.Record) string {
	var d []string
	str := func(name, x, y string) {
		if x != y {
			d = append(d, fmt.Sprintf("%s %q != %q", name, x, y))
		}
	}
	tm := func(name string, x, y time.Time) {
		if !x.Equal(y) {
			d = append(d, fmt.Sprintf("%s %v != %v", name, x, y))
		}
	}
	str("Handle", a.Handle, b.Handle)
	str("UserID", a.UserID, b.UserID)
	str("IP", a.IP, b.IP)
	str("UserAgent", a.UserAgent, b.UserAgent)
	str("Revoked", a.Revoked, b.Revoked)
	str("SessionID", a.SessionID, b.SessionID)
	str("ReplacedBy", a.ReplacedBy, b.ReplacedBy)
	str("ForwardPending", string(a.ForwardPending), string(b.ForwardPending))
	str("TokenKey", string(a.TokenKey), string(b.TokenKey))
	if a.TokenHash != b.TokenHash {
		d = append(d, "TokenHash")
	}
	if len(a.History) != len(b.History) {
		d = append(d, fmt.Sprintf("History: %d entries != %d", len(a.History), len(b.History)))
	}
	for i := range min(len(a.History), len(b.History)) {
		x, y := a.History[i], b.History[i]
		if x.Hash != y.Hash || x.Raised != y.Raised || string(x.Key) != string(y.Key) || string(x.Sealed) != string(y.Sealed) {
			d = append(d, fmt.Sprintf("History[%d]", i))
		}
		tm(fmt.Sprintf("History[%d].At", i), x.At, y.At)
		tm(fmt.Sprintf("History[%d].AuthAt", i), x.AuthAt, y.AuthAt)
		tm(fmt.Sprintf("History[%d].Seen", i), x.Seen, y.Seen)
		tm(fmt.Sprintf("History[%d].Open", i), x.Open, y.Open)
	}
	if a.Unpresented != b.Unpresented {
		d = append(d, "Unpresented")
	}
	tm("IssuedAt", a.IssuedAt, b.IssuedAt)
	tm("ConfirmedAt", a.ConfirmedAt, b.ConfirmedAt)
	tm("CreatedAt", a.CreatedAt, b.CreatedAt)
	tm("AuthAt", a.AuthAt, b.AuthAt)
	tm("LastSeen", a.LastSeen, b.LastSeen)
	tm("ExpiresAt", a.ExpiresAt, b.ExpiresAt)
	return fmt.Sprint(d)
}

// supersede is the Guard's rotation as far as a store sees it: the current
// token joins the history (a new slice: the record read may be shared).
func supersede(x *storeext.Record, next [32]byte) {
	x.History = append([]storeext.Superseded{{Hash: x.TokenHash}}, x.History...)
	x.TokenHash = next
}

func testNotFound(t *testing.T, s *suite) {
	h := newHandle()
	s.notFound(h)
	if _, err := s.st.Update(s.ctx, h, func(*storeext.Record) error { return nil }); !errors.Is(err, storeext.ErrNotFound) {
		t.Fatalf("Update of a missing record: want ErrNotFound, got %v", err)
	}
	if _, err := s.st.GetMarker(s.ctx, "s:missing"); !errors.Is(err, storeext.ErrNotFound) {
		t.Fatalf("GetMarker of a missing key: want ErrNotFound, got %v", err)
	}
	if err := s.st.Delete(s.ctx, h); err != nil {
		t.Fatalf("Delete of a missing record: %v", err)
	}
	if rs, err := s.st.List(s.ctx, "nobody"); err != nil || len(rs) != 0 {
		t.Fatalf("List of an unknown user: %v, %v", rs, err)
	}
	// Update must not create what it did not find.
	s.notFound(h)
}

func testRoundTrip(t *testing.T, s *suite) {
	r := s.record("alice", s.clock.Now())
	r.ConfirmedAt, r.Unpresented = s.clock.Now().Add(-time.Millisecond), true
	s.create(r, storeext.Limit{})
	if d := diff(s.get(r.Handle), r); d != "[]" {
		t.Fatalf("Get after Create differs: %s", d)
	}
	rs, err := s.st.List(s.ctx, "alice")
	if err != nil || len(rs) != 1 {
		t.Fatalf("List: %v, %v", rs, err)
	}
	if d := diff(rs[0], r); d != "[]" {
		t.Fatalf("List after Create differs: %s", d)
	}
	got, err := s.st.Update(s.ctx, r.Handle, func(x *storeext.Record) error {
		supersede(x, randHash())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(s.get(r.Handle), got); d != "[]" {
		t.Fatalf("Get after Update differs from what Update returned: %s", d)
	}
}

func testCopies(t *testing.T, s *suite) {
	r := s.record("alice", s.clock.Now())
	s.create(r, storeext.Limit{})
	want := s.get(r.Handle)

	// A caller that keeps fn's pointer must not reach into the store.
	var kept *storeext.Record
	if _, err := s.st.Update(s.ctx, r.Handle, func(x *storeext.Record) error { kept = x; return nil }); err != nil {
		t.Fatal(err)
	}
	kept.UserID, kept.Revoked, kept.TokenHash = "mallory", storeext.RevokedByUser, randHash()
	if d := diff(s.get(r.Handle), want); d != "[]" {
		t.Fatalf("a pointer kept from Update's fn changed the stored record: %s", d)
	}

	// Nor may a returned value.
	got := s.get(r.Handle)
	got.UserID = "mallory"
	if s.get(r.Handle).UserID != "alice" {
		t.Fatal("a value returned by Get shares memory with the store")
	}
	rs, _ := s.st.List(s.ctx, "alice")
	rs[0].UserID = "mallory"
	if s.get(r.Handle).UserID != "alice" {
		t.Fatal("a value returned by List shares memory with the store")
	}
}

func testCreateDuplicate(t *testing.T, s *suite) {
	r := s.record("alice", s.clock.Now())
	s.create(r, storeext.Limit{})
	dup := s.record("mallory", s.clock.Now())
	dup.Handle = r.Handle
	if err := s.st.Create(s.ctx, dup, storeext.Limit{}); err == nil {
		t.Fatal("Create replaced another user's live record under the same handle")
	}
	if got := s.get(r.Handle); got.UserID != "alice" || got.TokenHash != r.TokenHash {
		t.Fatalf("record changed by a refused Create: %+v", got)
	}
	if hs := s.handles("mallory"); len(hs) != 0 {
		t.Fatalf("a refused Create left an index entry: %v", hs)
	}
}

func testLimitEvict(t *testing.T, s *suite) {
	base := s.clock.Now()
	// Created in one order, seen in another: the least recently seen goes,
	// not the oldest created.
	a := s.record("alice", base.Add(-1*time.Minute))
	b := s.record("alice", base.Add(-3*time.Minute))
	c := s.record("alice", base.Add(-2*time.Minute))
	lim := storeext.Limit{Max: 3}
	for _, r := range []storeext.Record{a, b, c} {
		s.create(r, lim)
		if ev := s.trim("alice", 3); len(ev) != 0 {
			t.Fatalf("under the limit, Trim evicted %v", ev)
		}
	}
	d := s.record("alice", base)
	d.CreatedAt = base.Add(time.Second)
	s.create(d, lim)
	if hs := s.handles("alice"); len(hs) != 4 {
		t.Fatalf("Create without Reject must not evict: %v", hs)
	}
	ev := s.trim("alice", 3)
	if !sameHandles(ev, []string{b.Handle}) {
		t.Fatalf("evicted %v, want the least recently seen %s", ev, b.Handle)
	}
	if got := s.get(b.Handle); got.Revoked != storeext.RevokedEvicted {
		t.Fatalf("evicted record: Revoked = %q, want %q", got.Revoked, storeext.RevokedEvicted)
	}
	if hs := s.handles("alice"); !sameHandles(hs, []string{a.Handle, c.Handle, d.Handle}) {
		t.Fatalf("live after eviction: %v", hs)
	}
	// A lowered limit evicts as many as it takes.
	e := s.record("alice", base)
	e.CreatedAt = base.Add(2 * time.Second)
	s.create(e, storeext.Limit{})
	ev = s.trim("alice", 2)
	if !sameHandles(ev, []string{c.Handle, a.Handle}) {
		t.Fatalf("Max 2 over 4 live: evicted %v, want %s and %s", ev, c.Handle, a.Handle)
	}
	if hs := s.handles("alice"); !sameHandles(hs, []string{d.Handle, e.Handle}) {
		t.Fatalf("live after lowering the limit: %v", hs)
	}
	// Equally recent: the later created wins, whoever trims.
	if ev := s.trim("alice", 1); !sameHandles(ev, []string{d.Handle}) {
		t.Fatalf("Trim to 1 of two seen at once: evicted %v, want the earlier created %s", ev, d.Handle)
	}
	// Other users are never touched by alice's limit.
	o := s.record("bob", base.Add(-time.Hour))
	s.create(o, storeext.Limit{})
	f := s.record("alice", base)
	f.CreatedAt = base.Add(3 * time.Second)
	s.create(f, storeext.Limit{})
	s.trim("alice", 1)
	if got := s.get(o.Handle); got.Revoked != "" {
		t.Fatalf("alice's limit evicted bob: %q", got.Revoked)
	}
	if hs := s.handles("alice"); !sameHandles(hs, []string{f.Handle}) {
		t.Fatalf("live after Trim to 1: %v", hs)
	}
}

// testTrimTiesGoToTheLaterCreated: records seen at the same instant (a coarse
// or frozen clock) rank by the order the store created them, so a login
// made at the same instant as an older session still keeps its own.
func testTrimTiesGoToTheLaterCreated(t *testing.T, s *suite) {
	now := s.clock.Now()
	var hs []string
	for range 4 {
		r := s.record("alice", now)
		s.create(r, storeext.Limit{})
		hs = append(hs, r.Handle)
	}
	for i := 0; i < 3; i++ {
		ev := s.trim("alice", 3-i)
		if !sameHandles(ev, []string{hs[i]}) {
			t.Fatalf("Trim to %d of records seen at one instant: evicted %v, want the earliest created %s", 3-i, ev, hs[i])
		}
	}
	if got := s.handles("alice"); !sameHandles(got, []string{hs[3]}) {
		t.Fatalf("left %v, want the last created %s", got, hs[3])
	}
}

func testLimitReject(t *testing.T, s *suite) {
	lim := storeext.Limit{Max: 2, Reject: true}
	a := s.record("alice", s.clock.Now())
	b := s.record("alice", s.clock.Now())
	s.create(a, lim)
	s.create(b, lim)
	c := s.record("alice", s.clock.Now())
	err := s.st.Create(s.ctx, c, lim)
	if !errors.Is(err, ginsecure.ErrTooManySessions) {
		t.Fatalf("Create over the limit with Reject: want ErrTooManySessions, got %v", err)
	}
	s.notFound(c.Handle)
	for _, h := range []string{a.Handle, b.Handle} {
		if got := s.get(h); got.Revoked != "" {
			t.Fatalf("a rejected Create revoked %s: %q", h, got.Revoked)
		}
	}
	if hs := s.handles("alice"); !sameHandles(hs, []string{a.Handle, b.Handle}) {
		t.Fatalf("live after a rejected Create: %v", hs)
	}
}

func testLimitCountsLive(t *testing.T, s *suite) {
	lim := storeext.Limit{Max: 1, Reject: true}
	a := s.record("alice", s.clock.Now())
	s.create(a, lim)
	if _, err := s.st.Update(s.ctx, a.Handle, func(r *storeext.Record) error { r.Revoked = storeext.RevokedByUser; return nil }); err != nil {
		t.Fatal(err)
	}
	b := s.record("alice", s.clock.Now())
	if err := s.st.Create(s.ctx, b, lim); err != nil {
		t.Fatalf("a revoked record still counts against the limit: %v", err)
	}
	if err := s.st.Delete(s.ctx, b.Handle); err != nil {
		t.Fatal(err)
	}
	c := s.record("alice", s.clock.Now())
	if err := s.st.Create(s.ctx, c, lim); err != nil {
		t.Fatalf("a deleted record still counts against the limit: %v", err)
	}
	if !s.clocked {
		return
	}
	c2 := s.record("bob", s.clock.Now())
	c2.ExpiresAt = s.clock.Now().Add(time.Minute)
	s.create(c2, lim)
	s.clock.Advance(time.Minute)
	d := s.record("bob", s.clock.Now())
	if err := s.st.Create(s.ctx, d, lim); err != nil {
		t.Fatalf("an expired record still counts against the limit: %v", err)
	}
}

func testUpdateError(t *testing.T, s *suite) {
	r := s.record("alice", s.clock.Now())
	s.create(r, storeext.Limit{})
	boom := errors.New("boom")
	got, err := s.st.Update(s.ctx, r.Handle, func(x *storeext.Record) error {
		x.TokenHash, x.Revoked = randHash(), storeext.RevokedByUser
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update: want fn's error, got %v", err)
	}
	if d := diff(got, r); d != "[]" {
		t.Fatalf("Update with an error returned a changed record: %s", d)
	}
	if d := diff(s.get(r.Handle), r); d != "[]" {
		t.Fatalf("Update with an error wrote: %s", d)
	}
	if hs := s.handles("alice"); !sameHandles(hs, []string{r.Handle}) {
		t.Fatalf("Update with an error changed the index: %v", hs)
	}
}

func testUpdateKeepsHandle(t *testing.T, s *suite) {
	r := s.record("alice", s.clock.Now())
	s.create(r, storeext.Limit{})
	other := newHandle()
	got, err := s.st.Update(s.ctx, r.Handle, func(x *storeext.Record) error { x.Handle = other; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if got.Handle != r.Handle || s.get(r.Handle).Handle != r.Handle {
		t.Fatalf("fn moved the record's handle to %q", got.Handle)
	}
	s.notFound(other)
}

func testRevokedLeaveIndex(t *testing.T, s *suite) {
	a := s.record("alice", s.clock.Now())
	b := s.record("alice", s.clock.Now())
	s.create(a, storeext.Limit{})
	s.create(b, storeext.Limit{})
	got, err := s.st.Update(s.ctx, a.Handle, func(x *storeext.Record) error { x.Revoked = storeext.RevokedReplay; return nil })
	if err != nil || got.Revoked != storeext.RevokedReplay {
		t.Fatalf("revoke: %+v, %v", got, err)
	}
	if hs := s.handles("alice"); !sameHandles(hs, []string{b.Handle}) {
		t.Fatalf("a revoked record is still listed: %v", hs)
	}
	// Get still returns it, so that its holder learns why it was signed out.
	if got := s.get(a.Handle); got.Revoked != storeext.RevokedReplay {
		t.Fatalf("Get of a revoked record: Revoked = %q", got.Revoked)
	}
	// A later update of a revoked record (a touch racing the revocation)
	// must not put it back in the index.
	if _, err := s.st.Update(s.ctx, a.Handle, func(x *storeext.Record) error { x.LastSeen = s.clock.Now(); return nil }); err != nil {
		t.Fatal(err)
	}
	if hs := s.handles("alice"); !sameHandles(hs, []string{b.Handle}) {
		t.Fatalf("updating a revoked record put it back in the index: %v", hs)
	}
}

func testDelete(t *testing.T, s *suite) {
	a := s.record("alice", s.clock.Now())
	b := s.record("alice", s.clock.Now())
	s.create(a, storeext.Limit{})
	s.create(b, storeext.Limit{})
	for i := 0; i < 2; i++ {
		if err := s.st.Delete(s.ctx, a.Handle); err != nil {
			t.Fatalf("Delete #%d: %v", i+1, err)
		}
	}
	s.notFound(a.Handle)
	if hs := s.handles("alice"); !sameHandles(hs, []string{b.Handle}) {
		t.Fatalf("a deleted record is still listed: %v", hs)
	}
	if _, err := s.st.Update(s.ctx, a.Handle, func(*storeext.Record) error { return nil }); !errors.Is(err, storeext.ErrNotFound) {
		t.Fatalf("Update after Delete: want ErrNotFound, got %v", err)
	}
	// Deleting a revoked record works too.
	if _, err := s.st.Update(s.ctx, b.Handle, func(x *storeext.Record) error { x.Revoked = storeext.RevokedByUser; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := s.st.Delete(s.ctx, b.Handle); err != nil {
		t.Fatal(err)
	}
	s.notFound(b.Handle)
}

func testList(t *testing.T, s *suite) {
	var want []string
	for i := 0; i < 4; i++ {
		r := s.record("alice", s.clock.Now())
		// Created later, seen earlier: the order is by creation.
		r.CreatedAt = s.clock.Now().Add(time.Duration(i) * time.Second)
		r.LastSeen = s.clock.Now().Add(-time.Duration(i) * time.Second)
		s.create(r, storeext.Limit{})
		want = append(want, r.Handle)
	}
	s.create(s.record("bob", s.clock.Now()), storeext.Limit{})
	if got := s.handles("alice"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("List: got %v, want oldest first %v", got, want)
	}
	if _, err := s.st.Update(s.ctx, want[1], func(x *storeext.Record) error { x.Revoked = storeext.RevokedByUser; return nil }); err != nil {
		t.Fatal(err)
	}
	if got := s.handles("alice"); fmt.Sprint(got) != fmt.Sprint([]string{want[0], want[2], want[3]}) {
		t.Fatalf("List after a revocation: %v", got)
	}
	if !s.clocked {
		return
	}
	short := s.record("alice", s.clock.Now())
	short.ExpiresAt = s.clock.Now().Add(time.Minute)
	s.create(short, storeext.Limit{})
	s.clock.Advance(time.Minute)
	if got := s.handles("alice"); fmt.Sprint(got) != fmt.Sprint([]string{want[0], want[2], want[3]}) {
		t.Fatalf("List shows an expired record: %v", got)
	}
}

func testMarkers(t *testing.T, s *suite) {
	now := s.clock.Now()
	m := storeext.Marker{At: now, Handle: newHandle(), ExpiresAt: now.Add(10 * time.Minute)}
	if err := s.st.SetMarker(s.ctx, "s:abc", m); err != nil {
		t.Fatal(err)
	}
	if err := s.st.SetMarker(s.ctx, "c:other", storeext.Marker{At: now, Handle: newHandle(), ExpiresAt: now.Add(10 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	got, err := s.st.GetMarker(s.ctx, "s:abc")
	if err != nil || !got.At.Equal(m.At) || got.Handle != m.Handle || !got.ExpiresAt.Equal(m.ExpiresAt) {
		t.Fatalf("GetMarker: %+v, %v; want %+v", got, err, m)
	}
	// Markers and records live in separate namespaces.
	if _, err := s.st.Get(s.ctx, "s:abc"); !errors.Is(err, storeext.ErrNotFound) {
		t.Fatalf("a marker key read as a record: %v", err)
	}
	// Set once: whoever holds the old session cannot repoint it later.
	m2 := storeext.Marker{At: now.Add(time.Second), Handle: newHandle(), ExpiresAt: now.Add(20 * time.Minute)}
	if err := s.st.SetMarker(s.ctx, "s:abc", m2); !errors.Is(err, storeext.ErrMarkerExists) {
		t.Fatalf("SetMarker over a live marker: want ErrMarkerExists, got %v", err)
	}
	if got, _ := s.st.GetMarker(s.ctx, "s:abc"); got.Handle != m.Handle {
		t.Fatal("SetMarker replaced a live marker")
	}
	// DeleteMarker removes only the marker that names the handle.
	if err := s.st.DeleteMarker(s.ctx, "s:abc", m2.Handle); err != nil {
		t.Fatal(err)
	}
	if got, err := s.st.GetMarker(s.ctx, "s:abc"); err != nil || got.Handle != m.Handle {
		t.Fatalf("DeleteMarker with another handle removed the marker: %+v, %v", got, err)
	}
	if err := s.st.DeleteMarker(s.ctx, "s:abc", m.Handle); err != nil {
		t.Fatal(err)
	}
	if _, err := s.st.GetMarker(s.ctx, "s:abc"); !errors.Is(err, storeext.ErrNotFound) {
		t.Fatalf("DeleteMarker left the marker: %v", err)
	}
	if err := s.st.DeleteMarker(s.ctx, "s:none", m.Handle); err != nil {
		t.Fatalf("DeleteMarker of nothing: %v", err)
	}
	if err := s.st.SetMarker(s.ctx, "s:abc", m2); err != nil {
		t.Fatalf("SetMarker after DeleteMarker: %v", err)
	}
	// A tombstone (no handle) gives way once to a marker naming a record,
	// never to another tombstone, and never the other way round.
	tomb := storeext.Marker{At: now, ExpiresAt: now.Add(time.Hour)}
	if err := s.st.SetMarker(s.ctx, "s:t", tomb); err != nil {
		t.Fatal(err)
	}
	if err := s.st.SetMarker(s.ctx, "s:t", tomb); !errors.Is(err, storeext.ErrMarkerExists) {
		t.Fatalf("a tombstone over a tombstone: want ErrMarkerExists, got %v", err)
	}
	if err := s.st.SetMarker(s.ctx, "s:t", m); err != nil {
		t.Fatalf("a marker over a tombstone: %v", err)
	}
	if err := s.st.SetMarker(s.ctx, "s:t", m2); !errors.Is(err, storeext.ErrMarkerExists) {
		t.Fatalf("a marker over the marker that replaced a tombstone: want ErrMarkerExists, got %v", err)
	}
	if err := s.st.SetMarker(s.ctx, "s:t", tomb); !errors.Is(err, storeext.ErrMarkerExists) {
		t.Fatalf("a tombstone over a marker: want ErrMarkerExists, got %v", err)
	}
	if got, err := s.st.GetMarker(s.ctx, "s:t"); err != nil || got.Handle != m.Handle {
		t.Fatalf("after the tombstone was replaced: %+v, %v", got, err)
	}
	if !s.clocked {
		return
	}
	s.clock.Advance(10*time.Minute - time.Millisecond)
	if _, err := s.st.GetMarker(s.ctx, "c:other"); err != nil {
		t.Fatalf("a marker expired early: %v", err)
	}
	s.clock.Advance(time.Millisecond)
	if _, err := s.st.GetMarker(s.ctx, "c:other"); !errors.Is(err, storeext.ErrNotFound) {
		t.Fatalf("an expired marker: want ErrNotFound, got %v", err)
	}
	// An expired marker no longer blocks a new one.
	if err := s.st.SetMarker(s.ctx, "c:other", storeext.Marker{At: s.clock.Now(), Handle: m.Handle, ExpiresAt: s.clock.Now().Add(time.Minute)}); err != nil {
		t.Fatalf("SetMarker over an expired marker: %v", err)
	}
}

// testMarkerRaceHasOneWinner: logins racing to retire one session leave
// exactly one marker, and every loser is told so.
func testMarkerRace(t *testing.T, s *suite) {
	for round := 0; round < 10; round++ {
		key := fmt.Sprintf("s:race%d", round)
		var won, lost int
		var winner string
		var mu sync.Mutex
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := 0; i < workers; i++ {
			h := newHandle()
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				err := s.st.SetMarker(s.ctx, key, storeext.Marker{At: s.clock.Now(), Handle: h, ExpiresAt: s.clock.Now().Add(time.Minute)})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					won++
					winner = h
				case errors.Is(err, storeext.ErrMarkerExists):
					lost++
				default:
					t.Errorf("SetMarker: %v", err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if won != 1 || lost != workers-1 {
			t.Fatalf("round %d: %d won, %d lost", round, won, lost)
		}
		if got, err := s.st.GetMarker(s.ctx, key); err != nil || got.Handle != winner {
			t.Fatalf("round %d: marker names %q (%v), winner %q", round, got.Handle, err, winner)
		}
	}
}

func testExpiry(t *testing.T, s *suite) {
	s.needClock()
	r := s.record("alice", s.clock.Now())
	r.ExpiresAt = s.clock.Now().Add(10 * time.Minute)
	s.create(r, storeext.Limit{})
	s.clock.Advance(10*time.Minute - time.Millisecond)
	s.get(r.Handle)
	if hs := s.handles("alice"); !sameHandles(hs, []string{r.Handle}) {
		t.Fatalf("a record about to expire is not listed: %v", hs)
	}
	s.clock.Advance(time.Millisecond)
	// From ExpiresAt on the record is dead for everything but Get.
	if _, err := s.st.Update(s.ctx, r.Handle, func(x *storeext.Record) error {
		x.ExpiresAt = s.clock.Now().Add(time.Hour)
		return nil
	}); !errors.Is(err, storeext.ErrNotFound) {
		t.Fatalf("Update revived an expired record: %v", err)
	}
	if hs := s.handles("alice"); len(hs) != 0 {
		t.Fatalf("an expired record is listed: %v", hs)
	}
	// Get keeps it for RetainExpired, unchanged, so that its holder is told
	// why it was signed out; then it is gone.
	if got := s.get(r.Handle); !got.ExpiresAt.Equal(r.ExpiresAt) {
		t.Fatalf("the refused Update wrote: ExpiresAt %v", got.ExpiresAt)
	}
	s.clock.Advance(storeext.RetainExpired - time.Millisecond)
	s.get(r.Handle)
	s.clock.Advance(time.Millisecond)
	s.notFound(r.Handle)
}

func testUpdateExtends(t *testing.T, s *suite) {
	s.needClock()
	r := s.record("alice", s.clock.Now())
	r.ExpiresAt = s.clock.Now().Add(10 * time.Minute)
	s.create(r, storeext.Limit{})
	s.clock.Advance(5 * time.Minute)
	if _, err := s.st.Update(s.ctx, r.Handle, func(x *storeext.Record) error {
		x.LastSeen, x.ExpiresAt = s.clock.Now(), s.clock.Now().Add(10*time.Minute)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	s.clock.Advance(9 * time.Minute)
	s.get(r.Handle)
	if hs := s.handles("alice"); !sameHandles(hs, []string{r.Handle}) {
		t.Fatalf("an extended record left the index: %v", hs)
	}
}

// workers is how many goroutines race in the concurrency checks.
const workers = 8

var errLost = errors.New("storetest: lost the race")

func testCASRace(t *testing.T, s *suite) {
	r := s.record("alice", s.clock.Now())
	s.create(r, storeext.Limit{})
	for round := 0; round < 20; round++ {
		seen := s.get(r.Handle).TokenHash
		var wins, losses int
		var mu sync.Mutex
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := 0; i < workers; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				next := randHash()
				<-start
				// The Guard's rotation: only the holder of the current token
				// may replace it.
				_, err := s.st.Update(s.ctx, r.Handle, func(x *storeext.Record) error {
					if x.TokenHash != seen {
						return errLost
					}
					supersede(x, next)
					return nil
				})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					wins++
				case errors.Is(err, errLost):
					losses++
				default:
					t.Errorf("round %d: Update: %v", round, err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if wins != 1 || losses != workers-1 {
			t.Fatalf("round %d: %d winners and %d losers of one rotation, want 1 and %d: the record forked", round, wins, losses, workers-1)
		}
		if got := s.get(r.Handle); len(got.History) == 0 || got.History[0].Hash != seen {
			t.Fatalf("round %d: the winner's write is not the stored one", round)
		}
	}
}

func testNoLostUpdates(t *testing.T, s *suite) {
	r := s.record("alice", s.clock.Now())
	s.create(r, storeext.Limit{})
	const each = 25
	var ok int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for j := 0; j < each; j++ {
				_, err := s.st.Update(s.ctx, r.Handle, func(x *storeext.Record) error {
					x.LastSeen = x.LastSeen.Add(time.Millisecond)
					return nil
				})
				if err != nil {
					// A store may give up under contention (an error, so the
					// Guard fails closed); it may never drop a write it
					// reported as done.
					continue
				}
				mu.Lock()
				ok++
				mu.Unlock()
			}
		}()
	}
	close(start)
	wg.Wait()
	got := s.get(r.Handle).LastSeen.Sub(r.LastSeen) / time.Millisecond
	if int64(got) != ok {
		t.Fatalf("%d updates reported done, %d applied: updates were lost", ok, got)
	}
	if ok == 0 {
		t.Fatalf("none of %d updates succeeded", workers*each)
	}
}

func testCreateRaceEvict(t *testing.T, s *suite) {
	for round := 0; round < 10; round++ {
		user := fmt.Sprintf("user%d", round)
		var handles []string
		var mu sync.Mutex
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := 0; i < workers; i++ {
			r := s.record(user, s.clock.Now().Add(time.Duration(i)*time.Millisecond))
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if err := s.st.Create(s.ctx, r, storeext.Limit{Max: 1}); err != nil {
					t.Errorf("Create: %v", err)
					return
				}
				if _, err := s.st.Trim(s.ctx, r.UserID, 1); err != nil {
					t.Errorf("Trim: %v", err)
					return
				}
				mu.Lock()
				handles = append(handles, r.Handle)
				mu.Unlock()
			}()
		}
		close(start)
		wg.Wait()
		live := 0
		for _, h := range handles {
			if s.get(h).Revoked == "" {
				live++
			}
		}
		if live != 1 {
			t.Fatalf("round %d: %d records left unrevoked by %d racing logins with Max 1", round, live, len(handles))
		}
		if hs := s.handles(user); len(hs) != 1 {
			t.Fatalf("round %d: %d records listed with Max 1: %v", round, len(hs), hs)
		}
	}
}

func testCreateRaceReject(t *testing.T, s *suite) {
	for round := 0; round < 10; round++ {
		user := fmt.Sprintf("user%d", round)
		var admitted, refused int
		var mu sync.Mutex
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := 0; i < workers; i++ {
			r := s.record(user, s.clock.Now())
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				err := s.st.Create(s.ctx, r, storeext.Limit{Max: 1, Reject: true})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					admitted++
				case errors.Is(err, ginsecure.ErrTooManySessions):
					refused++
				default:
					t.Errorf("Create: %v", err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if admitted != 1 || refused != workers-1 {
			t.Fatalf("round %d: %d admitted, %d refused with Max 1 and Reject", round, admitted, refused)
		}
	}
}

// testLimitReplacing: the record a new one replaces (a browser signing in
// again) does not count against the limit and is not evicted by it.
func testLimitReplacing(t *testing.T, s *suite) {
	a := s.record("alice", s.clock.Now())
	s.create(a, storeext.Limit{Max: 1})
	b := s.record("alice", s.clock.Now())
	if err := s.st.Create(s.ctx, b, storeext.Limit{Max: 1, Reject: true, Replacing: a.Handle}); err != nil {
		t.Fatalf("Create replacing the only record: %v", err)
	}
	if got := s.get(a.Handle); got.Revoked != "" {
		t.Fatalf("the replaced record was revoked: %q", got.Revoked)
	}
	c := s.record("alice", s.clock.Now())
	if err := s.st.Create(s.ctx, c, storeext.Limit{Max: 2, Reject: true, Replacing: a.Handle}); err != nil {
		t.Fatalf("Create with one other live record under Max 2: %v", err)
	}
	d := s.record("alice", s.clock.Now())
	if err := s.st.Create(s.ctx, d, storeext.Limit{Max: 2, Reject: true, Replacing: a.Handle}); !errors.Is(err, ginsecure.ErrTooManySessions) {
		t.Fatalf("Replacing must not exempt the others: %v", err)
	}
}

// userIDs are valid UTF-8 user IDs (what Login accepts) that an encoding
// or a key scheme could mangle or run together: multi-byte characters,
// JSON's escapes written literally, quotes, backslashes, separators,
// U+2028 (which JavaScript-safe JSON escapes), NUL, and case.
var userIDs = []string{
	"ünïcödé 名前 \U0001F600", "\u00fcn\u00efc\u00f6d\u00e9",
	`quote"d`, `back\slash`, `\"`, `"`, `\`,
	"a:b", "a", "a:", ":a", "a b", "a\u2028b", "a\u2029b", "a\x00b", "a\nb",
	"Alice", "alice", "<script>", "r:x", "u:a",
}

// testUserIDsExact: every user ID Login accepts comes back exactly from
// Get and List, and each user's index holds only that user's records: two
// IDs never share an index, so RevokeUser of one never misses or touches
// the other's sessions.
func testUserIDsExact(t *testing.T, s *suite) {
	handles := map[string][]string{}
	for _, u := range userIDs {
		for range 2 {
			r := s.record(u, s.clock.Now())
			s.create(r, storeext.Limit{Max: 2})
			handles[u] = append(handles[u], r.Handle)
			if got := s.get(r.Handle).UserID; got != u {
				t.Fatalf("Get: user %q came back as %q", u, got)
			}
		}
	}
	for _, u := range userIDs {
		rs, err := s.st.List(s.ctx, u)
		if err != nil {
			t.Fatalf("List %q: %v", u, err)
		}
		got := make([]string, len(rs))
		for i, r := range rs {
			got[i] = r.Handle
			if r.UserID != u {
				t.Fatalf("List %q: a record of user %q", u, r.UserID)
			}
		}
		if !sameHandles(got, handles[u]) {
			t.Fatalf("List %q = %v, want exactly %v: user IDs share an index", u, got, handles[u])
		}
	}
}

// heldUpdater is the store as a storeext.HeldUpdater, or skips the test.
func (s *suite) heldUpdater() storeext.HeldUpdater {
	u, ok := s.st.(storeext.HeldUpdater)
	if !ok {
		s.t.Skip("store does not implement storeext.HeldUpdater")
	}
	return u
}

// testUpdateHeld: UpdateHeld of a record the caller read answers as
// Update would, whether or not the record changed since it was read.
func testUpdateHeld(t *testing.T, s *suite) {
	u := s.heldUpdater()
	r := s.record("alice", s.clock.Now())
	other := s.record("alice", s.clock.Now())
	s.create(r, storeext.Limit{})
	s.create(other, storeext.Limit{})

	// Held as read: fn sees it and the result is stored.
	held := s.get(r.Handle)
	next := randHash()
	got, err := u.UpdateHeld(s.ctx, held, func(x *storeext.Record) error {
		if x.TokenHash != r.TokenHash {
			return fmt.Errorf("fn saw token %x, want the held %x", x.TokenHash[:4], r.TokenHash[:4])
		}
		supersede(x, next)
		x.History = append(x.History, storeext.Superseded{Hash: next})
		return nil
	})
	if err != nil || got.TokenHash != next {
		t.Fatalf("UpdateHeld of the current record: %x, %v", got.TokenHash[:4], err)
	}
	if d := diff(s.get(r.Handle), got); d != "[]" {
		t.Fatalf("UpdateHeld returned what it did not store: %s", d)
	}
	if len(held.History) != len(r.History) {
		t.Fatalf("UpdateHeld changed the caller's record: %d superseded, want %d", len(held.History), len(r.History))
	}

	// Held is stale (the write above came since): fn sees the stored
	// record, not held, and nothing is lost.
	later := randHash()
	got, err = u.UpdateHeld(s.ctx, held, func(x *storeext.Record) error {
		if x.TokenHash != next {
			return fmt.Errorf("fn saw token %x, want the stored %x", x.TokenHash[:4], next[:4])
		}
		supersede(x, later)
		return nil
	})
	if err != nil || got.TokenHash != later || got.History[0].Hash != next || s.get(r.Handle).TokenHash != later {
		t.Fatalf("UpdateHeld of a stale record: %x, %v", got.TokenHash[:4], err)
	}

	// fn's error writes nothing and returns the stored record.
	boom := errors.New("boom")
	stored := s.get(r.Handle)
	got, err = u.UpdateHeld(s.ctx, stored, func(x *storeext.Record) error {
		x.Revoked = storeext.RevokedByUser
		return boom
	})
	if !errors.Is(err, boom) || got.TokenHash != later {
		t.Fatalf("UpdateHeld with fn's error: %x, %v", got.TokenHash[:4], err)
	}
	if d := diff(s.get(r.Handle), stored); d != "[]" {
		t.Fatalf("UpdateHeld with fn's error wrote: %s", d)
	}

	// The key is not fn's to change; a revocation leaves the index.
	got, err = u.UpdateHeld(s.ctx, s.get(r.Handle), func(x *storeext.Record) error {
		x.Handle, x.Revoked = other.Handle, storeext.RevokedReplaced
		return nil
	})
	if err != nil || got.Handle != r.Handle || s.get(r.Handle).Revoked != storeext.RevokedReplaced {
		t.Fatalf("UpdateHeld revoking: %+v, %v", got, err)
	}
	if s.get(other.Handle).Revoked != "" {
		t.Fatal("fn moved the record's handle onto another record")
	}
	if hs := s.handles("alice"); !sameHandles(hs, []string{other.Handle}) {
		t.Fatalf("a record revoked by UpdateHeld is still listed: %v", hs)
	}

	// Gone: ErrNotFound, as Update.
	gone := s.get(other.Handle)
	if err := s.st.Delete(s.ctx, other.Handle); err != nil {
		t.Fatal(err)
	}
	if _, err := u.UpdateHeld(s.ctx, gone, func(*storeext.Record) error { return nil }); !errors.Is(err, storeext.ErrNotFound) {
		t.Fatalf("UpdateHeld of a deleted record: %v, want ErrNotFound", err)
	}
	s.notFound(other.Handle)
}

// testUpdateHeldRace: parallel UpdateHeld calls from one read, each
// adding to the record, lose none of their writes.
func testUpdateHeldRace(t *testing.T, s *suite) {
	u := s.heldUpdater()
	r := s.record("alice", s.clock.Now())
	r.History = nil
	s.create(r, storeext.Limit{})
	held := s.get(r.Handle)
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := randHash()
			if _, err := u.UpdateHeld(s.ctx, held, func(x *storeext.Record) error {
				x.History = append(x.History, storeext.Superseded{Hash: h})
				return nil
			}); err != nil {
				t.Errorf("UpdateHeld: %v", err)
			}
		}()
	}
	wg.Wait()
	if n := len(s.get(r.Handle).History); n != workers {
		t.Fatalf("%d of %d parallel UpdateHeld writes kept", n, workers)
	}
}

// unpresented returns a live record of user seen at seen that no request
// has presented yet (a login's, Record.Unpresented).
func (s *suite) unpresented(user string, seen time.Time) storeext.Record {
	r := s.record(user, seen)
	r.Unpresented = true
	return r
}

// presentFn is the first presentation as the Guard writes it.
func (s *suite) presentFn() func(*storeext.Record) error {
	now := s.clock.Now()
	return func(r *storeext.Record) error {
		r.Unpresented, r.LastSeen = false, now
		return nil
	}
}

// testUnpresented: records no request presented yet are not counted by
// Create's limit, and Trim neither counts nor signs them out; List shows
// them (so that RevokeUser ends them too).
func testUnpresented(t *testing.T, s *suite) {
	now := s.clock.Now()
	lim := storeext.Limit{Max: 2, Reject: true}
	a := s.record("alice", now.Add(-time.Minute))
	s.create(a, lim)
	u1, u2 := s.unpresented("alice", now.Add(-2*time.Minute)), s.unpresented("alice", now.Add(-3*time.Minute))
	s.create(u1, lim)
	s.create(u2, lim) // one presented record: room for more
	b := s.record("alice", now)
	s.create(b, lim) // the unpresented ones hold no slot
	if err := s.st.Create(s.ctx, s.record("alice", now), lim); !errors.Is(err, ginsecure.ErrTooManySessions) {
		t.Fatalf("Create with two presented records, Max 2, Reject: %v, want ErrTooManySessions", err)
	}
	if err := s.st.Create(s.ctx, s.unpresented("alice", now), lim); !errors.Is(err, ginsecure.ErrTooManySessions) {
		t.Fatalf("Create of an unpresented record over the limit: %v, want ErrTooManySessions (the limit is decided at login too)", err)
	}
	if ev := s.trim("alice", 2); len(ev) != 0 {
		t.Fatalf("Trim to 2 with two presented records evicted %v (unpresented ones do not count)", ev)
	}
	if ev := s.trim("alice", 1); !sameHandles(ev, []string{a.Handle}) {
		t.Fatalf("Trim to 1: evicted %v, want the least recently seen presented %s, never an unpresented one", ev, a.Handle)
	}
	for _, r := range []storeext.Record{u1, u2, b} {
		if got := s.get(r.Handle); got.Revoked != "" {
			t.Fatalf("%s revoked %q by Trim", r.Handle, got.Revoked)
		}
	}
	if hs := s.handles("alice"); !sameHandles(hs, []string{u1.Handle, u2.Handle, b.Handle}) {
		t.Fatalf("List: %v, want the unpresented records and the presented one", hs)
	}
}

// testPresentEvict: a record's first presentation over the limit signs out
// the least recently seen of the user's other presented records, never
// itself and never an unpresented one; a presentation within the limit,
// a write that is not a first presentation, and another user's records
// evict nothing.
func testPresentEvict(t *testing.T, s *suite) {
	now := s.clock.Now()
	lim := storeext.Limit{Max: 2}
	a, b := s.record("alice", now.Add(-3*time.Minute)), s.record("alice", now.Add(-time.Minute))
	u, old := s.unpresented("alice", now), s.unpresented("alice", now.Add(-time.Hour))
	bob := s.record("bob", now.Add(-time.Hour))
	for _, r := range []storeext.Record{a, b, u, old, bob} {
		s.create(r, storeext.Limit{})
	}
	// A write that leaves it unpresented is no presentation.
	if _, ev, err := s.st.Present(s.ctx, s.get(u.Handle), func(r *storeext.Record) error { r.IP = "192.0.2.8"; return nil }, lim); err != nil || len(ev) != 0 {
		t.Fatalf("Present leaving the record unpresented: evicted %v, %v; want nothing", ev, err)
	}
	got, ev, err := s.st.Present(s.ctx, s.get(u.Handle), s.presentFn(), lim)
	if err != nil || !sameHandles(ev, []string{a.Handle}) {
		t.Fatalf("first presentation over Max 2: evicted %v, %v; want the least recently seen other %s", ev, err, a.Handle)
	}
	if got.Unpresented || got.IP != "192.0.2.8" {
		t.Fatalf("Present returned %+v", got)
	}
	if d := diff(s.get(u.Handle), got); d != "[]" {
		t.Fatalf("Present returned what it did not store: %s", d)
	}
	if r := s.get(a.Handle); r.Revoked != storeext.RevokedEvicted {
		t.Fatalf("evicted record: Revoked %q, want %q", r.Revoked, storeext.RevokedEvicted)
	}
	for _, r := range []storeext.Record{b, old, bob} {
		if got := s.get(r.Handle); got.Revoked != "" {
			t.Fatalf("%s (%s) revoked %q by alice's presentation", r.Handle, r.UserID, got.Revoked)
		}
	}
	// Presented already: the limit is not decided again.
	if _, ev, err := s.st.Present(s.ctx, s.get(b.Handle), s.presentFn(), storeext.Limit{Max: 1}); err != nil || len(ev) != 0 {
		t.Fatalf("Present of a presented record: evicted %v, %v; want nothing", ev, err)
	}
	// Within the limit: nothing to evict.
	if _, ev, err := s.st.Present(s.ctx, s.get(bob.Handle), s.presentFn(), lim); err != nil || len(ev) != 0 {
		t.Fatalf("Present within the limit: evicted %v, %v", ev, err)
	}
	if hs := s.handles("alice"); !sameHandles(hs, []string{b.Handle, u.Handle, old.Handle}) {
		t.Fatalf("List after the presentation: %v", hs)
	}
}

// testPresentReject: with Reject, a first presentation that finds Max
// other presented records is refused with ErrTooManySessions and writes
// nothing; one that finds room is stored.
func testPresentReject(t *testing.T, s *suite) {
	now := s.clock.Now()
	lim := storeext.Limit{Max: 2, Reject: true}
	a, b := s.record("alice", now), s.record("alice", now)
	u := s.unpresented("alice", now)
	for _, r := range []storeext.Record{a, b, u} {
		s.create(r, storeext.Limit{})
	}
	before := s.get(u.Handle)
	got, ev, err := s.st.Present(s.ctx, before, s.presentFn(), lim)
	if !errors.Is(err, ginsecure.ErrTooManySessions) || len(ev) != 0 {
		t.Fatalf("first presentation over the limit with Reject: evicted %v, %v; want ErrTooManySessions", ev, err)
	}
	if d := diff(got, before); d != "[]" {
		t.Fatalf("a refused Present returned another record than the stored one: %s", d)
	}
	if d := diff(s.get(u.Handle), before); d != "[]" {
		t.Fatalf("a refused Present wrote: %s", d)
	}
	for _, r := range []storeext.Record{a, b} {
		if got := s.get(r.Handle); got.Revoked != "" {
			t.Fatalf("a refused Present revoked %s: %q", r.Handle, got.Revoked)
		}
	}
	if _, err := s.st.Update(s.ctx, a.Handle, func(r *storeext.Record) error { r.Revoked = storeext.RevokedByUser; return nil }); err != nil {
		t.Fatal(err)
	}
	if got, _, err := s.st.Present(s.ctx, before, s.presentFn(), lim); err != nil || got.Unpresented {
		t.Fatalf("first presentation with a slot free: %+v, %v", got, err)
	}
}

// testPresentAnswersAsUpdate: Present of a missing record is ErrNotFound,
// fn's error writes nothing, and a stale held record is not written over:
// fn sees the stored one.
func testPresentAsUpdate(t *testing.T, s *suite) {
	now := s.clock.Now()
	lim := storeext.Limit{Max: 1}
	if _, _, err := s.st.Present(s.ctx, s.unpresented("alice", now), s.presentFn(), lim); !errors.Is(err, storeext.ErrNotFound) {
		t.Fatalf("Present of a missing record: %v, want ErrNotFound", err)
	}
	u := s.unpresented("alice", now)
	s.create(u, storeext.Limit{})
	held := s.get(u.Handle)
	boom := errors.New("boom")
	if _, _, err := s.st.Present(s.ctx, held, func(r *storeext.Record) error { r.Unpresented = false; return boom }, lim); !errors.Is(err, boom) {
		t.Fatalf("Present with fn's error: %v", err)
	}
	if d := diff(s.get(u.Handle), held); d != "[]" {
		t.Fatalf("Present with fn's error wrote: %s", d)
	}
	next := randHash()
	if _, err := s.st.Update(s.ctx, u.Handle, func(r *storeext.Record) error { r.TokenHash = next; return nil }); err != nil {
		t.Fatal(err)
	}
	got, _, err := s.st.Present(s.ctx, held, func(r *storeext.Record) error {
		if r.TokenHash != next {
			return fmt.Errorf("fn saw token %x, want the stored %x", r.TokenHash[:4], next[:4])
		}
		r.Unpresented = false
		return nil
	}, lim)
	if err != nil || got.TokenHash != next || s.get(u.Handle).Unpresented {
		t.Fatalf("Present of a stale held record: %+v, %v", got, err)
	}
	if s.clocked {
		e := s.unpresented("bob", now)
		e.ExpiresAt = now.Add(time.Minute)
		s.create(e, storeext.Limit{})
		s.clock.Advance(time.Minute)
		if _, _, err := s.st.Present(s.ctx, e, s.presentFn(), lim); !errors.Is(err, storeext.ErrNotFound) {
			t.Fatalf("Present of an expired record: %v, want ErrNotFound", err)
		}
	}
}

// testPresentRace: many first presentations of one user's records at once
// leave exactly Max presented; with Reject exactly Max of them pass.
func testPresentRace(t *testing.T, s *suite) {
	for _, reject := range []bool{false, true} {
		user := fmt.Sprintf("alice-%v", reject)
		lim := storeext.Limit{Max: 2, Reject: reject}
		rs := make([]storeext.Record, 6)
		for i := range rs {
			rs[i] = s.unpresented(user, s.clock.Now())
			s.create(rs[i], storeext.Limit{})
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		passed := 0
		for _, r := range rs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _, err := s.st.Present(s.ctx, r, s.presentFn(), lim)
				switch {
				case err == nil:
					mu.Lock()
					passed++
					mu.Unlock()
				case !errors.Is(err, ginsecure.ErrTooManySessions):
					t.Errorf("Present: %v", err)
				}
			}()
		}
		wg.Wait()
		live, err := s.st.List(s.ctx, user)
		if err != nil {
			t.Fatal(err)
		}
		presented := 0
		for _, r := range live {
			if !r.Unpresented {
				presented++
			}
		}
		if presented != 2 || (reject && passed != 2) || (!reject && passed != len(rs)) {
			t.Fatalf("reject=%v: %d presentations passed, %d presented records live; want %d and 2", reject, passed, presented, map[bool]int{true: 2, false: len(rs)}[reject])
		}
	}
}

// testUnpresentedBound: Create of an unpresented record with
// Limit.Unpresented signs out the oldest of the user's other unpresented
// records beyond the bound, never a presented one nor another user's.
func testUnpresentedBound(t *testing.T, s *suite) {
	now := s.clock.Now()
	lim := storeext.Limit{Unpresented: 3}
	p := s.record("alice", now.Add(-time.Hour))
	bob := s.unpresented("bob", now.Add(-time.Hour))
	s.create(p, lim)
	s.create(bob, lim)
	var us []storeext.Record
	for i := range 3 {
		u := s.unpresented("alice", now.Add(time.Duration(i-10)*time.Minute))
		s.create(u, lim)
		us = append(us, u)
	}
	if hs := s.handles("alice"); len(hs) != 4 {
		t.Fatalf("three unpresented records within a bound of 3: live %v", hs)
	}
	u := s.unpresented("alice", now)
	s.create(u, lim)
	if got := s.get(us[0].Handle); got.Revoked != storeext.RevokedEvicted {
		t.Fatalf("the oldest unpresented record beyond the bound: Revoked %q, want %q", got.Revoked, storeext.RevokedEvicted)
	}
	if hs := s.handles("alice"); !sameHandles(hs, []string{p.Handle, us[1].Handle, us[2].Handle, u.Handle}) {
		t.Fatalf("live after a fourth unpresented record: %v", hs)
	}
	s.create(s.record("alice", now), lim) // a presented record is no waiting one
	if s.get(bob.Handle).Revoked != "" || len(s.handles("alice")) != 5 {
		t.Fatalf("a presented record's creation evicted: %v (bob %q)", s.handles("alice"), s.get(bob.Handle).Revoked)
	}
}

// testDeviceBindsOnce: of many Updates that each bind an unbound record to
// their own key (the Guard's registration: compare and set), exactly one
// wins, and the key stays through a rotation and an eviction by Trim
// (which a store may rewrite the record for).
func testDeviceBindsOnce(t *testing.T, s *suite) {
	r := s.record("alice", s.clock.Now())
	r.Device = storeext.DeviceKey{}
	s.create(r, storeext.Limit{})
	var wins atomic.Int32
	var mu sync.Mutex
	var winner string
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			jwk := fmt.Sprintf(`{"k":"%d"}`, i)
			<-start
			_, err := s.st.Update(s.ctx, r.Handle, func(x *storeext.Record) error {
				if x.Device.Bound() {
					return errLost
				}
				x.Device = storeext.DeviceKey{Algorithm: string(ginsecure.RS256), JWK: jwk, Thumbprint: "t" + jwk, BoundAt: s.clock.Now()}
				return nil
			})
			switch {
			case err == nil:
				wins.Add(1)
				mu.Lock()
				winner = jwk
				mu.Unlock()
			case !errors.Is(err, errLost):
				t.Errorf("Update: %v", err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d Updates bound the record, want exactly 1", wins.Load())
	}
	if got := s.get(r.Handle).Device; got.JWK != winner || got.Algorithm != string(ginsecure.RS256) {
		t.Fatalf("stored key %+v, want the winner's %s", got, winner)
	}
	if _, err := s.st.Update(s.ctx, r.Handle, func(x *storeext.Record) error { supersede(x, randHash()); return nil }); err != nil {
		t.Fatal(err)
	}
	s.clock.Advance(time.Second)
	newer := s.record("alice", s.clock.Now())
	s.create(newer, storeext.Limit{})
	if ev := s.trim("alice", 1); len(ev) != 1 || ev[0] != r.Handle {
		t.Fatalf("Trim evicted %v, want the bound record", ev)
	}
	if got := s.get(r.Handle); got.Device.JWK != winner || got.Revoked != storeext.RevokedEvicted {
		t.Fatalf("after rotation and eviction: %+v (revoked %q), want the key %s kept", got.Device, got.Revoked, winner)
	}
}
