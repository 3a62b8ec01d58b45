package ginsecure

// Login: a browser signed in, with the steps it takes in order; the
// sign-in form's session (PrepareSignIn); a parallel login from the same
// session joined (joinParallelLogin).

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"time"
	"unique"

	"github.com/gin-gonic/gin"
	"github.com/ginsecure/ginsecure/storeext"
	gsessions "github.com/gorilla/sessions"
)

// Login signs userID in on this request's browser, after the application
// has checked the user's credentials. It is all-or-nothing: either the
// browser gets a new session (a new gin-contrib session ID, or a new cookie
// on the cookie store: a session ID planted before login is worth nothing
// after it; data carried over from an anonymous session as
// Config.CarryOver says, all of the same user's own session, nothing of
// another user's), a new record bound to userID, the client IP and the
// time, and a new token; or it returns an error and leaves nothing behind
// (no record, index entry or marker that matters) and the visitor's
// session as it was.
//
// Its steps, in an order no response order can undo: a marker from the
// replaced session to the new record (set once), the record, the new
// session saved, then the replaced record and session retired, then the
// user's least recently used sessions evicted over MaxSessionsPerUser
// (among the sessions a request has presented: the new one counts from
// its first request, see UnpresentedAge), and the token sent. The handler
// need not call Save. On a Redis whose sessions the records' store keeps
// beside the records (storeext.SharedRedis, redisstore.NewSessionStore), neighbouring steps share a script, in the same
// order: the marker and the re-read of the replaced session, the record
// and the new session, the replaced record's retirement and its session's
// deletion. Should a step fail, what the steps before it wrote is taken
// back, newest first.
//
// Errors: ErrInvalidUserID, ErrTooManySessions (RejectExtraLogins: the
// user has MaxSessionsPerUser presented sessions), ErrSessionTooLarge (the
// carried-over session does not fit the cookie or the store),
// ErrSessionNotPersisted (a Redis session store with MaxAge <= 0 deletes
// every session it saves), ErrStoreUnavailable, and where ginsecure is
// not set up an ErrMisconfigured naming the mistake (ErrNoMiddleware,
// ErrNoSessionsMiddleware, ErrSessionsMany).
func Login(c *gin.Context, userID string) error {
	st, err := guarded(c)
	if err != nil {
		return err
	}
	l, err := newLogin(st, userID)
	if err != nil {
		return err
	}
	l.client = st.g.loginAddr(c) // ipguard.go: the address the record is bound to
	err = l.run()
	st.g.flush(c, st) // events.go
	return err
}

// run is Login's steps, in order, on what newLogin checked and drew.
func (l *login) run() error {
	joined, err := l.mark()
	if err != nil || joined {
		return l.fail(err)
	}
	if err := l.carry(); err != nil {
		return l.fail(err)
	}
	if err := l.create(); err != nil {
		return l.fail(err)
	}
	if err := l.saveSession(); err != nil {
		return l.fail(err)
	}
	if err := l.retire(); err != nil {
		return l.fail(err)
	}
	l.evict()
	l.send()
	return nil
}

// login is one Login on its way: what it has made so far, and the undo
// list that takes it back should a later step fail.
type login struct {
	g      *Guard
	st     *reqState
	userID string
	client netip.Addr // the client's address (loginAddr), the zero Addr for none
	ctx    context.Context
	// cleanup is the context the undo list runs with: what a failed login
	// removes, it removes even when its client has gone away: a write
	// whose reply was lost (the request's context ended on the way, a
	// connection broke) may have been applied.
	cleanup context.Context
	now     time.Time
	undo    undo

	handle string // the new record's
	m      minted // the new token
	sid    string // the new session's identity

	prior    *storeext.Record   // the record the login replaces, nil for none
	replaced *gsessions.Session // the session it replaces
	oldKey   string             // that session's marker key, "" for none (a stand-in)
	carryR   carryRule          // what of the replaced session is carried over
	reread   *gsessions.Session // the replaced session, read with the marker
	owner    string             // the record whose data reread may hold ("" for an anonymous session's)

	rec    storeext.Record    // the new record
	lim    storeext.Limit     // MaxSessionsPerUser, as the creation applies it
	ns     *gsessions.Session // the new session
	shared *sharedSession     // ns, written with the record by one script (a shared Redis), or nil
	gone   bool               // the replaced session went in its record's retiring write
}

// newLogin checks that a login can happen on st (a valid user ID, the
// session store reachable and able to keep a login) and draws the new
// credentials: a handle, a token and a session ID.
func newLogin(st *reqState, userID string) (*login, error) {
	if err := checkUserID(userID); err != nil {
		return nil, err
	}
	if st.loadErr != nil {
		return nil, storeErr(st.loadErr)
	}
	if err := st.g.checkSessionStore(st.gs); err != nil {
		return nil, err
	}
	ctx := st.io.ctx()
	l := &login{g: st.g, st: st, userID: userID, ctx: ctx, cleanup: context.WithoutCancel(ctx), now: st.g.now()}
	var err error
	if l.handle, err = newHandle(); err != nil {
		return nil, err
	}
	if l.m, err = st.g.mint(); err != nil {
		return nil, err
	}
	l.sid = l.handle // on the cookie store a signed-in session's identity is its handle
	if !cookieStore(st.gs.Store()) {
		if l.sid, err = newSessionID(st.gs.Store()); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// fail runs the undo list, newest first, and returns err.
func (l *login) fail(err error) error {
	l.undo.run(l.cleanup)
	return err
}

// mark is step 1, the marker from the replaced session to the new record,
// first: a straggler that writes the replaced session from now on finds
// it and undoes its write, and a browser that ends up with the replaced
// session next to the new token is healed. Not for a foreign session: it
// is not this browser's to retire. Where another login from this very
// session got there first, the same user submitting twice joins that
// login's record (joined), so that whichever response (or straggler) the
// browser applies last, its cookies belong together.
func (l *login) mark() (joined bool, err error) {
	st := l.st
	l.prior, l.replaced, l.oldKey = st.replacing(l.userID)
	if l.carryR, err = l.g.carryFrom(st, l.userID, l.oldKey); err != nil { // carryover.go
		return false, err
	}
	l.owner, _ = st.cur.Values[handleKey].(string)
	if l.oldKey == "" {
		return false, nil
	}
	l.reread, err = l.g.markAndRead(l.ctx, l.oldKey, storeext.Marker{Handle: l.handle, At: l.now, ExpiresAt: l.now.Add(l.g.cfg.AbsoluteTimeout)}, st.cur, l.carryR != carryNone && st.served != servedEmptied) // session_shared.go
	switch {
	case errors.Is(err, storeext.ErrMarkerExists):
		if joined, err := l.g.joinParallelLogin(st, l.oldKey, l.userID, l.client, l.m, l.now); joined || err != nil {
			return joined, err
		}
		return false, l.followMoved()
	case err != nil:
		// Perhaps set all the same: a marker left behind would refuse
		// every later write of the visitor's session as stale.
		l.undo.push(l.dropMarker)
		return false, storeErr(err)
	}
	l.undo.push(l.dropMarker)
	return false, nil
}

// followMoved is mark's where the marker was set before and the login
// was not joined: another user's login retired this session (start
// afresh), or the same user's session moved on since this request was
// verified, and the login carries it from there (movedSession), marking
// it where it is the replaced record's own.
func (l *login) followMoved() error {
	moved, at, key, err := l.g.movedSession(l.ctx, l.st, l.oldKey, l.userID, l.prior, storeext.Marker{Handle: l.handle, At: l.now, ExpiresAt: l.now.Add(l.g.cfg.AbsoluteTimeout)})
	if err != nil {
		return err
	}
	marked := l.oldKey
	l.oldKey = key
	switch {
	case moved != nil && at == "":
		l.replaced, l.carryR = moved, carryNone // another user's session, ended: nothing carried
	case moved != nil:
		l.reread, l.owner, l.carryR = moved, at, carryOwn
		if key != "" {
			l.replaced = moved
		}
	case l.carryR != carryNone:
		taken, err := l.g.anonymousTaken(l.ctx, marked, l.userID)
		if err != nil {
			return err
		}
		if taken == carryNone {
			l.carryR = carryNone // an ending's tombstone, or another user's login took it
		}
	}
	if l.oldKey != "" {
		l.undo.push(l.dropMarker)
	}
	return nil
}

// anonymousTaken is the carry rule of a login of userID over a session
// (anonymous, or the user's own that did not move to a live record) whose
// marker (under key) was set first by another login it did not join or
// by an ending: carryNone for an ending's tombstone, or where that login
// was another user's, which took the session and its values (DESIGN.md,
// "Carry-over"), so that no two users' sessions are given the same
// guest's data; otherwise carryAnonymous. Two reads, only on this path.
func (g *Guard) anonymousTaken(ctx context.Context, key, userID string) (carryRule, error) {
	mk, err := g.store.GetMarker(ctx, key)
	if errors.Is(err, storeext.ErrNotFound) {
		return carryAnonymous, nil
	}
	if err != nil {
		return carryNone, storeErr(err)
	}
	if mk.Handle == "" {
		return carryNone, nil // a tombstone: an ending's (carryFrom)
	}
	r, err := g.store.Get(ctx, mk.Handle)
	switch {
	case errors.Is(err, storeext.ErrNotFound):
		return carryAnonymous, nil
	case err != nil:
		return carryNone, storeErr(err)
	case r.UserID != userID:
		return carryNone, nil
	}
	return carryAnonymous, nil
}

// dropMarker takes back this login's marker: only this login's is
// removed (it names the login's handle).
func (l *login) dropMarker(ctx context.Context) {
	if err := l.g.store.DeleteMarker(ctx, l.oldKey, l.handle); err != nil {
		l.g.log.Warn("ginsecure: could not remove the marker of a failed login", "err", err)
	}
}

// carry is step 2: the new session's values, what Config.CarryOver
// keeps of the replaced session, and the new record's handle.
func (l *login) carry() error {
	values := map[any]any{}
	if l.carryR != carryNone {
		v, err := l.st.loginValues(l.reread, l.owner)
		if err != nil {
			return err
		}
		values = l.g.carried(v, l.carryR)
	}
	values[handleKey] = l.handle
	l.ns = l.st.freshSession(l.sid, values)
	return nil
}

// create is step 3, the record, with the new session on a Redis shared
// with boj/redistore (one script, session_shared.go: the session is
// written only once the record is). The user's sessions over
// MaxSessionsPerUser make room for it, unless RejectExtraLogins.
func (l *login) create() error {
	g := l.g
	l.rec = g.newRecord(l.st.io.r, l.client, l.userID, l.m.hash, l.handle, l.sid, l.now)
	l.rec.TokenKey = l.m.key
	l.lim = storeext.Limit{Max: g.cfg.MaxSessionsPerUser, Reject: g.cfg.RejectExtraLogins, Unpresented: MaxUnpresented}
	if l.prior != nil && l.prior.UserID == l.userID {
		l.lim.Replacing = l.prior.Handle // signing in again from this browser
	}
	shared, err := g.prepareShared(l.ns)
	if err != nil {
		return g.saveErr(l.ns.Store(), err)
	}
	l.shared = shared
	if shared != nil {
		err = shared.store.CreateWithSession(l.ctx, l.rec, l.lim, shared.key, shared.value, shared.ttl)
	} else {
		err = g.store.Create(l.ctx, l.rec, l.lim)
	}
	switch {
	case errors.Is(err, ErrTooManySessions):
		l.st.note(Event{Kind: EventLimit, UserID: l.userID, Err: err, Detail: "login refused: too many sessions"})
		return ErrTooManySessions
	case err != nil:
		// Perhaps created all the same (a reply lost): the record would
		// hold a slot of MaxSessionsPerUser, the session a key.
		l.undo.push(func(ctx context.Context) { g.dropFailedLogin(ctx, l.st.io.r, l.handle, l.m.hash, shared, l.ns) })
		return storeErr(err)
	}
	l.undo.push(l.dropRecord)
	return nil
}

// dropRecord takes back the login's record.
func (l *login) dropRecord(ctx context.Context) {
	if err := l.g.store.Delete(ctx, l.handle); err != nil {
		l.g.log.Error("ginsecure: could not remove the record of a failed login", "err", err)
	}
}

// saveSession is step 4, the new session saved (on a shared Redis,
// written already: its cookie), before anything is retired.
func (l *login) saveSession() error {
	x, hdr := l.st.io, l.st.io.w.Header()
	n := len(hdr["Set-Cookie"])
	if l.shared != nil {
		http.SetCookie(x.w, l.shared.cookie)
	} else if err := l.ns.Store().Save(x.r, x.w, l.ns); err != nil {
		return l.g.saveErr(l.ns.Store(), err)
	}
	l.undo.push(func(context.Context) {
		if err := deleteSession(x.r, l.ns.Store(), l.ns.Name(), l.ns.ID); err != nil {
			l.g.log.Error("ginsecure: could not remove the session of a failed login", "err", err)
		}
		if lines := hdr["Set-Cookie"]; len(lines) > n {
			hdr["Set-Cookie"] = lines[:n:n]
		}
	})
	return nil
}

// retire is step 5: what the browser presented, its record and its
// session, retired. A record that cannot be retired would leave the old
// credentials working next to the new ones: the login is undone instead.
// On a Redis shared with the sessions, the replaced session goes in the
// retiring write of its record.
func (l *login) retire() error {
	if l.prior != nil {
		withSession := ""
		if l.oldKey != "" {
			withSession = l.g.sharedKey(l.replaced)
		}
		var err error
		if l.gone, err = l.g.retireReplaced(l.ctx, l.prior, l.handle, withSession); err != nil && l.g.retiredFor(l.cleanup, l.prior.Handle, l.handle) {
			// The retirement was applied, its reply lost: the replaced
			// record is dead (on a shared Redis its session too, in the
			// same write), so undoing the login would sign the browser
			// out. It commits.
			err = nil
		}
		if err != nil {
			return storeErr(err)
		}
	}
	if l.oldKey != "" && !l.gone {
		if err := deleteSession(l.st.io.r, l.replaced.Store(), l.replaced.Name(), l.replaced.ID); err != nil {
			l.g.log.Warn("ginsecure: could not retire the replaced session", "err", err)
		}
	}
	return nil
}

// evict is step 6: the user's sessions over the limit signed out, now
// that the new session is saved.
func (l *login) evict() {
	g, lim := l.g, l.lim
	if lim.Max <= 0 || lim.Reject {
		return
	}
	evicted, err := g.store.Trim(l.ctx, l.userID, lim.Max)
	if err != nil {
		g.log.Warn("ginsecure: could not sign out sessions over the limit", "err", err)
	}
	g.retireEvicted(l.ctx, g.sessionsOf(l.st), evicted) // binding.go: their data goes as every ending's does
	for _, h := range evicted {
		l.st.note(Event{Kind: EventLimit, UserID: l.userID, Handle: h, Detail: "signed out by a newer login"})
	}
}

// send is step 7: the token sent; the request is now the new session's.
func (l *login) send() {
	st := l.st
	st.cur, st.sup = l.ns, supCurrent
	st.unhide()
	st.signedIn(&l.rec, l.m, l.now, "")
}

// signedIn makes the request rec's, signed in on the token m now, and
// sends the token: what Login and a joined login end with. detail goes
// into the EventLogin.
func (st *reqState) signedIn(rec *storeext.Record, m minted, now time.Time, detail string) {
	g := st.g
	st.sess.reset()
	g.setToken(st.io.w, rec.Handle, m.secret, st.tokenMaxAge(rec)) // a new login's record has no CookieMaxAge: cookieMaxAge's
	g.offerDeviceBinding(st.io, rec, m.hash)                       // dbsc.go
	st.loggedIn(rec, now)
	st.tok = presented{handle: rec.Handle, secret: m.secret, hash: m.hash}
	st.sid = rec.SessionID
	st.note(Event{Kind: EventLogin, UserID: rec.UserID, Handle: rec.Handle, Detail: detail})
}

// PrepareSignIn gives the browser an anonymous session of its own (an
// identity: a session ID, or ginsecure's ID inside the cookie on the
// cookie store) when it has none, so that the sign-in form it is about to
// show comes back with it: submits of that form then join one login
// (double clicks make one session), as from any browser with a session.
// Call it in the handler that renders the sign-in page. Without it, a
// browser with no cookies that submits twice makes two logins; the one
// whose response it drops never counts toward MaxSessionsPerUser and ends
// after UnpresentedAge (DESIGN.md, "Cookieless sign-in"). It writes
// nothing for a browser that has a session already. Errors: as Save's
// (ErrForeignSession next to another session's token), and where
// ginsecure is not set up an ErrMisconfigured naming the mistake (as
// Login's).
func PrepareSignIn(c *gin.Context) error {
	st, err := guarded(c)
	if err != nil {
		return err
	}
	rq := requestOf(c)
	if st.authenticated() || (!st.standingIn() && sessionID(st.cur) != "") {
		return nil
	}
	st.sess.changedOptions()
	return rq.sess.Save()
}

// replacing is what a login of userID on this request replaces: the record
// its token opened (prior, nil for none), the session it is served with,
// and that session's marker key ("" for a stand-in: not this browser's to
// retire). A record whose network or identity did not match the request
// (refused) is replaced, with its own session, only by a login of its own
// user; another user's login leaves it alone (DESIGN.md, "Refusals"):
// whoever holds a stolen copy of the cookies cannot end the owner's
// session by signing in to an account of their own. The request's
// stand-in carries nothing over in either case.
func (st *reqState) replacing(userID string) (prior *storeext.Record, replaced *gsessions.Session, key string) {
	r := st.refused
	if r != nil && r.UserID == userID {
		// The record's own session, by the identity it names, whichever
		// cookie was in front (a store with IDs: its ID; the cookie
		// store: its handle), so that its marker is set and its data
		// deleted.
		gs := st.freshSession(r.SessionID, nil)
		return r, gs, markerKey(gs)
	}
	if st.standingIn() {
		return st.tokRec, st.cur, ""
	}
	return st.tokRec, st.cur, markerKey(st.cur)
}

// joinParallelLogin signs the request in to the record that a parallel
// login from the same session created (the marker under key names it),
// when that login was of the same user and no older than
// unconfirmedGrace: it mints a new token for that record (the other
// login's token becomes the previous one, honoured as a straggler's) and
// serves the record's own session. It reports whether it joined.
func (g *Guard) joinParallelLogin(st *reqState, key, userID string, client netip.Addr, m minted, now time.Time) (bool, error) {
	ctx := st.io.ctx()
	mk, err := g.store.GetMarker(ctx, key)
	if errors.Is(err, storeext.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, storeErr(err)
	}
	rec, err := g.joinRecord(ctx, mk.Handle, userID, client, m, now)
	if errors.Is(err, errRaced) || errors.Is(err, storeext.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, storeErr(err)
	}
	if st.tokRec != nil && st.tokRec.Handle != rec.Handle {
		// Retired as Login retires it: forwardable to the joined record.
		if _, err := g.retireReplaced(ctx, st.tokRec, rec.Handle, ""); err != nil {
			g.log.Warn("ginsecure: could not retire the replaced record", "err", err)
		}
	}
	// Joined from the same session as the first login, for the same user:
	// the same carry-over (on the cookie store the session is rebuilt here).
	carry := st.carryFor(userID)
	st.unhide()
	st.sup = supCurrent
	if err := g.heal(st, &rec, carry, ""); err != nil {
		return false, err
	}
	st.signedIn(&rec, m, now, "joined a parallel login from the same session")
	return true, nil
}

// joinRecord moves the record under handle, created by a parallel login
// from the same session, onto the token m: errRaced where that login was
// of another user, has ended, is older than unconfirmedGrace, or is bound
// to a network client is not from.
func (g *Guard) joinRecord(ctx context.Context, handle, userID string, client netip.Addr, m minted, now time.Time) (storeext.Record, error) {
	return g.store.Update(ctx, handle, func(r *storeext.Record) error {
		if r.UserID != userID || r.Revoked != "" || now.Sub(r.CreatedAt) > unconfirmedGrace {
			return errRaced
		}
		if r.IP != "" && !g.cfg.IPBinding.permits(parseIP(r.IP), client) {
			// Bound to a network this request is not from: joined, the
			// browser would be refused (or its session ended) at its next
			// request. An ordinary login binds this request's address
			// (DESIGN.md, "IP binding").
			return errRaced
		}
		// The earlier logins' tokens join the history, never presented:
		// whichever response the browser applies last, its token is
		// answered with the newest (grace.go, presentLate). Unless a
		// request did present it (the record presented, its login token
		// still current): a copy of it after the window is a replay, as
		// for every presented token (DESIGN.md, "Superseded credentials").
		var seen time.Time
		if !r.Unpresented && len(r.History) == 0 {
			seen = r.LastSeen
		}
		if err := supersede(r, m, now, seen, false); err != nil {
			return err
		}
		r.AuthAt, r.LastSeen = now, now
		r.ExpiresAt = g.expiryOf(r, now)
		return nil
	})
}

// movedSession finds where the session a login's request was verified
// with went since, when the marker under key (set before this login's)
// leads to a live record of userID: a Renew of the record this login
// replaces moved it, or a parallel login from it committed past the join
// window (followed through the logins that replaced that one). It returns
// that record's own session as the store holds it now and the record's
// handle, for the login to carry as the user's own: a write acknowledged
// there meanwhile is not lost to this login's response landing last
// (DESIGN.md, "Writes"). The session of the record this login replaces
// (moved by its Renew) is marked first, under markKey, so that a write
// after the read is refused, never lost silently; another record's session
// is only read: it stays that record's. Where the record this login
// replaces is another user's, its own session is marked the same way and
// returned empty with no owner: ended, never carried (markMoved).
// Nothing (nil) on the cookie store, where the data is in the cookie, or
// when no such record is found.
func (g *Guard) movedSession(ctx context.Context, st *reqState, key, userID string, prior *storeext.Record, mk storeext.Marker) (gs *gsessions.Session, owner, markKey string, err error) {
	if cookieStore(st.gs.Store()) {
		return nil, "", "", nil
	}
	m, err := g.store.GetMarker(ctx, key)
	next := m.Handle
	var r storeext.Record
	for hops := 0; err == nil && next != "" && hops <= maxSuperseded; hops++ {
		if r, err = g.store.Get(ctx, next); err == nil {
			next = r.ReplacedBy
			if r.Revoked != storeext.RevokedReplaced {
				next = ""
			}
		}
	}
	switch {
	case errors.Is(err, storeext.ErrNotFound):
		return nil, "", "", nil
	case err != nil:
		return nil, "", "", storeErr(err)
	case r.Revoked != "" || r.SessionID == "":
		return nil, "", "", nil
	}
	var taken bool
	markKey, taken, err = g.markMoved(ctx, st, prior, &r, mk)
	switch {
	case err != nil || taken:
		return nil, "", "", err
	case r.UserID != userID && markKey == "":
		return nil, "", "", nil // another user's record this login does not replace
	case r.UserID != userID:
		return st.freshSession(r.SessionID, nil), "", markKey, nil // ended, never carried
	}
	if gs, err = st.loadByID(r.SessionID); err != nil {
		if markKey != "" {
			if derr := g.store.DeleteMarker(context.WithoutCancel(ctx), markKey, mk.Handle); derr != nil {
				g.log.Warn("ginsecure: could not remove the marker of a failed login", "err", derr)
			}
		}
		return nil, "", "", err
	}
	return gs, r.Handle, markKey, nil
}

// markMoved marks the session of record r, where r is the one the login
// replaces (a Renew of it moved its session since the login was
// verified), so that a write after the login's read is refused, never
// lost silently. Where r is another user's, the login ends r and this
// session with it, so that no write verified before the login saves into
// it (DESIGN.md, "Endings"). It returns the marked key ("" where r is not
// the replaced record), and taken where another marker was there first.
func (g *Guard) markMoved(ctx context.Context, st *reqState, prior, r *storeext.Record, mk storeext.Marker) (key string, taken bool, err error) {
	if prior == nil || prior.Handle != r.Handle {
		return "", false, nil
	}
	key = st.sessionKeyOf(r.SessionID)
	if err = g.store.SetMarker(ctx, key, mk); err == nil {
		return key, false, nil
	}
	if derr := g.store.DeleteMarker(context.WithoutCancel(ctx), key, mk.Handle); derr != nil {
		g.log.Warn("ginsecure: could not remove the marker of a failed login", "err", derr)
	}
	if errors.Is(err, storeext.ErrMarkerExists) {
		return "", true, nil
	}
	return "", false, storeErr(err)
}

// retireReplaced ends the record a login from its own browser replaced:
// revoked, not deleted, it keeps its token hashes and names its successor,
// so that a response of it that lands after the login's (a rotation in
// flight) is forwarded there (grace.go, forward). The successor is the
// newest login from the browser: a retried login whose first response was
// lost forwards to the one it received. A record already ended otherwise
// (a replay) stays ended, and says why; one already gone is no error.
// With a sessionKey (a session of the shared Redis, sharedKey), that
// session is deleted by the same write, and gone says it was.
func (g *Guard) retireReplaced(ctx context.Context, held *storeext.Record, successor, sessionKey string) (gone bool, err error) {
	retire := func(r *storeext.Record) error {
		if r.Revoked != "" && r.Revoked != storeext.RevokedReplaced {
			return nil
		}
		r.Revoked, r.ReplacedBy = storeext.RevokedReplaced, successor
		return nil
	}
	shared, _ := g.store.(sharedRedis)
	if sessionKey != "" && shared != nil {
		_, err = shared.UpdateHeldDeletingSession(ctx, *held, retire, sessionKey)
		gone = err == nil
	} else {
		_, err = g.updateHeld(ctx, held, retire)
	}
	if errors.Is(err, storeext.ErrNotFound) {
		return false, nil
	}
	return gone, err
}

// retiredFor reports whether the record under handle is retired in favour
// of successor: a retirement whose reply was lost was applied.
func (g *Guard) retiredFor(ctx context.Context, handle, successor string) bool {
	r, err := g.store.Get(ctx, handle)
	return err == nil && r.Revoked == storeext.RevokedReplaced && r.ReplacedBy == successor
}

// dropFailedLogin removes what a login whose record's creation failed may
// have written all the same: its record (only if it is this login's: the
// token hash is the login's own, never another record under a handle
// that collided) and, written by the same script on a shared Redis, its
// new session.
func (g *Guard) dropFailedLogin(ctx context.Context, req *http.Request, handle string, hash [32]byte, shared *sharedSession, ns *gsessions.Session) {
	r, err := g.store.Get(ctx, handle)
	switch {
	case errors.Is(err, storeext.ErrNotFound):
		return // not created: nothing to remove
	case err != nil:
		g.log.Error("ginsecure: could not tell whether a failed login left its record", "err", err)
		return
	case !hashEq(r.TokenHash, hash):
		return // another record's handle
	}
	if err := g.store.Delete(ctx, handle); err != nil {
		g.log.Error("ginsecure: could not remove the record of a failed login", "err", err)
	}
	if shared != nil {
		if err := deleteSession(req, ns.Store(), ns.Name(), ns.ID); err != nil {
			g.log.Error("ginsecure: could not remove the session of a failed login", "err", err)
		}
	}
}

// checkSessionStore refuses a session store that cannot keep a login: one
// that deletes a session saved with the store's options (boj/redistore,
// with MaxAge <= 0: storeext.KnownSessions.Persists), so that the login would
// answer 200 and the next request be anonymous.
func (g *Guard) checkSessionStore(gs *gsessions.Session) error {
	if !g.persists(gs.Store(), gs.Options) {
		return ErrSessionNotPersisted
	}
	return nil
}

// newRecord mints the record of a login from req bound to client (the
// zero Addr: to no address): unpresented until its first presentation
// (UnpresentedAge). The User-Agent is kept as one shared copy per
// distinct text (unique.Make copies it out of the request): the memory
// store holds one record per signed-in session, and most of them carry
// one of a few browsers' User-Agents (DESIGN.md, "Memory store").
func (g *Guard) newRecord(req *http.Request, client netip.Addr, userID string, hash [32]byte, handle, sid string, now time.Time) storeext.Record {
	ip := ""
	if client.IsValid() {
		ip = client.String()
	}
	r := storeext.Record{
		Handle: handle, UserID: userID, SessionID: sid,
		TokenHash: hash, IssuedAt: now,
		IP: ip, UserAgent: unique.Make(truncate(req.UserAgent(), 256)).Value(),
		CreatedAt: now, AuthAt: now, LastSeen: now,
		Unpresented: true,
	}
	r.ExpiresAt = g.expiryOf(&r, now)
	return r
}
