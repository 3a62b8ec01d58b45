package ginsecure

// The record's read started before the session loads: on a store whose
// reads are round trips (Redis), the token names its record, so its GET
// need not wait for gin-contrib's session GET. The two overlap and an
// authenticated request waits for one round trip instead of two.

import (
	"time"

	"github.com/gin-gonic/gin"
)

// startPrefetch starts reading the record the token names, where the store
// is a Prefetcher and a session is still to load (load runs it before
// verify loads the session). It hands the store the request's context and
// the handle, never the gin.Context: gin reuses that for the next request.
func (g *Guard) startPrefetch(c *gin.Context, st *reqState) {
	if g.shared != nil || st.token != tokenParsed || st.sess.inner == nil {
		return
	}
	if p, ok := g.store.(Prefetcher); ok {
		if join := p.Prefetch(reqCtx(c), st.tok.handle); join != nil {
			st.join = func() (*Record, error) {
				rec, err := join()
				if err != nil {
					return nil, err
				}
				return &rec, nil
			}
		}
	}
}

// viewToken is view for the record the token names: it joins the read
// startPrefetch started, or reads now where none was started (or the
// store could not start one at once: the sequential order).
func (g *Guard) viewToken(c *gin.Context, st *reqState, now time.Time) (*Record, error) {
	join := st.join
	if join == nil {
		return g.view(c, st.tok.handle, now)
	}
	st.join = nil
	return join()
}
