package ginsecure

// The memory store's compact form of a record (DESIGN.md, "Memory
// store"): what one signed-in session costs the embedded store's heap.

import (
	"math"
	"slices"
	"time"

	"github.com/ginsecure/ginsecure/storeext"
)

// memZero is the zero time in a memRec's times.
const memZero = math.MinInt64

// memRec is a storeext.Record as the memory store keeps it: 192 bytes
// where the Record is 456 (480 allocated), its six times Unix nanoseconds,
// the token's key inline, what only some records hold (history,
// forwarding, device) behind one pointer. It is never changed once
// stored: Update and eviction store a new one, so a reader decodes a
// consistent snapshot without the shard's lock. The handle, the user and
// Seq are the memItem's (they never change).
type memRec struct {
	sessionID, ip, userAgent, revoked string

	tokenHash [32]byte
	tokenKey  [33]byte // its first keyLen bytes: a P-256 key (33) or an X25519 one (32); keyLen 0: none, or in rare
	// keyLen, flags and cookieMaxAge fill the key's last word: 192 bytes in all.
	keyLen       uint8
	flags        uint8
	cookieMaxAge int32

	issued, confirmed, created, auth, lastSeen, expires int64 // Unix ns, memZero for the zero time

	rare *memRare // nil for none
}

const (
	memUnpresented = 1 << iota
	memUTC         // the times are in UTC, else in time.Local
)

// memRare is what few records hold, and a token key of a length other
// than 32 and 33 bytes. A record the compact form cannot hold exactly (a
// time nanos clamps, before about 1685 or after about 2255; a location
// other than UTC and Local; a cookie lifetime beyond int32) is kept whole
// in full; the memRec's own fields then serve only the store's own
// decisions (user, revocation, last use, expiry, clamped).
type memRare struct {
	full           *storeext.Record
	history        []storeext.Superseded
	replacedBy     string
	forwardPending []byte
	tokenKey       []byte
	device         storeext.DeviceKey
}

func (r *memRec) unpresented() bool { return r.flags&memUnpresented != 0 }

// expiredAt reports whether r's record has expired at now (Unix ns).
func (r *memRec) expiredAt(now int64) bool { return r.expires != memZero && now >= r.expires }

// gone reports whether r is past what Get still returns: RetainExpired
// after its expiry.
func (r *memRec) gone(now int64) bool {
	const retain = int64(storeext.RetainExpired)
	return r.expires != memZero && r.expires <= math.MaxInt64-retain && now >= r.expires+retain
}

// orNanos is v, a memRec time, or zero for the zero time.
func orNanos(v, zero int64) int64 {
	if v == memZero {
		return zero
	}
	return v
}

// encodeRec is rec's compact form. It shares nothing rec's caller can
// change: slices are copied. Strings are
// shared (immutable).
func encodeRec(rec *storeext.Record) *memRec {
	r := &memRec{
		sessionID: rec.SessionID, ip: rec.IP, userAgent: rec.UserAgent, revoked: rec.Revoked,
		tokenHash: rec.TokenHash,
		issued:    nanos(rec.IssuedAt, memZero), confirmed: nanos(rec.ConfirmedAt, memZero),
		created: nanos(rec.CreatedAt, memZero), auth: nanos(rec.AuthAt, memZero),
		lastSeen: nanos(rec.LastSeen, memZero), expires: nanos(rec.ExpiresAt, memZero),
		cookieMaxAge: int32(rec.CookieMaxAge),
	}
	if rec.Unpresented {
		r.flags |= memUnpresented
	}
	exact := int(r.cookieMaxAge) == rec.CookieMaxAge
	if loc, ok := timesLoc(rec); !ok {
		exact = false
	} else if loc == time.UTC {
		r.flags |= memUTC
	}
	switch n := len(rec.TokenKey); {
	case n == 32 || n == 33:
		r.keyLen = uint8(copy(r.tokenKey[:], rec.TokenKey))
	case rec.TokenKey != nil:
		r.rare = &memRare{tokenKey: slices.Clone(rec.TokenKey)}
	}
	if rec.History != nil || rec.ReplacedBy != "" || rec.ForwardPending != nil || rec.Device != (storeext.DeviceKey{}) {
		if r.rare == nil {
			r.rare = &memRare{}
		}
		c := rec.Clone() // the history's and the pending token's copies
		r.rare.history, r.rare.replacedBy, r.rare.forwardPending, r.rare.device = c.History, rec.ReplacedBy, c.ForwardPending, rec.Device
	}
	if !exact {
		c := rec.Clone()
		r.rare = &memRare{full: &c}
	}
	return r
}

// timesLoc is the location of rec's non-zero times and whether the
// compact form holds them exactly: all of them in UTC, or all in
// time.Local, each within what nanos holds unclamped. Their monotonic clock
// readings are dropped, as every other store drops them.
func timesLoc(rec *storeext.Record) (*time.Location, bool) {
	var loc *time.Location
	for _, t := range [...]time.Time{rec.IssuedAt, rec.ConfirmedAt, rec.CreatedAt, rec.AuthAt, rec.LastSeen, rec.ExpiresAt} {
		if t.IsZero() {
			continue
		}
		l := t.Location()
		if l != time.UTC && l != time.Local || loc != nil && l != loc {
			return nil, false
		}
		loc = l
		// nanos, not UnixNano: a time nanos clamps (before about 1685,
		// after about 2255) is kept whole, not as the clamp.
		if n := nanos(t, memZero); n == memZero || !time.Unix(0, n).Equal(t) {
			return nil, false
		}
	}
	if loc == nil {
		loc = time.UTC
	}
	return loc, true
}

// decode writes the record r holds, e's record, to out. out shares r's
// memory (its slices, and those of what r keeps whole): it must not be
// modified, or must be cloned first (storeext.Record.Clone).
func (r *memRec) decode(e *memItem, out *storeext.Record) {
	if r.rare != nil && r.rare.full != nil {
		*out = *r.rare.full
		out.Handle, out.UserID, out.Seq = e.handle, e.userID, e.seq
		return
	}
	loc := time.Local
	if r.flags&memUTC != 0 {
		loc = time.UTC
	}
	*out = storeext.Record{
		Handle: e.handle, UserID: e.userID, SessionID: r.sessionID,
		TokenHash: r.tokenHash, IssuedAt: memTime(r.issued, loc), ConfirmedAt: memTime(r.confirmed, loc),
		Unpresented: r.unpresented(), IP: r.ip, UserAgent: r.userAgent, CookieMaxAge: int(r.cookieMaxAge),
		CreatedAt: memTime(r.created, loc), AuthAt: memTime(r.auth, loc),
		LastSeen: memTime(r.lastSeen, loc), ExpiresAt: memTime(r.expires, loc),
		Revoked: r.revoked, Seq: e.seq,
	}
	if r.keyLen != 0 {
		out.TokenKey = r.tokenKey[:r.keyLen:r.keyLen]
	}
	if x := r.rare; x != nil {
		out.History, out.ReplacedBy, out.ForwardPending, out.Device = x.history, x.replacedBy, x.forwardPending, x.device
		if x.tokenKey != nil {
			out.TokenKey = x.tokenKey
		}
	}
}

// memTime is v, a memRec time, in loc.
func memTime(v int64, loc *time.Location) time.Time {
	if v == memZero {
		return time.Time{}
	}
	t := time.Unix(0, v)
	if loc == time.UTC {
		return t.UTC()
	}
	return t
}
