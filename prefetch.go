package ginsecure

// The record's read started before the session loads: on a store whose
// reads are round trips (Redis), the token names its record, so its GET
// need not wait for gin-contrib's session GET. The two overlap and an
// authenticated request waits for one round trip instead of two.

import (
	"context"
	"github.com/ginsecure/ginsecure/storeext"
)

// startPrefetch starts reading the record under handle, the one the token
// names, where the store is a storeext.Prefetcher and a session is still to load
// (load runs it before verify loads the session), and returns the join of
// that read (nil for none started). It hands the store the request's
// context and the handle, never the gin.Context: gin reuses that for the
// next request.
func (g *Guard) startPrefetch(ctx context.Context, handle string) func() (*storeext.Record, error) {
	if g.shared != nil {
		return nil
	}
	if p, ok := g.store.(prefetcher); ok {
		if join := p.Prefetch(ctx, handle); join != nil {
			return func() (*storeext.Record, error) {
				rec, err := join()
				if err != nil {
					return nil, err
				}
				return &rec, nil
			}
		}
	}
	return nil
}
