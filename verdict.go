package ginsecure

// A request's state as small typed values: its verdict (DESIGN.md,
// "Verdicts"), the token cookie it presented, and the session it is served
// with; and the named transitions that change several of them at once.
// verify decides the verdict (middleware.go), hide gives a stand-in and
// heal the record's own session (session.go).

import (
	"github.com/ginsecure/ginsecure/storeext"
	"time"
)

// verdict is what verify decided the request is. Middleware decides it;
// a later check (Require's identity check, a record found ended when it
// is written) may only take it away, and Login, Renew and Logout make it
// anew.
type verdict uint8

const (
	// verdictAnonymous: not authenticated; its session, if any, is its
	// own. FailureReason says why where credentials were presented.
	verdictAnonymous verdict = iota
	// verdictAuthenticated: authenticated with st.rec, by the current
	// credential or a superseded one (st.sup), healed or not (st.served),
	// forwarded or not (st.fwd).
	verdictAuthenticated
	// verdictStandIn: not authenticated, and served with an empty
	// stand-in session that writes nothing (hide): a foreign session, a
	// signed-in session without its token, a network or identity that did
	// not match (standIn).
	verdictStandIn
)

// authenticated reports whether the request is authenticated.
func (st *reqState) authenticated() bool { return st.verdict == verdictAuthenticated }

// standingIn reports whether the request is served with a stand-in.
func (st *reqState) standingIn() bool { return st.verdict == verdictStandIn }

// demote takes an authenticated request's verdict away: a check after
// the verification failed, or its record ended meanwhile. A stand-in
// stays one.
func (st *reqState) demote() {
	if st.verdict == verdictAuthenticated {
		st.verdict = verdictAnonymous
	}
}

// unhide gives a request served with a stand-in its own session back (a
// login joined on it).
func (st *reqState) unhide() {
	if st.verdict == verdictStandIn {
		st.verdict = verdictAnonymous
	}
}

// hideAs serves a request whose record ended after it was read (or whose
// first presentation was refused) as anonymous, with a stand-in: err is
// its FailureReason.
func (st *reqState) hideAs(err error) {
	st.rec, st.failure = nil, err
	st.hide()
}

// standIn goes on with a request whose network or identity did not match
// its record, after the check has revoked the record or kept it as the
// configuration says: the request is anonymous with an empty stand-in
// session that never sees the record's data and writes nothing, and err
// is its FailureReason. Routes that Require authentication answer 401
// with it; every other route, the sign-in route included, is served
// (DESIGN.md, "Refusals"): a refusal that keeps the session must not lock
// the browser out of signing in again, from the network it is on now.
func (st *reqState) standIn(err error) {
	st.demote()
	st.failure = err
	st.refused, st.rec, st.tokRec = st.rec, nil, nil
	st.sup, st.fwd = supCurrent, nil
	if st.gs != nil {
		st.hide()
	}
}

// loggedIn makes the request one authenticated with rec, a record its
// login created or joined, served with the session the login created.
func (st *reqState) loggedIn(rec *storeext.Record, now time.Time) {
	st.served, st.verdict, st.rec, st.tokRec, st.authAt, st.failure = servedCreated, verdictAuthenticated, rec, rec, now, nil
}

// renewed makes the request one authenticated with rec as Renew left it,
// served with the session Renew created.
func (st *reqState) renewed(rec *storeext.Record, now time.Time) {
	st.served, st.rec, st.tokRec, st.authAt = servedCreated, rec, rec, now
}

// signedOut makes the request anonymous after Logout, served with a new,
// empty session.
func (st *reqState) signedOut() {
	st.verdict, st.rec, st.tokRec, st.served = verdictAnonymous, nil, nil, servedEmptied
}

// tokenState is what the request's token cookie was.
type tokenState uint8

const (
	tokenNone      tokenState = iota // no token cookie
	tokenMalformed                   // a token cookie that does not parse
	tokenParsed                      // a token cookie that parses: st.tok
)

// served is which session the request is served with.
type served uint8

const (
	// servedPresented: the session the request presented (or, of several
	// cookies of its name, the record's own: ownAmong).
	servedPresented served = iota
	// servedHealed: the record's own session, in place of its predecessor
	// (heal).
	servedHealed
	// servedEmptied: the presented session outlived its record, shown
	// (and carried over) empty; or the new session after Logout.
	servedEmptied
	// servedCreated: a session this request created (Login, Renew):
	// nothing retired it.
	servedCreated
)
