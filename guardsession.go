package ginsecure

// The session wrapper sessions.Default(c) returns: it serves the session
// the request is authenticated with, refuses a stand-in's writes, and
// checks every write against a login that retired the session meanwhile.
//
// A session write re-decides at the moment of the write: its marker is
// looked up; a marker means a login, Renew or ending retired the session
// after this request was verified, and Save returns ErrStaleCredentials
// (never a silent success). On the shared Redis the check and the write
// are one script (saveShared). Elsewhere the marker is read before the
// write (retiredBefore; not on the cookie store beside records in Redis,
// whose undo deletes nothing) and again after it, because neither boj/redistore's SETEX nor
// gin-contrib's memstore can write conditionally: a marker set between
// the two reads has the write undone (undoIfRetired); and a login that
// set its marker after the second reads the session afresh, so the write
// is carried over.

import (
	"context"
	"errors"

	"github.com/gin-contrib/sessions"
	"github.com/ginsecure/ginsecure/storeext"
	gsessions "github.com/gorilla/sessions"
)

// writeState is whether the session a request is served with has changes
// to save.
type writeState uint8

const (
	writesNone    writeState = iota // nothing changed since the session was loaded or created
	writesPending                   // changed since it was last saved: Save writes it
	writesSaved                     // changed, and saved since: nothing to write until the next change
)

// clearMark stands in sessionWrites.keys for a Clear of the whole session.
type clearMark struct{}

// sessionWrites is what a request changed in the session it is served
// with since the session was loaded or created (Login, Renew and Logout
// start it afresh: reset).
type sessionWrites struct {
	state writeState
	// keys names the keys this request changed, in order, a clearMark first
	// where it cleared the session: a login carries them over on top of
	// the session as the store holds it at the login's commit
	// (loginValues). Kept in place for the usual one or two keys (a write
	// costs no allocation for it).
	keys  []any
	keysA [2]any
}

// changed records a change of key.
func (w *sessionWrites) changed(key any) {
	w.state = writesPending
	if w.keys == nil {
		w.keys = w.keysA[:0]
	}
	for _, k := range w.keys {
		if k == key {
			return
		}
	}
	w.keys = append(w.keys, key)
}

// clearAll records a Clear: every key changed before it is part of it.
// writes says the Clear deleted a value (clearWrites): only then has the
// session changes to save.
func (w *sessionWrites) clearAll(writes bool) {
	if writes {
		w.state = writesPending
	}
	w.keys = append(w.keysA[:0], clearMark{})
}

// changedOptions records a change that touches no key (the cookie's
// options, a session to be given an identity).
func (w *sessionWrites) changedOptions() { w.state = writesPending }

// markSaved records that the session was saved (or needs no write).
func (w *sessionWrites) markSaved() { w.state = writesSaved }

// reset starts afresh with a session the request was just given.
func (w *sessionWrites) reset() { *w = sessionWrites{} }

// unsaved reports whether there are changes to save.
func (w *sessionWrites) unsaved() bool { return w.state == writesPending }

// cleared reports whether the request cleared the session.
func (w *sessionWrites) cleared() bool { return len(w.keys) > 0 && w.keys[0] == clearMark{} }

// changedKeys are the keys changed (since the Clear, if any).
func (w *sessionWrites) changedKeys() []any {
	if w.cleared() {
		return w.keys[1:]
	}
	return w.keys
}

// guardSession wraps the gin-contrib session: sessions.Default(c) returns
// it. It serves the session the request is authenticated with (healed or
// not), refuses writes of a foreign or retired session, and checks every
// write against a login that retired the session meanwhile.
type guardSession struct {
	rq *request // the context the handler's calls come with (the entry: a write takes the request and writer from it); its state is rq.st
	*sessState
}

// sessState is the state of the session behind the wrapper: what the
// request's steps read and change of it.
type sessState struct {
	inner ginSession
	sessionWrites
	failed error // the last Save's error: EventSaveIgnored if the handler answers below 400
}

// Save saves the session the request is served with. It returns
// ErrForeignSession for a foreign session's stand-in, ErrStaleCredentials
// when a login or Renew retired the session (the write is undone), and
// ErrStoreUnavailable when the session could not be loaded.
//
// gin-contrib's logout idiom, a save with a negative MaxAge (after Clear
// or not), on a request authenticated with the current token or the
// previous one inside its window, is Logout (DESIGN.md, "The logout
// idiom"): Save returns Logout's errors, and both cookies expire. Deleting
// only the session cookie would leave the record alive for every copy of
// the token.
//
// On a signed-in session, a MaxAge of 0 on a store that deletes a session
// saved with it (boj/redistore) returns ErrSessionNotPersisted and deletes
// nothing; a changed positive MaxAge (or 0 elsewhere: a browser-session
// cookie) sends the token cookie again with that lifetime, capped at
// AbsoluteTimeout, while the request's token is still its record's
// current one (DESIGN.md, "Cookie writes").
func (s *guardSession) Save() (err error) {
	st := &s.rq.st
	st.enter(s.rq.c)
	defer s.saved(&err) // lifetime.go
	switch {
	case st.standingIn():
		return ErrForeignSession
	case st.logoutIdiom():
		return Logout(s.rq.c)
	case st.deletesAtZero():
		return ErrSessionNotPersisted
	case !s.unsaved():
		return nil
	case st.loadErr != nil:
		return storeErr(st.loadErr)
	}
	cur := st.cur
	if err := giveIdentity(cur); err != nil {
		return err
	}
	key := ""
	if st.served != servedCreated { // a session this request created: nothing retired it
		key = markerKey(cur)
	}
	if key != "" {
		var done bool
		var err error
		if key, done, err = s.trySaveShared(cur, key); done {
			return err
		}
	}
	if key != "" && s.retiredBefore(cur, key) {
		return s.refuseStale()
	}
	n := len(st.io.w.Header()["Set-Cookie"])
	if err := cur.Store().Save(st.io.r, st.io.w, cur); err != nil {
		return st.g.saveErr(cur.Store(), err)
	}
	s.markSaved()
	if key == "" {
		return nil
	}
	return s.undoIfRetired(cur, key, n)
}

// giveIdentity gives a session of the cookie store that has no identity
// one (sidKey), so that a login's marker can name it.
func giveIdentity(cur *gsessions.Session) error {
	if !cookieStore(cur.Store()) || sessionID(cur) != "" {
		return nil
	}
	id, err := newSessionID(cur.Store())
	if err != nil {
		return err
	}
	cur.Values[sidKey] = id
	return nil
}

// trySaveShared saves a session of the Redis shared with the records,
// where it is one, with its check against the marker under key in one
// round trip (session_shared.go, saveShared). done says Save's answer is
// err; otherwise Save saves through the session store and checks after,
// against the marker under the key returned ("": no check).
func (s *guardSession) trySaveShared(cur *gsessions.Session, key string) (string, bool, error) {
	mk, marked, handled, err := s.saveShared(cur, key)
	switch {
	case !handled:
		return key, false, nil
	case err != nil:
		return key, true, err
	case !marked:
		s.markSaved()
		return key, true, nil
	case mk.Handle == "" && !s.rq.st.sawAlive(cur):
		// Ended before this request was verified (as in undoIfRetired):
		// the session is the browser's own now; the write stands.
		return "", false, nil
	}
	// Retired after this request was verified: nothing was written,
	// nothing to undo.
	return key, true, s.refuseStale()
}

// retiredBefore checks a session write against the marker under key
// before it writes, as saveShared does on the shared Redis: a write
// refused here writes nothing, so its undo cannot delete a write another
// holder of the session made after an ending (DESIGN.md, "Writes"). It
// checks where the markers are in this process (the embedded memory
// store: no round trip, one map lookup), and, at the cost of one marker
// read, wherever the undo would delete the session (a session store with
// IDs that saveShared does not write: gin-contrib's Redis store on its own
// pool, any other): there a write it lets through is checked again after
// it is saved, and only one the marker was set for between the two (the
// window from this read to the store's write) is undone by deleting the
// session. It reports false for the cookie store beside any other
// records store (its undo deletes nothing: no round trip added), and on
// a store error: undoIfRetired then checks after the write alone.
func (s *guardSession) retiredBefore(cur *gsessions.Session, key string) bool {
	st := &s.rq.st
	if st.g.shared == nil && !undoDeletes(cur) {
		return false
	}
	mk, err := st.g.store.GetMarker(st.io.ctx(), key)
	if err != nil {
		return false
	}
	// Ended before this request was verified: the session is the
	// browser's own now; the write stands (as in undoIfRetired).
	return mk.Handle != "" || st.sawAlive(cur)
}

// undoDeletes reports whether undoIfRetired undoes a write of cur by
// deleting the session from its store (deleteSession): a store with IDs.
func undoDeletes(cur *gsessions.Session) bool {
	return cur.ID != "" && !cookieStore(cur.Store())
}

// undoIfRetired checks a session write against the marker under key: a
// marker set since the request was verified means a login or Renew
// retired the session, and the write is undone (its Set-Cookie lines
// after the first n too) and refused (ErrStaleCredentials).
func (s *guardSession) undoIfRetired(cur *gsessions.Session, key string, n int) error {
	st := &s.rq.st
	mk, err := st.g.store.GetMarker(st.io.ctx(), key)
	switch {
	case errors.Is(err, storeext.ErrNotFound):
		return nil
	case err == nil && mk.Handle == "" && !st.sawAlive(cur):
		// Ended (Logout, timeout) before this request was verified: the
		// session is the browser's own now, emptied of the signed-in data.
		return nil
	case err != nil:
		// Cannot tell: the write stands; should the session have been
		// retired, the browser's next request is healed by its token.
		st.g.log.Warn("ginsecure: could not check a session write against a login", "err", err)
		return nil
	}
	// Retired after this request was verified: undo the write, unless the
	// login that marked the session has not committed its record (it may
	// still fail, and must then leave the visitor's session as it was; if
	// it commits, it deletes the session itself).
	if mk.Handle == "" || st.g.recordExists(st.io.ctx(), mk.Handle) {
		if err := deleteSession(st.io.r, cur.Store(), cur.Name(), cur.ID); err != nil {
			st.g.log.Warn("ginsecure: could not undo a stale session write", "err", err)
		}
	}
	h := st.io.w.Header()
	if lines := h["Set-Cookie"]; len(lines) > n {
		h["Set-Cookie"] = lines[:n:n]
	}
	return s.refuseStale()
}

// logoutIdiom reports whether a save is gin-contrib's logout (a negative
// MaxAge) by a request authenticated with the current token or the
// previous one inside its window (DESIGN.md, "The logout idiom").
func (st *reqState) logoutIdiom() bool {
	return st.authenticated() && st.cur.Options != nil && st.cur.Options.MaxAge < 0
}

// refuseStale reports a session write refused because a login or Renew
// retired the session after this request was verified.
func (s *guardSession) refuseStale() error {
	st := &s.rq.st
	st.g.emit(s.rq.c, Event{Kind: EventGraceServed, UserID: st.userID(), Handle: st.handleOf(), Detail: "session write of a retired session refused"})
	return ErrStaleCredentials
}

// sawAlive reports whether the request was verified against a live record
// whose own session is gs: only such a request's write can bring back a
// session that Logout or a timeout ended after the verification.
func (st *reqState) sawAlive(gs *gsessions.Session) bool {
	return st.rec != nil && st.rec.SessionID != "" && st.rec.SessionID == sessionID(gs)
}

// recordExists reports whether the record under handle exists; a store
// error counts as yes (the write is then undone: the safe side).
func (g *Guard) recordExists(ctx context.Context, handle string) bool {
	_, err := g.store.Get(ctx, handle)
	return !errors.Is(err, storeext.ErrNotFound)
}

// saveErr names why a session store could not save: too large for the
// cookie or the store (ErrSessionTooLarge: a size check before the save,
// or one of the texts in tooLargeText), the store unreachable
// (Guard.outage), or as the store said.
func (g *Guard) saveErr(store gsessions.Store, err error) error {
	if errors.Is(err, ErrSessionTooLarge) {
		return err
	}
	if tooLargeText(err) {
		return &wrapped{sentinel: ErrSessionTooLarge, cause: err}
	}
	if g.outage(store, err) {
		return storeErr(err)
	}
	return err
}

// Session returns the gorilla session the request is served with, as
// gin-contrib's does.
func (s *guardSession) Session() *gsessions.Session { return s.rq.st.cur }

// ID is the session's ID on memstore and Redis, "" on the cookie store and
// for a foreign session's stand-in.
func (s *guardSession) ID() string {
	if s.rq.st.standingIn() || s.rq.st.cur == nil {
		return ""
	}
	return s.rq.st.cur.ID
}

// Get reads a value of the session.
func (s *guardSession) Get(key any) any {
	if s.rq.st.cur == nil {
		return nil
	}
	return s.rq.st.cur.Values[key]
}

// Set sets a value of the session.
func (s *guardSession) Set(key any, val any) {
	if s.rq.st.cur == nil {
		return
	}
	s.rq.st.cur.Values[key] = val
	s.changed(key)
}

// Delete removes a value of the session.
func (s *guardSession) Delete(key any) {
	if s.rq.st.cur == nil {
		return
	}
	delete(s.rq.st.cur.Values, key)
	s.changed(key)
}

// Clear removes every value of the session but ginsecure's own. As
// gin-contrib's, it marks the session written only when it held a value:
// Clear and Save of an empty anonymous session write nothing.
func (s *guardSession) Clear() {
	if s.rq.st.cur == nil {
		return
	}
	writes := clearWrites(s.rq.st.cur.Values) // equivalence.go
	for k := range s.rq.st.cur.Values {
		if k != handleKey && k != sidKey {
			delete(s.rq.st.cur.Values, k)
		}
	}
	s.clearAll(writes)
}

// AddFlash adds a flash message.
func (s *guardSession) AddFlash(value any, vars ...string) {
	if s.rq.st.cur == nil {
		return
	}
	s.rq.st.cur.AddFlash(value, vars...)
	key := "_flash"
	if len(vars) > 0 {
		key = vars[0]
	}
	s.changed(key)
}

// Flashes returns and clears the flash messages.
func (s *guardSession) Flashes(vars ...string) []any {
	if s.rq.st.cur == nil {
		return nil
	}
	key := "_flash"
	if len(vars) > 0 {
		key = vars[0]
	}
	s.changed(key)
	return s.rq.st.cur.Flashes(vars...)
}

// Options sets the session's cookie options.
func (s *guardSession) Options(o sessions.Options) {
	if s.rq.st.cur == nil || s.rq.st.standingIn() {
		return
	}
	s.noteLifetime(o.MaxAge)
	s.rq.st.cur.Options = o.ToGorillaOptions()
	s.changedOptions()
}
