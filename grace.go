package ginsecure

// Rotation, the grace window, replay detection and the no-clobber rule.
//
// A browser sends requests in parallel. When credentials rotate (Login,
// Renew, or every RotateEvery), requests that left the browser with the old
// credentials arrive after the rotation. They must not be refused (the
// user would see "hijacked" errors), must not gain the new privilege, and
// their responses must not carry Set-Cookie for the session or token cookie:
// the browser applies the last Set-Cookie it receives, so a straggler's
// response could put the old, now dead, credentials back and sign the user
// out.
//
// What is "old" is decided by the store, never by the cookie alone:
//
//   - After a periodic rotation or Renew the record keeps the previous
//     token's hash (PrevHash) and the rotation time. A request presenting it
//     within GracePeriod is served as the same user with the privilege from
//     before the rotation (PrevAuthAt); after the window it is a replay: 401,
//     and the session is revoked, since two parties hold its credentials.
//
//   - A login replaces the whole session: new gin-contrib session ID (or, on
//     the cookie store, a new self-contained cookie), new handle, new token.
//     The old session may have had no record at all (an anonymous visitor
//     with a cart), and on the cookie store the old cookie still decodes
//     fine after the login. So Login leaves a Marker keyed by the old
//     session's key: its gin-contrib session ID where the store has one
//     (memstore, Redis), else the SHA-256 of the old session cookie's value
//     (the cookie store, whose cookie is the session). A later request
//     presenting that session is stale: anonymous, never able to write a
//     cookie; with the old token after the window, a replay.
//
// Staleness of an anonymous request is checked lazily, only when its
// response is about to write one of our cookies (Save, or Set-Cookie in the
// headers at flush): the common anonymous request costs no store lookup.
// Where the check itself fails (store down), the write is dropped: keeping
// a cookie unchanged is always safe, overwriting it may not be.

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"
	gsessions "github.com/gorilla/sessions"
)

// handleKey is the one value ginsecure keeps in the gin-contrib session:
// the record's handle. The key is short on purpose: the cookie store signs
// and decodes every byte of the session on every request, and gin-contrib's
// memstore copies it through gob (with "ginsecure.handle" that copy took
// one more allocation per request).
const handleKey = "gsec.h"

// tokenLen is the length of an encoded token: 32 bytes, unpadded base64url.
const tokenLen = 43

var tokenEncoding = base64.RawURLEncoding.Strict()

// newToken returns a fresh token and its hash, from crypto/rand.
func newToken() (string, [32]byte, error) {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", [32]byte{}, err
	}
	return tokenEncoding.EncodeToString(raw[:]), sha256.Sum256(raw[:]), nil
}

// parseToken decodes a token cookie's value and returns its hash. Anything
// that is not exactly 32 bytes of canonical unpadded base64url is refused,
// whatever its size. It decodes by hand into a stack array: the standard
// decoder wants a []byte, and converting the cookie string would allocate
// on every request (FuzzParseToken checks it against encoding/base64).
func parseToken(v string) ([32]byte, bool) {
	if len(v) != tokenLen {
		return [32]byte{}, false
	}
	var raw [32]byte
	var bad byte
	for i := 0; i < 10; i++ {
		a, b, c, d := b64url[v[4*i]], b64url[v[4*i+1]], b64url[v[4*i+2]], b64url[v[4*i+3]]
		bad |= a | b | c | d
		raw[3*i] = a<<2 | b>>4
		raw[3*i+1] = b<<4 | c>>2
		raw[3*i+2] = c<<6 | d
	}
	a, b, c := b64url[v[40]], b64url[v[41]], b64url[v[42]]
	bad |= a | b | c
	raw[30] = a<<2 | b>>4
	raw[31] = b<<4 | c>>2
	// Canonical: the two bits the last character carries beyond the 256th
	// must be zero, or two spellings would decode to one token.
	if bad&0x80 != 0 || c&0x03 != 0 {
		return [32]byte{}, false
	}
	return sha256.Sum256(raw[:]), true
}

// b64url maps a base64url character to its 6-bit value; 0xFF marks every
// other byte.
var b64url = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xFF
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = byte(i)
	}
	return t
}()

// hashEq compares two hashes in constant time, a word at a time (it runs
// up to three times per request; subtle.ConstantTimeCompare goes byte by
// byte).
func hashEq(a, b [32]byte) bool {
	var d uint64
	for i := 0; i < 32; i += 8 {
		d |= binary.LittleEndian.Uint64(a[i:]) ^ binary.LittleEndian.Uint64(b[i:])
	}
	return d == 0
}

var zeroHash [32]byte

// reqState is everything the Guard knows about one request. It is
// allocated once per request and holds the two wrappers by value.
type reqState struct {
	g *Guard
	c *gin.Context

	w    guardWriter
	sess guardSession

	gs       *gsessions.Session // the gin-contrib session's gorilla session, or nil
	sid      string             // the session ID as presented (memstore, Redis), else ""
	handle   string
	tok      [32]byte // hash of the presented token
	hasTok   bool
	tokCookP bool // a token cookie was presented at all

	authed bool
	rec    *Record // the record the credentials opened: shared with the store, never modified
	authAt time.Time

	stale     int8 // 0 unknown, 1 stale, -1 not stale
	reissue   bool // presented the previous token of an unconfirmed rotation, past its window
	untrusted bool // the session names a record the token does not open: hide it, write nothing
	viaMarker bool // the record was found through a Renew's marker: the session no longer names it
	rotated   bool // this request minted the credentials: its cookies go out
	closed    bool // Logout ran: no further session writes
	blank     bool // the request sees an empty stand-in for its session (see hide)
	scrubbed  bool // the response's cookies were decided (guardWriter.scrub)
	failure   error
}

// markStale records whether the request's credentials are stale. Only
// verify (and the lazy isStale of a request verify left undecided) calls
// it: Middleware skips the response scrubbing of a request verify found
// current, so a request must never turn stale after verify.
func (st *reqState) markStale(v bool) {
	if v {
		st.stale = 1
	} else {
		st.stale = -1
	}
}

// ginSession is what sessions.Sessions puts in the context: a Session that
// also hands out its gorilla session.
type ginSession interface {
	sessions.Session
	Session() *gsessions.Session
}

// begin loads what the request presents and installs the session wrapper
// that enforces the no-clobber rule on Save; the response writer's wrapper
// is made ready here and installed by Middleware where the request needs it.
func (g *Guard) begin(c *gin.Context) *reqState {
	st := &reqState{g: g, c: c}
	st.w.ResponseWriter = c.Writer // installed once verify says it is needed
	st.w.st = st
	st.sess.st = st

	if v, ok := c.Get(sessions.DefaultKey); ok {
		if inner, ok := v.(ginSession); ok {
			st.sess.inner = inner
			c.Set(sessions.DefaultKey, &st.sess)
			st.gs = inner.Session()
		}
	}
	if st.gs == nil {
		c.Set(reqKey{}, st) // stateOf finds it here instead
	}
	if st.gs != nil {
		g.warnWeakSessionCookie(st.gs.Options)
		st.sid = st.gs.ID
		st.handle, _ = st.gs.Values[handleKey].(string)
	} else {
		g.warnNoSessions()
	}
	if v, ok := tokenCookie(c.Request, g.cfg.CookieName); ok {
		st.tokCookP = true
		st.tok, st.hasTok = parseToken(v)
	}
	return st
}

// tokenCookie finds the token cookie's value in the Cookie headers without
// allocating: it runs on every request. Like (*http.Request).Cookie it
// takes a pair whose name is exactly name (ASCII spaces around the pair
// and before "=" allowed, one pair of quotes stripped); unlike it, it prefers
// the first pair that parses as a token, so a malformed duplicate in front
// cannot hide the real one. Only ginsecure reads this cookie;
// FuzzTokenCookieAgreesWithNetHTTP holds it to net/http's reading.
//
// It searches for the name rather than splitting every pair: the session
// cookie in front of it is long, and a name occurrence counts only where a
// pair starts (nothing but ASCII spaces back to ";" or the line's start)
// and ends (nothing but ASCII spaces up to "="). A cookie name holds no
// space, ";" or "=", so that is exactly the pair split-and-trim would find.
func tokenCookie(r *http.Request, name string) (string, bool) {
	var first string
	found := false
	for _, line := range r.Header["Cookie"] {
		for off := 0; off < len(line); {
			i := strings.Index(line[off:], name)
			if i < 0 {
				break
			}
			i += off
			off = i + 1
			j := i
			for j > 0 && isASCIISpace(line[j-1]) {
				j--
			}
			if j > 0 && line[j-1] != ';' {
				continue // inside another pair's name or value
			}
			k := i + len(name)
			for k < len(line) && isASCIISpace(line[k]) {
				k++
			}
			if k == len(line) || line[k] != '=' {
				continue // a longer name, or no value
			}
			v := line[k+1:]
			if e := strings.IndexByte(v, ';'); e >= 0 {
				v = v[:e]
			}
			for len(v) > 0 && isASCIISpace(v[len(v)-1]) {
				v = v[:len(v)-1]
			}
			if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			if len(v) == tokenLen {
				return v, true
			}
			if !found {
				first, found = v, true
			}
		}
	}
	return first, found
}

// trimASCII trims what net/http trims around cookie names and values
// (textproto.TrimString): ASCII space, tab, CR and LF only. Trimming
// Unicode spaces too would take a cookie named "\u00a0__Host-ginsecure",
// which browsers do not hold to the __Host- rules and net/http ignores,
// for the token.
func trimASCII(s string) string {
	for len(s) > 0 && isASCIISpace(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isASCIISpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

func isASCIISpace(b byte) bool { return b == ' ' || b == '\t' || b == '\r' || b == '\n' }

// sessionCookie is the session cookie's value as presented, read only when
// a marker needs it (the cookie store, whose cookie is the session).
func (st *reqState) sessionCookie() string {
	if st.gs == nil {
		return ""
	}
	ck, err := st.c.Request.Cookie(st.gs.Name())
	if err != nil {
		return ""
	}
	return ck.Value
}

// nonceKey holds random bytes that ginsecure adds to an anonymous session
// on the cookie store the first time it is saved. The cookie store signs
// without randomness, so two visitors saving the same values in the same
// second would get byte-identical cookies, and a login by one would leave
// a marker (keyed by the cookie's hash) that makes the other's requests
// stale: their writes silently dropped.
const nonceKey = "ginsecure.n"

func (st *reqState) addNonce() {
	gs := st.gs
	if gs == nil || gs.Values[handleKey] != nil || gs.Values[nonceKey] != nil {
		return
	}
	if _, ok := gs.Store().(*gsessions.CookieStore); !ok {
		return // memstore and Redis keys are random already
	}
	var n [12]byte
	if _, err := rand.Read(n[:]); err == nil {
		gs.Values[nonceKey] = base64.RawURLEncoding.EncodeToString(n[:])
	}
}

// sessionKey identifies the session the request presented, for markers.
func (st *reqState) sessionKey() string {
	if st.sid != "" {
		return "s:" + st.sid
	}
	raw := st.sessionCookie()
	if raw == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(raw))
	return "c:" + hex.EncodeToString(sum[:])
}

// isStale reports whether the request presented credentials that a
// rotation has since retired; it asks the store only when nothing else
// decided it.
func (st *reqState) isStale() bool {
	if st.rotated {
		return false
	}
	if st.stale != 0 {
		return st.stale > 0
	}
	key := st.sessionKey()
	if key == "" {
		st.markStale(false)
		return false
	}
	_, err := st.g.store.GetMarker(reqCtx(st.c), key)
	switch {
	case err == nil:
		st.markStale(true)
	case errors.Is(err, ErrNotFound):
		st.markStale(false)
	default:
		// Cannot tell: keep the browser's cookies as they are.
		st.g.log.Warn("ginsecure: store unreachable deciding staleness; dropping cookie writes", "err", err)
		st.markStale(true)
	}
	return st.stale > 0
}

// guardWriter strips our cookies from a stale request's response before
// the headers leave.
type guardWriter struct {
	gin.ResponseWriter
	st *reqState
}

func (w *guardWriter) scrub() {
	st := w.st
	if st.scrubbed || w.ResponseWriter.Written() {
		return
	}
	st.scrubbed = true
	h := w.ResponseWriter.Header()
	lines := h["Set-Cookie"]
	if len(lines) == 0 {
		return
	}
	ours := false
	for _, l := range lines {
		if st.isOurCookie(l) {
			ours = true
			break
		}
	}
	// A distrusted request writes no cookie of ours either: its session is
	// a stand-in (hide), and a handler that saved the stand-in through
	// gorilla directly would otherwise overwrite the victim's session
	// cookie. Login clears blank when it gives the request a session of
	// its own.
	if !ours || !(st.blank || st.isStale()) {
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
	if st.failure == nil { // a refusal is its own event
		st.g.emit(st.c, Event{Kind: EventGraceServed, UserID: st.userID(), Handle: st.handle, Detail: "cookie writes of a stale request dropped"})
	}
}

func (st *reqState) isOurCookie(line string) bool {
	name, _, _ := strings.Cut(line, "=")
	name = strings.TrimSpace(name)
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

// guardSession wraps the gin-contrib session so that sessions.Default(c)
// cannot save a retired session: on memstore and Redis a straggler's Save
// would re-create the old key with a full MaxAge and send its cookie back.
type guardSession struct {
	inner ginSession
	st    *reqState
	stand *gsessions.Session // with st.blank: the empty stand-in the request sees, never saved
}

// hide gives the request an empty stand-in for its session (distrust):
// what it reads is nothing, what it writes is dropped at the end. It runs
// inside verify only, which then leaves the request untrusted, so that
// Middleware keeps the response writer's wrapper on it.
func (st *reqState) hide() {
	st.blank = true
	var store gsessions.Store
	name, opts := "", gsessions.Options{}
	if st.gs != nil {
		store, name = st.gs.Store(), st.gs.Name()
		if st.gs.Options != nil {
			opts = *st.gs.Options
		}
	}
	st.sess.stand = gsessions.NewSession(store, name)
	st.sess.stand.Options = &opts
	st.sess.stand.IsNew = true
}

// Save saves the session unless the request is stale or signed out, in
// which case the write is dropped and the browser keeps what it has.
func (s *guardSession) Save() error {
	if s.st.closed || s.st.blank {
		return nil
	}
	if s.st.isStale() {
		s.st.g.emit(s.st.c, Event{Kind: EventGraceServed, UserID: s.st.userID(), Handle: s.st.handle, Detail: "session write of a stale request dropped"})
		return nil
	}
	s.st.addNonce()
	return s.inner.Save()
}

// Session returns the underlying gorilla session, as gin-contrib's does.
func (s *guardSession) Session() *gsessions.Session {
	if s.st.blank {
		return s.stand
	}
	return s.st.gs
}

// ID is the underlying session's ID, or "" for a hidden session.
func (s *guardSession) ID() string {
	if s.st.blank {
		return ""
	}
	return s.inner.ID()
}

// Get reads a value of the session.
func (s *guardSession) Get(key any) any {
	if s.st.blank {
		return s.stand.Values[key]
	}
	return s.inner.Get(key)
}

// Set sets a value of the session.
func (s *guardSession) Set(key any, val any) {
	if s.st.blank {
		s.stand.Values[key] = val
		return
	}
	s.inner.Set(key, val)
}

// Delete removes a value of the session.
func (s *guardSession) Delete(key any) {
	if s.st.blank {
		delete(s.stand.Values, key)
		return
	}
	s.inner.Delete(key)
}

// Clear removes every value of the session.
func (s *guardSession) Clear() {
	if s.st.blank {
		clear(s.stand.Values)
		return
	}
	s.inner.Clear()
}

// AddFlash adds a flash message.
func (s *guardSession) AddFlash(value any, vars ...string) {
	if s.st.blank {
		return
	}
	s.inner.AddFlash(value, vars...)
}

// Flashes returns and clears the flash messages.
func (s *guardSession) Flashes(vars ...string) []any {
	if s.st.blank {
		return nil
	}
	return s.inner.Flashes(vars...)
}

// Options sets the session's cookie options.
func (s *guardSession) Options(o sessions.Options) {
	if s.st.blank {
		return
	}
	s.inner.Options(o)
}

// withinGrace reports whether a rotation at t is still inside the window.
func (g *Guard) withinGrace(t, now time.Time) bool {
	return g.cfg.GracePeriod > 0 && now.Sub(t) <= g.cfg.GracePeriod
}

// errRaced tells Update's caller that another request changed the token
// first.
var errRaced = errors.New("ginsecure: credentials changed concurrently")

// errTouched tells Update's caller that another request recorded the
// activity first, so there is nothing to write.
var errTouched = errors.New("ginsecure: activity already recorded")

// unconfirmedGrace bounds how long the previous token is honoured while
// the browser has not yet presented the new one (a slow rotating request,
// an aborted one, a lost response). Past it, the old token gets a fresh
// rotation instead of a refusal.
const unconfirmedGrace = 30 * time.Second

type prevVerdict int

const (
	prevGrace   prevVerdict = iota // a straggler: served with the old privilege, no cookie writes
	prevReplay                     // a copy came back after the window: refused, session revoked
	prevReissue                    // the new token never arrived: rotate again for this browser
)

// prevToken decides a request that presents the record's previous token.
//
// The window starts when the browser shows it has the new token (the first
// request presenting it sets ConfirmedAt), not when the server minted it:
// a rotating request may take seconds to answer, or never deliver its
// Set-Cookie (aborted, hijacked), and every request the browser sends until
// then still carries the old token. Counting from the mint would call those
// replays and revoke a legitimate session. Once confirmed, the old token
// lives GracePeriod more; then it is a replay, since the browser no longer
// sends it and someone else must hold a copy. Unconfirmed, it is served as
// a straggler for unconfirmedGrace, then reissued. With GracePeriod < 0
// there is no window at all.
func (g *Guard) prevToken(r *Record, now time.Time) prevVerdict {
	if g.cfg.GracePeriod < 0 {
		return prevReplay
	}
	if !r.ConfirmedAt.IsZero() {
		if g.withinGrace(r.ConfirmedAt, now) {
			return prevGrace
		}
		return prevReplay
	}
	if now.Sub(r.RotatedAt) <= max(g.cfg.GracePeriod, unconfirmedGrace) {
		return prevGrace
	}
	return prevReissue
}

// due says which of refresh's writes the request needs: rotate the token
// (RotateEvery passed, or a reissue), confirm a rotation. Most requests
// need none, and verify then skips refresh.
func (g *Guard) due(c *gin.Context, st *reqState, now time.Time) (rotate, confirm bool) {
	rotate = st.reissue || (g.cfg.RotateEvery > 0 && atLeast(now, st.rec.IssuedAt, g.cfg.RotateEvery) &&
		// A WebSocket upgrade answers with its own headers: the new token
		// would never reach the browser.
		c.GetHeader("Upgrade") == "")
	confirm = !st.reissue && st.rec.PrevHash != zeroHash && st.rec.ConfirmedAt.IsZero()
	return rotate, confirm
}

// refresh does the one store write an authenticated request may need, in
// one atomic update: rotate the token when RotateEvery has passed (or
// reissue it, see prevToken), confirm a rotation the first time the new
// token is presented, record activity once per TouchInterval. verify calls
// it only when due or the touch check found one of them needed; the update
// decides confirmation and touch again on the stored record, which another
// request may have written first. When another request changed the token
// first, this one is served as a straggler.
func (g *Guard) refresh(c *gin.Context, st *reqState, now time.Time, rotate bool) error {
	var tok string
	var next [32]byte
	if rotate {
		var err error
		if tok, next, err = newToken(); err != nil {
			return err
		}
	}
	presented, reissue := st.tok, st.reissue
	readTok, readRotated := st.rec.TokenHash, st.rec.RotatedAt
	rec, err := g.store.Update(reqCtx(c), st.handle, func(r *Record) error {
		if reissue {
			// Exactly the rotation this request judged: a parallel request
			// that reissued first (or a confirmation) wins, and this one
			// is served as a straggler.
			if !hashEq(r.PrevHash, presented) || !r.ConfirmedAt.IsZero() ||
				!hashEq(r.TokenHash, readTok) || !r.RotatedAt.Equal(readRotated) {
				return errRaced
			}
			// The unconfirmed token is set aside (a replay if it ever
			// shows up); the old one stays the previous, and a raise of
			// privilege that never reached the browser (Renew) is not
			// handed to it.
			r.AbandonedHash = r.TokenHash
			r.TokenHash, r.IssuedAt, r.RotatedAt = next, now, now
			r.AuthAt, r.PrevRaised = r.PrevAuthAt, false
			r.LastSeen, r.ExpiresAt = now, g.expiry(r.CreatedAt, now)
			return nil
		}
		if !hashEq(r.TokenHash, presented) {
			return errRaced
		}
		needTouch := now.Sub(r.LastSeen) >= g.cfg.TouchInterval
		needConfirm := r.PrevHash != zeroHash && r.ConfirmedAt.IsZero()
		if !rotate && !needTouch && !needConfirm {
			// A parallel request (on any server) did it first: one write
			// per TouchInterval, not one per request in flight.
			return errTouched
		}
		if needConfirm {
			r.ConfirmedAt = now
		}
		if rotate {
			rotateRecord(r, next, now, false)
		}
		if rotate || needTouch {
			r.LastSeen = now
			r.ExpiresAt = g.expiry(r.CreatedAt, now)
		}
		return nil
	})
	switch {
	case err == nil:
		st.rec = &rec
		if rotate {
			st.rotated, st.tok = true, next
			g.setToken(c, tok)
			if reissue && st.viaMarker {
				// Renew moved the session to an ID this browser never
				// received: give it a session that names the record again.
				if err := g.regenerate(c, st, rec.Handle); err != nil {
					return err
				}
			}
			detail := ""
			if reissue {
				detail = "reissued: the previous new token never reached the browser"
			}
			g.emit(c, Event{Kind: EventRotate, UserID: rec.UserID, Handle: rec.Handle, Detail: detail})
		}
		return nil
	case errors.Is(err, errTouched):
		st.rec = &rec
		return nil
	case errors.Is(err, errRaced):
		if hashEq(rec.PrevHash, presented) && g.prevToken(&rec, now) == prevGrace {
			// Another request of this browser rotated first.
			st.rec, st.reissue = &rec, false
			st.markStale(true)
			st.authAt = rec.PrevAuthAt
			g.emit(c, Event{Kind: EventGraceServed, UserID: rec.UserID, Handle: rec.Handle, Detail: "lost the rotation race"})
			return nil
		}
		return ErrTokenMismatch
	case errors.Is(err, ErrNotFound):
		return ErrExpired
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

// rotateRecord makes next the record's token: the current one becomes the
// previous (with the privilege it had), and the new one's grace window
// waits for its first use. raised says whether the rotation raised
// privilege (Renew).
func rotateRecord(r *Record, next [32]byte, now time.Time, raised bool) {
	r.PrevHash, r.RotatedAt, r.PrevAuthAt, r.PrevRaised = r.TokenHash, now, r.AuthAt, raised
	r.TokenHash, r.IssuedAt, r.ConfirmedAt = next, now, time.Time{}
}

// longerThan reports now.Sub(t) > d, and atLeast now.Sub(t) >= d, for the
// checks every request makes: Sub guards against overflow by adding the
// result back, which made four of them cost more than the record lookup.
// (Add saturates where Sub would, so the answers agree: FuzzElapsedAgreesWithSub.)
func longerThan(now, t time.Time, d time.Duration) bool { return now.After(t.Add(d)) }
func atLeast(now, t time.Time, d time.Duration) bool    { return !now.Before(t.Add(d)) }

// expiry is when the store may forget a record last seen at lastSeen.
func (g *Guard) expiry(created, lastSeen time.Time) time.Time {
	idle := lastSeen.Add(g.cfg.IdleTimeout)
	abs := created.Add(g.cfg.AbsoluteTimeout)
	if idle.Before(abs) {
		return idle
	}
	return abs
}

// setToken sends the token cookie. It lives as long as a session can, so a
// browser restart keeps both cookies or neither.
func (g *Guard) setToken(c *gin.Context, tok string) {
	g.sendTokenCookie(c, tok, int(g.cfg.AbsoluteTimeout/time.Second))
}

func (g *Guard) expireToken(c *gin.Context) { g.sendTokenCookie(c, "", -1) }

// sendTokenCookie writes the token cookie with the attributes the __Host-
// prefix demands (Secure, Path=/, no Domain), HttpOnly and SameSite=Lax.
func (g *Guard) sendTokenCookie(c *gin.Context, value string, maxAge int) {
	http.SetCookie(c.Writer, &http.Cookie{
		Name: g.cfg.CookieName, Value: value, Path: "/", MaxAge: maxAge,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
}

// expireSessionCookie tells this browser to drop its session cookie,
// without touching the session's server-side data (which may belong to the
// victim of whoever sent this request).
func (st *reqState) expireSessionCookie() {
	if st.sessionCookie() == "" {
		return
	}
	opts := gsessions.Options{MaxAge: -1, Path: "/"}
	if st.gs.Options != nil {
		opts = *st.gs.Options
		opts.MaxAge = -1
	}
	http.SetCookie(st.c.Writer, gsessions.NewCookie(st.gs.Name(), "", &opts))
}

// markRotated leaves the Marker that makes the request's old session stale
// for everyone else who still presents it. handle is the record that lives
// on (Renew), or "" when the old one is gone (Login).
func (g *Guard) markRotated(c *gin.Context, key string, tok [32]byte, handle string, now time.Time) error {
	if key == "" {
		return nil
	}
	return g.store.SetMarker(reqCtx(c), key, Marker{At: now, TokenHash: tok, Handle: handle, ExpiresAt: now.Add(g.cfg.IdleTimeout)})
}

// checkMarker decides a request whose token cannot be matched to a live
// record: if its session was rotated away by a login, it is a grace request
// (anonymous) inside the window and a replay after it.
func (g *Guard) checkMarker(c *gin.Context, st *reqState, now time.Time) (found bool, err error) {
	key := st.sessionKey()
	if key == "" {
		return false, nil
	}
	mk, err := g.store.GetMarker(reqCtx(c), key)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, storeErr(err)
	}
	st.markStale(true)
	if mk.TokenHash == zeroHash || !st.hasTok || !hashEq(mk.TokenHash, st.tok) {
		// The old session had no token, or this is not it: an anonymous
		// straggler of the pre-login page.
		return true, nil
	}
	if mk.Handle != "" && st.handle == "" {
		// Renew moved the session to a new ID (memstore, Redis), so the old
		// one no longer names its record: the record's PrevHash decides, the
		// same user with the old privilege or a replay that revokes, exactly
		// as where the old cookie still carries the handle.
		st.handle, st.viaMarker = mk.Handle, true
		return true, nil
	}
	if g.withinGrace(mk.At, now) {
		g.emit(c, Event{Kind: EventGraceServed, Handle: st.handle, Detail: "pre-login credentials inside the grace window"})
		return true, nil
	}
	g.emit(c, Event{Kind: EventReplay, Handle: st.handle, Detail: "credentials retired by a login came back after the grace window"})
	return true, ErrReplay
}

// userID is the user of the record the request opened, for events; "" when
// it opened none.
func (st *reqState) userID() string {
	if st.rec == nil {
		return ""
	}
	return st.rec.UserID
}
