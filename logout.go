package ginsecure

// Logout: a session signed out, its record and its own session ended on
// every server, both cookies expired.

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/ginsecure/ginsecure/storeext"
	gsessions "github.com/gorilla/sessions"
)

// Logout signs out the session the request's token names: its record is
// deleted and its own gin-contrib session destroyed (the session the record
// names, whatever session cookie was in front of it), on every server
// sharing the store, and both cookies expire. There is no grace: the
// current token and the previous one (inside its window) both end the
// session. It returns nil only when no session of this token lives on:
// ErrStoreUnavailable (503) when ginsecure's store or the session store
// could not be reached (nothing was written to the browser; a retry
// finishes the sign-out, and until then the session lives, or its record
// is ended but its data not yet deleted), ErrNoSession
// when the request proved nothing (a token whose secret does not match its
// record, or a signed-in session's cookie without its token: nothing is
// ended), ErrNoMiddleware without Middleware. gin-contrib's logout idiom
// (a Save with a negative MaxAge through sessions.Default) calls it.
func Logout(c *gin.Context) error {
	st := stateOf(c)
	if st == nil {
		return ErrNoMiddleware
	}
	st.enter(c)
	rec, err := st.signingOut()
	if rec == nil {
		return err
	}
	if ended, err := st.endSignedOut(rec); !ended || err != nil {
		return err
	}
	st.expireCookies()
	st.goOnAnonymous()
	st.g.emit(c, Event{Kind: EventLogout, UserID: rec.UserID, Handle: rec.Handle})
	return nil
}

// signingOut is step 1: the record the request's token names, or, for
// none, what Logout returns: ErrNoSession where the requester proved
// nothing, nil where nothing lives on.
func (st *reqState) signingOut() (*storeext.Record, error) {
	if rec := st.tokRec; rec != nil {
		return rec, nil
	}
	if st.standingIn() || (st.token == tokenParsed && errors.Is(st.failure, ErrTokenMismatch)) {
		// A session of a live record without its token, or a token
		// whose secret does not match: the requester proved nothing.
		return nil, ErrNoSession
	}
	return nil, nil // no credentials, or dead ones: nothing lives on
}

// endSignedOut is step 2: the record ended and deleted. Nothing of it is
// undone: an ending stays. Decided when Logout acts, not when the request
// was verified: a record already ended (replaced by a later login,
// perhaps on another server while this request waited, or revoked) holds
// dead credentials, and an expiring Set-Cookie could land after the newer
// login's response and delete its token (DESIGN.md, "Cookie writes"). The
// record goes; nothing is written back (ended false, err nil). The record
// is marked ended first (a login racing this one keeps it ended) and its
// session retired (end), then it goes. An error with ended true: the
// session could not be tombstoned (the records store failed after the
// ending).
func (st *reqState) endSignedOut(rec *storeext.Record) (ended bool, err error) {
	g, ctx := st.g, st.io.ctx()
	ended, err = g.end(ctx, rec, storeext.RevokedByUser, g.sessionsOf(st))
	if !ended && err != nil && !errors.Is(err, errEnded) && !errors.Is(err, storeext.ErrNotFound) {
		return false, storeErr(err)
	}
	if derr := g.store.Delete(ctx, rec.Handle); derr != nil {
		if !ended {
			return false, storeErr(derr)
		}
		// Ended already: dead on every server; the record expires.
		g.log.Warn("ginsecure: could not delete a signed-out record", "err", derr)
	}
	if !ended {
		return false, nil
	}
	if err != nil && !errors.Is(err, errDataKept) {
		return true, storeErr(err) // the session could not be tombstoned
	}
	if err != nil {
		// The session's data could not be deleted (the session store is
		// down): the record is ended on every server and its session
		// tombstoned, so nothing of the data is served or carried again;
		// the first request that presents the session deletes it
		// (DESIGN.md, "Endings"). The Logout is done: both cookies expire.
		g.log.Warn("ginsecure: signed out; the session's data is deleted at its next presentation", "err", err)
	}
	return true, nil
}

// expireCookies is step 3: both cookies expire.
func (st *reqState) expireCookies() {
	if st.gs != nil {
		opts := gsessions.Options{Path: "/"}
		if st.gs.Options != nil {
			opts = *st.gs.Options
		}
		opts.MaxAge = -1
		http.SetCookie(st.io.w, gsessions.NewCookie(st.gs.Name(), "", &opts))
	}
	st.g.expireToken(st.io.w)
}

// goOnAnonymous is step 4: the request goes on with a new, empty
// anonymous session: a write after Logout (a "signed out" flash) saves
// it, and its cookie follows the expiring one; a Login after it
// (switching users on one form) carries nothing of the session that
// ended.
func (st *reqState) goOnAnonymous() {
	st.signedOut()
	if st.gs != nil {
		st.gs = st.afterLogout()
		st.cur, st.sid = st.gs, ""
	}
	st.sess.reset()
}

// afterLogout is the new, empty anonymous session a request goes on with
// after Logout, with the session store's own options: not the options the
// ended session was saved with, whose negative MaxAge (the logout idiom)
// would delete whatever the request saves next while Save returned nil.
// The store makes it from a copy of the request without cookies, so it
// loads nothing.
func (st *reqState) afterLogout() *gsessions.Session {
	ns := st.newSession()
	r := st.io.r.Clone(st.io.r.Context())
	r.Header = st.io.r.Header.Clone()
	r.Header.Del("Cookie")
	if fresh, err := ns.Store().New(r, ns.Name()); err == nil && fresh.Options != nil {
		opts := *fresh.Options
		ns.Options = &opts
	}
	return ns
}
