package storeext

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/ginsecure/ginsecure/internal/dbsc"
)

// ChallengeStore keeps the outstanding device-binding challenges of each
// session, by their SHA-256, and may be shared by many servers
// (redisstore.NewChallengeStore). PutChallenge adds one to session's set,
// outstanding until expires, first dropping those expired at now, then the
// earliest-expiring ones while max are outstanding. TakeChallenge removes
// one and succeeds only if it was outstanding at now: of two Takes of one
// challenge on any servers exactly one succeeds; otherwise it returns
// ErrUnknownChallenge. DropChallenges forgets all of session's. Any other
// error means the store could not be reached.
type ChallengeStore interface {
	PutChallenge(ctx context.Context, session string, hash [32]byte, now, expires time.Time, max int) error
	TakeChallenge(ctx context.Context, session string, hash [32]byte, now time.Time) error
	DropChallenges(ctx context.Context, session string) error
}

// ErrUnknownChallenge is what a ChallengeStore's TakeChallenge returns for
// a challenge that is not outstanding (never issued, used, expired).
var ErrUnknownChallenge = dbsc.ErrUnknownChallenge

// DeviceKey is the public key a record is bound to (Record.Device). Stores
// keep it as given, like every other field of a record.
type DeviceKey struct {
	// Algorithm the browser signs with: "ES256" or "RS256".
	Algorithm string
	// JWK is the public key's canonical JSON (RFC 7638, section 3.2: the
	// required members only, in lexicographic order); empty while unbound.
	JWK string
	// Thumbprint is the RFC 7638 SHA-256 thumbprint of JWK, unpadded
	// base64url: the key's name in events.
	Thumbprint string
	// BoundAt is when the browser registered the key.
	BoundAt time.Time
}

// Bound reports whether k holds a key: the record is device-bound.
func (k DeviceKey) Bound() bool { return k.JWK != "" }

// Superseded is one credential a rotation of its record replaced (the
// record's History). Times are the Guard's clock.
type Superseded struct {
	Hash   [32]byte  // SHA-256 of its secret
	At     time.Time // when it was superseded
	AuthAt time.Time // the privilege it had: its record's AuthAt then
	Raised bool      // the rotation that superseded it raised privilege (Renew)
	// Seen is when the browser was last known to hold it: when it was
	// superseded, if the browser had presented it by then, or its first
	// presentation after (a late response). Zero: never presented.
	Seen time.Time
	// Open is when the browser first presented a newer credential after
	// Seen: its grace window's start. Zero: not yet.
	Open time.Time
	// Key is its public key (Record.TokenKey), kept while it was never
	// presented.
	Key []byte
	// Sealed is the newest token sealed for this credential's holder
	// (AES-256-GCM, the handle as associated data), kept until its window
	// opens: under a key derived from its secret where the rotating
	// request held it, else to Key.
	Sealed []byte
}

// ErrNotFound is returned by a Store when no live record or marker exists
// under the key asked for. It is not a security failure by itself: the
// Guard decides what a missing record means for the request.
var ErrNotFound = errors.New("ginsecure: not found")

// Revocation reasons kept in Record.Revoked. A revoked record stays in the
// store until it expires, so that its last holder is told why it was signed
// out instead of seeing a generic failure.
const (
	RevokedByUser    = "revoked"     // RevokeSession, RevokeUser, RevokeOthers; "revoked:<RevokeReason>" with a reason
	RevokedEvicted   = "evicted"     // signed out by a newer login (MaxSessionsPerUser)
	RevokedReplay    = "replay"      // an old token came back after the grace window
	RevokedIP        = "ip_mismatch" // used from a network it was not bound to
	RevokedIdentity  = "identity"    // Config.Identity named another user
	RevokedTimedOut  = "timed_out"   // idle or absolute timeout reached
	RevokedReplaced  = "replaced"    // a login from the same browser replaced it (ReplacedBy)
	RevokedOverLimit = "over_limit"  // its first presentation found MaxSessionsPerUser reached (RejectExtraLogins)
	// RevokedSessionLost: its token came back without its session cookie
	// (expired by its Max-Age, deleted by the application, cleared by the
	// user): the session the token stood for is gone, and so is the record.
	RevokedSessionLost = "session_lost"
)

// Record is the server-side security record of one signed-in session. The
// token cookie names it by Handle and carries a secret whose SHA-256 is
// TokenHash; the session cookie of gin-contrib/sessions carries the Handle
// too, and SessionID says which session belongs to the record. No raw
// token is ever stored.
type Record struct {
	Handle string // random, 128 bits: the key of the record
	UserID string
	// SessionID identifies the record's own gin-contrib session: the
	// session ID on memstore and Redis, on the cookie store (which has no
	// ID) an ID ginsecure keeps inside the session. Login sets it, Renew
	// moves it.
	SessionID string

	TokenHash [32]byte  // SHA-256 of the current token's secret
	IssuedAt  time.Time // when the current token was minted

	// TokenKey is the public key derived from the current token's secret
	// (package ginsecure, tokenKey): should the token be superseded before
	// the browser presents it, the newer one is sealed to it. A compressed
	// P-256 point (33 bytes); records of earlier releases carry an X25519
	// key (32 bytes). Opaque to a store, which keeps it byte for byte.
	TokenKey []byte
	// ConfirmedAt is when the current token was first presented since it
	// became current: zero until the browser has shown it holds the
	// newest credential (the grace windows of the superseded ones then
	// open; a late response's opens at the next presentation after it).
	ConfirmedAt time.Time
	// Unpresented is set on a login's record until a request first
	// presents one of its credentials (its first presentation: the browser
	// shows it received the login's response). Until then the record does
	// not count toward MaxSessionsPerUser, no limit evicts it, and it ends
	// UnpresentedAge after its login (its ExpiresAt) if no request
	// presents it: a double-submitted sign-in's losing response never
	// costs the user another device (DESIGN.md, "Cookieless sign-in").
	// Store.Present clears it, enforcing the limit in the same step.
	Unpresented bool
	// History holds the last credentials this record superseded, newest
	// first, at most maxSuperseded (package ginsecure: DESIGN.md, "Superseded credentials").
	History []Superseded
	// ReplacedBy names the record a login from this record's own browser
	// replaced it with (Revoked is RevokedReplaced): a response of this
	// record that lands after the login's is forwarded there.
	ReplacedBy string
	// ForwardPending is the token the first forward to this record minted,
	// sealed (as Superseded.Sealed is) under a key derived from the
	// replaced record's token: every later forward sends it again. Any
	// rotation clears it.
	ForwardPending []byte

	IP        string // the client IP bound at login (netip text form)
	UserAgent string

	// CookieMaxAge is the cookies' lifetime in seconds the application
	// chose after the login with a Save that changed the session's MaxAge
	// ("remember me"): 0 where it chose none (the session store's MaxAge
	// applies), negative for browser-session cookies (it saved MaxAge 0).
	// Every token the record sends (rotation, Renew, keep-alive,
	// forwarding) follows it, capped at what remains of AbsoluteTimeout.
	CookieMaxAge int

	CreatedAt time.Time // login time; the absolute timeout counts from here
	AuthAt    time.Time // last authentication (login or Renew): Policy.MaxAuthAge
	LastSeen  time.Time // coalesced: written at most once per TouchInterval
	ExpiresAt time.Time // the store may forget the record after this

	Revoked string // empty while the record is usable, else a Revoked* reason

	// Device is the key on the browser's device the record is bound to
	// (DBSC, DESIGN.md "Device-bound sessions"); zero while unbound. A
	// record binds once: the Guard sets it in an Update that refuses a
	// record already bound, and never clears it.
	Device DeviceKey

	// Seq is the order in which the store created the record, assigned by
	// Create (the caller's value is ignored): Trim gives ties of LastSeen to
	// the later created, so a login made at the same instant as another
	// session (a coarse or test clock) still outranks it.
	Seq uint64
}

// RetainExpired is how long Get still returns a record after it expired.
const RetainExpired = time.Hour

// Marker is left by a login or Renew under the ID of the session it
// replaced (the predecessor) and names the record that replaced it. A
// request whose token opens that record and whose session cookie is the
// predecessor (a straggler's response put it back) is healed: served with
// the record's own session. Markers are set once and live as long as the
// record: nobody holding the old session can repoint it later.
//
// A marker with no Handle is a tombstone: Logout or a timeout ended the
// session, and a write of a request verified before that is refused. A
// later login from the same session replaces a tombstone (once: then it
// names a record).
type Marker struct {
	Handle    string    // the record that replaced the session
	At        time.Time // when
	ExpiresAt time.Time // the store may forget the marker after this
}

// Limit is what Store.Create and Store.Present enforce, atomically with the
// creation or the first presentation. Only presented records count
// (Record.Unpresented).
type Limit struct {
	Max    int  // the most live presented records a user may have; 0 means no limit
	Reject bool // refuse (ginsecure.ErrTooManySessions) when the user has Max already; else Present evicts
	// Replacing names the record the new one replaces (a browser signing
	// in again): it does not count against Max, the caller retires it.
	Replacing string
	// Unpresented bounds the user's live unpresented records: Create of an
	// unpresented record signs out (RevokedEvicted) the oldest of the
	// others until fewer than Unpresented remain (0: no bound).
	Unpresented int
}

// ErrMarkerExists is returned by Store.SetMarker when a live marker is
// already stored under the key: markers are set once.
var ErrMarkerExists = errors.New("ginsecure: marker exists")

// Store keeps security records and markers, and may be shared by many
// servers. The contract every implementation must honour (the exported
// storetest suite checks it):
//
//   - "Not found" is ErrNotFound (errors.Is), and only that. Get keeps
//     returning a record for RetainExpired after its ExpiresAt, so that its
//     last holder learns why it was signed out (idle timeout, evicted)
//     instead of seeing "not found"; Update, List, Create's limit and Trim
//     treat it as gone from ExpiresAt on. A marker expires at its
//     ExpiresAt. Any other error means the store could not answer; the
//     Guard then fails closed with ginsecure.ErrStoreUnavailable and never treats the
//     request as anonymous.
//   - Create, Update, Delete, SetMarker and DeleteMarker are atomic per
//     key, and Create's limit check is atomic per user: two servers racing
//     on one record, one marker or one user's limit can never both win.
//   - The per-user index lists exactly the user's records that are neither
//     revoked nor expired; records that are revoked or deleted leave it.
//     Nothing grows without bound: records and markers go when they expire.
//   - User IDs are held exactly, byte for byte (the Guard only passes
//     valid UTF-8).
//   - Values are copied in and out: a caller never shares memory with the
//     store.
type Store interface {
	// Get returns the record stored under handle, revoked ones included.
	Get(ctx context.Context, handle string) (Record, error)
	// Create stores a new record and adds it to its user's index. With
	// limit.Reject and limit.Max > 0 it first counts the user's live
	// presented records (not Unpresented, not limit.Replacing) and returns
	// ginsecure.ErrTooManySessions, storing nothing, when there are Max already. It
	// never signs anyone out: a login evicts only after its new session is
	// saved (Trim), and a new record counts from its first presentation
	// (Present). The one exception: limit.Unpresented (logins that no
	// request presented yet, a bounded number per user), and a store's own
	// ceiling per user where it documents one (the memory store's
	// ginsecure.MemoryStoreMaxSessionsPerUser), which signs out the least recently
	// used (RevokedEvicted).
	Create(ctx context.Context, rec Record, limit Limit) error
	// Trim signs out (RevokedEvicted) all but the max most recently seen
	// of the user's live presented records, and returns their handles;
	// unpresented records are neither counted nor signed out. Ties go to
	// the later created (Seq): every caller agrees on the order, so
	// presentations racing over the limit leave exactly max live (the
	// newest win), whichever trims last.
	Trim(ctx context.Context, userID string, max int) (evicted []string, err error)
	// Present applies fn to the record under held.Handle, as HeldUpdater's
	// UpdateHeld does (held is the record as the caller read it; a store
	// without that shortcut applies fn as Update does). Where the stored
	// record is Unpresented and fn's result is not (its first
	// presentation) and limit.Max > 0, the same atomic step (per user)
	// enforces the limit among the user's other live presented records:
	// with Max or more of them, limit.Reject refuses (ginsecure.ErrTooManySessions,
	// nothing written, the stored record returned), otherwise the least
	// recently seen of them (Trim's order) are signed out
	// (RevokedEvicted) until Max-1 remain, and their handles returned.
	// limit.Replacing is ignored. Other errors: as Update's.
	Present(ctx context.Context, held Record, fn func(*Record) error, limit Limit) (rec Record, evicted []string, err error)
	// Update applies fn to the stored record atomically. If fn returns an
	// error nothing is written and Update returns the record as it was with
	// fn's error. A record whose Revoked is set by fn leaves the user index.
	Update(ctx context.Context, handle string, fn func(*Record) error) (Record, error)
	// Delete removes the record and its index entry; deleting a record that
	// does not exist is not an error.
	Delete(ctx context.Context, handle string) error
	// List returns the user's live records (not revoked, not expired),
	// unpresented ones included.
	List(ctx context.Context, userID string) ([]Record, error)
	// SetMarker stores m under key until m.ExpiresAt, unless a live marker
	// is stored there already: then it returns ErrMarkerExists and changes
	// nothing. The one exception: a marker naming a record (m.Handle != "")
	// replaces a live tombstone (Handle "").
	SetMarker(ctx context.Context, key string, m Marker) error
	// GetMarker returns the marker under key, or ErrNotFound.
	GetMarker(ctx context.Context, key string) (Marker, error)
	// DeleteMarker removes the marker under key if it names handle (the
	// undoing of a login that could not finish); any other marker stays.
	DeleteMarker(ctx context.Context, key, handle string) error
}

// ClockUser is implemented by stores that decide expiry with a clock:
// ginsecure.New hands them Config.Now, so that expiry follows the Guard's
// clock (and a test's moved clock) rather than the wall clock.
type ClockUser interface {
	UseClock(now func() time.Time)
}

// Clone returns a copy of r that shares no memory with it: a Store hands
// out copies its callers may change.
func (r *Record) Clone() Record {
	out := *r
	out.TokenKey = slices.Clone(r.TokenKey)
	out.ForwardPending = slices.Clone(r.ForwardPending)
	out.History = slices.Clone(r.History)
	for i := range out.History {
		e := &out.History[i]
		e.Key, e.Sealed = slices.Clone(e.Key), slices.Clone(e.Sealed)
	}
	return out
}
