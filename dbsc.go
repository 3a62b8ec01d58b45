package ginsecure

// Device-bound sessions (DESIGN.md, "Device-bound sessions"): the offer a
// Login or Renew response carries, the registration and refresh endpoints
// Middleware answers under DeviceBinding.Path, and the ending answer.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/ginsecure/ginsecure/internal/dbsc"
	"github.com/ginsecure/ginsecure/storeext"
)

// deviceBinder is the Guard's device binding; nil while
// DeviceBinding.Enabled is false.
type deviceBinder struct {
	verifier dbsc.Verifier
	// register and refresh are the endpoints' paths.
	register, refresh string
	lifetime          time.Duration
}

// newDeviceBinder returns the device binding cfg (defaults filled in)
// asks for, or nil.
func newDeviceBinder(cfg *Config) *deviceBinder {
	d := &cfg.DeviceBinding
	if !d.Enabled {
		return nil
	}
	algs := make([]dbsc.Algorithm, len(d.Algorithms))
	for i, a := range d.Algorithms {
		algs[i] = dbsc.Algorithm(a)
	}
	return &deviceBinder{
		verifier: dbsc.Verifier{Algorithms: algs, Challenges: &dbsc.Challenges{Store: d.Challenges, Now: cfg.Now}},
		register: d.Path + "/register", refresh: d.Path + "/refresh",
		lifetime: d.CookieLifetime,
	}
}

// Errors of the registration's record update.
var (
	// errAlreadyBound: the record was bound by an earlier registration; a
	// record binds once.
	errAlreadyBound = errors.New("ginsecure: session already device-bound")
	// errRefusedProof: a registration the Guard answers 403.
	errRefusedProof = errors.New("ginsecure: device binding refused")
)

// pendingKey names, in the challenge store, the registration a Login or
// Renew offered: the hash of the token it minted, so that only a request
// carrying that token can redeem the challenge.
func pendingKey(tokenHash [32]byte) string {
	h := sha256.Sum256(tokenHash[:]) // the store never sees the record's TokenHash itself
	return "reg:" + hex.EncodeToString(h[:])
}

// offerDeviceBinding adds the registration offer to a response that
// minted a token after a Login or Renew (the user just proved itself):
// offered to any signed-in browser, it would let a thief holding copied
// cookies bind the session to its own key. A bound record is not offered
// again. A challenge store that cannot be reached costs the offer, never
// the login.
func (g *Guard) offerDeviceBinding(x reqIO, rec *storeext.Record, tokenHash [32]byte) {
	d := g.device
	if d == nil || rec.Device.Bound() {
		return
	}
	reg, err := d.verifier.Offer(x.ctx(), pendingKey(tokenHash), d.register, rec.Handle)
	if err == nil {
		var v string
		if v, err = reg.Header(); err == nil {
			setHeader(x.w.Header(), dbsc.HeaderRegistration, v)
			return
		}
	}
	g.log.Warn("ginsecure: could not offer device binding", "err", err)
}

// deviceRegister binds the request's record to the key of its proof: the
// request must be authenticated with the current token, the very token
// whose Login or Renew response offered the challenge the proof signs,
// and the record must not be bound yet.
func (g *Guard) deviceRegister(c *gin.Context) {
	rq := g.load(c)
	st := &rq.st
	presented := st.tok.hash
	err := g.verify(c, st)
	g.flush(c, st) // events.go: what verify noted
	if err != nil {
		c.Writer = &rq.w
		g.refuse(c, rq, err)
		return
	}
	d, ctx := g.device, reqCtx(c)
	if !st.authenticated() || st.sup != supCurrent || st.token != tokenParsed || !hashEq(st.tok.hash, presented) {
		g.deviceRefused(c, st.userID(), st.handleOf(), errRefusedProof, "registration without the token its offer was made for")
		return
	}
	jwt, err := dbsc.ProofJWT(c.Request.Header)
	var key dbsc.Key
	if err == nil {
		key, err = d.verifier.Registration(ctx, pendingKey(presented), jwt, st.rec.Handle)
	}
	if err != nil {
		if proofRefused(err) {
			g.deviceRefused(c, st.rec.UserID, st.rec.Handle, err, "registration proof refused")
			return
		}
		g.refuse(c, rq, storeErr(err))
		return
	}
	rec, err := g.bindKey(ctx, st.rec, presented, key)
	switch {
	case errors.Is(err, errAlreadyBound), errors.Is(err, errRaced), errors.Is(err, errEnded), errors.Is(err, storeext.ErrNotFound):
		g.deviceRefused(c, st.rec.UserID, st.rec.Handle, err, "registration for a session that is bound, rotated or ended")
		return
	case err != nil:
		g.refuse(c, rq, storeErr(err))
		return
	}
	st.rec = &rec
	g.setToken(c.Writer, rec.Handle, st.tok.secret, st.tokenMaxAge(&rec)) // the bound token's Max-Age
	if err := g.answerDevice(c, &rec); err != nil {
		g.refuse(c, rq, storeErr(err))
		return
	}
	g.emit(c, Event{Kind: EventDeviceBound, UserID: rec.UserID, Handle: rec.Handle, Detail: string(key.Algorithm) + " " + key.Thumbprint})
}

// bindKey stores key in the record held, once: compare and set, so that
// of two registrations (on any servers) one binds and the other is
// errAlreadyBound.
func (g *Guard) bindKey(ctx context.Context, held *storeext.Record, presented [32]byte, key dbsc.Key) (storeext.Record, error) {
	now := g.now()
	return g.updateHeld(ctx, held, func(r *storeext.Record) error {
		switch {
		case r.Revoked != "":
			return errEnded
		case r.Device.Bound():
			return errAlreadyBound
		case !hashEq(r.TokenHash, presented):
			return errRaced
		}
		r.Device = storeext.DeviceKey{Algorithm: string(key.Algorithm), JWK: string(key.JWK), Thumbprint: key.Thumbprint, BoundAt: now}
		return nil
	})
}

// deviceRefresh answers a refresh: the record the identifier names (its
// handle) must be live and bound, and the proof must verify against its
// key and redeem one of its challenges; then a new token is minted as a
// rotation (DESIGN.md, "Superseded credentials") and sent with complete
// instructions and a fresh challenge. A missing or failed proof is
// answered 403 with a fresh challenge (never 400 or 401, after which
// Chromium deletes its session) and ends nothing: the identifier is no
// secret. A record that ended or is gone is answered continue:false.
func (g *Guard) deviceRefresh(c *gin.Context) {
	id, err := dbsc.SessionID(c.Request.Header)
	if err != nil {
		c.AbortWithStatusJSON(http.StatusForbidden, gin.H{"error": "no_session"})
		return
	}
	ctx, now := reqCtx(c), g.now()
	if !validHandle(id) {
		g.endDevice(c, id)
		return
	}
	rec, err := g.store.Get(ctx, id)
	switch {
	case errors.Is(err, storeext.ErrNotFound):
		g.endDevice(c, id)
		return
	case err != nil:
		g.refuse(c, nil, storeErr(err))
		return
	case rec.Revoked != "" || !rec.Device.Bound() || g.timedOut(&rec, true, now) != nil:
		g.endDevice(c, id)
		return
	}
	key, err := dbsc.LoadKey(dbsc.Algorithm(rec.Device.Algorithm), []byte(rec.Device.JWK))
	if err != nil {
		g.endDevice(c, id) // a key that cannot be read refreshes nothing
		return
	}
	if err := g.checkRefreshProof(c, &rec, key); err != nil {
		g.refuse(c, nil, storeErr(err))
		return
	}
	if c.IsAborted() {
		return // answered 403 with a challenge
	}
	g.rotateBound(c, &rec, now)
}

// checkRefreshProof verifies the refresh's proof and redeems its
// challenge. A missing or refused proof is answered here (403 and a
// challenge, the request aborted); the error is the challenge store's.
func (g *Guard) checkRefreshProof(c *gin.Context, rec *storeext.Record, key dbsc.Key) error {
	jwt, err := dbsc.ProofJWT(c.Request.Header)
	if err == nil {
		err = g.device.verifier.Refresh(reqCtx(c), rec.Handle, jwt, key)
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, dbsc.ErrNoProof):
		// The browser's first POST when it holds no challenge.
	case proofRefused(err):
		g.emit(c, Event{Kind: EventDeviceProofFailed, UserID: rec.UserID, Handle: rec.Handle, Err: err, Detail: "refresh proof refused"})
	default:
		return err
	}
	if err := g.challengeRetry(c, rec.Handle); err != nil {
		return err
	}
	c.AbortWithStatusJSON(http.StatusForbidden, gin.H{"error": "device_proof_required"})
	return nil
}

// rotateBound mints the bound record's next token after a verified
// proof: a rotation like a periodic one (the token it supersedes is
// served in its grace window, never revoked by the order of responses),
// except that the new token goes to the key's holder only, never sealed
// for the holder of the old one: a copy of the old token gets no newer one.
func (g *Guard) rotateBound(c *gin.Context, held *storeext.Record, now time.Time) {
	m, err := g.mint()
	if err != nil {
		g.refuse(c, nil, err)
		return
	}
	presented, _ := presentedToken(c.Request, g.cfg.CookieName, held.Handle)
	rec, err := g.store.Update(reqCtx(c), held.Handle, func(r *storeext.Record) error {
		if r.Revoked != "" || r.Device.Thumbprint != held.Device.Thumbprint || g.timedOut(r, true, now) != nil {
			return errEnded
		}
		seen := presentedAt(r)
		if hashEq(r.TokenHash, presented) {
			seen = now // the refresh carried the current token: the browser held it
		}
		if err := supersede(r, m, now, seen, false); err != nil {
			return err
		}
		r.LastSeen, r.ExpiresAt = now, g.expiryOf(r, now)
		return nil
	})
	switch {
	case errors.Is(err, errEnded), errors.Is(err, storeext.ErrNotFound):
		g.endDevice(c, held.Handle)
		return
	case err != nil:
		g.refuse(c, nil, storeErr(err))
		return
	}
	g.setToken(c.Writer, rec.Handle, m.secret, g.boundMaxAge(&rec, now))
	if err := g.answerDevice(c, &rec); err != nil {
		g.refuse(c, nil, storeErr(err))
		return
	}
	g.emit(c, Event{Kind: EventDeviceRefresh, UserID: rec.UserID, Handle: rec.Handle})
}

// presentedAt is when the browser was last known to hold r's current
// token, zero if it never presented it: a rotation's token once confirmed
// (ConfirmedAt); the login's token, which no rotation preceded, once the
// record was presented at all (its last-seen). The refresh that
// supersedes it usually carries no token (Chromium refreshes when the
// cookie is gone), and a token wrongly taken for never presented would be
// a late response, answered with the new token, whoever presents it.
func presentedAt(r *storeext.Record) time.Time {
	switch {
	case !r.ConfirmedAt.IsZero():
		return r.ConfirmedAt
	case len(r.History) == 0 && !r.Unpresented:
		return r.LastSeen
	}
	return time.Time{}
}

// presentedToken is the hash of the token cookie a request carries for
// handle, if any.
func presentedToken(r *http.Request, name, handle string) ([32]byte, bool) {
	v, ok := tokenCookie(r, name)
	if !ok {
		return [32]byte{}, false
	}
	p, ok := parseToken(v)
	if !ok || p.handle != handle {
		return [32]byte{}, false
	}
	return p.hash, true
}

// answerDevice answers a registration or refresh: a fresh challenge, so
// that the next refresh is one POST (after an empty answer Chromium would
// send the used challenge again), and the complete session instructions
// (a partial set makes Chromium delete its session). The scope is the
// request's origin, never the site: the token cookie is __Host-.
func (g *Guard) answerDevice(c *gin.Context, rec *storeext.Record) error {
	if err := g.challenge(c, rec.Handle); err != nil {
		return err
	}
	origin := "https://" + c.Request.Host
	in, err := dbsc.NewInstructions(rec.Handle, g.device.refresh, origin, g.tokenCookie("", 0))
	if err != nil {
		return err
	}
	body, err := in.JSON()
	if err != nil {
		return err
	}
	c.Data(http.StatusOK, "application/json", body)
	return nil
}

// challenge issues a challenge for the bound session handle and puts it
// in the response's Secure-Session-Challenge header.
func (g *Guard) challenge(c *gin.Context, handle string) error {
	v, err := g.device.verifier.Challenges.Issue(reqCtx(c), handle)
	if err != nil {
		return err
	}
	return challengeHeader(c, v, handle)
}

// challengeRetry is challenge for a refused refresh: its challenge cannot
// push out the one a successful answer gave the device (IssueRetry), so a
// stranger who names the session identifier in a flood of refreshes
// without a proof costs the device nothing (DESIGN.md, "Device-bound
// sessions").
func (g *Guard) challengeRetry(c *gin.Context, handle string) error {
	v, err := g.device.verifier.Challenges.IssueRetry(reqCtx(c), handle)
	if err != nil {
		return err
	}
	return challengeHeader(c, v, handle)
}

// challengeHeader puts challenge v of session handle in the response's
// Secure-Session-Challenge header.
func challengeHeader(c *gin.Context, v, handle string) error {
	h, err := dbsc.Challenge{Value: v, SessionID: handle}.Header()
	if err != nil {
		return err
	}
	c.Header(dbsc.HeaderChallenge, h)
	return nil
}

// endDevice answers a refresh for a session that ended (every ending: a
// logout, a revocation, a timeout, a replacement, a record that is gone)
// with continue:false, after which the browser drops its session. No
// Clear-Site-Data: "*" and "cookies" could delete a newer login's cookies.
func (g *Guard) endDevice(c *gin.Context, id string) {
	if !validHandle(id) {
		// Names no record: nothing to forget, and no other key of the
		// challenge store (a pending registration's) may be named here.
		c.Data(http.StatusOK, "application/json", dbsc.EndingJSON(id))
		return
	}
	if err := g.device.verifier.Challenges.Forget(reqCtx(c), id); err != nil {
		g.log.Warn("ginsecure: could not drop the challenges of an ended device-bound session", "err", err)
	}
	c.Data(http.StatusOK, "application/json", dbsc.EndingJSON(id))
}

// deviceRefused answers a refused registration 403 and reports it.
func (g *Guard) deviceRefused(c *gin.Context, userID, handle string, err error, detail string) {
	g.emit(c, Event{Kind: EventDeviceProofFailed, UserID: userID, Handle: handle, Err: err, Detail: detail})
	c.AbortWithStatusJSON(http.StatusForbidden, gin.H{"error": "device_binding_refused"})
}

// proofRefused reports whether err refuses a proof (a bad or replayed
// one, a malformed header) rather than says the store could not answer.
func proofRefused(err error) bool {
	return errors.Is(err, dbsc.ErrInvalidProof) || errors.Is(err, dbsc.ErrMalformedHeader) || errors.Is(err, dbsc.ErrNoProof)
}

// boundMaxAge is the Max-Age of a bound record's token cookie: what is
// left of its life (DeviceBinding.CookieLifetime from IssuedAt), capped
// at what remains of AbsoluteTimeout; at least 1 second.
func (g *Guard) boundMaxAge(rec *storeext.Record, now time.Time) int {
	end := rec.IssuedAt.Add(g.device.lifetime)
	if abs := rec.CreatedAt.Add(g.cfg.AbsoluteTimeout); abs.Before(end) {
		end = abs
	}
	return max(int(end.Sub(now)/time.Second), 1)
}
