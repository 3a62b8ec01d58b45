package ginsecure

import (
	"context"

	"github.com/ginsecure/ginsecure/storeext"
	"time"
)

// prefetcher is storeext.Prefetcher (its contract is there), as the Guard asks for it.
type prefetcher interface {
	Prefetch(ctx context.Context, handle string) (join func() (storeext.Record, error))
}

// sharedRedis is storeext.SharedRedis (its contract is there), as the Guard asks for it.
type sharedRedis interface {
	GetWithSession(ctx context.Context, handle, sessionKey string) (rec *storeext.Record, value []byte, err error)
	SaveSessionUnlessMarked(ctx context.Context, markerKey, sessionKey string, value []byte, ttl time.Duration) (m storeext.Marker, saved bool, err error)
	CreateWithSession(ctx context.Context, rec storeext.Record, limit storeext.Limit, sessionKey string, value []byte, ttl time.Duration) error
	SetMarkerReadSession(ctx context.Context, key string, m storeext.Marker, sessionKey string) (value []byte, err error)
	UpdateHeldDeletingSession(ctx context.Context, held storeext.Record, fn func(*storeext.Record) error, sessionKey string) (storeext.Record, error)
}

// userRevoker is storeext.UserRevoker (its contract is there), as the Guard asks for it.
type userRevoker interface {
	RevokeBefore(ctx context.Context, userID, except, revoked string) error
}

// batchRevoker is storeext.BatchRevoker (its contract is there), as the Guard asks for it.
type batchRevoker interface {
	RevokeBatch(ctx context.Context, userID, except, revoked string, n int, prev storeext.Retirement) (ended []storeext.Ended, more bool, err error)
	RetireBatch(ctx context.Context, r storeext.Retirement) error
}

// recentLister is storeext.RecentLister (its contract is there), as the Guard asks for it.
type recentLister interface {
	ListRecent(ctx context.Context, userID string, n int) ([]storeext.Record, error)
}

// heldUpdater is storeext.HeldUpdater (its contract is there), as the Guard asks for it.
type heldUpdater interface {
	UpdateHeld(ctx context.Context, held storeext.Record, fn func(*storeext.Record) error) (storeext.Record, error)
}

// sharedReader is implemented by a Store that can hand out a record
// without copying its slices (the embedded memory store): New asserts it
// once, and the hot path reads through it, into a record of the
// caller's. The record's slices are shared with the store and its other readers, as storeext.SharedRedis.GetWithSession's
// are: the caller must not modify them (the Guard never modifies a record
// it reads). now is the Guard's reading of the store's clock (one clock
// read per request). Errors: as Get's (ErrNotFound).
type sharedReader interface {
	viewShared(handle string, now time.Time, out *storeext.Record) error
}
