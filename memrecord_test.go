package ginsecure

import (
	"math"
	"reflect"
	"testing"
	"time"
	"unsafe"

	"github.com/ginsecure/ginsecure/storeext"
)

// fullRecord is a record with every field set, its times at base in loc.
func fullRecord(base time.Time) storeext.Record {
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i + 1)
	}
	return storeext.Record{
		Handle: "h-0123456789abcdefghij", UserID: "alice", SessionID: "SID",
		TokenHash: [32]byte{1, 2, 3}, IssuedAt: base.Add(1), TokenKey: key,
		ConfirmedAt: base.Add(2), Unpresented: true,
		History: []storeext.Superseded{{
			Hash: [32]byte{9}, At: base.Add(3), AuthAt: base.Add(4), Raised: true,
			Seen: base.Add(5), Open: base.Add(6), Key: []byte{7}, Sealed: []byte{8},
		}},
		ReplacedBy: "h-next", ForwardPending: []byte{5, 6},
		IP: "192.0.2.1", UserAgent: "UA", CookieMaxAge: -1,
		CreatedAt: base, AuthAt: base.Add(7), LastSeen: base.Add(8), ExpiresAt: base.Add(time.Hour),
		Revoked: storeext.RevokedReplaced,
		Device:  storeext.DeviceKey{Algorithm: "ES256", JWK: "{}", Thumbprint: "t", BoundAt: base.Add(9)},
		Seq:     42,
	}
}

// roundTrip is rec as the memory store gives it back.
func roundTrip(rec storeext.Record) storeext.Record {
	e := &memItem{handle: rec.Handle, userID: rec.UserID, seq: rec.Seq, rec: encodeRec(&rec)}
	var out storeext.Record
	e.rec.decode(e, &out)
	return out
}

// TestMemRecordRoundTripsEveryField: the memory store's compact form gives
// back every field of a record exactly (reflect.DeepEqual: the same
// instants in the same location), in its compact form or kept whole
// (DESIGN.md, "Memory store").
func TestMemRecordRoundTripsEveryField(t *testing.T) {
	if n := reflect.TypeFor[storeext.Record]().NumField(); n != 21 {
		t.Fatalf("storeext.Record has %d fields: encodeRec, decode and this test must hold the new ones", n)
	}
	base := time.Unix(1_800_000_000, 123_456_789) // time.Local, no monotonic reading
	key33 := fullRecord(base)
	key33.TokenKey = append(key33.TokenKey, 0x21)
	key16 := fullRecord(base)
	key16.TokenKey = key16.TokenKey[:16]
	keyEmpty := fullRecord(base)
	keyEmpty.TokenKey = []byte{}
	bare := storeext.Record{Handle: "h", UserID: "u", Seq: 1}
	bareKey := bare
	bareKey.TokenKey = make([]byte, 32)
	mixed := fullRecord(base)
	mixed.AuthAt = mixed.AuthAt.UTC()
	wide := fullRecord(base)
	wide.CookieMaxAge = math.MaxInt32 + 1
	for name, rec := range map[string]storeext.Record{
		"local":             fullRecord(base),
		"utc":               fullRecord(base.UTC()),
		"other location":    fullRecord(base.In(time.FixedZone("X", 3600))),
		"mixed locations":   mixed,
		"year 3000":         fullRecord(time.Date(3000, 1, 1, 0, 0, 0, 1, time.UTC)),
		"year 1000":         fullRecord(time.Date(1000, 1, 1, 0, 0, 0, 1, time.Local)),
		"the epoch":         fullRecord(time.Unix(0, 0)),
		"zero times":        bare,
		"zero key":          bareKey,
		"33-byte key":       key33,
		"16-byte key":       key16,
		"empty key":         keyEmpty,
		"cookie age > 2^31": wide,
		"presented":         func() storeext.Record { r := fullRecord(base); r.Unpresented = false; return r }(),
	} {
		if got := roundTrip(rec); !reflect.DeepEqual(got, rec) {
			t.Errorf("%s: stored\n%+v\ngot back\n%+v", name, rec, got)
		}
	}
}

// TestMemRecordSharesNothingWithTheCaller: changing the slices of a record
// after it was stored does not change the stored one.
func TestMemRecordSharesNothingWithTheCaller(t *testing.T) {
	rec := fullRecord(time.Unix(1_800_000_000, 0))
	want := rec.Clone()
	r := encodeRec(&rec)
	rec.TokenKey[0]++
	rec.ForwardPending[0]++
	rec.History[0].Key[0]++
	rec.History[0].Sealed[0]++
	rec.History[0].At = time.Time{}
	e := &memItem{handle: rec.Handle, userID: rec.UserID, seq: rec.Seq, rec: r}
	var got storeext.Record
	r.decode(e, &got)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("the stored record changed with the caller's:\n%+v\nwant\n%+v", got, want)
	}
}

// TestMemRecordDropsTheMonotonicReading: times are kept as wall-clock
// instants, as every other store keeps them: the same instant (Equal), the
// monotonic reading of time.Now dropped, so comparisons with the record's
// times are made on the wall clock.
func TestMemRecordDropsTheMonotonicReading(t *testing.T) {
	now := time.Now()
	rec := storeext.Record{Handle: "h", UserID: "u", CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Minute)}
	got := roundTrip(rec)
	if !got.CreatedAt.Equal(now) || !got.LastSeen.Equal(now) || !got.ExpiresAt.Equal(now.Add(time.Minute)) {
		t.Fatalf("times changed: %v %v %v, want %v", got.CreatedAt, got.LastSeen, got.ExpiresAt, now)
	}
	if got.CreatedAt != now.Round(0) {
		t.Errorf("CreatedAt %#v, want the wall-clock reading %#v", got.CreatedAt, now.Round(0))
	}
}

// TestMemRecordSizes keeps what a session costs the memory store where
// BENCHMARKS.md ("Memory store: bytes per session") puts it: a new field
// or a reordering that crosses a size class shows here.
func TestMemRecordSizes(t *testing.T) {
	if n := unsafe.Sizeof(memRec{}); n > 192 {
		t.Errorf("memRec is %d bytes, over 192", n)
	}
	if n := unsafe.Sizeof(memItem{}); n > 80 {
		t.Errorf("memItem is %d bytes, over 80", n)
	}
	if n := unsafe.Sizeof(userIndex{}); n > 32 {
		t.Errorf("userIndex is %d bytes, over 32", n)
	}
}
