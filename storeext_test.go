package ginsecure_test

import (
	"testing"

	"github.com/ginsecure/ginsecure"
	"github.com/ginsecure/ginsecure/storeext"
)

// The Guard asserts the optional interfaces by its own unexported copies;
// storeext documents them for Store authors. Each pair must have the same
// methods (each assignable to the other), or a Store written to storeext
// would silently lose its optional paths.
func TestStoreextIsWhatTheGuardAsksFor(t *testing.T) {
	var (
		_ storeext.Prefetcher              = ginsecure.PrefetcherAsAsked(nil)
		_ ginsecure.PrefetcherAsAsked      = storeext.Prefetcher(nil)
		_ storeext.HeldUpdater             = ginsecure.HeldUpdaterAsAsked(nil)
		_ ginsecure.HeldUpdaterAsAsked     = storeext.HeldUpdater(nil)
		_ storeext.SharedRedis             = ginsecure.SharedRedisAsAsked(nil)
		_ ginsecure.SharedRedisAsAsked     = storeext.SharedRedis(nil)
		_ storeext.SessionSharer           = ginsecure.SessionSharerAsAsked(nil)
		_ ginsecure.SessionSharerAsAsked   = storeext.SessionSharer(nil)
		_ storeext.LoggerUser              = ginsecure.LoggerUserAsAsked(nil)
		_ ginsecure.LoggerUserAsAsked      = storeext.LoggerUser(nil)
		_ storeext.PreviousEncoder         = ginsecure.PreviousEncoderAsAsked(nil)
		_ ginsecure.PreviousEncoderAsAsked = storeext.PreviousEncoder(nil)
		_ storeext.KnownSessions           = ginsecure.KnownSessionsAsAsked(nil)
		_ ginsecure.KnownSessionsAsAsked   = storeext.KnownSessions(nil)
	)
}
