package ginsecure

// Carry-over (DESIGN.md, "Carry-over"): what a login, or the cookie
// store's healing, carries from the session it replaces.

import (
	"errors"

	"github.com/ginsecure/ginsecure/storeext"
	gsessions "github.com/gorilla/sessions"
)

// carryRule is what a login carries from the session it replaces
// (DESIGN.md, "Carry-over"): data crosses from an anonymous session or
// from the same user's own, never from another user's.
type carryRule int

const (
	// carryNone: a stand-in, or a session that belonged to another user's
	// record (live, ended, revoked, replaced): the new session starts empty.
	carryNone carryRule = iota
	// carryAnonymous: an anonymous session: what Config.CarryOver accepts.
	carryAnonymous
	// carryOwn: the same user's own session: all of it (the user's data).
	carryOwn
)

// carryFor decides what a login of userID carries from the session the
// request is served with. A session that names a record belongs to that
// record's user; the request knows that record when the session is shown
// to it at all (the record it is authenticated with, or its token's ended
// record): any other signed-in session is a stand-in or was emptied.
func (st *reqState) carryFor(userID string) carryRule {
	if st.standingIn() || st.cur == nil {
		return carryNone
	}
	h, _ := st.cur.Values[handleKey].(string)
	if h == "" {
		return carryAnonymous
	}
	owner := ""
	switch {
	case st.rec != nil && st.rec.Handle == h:
		owner = st.rec.UserID
	case st.tokRec != nil && st.tokRec.Handle == h:
		owner = st.tokRec.UserID
	}
	if owner == userID {
		return carryOwn
	}
	return carryNone
}

// carryFrom is carryFor, decided again at the login's moment: a session
// that an ending tombstoned (its marker names no record) carries nothing
// (DESIGN.md, "Carry-over"), whether it was anonymous or the user's own
// and the ending came after this request was verified (a revocation, an
// eviction, a logout from a copy while the sign-in form was in flight).
// After an ending the session's identity stays with every holder of its
// cookie, the browser and any copy of it alike, so what it holds since
// may have been written by the copy's holder: it never reaches the
// signed-in session. One marker read, only for a login that would carry
// a session's values.
func (g *Guard) carryFrom(st *reqState, userID, key string) (carryRule, error) {
	carry := st.carryFor(userID)
	if carry == carryNone || key == "" || !hasAppValues(st.cur.Values) {
		return carry, nil
	}
	mk, err := g.store.GetMarker(st.io.ctx(), key)
	switch {
	case errors.Is(err, storeext.ErrNotFound):
		return carry, nil
	case err != nil:
		return carryNone, storeErr(err)
	case mk.Handle == "":
		return carryNone, nil
	}
	return carry, nil
}

// hasAppValues reports whether a session holds any value of the
// application's (anything but ginsecure's own).
func hasAppValues(v map[any]any) bool {
	for k := range v {
		if k != handleKey && k != sidKey {
			return true
		}
	}
	return false
}

// predecessorCarry is the rule under which rec's own session adopts its
// predecessor's values on the cookie store (heal): the rule rec's login
// applied to it, decided from the record the predecessor names. A
// predecessor whose record is gone, or cannot be read, gives nothing.
func (g *Guard) predecessorCarry(st *reqState, rec *storeext.Record) carryRule {
	if !cookieStore(st.gs.Store()) {
		return carryNone // heal loads the record's own session by ID
	}
	h, _ := st.gs.Values[handleKey].(string)
	if h == "" {
		return carryAnonymous
	}
	if !validHandle(h) {
		return carryNone
	}
	old, err := g.view(st.io.ctx(), h, g.now())
	if err != nil || old.UserID != rec.UserID {
		return carryNone
	}
	return carryOwn
}

// carried copies the values of a session that a login (or the cookie
// store's healing) replaces, under carry, never ginsecure's own.
func (g *Guard) carried(from map[any]any, carry carryRule) map[any]any {
	out := make(map[any]any, len(from)+2)
	if carry == carryNone {
		return out
	}
	for k, v := range from {
		if k == handleKey || k == sidKey {
			continue
		}
		if carry == carryAnonymous && g.cfg.CarryOver != nil && !g.cfg.CarryOver(k, v) {
			continue
		}
		out[k] = v
	}
	return out
}

// loginValues is what the replaced session holds at the login's commit:
// on memstore and Redis the session as the store holds it now (a
// straggler's write that came before the marker is in it), with this
// request's own changes on top; on the cookie store, the request's copy.
// reread, where not nil, is the session as read with the marker; owner is
// the record whose data it may hold ("" for an anonymous session's).
func (st *reqState) loginValues(reread *gsessions.Session, owner string) (map[any]any, error) {
	cur := st.cur
	if cookieStore(cur.Store()) || cur.ID == "" || st.served == servedEmptied {
		return cur.Values, nil // (emptied: a dead record's data stays behind)
	}
	fresh := reread
	if fresh == nil {
		var err error
		if fresh, err = st.loadByID(cur.ID); err != nil {
			return nil, err
		}
	}
	out := fresh.Values
	if fresh.IsNew {
		if fresh.ID != cur.ID {
			// A moved session (movedSession) that is gone: nothing of
			// it, and never the request's own, which the carry rule
			// was not decided on (DESIGN.md, "Carry-over").
			out = map[any]any{}
		} else {
			return cur.Values, nil
		}
	}
	if now, _ := out[handleKey].(string); now != owner {
		// Written since this request was verified by a request of another
		// record's (one verified before its record ended, held across the
		// ending) or, after an ending, of an anonymous holder: not the
		// session the carry rule was decided on, so nothing of it is
		// carried (DESIGN.md, "Carry-over").
		out = map[any]any{}
	}
	if st.sess.cleared() {
		out = map[any]any{}
	}
	for _, k := range st.sess.changedKeys() {
		if v, ok := cur.Values[k]; ok {
			out[k] = v
		} else {
			delete(out, k)
		}
	}
	return out, nil
}
