package ginsecure

// The security record, user-to-session binding, the per-user registry,
// limits and revocation.

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
)

// endTimedOut deletes a record whose idle or absolute timeout passed, and
// retires its session (its data was the signed-in user's), on the request
// that found it so: the request goes on anonymous, and nothing is written
// to the browser.
func (g *Guard) endTimedOut(c *gin.Context, st *reqState, rec *Record, reason error) {
	if err := g.store.Delete(reqCtx(c), rec.Handle); err != nil {
		g.log.Warn("ginsecure: could not delete a timed-out record", "err", err)
	}
	if err := g.retireSession(c, st, rec); err != nil {
		g.log.Warn("ginsecure: could not retire a timed-out session", "err", err)
	}
	g.emit(c, Event{Kind: EventTimeout, UserID: rec.UserID, Handle: rec.Handle, Err: reason})
}

// updateHeld is Store.Update of the record the request holds (read this
// request, as the store gave it): on a store that must otherwise read the
// record again before its write (Redis), the write compares against held
// instead, a round trip fewer (HeldUpdater). held is not changed.
func (g *Guard) updateHeld(ctx context.Context, held *Record, fn func(*Record) error) (Record, error) {
	if u, ok := g.store.(HeldUpdater); ok {
		return u.UpdateHeld(ctx, *held, fn)
	}
	return g.store.Update(ctx, held.Handle, fn)
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
	case RevokedTimedOut, RevokedReplaced:
		return ErrExpired
	case RevokedOverLimit:
		return ErrTooManySessions
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

// UnpresentedAge is how long a login's record waits for its first
// presentation: the first request that presents one of its credentials
// (the login's token, a parallel login's, a forwarded one), which shows
// that the browser received the login's response. Until then the record
// does not count toward Config.MaxSessionsPerUser, and a record no request
// presented within UnpresentedAge of its login ends (ErrExpired): the
// losing response of a double-submitted sign-in from a browser with no
// cookies never costs the user another device (DESIGN.md, "Cookieless
// sign-in"). An application that signs in with fetch and then waits
// longer than this before its next request finds the browser signed out.
const UnpresentedAge = 2 * time.Minute

// MaxUnpresented is how many of one user's logins may wait for their first
// presentation at once: a further login ends the oldest waiting one
// (evicted). It bounds what a user who signs in again and again without
// ever making a request leaves in the store (the per-user index that
// login, list and revoke walk), whatever MaxSessionsPerUser says.
const MaxUnpresented = 8

// newRecord mints the record of a login: unpresented until its first
// presentation (UnpresentedAge).
func (g *Guard) newRecord(c *gin.Context, userID string, hash [32]byte, handle, sid string, now time.Time) Record {
	r := Record{
		Handle: handle, UserID: userID, SessionID: sid,
		TokenHash: hash, IssuedAt: now,
		IP: g.bindIP(c), UserAgent: strings.Clone(truncate(c.Request.UserAgent(), 256)),
		CreatedAt: now, AuthAt: now, LastSeen: now,
		Unpresented: true,
	}
	r.ExpiresAt = g.expiryOf(&r, now)
	return r
}

// present records the first presentation of a login's record, in one
// store write (Store.Present) that also touches it, confirms a joined
// login's token, and enforces MaxSessionsPerUser among the user's
// presented sessions: over the limit, the least recently used other one is
// signed out, or with RejectExtraLogins this presentation is refused (the
// record ends as RevokedOverLimit, the request is anonymous with an empty
// stand-in: ErrTooManySessions). The limit counts a session from here,
// not from its login: a login whose response never reached the browser
// (a double submit's loser) is never presented and evicts nobody.
func (g *Guard) present(c *gin.Context, st *reqState, now time.Time) error {
	tok := st.tok.hash
	lim := Limit{Max: g.cfg.MaxSessionsPerUser, Reject: g.cfg.RejectExtraLogins}
	rec, evicted, err := g.store.Present(reqCtx(c), *st.rec, func(r *Record) error {
		if !r.Unpresented {
			return errTouched // a parallel request presented it first
		}
		if r.Revoked != "" {
			return errRaced
		}
		r.Unpresented = false
		if hashEq(r.TokenHash, tok) && r.PrevHash != zeroHash && r.ConfirmedAt.IsZero() {
			r.ConfirmedAt, r.Pending = now, nil
		}
		r.LastSeen, r.ExpiresAt = now, g.expiryOf(r, now)
		return nil
	}, lim)
	switch {
	case err == nil, errors.Is(err, errTouched):
		st.rec = &rec
		for _, h := range evicted {
			g.emit(c, Event{Kind: EventLimit, UserID: rec.UserID, Handle: h, Detail: "signed out by a newer sign-in's first request"})
		}
		return nil
	case errors.Is(err, ErrTooManySessions):
		// Only while no other request presented it (a slot freed since).
		_, err := g.store.Update(reqCtx(c), rec.Handle, func(r *Record) error {
			if !r.Unpresented || r.Revoked != "" {
				return errRaced
			}
			r.Revoked = RevokedOverLimit
			return nil
		})
		if err != nil && !errors.Is(err, errRaced) && !errors.Is(err, ErrNotFound) {
			g.log.Error("ginsecure: could not end a sign-in refused over the limit", "err", err)
		}
		g.emit(c, Event{Kind: EventLimit, UserID: rec.UserID, Handle: rec.Handle, Detail: "sign-in refused at its first request: too many sessions"})
		st.authed, st.rec, st.failure = false, nil, ErrTooManySessions
		st.hide()
		return nil
	case errors.Is(err, errRaced), errors.Is(err, ErrNotFound):
		st.authed, st.rec, st.failure = false, nil, ErrExpired
		st.hide()
		return nil
	}
	return storeErr(err)
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

// Sessions lists the user's live sessions, oldest first. A login whose
// browser has not yet made a request with it (unpresented, see
// UnpresentedAge) is not listed: it holds no slot of MaxSessionsPerUser,
// and it may be the losing response of a double submit that no browser
// holds. RevokeUser and RevokeOthers end those too.
func (g *Guard) Sessions(ctx context.Context, userID string) ([]SessionInfo, error) {
	recs, err := g.store.List(ctx, userID)
	if err != nil {
		return nil, storeErr(err)
	}
	out := make([]SessionInfo, 0, len(recs))
	for _, r := range recs {
		if r.Unpresented {
			continue
		}
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
