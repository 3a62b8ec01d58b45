// Package storeext is what a ginsecure Store author needs: the Store
// contract (Store, and the values it keeps and returns: Record with its
// Superseded credentials and DeviceKey, Marker, Limit, the Revoked*
// reasons, ErrNotFound, ErrMarkerExists, RetainExpired), the device-binding
// ChallengeStore, and the optional interfaces the Guard asks a Store for,
// to save round trips or to know the gin-contrib session store, without
// changing any answer. An application author needs none of it: Config.Store
// takes a storeext.Store, and ginsecure.NewMemoryStore and redisstore.New
// give one.
//
// storeext imports nothing of package ginsecure (ginsecure imports it).
// Two sentinels a Store returns are the application's own and stay there:
// ginsecure.ErrTooManySessions (Create and Present over a Limit that
// rejects) and ginsecure.ErrSessionTooLarge (KnownSessions.Encode); a Store
// that returns them imports package ginsecure for them. The storetest
// package checks the contract.
//
// The Guard asserts each optional interface by its method set, so a Store
// implements one by having its methods; nothing needs to name them but a
// Store that wants a compile-time check (var _ storeext.Prefetcher =
// (*S)(nil)) or a test. KnownSessions is an alias of an interface literal,
// the same the Guard declares, so that SessionSharer's method is the one
// the Guard asks for.
package storeext

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/gorilla/securecookie"
	gsessions "github.com/gorilla/sessions"
)

// Prefetcher is implemented by stores whose Get is a round trip (Redis):
// the Guard starts reading the record a token names before it loads the
// gin-contrib session, so that the two round trips overlap instead of
// following each other. The embedded memory store needs none.
//
// Prefetch must not block and must not fail: when the read cannot start
// at once (no spare connection) it returns nil, and the Guard calls Get
// after the session has loaded, as without a Prefetcher. Otherwise it
// returns a join function whose answer is what Get(ctx, handle) would
// have answered from that moment on: where the early read could not be
// done or failed for any reason other than ErrNotFound, join reads again
// with Get, so a prefetch never turns into an error that the sequential
// order would not have given. join is called at most once, from the
// request's goroutine; a prefetch that is never joined frees its
// connection and its goroutine by itself, when its read ends or ctx is
// done.
type Prefetcher interface {
	Prefetch(ctx context.Context, handle string) (join func() (Record, error))
}

// SharedRedis is implemented by a Store that keeps its records in Redis
// (redisstore) and knows a gin-contrib session store that keeps its
// sessions in the same Redis (SessionSharer, KnownSessions.Shared): the
// Guard reads a request's record and its session in one round trip
// instead of two, and saves a session in one round trip that refuses the
// write once a login or Renew has retired the session (instead of a save
// followed by a marker check). The session keys and values are the
// session store's own (KnownSessions), so the two paths read and write
// the same sessions.
type SharedRedis interface {
	// GetWithSession returns the record under handle, as Get would, and
	// the raw value stored under the Redis key sessionKey (nil when there
	// is none), read together in one round trip. When the record is
	// missing or expired, err is ErrNotFound and value is still set; on
	// any other error value is nil. The record may be shared with the
	// store's other readers: the caller must not modify it, nor its
	// slices (the Guard never modifies a record it reads).
	GetWithSession(ctx context.Context, handle, sessionKey string) (rec *Record, value []byte, err error)
	// SaveSessionUnlessMarked sets the Redis key sessionKey to value for
	// ttl (whole seconds, at least 1) unless the marker under markerKey
	// (a Marker key as SetMarker takes it) exists and has not expired, in
	// one round trip. When it exists nothing is written and it is
	// returned with saved false.
	SaveSessionUnlessMarked(ctx context.Context, markerKey, sessionKey string, value []byte, ttl time.Duration) (m Marker, saved bool, err error)
	// CreateWithSession is Create(ctx, rec, limit) followed by the Redis
	// key sessionKey set to value for ttl (whole seconds, at least 1), in
	// one atomic step and one round trip: a login's record and its new
	// session. Where Create would fail (ginsecure.ErrTooManySessions, a live record
	// under rec.Handle, any other error) nothing is written, the session
	// neither, and Create's error is returned.
	CreateWithSession(ctx context.Context, rec Record, limit Limit, sessionKey string, value []byte, ttl time.Duration) error
	// SetMarkerReadSession is SetMarker(ctx, key, m) followed, in the
	// same atomic step and round trip, by a read of the Redis key
	// sessionKey: its raw value once the marker is set (nil when there is
	// none). Every session write made before the marker is in it; every
	// later one finds the marker (SaveSessionUnlessMarked refuses it).
	// When a live marker is there already it returns ErrMarkerExists, and
	// changes and reads nothing.
	SetMarkerReadSession(ctx context.Context, key string, m Marker, sessionKey string) (value []byte, err error)
	// UpdateHeldDeletingSession is HeldUpdater's UpdateHeld(ctx, held,
	// fn), and the Redis key sessionKey deleted by the same atomic write
	// as fn's result (one round trip where held is current): a login's
	// retirement of the record it replaced together with that record's
	// session. Where nothing is written (fn's error, ErrNotFound, any
	// other error) sessionKey is not deleted either.
	UpdateHeldDeletingSession(ctx context.Context, held Record, fn func(*Record) error, sessionKey string) (Record, error)
}

// HeldUpdater is implemented by stores whose Update has to read the
// record before its atomic write (Redis: a GET, then a compare-and-set):
// a caller that already holds the record as the store gave it (from Get,
// or from a read of record and session together) saves that read.
type HeldUpdater interface {
	// UpdateHeld is Update(ctx, held.Handle, fn), with the same contract
	// and the same answers, for a caller that holds the record as it read
	// it from the store: fn is first applied to a copy of held, and the
	// result written only if the stored record is still held (one round
	// trip on Redis). Where it is not (another request wrote it since),
	// where held has expired, or where fn refuses held, it does what
	// Update does: reads the stored record and applies fn to that. fn may
	// thus run more than once, as it may in Update. Errors: as Update's
	// (ErrNotFound, fn's error, the store's).
	UpdateHeld(ctx context.Context, held Record, fn func(*Record) error) (Record, error)
}

// UserRevoker is implemented by a Store whose per-user index can be lost
// while the user's records live (redisstore: an evicted or deleted index
// key). RevokeUser and RevokeOthers set the mark before they end the
// sessions the index lists, so that every session created before the call
// returns ends even where the index no longer lists it.
type UserRevoker interface {
	// RevokeBefore revokes (as revoked, a Revoked* reason) every
	// record of userID that the store created before it returns, but except
	// (a handle, or ""), for every read from then on (Get, List, and the
	// store's other reads), whether or not the index lists it. The order is
	// the store's own, never a server's clock. ErrNotFound, with
	// nothing changed, where except is not a live record of userID.
	RevokeBefore(ctx context.Context, userID, except, revoked string) error
}

// BatchRevoker is implemented by a Store that ends a user's sessions in
// batches of bounded work (redisstore): RevokeUser and RevokeOthers then
// cost one round trip per batch instead of several per session, and no
// single call of the store grows with the user's session count.
type BatchRevoker interface {
	// RevokeBatch retires prev (as RetireBatch does; the previous batch's
	// sessions, or none), then ends, in the same atomic step, at most n
	// of userID's live records (neither revoked nor expired) but except,
	// as revoked (a Revoked* reason): each leaves the index, as Update
	// setting Revoked would make it. It returns which it ended, and more
	// true while the index may list others: a caller ends them all by
	// calling it until more is false, then retires the last batch's
	// sessions with RetireBatch.
	RevokeBatch(ctx context.Context, userID, except, revoked string, n int, prev Retirement) (ended []Ended, more bool, err error)
	// RetireBatch sets r.Marker (a tombstone) under each of r.MarkerKeys
	// where no live marker is, and deletes each non-empty
	// r.SessionKeys[i], in one round trip.
	RetireBatch(ctx context.Context, r Retirement) error
}

// Ended is a record BatchRevoker.RevokeBatch ended: its handle and its
// session's ID (Record.SessionID), all a caller needs to retire it.
type Ended struct {
	Handle, SessionID string
}

// Retirement is what BatchRevoker retires of a batch of ended sessions:
// a tombstone under each marker key (Marker keys as SetMarker takes
// them) and the deletion of each non-empty session key (a key of a
// session store that keeps its sessions beside the records:
// KnownSessions.SessionKey). MarkerKeys and SessionKeys have the same
// length; the zero value retires nothing.
type Retirement struct {
	MarkerKeys  []string
	Marker      Marker
	SessionKeys []string
}

// RecentLister is implemented by a Store that can list a user's most
// recently active records without reading all of them (redisstore: its
// index is ordered by activity). The Guard's Sessions and SessionsOf list
// at most ginsecure.MaxListedSessions.
type RecentLister interface {
	// ListRecent returns at most n of the user's live presented records
	// (List's, Unpresented ones left out), the most recently active
	// (LastSeen), in any order, at a cost bounded by n rather than by the
	// user's record count.
	ListRecent(ctx context.Context, userID string, n int) ([]Record, error)
}

// LoggerUser is implemented by stores that report what they find wrong
// with their own setup (redisstore: a Redis eviction policy under which
// revocation can miss sessions). ginsecure.New hands them Config.Logger. UseLogger
// must return at once, without reaching the store: ginsecure.New never waits on a
// store that is down.
type LoggerUser interface {
	UseLogger(l *slog.Logger)
}

// PreviousEncoder is implemented by stores that can write records for
// servers of the previous release sharing the store, a rolling upgrade's
// first step (redisstore.WithPreviousEncoding). ginsecure.New asks it
// once: where PreviousEncoding reports true, new tokens' keys
// (Record.TokenKey) are X25519, 32 bytes, as the previous release mints
// them and can seal to, instead of P-256, 33 bytes, which it cannot
// (its rotations of such a record fail). PreviousEncoding must return at
// once, without reaching the store.
type PreviousEncoder interface {
	PreviousEncoding() bool
}

// SessionSharer is implemented by a Store that knows gin-contrib session
// stores (redisstore). The Guard asks it, at the first session it loads
// and where a session store's behaviour matters (a load that failed, a
// save it must refuse), what it knows of the session's store.
type SessionSharer interface {
	// SharedSessions returns what the Store knows of the gorilla session
	// store gs.Store() returns, or nil where it knows nothing of it.
	SharedSessions(store gsessions.Store) KnownSessions
}

// KnownSessions is what a Store knows of a gin-contrib session store
// (SessionSharer). Where Shared reports true the Store is also a
// SharedRedis whose session keys are SessionKey's.
type KnownSessions = interface {
	// Shared reports whether the sessions are kept beside the records
	// (the same Redis, through the same pool) in a format the Store
	// knows, so that SharedRedis's methods read and write them. Key,
	// Encode, Load and Codecs are only called where it does.
	Shared() bool
	// SessionKey is the key of the session with the ID id.
	SessionKey(id string) string
	// Encode serializes gs as the session store saves it. A session over
	// the store's size limit is refused here, before anything is written:
	// errors.Is(err, ginsecure.ErrSessionTooLarge) holds.
	Encode(gs *gsessions.Session) ([]byte, error)
	// Load is the session named name stored under the ID id with the raw
	// value (nil: none), as the session store's New makes it: with the
	// store's options, new where there is no value or it does not
	// deserialize (then err says why).
	Load(name, id string, value []byte) (gs *gsessions.Session, err error)
	// Codecs are the session store's cookie codecs (for the cookie that
	// names a session by its ID).
	Codecs() []securecookie.Codec
	// Persists reports whether a save with opts keeps the session: false
	// where the store deletes it instead (boj/redistore: MaxAge <= 0).
	Persists(opts *gsessions.Options) bool
	// Outage reports whether err, from the session store, says that its
	// backend could not be reached or refused to answer, rather than that
	// the cookie or the payload was bad.
	Outage(err error) bool
	// Reload loads the session named name of r again after a load failed
	// with an Outage: past the dead pooled connections a Redis restart
	// leaves. With err nil gs is the session; otherwise outage says
	// whether the backend is still unreachable (false: it answers, and
	// the payload is what does not load).
	Reload(r *http.Request, name string) (gs *gsessions.Session, outage bool, err error)
	// Touch resets the lifetime of the stored session with the ID id to
	// maxAge seconds without writing its data; false where it could not
	// (the session is gone, the backend did not answer, the key is not
	// known).
	Touch(ctx context.Context, id string, maxAge int) bool
}
