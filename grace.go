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
//   - Every other rotation keeps the record and pushes the token it
//     replaces onto one bounded history of superseded credentials
//     (Record.History, DESIGN.md, "Superseded credentials"). Each entry
//     says when it was superseded, the privilege it had, and whether the
//     browser had presented it.
//   - A credential the browser had presented is served, as the same user
//     with at most the privilege it had, until the browser first presents
//     a newer one (Superseded.Open) and GracePeriod more; after that it is
//     a replay: the session is revoked, since two parties hold its
//     credentials. Until the browser presents the newer credential the
//     rotating response may be slow or lost: the newer token is kept
//     sealed under a key derived from the old secret (Superseded.Sealed),
//     and whoever presents the old token gets the same newer token again.
//     A Renew's raised privilege is never handed to the pre-Renew token:
//     after unconfirmedGrace it gets a fresh token at its own privilege
//     instead (a reissue).
//   - A credential superseded before the browser ever presented it (a
//     Renew's token after its reissue, an earlier joined login's, a
//     forwarded one) is a late response at its first presentation, however
//     late: served at the lower of its privilege and the current one, and
//     answered with the current token, sealed to the superseded token's
//     public key (Record.TokenKey) whenever the record rotates. From then
//     on it counts as presented.
//   - Older than the history: a mismatch, as any unknown secret.

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/ginsecure/ginsecure/storeext"
)

// unconfirmedGrace bounds how long the previous token of a Renew is served
// as a straggler while the browser has not yet presented the new one (a
// slow rotating request, an aborted one, a lost response). Past it, the
// old token gets a fresh token at its own privilege.
const unconfirmedGrace = 30 * time.Second

// maxSuperseded is how many superseded credentials a record remembers
// (DESIGN.md, "Superseded credentials"): a copy of an older one is a
// mismatch, not a replay.
const maxSuperseded = 4

// supVerdict is how a request's token stands: the current one, or which
// treatment a superseded one gets.
type supVerdict uint8

const (
	supCurrent supVerdict = iota // the record's current token
	supGrace                     // a straggler: the same user with the old privilege
	supResend                    // the browser never presented the newer token: send it again
	supReissue                   // a Renew's token never arrived: a fresh one at the old privilege
	supLate                      // superseded before it was ever presented: answered with the current token
	supReplay                    // a copy came back after the window: refused, session revoked
)

// supersededIndex is the index in r.History of the credential hashed h, or
// -1.
func supersededIndex(r *storeext.Record, h [32]byte) int {
	for i := range r.History {
		if hashEq(r.History[i].Hash, h) {
			return i
		}
	}
	return -1
}

// checkSecret decides the presented secret against its record. It returns
// true where the request may go on as the record's user (the current
// token, or a superseded one that is served); otherwise the request is
// anonymous with the reason in st.failure (a replay revokes the session).
// The current token is compared first: the history costs the hot path
// nothing.
func (g *Guard) checkSecret(st *reqState, rec *storeext.Record, now time.Time) bool {
	if hashEq(rec.TokenHash, st.tok.hash) {
		if g.boundRefused(st, rec, supCurrent, rec.IssuedAt, now) { // dbsc_lifecycle.go
			return false
		}
		st.tokRec, st.authAt = rec, rec.AuthAt
		return true
	}
	i := supersededIndex(rec, st.tok.hash)
	if i < 0 {
		st.failure = ErrTokenMismatch
		st.note(Event{Kind: EventTokenMismatch, UserID: rec.UserID, Handle: rec.Handle, Detail: "token secret does not match its record"})
		return false
	}
	e := &rec.History[i]
	st.tokRec, st.authAt = rec, lower(e.AuthAt, rec.AuthAt)
	v := g.judge(e, now)
	if g.boundRefused(st, rec, v, tokenIssuedAt(rec, i), now) { // dbsc_lifecycle.go: refused, never revoked
		return false
	}
	if v == supReplay {
		if rec.Revoked == "" {
			g.revoke(st, rec, storeext.RevokedReplay, EventReplay, "a superseded token came back after its grace window")
		}
		st.failure = ErrReplay
		return false
	}
	if v != supGrace && st.io.r.Header.Get("Upgrade") != "" {
		// An upgrade answers with its own headers: a token sent here
		// would be lost, and a first presentation not recorded.
		v = supGrace
	}
	st.sup = v
	if v != supReissue {
		st.note(Event{Kind: EventGraceServed, UserID: rec.UserID, Handle: rec.Handle})
	}
	return true
}

// lower is the earlier of two authentication times: the lower privilege.
func lower(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// judge decides a request that presents the superseded credential e.
//
// The window starts when the browser shows it has a newer credential (the
// first request presenting it sets Open), not when the server minted it:
// a rotating request may take seconds to answer, or never deliver its
// Set-Cookie, and every request the browser sends until then still
// carries the old token. Counting from the mint would call those replays
// and revoke a legitimate session. Once open, the old token lives
// GracePeriod more; then it is a replay, since the browser no longer sends
// it and someone else must hold a copy. With GracePeriod < 0 there is no
// window at all. A credential the browser never presented cannot have
// been copied from it: its first presentation is a late response.
func (g *Guard) judge(e *storeext.Superseded, now time.Time) supVerdict {
	switch {
	case e.Seen.IsZero():
		return supLate
	case g.cfg.GracePeriod < 0:
		return supReplay
	case !e.Open.IsZero():
		if g.withinGrace(e.Open, now) {
			return supGrace
		}
		return supReplay
	case len(e.Sealed) > 0:
		return supResend
	case !longerThan(now, e.At, max(g.cfg.GracePeriod, unconfirmedGrace)):
		return supGrace
	}
	return supReissue
}

// confirmDue reports whether the next presentation of r's current token
// is to record a confirmation (confirm): a rotation the browser has not
// yet presented the new token of, or a credential presented since the last
// confirmation (a late response) whose window has not opened. ConfirmedAt
// keeps saying whether the current token itself was ever presented:
// forwarding relies on it (forwardTarget).
func confirmDue(r *storeext.Record) bool {
	if len(r.History) == 0 {
		return false
	}
	if r.ConfirmedAt.IsZero() {
		return true
	}
	for i := range r.History {
		if !r.History[i].Seen.IsZero() && r.History[i].Open.IsZero() {
			return true
		}
	}
	return false
}

// confirm records the first presentation of the current token since the
// history last changed: the windows of the credentials the browser held
// before open now, and their sealed successors are no longer needed.
func confirm(r *storeext.Record, now time.Time) {
	r.ConfirmedAt = now
	r.History = openWindows(r.History, 0, now)
}

// openWindows returns a copy of h where the browser presented, at now, a
// credential newer than h[from:]: the window of each of those it had
// presented opens (Superseded.Open) if it had not, and their sealed
// successors are no longer needed.
func openWindows(h []storeext.Superseded, from int, now time.Time) []storeext.Superseded {
	h = slices.Clone(h)
	for i := from; i < len(h); i++ {
		if !h[i].Seen.IsZero() && h[i].Open.IsZero() {
			h[i].Open, h[i].Sealed, h[i].Key = now, nil, nil
		}
	}
	return h
}

// minted is a new token: its secret, the secret's hash and public key.
type minted struct {
	secret, hash [32]byte
	key          []byte
}

// mint makes a new token.
func (g *Guard) mint() (minted, error) {
	var m minted
	var err error
	if m.secret, m.hash, err = newSecret(); err != nil {
		return m, err
	}
	m.key, err = g.tokenKey(m.secret)
	return m, err
}

// supersede makes m the record's token and pushes the current one onto the
// history: seen is when the browser presented it (the rotating request
// held it), zero if this request did not (then it counts as presented if
// it was confirmed). Every credential of the history that the browser
// never presented is sealed the new token: its late response is answered
// with the newest credential. raised says whether the rotation raised
// privilege (Renew).
func supersede(r *storeext.Record, m minted, now, seen time.Time, raised bool) error {
	e := storeext.Superseded{Hash: r.TokenHash, At: now, AuthAt: r.AuthAt, Raised: raised, Seen: seen}
	if e.Seen.IsZero() {
		e.Seen = r.ConfirmedAt
	}
	if e.Seen.IsZero() {
		e.Key = r.TokenKey
	}
	h := make([]storeext.Superseded, 0, min(len(r.History)+1, maxSuperseded))
	h = append(h, e)
	h = append(h, r.History[:min(len(r.History), maxSuperseded-1)]...)
	for i := range h {
		if h[i].Seen.IsZero() && len(h[i].Key) > 0 {
			sealed, err := sealTo(h[i].Key, m.secret, r.Handle)
			if err != nil {
				return err
			}
			h[i].Sealed = sealed
		}
	}
	r.History = h
	r.TokenHash, r.TokenKey, r.IssuedAt, r.ConfirmedAt = m.hash, m.key, now, time.Time{}
	r.ForwardPending = nil
	return nil
}

// withinGrace reports whether a window that opened at t is still open.
func (g *Guard) withinGrace(t, now time.Time) bool {
	return g.cfg.GracePeriod > 0 && now.Sub(t) <= g.cfg.GracePeriod
}

// pendingInfo labels the key that seals a newer token under the secret it
// supersedes (Superseded.Sealed), so that it can never equal another use
// of that secret (its SHA-256 is Superseded.Hash).
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

// sendNewer sends the newest token, sealed for the superseded credential
// the request presented, again: to a request that presented it before
// the browser ever presented the newer one (the same token, not another:
// a rotating response that lands late then carries exactly what the
// browser holds), or at a late response's first presentation.
func (g *Guard) sendNewer(st *reqState, rec *storeext.Record) {
	i := supersededIndex(rec, st.tok.hash)
	if i < 0 || len(rec.History[i].Sealed) == 0 {
		return
	}
	next, err := openSealed(st.tok.secret, rec.History[i].Sealed, rec.Handle)
	if err != nil {
		g.log.Warn("ginsecure: could not open a sealed token", "err", err)
		return
	}
	g.setToken(st.io.w, rec.Handle, next, st.tokenMaxAge(rec))
	st.resent.noteToken(rec.Handle, sha256.Sum256(next[:]), true, st.io.w.Header())
}

// serveSuperseded completes a request authenticated with a superseded
// credential once every check passed: a late response's first
// presentation is recorded and answered with the current token, a
// credential whose newer token the browser never presented is sent it
// again, a straggler in its window needs nothing.
func (g *Guard) serveSuperseded(st *reqState, now time.Time) error {
	switch st.sup {
	case supLate:
		if err := g.presentLate(st, now); err != nil {
			st.demote()
			return err
		}
	case supResend:
		g.sendNewer(st, st.rec)
	}
	return nil
}

// errPresented tells presentLate's update that a parallel request
// recorded the first presentation first.
var errPresented = errors.New("ginsecure: already presented")

// presentLate records the first presentation of a credential that was
// superseded before the browser ever presented it (a late response), and
// answers it with the current token. From now on it counts as presented:
// its window opens when the browser next presents the current token
// (confirmDue), and a copy of it after that window is a replay. It is a
// newer credential than those superseded before it, so the windows of
// the ones the browser had presented open now (openWindows). The
// current token's own confirmation stays: a presented current token of a
// record a login then replaced is never forwarded (forwardTarget).
func (g *Guard) presentLate(st *reqState, now time.Time) error {
	hash := st.tok.hash
	rec, err := g.updateHeld(st.io.ctx(), st.rec, func(r *storeext.Record) error {
		i := supersededIndex(r, hash)
		if i < 0 {
			return errRaced
		}
		if !r.History[i].Seen.IsZero() {
			return errPresented
		}
		// A newer credential than the ones before it: their windows
		// open, as at a confirmation (DESIGN.md, "Superseded credentials").
		r.History = openWindows(r.History, i+1, now)
		r.History[i].Seen, r.History[i].Open, r.History[i].Key = now, time.Time{}, nil
		return nil
	})
	switch {
	case err == nil, errors.Is(err, errPresented):
		st.rec = &rec
		g.sendNewer(st, &rec)
		return nil
	case errors.Is(err, errRaced):
		// Pushed out of the history by parallel rotations meanwhile.
		return ErrTokenMismatch
	case errors.Is(err, storeext.ErrNotFound):
		// Ended since this request read it: anonymous (see refreshed).
		st.hideAs(ErrExpired)
		return nil
	}
	return storeErr(err)
}

// due says which of refresh's writes the request needs: rotate the token
// (RotateEvery passed, or a reissue), confirm a rotation. Most requests
// need none, and verify then skips refresh. rec is the request's record,
// sup how its token is served, h the request's headers.
func (g *Guard) due(rec *storeext.Record, sup supVerdict, h http.Header, now time.Time) (rotate, confirm bool) {
	reissue := sup == supReissue
	rotate = reissue || (g.cfg.RotateEvery > 0 && atLeast(now, rec.IssuedAt, g.cfg.RotateEvery) &&
		// A bound record rotates by the device's proof only (dbsc.go).
		!g.rotatesByProof(rec) &&
		// A WebSocket upgrade answers with its own headers: the new token
		// would never reach the browser.
		h.Get("Upgrade") == "")
	confirm = !reissue && confirmDue(rec)
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
func (g *Guard) refresh(st *reqState, now time.Time, rotate bool) error {
	var m minted
	var sealed []byte
	if rotate {
		var err error
		// No key (a P-256 base point multiplication saved per
		// rotation): a token this request mints is superseded before the
		// browser presents it only by a Renew in this request, which
		// derives the key then (mintedKey). Its presenter's entry keeps it
		// sealed (a resend, not a reissue, answers the old token), and a
		// record that rotated on a presented token is no longer joined
		// nor forwarded to (unrotatedLogin).
		if m.secret, m.hash, err = newSecret(); err != nil {
			return err
		}
		// The newer token, sealed under the presented one: sent again to
		// whoever presents it before the browser presents the newer one.
		if sealed, err = sealPending(st.tok.secret, m.secret, st.rec.Handle); err != nil {
			return err
		}
	}
	presented, reissue := st.tok.hash, st.sup == supReissue
	readTok := st.rec.TokenHash
	rec, err := g.updateHeld(st.io.ctx(), st.rec, func(r *storeext.Record) error {
		if reissue {
			return g.reissue(r, m, sealed, presented, readTok, now)
		}
		if !hashEq(r.TokenHash, presented) {
			return errRaced
		}
		needTouch := now.Sub(r.LastSeen) >= g.cfg.TouchInterval
		needConfirm := confirmDue(r)
		if !rotate && !needTouch && !needConfirm {
			// A parallel request (on any server) did it first: one write
			// per TouchInterval, not one per request in flight.
			return errTouched
		}
		if needConfirm {
			confirm(r, now)
		}
		if rotate {
			if err := supersede(r, m, now, now, false); err != nil {
				return err
			}
			r.History[0].Sealed = sealed
		}
		if rotate || needTouch {
			r.LastSeen = now
			r.ExpiresAt = g.expiryOf(r, now)
		}
		return nil
	})
	return g.refreshed(st, rec, err, now, rotate, m)
}

// reissue gives the holder of a superseded credential whose newer token
// never reached the browser (a Renew's lost response) a fresh token at its
// own privilege: exactly the rotation this request judged, else a
// parallel request that reissued first (or a confirmation) wins and this
// one is served as a straggler. The unpresented token joins the history,
// sealed the fresh one (its late response is answered with it), and the
// presenter's own entry keeps the fresh one sealed under its secret, so
// that its parallel requests are sent that same token again.
func (g *Guard) reissue(r *storeext.Record, m minted, sealed []byte, presented, readTok [32]byte, now time.Time) error {
	i := supersededIndex(r, presented)
	if i < 0 || !hashEq(r.TokenHash, readTok) || !r.ConfirmedAt.IsZero() ||
		g.judge(&r.History[i], now) != supReissue {
		return errRaced
	}
	authAt := r.History[i].AuthAt
	if err := supersede(r, m, now, time.Time{}, false); err != nil {
		return err
	}
	// The raise of privilege that never reached the browser is not handed
	// to the old token.
	r.AuthAt = authAt
	if i+1 < len(r.History) {
		r.History[i+1].Sealed = sealed
	}
	r.LastSeen, r.ExpiresAt = now, g.expiryOf(r, now)
	return nil
}

// refreshed applies refresh's update result to the request.
func (g *Guard) refreshed(st *reqState, rec storeext.Record, err error, now time.Time, rotate bool, m minted) error {
	switch {
	case err == nil:
		prevSeen := st.rec.LastSeen
		st.rec = &rec
		if rotate {
			detail := ""
			if st.sup == supReissue {
				detail = "reissued: the Renew's token never reached the browser"
			}
			st.sup = supCurrent
			st.tok.secret, st.tok.hash = m.secret, m.hash
			st.authAt = rec.AuthAt
			g.setToken(st.io.w, rec.Handle, m.secret, st.tokenMaxAge(&rec))
			st.resent.noteToken(rec.Handle, m.hash, false, st.io.w.Header()) // decided again as it goes out
			st.note(Event{Kind: EventRotate, UserID: rec.UserID, Handle: rec.Handle, Detail: detail})
		}
		g.keepCookies(st, prevSeen, &rec, rotate) // lifetime.go
		return nil
	case errors.Is(err, errTouched):
		st.rec = &rec
		return nil
	case errors.Is(err, errRaced):
		if i := supersededIndex(&rec, st.tok.hash); i >= 0 {
			switch g.judge(&rec.History[i], now) {
			case supGrace, supResend, supReissue:
				// Another request of this browser rotated first.
				st.rec, st.sup = &rec, supGrace
				st.authAt = lower(rec.History[i].AuthAt, rec.AuthAt)
				st.note(Event{Kind: EventGraceServed, UserID: rec.UserID, Handle: rec.Handle, Detail: "lost the rotation race"})
				return nil
			}
		}
		return ErrTokenMismatch
	case errors.Is(err, storeext.ErrNotFound):
		// The record ended (a Logout, a timeout on another server) after
		// this request read it: dead credentials, anonymous like any
		// other, never a refusal of a public page or the sign-in route.
		st.hideAs(ErrExpired)
		return nil
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

// errForwarded tells forward's update that another request forwarded
// first: its token is sent again.
var errForwarded = errors.New("ginsecure: already forwarded")

// forwardTarget picks the record a request is forwarded to: its token is
// the current one of a record that a login from the same browser replaced
// (Record.ReplacedBy), minted by a rotation (or one of its superseded
// tokens the browser never presented: a late response, whenever it
// comes, DESIGN.md "Superseded credentials"), next to the successor's own
// session cookie or the session the login replaced (healed then). The
// response of a rotation that was in flight when the login committed
// landed after the login's and put the replaced record's token back
// beside the new session. The successor must not have rotated since its
// login (a Renew, a periodic rotation): until it does, its forwarded token
// is sent again to every such request, however late
// (Record.ForwardPending), as a pending token is. A token the browser had
// presented is forwarded only within the login's window (loginWindow).
// Anything else: dead credentials (nil).
func (g *Guard) forwardTarget(st *reqState, old *storeext.Record, now time.Time) (*storeext.Record, error) {
	if old.ReplacedBy == "" || st.gs == nil || st.sid == "" || st.io.r.Header.Get("Upgrade") != "" || !forwardable(st, old) {
		return nil, nil
	}
	next, err := g.view(st.io.ctx(), old.ReplacedBy, now)
	if errors.Is(err, storeext.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, storeErr(err)
	}
	if next.Revoked != "" || !(len(next.ForwardPending) > 0 || unrotatedLogin(next)) {
		return nil, nil
	}
	if st.sup != supLate && !old.ConfirmedAt.IsZero() && !g.loginWindow(old, next, now) {
		return nil, nil
	}
	if next.SessionID != st.sid {
		ok, err := g.forwardSession(st, old, next)
		if !ok || err != nil {
			return nil, err
		}
	}
	return next, nil
}

// forwardSession decides, for a forward to next, a session cookie that is
// not next's own: next's own among several of the name wins (a sibling's
// tossed in front, DESIGN.md, "Tossed cookies"); else a session cookie
// whose marker names next (the session next's login replaced) or old (the
// session old's own login replaced, which alone old's token would heal
// from: a straggler put it back after the login that replaced old, and
// the token is old's own, DESIGN.md "Ordering principle") is accepted
// only for the same user: another user's login replaced it (a shared
// computer), and the previous user still holds that cookie.
func (g *Guard) forwardSession(st *reqState, old, next *storeext.Record) (bool, error) {
	ok, _, err := st.ownAmong(next)
	if ok || err != nil {
		return ok, err
	}
	if next.UserID != old.UserID {
		return false, nil
	}
	mk, err := g.store.GetMarker(st.io.ctx(), markerKey(st.gs))
	if err != nil && !errors.Is(err, storeext.ErrNotFound) {
		return false, storeErr(err)
	}
	return err == nil && (mk.Handle == next.Handle || mk.Handle == old.Handle), nil
}

// forwardable reports whether the token st presented may be forwarded
// from the replaced record old: a token superseded before the browser
// ever presented it (a late response), or old's current token minted by a
// rotation.
func forwardable(st *reqState, old *storeext.Record) bool {
	return st.sup == supLate || hashEq(old.TokenHash, st.tok.hash) && len(old.History) > 0
}

// loginWindow reports whether old's current token, which the browser had
// presented, is still a straggler of the login that replaced old with
// next rather than a copy (DESIGN.md, "Superseded credentials"). Only a
// periodic rotation's token qualifies: the rotation sent it again to
// every request that presented the token before it, and one of those
// responses, answered before the login or after, may land after the
// login's. A login supersedes it as a rotation would, within the login's
// window (newLogin). A login's or a Renew's token is carried by its own response only: a copy
// of it is cut off by the login.
func (g *Guard) loginWindow(old, next *storeext.Record, now time.Time) bool {
	h := old.History[0] // what the rotation that minted the current token superseded
	periodic := !h.Raised && !h.Seen.IsZero() && old.IssuedAt.After(old.CreatedAt.Add(unconfirmedGrace))
	return periodic && g.newLogin(next, now)
}

// newLogin reports whether rec, a login's record, is within its login's
// window (DESIGN.md, "Ordering principle"): until the browser first
// presents its token (Record.Unpresented) or GracePeriod after the login,
// whichever is later; never with the window disabled (GracePeriod < 0).
// Within it, a response of a request verified before the login may still
// land after the login's.
func (g *Guard) newLogin(rec *storeext.Record, now time.Time) bool {
	return g.cfg.GracePeriod >= 0 && (rec.Unpresented || !longerThan(now, rec.CreatedAt, g.cfg.GracePeriod))
}

// unrotatedLogin reports whether r has not rotated since its login but for
// parallel logins' tokens (never a Renew, a periodic rotation or a device
// refresh). A joined login's token is no rotation even where it superseded
// a token the browser had presented (the first login's, presented before
// the double submit joined: joinRecord keeps it presented, so that a copy
// of it after the window is a replay): the join re-stamps the record's
// AuthAt at the instant it supersedes (joinedAt), which no rotation does
// (DESIGN.md, "Grace period", forwarding "until the successor rotates").
// The browser presenting the last joined login's token (ConfirmedAt) is
// not a rotation either: a login record without joins is never confirmed
// either, and a late response of the record the login replaced may land
// after that presentation as after any other.
func unrotatedLogin(r *storeext.Record) bool {
	for i, e := range r.History {
		if e.Raised || (!e.Seen.IsZero() && !joinedAt(r, i)) {
			return false
		}
	}
	// Parallel logins join within unconfirmedGrace of the first; a later
	// token (a Renew's reissue) is a rotation. The browser presenting the
	// joined token (ConfirmedAt) is no rotation: a single login's record
	// stays forwardable after its presentations, and so does a joined one.
	return !r.IssuedAt.After(r.CreatedAt.Add(unconfirmedGrace))
}

// joinedAt reports whether r.History[i] was superseded by a joined login
// (joinRecord): the credential after it carries the privilege of that
// very instant (its AuthAt is the entry's At). A periodic rotation or a
// device refresh keeps the privilege of the login, at least RotateEvery
// (or a refresh's round trip) older than the rotation; a Renew raises it
// too but is marked Raised.
func joinedAt(r *storeext.Record, i int) bool {
	next := r.AuthAt
	if i > 0 {
		next = r.History[i-1].AuthAt
	}
	return next.Equal(r.History[i].At) && !r.History[i].At.After(r.CreatedAt.Add(unconfirmedGrace))
}

// forward completes a forwarded request once every check passed on the
// successor (st.rec): the first forward rotates the successor and seals
// the new token under the replaced record's token (Record.ForwardPending);
// every other forward sends that same token again, so the responses of
// one browser carry one token whatever order they land in. Any rotation of
// the successor ends it. The request keeps at most the privilege of the
// replaced record.
func (g *Guard) forward(st *reqState, now time.Time) error {
	old, next := st.fwd, st.rec
	// The privilege checkSecret gave the token on the replaced record (a
	// superseded token's own, where it was one: a Renew's answer never
	// presented keeps the Renew's authentication, not a later one's), at
	// most the replaced record's and the successor's.
	st.authAt = lower(lower(st.authAt, old.AuthAt), next.AuthAt)
	if len(next.ForwardPending) > 0 {
		return g.resendForwarded(st, next)
	}
	m, err := g.mint()
	if err != nil {
		return err
	}
	sealed, err := sealUnder(forwardInfo, st.tok.secret, m.secret, next.Handle)
	if err != nil {
		return err
	}
	sid := next.SessionID
	rec, err := g.store.Update(st.io.ctx(), next.Handle, func(r *storeext.Record) error {
		if r.Revoked != "" || r.SessionID != sid {
			return errRaced
		}
		if len(r.ForwardPending) > 0 {
			return errForwarded
		}
		if !unrotatedLogin(r) {
			return errRaced
		}
		if err := supersede(r, m, now, time.Time{}, false); err != nil {
			return err
		}
		r.ForwardPending = sealed
		r.LastSeen, r.ExpiresAt = now, g.expiryOf(r, now)
		return nil
	})
	switch {
	case errors.Is(err, errForwarded):
		return g.resendForwarded(st, &rec)
	case errors.Is(err, errRaced), errors.Is(err, storeext.ErrNotFound):
		st.hideAs(ErrExpired)
		return nil
	case err != nil:
		return storeErr(err)
	}
	st.rec, st.tokRec = &rec, &rec
	st.tok = presented{handle: rec.Handle, secret: m.secret, hash: m.hash}
	g.setToken(st.io.w, rec.Handle, m.secret, st.tokenMaxAge(&rec))
	st.resent.noteToken(rec.Handle, m.hash, false, st.io.w.Header())
	st.note(Event{Kind: EventRotate, UserID: rec.UserID, Handle: rec.Handle, Detail: "forwarded: a response of the session a login replaced landed after the login's"})
	return nil
}

// resendForwarded sends the successor's forwarded token again.
func (g *Guard) resendForwarded(st *reqState, next *storeext.Record) error {
	tok, err := openUnder(forwardInfo, st.tok.secret, next.ForwardPending, next.Handle)
	if err != nil {
		st.hideAs(ErrExpired)
		return nil
	}
	st.rec, st.tokRec = next, next
	g.setToken(st.io.w, next.Handle, tok, st.tokenMaxAge(next))
	st.resent.noteToken(next.Handle, sha256.Sum256(tok[:]), false, st.io.w.Header())
	st.note(Event{Kind: EventGraceServed, UserID: next.UserID, Handle: next.Handle, Detail: "forwarded token sent again"})
	return nil
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
func (g *Guard) expiryOf(r *storeext.Record, lastSeen time.Time) time.Time {
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
