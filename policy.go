package ginsecure

// What a route sees of the request's verdict: the signed-in user
// (UserID), why a presented session did not pass (FailureReason), and
// the per-route policies that gate on it (Require).

import (
	"time"

	"github.com/gin-gonic/gin"
)

// UserID returns the authenticated user of the request, or "", false: for
// anonymous requests, refused ones, and requests the middleware never saw.
// It never panics.
func UserID(c *gin.Context) (string, bool) {
	st := stateOf(c)
	if st == nil || !st.authenticated() {
		return "", false
	}
	return st.rec.UserID, true
}

// FailureReason returns why the request is not authenticated when it
// presented a session that did not pass (ErrIdleTimeout, ErrReplay, ...),
// or nil.
func FailureReason(c *gin.Context) error {
	st := stateOf(c)
	if st == nil {
		return nil
	}
	return st.failure
}

// Policy is what a route group demands beyond the global configuration.
type Policy struct {
	// Authenticated refuses anonymous requests (401 with the reason the
	// session was not accepted, or ErrNoSession).
	Authenticated bool
	// IPBinding is checked in addition to Config.IPBinding; use it to be
	// stricter on a group (IPExact on /admin).
	IPBinding IPPolicy
	// MaxAuthAge demands a login (or Renew) no older than this: 403
	// ErrReauthRequired otherwise; the session itself stays valid.
	MaxAuthAge time.Duration
	// RequireTLS refuses requests that did not arrive over TLS (403). Behind
	// a TLS-terminating proxy it needs TrustProxyHeaders and the proxy in
	// engine.SetTrustedProxies; the proxy's X-Forwarded-Proto then counts.
	RequireTLS bool
	// DeviceBound refuses a request whose session is not bound to a key on
	// its device (403 ErrDeviceBindingRequired; anonymous ones as
	// Authenticated does). Needs Config.DeviceBinding.Enabled; a session
	// is bound only once its browser registered, just after the login.
	DeviceBound bool
}

// Require returns a handler that enforces p on a route group. It must run
// after Middleware. An invalid p (a bad CIDR) panics here, at setup, not on
// a request.
func (g *Guard) Require(p Policy) gin.HandlerFunc {
	if p.IPBinding.err != nil {
		panic("ginsecure: Policy.IPBinding: " + p.IPBinding.err.Error())
	}
	return func(c *gin.Context) {
		rq := requestOf(c)
		if rq == nil {
			g.warnNoMiddleware() // setup.go
			g.refuse(c, nil, ErrNoMiddleware)
			return
		}
		st := &rq.st
		st.enter(c)
		if p.RequireTLS && !g.secureTransport(c) {
			g.refuse(c, rq, ErrTLSRequired)
			return
		}
		authOnly := p.Authenticated || p.MaxAuthAge > 0 || p.DeviceBound
		if st.authenticated() {
			if err := g.checkIdentity(c, st); err != nil {
				g.flush(c, st) // events.go: what the check noted
				// As in Middleware (DESIGN.md, "Refusals"): revoked,
				// and anonymous on a route that does not need a user.
				st.standIn(err)
				if !authOnly {
					serveStandIn(c, rq)
					return
				}
			} else if err := g.checkIP(c, st, &p.IPBinding, true); err != nil {
				g.flush(c, st)
				g.refuse(c, rq, err)
				return
			}
		}
		if authOnly && !st.authenticated() {
			err := st.failure
			if err == nil {
				err = ErrNoSession
			}
			g.refuse(c, rq, err)
			return
		}
		if p.DeviceBound && !g.rotatesByProof(st.rec) { // bound, with device binding on
			g.refuse(c, rq, ErrDeviceBindingRequired)
			return
		}
		if p.MaxAuthAge > 0 && g.now().Sub(st.authAt) > p.MaxAuthAge {
			g.refuse(c, rq, ErrReauthRequired)
			return
		}
		c.Next()
	}
}

// serveStandIn serves the rest of the chain with a stand-in session that
// Require gave the request after Middleware had served it authenticated:
// its response must carry no cookie of ours, as Middleware keeps a
// stand-in's from doing.
func serveStandIn(c *gin.Context, rq *request) {
	if rq.st.gs == nil {
		c.Next()
		return
	}
	c.Writer = &rq.w
	c.Next()
	rq.w.scrub()
}
