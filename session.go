package ginsecure

// The gin-contrib session: its identity, loading, regeneration, healing and
// the no-clobber wrapper.
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
//
// A session write re-decides at the moment of the write: the session is
// saved, then its marker is looked up; a marker means a login or Renew
// retired the session after this request was verified, so the write is
// undone and Save returns ErrStaleCredentials (never a silent success).
// Write-then-check, because neither boj/redistore's SETEX nor gin-contrib's
// memstore can write conditionally; and a login that set its marker after
// such a check reads the session afresh, so the write is carried over.

import (
	"bytes"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"io"
	"iter"
	"net"
	"net/http"
	"reflect"
	"strings"
	"syscall"

	"github.com/boj/redistore"
	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"
	"github.com/gomodule/redigo/redis"
	"github.com/gorilla/securecookie"
	gsessions "github.com/gorilla/sessions"
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
	st.cur = st.gs
	if st.gs == nil {
		return nil
	}
	st.g.warnWeakSessionCookie(st.gs)
	if !st.g.redisLearned.Load() {
		st.g.learnSessions(st.gs)                     // binding.go
		st.g.learnRedisSessions(st.sess.inner, st.gs) // session_redis.go
	}
	// A session that loaded is not new; only a new one next to a session
	// cookie may hide a load error (gin-contrib logged it and kept it in
	// gorilla's registry, which costs a lookup: not on the hot path).
	if !st.gs.IsNew || !hasCookie(st.c.Request, st.gs.Name()) {
		st.sid = sessionID(st.gs)
		return nil
	}
	if _, err := gsessions.GetRegistry(st.c.Request).Get(st.gs.Store(), st.gs.Name()); err != nil {
		if rs, ok := st.gs.Store().(*redistore.RediStore); ok && isOutage(err) {
			// boj/redistore reports a payload gob cannot decode with the
			// same bare EOF errors as a broken connection. Load once more:
			// a broken pooled connection succeeds now; if it fails again
			// while Redis answers, the payload is bad input.
			// Each failed attempt discards one dead pooled connection
			// (idle ones die together after a Redis restart or an idle
			// cut): try past the idle ones, then ask Redis itself.
			tries := min(rs.Pool.Stats().IdleCount+1, 16)
			var err2 error
			for i := 0; i < tries; i++ {
				var gs *gsessions.Session
				if gs, err2 = rs.New(st.c.Request, st.gs.Name()); err2 == nil {
					st.gs, st.cur = gs, gs
					st.sid = sessionID(gs)
					return nil
				}
				if !isOutage(err2) {
					break
				}
			}
			if redisAnswers(rs) {
				err = err2
				// The request is anonymous (sid stays ""), and its next
				// save overwrites the payload under the same ID, which
				// the record still names.
				st.g.log.Warn("ginsecure: a session payload in Redis does not decode; treating it as empty", "err", err2)
				clear(st.gs.Values)
				st.gs.IsNew = true
				return nil
			}
		}
		if !cookieStore(st.gs.Store()) && isOutage(err) {
			st.loadErr = err
			if st.tokP {
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

// redisAnswers reports whether the Redis behind a redistore answers a PING.
func redisAnswers(rs *redistore.RediStore) bool {
	c := rs.Pool.Get()
	defer c.Close()
	_, err := c.Do("PING")
	return err == nil
}

// hasCookie reports whether the request carries a cookie named name.
func hasCookie(r *http.Request, name string) bool {
	_, err := r.Cookie(name)
	return err == nil
}

// isOutage reports whether a session store's load error means the backend
// could not be reached, rather than that the cookie or payload was bad.
func isOutage(err error) bool {
	var ne net.Error
	var re redis.Error
	switch {
	case errors.As(err, &ne), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, redis.ErrPoolExhausted), errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return true
	case errors.As(err, &re):
		return true // Redis answered with an error (LOADING, MISCONF, READONLY)
	}
	return strings.HasPrefix(err.Error(), "redigo: ")
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

// loadByID loads the session stored under id from a store with IDs
// (memstore, Redis): gorilla stores load by cookie, so the ID is encoded
// with the store's own codecs into a cookie on a copy of the request.
func (st *reqState) loadByID(id string) (*gsessions.Session, error) {
	store, name := st.gs.Store(), st.gs.Name()
	codecs := storeCodecs(store)
	if codecs == nil {
		return nil, errors.New("ginsecure: the session store has no codecs to load a session by ID")
	}
	v, err := securecookie.EncodeMulti(name, id, codecs...)
	if err != nil {
		return nil, err
	}
	gs, err := store.New(requestWithCookie(st.c.Request, name, v), name)
	if err != nil {
		if isOutage(err) {
			return nil, storeErr(err)
		}
		gs = st.freshSession(id, nil)
	}
	gs.ID = id
	return gs, nil
}

// storeCodecs returns a gorilla store's exported Codecs field
// (boj/redistore, gin-contrib's memstore, gorilla's FilesystemStore all
// have one), or nil.
func storeCodecs(store gsessions.Store) []securecookie.Codec {
	if rs, ok := store.(*redistore.RediStore); ok {
		return rs.Codecs
	}
	v := reflect.ValueOf(store)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return nil
	}
	f := v.Elem().FieldByName("Codecs")
	if !f.IsValid() {
		return nil
	}
	c, _ := f.Interface().([]securecookie.Codec)
	return c
}

// sendSessionCookie sends the cookie of a session with an ID (memstore,
// Redis) without writing its data: healing tells the browser which
// session is its own again.
func (st *reqState) sendSessionCookie(gs *gsessions.Session) {
	v, err := securecookie.EncodeMulti(gs.Name(), gs.ID, storeCodecs(gs.Store())...)
	if err != nil {
		st.g.log.Warn("ginsecure: could not encode the session cookie", "err", err)
		return
	}
	http.SetCookie(st.c.Writer, gsessions.NewCookie(gs.Name(), v, gs.Options))
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

// heal serves an authenticated request with its record's own session: its
// session cookie was the record's predecessor. On memstore and Redis the
// record's session is loaded by ID and its cookie sent again. On the cookie
// store the session is the cookie: the predecessor's values are adopted
// under the rule Login applied (carry: nothing of another user's session,
// Config.CarryOver's pick of an anonymous one, all of the user's own) and
// sent as the record's session (by a request with the current token: the
// browser has lost the newer cookie; a pre-rotation request sends it only
// if it saves).
//
// A handler that took the session before Middleware ran (a middleware
// placed ahead of it calling sessions.Default) holds gin-contrib's own
// session, the predecessor: ginsecure cannot redirect it.
func (g *Guard) heal(st *reqState, rec *Record, carry carryRule) error {
	if st.gs == nil {
		return nil
	}
	if !cookieStore(st.gs.Store()) {
		gs, err := st.loadByID(rec.SessionID)
		if err != nil {
			return err
		}
		st.cur, st.healed = gs, true
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
	st.cur, st.healed = ns, true
	if st.sup != supCurrent && st.sup != supReissue {
		// A request sent before a rotation: the browser may hold a newer
		// cookie of the record's session than this predecessor (written
		// after the rotation). Adopted for this request only; sent only
		// if the handler saves it.
		return nil
	}
	if err := ns.Store().Save(st.c.Request, st.c.Writer, ns); err != nil {
		g.log.Warn("ginsecure: could not send the healed session", "err", err)
	}
	return nil
}

// lateAnonymous reports whether the session cookie next to a login's
// token, within the login's window (newLogin), is an anonymous session
// nothing replaced (no marker, no handle): the session cookie of a
// response verified before the login (a cookieless browser's first
// write) that landed after the login's (DESIGN.md, "Cookieless sign-in").
// Past the window it is a copy of the token beside another session:
// foreign.
func (g *Guard) lateAnonymous(st *reqState, rec *Record) bool {
	h, _ := st.gs.Values[handleKey].(string)
	return h == "" && g.newLogin(rec, g.now())
}

// adoptLate serves the first presentation of a login's token that came
// next to a late anonymous session (lateAnonymous) with the record's own
// session, carrying what the anonymous session holds as a login would
// (Config.CarryOver; the login's own values win), and sends the record's
// session cookie again: the write that session's Save acknowledged is
// kept, and the browser stays signed in (DESIGN.md, "Writes").
func (g *Guard) adoptLate(st *reqState, rec *Record) error {
	if cookieStore(st.gs.Store()) {
		return g.heal(st, rec, carryAnonymous)
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
	st.cur, st.healed = gs, true
	if len(carry) == 0 {
		st.sendSessionCookie(gs)
		return nil
	}
	if err := gs.Store().Save(st.c.Request, st.c.Writer, gs); err != nil {
		return storeErr(err)
	}
	return nil
}

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
	if st.blank || st.cur == nil {
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

// carryFrom is carryFor, but for an anonymous session that an ending
// tombstoned (its marker names no record): a login carries nothing from it
// (DESIGN.md, "Carry-over"). After an ending the session's identity stays
// with every holder of its cookie, the browser and any copy of it alike,
// so what it holds since may have been written by the copy's holder: it
// never reaches the signed-in session. One marker read, only for a login
// that would carry an anonymous session's values.
func (g *Guard) carryFrom(c *gin.Context, st *reqState, userID, key string) (carryRule, error) {
	carry := st.carryFor(userID)
	if carry != carryAnonymous || key == "" || !hasAppValues(st.cur.Values) {
		return carry, nil
	}
	mk, err := g.store.GetMarker(reqCtx(c), key)
	switch {
	case errors.Is(err, ErrNotFound):
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
func (g *Guard) predecessorCarry(c *gin.Context, st *reqState, rec *Record) carryRule {
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
	old, err := g.view(c, h, g.now())
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

// ownAmong looks among every session cookie of the session's name in the
// Cookie header for rec's own session, and serves the request with it
// (DESIGN.md, "Tossed cookies"): however many a sibling subdomain tossed in
// front of the real one, in a header of any size the server accepted, the
// record's own wins, at a cost linear in the header. On memstore and Redis
// each value is only verified and its signed ID decoded with the store's
// codecs; only the record's own session is then loaded. On the cookie store
// each value is decoded (the handle is inside). The value gin-contrib
// loaded the session from is not tried again: it was another session, or
// bad input (a payload that does not decode stays bad input, never an
// outage). several reports two or more cookies of the name (none of them
// may then be healed from: see bindSession).
//
// It reads the header itself (sessionCookies): net/http hands out no
// cookie at all from a header of more than 3000 (GODEBUG
// httpcookiemaxnum), so gin-contrib's session is then a new one.
func (st *reqState) ownAmong(rec *Record) (ok, several bool, err error) {
	name, store := st.gs.Name(), st.gs.Store()
	codecs := storeCodecs(store)
	f := newPayloadFilter(name, codecs, cookieStore(store), rec.SessionID)
	loaded := "" // the value gin-contrib loaded the session from: not rec's, or bad input
	if ck, err := st.c.Request.Cookie(name); err == nil {
		loaded = ck.Value
	}
	n := 0
	for v := range sessionCookies(st.c.Request, name) {
		n++
		if v == loaded || !f.mayBe(name, v) {
			continue
		}
		if cookieStore(store) {
			gs := st.newSession()
			if securecookie.DecodeMulti(name, v, &gs.Values, codecs...) != nil || sessionID(gs) != rec.SessionID {
				continue
			}
			gs.IsNew = false
			st.cur, st.sid = gs, rec.SessionID
			return true, n > 1, nil
		}
		var id string
		if securecookie.DecodeMulti(name, v, &id, codecs...) != nil || id != rec.SessionID {
			continue
		}
		gs, err := st.loadByID(id)
		if err != nil {
			return false, n > 1, err
		}
		st.cur, st.sid = gs, id
		return true, n > 1, nil
	}
	return false, n > 1, nil
}

// payloadFilter rejects, without deserializing it, a session cookie value
// that cannot be the session whose identity is id. Deserializing (a gob
// decoder per value, about 30 µs for a small session on the cookie store)
// was most of a tossed cookie's cost. A value gorilla's SecureCookie
// encoded is base64url of "date|base64url(payload)|mac", the payload
// encrypted where the store has an encryption key; the identity (a handle
// or session ID, base64url or base32 text, kept as a string) appears in
// the clear payload as is. So a value not of that form is rejected after a
// base64 decode; then, where the store does not encrypt, one whose payload
// does not hold the identity; where it does, one that does not verify
// (MAC, age) or whose decrypted payload does not hold it, checked with
// copies of the store's codecs that keep the payload as bytes. On a store
// with IDs and one codec, a value of another length than the encoded ID
// is rejected first. The filter is on only where every codec is gorilla's
// SecureCookie and a probe shows that its serializer keeps a string as is;
// elsewhere every value is decoded in full. A value it lets through is
// still decoded in full: it never decides that a cookie is the record's
// own, only that it is not.
type payloadFilter struct {
	id    []byte
	on    bool
	clear bool                 // no codec encrypts: the payload is read without verifying
	raw   []securecookie.Codec // else: the store's codecs, keeping the payload as bytes
	size  int                  // where not 0, the only length the session's value can have
}

// payloadProbe is the text the probe encodes and looks for.
const payloadProbe = "ginsecure-payload-probe"

func newPayloadFilter(name string, codecs []securecookie.Codec, cookie bool, id string) payloadFilter {
	if len(codecs) == 0 || id == "" {
		return payloadFilter{}
	}
	f := payloadFilter{id: []byte(id), on: true, clear: true, raw: make([]securecookie.Codec, 0, len(codecs))}
	var probe any = payloadProbe
	if cookie {
		probe = map[any]any{handleKey: payloadProbe}
	}
	for _, c := range codecs {
		sc, ok := c.(*securecookie.SecureCookie)
		if !ok {
			return payloadFilter{}
		}
		cp := *sc // a copy: the store's own codec is not changed
		raw := cp.SetSerializer(rawPayload{})
		v, err := c.Encode(name, probe)
		var p []byte
		if err != nil || raw.Decode(name, v, &p) != nil || !bytes.Contains(p, []byte(payloadProbe)) {
			return payloadFilter{}
		}
		if p, ok := clearPayload(v); !ok || !bytes.Contains(p, []byte(payloadProbe)) {
			f.clear = false // encrypted
		}
		f.raw = append(f.raw, raw)
	}
	if !cookie && len(codecs) == 1 {
		if v, err := codecs[0].Encode(name, id); err == nil {
			f.size = len(v)
		}
	}
	return f
}

// mayBe reports whether v may be the session the filter looks for.
func (f payloadFilter) mayBe(name, v string) bool {
	if !f.on {
		return true
	}
	if f.size != 0 && len(v) != f.size {
		return false
	}
	p, ok := clearPayload(v)
	if !ok {
		return false
	}
	if !f.clear {
		return f.verifiedHolds(name, v)
	}
	return bytes.Contains(p, f.id)
}

// verifiedHolds reports whether v verifies and decrypts under one of the
// store's codecs to a payload holding the identity. (Its own function: the
// payload it decodes into escapes, and the common path allocates nothing
// for it.)
func (f payloadFilter) verifiedHolds(name, v string) bool {
	var p []byte
	return securecookie.DecodeMulti(name, v, &p, f.raw...) == nil && bytes.Contains(p, f.id)
}

// clearPayload is the payload of a value SecureCookie encoded, unverified
// (and still encrypted where the codec encrypts); false for a value not
// of that form, which every SecureCookie refuses too.
func clearPayload(v string) ([]byte, bool) {
	b, err := base64.URLEncoding.DecodeString(v)
	if err != nil {
		return nil, false
	}
	_, rest, ok := bytes.Cut(b, []byte("|"))
	if !ok {
		return nil, false
	}
	enc, _, ok := bytes.Cut(rest, []byte("|"))
	if !ok {
		return nil, false
	}
	p := make([]byte, base64.URLEncoding.DecodedLen(len(enc)))
	n, err := base64.URLEncoding.Decode(p, enc)
	if err != nil {
		return nil, false
	}
	return p[:n], true
}

// rawPayload is a securecookie serializer that hands out the payload as
// it is (Deserialize into a *[]byte); payloadFilter never encodes with it.
type rawPayload struct{}

func (rawPayload) Serialize(src any) ([]byte, error) {
	return nil, errors.New("ginsecure: internal: rawPayload does not encode")
}

func (rawPayload) Deserialize(src []byte, dst any) error {
	p, ok := dst.(*[]byte)
	if !ok {
		return errors.New("ginsecure: internal: rawPayload decodes into a *[]byte")
	}
	*p = src
	return nil
}

// sessionCookies yields the value of every cookie named name in r's Cookie
// headers, in order, as net/http's Request.Cookies would split and trim
// them (a value in double quotes without its quotes), but with no limit
// on their number and without allocating for the cookies of other names.
func sessionCookies(r *http.Request, name string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for _, line := range r.Header["Cookie"] {
			for len(line) > 0 {
				var part string
				part, line, _ = strings.Cut(line, ";")
				k, v, _ := strings.Cut(part, "=")
				if trimASCII(k) != name {
					continue
				}
				v = trimASCII(v)
				if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
					v = v[1 : len(v)-1]
				}
				if !yield(v) {
					return
				}
			}
		}
	}
}

// lostSession reports whether the request presents no session of the
// name at all: no cookie of the name, or a single one that the store
// could not decode (expired, signed with a retired secret, garbage). A
// cookie that decodes is a session (foreign or not, never lost), and so
// is any of several cookies of the name: a sibling subdomain can toss
// cookies in front of the browser's own, but cannot take the browser's
// own away, so neither can end the record (DESIGN.md, "A lost session
// cookie"). several is what ownAmong counted.
// Only where the browser would have sent the session cookie with the
// token (sessionCookieSent): a request it was not sent with has lost
// nothing.
func (st *reqState) lostSession(several bool) bool {
	return st.gs.IsNew && st.gs.ID == "" && !several && st.sessionCookieSent()
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
	if !pathMatch(o.Path, st.c.Request.URL.Path) {
		return false
	}
	if o.SameSite != http.SameSiteStrictMode {
		return true
	}
	switch st.c.GetHeader("Sec-Fetch-Site") {
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
		if err := deleteSession(st.c.Request, gs.Store(), gs.Name(), gs.ID); err != nil {
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
	st.emptied = true
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
func recordSessionKey(rec *Record) string {
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
func cookieRecord(rec *Record) bool { return rec.SessionID == rec.Handle }

// hide gives the request an empty stand-in for its session: what it reads
// is nothing, what it writes is refused (ErrForeignSession), and its
// response carries no cookie of ours (guardWriter). It runs inside verify
// (and Require's identity check) only, for a session that belongs to a
// record this request's token does not open, or whose network or identity
// did not match the request (standIn).
func (st *reqState) hide() {
	st.blank = true
	st.cur = st.newSession()
}

// guardSession wraps the gin-contrib session: sessions.Default(c) returns
// it. It serves the session the request is authenticated with (healed or
// not), refuses writes of a foreign or retired session, and checks every
// write against a login that retired the session meanwhile.
type guardSession struct {
	inner   ginSession
	st      *reqState
	written bool
	// dirty names the keys this request changed: a login carries them over
	// on top of the session as the store holds it at the login's commit.
	// Kept in place for the usual one or two keys (a write costs no
	// allocation for it).
	dirty  []any
	dirtyA [4]any
	clear  bool           // Clear was called
	life   lifetimeChange // lifetime.go
	failed error          // the last Save's error: EventSaveIgnored if the handler answers below 400
}

func (s *guardSession) touch(key any) {
	s.written = true
	if s.dirty == nil {
		s.dirty = s.dirtyA[:0]
	}
	for _, k := range s.dirty {
		if k == key {
			return
		}
	}
	s.dirty = append(s.dirty, key)
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
	st := s.st
	defer s.saved(&err) // lifetime.go
	switch {
	case st.blank:
		return ErrForeignSession
	case st.logoutIdiom():
		return Logout(st.c)
	case st.deletesAtZero():
		return ErrSessionNotPersisted
	case !s.written:
		return nil
	case st.loadErr != nil:
		return storeErr(st.loadErr)
	}
	cur := st.cur
	if cookieStore(cur.Store()) && sessionID(cur) == "" {
		id, err := newSessionID(cur.Store())
		if err != nil {
			return err
		}
		cur.Values[sidKey] = id
	}
	key := ""
	if !st.created { // a session this request created: nothing retired it
		key = markerKey(cur)
	}
	if key != "" {
		// On Redis shared with the records: the write and its check in
		// one round trip (session_redis.go).
		mk, marked, handled, err := s.saveShared(cur, key)
		switch {
		case !handled:
		case err != nil:
			return err
		case !marked:
			s.written = false
			return nil
		case mk.Handle == "" && !st.sawAlive(cur):
			// Ended before this request was verified (as below): the
			// session is the browser's own now; the write stands.
			key = ""
		default:
			// Retired after this request was verified: nothing was
			// written, nothing to undo.
			return s.refuseStale()
		}
	}
	h := st.c.Writer.Header()
	n := len(h["Set-Cookie"])
	if err := cur.Store().Save(st.c.Request, st.c.Writer, cur); err != nil {
		return saveErr(err)
	}
	s.written = false
	if key == "" {
		return nil
	}
	mk, err := st.g.store.GetMarker(reqCtx(st.c), key)
	switch {
	case errors.Is(err, ErrNotFound):
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
	if mk.Handle == "" || st.g.recordExists(st.c, mk.Handle) {
		if err := deleteSession(st.c.Request, cur.Store(), cur.Name(), cur.ID); err != nil {
			st.g.log.Warn("ginsecure: could not undo a stale session write", "err", err)
		}
	}
	if lines := h["Set-Cookie"]; len(lines) > n {
		h["Set-Cookie"] = lines[:n:n]
	}
	return s.refuseStale()
}

// logoutIdiom reports whether a save is gin-contrib's logout (a negative
// MaxAge) by a request authenticated with the current token or the
// previous one inside its window (DESIGN.md, "The logout idiom").
func (st *reqState) logoutIdiom() bool {
	return st.authed && st.cur.Options != nil && st.cur.Options.MaxAge < 0
}

// refuseStale reports a session write refused because a login or Renew
// retired the session after this request was verified.
func (s *guardSession) refuseStale() error {
	st := s.st
	st.g.emit(st.c, Event{Kind: EventGraceServed, UserID: st.userID(), Handle: st.handleOf(), Detail: "session write of a retired session refused"})
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
func (g *Guard) recordExists(c *gin.Context, handle string) bool {
	_, err := g.store.Get(reqCtx(c), handle)
	return !errors.Is(err, ErrNotFound)
}

// saveErr names why a session store could not save: too large for the
// cookie or the store, the store unreachable, or as the store said.
func saveErr(err error) error {
	msg := err.Error()
	if strings.Contains(msg, "value is too long") || strings.Contains(msg, "too big") {
		return &wrapped{sentinel: ErrSessionTooLarge, cause: err}
	}
	if isOutage(err) {
		return storeErr(err)
	}
	return err
}

// Session returns the gorilla session the request is served with, as
// gin-contrib's does.
func (s *guardSession) Session() *gsessions.Session { return s.st.cur }

// ID is the session's ID on memstore and Redis, "" on the cookie store and
// for a foreign session's stand-in.
func (s *guardSession) ID() string {
	if s.st.blank || s.st.cur == nil {
		return ""
	}
	return s.st.cur.ID
}

// Get reads a value of the session.
func (s *guardSession) Get(key any) any {
	if s.st.cur == nil {
		return nil
	}
	return s.st.cur.Values[key]
}

// Set sets a value of the session.
func (s *guardSession) Set(key any, val any) {
	if s.st.cur == nil {
		return
	}
	s.st.cur.Values[key] = val
	s.touch(key)
}

// Delete removes a value of the session.
func (s *guardSession) Delete(key any) {
	if s.st.cur == nil {
		return
	}
	delete(s.st.cur.Values, key)
	s.touch(key)
}

// Clear removes every value of the session but ginsecure's own. As
// gin-contrib's, it marks the session written only when it held a value:
// Clear and Save of an empty anonymous session write nothing.
func (s *guardSession) Clear() {
	if s.st.cur == nil {
		return
	}
	s.written = s.written || clearWrites(s.st.cur.Values) // equivalence.go
	for k := range s.st.cur.Values {
		if k != handleKey && k != sidKey {
			delete(s.st.cur.Values, k)
		}
	}
	s.clear = true
}

// AddFlash adds a flash message.
func (s *guardSession) AddFlash(value any, vars ...string) {
	if s.st.cur == nil {
		return
	}
	s.st.cur.AddFlash(value, vars...)
	key := "_flash"
	if len(vars) > 0 {
		key = vars[0]
	}
	s.touch(key)
}

// Flashes returns and clears the flash messages.
func (s *guardSession) Flashes(vars ...string) []any {
	if s.st.cur == nil {
		return nil
	}
	key := "_flash"
	if len(vars) > 0 {
		key = vars[0]
	}
	s.touch(key)
	return s.st.cur.Flashes(vars...)
}

// Options sets the session's cookie options.
func (s *guardSession) Options(o sessions.Options) {
	if s.st.cur == nil || s.st.blank {
		return
	}
	s.noteLifetime(o.MaxAge)
	s.st.cur.Options = o.ToGorillaOptions()
	s.written = true
}

// guardWriter strips our cookies from the response of a request whose
// session is a stand-in (foreign, or a signed-in session presented without
// its token): a handler that saved the stand-in through gorilla directly
// would otherwise overwrite the victim's session cookie.
type guardWriter struct {
	gin.ResponseWriter
	st       *reqState
	scrubbed bool
}

func (w *guardWriter) scrub() {
	st := w.st
	if w.scrubbed || w.ResponseWriter.Written() || !st.blank {
		return
	}
	w.scrubbed = true
	h := w.ResponseWriter.Header()
	lines := h["Set-Cookie"]
	if len(lines) == 0 {
		return
	}
	kept := lines[:0:0]
	for _, l := range lines {
		if !st.isOurCookie(l) {
			kept = append(kept, l)
		}
	}
	if len(kept) == 0 {
		h.Del("Set-Cookie")
	} else {
		h["Set-Cookie"] = kept
	}
}

func (st *reqState) isOurCookie(line string) bool {
	name, _, _ := strings.Cut(line, "=")
	name = trimASCII(name)
	return name == st.g.cfg.CookieName || (st.gs != nil && name == st.gs.Name())
}

func (w *guardWriter) WriteHeaderNow()             { w.scrub(); w.ResponseWriter.WriteHeaderNow() }
func (w *guardWriter) Write(b []byte) (int, error) { w.scrub(); return w.ResponseWriter.Write(b) }
func (w *guardWriter) WriteString(s string) (int, error) {
	w.scrub()
	return w.ResponseWriter.WriteString(s)
}
func (w *guardWriter) Flush() { w.scrub(); w.ResponseWriter.Flush() }

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *guardWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
