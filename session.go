package ginsecure

// The gin-contrib session: its identity, loading, regeneration and
// healing, and the emptying of a session whose record ended. The wrapper
// sessions.Default(c) returns is in guardsession.go, the writer that keeps
// a stand-in's cookies off its response in guardwriter.go, the record's
// own session among tossed cookies in tossed.go, carry-over in
// carryover.go.
//
// Which session belongs to a record is decided from state that cannot go
// stale (DESIGN.md, "Ordering principle"): the record names its session
// (Record.SessionID), and a login or Renew leaves a set-once Marker from
// the session it replaced to the record. A request's session cookie is
//
//   - the record's own session: served as it is;
//   - the record's predecessor (the marker names the record): a
//     straggler's response put it back in the browser after the login's.
//     The request is healed: served with the record's own session, whose
//     cookie is sent again;
//   - anything else: foreign (planted, or tossed in front of the real one
//     by a sibling subdomain). The request is anonymous, sees an empty
//     stand-in, and writes nothing.

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"

	"github.com/gin-contrib/sessions"
	"github.com/ginsecure/ginsecure/storeext"
	"github.com/gorilla/securecookie"
	gsessions "github.com/gorilla/sessions"
	"github.com/quasoft/memstore"
)

// handleKey is the value ginsecure keeps in the gin-contrib session: the
// handle of its record. The key is short on purpose: the cookie store signs
// and decodes every byte of the session on every request.
const handleKey = "gsec.h"

// sidKey holds the identity of an anonymous session on the cookie store,
// which has no session ID (gorilla's ID is "" there, and the cookie's bytes
// change at every save, since securecookie embeds a timestamp). Every
// anonymous session ginsecure saves on the cookie store carries one, from
// crypto/rand, so that a marker can name it as a login's predecessor. A
// signed-in session's identity is its handle (handleKey), which its record
// names: one value fewer to sign, encode and decode on every request.
const sidKey = "gsec.s"

// ginSession is what sessions.Sessions puts in the context: a Session that
// also hands out its gorilla session.
type ginSession interface {
	sessions.Session
	Session() *gsessions.Session
}

// cookieStore reports whether a gorilla store keeps the session in the
// cookie itself (no server-side ID).
func cookieStore(s gsessions.Store) bool {
	_, ok := s.(*gsessions.CookieStore)
	return ok
}

// loadSession loads the presented session and works out its identity. A
// session the store cannot decode (bad signature, expired, over-long,
// garbage, a payload that does not deserialize) is bad input: the request
// goes on with an empty session, and its next save replaces the cookie.
// Only a store that cannot be reached is an outage: the session becomes
// unsavable (Save would overwrite data it never read), and a request that
// carries a token gets ErrStoreUnavailable: the client must be told to
// retry, not that it was signed out.
func (st *reqState) loadSession() error {
	st.gs = st.sess.inner.Session()
	st.cur, st.served = st.gs, servedPresented
	if st.gs == nil {
		return nil
	}
	if st.early != nil {
		st.checkInjected(st.early) // session_shared.go
	}
	st.g.warnWeakSessionCookie(st.gs)
	if !st.g.redisLearned.Load() {
		st.g.learnSessions(st.gs)
		st.g.learnRedisSessions(st.gs) // session_shared.go
	}
	// A session that loaded is not new; only a new one next to a session
	// cookie may hide a load error (gin-contrib logged it and kept it in
	// gorilla's registry, which costs a lookup: not on the hot path).
	if !st.gs.IsNew || !hasCookie(st.io.r, st.gs.Name()) {
		st.sid = sessionID(st.gs)
		return nil
	}
	if _, err := gsessions.GetRegistry(st.io.r).Get(st.gs.Store(), st.gs.Name()); err != nil {
		known := st.g.sessionsKnown(st.gs.Store())
		if known != nil && known.Outage(err) {
			loaded, done := st.reload(known)
			if done {
				return nil
			}
			err = loaded
		}
		if !cookieStore(st.gs.Store()) && st.g.outage(st.gs.Store(), err) {
			st.loadErr = err
			if st.token != tokenNone {
				return storeErr(err)
			}
			return nil
		}
		// Bad input: whatever was decoded is not to be trusted.
		st.gs.ID = ""
		clear(st.gs.Values)
		st.gs.IsNew = true
		return nil
	}
	st.sid = sessionID(st.gs)
	return nil
}

// reload loads the session again after its load failed with an outage
// (storeext.KnownSessions.Reload): a session store may report a payload that does
// not decode with the same bare EOF errors as a broken connection, and
// after a Redis restart every idle pooled connection is dead. done says
// the request is served (the session loaded, or its payload is bad input:
// the request is anonymous, sid stays "", and its next save overwrites
// the payload under the same ID, which the record still names);
// otherwise err is the outage.
func (st *reqState) reload(known knownSessions) (last error, done bool) {
	gs, outage, err2 := known.Reload(st.io.r, st.gs.Name())
	switch {
	case err2 == nil:
		st.gs, st.cur = gs, gs
		st.sid = sessionID(gs)
		return nil, true
	case outage:
		return err2, false
	}
	st.g.log.Warn("ginsecure: a session payload in the session store does not decode; treating it as empty", "err", err2)
	clear(st.gs.Values)
	st.gs.IsNew = true
	return nil, true
}

// hasCookie reports whether the request carries a cookie named name.
func hasCookie(r *http.Request, name string) bool {
	_, err := r.Cookie(name)
	return err == nil
}

// isOutage reports whether a session store's error means the backend
// could not be reached, rather than that the cookie or payload was bad,
// by the standard library's types alone (a network error, a connection
// cut short). A Store that knows the session store tells its own errors
// apart (Guard.outage).
func isOutage(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// outage is isOutage, and what the records Store knows of the session
// store's own errors (storeext.KnownSessions.Outage: a Redis error reply, an
// exhausted pool).
func (g *Guard) outage(store gsessions.Store, err error) bool {
	if err == nil {
		return false
	}
	if isOutage(err) {
		return true
	}
	known := g.sessionsKnown(store)
	return known != nil && known.Outage(err)
}

// sessionID is the identity of a loaded session: its ID on memstore and
// Redis; on the cookie store its handle when signed in, else the ID
// ginsecure keeps inside it; "" for a session nobody saved yet.
func sessionID(gs *gsessions.Session) string {
	if gs == nil {
		return ""
	}
	if gs.ID != "" {
		return gs.ID
	}
	if h, _ := gs.Values[handleKey].(string); validHandle(h) {
		return h
	}
	s, _ := gs.Values[sidKey].(string)
	return s
}

// markerKey is the store key of the marker a session leaves when it is
// replaced. Session IDs and ginsecure's IDs are told apart by a prefix.
func markerKey(gs *gsessions.Session) string {
	if gs == nil {
		return ""
	}
	if gs.ID != "" {
		return "s:" + gs.ID
	}
	if s := sessionID(gs); s != "" {
		return "c:" + s
	}
	return ""
}

// newSessionID mints the ID of a session ginsecure creates (Login, Renew):
// the form boj/redistore and gin-contrib's memstore mint themselves (32
// random bytes in base32) where the store has IDs, 16 random bytes in
// base64url inside the session on the cookie store.
func newSessionID(store gsessions.Store) (string, error) {
	if cookieStore(store) {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", err
		}
		return base64.RawURLEncoding.EncodeToString(b[:]), nil
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return strings.TrimRight(base32.StdEncoding.EncodeToString(b[:]), "="), nil
}

// freshSession returns a new gorilla session of the presented session's
// store and name, with the store's options, that will be saved under sid.
func (st *reqState) freshSession(sid string, values map[any]any) *gsessions.Session {
	ns := st.newSession()
	for k, v := range values {
		ns.Values[k] = v
	}
	if cookieStore(ns.Store()) {
		delete(ns.Values, sidKey)
		if h, _ := ns.Values[handleKey].(string); h != sid {
			ns.Values[sidKey] = sid
		}
	} else {
		ns.ID = sid
	}
	return ns
}

// newSession returns a new, empty gorilla session of the presented
// session's store and name, with its options, and no identity: a store
// with IDs mints one when it is saved, the cookie store gets one from Save.
func (st *reqState) newSession() *gsessions.Session {
	var store gsessions.Store
	name, opts := "", gsessions.Options{Path: "/"}
	if st.gs != nil {
		store, name = st.gs.Store(), st.gs.Name()
		if st.gs.Options != nil {
			opts = *st.gs.Options
		}
	}
	ns := gsessions.NewSession(store, name)
	ns.Options = &opts
	ns.IsNew = true
	return ns
}

// errNoCodecs: a session other than the request's own was to be loaded
// from a session store whose cookie codecs ginsecure cannot reach (one it
// does not know, and no records Store that knows it: storeCodecs).
var errNoCodecs = errors.New("ginsecure: the session store has no codecs to load a session by ID")

// loadByID loads the session stored under id from a store with IDs
// (memstore, Redis): gorilla stores load by cookie, so the ID is encoded
// with the store's own codecs into a cookie on a copy of the request.
func (st *reqState) loadByID(id string) (*gsessions.Session, error) {
	store, name := st.gs.Store(), st.gs.Name()
	codecs := st.g.storeCodecs(store)
	if codecs == nil {
		if id == st.gs.ID {
			// A session store ginsecure cannot load by ID (no codecs it
			// can reach): the request's own session, as this request
			// loaded it, is the freshest copy there is.
			return st.gs, nil
		}
		return nil, errNoCodecs
	}
	v, err := securecookie.EncodeMulti(name, id, codecs...)
	if err != nil {
		return nil, err
	}
	gs, err := store.New(requestWithCookie(st.io.r, name, v), name)
	if err != nil {
		if st.g.outage(store, err) {
			return nil, storeErr(err)
		}
		gs = st.freshSession(id, nil)
	}
	gs.ID = id
	return gs, nil
}

// storeCodecs returns the cookie codecs of a session store: gorilla's
// CookieStore and FilesystemStore and gin-contrib's memstore
// (quasoft/memstore) by their exported Codecs field, a store the records Store knows
// (storeext.KnownSessions.Codecs: gin-contrib's Redis store) through it; nil for
// any other.
func (g *Guard) storeCodecs(store gsessions.Store) []securecookie.Codec {
	switch s := store.(type) {
	case *gsessions.CookieStore:
		return s.Codecs
	case *memstore.MemStore:
		return s.Codecs
	case *gsessions.FilesystemStore:
		return s.Codecs
	}
	if known := g.sessionsKnown(store); known != nil {
		return known.Codecs()
	}
	return nil
}

// sendSessionCookie sends the cookie of a session with an ID (memstore,
// Redis) without writing its data: healing tells the browser which
// session is its own again.
func (st *reqState) sendSessionCookie(gs *gsessions.Session) {
	v, err := securecookie.EncodeMulti(gs.Name(), gs.ID, st.g.storeCodecs(gs.Store())...)
	if err != nil {
		st.g.log.Warn("ginsecure: could not encode the session cookie", "err", err)
		return
	}
	http.SetCookie(st.io.w, gsessions.NewCookie(gs.Name(), v, gs.Options))
}

// deleteSession removes a server-side session's data (memstore, Redis),
// sending nothing to the browser: what replaces it sends its own cookie.
func deleteSession(r *http.Request, store gsessions.Store, name, id string) error {
	if id == "" || cookieStore(store) {
		return nil
	}
	old := gsessions.NewSession(store, name)
	old.ID = id
	old.Options = &gsessions.Options{Path: "/", MaxAge: -1}
	return store.Save(r, discardWriter{}, old)
}

// discardWriter swallows the Set-Cookie of a deleted session.
type discardWriter struct{}

func (discardWriter) Header() http.Header         { return http.Header{} }
func (discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (discardWriter) WriteHeader(int)             {}

// healsFrom reports whether mk, the marker of the presented session,
// makes that session rec's predecessor: it names rec (rec's own Login or
// Renew replaced it), or, on a forward to rec, the replaced record the
// token is of, whose own login replaced it (forwardSession decided that,
// for the same user only).
func (st *reqState) healsFrom(mk storeext.Marker, rec *storeext.Record) bool {
	return mk.Handle == rec.Handle || st.fwd != nil && mk.Handle == st.fwd.Handle && st.fwd.UserID == rec.UserID
}

// heal serves an authenticated request with its record's own session: its
// session cookie was the record's predecessor. On memstore and Redis the
// record's session is loaded by ID and its cookie sent again. On the cookie
// store the session is the cookie: the predecessor's values are adopted
// under the rule Login applied (carry: nothing of another user's session,
// Config.CarryOver's pick of an anonymous one, all of the user's own) and
// sent as the record's session where sendsHealed says so, else only if
// the handler saves. from is the record the presented session's marker
// names ("" where no marker decided the heal).
//
// A handler that took the session before Middleware ran (a middleware
// placed ahead of it calling sessions.Default) holds gin-contrib's own
// session, the predecessor: ginsecure cannot redirect it.
func (g *Guard) heal(st *reqState, rec *storeext.Record, carry carryRule, from string) error {
	if st.gs == nil {
		return nil
	}
	if !cookieStore(st.gs.Store()) {
		gs, err := st.loadByID(rec.SessionID)
		if err != nil {
			return err
		}
		st.cur, st.served = gs, servedHealed
		st.sendSessionCookie(gs)
		return nil
	}
	// From the session the request is served with, the one carry was
	// decided on: a joined login's request may have been healed already,
	// and the payload it came with is then a predecessor's, perhaps
	// another user's (DESIGN.md, "Carry-over").
	values := g.carried(st.cur.Values, carry)
	values[handleKey] = rec.Handle
	ns := st.freshSession(rec.SessionID, values)
	st.cur, st.served = ns, servedHealed
	if !st.sendsHealed(from) {
		return nil // adopted for this request only; sent only if the handler saves it
	}
	if err := ns.Store().Save(st.io.r, st.io.w, ns); err != nil {
		g.log.Warn("ginsecure: could not send the healed session", "err", err)
		return nil
	}
	st.resent.note(rec.Handle, st.io.w.Header()) // a full copy: not sent once a login replaced the record
	return nil
}

// sendsHealed reports whether heal sends the cookie store's healed
// session, a full copy of the data the request came with, at once: to a
// request with the record's current token, the browser has lost the newer
// cookie. Not to one sent before a rotation: the browser may hold a newer
// cookie of the record's session than this predecessor, written after the
// rotation. Nor to a forward (a rotation of the successor, whose response
// carries no session cookie unless the handler saves, DESIGN.md "Writes")
// from the session the successor's login replaced (from names the
// successor): the login's response may land before this one and the
// browser write into the successor's session in between, and the
// forwarded token heals that session at the browser's next request
// anyway. A forward from the session the replaced record's own login
// replaced (from names that record) is sent it: the forwarded token alone
// would find that session foreign.
func (st *reqState) sendsHealed(from string) bool {
	if st.sup != supCurrent && st.sup != supReissue {
		return false
	}
	return st.fwd == nil || from == "" || from == st.fwd.Handle
}

// lateAnonymous reports whether the session cookie next to a login's
// token, within the login's window (newLogin), is an anonymous session
// nothing replaced (no marker, no handle): the session cookie of a
// response verified before the login (a cookieless browser's first
// write) that landed after the login's (DESIGN.md, "Cookieless sign-in").
// Past the window it is a copy of the token beside another session:
// foreign.
func (g *Guard) lateAnonymous(st *reqState, rec *storeext.Record) bool {
	h, _ := st.gs.Values[handleKey].(string)
	return h == "" && g.newLogin(rec, g.now())
}

// sessionOwner is the record the presented session belongs to, from
// state that cannot go stale: the record its marker names (a login or a
// Renew of that record replaced it), else the handle it holds (a
// signed-in session's own); "" for a tombstone (the session ended) and
// for an anonymous session.
func sessionOwner(gs *gsessions.Session, mk storeext.Marker, marked bool) string {
	if marked {
		return mk.Handle
	}
	h, _ := gs.Values[handleKey].(string)
	if !validHandle(h) {
		return ""
	}
	return h
}

// usersOther reports whether the presented session, neither rec's own
// nor its predecessor, belongs to another record of rec's user that has
// not ended (owner: live, or replaced by a later login): the user's own
// session, which a late response put next to this token (DESIGN.md,
// "The user's other sessions"): the write of a double submit's other
// record landing after this login's response, a session cookie put back
// after two logins of the browser. The request is healed into rec's own
// session: the token decides which of the user's sessions is served.
// Never for a forward (forwardSession decided its session) nor from one
// of several cookies of the name (a tossed copy's data would overwrite
// the browser's, DESIGN.md "Tossed cookies"). One record read, only for
// a session cookie that would otherwise be foreign.
func (g *Guard) usersOther(st *reqState, rec *storeext.Record, owner string) (bool, error) {
	if owner == "" || st.fwd != nil {
		return false, nil
	}
	if owner == rec.Handle {
		return true, nil
	}
	now := g.now()
	o, err := g.view(st.io.ctx(), owner, now)
	switch {
	case errors.Is(err, storeext.ErrNotFound):
		return false, nil
	case err != nil:
		return false, storeErr(err)
	case o.UserID != rec.UserID || o.Revoked != "" && o.Revoked != storeext.RevokedReplaced:
		return false, nil
	}
	return g.timedOut(o, g.touchDue(o, now), now) == nil, nil
}

// adoptLate serves the first presentation of a login's token that came
// next to a late anonymous session (lateAnonymous) with the record's own
// session, carrying what the anonymous session holds as a login would
// (Config.CarryOver; the login's own values win), and sends the record's
// session cookie again: the write that session's Save acknowledged is
// kept, and the browser stays signed in (DESIGN.md, "Writes").
func (g *Guard) adoptLate(st *reqState, rec *storeext.Record) error {
	if cookieStore(st.gs.Store()) {
		return g.heal(st, rec, carryAnonymous, "")
	}
	carry := g.carried(st.gs.Values, carryAnonymous)
	gs, err := st.loadByID(rec.SessionID)
	if err != nil {
		return err
	}
	for k, v := range carry {
		if _, ok := gs.Values[k]; !ok {
			gs.Values[k] = v
		}
	}
	st.cur, st.served = gs, servedHealed
	if len(carry) == 0 {
		st.sendSessionCookie(gs)
		return nil
	}
	if err := gs.Store().Save(st.io.r, st.io.w, gs); err != nil {
		return storeErr(err)
	}
	return nil
}

// lostSession reports whether the request presents no session of the
// name at all: no cookie of the name, or only ones that the store could
// not decode (expired, signed with a retired secret, garbage). A cookie
// that decodes is a session (foreign or not, never lost): a sibling
// subdomain can toss cookies in front of the browser's own, but cannot
// make the browser's own stop decoding, so tossed cookies alone never
// end the record (DESIGN.md, "A lost session cookie"). several is what
// ownAmong counted; only then are the others decoded (decodesAny).
// Only where the browser would have sent the session cookie with the
// token (sessionCookieSent): a request it was not sent with has lost
// nothing.
func (st *reqState) lostSession(several bool) bool {
	return st.gs.IsNew && st.gs.ID == "" && (!several || !st.decodesAny()) && st.sessionCookieSent()
}

// endLost ends the record of a token that came without its session
// (DESIGN.md, "A lost session cookie"): the session cookie's lifetime is
// the application's and the browser's choice, and the record lives no
// longer than the session it stands for. The request goes on as an
// ordinary anonymous one with the fresh session it has, whose writes are
// kept. A store that cannot be reached is an outage (503): left alive, the
// record would make that fresh session look foreign.
func (g *Guard) endLost(st *reqState, rec *storeext.Record) error {
	ended, err := g.end(st.io.ctx(), rec, storeext.RevokedSessionLost, g.sessionsOf(st))
	switch {
	case !ended && (errors.Is(err, errEnded) || errors.Is(err, storeext.ErrNotFound)):
		return nil
	case !ended:
		return storeErr(err)
	case err != nil:
		g.log.Warn("ginsecure: could not retire the session of a lost session cookie", "err", err)
	}
	st.note(Event{Kind: EventRevoke, UserID: rec.UserID, Handle: rec.Handle, Detail: "token presented without its session cookie: signed out"})
	return nil
}

// decodesAny reports whether any of the request's cookies of the
// session's name decodes with the session store's codecs: a session,
// foreign or not, that the browser holds. Asked only when several came
// and none was the record's own; its cost is linear in the header. A
// store whose codecs ginsecure cannot reach counts as decoding: the
// record is never ended on a guess.
func (st *reqState) decodesAny() bool {
	name, store := st.gs.Name(), st.gs.Store()
	codecs := st.g.storeCodecs(store)
	if codecs == nil {
		return true
	}
	for v := range sessionCookies(st.io.r, name) {
		var err error
		if cookieStore(store) {
			err = securecookie.DecodeMulti(name, v, &st.newSession().Values, codecs...)
		} else {
			var id string
			err = securecookie.DecodeMulti(name, v, &id, codecs...)
		}
		if err == nil {
			return true
		}
	}
	return false
}

// sessionCookieSent reports whether a browser sends the session cookie,
// by its attributes (the session store's options), on every request that
// carries the token (Path=/, SameSite=Lax): its Path covers the request's
// (an empty Path counts as "/", the directory of a sign-in at the root),
// and a SameSite=Strict cookie counts only on a request the browser says
// is not cross-site (Sec-Fetch-Site): a link followed from another site
// carries the Lax token without the Strict session cookie.
func (st *reqState) sessionCookieSent() bool {
	o := st.gs.Options
	if o == nil {
		return true
	}
	if !pathMatch(o.Path, st.io.r.URL.Path) {
		return false
	}
	if o.SameSite != http.SameSiteStrictMode {
		return true
	}
	switch st.io.r.Header.Get("Sec-Fetch-Site") {
	case "same-origin", "same-site", "none":
		return true
	}
	return false
}

// pathMatch is RFC 6265's path-match of a request path against a cookie's
// Path ("" taken as "/").
func pathMatch(cookiePath, reqPath string) bool {
	switch {
	case cookiePath == "" || cookiePath == "/" || reqPath == cookiePath:
		return true
	case !strings.HasPrefix(reqPath, cookiePath):
		return false
	}
	return strings.HasSuffix(cookiePath, "/") || reqPath[len(cookiePath)] == '/'
}

// requestWithCookie is a copy of r whose only cookie is name=value.
func requestWithCookie(r *http.Request, name, value string) *http.Request {
	c := r.Clone(r.Context())
	c.Header = r.Header.Clone()
	c.Header.Del("Cookie")
	c.AddCookie(&http.Cookie{Name: name, Value: value})
	return c
}

// dropEnded serves a request that presents the session of a record that
// ended (DESIGN.md, "Endings"): empty (emptySession), and where the store
// has IDs and still holds the session's data (its ending could not reach
// the session store, or the record was forgotten before anyone noticed
// it end), the data is deleted now. The session's identity stays: it is
// the browser's anonymous session from here on, and a login from it still
// leaves its marker there.
func (st *reqState) dropEnded() {
	gs := st.gs
	if gs.ID != "" && !cookieStore(gs.Store()) {
		if err := deleteSession(st.io.r, gs.Store(), gs.Name(), gs.ID); err != nil {
			st.g.log.Warn("ginsecure: could not delete an ended session's data", "err", err)
		}
	}
	st.emptySession()
}

// emptySession empties the presented session in place, but for its
// identity: a request sees none of a dead signed-in session's data, and a
// save overwrites it under the same identity (on the cookie store the dead
// handle moves to sidKey), so that a login's marker on it still applies.
func (st *reqState) emptySession() {
	st.served = servedEmptied
	id := sessionID(st.gs)
	clear(st.gs.Values)
	if cookieStore(st.gs.Store()) && id != "" {
		st.gs.Values[sidKey] = id
	}
}

// sessionKeyOf is the marker key of the session stored under id in the
// request's session store.
func (st *reqState) sessionKeyOf(id string) string {
	if id == "" || st.gs == nil {
		return ""
	}
	if cookieStore(st.gs.Store()) {
		return "c:" + id
	}
	return "s:" + id
}

// recordSessionKey is the marker key of a record's own session, from the
// record alone (an ending without a request knows no session store): on
// the cookie store a signed-in session's identity is its handle.
func recordSessionKey(rec *storeext.Record) string {
	switch {
	case rec.SessionID == "":
		return ""
	case cookieRecord(rec):
		return "c:" + rec.SessionID
	}
	return "s:" + rec.SessionID
}

// cookieRecord reports whether rec's session is kept by the cookie store,
// where Login and Renew make the session's identity the record's handle
// (session IDs of the other stores are minted apart from handles).
func cookieRecord(rec *storeext.Record) bool { return rec.SessionID == rec.Handle }

// hide gives the request an empty stand-in for its session: what it reads
// is nothing, what it writes is refused (ErrForeignSession), and its
// response carries no cookie of ours (guardWriter). It runs inside verify
// (and Require's identity check) only, for a session that belongs to a
// record this request's token does not open, or whose network or identity
// did not match the request (standIn).
func (st *reqState) hide() {
	st.verdict = verdictStandIn
	st.cur = st.newSession()
}

// sessionsOf is the session store of the request, else the learned one.
func (g *Guard) sessionsOf(st *reqState) sessionRef {
	if st != nil && st.gs != nil {
		return sessionRef{r: st.io.r, store: st.gs.Store(), name: st.gs.Name()}
	}
	if p := g.sessionsSeen.Load(); p != nil {
		return *p
	}
	return sessionRef{}
}

// learnSessions keeps the first session store the Guard sees, for the
// endings that have no request (sessionsOf).
func (g *Guard) learnSessions(gs *gsessions.Session) {
	if gs == nil || gs.Store() == nil {
		return
	}
	g.sessionsSeen.CompareAndSwap(nil, &sessionRef{r: &http.Request{}, store: gs.Store(), name: gs.Name()})
}
