package ginsecure

// The security record, user-to-session binding, the per-user registry,
// limits and revocation.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/ginsecure/ginsecure/storeext"
	gsessions "github.com/gorilla/sessions"
)

// sessionRef is the gin-contrib session store (and the session's name)
// through which the Guard deletes an ended session's data: the request's,
// or where there is no request (RevokeUser, RevokeSession) the one the
// Guard learned from the first session it loaded (sessionsSeen).
type sessionRef struct {
	r     *http.Request
	store gsessions.Store
	name  string
}

// errEnded tells that a record had already ended (end; Renew's update).
var errEnded = errors.New("ginsecure: session already ended")

// end is the one way a record ends (DESIGN.md, "Endings"): Logout, every
// revocation (by the user, an administrator, a replay, an IP or identity
// mismatch), a timeout, a lost session cookie; an eviction ends the same
// way, its mark set by Store.Trim (retireEvicted). It marks the record
// ended with reason on every server sharing the store, unless it had
// ended already (errEnded: the first reason stays, and the first ending
// retired its session), then retires the record's session (retire). held
// is the record as the caller read it: where the store no longer has it
// (expired: a timeout; deleted meanwhile) its session is retired all the
// same and end returns ErrNotFound. A failure to retire the session is
// returned with ended true: the record is ended everywhere, and the first
// request that presents the session hides and deletes its data
// (guardAnonymous).
func (g *Guard) end(ctx context.Context, held *storeext.Record, reason string, ss sessionRef) (ended bool, err error) {
	_, err = g.updateHeld(ctx, held, func(r *storeext.Record) error {
		if r.Revoked != "" {
			return errEnded
		}
		r.Revoked = reason
		return nil
	})
	if err != nil && !errors.Is(err, storeext.ErrNotFound) {
		return false, err
	}
	if rerr := g.retire(ctx, held, ss); rerr != nil {
		return err == nil, rerr
	}
	return err == nil, err
}

// retire ends a record's session: a tombstone under its marker key (a
// marker naming no record: it heals nothing) makes a write of a request
// verified before the end fail with ErrStaleCredentials (a slow request
// cannot bring the data back), and where the store has IDs (memstore,
// Redis) its data is deleted, if the Guard can reach the session store
// (ss); otherwise the first request that presents the session deletes it.
// On the cookie store the data is the cookie: requests presenting it are
// served an empty session, and nothing of it is accepted back or carried.
func (g *Guard) retire(ctx context.Context, rec *storeext.Record, ss sessionRef) error {
	key := recordSessionKey(rec)
	if key == "" {
		return nil
	}
	now := g.now()
	err := g.store.SetMarker(ctx, key, storeext.Marker{At: now, ExpiresAt: now.Add(g.cfg.AbsoluteTimeout)})
	if err != nil && !errors.Is(err, storeext.ErrMarkerExists) {
		return storeErr(err)
	}
	if ss.store == nil || cookieRecord(rec) {
		return nil
	}
	if err := deleteSession(ss.r, ss.store, ss.name, rec.SessionID); err != nil {
		return fmt.Errorf("%w: %w", errDataKept, err)
	}
	return nil
}

// errDataKept: a session was tombstoned but its data could not be deleted
// (the session store is down); the first request that presents the
// session deletes it (DESIGN.md, "Endings").
var errDataKept = errors.New("ginsecure: the ended session's data could not be deleted yet")

// retireEvicted retires the sessions of the records Store.Trim signed out
// (their mark is the store's, set atomically with the choice).
func (g *Guard) retireEvicted(ctx context.Context, ss sessionRef, handles []string) {
	for _, h := range handles {
		r, err := g.store.Get(ctx, h)
		if err == nil {
			err = g.retire(ctx, &r, ss)
		}
		if err != nil && !errors.Is(err, storeext.ErrNotFound) {
			g.log.Warn("ginsecure: could not retire an evicted session", "err", err)
		}
	}
}

// updateHeld is Store.Update of the record the request holds (read this
// request, as the store gave it): on a store that must otherwise read the
// record again before its write (Redis), the write compares against held
// instead, a round trip fewer (storeext.HeldUpdater). held is not changed.
func (g *Guard) updateHeld(ctx context.Context, held *storeext.Record, fn func(*storeext.Record) error) (storeext.Record, error) {
	if u, ok := g.store.(heldUpdater); ok {
		return u.UpdateHeld(ctx, *held, fn)
	}
	return g.store.Update(ctx, held.Handle, fn)
}

// revoke marks a record revoked so that its next request, on any server,
// is signed out with the reason.
func (g *Guard) revoke(st *reqState, rec *storeext.Record, reason string, kind EventKind, detail string) {
	g.markRevoked(st, rec, reason)
	st.note(Event{Kind: kind, UserID: rec.UserID, Handle: rec.Handle, Detail: detail})
}

// markRevoked is revoke without the event, for a caller whose event carries
// more fields (the IP check names both addresses). It ends the record
// (end): the session's data goes with it.
func (g *Guard) markRevoked(st *reqState, rec *storeext.Record, reason string) {
	_, err := g.end(st.io.ctx(), rec, reason, g.sessionsOf(st))
	if err != nil && !errors.Is(err, storeext.ErrNotFound) && !errors.Is(err, errEnded) {
		g.log.Error("ginsecure: could not revoke a session", "err", err, "reason", reason)
	}
}

func revokedErr(reason string) error {
	switch reason {
	case storeext.RevokedEvicted:
		return ErrEvicted
	case storeext.RevokedReplay:
		return ErrReplay
	case storeext.RevokedIP:
		return ErrIPMismatch
	case storeext.RevokedIdentity:
		return ErrIdentityMismatch
	case storeext.RevokedTimedOut, storeext.RevokedReplaced, storeext.RevokedSessionLost:
		return ErrExpired
	case storeext.RevokedOverLimit:
		return ErrTooManySessions
	default:
		return revokedWith(reason)
	}
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

// present records the first presentation of a login's record, in one
// store write (Store.Present) that also touches it, confirms a joined
// login's token, and enforces MaxSessionsPerUser among the user's
// presented sessions: over the limit, the least recently used other one is
// signed out, or with RejectExtraLogins this presentation is refused (the
// record ends as RevokedOverLimit, the request is anonymous with an empty
// stand-in: ErrTooManySessions). The limit counts a session from here,
// not from its login: a login whose response never reached the browser
// (a double submit's loser) is never presented and evicts nobody.
func (g *Guard) present(st *reqState, now time.Time) error {
	tok := st.tok.hash
	lim := storeext.Limit{Max: g.cfg.MaxSessionsPerUser, Reject: g.cfg.RejectExtraLogins}
	rec, evicted, err := g.store.Present(st.io.ctx(), *st.rec, func(r *storeext.Record) error {
		if !r.Unpresented {
			return errTouched // a parallel request presented it first
		}
		if r.Revoked != "" {
			return errRaced
		}
		r.Unpresented = false
		if hashEq(r.TokenHash, tok) && confirmDue(r) {
			confirm(r, now)
		}
		r.LastSeen, r.ExpiresAt = now, g.expiryOf(r, now)
		return nil
	}, lim)
	switch {
	case err == nil, errors.Is(err, errTouched):
		st.rec = &rec
		for _, h := range evicted {
			st.note(Event{Kind: EventLimit, UserID: rec.UserID, Handle: h, Detail: "signed out by a newer sign-in's first request"})
		}
		g.retireEvicted(st.io.ctx(), g.sessionsOf(st), evicted) // their data goes as every ending's does
		return nil
	case errors.Is(err, ErrTooManySessions):
		// Only while no other request presented it (a slot freed since);
		// then it ends as every ending does (its session retired).
		ctx := st.io.ctx()
		_, err := g.store.Update(ctx, rec.Handle, func(r *storeext.Record) error {
			if !r.Unpresented || r.Revoked != "" {
				return errRaced
			}
			r.Revoked = storeext.RevokedOverLimit
			return nil
		})
		if err == nil {
			err = g.retire(ctx, &rec, g.sessionsOf(st))
		}
		if err != nil && !errors.Is(err, errRaced) && !errors.Is(err, storeext.ErrNotFound) {
			g.log.Error("ginsecure: could not end a sign-in refused over the limit", "err", err)
		}
		st.note(Event{Kind: EventLimit, UserID: rec.UserID, Handle: rec.Handle, Detail: "sign-in refused at its first request: too many sessions"})
		st.hideAs(ErrTooManySessions)
		return nil
	case errors.Is(err, errRaced), errors.Is(err, storeext.ErrNotFound):
		st.hideAs(ErrExpired)
		return nil
	}
	return storeErr(err)
}

// SessionInfo describes one of a user's sessions for a "where you're
// signed in" page. Its JSON names are snake_case, for an API that returns
// the list as it is.
type SessionInfo struct {
	Handle    string    `json:"handle"`
	Created   time.Time `json:"created"`
	LastSeen  time.Time `json:"last_seen"`
	IP        string    `json:"ip"`
	UserAgent string    `json:"user_agent"`
	Current   bool      `json:"current"` // the session of the request that asked (Guard.SessionsOf)
	// DeviceBound: the session is bound to a key on its device (DBSC).
	DeviceBound bool `json:"device_bound,omitempty"`
}

// MaxListedSessions is how many sessions Sessions and SessionsOf list at
// most: the most recently active (by recorded activity, LastSeen). A
// listing is for a person to read; an account with more sessions than
// this still has every one of them ended by RevokeUser and RevokeOthers,
// and its listing costs the store no more than this many (DESIGN.md,
// "User-to-session binding").
const MaxListedSessions = 100

// Sessions lists the user's live sessions, oldest first: at most
// MaxListedSessions, the most recently active. A login whose browser has
// not yet made a request with it (unpresented, see UnpresentedAge) is not
// listed: it holds no slot of MaxSessionsPerUser, and it may be the
// losing response of a double submit that no browser holds. RevokeUser
// and RevokeOthers end those too.
func (g *Guard) Sessions(ctx context.Context, userID string) ([]SessionInfo, error) {
	var recs []storeext.Record
	var err error
	if rl, ok := g.store.(recentLister); ok {
		recs, err = rl.ListRecent(ctx, userID, MaxListedSessions)
	} else {
		recs, err = g.store.List(ctx, userID)
	}
	if err != nil {
		return nil, storeErr(err)
	}
	out := make([]SessionInfo, 0, min(len(recs), MaxListedSessions))
	for _, r := range recs {
		if r.Unpresented {
			continue
		}
		out = append(out, SessionInfo{Handle: r.Handle, Created: r.CreatedAt, LastSeen: r.LastSeen, IP: r.IP, UserAgent: r.UserAgent, DeviceBound: r.Device.Bound()})
	}
	if len(out) > MaxListedSessions {
		slices.SortStableFunc(out, func(a, b SessionInfo) int { return b.LastSeen.Compare(a.LastSeen) })
		out = out[:MaxListedSessions]
	}
	slices.SortStableFunc(out, func(a, b SessionInfo) int { return a.Created.Compare(b.Created) })
	return out, nil
}

// SessionsOf lists the sessions of the request's user, marking the
// request's own as Current. It returns ErrNoSession when the request is not
// authenticated.
func (g *Guard) SessionsOf(c *gin.Context) ([]SessionInfo, error) {
	st := stateOf(c)
	if st == nil || !st.authenticated() {
		return nil, ErrNoSession
	}
	list, err := g.Sessions(reqCtx(c), st.rec.UserID)
	for i := range list {
		list[i].Current = list[i].Handle == st.rec.Handle
	}
	return list, err
}

// RevokeSession signs out one of the user's sessions, on every server
// sharing the store, at its next request. Its session's data is deleted
// where the session store has IDs: at once once this server has loaded a
// session (and so knows the store), else at the session's next request
// (DESIGN.md, "Endings"). A handle that is not the user's is ErrNoSession:
// one user cannot end another's session by guessing. reason, at most one,
// says who signed it out (RevokeReason); ErrInvalidRevokeReason for a
// malformed one.
func (g *Guard) RevokeSession(ctx context.Context, userID, handle string, reason ...RevokeReason) error {
	as, err := revokedAs(reason)
	if err != nil {
		return err
	}
	if !validHandle(handle) {
		return ErrNoSession
	}
	r, err := g.store.Get(ctx, handle)
	if errors.Is(err, storeext.ErrNotFound) {
		return ErrNoSession
	}
	if err != nil {
		return storeErr(err)
	}
	return g.revokeHandle(ctx, &r, userID, as, g.sessionsOf(nil))
}

// revokeHandle ends held, a record read from the store, for RevokeSession,
// RevokeUser and RevokeOthers, as revoked (RevokedByUser with the call's
// reason: revokedAs): ErrNoSession unless it is a live record of userID.
func (g *Guard) revokeHandle(ctx context.Context, held *storeext.Record, userID, revoked string, ss sessionRef) error {
	if held.UserID != userID || held.Revoked != "" {
		return ErrNoSession
	}
	ended, err := g.end(ctx, held, revoked, ss)
	switch {
	case !ended && (errors.Is(err, storeext.ErrNotFound) || errors.Is(err, errEnded)):
		return ErrNoSession
	case !ended:
		return storeErr(err)
	case err != nil:
		// Ended on every server; the session's data goes at its next
		// presentation.
		g.log.Warn("ginsecure: could not retire a revoked session", "err", err)
	}
	g.emitCtx(ctx, Event{Kind: EventRevoke, UserID: userID, Handle: held.Handle, Detail: "session revoked", Reason: reasonOfRecord(revoked)})
	return nil
}

// RevokeUser signs out every session of the user (account disabled, admin
// action) and returns how many it ended. Their sessions' data is deleted
// as RevokeSession's is. reason, at most one, says who signed them out
// (RevokeReason); ErrInvalidRevokeReason for a malformed one.
func (g *Guard) RevokeUser(ctx context.Context, userID string, reason ...RevokeReason) (int, error) {
	as, err := revokedAs(reason)
	if err != nil {
		return 0, err
	}
	return g.revokeAll(ctx, userID, "", as, g.sessionsOf(nil))
}

// RevokeOthers signs out every session of the request's user except the
// request's own (after a password change) and returns how many it ended.
// Their sessions' data is deleted as RevokeSession's is. The request's own
// session is decided when RevokeOthers acts, not when the request was
// verified: a login of the same user from this browser that replaced it
// meanwhile is spared in its place, and ErrNoSession is returned, with
// nothing ended, when it ended otherwise (revoked, signed out, evicted)
// while the request was in flight. reason, at most one, says who signed
// them out (RevokeReason: ReasonPasswordChange, ReasonOtherDevice);
// ErrInvalidRevokeReason for a malformed one.
func (g *Guard) RevokeOthers(c *gin.Context, reason ...RevokeReason) (int, error) {
	as, err := revokedAs(reason)
	if err != nil {
		return 0, err
	}
	st := stateOf(c)
	if st == nil || !st.authenticated() {
		return 0, ErrNoSession
	}
	st.enter(c)
	ctx := st.io.ctx()
	own, err := g.ownNow(ctx, st.rec)
	if err != nil {
		return 0, err
	}
	return g.revokeAll(ctx, st.rec.UserID, own, as, g.sessionsOf(st))
}

// ownNow is the handle of the request's own record as the store holds it
// now (DESIGN.md, "Ordering principle"): the record the request was
// verified with while it lives, else the login of the same user that
// replaced it from this browser (followed through a few such logins).
// ErrNoSession when it ended any other way, ErrStoreUnavailable when the
// store cannot tell.
func (g *Guard) ownNow(ctx context.Context, rec *storeext.Record) (string, error) {
	const hops = 4 // re-logins of one browser during one request, at most
	h, now := rec.Handle, g.now()
	for range hops {
		r, err := g.store.Get(ctx, h)
		switch {
		case errors.Is(err, storeext.ErrNotFound):
			return "", ErrNoSession
		case err != nil:
			return "", storeErr(err)
		case r.UserID != rec.UserID || (!r.ExpiresAt.IsZero() && now.After(r.ExpiresAt)):
			return "", ErrNoSession
		case r.Revoked == "":
			return h, nil
		case r.Revoked != storeext.RevokedReplaced || r.ReplacedBy == "":
			return "", ErrNoSession
		}
		h = r.ReplacedBy
	}
	return "", ErrNoSession
}

// revokeAll ends the user's sessions but except. Where the store keeps a
// revocation mark (storeext.UserRevoker) it is set after the index is
// listed and before any session is ended: every session created before
// the call returns ends, the index lists it or not (DESIGN.md,
// "User-to-session binding").
func (g *Guard) revokeAll(ctx context.Context, userID, except, revoked string, ss sessionRef) (int, error) {
	br, batched := g.store.(batchRevoker)
	var recs []storeext.Record
	if !batched {
		var err error
		if recs, err = g.store.List(ctx, userID); err != nil {
			return 0, storeErr(err)
		}
	}
	if ur, ok := g.store.(userRevoker); ok {
		err := ur.RevokeBefore(ctx, userID, except, revoked)
		switch {
		case errors.Is(err, storeext.ErrNotFound):
			return 0, ErrNoSession // the request's own session ended meanwhile
		case err != nil:
			return 0, storeErr(err)
		}
	}
	if batched {
		return g.revokeBatches(ctx, br, userID, except, revoked, ss)
	}
	n := 0
	for i := range recs {
		if recs[i].Handle == except {
			continue
		}
		// The handle comes from the store, not from a request: whatever
		// form an older build minted it in, it is revoked.
		err := g.revokeHandle(ctx, &recs[i], userID, revoked, ss)
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

// revokeBatch is how many sessions revokeBatches ends per store call.
const revokeBatch = 32

// revokeBatches is revokeAll on a storeext.BatchRevoker: each batch ends
// its records in one call and retires their sessions in one more (a
// tombstone under each marker key; the session's data deleted in the same
// call where the session store keeps it beside the records, else one
// deletion per session), as end and retire do one by one.
func (g *Guard) revokeBatches(ctx context.Context, br batchRevoker, userID, except, revoked string, ss sessionRef) (int, error) {
	known := g.sessionsKnown(ss.store)
	if known != nil && !known.Shared() {
		known = nil
	}
	n := 0
	for more := true; more; {
		recs, m, err := br.RevokeBatch(ctx, userID, except, revoked, revokeBatch)
		if err != nil {
			return n, storeErr(err)
		}
		more = m
		if err := g.retireBatch(ctx, br, recs, known, ss); err != nil {
			// Ended on every server; their data goes at their next presentation.
			g.log.Warn("ginsecure: could not retire revoked sessions", "err", err)
		}
		for i := range recs {
			g.emitCtx(ctx, Event{Kind: EventRevoke, UserID: userID, Handle: recs[i].Handle, Detail: "session revoked", Reason: reasonOfRecord(revoked)})
		}
		n += len(recs)
	}
	return n, nil
}

// retireBatch retires the sessions of recs, as retire does each.
func (g *Guard) retireBatch(ctx context.Context, br batchRevoker, recs []storeext.Record, known knownSessions, ss sessionRef) error {
	markers, sessions := make([]string, 0, len(recs)), make([]string, 0, len(recs))
	var slow []*storeext.Record
	for i := range recs {
		rec := &recs[i]
		key := recordSessionKey(rec)
		if key == "" {
			continue
		}
		sk := ""
		switch {
		case ss.store == nil || cookieRecord(rec):
		case known != nil:
			sk = known.SessionKey(rec.SessionID)
		default:
			slow = append(slow, rec)
		}
		markers, sessions = append(markers, key), append(sessions, sk)
	}
	now := g.now()
	if err := br.RetireBatch(ctx, markers, storeext.Marker{At: now, ExpiresAt: now.Add(g.cfg.AbsoluteTimeout)}, sessions); err != nil {
		return storeErr(err)
	}
	var first error
	for _, rec := range slow {
		if err := deleteSession(ss.r, ss.store, ss.name, rec.SessionID); err != nil && first == nil {
			first = err
		}
	}
	return first
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
// A programming error of the caller, not a refusal of the visitor: code
// "invalid_user_id", 400.
var ErrInvalidUserID = refusal("invalid_user_id", http.StatusBadRequest, "user ID must be 1 to 512 bytes of valid UTF-8")

// checkUserID refuses a user ID that a store cannot keep exactly (see
// ErrInvalidUserID). The same rule on every store, so that an application
// that works on the memory store keeps working on Redis.
func checkUserID(id string) error {
	if id == "" || len(id) > maxUserIDLen || !utf8.ValidString(id) {
		return ErrInvalidUserID
	}
	return nil
}
