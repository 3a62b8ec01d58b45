package ginsecure

// The security record, user-to-session binding, the per-user registry,
// limits and revocation.

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/gorilla/securecookie"
	gsessions "github.com/gorilla/sessions"
)

// verify decides what the request is: authenticated, anonymous (with a
// FailureReason where a session was presented but is dead), or refused
// (the returned error). It never changes another user's session: every
// write below follows a verified token.
func (g *Guard) verify(c *gin.Context, st *reqState) error {
	now := g.now()
	if st.handle == "" {
		if st.tokCookP && st.loadFailed() {
			// The session store could not load the session, and the client
			// holds a token: tell it to retry, not that it was signed out.
			return ErrStoreUnavailable
		}
		if st.hasTok {
			// A token without a handle: the session was replaced under it
			// (memstore and Redis drop the old ID's data at login). A marker
			// says whether that was a login this request raced.
			if _, err := g.checkMarker(c, st, now); err != nil {
				return err
			}
		}
		if st.handle == "" {
			return nil
		}
		// The marker of a Renew named the record: decide on it below.
	}
	if !validHandle(st.handle) {
		st.failure = ErrNoSession
		return nil
	}
	rec, err := g.view(c, st.handle, now)
	if err != nil {
		if !errors.Is(err, ErrNotFound) {
			return storeErr(err)
		}
		if st.hasTok {
			found, err := g.checkMarker(c, st, now)
			if err != nil || found {
				return err
			}
		}
		// Signed out, expired and forgotten: anonymous from here on. The
		// token, if any, cannot be checked any more, so nothing is touched,
		// not even the token cookie: the session cookie may have been
		// planted next to a live token of another session.
		st.failure = ErrExpired
		return nil
	}
	if !st.hasTok {
		// The session names a record but the secret half is missing or
		// malformed: a session cookie held without its token (stolen, or
		// planted by a sibling subdomain), or a browser that lost the token.
		g.distrust(c, st, rec, "token cookie missing or malformed")
		return nil
	}
	st.rec = rec
	st.authAt = rec.AuthAt

	switch {
	case hashEq(rec.TokenHash, st.tok):
		st.markStale(false)
	case rec.PrevHash != zeroHash && hashEq(rec.PrevHash, st.tok):
		switch g.prevToken(rec, now) {
		case prevReplay:
			g.revoke(c, rec, RevokedReplay, EventReplay, "a rotated token came back after the grace window")
			return ErrReplay
		case prevReissue:
			if c.GetHeader("Upgrade") == "" {
				// The browser never received the new token; after the
				// checks below, refresh gives it another one.
				st.markStale(false)
				st.reissue = true
				st.authAt = rec.PrevAuthAt
				break
			}
			// An upgrade answers with its own headers: a token minted
			// here would be lost too. Served as a straggler.
			fallthrough
		default:
			// A straggler sent before the rotation: served, never with more
			// privilege than it had, and unable to write cookies.
			st.markStale(true)
			st.authAt = rec.PrevAuthAt
			g.emit(c, Event{Kind: EventGraceServed, UserID: rec.UserID, Handle: rec.Handle})
		}
	case rec.AbandonedHash != zeroHash && hashEq(rec.AbandonedHash, st.tok):
		// A token a reissue replaced because nobody had presented it: it
		// reached someone after all, so two parties hold this session.
		g.revoke(c, rec, RevokedReplay, EventReplay, "an abandoned token came back after a reissue")
		return ErrReplay
	default:
		g.distrust(c, st, rec, "token does not match the session")
		return nil
	}

	if rec.Revoked != "" {
		g.forget(c, st, revokedErr(rec.Revoked))
		return nil
	}
	// TouchInterval < IdleTimeout (New insists), so a session not yet due
	// for a last-seen write cannot have been idle too long.
	touch := atLeast(now, rec.LastSeen, g.cfg.TouchInterval)
	if touch && longerThan(now, rec.LastSeen, g.cfg.IdleTimeout) {
		g.endTimedOut(c, st, ErrIdleTimeout)
		return nil
	}
	if longerThan(now, rec.CreatedAt, g.cfg.AbsoluteTimeout) {
		g.endTimedOut(c, st, ErrExpired)
		return nil
	}
	if err := g.checkIP(c, st, &g.cfg.IPBinding, false); err != nil {
		return err
	}
	if err := g.checkIdentity(c, st); err != nil {
		return err
	}
	st.authed = true
	if st.stale > 0 {
		return nil
	}
	rotate, confirm := g.due(c, st, now)
	if !rotate && !confirm && !touch {
		return nil
	}
	if err := g.refresh(c, st, now, rotate); err != nil {
		st.authed = false
		return err
	}
	return nil
}

// view reads a record for the hot path: without a copy from the embedded
// memory store, through Store.Get from any other.
func (g *Guard) view(c *gin.Context, handle string, now time.Time) (*Record, error) {
	if g.mem != nil {
		return g.mem.view(handle, now)
	}
	rec, err := g.store.Get(reqCtx(c), handle)
	if err != nil {
		return nil, err
	}
	return &rec, nil
}

// loadFailed reports whether the session store failed to load the session
// for a reason other than a bad cookie (which only makes it anonymous).
func (st *reqState) loadFailed() bool {
	if st.sessionCookie() == "" {
		return false
	}
	_, err := gsessions.GetRegistry(st.c.Request).Get(st.gs.Store(), st.gs.Name())
	if err == nil {
		return false
	}
	var sc securecookie.Error
	if errors.As(err, &sc) && sc.IsDecode() {
		return false
	}
	return true
}

// handleLen is the length of a handle: a random UUID's 16 bytes in
// unpadded base64url. The session holds it, and the cookie store signs and
// decodes every byte of the session on every request: the 36-character
// UUID text (under a longer key) cost the cookie store 1 to 2 % of a signed-in
// read.
const handleLen = 22

// newHandle mints a record's handle: a random (version 4) UUID in base64url.
func newHandle() (string, error) {
	u, err := uuid.NewRandom()
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(u[:]), nil
}

// validHandle accepts only what newHandle mints: 22 base64url characters
// in canonical form (the 4 bits the last one carries beyond the 128th are
// zero), so that a handle from a request (a URL, a forged session) can
// never become an odd store key. It also accepts the lowercase UUID text
// that builds before 2026-11-22 minted: their records live on in a shared
// store until they time out, and must stay listable and revocable.
func validHandle(h string) bool {
	if len(h) != handleLen {
		return legacyHandle(h)
	}
	var bad byte
	for i := 0; i < handleLen; i++ {
		bad |= b64url[h[i]]
	}
	return bad&0x80 == 0 && b64url[h[handleLen-1]]&0x0F == 0
}

// legacyHandle reports whether h is a canonical lowercase UUID text.
func legacyHandle(h string) bool {
	if len(h) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		switch c := h[i]; {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case (c < '0' || c > '9') && (c < 'a' || c > 'f'):
			return false
		}
	}
	return true
}

// distrust serves a request whose session cookie names a record its token
// does not open. It is anonymous, it sees an empty session (the data may be
// someone else's), and it changes nothing: no cookie is expired and nothing
// is written, because the requester proved nothing. Expiring the cookies
// here would let anyone who can plant a session cookie (a sibling
// subdomain, a Path-scoped duplicate) sign the victim out.
func (g *Guard) distrust(c *gin.Context, st *reqState, rec *Record, detail string) {
	st.untrusted = true
	st.hide()
	st.failure = ErrTokenMismatch
	if rec.Revoked != "" || expired(rec.ExpiresAt, g.now()) {
		st.failure = revokedErr(rec.Revoked)
		if rec.Revoked == "" {
			st.failure = ErrExpired
		}
	}
	g.emit(c, Event{Kind: EventTokenMismatch, UserID: rec.UserID, Handle: rec.Handle, Detail: detail})
}

// forget makes the request anonymous because its session is dead, and
// tidies the browser: the handle leaves the session and the token cookie
// expires. Both writes go through the no-clobber rule. Only requests whose
// token opened the record get here: whoever changes the session proved
// they hold it.
func (g *Guard) forget(c *gin.Context, st *reqState, reason error) {
	st.failure = reason
	st.authed = false
	if st.gs != nil {
		st.sess.Delete(handleKey)
		if err := st.sess.Save(); err != nil {
			g.log.Warn("ginsecure: could not clear a dead session", "err", err)
		}
	}
	g.expireToken(c)
}

func (g *Guard) endTimedOut(c *gin.Context, st *reqState, reason error) {
	if err := g.store.Delete(reqCtx(c), st.rec.Handle); err != nil {
		g.log.Warn("ginsecure: could not delete a timed-out record", "err", err)
	}
	g.emit(c, Event{Kind: EventTimeout, UserID: st.rec.UserID, Handle: st.rec.Handle, Err: reason})
	g.forget(c, st, reason)
}

// revoke marks a record revoked so that its next request, on any server,
// is signed out with the reason.
func (g *Guard) revoke(c *gin.Context, rec *Record, reason string, kind EventKind, detail string) {
	g.markRevoked(c, rec, reason)
	g.emit(c, Event{Kind: kind, UserID: rec.UserID, Handle: rec.Handle, Detail: detail})
}

// markRevoked is revoke without the event, for a caller whose event carries
// more fields (the IP check names both addresses).
func (g *Guard) markRevoked(c *gin.Context, rec *Record, reason string) {
	_, err := g.store.Update(reqCtx(c), rec.Handle, func(r *Record) error {
		r.Revoked = reason
		return nil
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		g.log.Error("ginsecure: could not revoke a session", "err", err, "reason", reason)
	}
}

func revokedErr(reason string) error {
	switch reason {
	case RevokedEvicted:
		return ErrEvicted
	case RevokedReplay:
		return ErrReplay
	case RevokedIP:
		return ErrIPMismatch
	case RevokedIdentity:
		return ErrIdentityMismatch
	case RevokedTimedOut:
		return ErrExpired
	default:
		return ErrRevoked
	}
}

// checkIdentity refuses a session whose user is not the one another
// authentication layer (Config.Identity) names, and revokes it: the
// session cookie travels with someone else's credentials.
func (g *Guard) checkIdentity(c *gin.Context, st *reqState) error {
	if g.cfg.Identity == nil || st.rec == nil {
		return nil
	}
	id, ok := g.cfg.Identity(c)
	if !ok || id == st.rec.UserID {
		return nil
	}
	st.authed = false
	g.revoke(c, st.rec, RevokedIdentity, EventIdentityMismatch, "identity layer names "+quoteShort(id))
	return ErrIdentityMismatch
}

// newRecord mints the record of a login.
func (g *Guard) newRecord(c *gin.Context, userID string, hash [32]byte, handle string, now time.Time) Record {
	return Record{
		Handle: handle, UserID: userID,
		TokenHash: hash, IssuedAt: now,
		IP: g.bindIP(c), UserAgent: strings.Clone(truncate(c.Request.UserAgent(), 256)),
		CreatedAt: now, AuthAt: now, LastSeen: now,
		ExpiresAt: g.expiry(now, now),
	}
}

// SessionInfo describes one of a user's sessions for a "where you're
// signed in" page.
type SessionInfo struct {
	Handle    string
	Created   time.Time
	LastSeen  time.Time
	IP        string
	UserAgent string
	Current   bool // the session of the request that asked (Guard.SessionsOf)
}

// Sessions lists the user's live sessions, oldest first.
func (g *Guard) Sessions(ctx context.Context, userID string) ([]SessionInfo, error) {
	recs, err := g.store.List(ctx, userID)
	if err != nil {
		return nil, storeErr(err)
	}
	out := make([]SessionInfo, 0, len(recs))
	for _, r := range recs {
		out = append(out, SessionInfo{Handle: r.Handle, Created: r.CreatedAt, LastSeen: r.LastSeen, IP: r.IP, UserAgent: r.UserAgent})
	}
	return out, nil
}

// SessionsOf lists the sessions of the request's user, marking the
// request's own as Current. It returns ErrNoSession when the request is not
// authenticated.
func (g *Guard) SessionsOf(c *gin.Context) ([]SessionInfo, error) {
	st := stateOf(c)
	if st == nil || !st.authed {
		return nil, ErrNoSession
	}
	list, err := g.Sessions(reqCtx(c), st.rec.UserID)
	for i := range list {
		list[i].Current = list[i].Handle == st.rec.Handle
	}
	return list, err
}

// RevokeSession signs out one of the user's sessions, on every server
// sharing the store, at its next request. A handle that is not the user's
// is ErrNoSession: one user cannot end another's session by guessing.
func (g *Guard) RevokeSession(ctx context.Context, userID, handle string) error {
	if !validHandle(handle) {
		return ErrNoSession
	}
	return g.revokeHandle(ctx, userID, handle)
}

// revokeHandle is RevokeSession for a handle the store itself returned.
func (g *Guard) revokeHandle(ctx context.Context, userID, handle string) error {
	found := false
	_, err := g.store.Update(ctx, handle, func(r *Record) error {
		if r.UserID != userID || r.Revoked != "" {
			return ErrNoSession
		}
		found = true
		r.Revoked = RevokedByUser
		return nil
	})
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrNoSession) || (err == nil && !found) {
		return ErrNoSession
	}
	if err != nil {
		return storeErr(err)
	}
	g.emitCtx(ctx, Event{Kind: EventRevoke, UserID: userID, Handle: handle, Detail: "session revoked"})
	return nil
}

// RevokeUser signs out every session of the user (account disabled, admin
// action) and returns how many it ended.
func (g *Guard) RevokeUser(ctx context.Context, userID string) (int, error) {
	return g.revokeAll(ctx, userID, "")
}

// RevokeOthers signs out every session of the request's user except the
// request's own (after a password change) and returns how many it ended.
func (g *Guard) RevokeOthers(c *gin.Context) (int, error) {
	st := stateOf(c)
	if st == nil || !st.authed {
		return 0, ErrNoSession
	}
	return g.revokeAll(reqCtx(c), st.rec.UserID, st.rec.Handle)
}

func (g *Guard) revokeAll(ctx context.Context, userID, except string) (int, error) {
	recs, err := g.store.List(ctx, userID)
	if err != nil {
		return 0, storeErr(err)
	}
	n := 0
	for _, r := range recs {
		if r.Handle == except {
			continue
		}
		// The handle comes from the store, not from a request: whatever
		// form an older build minted it in, it is revoked.
		err := g.revokeHandle(ctx, userID, r.Handle)
		if errors.Is(err, ErrNoSession) {
			continue // gone meanwhile
		}
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func quoteShort(s string) string { return "\"" + truncate(s, 64) + "\"" }

// maxUserIDLen is the longest user ID Login accepts, in bytes.
const maxUserIDLen = 512

// ErrInvalidUserID is returned by Login for a user ID that is empty,
// longer than 512 bytes, or not valid UTF-8. Every store
// must hold a user ID exactly, as the key of the user's index and inside
// the record: the Redis store's JSON would replace invalid bytes with
// U+FFFD in the record but not in the index key, so two users whose IDs
// differ only there would share one identity (RevokeUser of one would miss
// the other's sessions, and an Identity hook would see a foreign user).
var ErrInvalidUserID = errors.New("ginsecure: user ID must be 1 to 512 bytes of valid UTF-8")

// checkUserID refuses a user ID that a store cannot keep exactly (see
// ErrInvalidUserID). The same rule on every store, so that an application
// that works on the memory store keeps working on Redis.
func checkUserID(id string) error {
	if id == "" || len(id) > maxUserIDLen || !utf8.ValidString(id) {
		return ErrInvalidUserID
	}
	return nil
}
