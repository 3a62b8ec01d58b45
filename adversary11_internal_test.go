package ginsecure

// Adversary 11: attacks on the memory store's compact records, the P-256
// token keys and their sealed tokens (DESIGN.md, "Memory store";
// DESIGN.md, "Superseded credentials").

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/ginsecure/ginsecure/storeext"
)

// TestAdversary11MemRecordClampedTimesRoundTrip: a time the store's own
// decisions clamp (nanos: before about 1685 or after about 2255, yet
// within int64 nanoseconds) must come back as it was stored, not as the
// clamp (2262-04-11 or 1677-09-21): a record's ExpiresAt of 2260 read
// back as 2262, an AuthAt of 1680 as 1677. Red without the nanos check
// in timesLoc (the compact form held the clamped value).
func TestAdversary11MemRecordClampedTimesRoundTrip(t *testing.T) {
	for _, base := range []time.Time{
		time.Date(2260, 1, 1, 0, 0, 0, 5, time.UTC),
		time.Date(2261, 6, 1, 0, 0, 0, 0, time.Local),
		time.Date(1680, 1, 1, 0, 0, 0, 7, time.UTC),
		time.Date(1679, 1, 1, 0, 0, 0, 0, time.Local),
	} {
		rec := fullRecord(base)
		rec.ExpiresAt = base
		if got := roundTrip(rec); !reflect.DeepEqual(got, rec) {
			t.Errorf("%v: stored\n%+v\ngot back\n%+v", base, rec, got)
		}
		// One clamped time among ordinary ones.
		now := time.Unix(1_800_000_000, 0)
		one := storeext.Record{Handle: "h", UserID: "u", CreatedAt: now, LastSeen: now, ExpiresAt: base}
		if got := roundTrip(one); !got.ExpiresAt.Equal(base) || got.ExpiresAt.Location() != base.Location() {
			t.Errorf("ExpiresAt %v came back as %v", base, got.ExpiresAt)
		}
	}
}

// TestAdversary11MemStoreExpiryDecisions: what the store decides on a
// record's expiry does not move with the compact form: a record that
// expires in the far future (kept whole) stays, one that expired far in
// the past is gone, one expiring a nanosecond from now is read until
// then, a zero ExpiresAt never expires, and a record in a location the
// compact form does not hold expires at its instant.
func TestAdversary11MemStoreExpiryDecisions(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	m := NewMemoryStore().(*memoryStore)
	m.UseClock(func() time.Time { return now })
	zone := time.FixedZone("X", -7*3600)
	cases := []struct {
		handle string
		exp    time.Time
		found  bool
	}{
		{"far-future-0001", time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{"y2260-00000001", time.Date(2260, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{"far-past-000001", time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC), false},
		{"y1680-00000001", time.Date(1680, 1, 1, 0, 0, 0, 0, time.UTC), false},
		{"zero-exp-00001", time.Time{}, true},
		{"one-ns-0000001", now.Add(1), true},
		{"past-retain-01", now.Add(-storeext.RetainExpired), false},
		{"in-retain-0001", now.Add(-storeext.RetainExpired + 1), true},
		{"zone-live-0001", now.Add(time.Minute).In(zone), true},
		{"zone-gone-0001", now.Add(-storeext.RetainExpired).In(zone), false},
	}
	for i, c := range cases {
		rec := storeext.Record{Handle: c.handle, UserID: fmt.Sprint("user", i), CreatedAt: now.Add(-time.Hour), LastSeen: now, ExpiresAt: c.exp}
		if err := m.Create(ctx, rec, storeext.Limit{}); err != nil {
			t.Fatalf("%s: Create: %v", c.handle, err)
		}
	}
	for _, c := range cases {
		got, err := m.Get(ctx, c.handle)
		if found := err == nil; found != c.found {
			t.Errorf("%s (expires %v): found %v, want %v (%v)", c.handle, c.exp, found, c.found, err)
			continue
		}
		if err == nil && !got.ExpiresAt.Equal(c.exp) {
			t.Errorf("%s: ExpiresAt %v, want %v", c.handle, got.ExpiresAt, c.exp)
		}
	}
	// A record expiring in the far future is still one Update can write.
	if _, err := m.Update(ctx, "far-future-0001", func(r *storeext.Record) error { r.LastSeen = now.Add(time.Second); return nil }); err != nil {
		t.Errorf("Update of a far-future record: %v", err)
	}
}

// TestAdversary11MemRecordRareNotSharedAcrossRecords: a record's rare
// fields (history, pending token, device) do not leak into another
// record: the eviction's copy of a record shares its rare part, yet what
// one Get's caller changes reaches neither, and an Update that drops the
// history drops it from that record alone.
func TestAdversary11MemRecordRareNotSharedAcrossRecords(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	m := NewMemoryStore().(*memoryStore)
	m.UseClock(func() time.Time { return now })
	a := fullRecord(now)
	a.Revoked, a.Handle, a.UserID = "", "handle-aaaaaaaa", "alice"
	a.ExpiresAt = now.Add(time.Hour)
	b := a.Clone()
	b.Handle, b.UserID = "handle-bbbbbbbb", "bob"
	b.History, b.ForwardPending, b.ReplacedBy, b.Device = nil, nil, "", storeext.DeviceKey{}
	for _, r := range []storeext.Record{a, b} {
		if err := m.Create(ctx, r, storeext.Limit{}); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := m.Get(ctx, a.Handle)
	got.History[0].Sealed[0]++
	got.ForwardPending[0]++
	got.TokenKey[0]++
	again, _ := m.Get(ctx, a.Handle)
	if again.History[0].Sealed[0] != a.History[0].Sealed[0] || again.ForwardPending[0] != a.ForwardPending[0] || again.TokenKey[0] != a.TokenKey[0] {
		t.Fatal("a Get's caller changed the stored record")
	}
	// The hot path's view: a fresh record each read, not one shared.
	var v1, v2 storeext.Record
	if err := m.viewShared(a.Handle, now, &v1); err != nil {
		t.Fatal(err)
	}
	if err := m.viewShared(b.Handle, now, &v2); err != nil {
		t.Fatal(err)
	}
	if v2.History != nil || v2.ForwardPending != nil || v2.Device != (storeext.DeviceKey{}) || v2.UserID != "bob" {
		t.Fatalf("bob's view carries alice's rare fields: %+v", v2)
	}
	if &v1.TokenKey[0] == &v2.TokenKey[0] {
		t.Fatal("two records' views share a token key")
	}
	// Evict alice's record (a copy sharing the rare part), then drop the
	// history in an Update of bob's: alice's stays.
	us := m.userShard("alice")
	us.mu.Lock()
	e := m.itemOf(a.Handle, us.users["alice"])
	m.evict(us, e)
	us.mu.Unlock()
	if _, err := m.Update(ctx, b.Handle, func(r *storeext.Record) error {
		r.History = append(r.History, storeext.Superseded{Hash: [32]byte{0xbb}})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	ga, _ := m.Get(ctx, a.Handle)
	gb, _ := m.Get(ctx, b.Handle)
	if ga.Revoked != storeext.RevokedEvicted || len(ga.History) != 1 || ga.History[0].Hash != a.History[0].Hash {
		t.Errorf("alice's evicted record: %+v", ga)
	}
	if len(gb.History) != 1 || gb.History[0].Hash != [32]byte{0xbb} || gb.UserID != "bob" {
		t.Errorf("bob's record: %+v", gb)
	}
}

// TestAdversary11MemStoreUsersNeverMix: many goroutines create, update,
// read, list and delete records of several users, handles reused across
// users once deleted: every read gives back the user the handle was
// written for (its session ID names it), and no listing holds another
// user's record. Run under -race.
func TestAdversary11MemStoreUsersNeverMix(t *testing.T) {
	ctx := context.Background()
	m := NewMemoryStore().(*memoryStore)
	now := time.Now()
	const users, rounds = 6, 200
	var wg sync.WaitGroup
	errc := make(chan error, users*4)
	for u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			uid := fmt.Sprint("user-", u)
			for i := range rounds {
				// Handles shared between users: one user deletes, another creates.
				h := fmt.Sprintf("handle-%08d", (i+u)%16)
				key := make([]byte, 33)
				rand.Read(key)
				rec := storeext.Record{Handle: h, UserID: (uid + "/" + h)[:len(uid)], SessionID: uid + "/" + h, TokenKey: key,
					CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour)}
				if i%3 == 0 {
					rec.History = []storeext.Superseded{{Hash: [32]byte{byte(u)}, Sealed: []byte(uid)}}
				}
				_ = m.Create(ctx, rec, storeext.Limit{Max: 3})
				if r, err := m.Get(ctx, h); err == nil && r.SessionID != r.UserID+"/"+h {
					errc <- fmt.Errorf("Get %s: user %q with session %q", h, r.UserID, r.SessionID)
					return
				}
				_, _ = m.Update(ctx, h, func(r *storeext.Record) error {
					if r.SessionID != r.UserID+"/"+h {
						return fmt.Errorf("Update %s: user %q with session %q", h, r.UserID, r.SessionID)
					}
					for _, s := range r.History {
						if string(s.Sealed) != r.UserID {
							return fmt.Errorf("Update %s: %q's history in %q's record", h, s.Sealed, r.UserID)
						}
					}
					r.LastSeen = r.LastSeen.Add(time.Millisecond)
					return nil
				})
				var v storeext.Record
				if err := m.viewShared(h, time.Now(), &v); err == nil && v.SessionID != v.UserID+"/"+h {
					errc <- fmt.Errorf("view %s: user %q with session %q", h, v.UserID, v.SessionID)
					return
				}
				list, _ := m.List(ctx, uid)
				for _, r := range list {
					if r.UserID != uid || r.SessionID != uid+"/"+r.Handle {
						errc <- fmt.Errorf("List(%s) holds %q's record %s (%s)", uid, r.UserID, r.Handle, r.SessionID)
						return
					}
				}
				if i%2 == 1 {
					_ = m.Delete(ctx, h)
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	// Every indexed item is its user's and still the shard's.
	for i := range m.users {
		us := &m.users[i]
		us.mu.Lock()
		for id, u := range us.users {
			if u.id != id {
				t.Errorf("index of %q has id %q", id, u.id)
			}
			u.entries(func(e *memItem) {
				if e.userID != id {
					t.Errorf("index of %q holds %q's item %s", id, e.userID, e.handle)
				}
			})
		}
		us.mu.Unlock()
	}
}

// TestAdversary11SealedOpensOnlyForItsToken: a token sealed to one
// token's key (P-256 or X25519) opens with that token's secret and
// handle alone; another token's secret, another handle, a blob cut,
// grown, or with its ephemeral key's curve flipped errs without a panic.
func TestAdversary11SealedOpensOnlyForItsToken(t *testing.T) {
	var a, b, next [32]byte
	rand.Read(a[:])
	rand.Read(b[:])
	rand.Read(next[:])
	for _, c := range []*tokenCurve{p256Keys, x25519Keys} {
		pub, err := c.publicKey(a)
		if err != nil || len(pub) != c.keyLen {
			t.Fatalf("key %d bytes: %v", len(pub), err)
		}
		sealed, err := sealTo(pub, next, "h-1")
		if err != nil {
			t.Fatal(err)
		}
		if got, err := openSealed(a, sealed, "h-1"); err != nil || got != next {
			t.Fatalf("keyLen %d: own token: %v", c.keyLen, err)
		}
		if _, err := openSealed(b, sealed, "h-1"); err == nil {
			t.Errorf("keyLen %d: opened under another token", c.keyLen)
		}
		if _, err := openSealed(a, sealed, "h-2"); err == nil {
			t.Errorf("keyLen %d: opened under another handle", c.keyLen)
		}
		if _, err := openSealed(a, sealed, ""); err == nil {
			t.Errorf("keyLen %d: opened under no handle", c.keyLen)
		}
		// Malformed: every cut, a byte more, a flipped prefix, zeros.
		for n := range len(sealed) + 2 {
			blob := append(bytes.Clone(sealed), 0, 0)[:n]
			if got, err := openSealed(a, blob, "h-1"); err == nil && n != len(sealed) {
				t.Errorf("keyLen %d: %d bytes opened to %x", c.keyLen, n, got)
			}
		}
		flip := bytes.Clone(sealed)
		flip[0] ^= 1 // P-256: 02 <-> 03, the other Y; X25519: another point
		if _, err := openSealed(a, flip, "h-1"); err == nil {
			t.Errorf("keyLen %d: opened with the ephemeral key changed", c.keyLen)
		}
		zero := make([]byte, len(sealed))
		if _, err := openSealed(a, zero, "h-1"); err == nil {
			t.Errorf("keyLen %d: zeros opened", c.keyLen)
		}
	}
	// A P-256 key with one byte dropped is taken for X25519: sealing to it
	// must not give something the P-256 token opens.
	pub, _ := p256Keys.publicKey(a)
	if s, err := sealTo(pub[1:], next, "h-1"); err == nil {
		if got, err := openSealed(a, s, "h-1"); err == nil && got == next {
			t.Error("a cut P-256 key sealed a token its holder opens")
		}
	}
	for _, bad := range [][]byte{nil, {}, make([]byte, 31), make([]byte, 33), bytes.Repeat([]byte{0xff}, 33), append([]byte{4}, make([]byte, 32)...), make([]byte, 65)} {
		if _, err := sealTo(bad, next, "h"); err == nil && len(bad) != 32 {
			t.Errorf("sealed to a %d-byte non-key %x", len(bad), bad)
		}
	}
	// An all-zero X25519 key (low order) must not seal.
	if _, err := sealTo(make([]byte, 32), next, "h"); err == nil {
		t.Error("sealed to the all-zero X25519 key")
	}
}

// TestAdversary11MemStoreMalformedKeysDoNotPanic: a record with a token
// key of any length, stored and read back, keeps it, and sealing to what
// comes back errs or seals; never panics.
func TestAdversary11MemStoreMalformedKeysDoNotPanic(t *testing.T) {
	ctx := context.Background()
	m := NewMemoryStore()
	now := time.Now()
	for n := range 70 {
		key := make([]byte, n)
		rand.Read(key)
		h := fmt.Sprintf("handle-key-%04d", n)
		if err := m.Create(ctx, storeext.Record{Handle: h, UserID: "u", TokenKey: key, CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour)}, storeext.Limit{}); err != nil {
			t.Fatal(err)
		}
		got, err := m.Get(ctx, h)
		if err != nil || !bytes.Equal(got.TokenKey, key) {
			t.Fatalf("%d-byte key: %x, %v", n, got.TokenKey, err)
		}
		var next [32]byte
		if _, err := sealTo(got.TokenKey, next, h); err != nil && !errors.Is(err, errTokenKey) && n != 32 && n != 33 {
			t.Logf("%d bytes: %v", n, err)
		}
	}
}
