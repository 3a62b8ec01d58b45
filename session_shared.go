package ginsecure

// gin-contrib sessions read and saved together with the records.
//
// Where the records Store also knows the gin-contrib session store
// (storeext.SessionSharer: redisstore, with the store redisstore.NewSessionStore
// built on the records' pool), a request that carries a token has its
// record and its session read in one round trip, and a session write is
// one script that refuses the write once a marker retired the session:
// one round trip each, as gin-contrib alone makes, instead of two and
// three. The session store's formats (key, serializer, cookie codecs) are
// the Store's to know: the core reads nothing of another library's
// fields. Every other path (heal, Logout, Login's deletions) goes on
// through the session store itself.
//
// The session read early is handed to gin-contrib through gorilla's
// registry, where gin-contrib's load finds it. It is handed only on a
// request on which no session was loaded yet (no registry), and checked
// after gin-contrib's load: a session that gin-contrib took through
// another store is loaded again through that store.

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/ginsecure/ginsecure/storeext"
	"github.com/gorilla/securecookie"
	gsessions "github.com/gorilla/sessions"
)

// sessionSharer is storeext.SessionSharer (its contract is there), as the
// Guard asks for it.
type sessionSharer interface {
	SharedSessions(store gsessions.Store) knownSessions
}

// knownSessions is storeext.KnownSessions (its contract is there): an
// alias of the same interface literal, so that a Store's SharedSessions
// that returns storeext.KnownSessions is a sessionSharer here.
type knownSessions = interface {
	Shared() bool
	SessionKey(id string) string
	Encode(gs *gsessions.Session) ([]byte, error)
	Load(name, id string, value []byte) (gs *gsessions.Session, err error)
	Codecs() []securecookie.Codec
	Persists(opts *gsessions.Options) bool
	Outage(err error) bool
	Reload(r *http.Request, name string) (gs *gsessions.Session, outage bool, err error)
	Touch(ctx context.Context, id string, maxAge int) bool
}

// sharedSessions is what the Guard learned from the first session it
// loaded: the session store the records Store keeps beside its records.
type sharedSessions struct {
	store sharedRedis
	known knownSessions
	gs    gsessions.Store // the gorilla store its sessions have (Session.Store)
	name  string          // the session cookie's name
}

// learnRedisSessions decides, at the first session the Guard loads,
// whether sessions are read and saved together with the records.
func (g *Guard) learnRedisSessions(gs *gsessions.Session) {
	if gs == nil || !g.redisLearned.CompareAndSwap(false, true) {
		return
	}
	shared, ok := g.store.(sharedRedis)
	if !ok {
		return
	}
	known := g.sessionsKnown(gs.Store())
	if known == nil || !known.Shared() {
		return
	}
	g.redisSessions.Store(&sharedSessions{store: shared, known: known, gs: gs.Store(), name: gs.Name()})
}

// knownSessions is what the records Store knows of the session store s,
// or nil.
func (g *Guard) sessionsKnown(s gsessions.Store) knownSessions {
	sh, ok := g.store.(sessionSharer)
	if !ok || s == nil {
		return nil
	}
	return sh.SharedSessions(s)
}

// readTogether reads the token's record and the request's session in one
// round trip, before gin-contrib loads the session, and hands the session
// to gin-contrib through gorilla's registry (where gin-contrib's load
// finds it; checkInjected checks after the load that it did). It reports
// false, having done nothing, wherever the sequential order must decide:
// no shared session store was learned, a session was loaded on this
// request already, there is no session cookie or it does not decode, or
// the read failed (the sequential order reads again, and gives the errors
// it would have given). r is the request, handle the handle its token
// names; it returns the join of the record's read (nil for false) and the
// session handed over.
func (g *Guard) readTogether(inner ginSession, r *http.Request, handle string) (join func() (*storeext.Record, error), injectedGS *gsessions.Session) {
	p := g.redisSessions.Load()
	if p == nil || inner == nil {
		return nil, nil // no session (an engine without Sessions, SessionsMany)
	}
	ck, err := r.Cookie(p.name)
	if err != nil {
		return nil, nil
	}
	var id string
	if securecookie.DecodeMulti(p.name, ck.Value, &id, p.known.Codecs()...) != nil {
		return nil, nil
	}
	if !freshRegistry(r) {
		return nil, nil // something loaded a session before the Guard
	}
	// Not the request's context: the sequential order's session read is
	// the session store's, on the same pool, which takes none (and a
	// context that can end costs redigo a goroutine per command).
	rec, val, err := p.store.GetWithSession(context.Background(), handle, p.known.SessionKey(id))
	if err != nil && !errors.Is(err, storeext.ErrNotFound) {
		return nil, nil
	}
	gs, loadErr := p.known.Load(p.name, id, val)
	reg := gsessions.GetRegistry(r)
	reg.Get(&injected{gs: gs, err: loadErr}, p.name) //nolint:errcheck // the registry keeps the error for gin-contrib's load
	reg.Get(p.gs, p.name)                            //nolint:errcheck // back to the session store as the session's store
	return func() (*storeext.Record, error) { return rec, err }, gs
}

// freshRegistry reports whether r had no gorilla registry (no session was
// loaded on it yet), and gives it one: gorilla puts the registry in a new
// context, so the request's context changes only where there was none.
func freshRegistry(r *http.Request) (fresh bool) {
	before := r.Context()
	gsessions.GetRegistry(r)
	defer func() {
		if recover() != nil {
			fresh = false // a context type that cannot be compared: the sequential order
		}
	}()
	return r.Context() != before
}

// checkInjected checks, after gin-contrib's load, the session readTogether
// handed over: gin-contrib took it through the learned session store (the
// fast path holds), or took another one (its own load: nothing to do), or
// took it through another store of the same name (a route with another
// sessions.Sessions): then it is loaded again through that store.
func (st *reqState) checkInjected(gs *gsessions.Session) {
	p := st.g.redisSessions.Load()
	if gs == nil || st.gs != gs || p == nil || gs.Store() == p.gs {
		return
	}
	fresh, err := gs.Store().New(st.io.r, gs.Name())
	if fresh == nil {
		fresh = st.newSession()
	}
	*gs = *fresh
	if err != nil {
		st.g.log.Warn("ginsecure: could not load a session through its own store", "err", err)
	}
}

// injected hands gorilla's registry a session loaded by readTogether: the
// registry caches what New returns, and gin-contrib's load gets it from
// there.
type injected struct {
	gs  *gsessions.Session
	err error
}

func (i *injected) Get(r *http.Request, name string) (*gsessions.Session, error) {
	return gsessions.GetRegistry(r).Get(i, name)
}

func (i *injected) New(*http.Request, string) (*gsessions.Session, error) { return i.gs, i.err }

func (i *injected) Save(*http.Request, http.ResponseWriter, *gsessions.Session) error {
	return errors.New("ginsecure: internal: a session saved through its loader")
}

// saveShared saves cur, a session of the shared Redis, in one round trip
// that refuses the write when a login or Renew retired the session after
// this request was verified (its marker exists). It returns handled false
// where the session is not one it saves (the caller then saves through
// the session store and checks after). With a marker it returns the
// marker: the caller decides as after a save, but nothing was written.
func (s *guardSession) saveShared(cur *gsessions.Session, key string) (mk storeext.Marker, marked, handled bool, err error) {
	st := &s.rq.st
	w, err := st.g.prepareShared(cur)
	if err != nil {
		return storeext.Marker{}, false, true, st.g.saveErr(cur.Store(), err)
	}
	if w == nil {
		return storeext.Marker{}, false, false, nil
	}
	// Not the request's context: the session store's own save takes none,
	// so in the sequential order a client that went away (its context
	// cancelled) still has its session written; and a context that can
	// end costs redigo a goroutine per command.
	mk, saved, err := w.store.SaveSessionUnlessMarked(context.Background(), key, w.key, w.value, w.ttl)
	if err != nil {
		return storeext.Marker{}, false, true, st.g.saveErr(cur.Store(), err)
	}
	if !saved {
		return mk, true, true, nil
	}
	http.SetCookie(st.io.w, w.cookie)
	return storeext.Marker{}, false, true, nil
}

// sharedLifetime reports whether a session with opts is one the shared
// path writes: it lives (MaxAge > 0; a session store that deletes the
// others does so through its own Save), and its MaxAge fits a
// time.Duration. Beyond that (some three hundred years) the TTL would
// wrap around, to one second at worst: such a session goes through the
// session store's own save, which keeps it.
func sharedLifetime(opts *gsessions.Options) bool {
	return opts != nil && opts.MaxAge > 0 && int64(opts.MaxAge) <= int64(1<<63-1)/int64(time.Second)
}

// sharedSession is a session of the shared Redis made ready for its one
// write: its key and value as the session store's Save would write them,
// and the cookie Save would send.
type sharedSession struct {
	store  sharedRedis
	key    string
	value  []byte
	ttl    time.Duration
	cookie *http.Cookie
}

// prepareShared readies ns, a session of the shared Redis, to be written
// by one of the storeext.SharedRedis scripts (a login's CreateWithSession, a
// Save's SaveSessionUnlessMarked). It returns nil where ns is not such a
// session (it is then saved through the session store), and the session
// store's own errors (serializer, size limit, cookie codecs) before
// anything is written.
func (g *Guard) prepareShared(ns *gsessions.Session) (*sharedSession, error) {
	p := g.redisSessions.Load()
	if p == nil || ns.Store() != p.gs || ns.ID == "" || !sharedLifetime(ns.Options) {
		return nil, nil
	}
	b, err := p.known.Encode(ns)
	if err != nil {
		return nil, err
	}
	v, err := securecookie.EncodeMulti(ns.Name(), ns.ID, p.known.Codecs()...)
	if err != nil {
		return nil, err
	}
	return &sharedSession{
		store: p.store, key: p.known.SessionKey(ns.ID), value: b,
		ttl:    time.Duration(ns.Options.MaxAge) * time.Second,
		cookie: gsessions.NewCookie(ns.Name(), v, ns.Options),
	}, nil
}

// sharedKey is the Redis key of gs where it is a session of the shared
// Redis with an ID, or "".
func (g *Guard) sharedKey(gs *gsessions.Session) string {
	p := g.redisSessions.Load()
	if p == nil || gs == nil || gs.Store() != p.gs || gs.ID == "" {
		return ""
	}
	return p.known.SessionKey(gs.ID)
}

// markAndRead sets a login's marker under key (Store.SetMarker, with its
// errors) and, where the replaced session is one of the shared Redis that
// the login reads again (loginValues, only where it carries anything:
// read), reads it in the same round trip (storeext.SharedRedis.SetMarkerReadSession):
// fresh is that session as the session store's load would have returned
// it. fresh is nil where the caller reads the session itself, as before,
// or carries nothing. cur is the replaced session, as the request is
// served with it.
func (g *Guard) markAndRead(ctx context.Context, key string, m storeext.Marker, cur *gsessions.Session, read bool) (fresh *gsessions.Session, err error) {
	p := g.redisSessions.Load()
	sk := g.sharedKey(cur)
	if sk == "" || !read {
		return nil, g.store.SetMarker(ctx, key, m)
	}
	val, err := p.store.SetMarkerReadSession(ctx, key, m, sk)
	if err != nil {
		return nil, err
	}
	// As loadByID: a session that is gone or does not decode reads as new.
	gs, _ := p.known.Load(cur.Name(), cur.ID, val)
	return gs, nil
}
