package ginsecure

// Token rotation, the grace window and replay detection.
//
// A browser sends requests in parallel. When credentials rotate (Login,
// Renew, or every RotateEvery), requests that left the browser with the old
// credentials arrive after the rotation. They must not be refused (the user
// would see "hijacked" errors), must not gain the new privilege, and no
// response may put back older credentials (DESIGN.md, "Grace period").
//
//   - A login replaces the record: the old token names a record that is
//     gone, so a straggler with it is simply anonymous, and nothing is
//     written back (no expiring Set-Cookie: it could land after the login's
//     response and delete the new token).
//   - A periodic rotation or Renew keeps the record and its previous
//     token's hash (PrevHash). A request presenting it is served as the
//     same user with the privilege from before the rotation (PrevAuthAt).
//     The window starts when the browser first presents the new token
//     (ConfirmedAt); after it, the old token is a replay: the session is
//     revoked, since two parties hold its credentials.
//   - Until the browser presents the new token, the rotating response may
//     be slow or lost. A periodic rotation keeps the new secret sealed
//     under a key derived from the old one (Record.Pending), and whoever
//     presents the old token gets the same new token again: a late
//     rotating response then carries the very token the browser already
//     has, and a lost one costs nothing. A Renew's raised privilege is
//     never handed to the pre-Renew token: after unconfirmedGrace it gets
//     a fresh token at the old privilege instead (a reissue), and the
//     unconfirmed one becomes a tripwire (AbandonedHash).

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"time"

	"github.com/gin-gonic/gin"
)

// unconfirmedGrace bounds how long the previous token of a Renew is served
// as a straggler while the browser has not yet presented the new one (a
// slow rotating request, an aborted one, a lost response). Past it, the
// old token gets a fresh token at its own privilege.
const unconfirmedGrace = 30 * time.Second

type prevVerdict int

const (
	prevGrace   prevVerdict = iota // a straggler: the same user with the old privilege
	prevResend                     // the browser never presented the pending token: send it again
	prevReplay                     // a copy came back after the window: refused, session revoked
	prevReissue                    // the Renew's token never arrived: a fresh one at the old privilege
)

// checkSecret decides the presented secret against its record. It returns
// true where the request may go on as the record's user (the current
// token, or the previous one inside its window); otherwise the request is
// anonymous with the reason in st.failure (a replay revokes the session).
func (g *Guard) checkSecret(c *gin.Context, st *reqState, rec *Record, now time.Time) bool {
	switch {
	case hashEq(rec.TokenHash, st.tok.hash):
		st.tokRec, st.authAt = rec, rec.AuthAt
		return true
	case rec.PrevHash != zeroHash && hashEq(rec.PrevHash, st.tok.hash) || isSibling(rec, st.tok.hash):
		st.tokRec, st.authAt = rec, rec.PrevAuthAt
		switch g.prevToken(rec, now) {
		case prevReplay:
			if rec.Revoked == "" {
				g.revoke(c, rec, RevokedReplay, EventReplay, "a rotated token came back after the grace window")
			}
			st.failure = ErrReplay
			return false
		case prevReissue:
			if c.GetHeader("Upgrade") == "" {
				st.reissue = true
				return true
			}
			// An upgrade answers with its own headers: a token minted
			// here would be lost too. Served as a straggler.
			st.prev = true
		case prevResend:
			st.prev, st.resend = true, c.GetHeader("Upgrade") == ""
		default:
			st.prev = true
		}
		g.emit(c, Event{Kind: EventGraceServed, UserID: rec.UserID, Handle: rec.Handle})
		return true
	case rec.AbandonedHash != zeroHash && hashEq(rec.AbandonedHash, st.tok.hash):
		// A token a reissue replaced because nobody had presented it: it
		// reached someone after all, so two parties hold this session.
		st.tokRec = rec
		if rec.Revoked == "" {
			g.revoke(c, rec, RevokedReplay, EventReplay, "an abandoned token came back after a reissue")
		}
		st.failure = ErrReplay
		return false
	default:
		st.failure = ErrTokenMismatch
		g.emit(c, Event{Kind: EventTokenMismatch, UserID: rec.UserID, Handle: rec.Handle, Detail: "token secret does not match its record"})
		return false
	}
}

// isSibling reports whether h is one of the tokens that earlier parallel
// logins from the same session minted for the record, before the previous
// one: they are honoured as the previous token is.
func isSibling(r *Record, h [32]byte) bool {
	for _, s := range r.Siblings {
		if hashEq(s, h) {
			return true
		}
	}
	return false
}

// prevToken decides a request that presents the record's previous token.
//
// The window starts when the browser shows it has the new token (the first
// request presenting it sets ConfirmedAt), not when the server minted it:
// a rotating request may take seconds to answer, or never deliver its
// Set-Cookie, and every request the browser sends until then still
// carries the old token. Counting from the mint would call those replays
// and revoke a legitimate session. Once confirmed, the old token lives
// GracePeriod more; then it is a replay, since the browser no longer sends
// it and someone else must hold a copy. With GracePeriod < 0 there is no
// window at all.
func (g *Guard) prevToken(r *Record, now time.Time) prevVerdict {
	if g.cfg.GracePeriod < 0 {
		return prevReplay
	}
	if !r.ConfirmedAt.IsZero() {
		if g.withinGrace(r.ConfirmedAt, now) {
			return prevGrace
		}
		return prevReplay
	}
	if len(r.Pending) > 0 {
		return prevResend
	}
	if now.Sub(r.RotatedAt) <= max(g.cfg.GracePeriod, unconfirmedGrace) {
		return prevGrace
	}
	return prevReissue
}

// withinGrace reports whether a window that opened at t is still open.
func (g *Guard) withinGrace(t, now time.Time) bool {
	return g.cfg.GracePeriod > 0 && now.Sub(t) <= g.cfg.GracePeriod
}

// pendingInfo labels the key that seals a pending token, so that it can
// never equal another use of the old secret (its SHA-256 is the stored
// PrevHash).
const pendingInfo = "ginsecure pending token v1"

// pendingAEAD is the AEAD that seals the secret minted by a rotation under
// a key derived (HKDF-SHA-256) from the secret it replaces. Only a holder
// of the old token can open it; the store alone cannot.
func pendingAEAD(old [32]byte, info string) (cipher.AEAD, error) {
	key, err := hkdf.Key(sha256.New, old[:], nil, info, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// sealPending seals next under old, with the handle as associated data.
func sealPending(old, next [32]byte, handle string) ([]byte, error) {
	return sealUnder(pendingInfo, old, next, handle)
}

// forwardInfo labels the key that seals a forwarded token (forward).
const forwardInfo = "ginsecure forwarded token v1"

// sealUnder seals next under a key derived from old with the label info.
func sealUnder(info string, old, next [32]byte, handle string) ([]byte, error) {
	aead, err := pendingAEAD(old, info)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(next)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return aead.Seal(nonce, nonce, next[:], []byte(handle)), nil
}

// openPending opens a pending token with the old secret.
func openPending(old [32]byte, sealed []byte, handle string) ([32]byte, error) {
	return openUnder(pendingInfo, old, sealed, handle)
}

// openUnder opens what sealUnder sealed.
func openUnder(info string, old [32]byte, sealed []byte, handle string) ([32]byte, error) {
	var next [32]byte
	aead, err := pendingAEAD(old, info)
	if err != nil {
		return next, err
	}
	if len(sealed) < aead.NonceSize() {
		return next, errors.New("ginsecure: pending token too short")
	}
	pt, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], []byte(handle))
	if err != nil || len(pt) != len(next) {
		return next, errors.New("ginsecure: pending token does not open")
	}
	copy(next[:], pt)
	return next, nil
}

// resendPending sends again the token a periodic rotation minted, to a
// request that presented the old one before the browser ever presented
// the new one. The same token, not another: a rotating response that lands
// late then carries exactly what the browser holds.
func (g *Guard) resendPending(c *gin.Context, st *reqState) {
	next, err := openPending(st.tok.secret, st.rec.Pending, st.rec.Handle)
	if err != nil {
		g.log.Warn("ginsecure: could not open a pending token", "err", err)
		return
	}
	g.setToken(c, st.rec.Handle, next, st.cookieMaxAge())
}

// due says which of refresh's writes the request needs: rotate the token
// (RotateEvery passed, or a reissue), confirm a rotation. Most requests
// need none, and verify then skips refresh.
func (g *Guard) due(c *gin.Context, st *reqState, now time.Time) (rotate, confirm bool) {
	rotate = st.reissue || (g.cfg.RotateEvery > 0 && atLeast(now, st.rec.IssuedAt, g.cfg.RotateEvery) &&
		// A WebSocket upgrade answers with its own headers: the new token
		// would never reach the browser.
		c.GetHeader("Upgrade") == "")
	confirm = !st.reissue && st.rec.PrevHash != zeroHash && st.rec.ConfirmedAt.IsZero()
	return rotate, confirm
}

// errRaced tells Update's caller that another request changed the token
// first.
var errRaced = errors.New("ginsecure: credentials changed concurrently")

// errTouched tells Update's caller that another request recorded the
// activity first, so there is nothing to write.
var errTouched = errors.New("ginsecure: activity already recorded")

// refresh does the one store write an authenticated request may need, in
// one atomic update: rotate the token when RotateEvery has passed (or
// reissue it after a lost Renew), confirm a rotation the first time the
// new token is presented, record activity once per TouchInterval. The
// update decides confirmation and touch again on the stored record, which
// another request may have written first. When another request rotated
// first, this one is served as a straggler.
func (g *Guard) refresh(c *gin.Context, st *reqState, now time.Time, rotate bool) error {
	var next, nextHash [32]byte
	var pending []byte
	if rotate {
		var err error
		if next, nextHash, err = newSecret(); err != nil {
			return err
		}
		if !st.reissue {
			if pending, err = sealPending(st.tok.secret, next, st.rec.Handle); err != nil {
				return err
			}
		}
	}
	presented, reissue := st.tok.hash, st.reissue
	readTok, readRotated := st.rec.TokenHash, st.rec.RotatedAt
	rec, err := g.updateHeld(reqCtx(c), st.rec, func(r *Record) error {
		if reissue {
			// Exactly the rotation this request judged: a parallel request
			// that reissued first (or a confirmation) wins, and this one
			// is served as a straggler.
			if !(hashEq(r.PrevHash, presented) || isSibling(r, presented)) || !r.ConfirmedAt.IsZero() ||
				!hashEq(r.TokenHash, readTok) || !r.RotatedAt.Equal(readRotated) {
				return errRaced
			}
			// The unconfirmed token is set aside (a replay if it ever
			// shows up); the old one stays the previous, and the raise of
			// privilege that never reached the browser is not handed to it.
			r.AbandonedHash = r.TokenHash
			r.TokenHash, r.IssuedAt, r.RotatedAt = nextHash, now, now
			r.AuthAt, r.PrevRaised, r.Pending, r.ForwardPending = r.PrevAuthAt, false, nil, nil
			r.LastSeen, r.ExpiresAt = now, g.expiryOf(r, now)
			return nil
		}
		if !hashEq(r.TokenHash, presented) {
			return errRaced
		}
		needTouch := now.Sub(r.LastSeen) >= g.cfg.TouchInterval
		needConfirm := r.PrevHash != zeroHash && r.ConfirmedAt.IsZero()
		if !rotate && !needTouch && !needConfirm {
			// A parallel request (on any server) did it first: one write
			// per TouchInterval, not one per request in flight.
			return errTouched
		}
		if needConfirm {
			r.ConfirmedAt, r.Pending = now, nil
		}
		if rotate {
			rotateRecord(r, nextHash, now, false)
			r.Pending = pending
		}
		if rotate || needTouch {
			r.LastSeen = now
			r.ExpiresAt = g.expiryOf(r, now)
		}
		return nil
	})
	switch {
	case err == nil:
		st.rec = &rec
		if rotate {
			st.reissue = false
			st.tok.secret, st.tok.hash = next, nextHash
			st.authAt = rec.AuthAt
			g.setToken(c, rec.Handle, next, st.cookieMaxAge())
			detail := ""
			if reissue {
				detail = "reissued: the Renew's token never reached the browser"
			}
			g.emit(c, Event{Kind: EventRotate, UserID: rec.UserID, Handle: rec.Handle, Detail: detail})
		}
		return nil
	case errors.Is(err, errTouched):
		st.rec = &rec
		return nil
	case errors.Is(err, errRaced):
		if hashEq(rec.PrevHash, presented) || isSibling(&rec, presented) {
			switch g.prevToken(&rec, now) {
			case prevGrace, prevResend:
				// Another request of this browser rotated first.
				st.rec, st.reissue, st.prev = &rec, false, true
				st.authAt = rec.PrevAuthAt
				g.emit(c, Event{Kind: EventGraceServed, UserID: rec.UserID, Handle: rec.Handle, Detail: "lost the rotation race"})
				return nil
			}
		}
		return ErrTokenMismatch
	case errors.Is(err, ErrNotFound):
		return ErrExpired
	default:
		if rotate {
			return storeErr(err)
		}
		// A missed touch costs an earlier idle timeout at worst, a missed
		// confirmation only a longer window for the old token.
		g.log.Warn("ginsecure: could not record activity", "err", err)
		return nil
	}
}

// rotateRecord makes next the record's token: the current one becomes the
// previous (with the privilege it had), and the new one's grace window
// waits for its first use. raised says whether the rotation raised
// privilege (Renew).
func rotateRecord(r *Record, next [32]byte, now time.Time, raised bool) {
	r.PrevHash, r.RotatedAt, r.PrevAuthAt, r.PrevRaised = r.TokenHash, now, r.AuthAt, raised
	r.TokenHash, r.IssuedAt, r.ConfirmedAt, r.Pending, r.Siblings = next, now, time.Time{}, nil, nil
	r.ForwardPending = nil
}

// errForwarded tells forward's update that another request forwarded
// first: its token is sent again.
var errForwarded = errors.New("ginsecure: already forwarded")

// forwardTarget picks the record a request is forwarded to: its token is
// the current one of a record that a login from the same browser replaced
// (Record.ReplacedBy), minted by a rotation the browser never presented,
// next to the successor's own session cookie or the session the login
// replaced (healed then). The response of a rotation that was in flight
// when the login committed landed after the login's and put the replaced
// record's token back beside the new session. The successor must not have
// rotated since its login (a Renew, a periodic rotation): until it does,
// its forwarded token is sent again to every such request, however late
// (Record.ForwardPending), as a pending token is. Anything else: dead
// credentials (nil).
func (g *Guard) forwardTarget(c *gin.Context, st *reqState, old *Record, now time.Time) (*Record, error) {
	if old.ReplacedBy == "" || st.gs == nil || st.sid == "" || !hashEq(old.TokenHash, st.tok.hash) ||
		old.PrevHash == zeroHash || !old.ConfirmedAt.IsZero() || c.GetHeader("Upgrade") != "" {
		return nil, nil
	}
	next, err := g.view(c, old.ReplacedBy, now)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, storeErr(err)
	}
	if next.Revoked != "" || !(len(next.ForwardPending) > 0 || unrotatedLogin(next)) {
		return nil, nil
	}
	if next.SessionID != st.sid {
		// The replaced session's own cookie (healed by its marker) only
		// for the same user: another user's login replaced it (a shared
		// computer), and the previous user still holds that cookie.
		if next.UserID != old.UserID {
			return nil, nil
		}
		mk, err := g.store.GetMarker(reqCtx(c), markerKey(st.gs))
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, storeErr(err)
		}
		if err != nil || mk.Handle != next.Handle {
			return nil, nil
		}
	}
	return next, nil
}

// unrotatedLogin reports whether r has not rotated since its login but for
// parallel logins' tokens (never confirmed, never a Renew or a periodic
// rotation).
func unrotatedLogin(r *Record) bool {
	return r.ConfirmedAt.IsZero() && !r.PrevRaised && len(r.Pending) == 0 &&
		// parallel logins join within unconfirmedGrace of the first; a
		// later token (a Renew's reissue) is a rotation
		!r.IssuedAt.After(r.CreatedAt.Add(unconfirmedGrace))
}

// forward completes a forwarded request once every check passed on the
// successor (st.rec): the first forward rotates the successor and seals
// the new token under the replaced record's token (Record.ForwardPending);
// every other forward sends that same token again, so the responses of
// one browser carry one token whatever order they land in. Any rotation of
// the successor ends it. The request keeps at most the privilege of the
// replaced record.
func (g *Guard) forward(c *gin.Context, st *reqState, now time.Time) error {
	old, next := st.fwd, st.rec
	st.authAt = old.AuthAt
	if next.AuthAt.Before(st.authAt) {
		st.authAt = next.AuthAt
	}
	if len(next.ForwardPending) > 0 {
		return g.resendForwarded(c, st, next)
	}
	secret, hash, err := newSecret()
	if err != nil {
		return err
	}
	sealed, err := sealUnder(forwardInfo, st.tok.secret, secret, next.Handle)
	if err != nil {
		return err
	}
	sid := next.SessionID
	rec, err := g.store.Update(reqCtx(c), next.Handle, func(r *Record) error {
		if r.Revoked != "" || r.SessionID != sid {
			return errRaced
		}
		if len(r.ForwardPending) > 0 {
			return errForwarded
		}
		if !unrotatedLogin(r) {
			return errRaced
		}
		rotateRecord(r, hash, now, false)
		r.ForwardPending = sealed
		r.LastSeen, r.ExpiresAt = now, g.expiryOf(r, now)
		return nil
	})
	switch {
	case errors.Is(err, errForwarded):
		return g.resendForwarded(c, st, &rec)
	case errors.Is(err, errRaced), errors.Is(err, ErrNotFound):
		st.authed, st.rec, st.failure = false, nil, ErrExpired
		st.hide()
		return nil
	case err != nil:
		return storeErr(err)
	}
	st.rec, st.tokRec = &rec, &rec
	st.tok = presented{handle: rec.Handle, secret: secret, hash: hash}
	g.setToken(c, rec.Handle, secret, st.cookieMaxAge())
	g.emit(c, Event{Kind: EventRotate, UserID: rec.UserID, Handle: rec.Handle, Detail: "forwarded: a response of the session a login replaced landed after the login's"})
	return nil
}

// resendForwarded sends the successor's forwarded token again.
func (g *Guard) resendForwarded(c *gin.Context, st *reqState, next *Record) error {
	tok, err := openUnder(forwardInfo, st.tok.secret, next.ForwardPending, next.Handle)
	if err != nil {
		st.authed, st.rec, st.failure = false, nil, ErrExpired
		st.hide()
		return nil
	}
	st.rec, st.tokRec = next, next
	g.setToken(c, next.Handle, tok, st.cookieMaxAge())
	g.emit(c, Event{Kind: EventGraceServed, UserID: next.UserID, Handle: next.Handle, Detail: "forwarded token sent again"})
	return nil
}

// cookieMaxAge is the lifetime of the token cookie this request sends: the
// session cookie's, from the session's options (seconds; 0 for a
// browser-session cookie).
func (st *reqState) cookieMaxAge() int {
	gs := st.cur
	if gs == nil || gs.Options == nil {
		gs = st.gs
	}
	if gs == nil || gs.Options == nil {
		return int(st.g.cfg.AbsoluteTimeout / time.Second)
	}
	if gs.Options.MaxAge > 0 {
		return min(gs.Options.MaxAge, int(st.g.cfg.AbsoluteTimeout/time.Second))
	}
	return 0
}

// longerThan reports now.Sub(t) > d, and atLeast now.Sub(t) >= d, for the
// checks every request makes: Sub guards against overflow by adding the
// result back, which made four of them cost more than the record lookup.
// (Add saturates where Sub would, so the answers agree: FuzzElapsedAgreesWithSub.)
func longerThan(now, t time.Time, d time.Duration) bool { return now.After(t.Add(d)) }
func atLeast(now, t time.Time, d time.Duration) bool    { return !now.Before(t.Add(d)) }

// expiryOf is when the store may forget r, last seen at lastSeen: at
// expiry, and for a record no request has presented yet no later than
// UnpresentedAge after its login.
func (g *Guard) expiryOf(r *Record, lastSeen time.Time) time.Time {
	exp := g.expiry(r.CreatedAt, lastSeen)
	if r.Unpresented {
		if u := r.CreatedAt.Add(UnpresentedAge); u.Before(exp) {
			return u
		}
	}
	return exp
}

// expiry is when the store may forget a record last seen at lastSeen.
func (g *Guard) expiry(created, lastSeen time.Time) time.Time {
	idle := lastSeen.Add(g.cfg.IdleTimeout)
	abs := created.Add(g.cfg.AbsoluteTimeout)
	if idle.Before(abs) {
		return idle
	}
	return abs
}
