package ginsecure

// gin-contrib's Redis sessions read and saved together with the records.
//
// Where boj/redistore keeps the sessions through the same redigo pool as
// the records (a Store that is SharedRedis), a request that carries a
// token has its record and its session read in one round trip (an MGET),
// and a session write is one script that refuses the write once a marker
// retired the session: one round trip each, as gin-contrib alone makes,
// instead of two and three. The sessions keep boj/redistore's formats
// (its key prefix, its serializer, its cookie codecs), so the two paths
// read and write the same sessions, and every other path (heal, Logout,
// Login) goes on through boj/redistore.
//
// boj/redistore keeps its key prefix, serializer and size limit in
// unexported fields, and gin-contrib its store in its unexported session
// type: both are read with reflect (never written, never through unsafe).
// Where a field is not there, or the serializer is one ginsecure does not
// know, the Guard keeps to the sequential order (prefetch.go): a later
// version of either library costs a round trip, never a wrong session.

import (
	"context"
	"errors"
	"math"
	"net/http"
	"reflect"
	"sync"
	"time"

	"github.com/boj/redistore"
	"github.com/gorilla/securecookie"
	gsessions "github.com/gorilla/sessions"
)

// redisSessions is what the Guard learned from the first session it
// loaded: gin-contrib's session type and store, and the boj/redistore
// behind them, on the pool of the Guard's SharedRedis store.
type redisSessions struct {
	store SharedRedis
	rs    *redistore.RediStore
	rsPtr uintptr // rs, as reflect sees it inside gin-contrib's store
	name  string  // the session cookie's name

	inner    reflect.Type // gin-contrib's *session
	ginStore reflect.Type // gin-contrib's Redis store (*redis.store)
	fName    int          // gin-contrib session fields: name, request, store, session
	fReq     int
	fStore   int
	fSess    int
}

// redistoreLayout is where boj/redistore keeps what the Guard reads.
var redistoreLayout = sync.OnceValue(func() (l struct {
	prefix, maxLen, ser int
	ok                  bool
}) {
	t := reflect.TypeFor[redistore.RediStore]()
	p, ok1 := t.FieldByName("keyPrefix")
	m, ok2 := t.FieldByName("maxLength")
	s, ok3 := t.FieldByName("serializer")
	if !ok1 || !ok2 || !ok3 || p.Type.Kind() != reflect.String || m.Type.Kind() != reflect.Int ||
		s.Type != reflect.TypeFor[redistore.SessionSerializer]() {
		return l
	}
	l.prefix, l.maxLen, l.ser, l.ok = p.Index[0], m.Index[0], s.Index[0], true
	return l
})

// redisFormat is a boj/redistore's key prefix, serializer and size limit
// (0: none), read now (they have setters); ok is false where the layout
// or the serializer is not one the Guard knows.
func redisFormat(rs *redistore.RediStore) (prefix string, ser redistore.SessionSerializer, maxLen int, ok bool) {
	l := redistoreLayout()
	if !l.ok {
		return "", nil, 0, false
	}
	v := reflect.ValueOf(rs).Elem()
	sv := v.Field(l.ser)
	if sv.IsNil() {
		return "", nil, 0, false
	}
	// Both of boj/redistore's serializers are stateless: a zero value of
	// the same type serializes as the store's own does.
	switch sv.Elem().Type() {
	case reflect.TypeFor[redistore.GobSerializer](), reflect.TypeFor[*redistore.GobSerializer]():
		ser = redistore.GobSerializer{}
	case reflect.TypeFor[redistore.JSONSerializer](), reflect.TypeFor[*redistore.JSONSerializer]():
		ser = redistore.JSONSerializer{}
	default:
		return "", nil, 0, false
	}
	return v.Field(l.prefix).String(), ser, int(v.Field(l.maxLen).Int()), true
}

// learnRedisSessions decides, at the first session the Guard loads,
// whether sessions are read and saved together with the records.
func (g *Guard) learnRedisSessions(inner ginSession, gs *gsessions.Session) {
	if gs == nil || !g.redisLearned.CompareAndSwap(false, true) {
		return
	}
	shared, ok := g.store.(SharedRedis)
	if !ok {
		return
	}
	rs, ok := gs.Store().(*redistore.RediStore)
	if !ok || rs.Pool == nil || rs.Pool != shared.RedisPool() || rs.Options == nil {
		return
	}
	if _, _, _, ok := redisFormat(rs); !ok {
		return
	}
	p := &redisSessions{store: shared, rs: rs, rsPtr: reflect.ValueOf(rs).Pointer(), name: gs.Name()}
	if p.learnGinSession(inner) {
		g.redisSessions.Store(p)
	}
}

// learnGinSession finds, with reflect, where gin-contrib's session inner
// keeps its name, request, store and gorilla session, and checks that its
// store is the Redis store around p's boj/redistore (learnGinStore). It
// reports false where the layout is not the one it knows.
func (p *redisSessions) learnGinSession(inner ginSession) bool {
	// gin-contrib's session: {name string; request *http.Request; store
	// Store; session *sessions.Session; ...}; its Redis store embeds the
	// *redistore.RediStore.
	it := reflect.TypeOf(inner)
	if it.Kind() != reflect.Pointer || it.Elem().Kind() != reflect.Struct {
		return false
	}
	st := it.Elem()
	idx := func(name string, want reflect.Type, kind reflect.Kind) int {
		f, ok := st.FieldByName(name)
		if !ok || len(f.Index) != 1 || (want != nil && f.Type != want) || (kind != reflect.Invalid && f.Type.Kind() != kind) {
			return -1
		}
		return f.Index[0]
	}
	p.inner = it
	p.fName = idx("name", reflect.TypeFor[string](), reflect.Invalid)
	p.fReq = idx("request", reflect.TypeFor[*http.Request](), reflect.Invalid)
	p.fStore = idx("store", nil, reflect.Interface)
	p.fSess = idx("session", reflect.TypeFor[*gsessions.Session](), reflect.Invalid)
	if p.fName < 0 || p.fReq < 0 || p.fStore < 0 || p.fSess < 0 {
		return false
	}
	return p.learnGinStore(inner)
}

// learnGinStore checks that the store of gin-contrib's session inner (its
// field p.fStore) is the Redis store around p's boj/redistore, and keeps
// its type.
func (p *redisSessions) learnGinStore(inner ginSession) bool {
	sv := reflect.ValueOf(inner).Elem().Field(p.fStore)
	if sv.IsNil() {
		return false
	}
	gt := sv.Elem().Type()
	if gt.Kind() != reflect.Pointer || gt.Elem().Kind() != reflect.Struct || gt.Elem().NumField() < 1 {
		return false
	}
	if f := gt.Elem().Field(0); !f.Anonymous || f.Type != reflect.TypeFor[*redistore.RediStore]() {
		return false
	}
	if sv.Elem().Elem().Field(0).Pointer() != p.rsPtr {
		return false
	}
	p.ginStore = gt
	return true
}

// readTogether reads the token's record and the request's Redis session
// in one round trip, before gin-contrib loads the session, and hands the
// session to gin-contrib through gorilla's registry (where gin-contrib's
// load finds it). It reports false, having done nothing, wherever the
// sequential order must decide: the session is not this Guard's shared
// Redis session, gin-contrib already loaded it, there is no session
// cookie or it does not decode, or the read failed (the sequential order
// reads again, and gives the errors it would have given). inner is the
// request's gin-contrib session (nil for none), r the request, handle the
// handle its token names; it returns the join of the record's read (nil
// for false).
func (g *Guard) readTogether(inner ginSession, r *http.Request, handle string) (join func() (*Record, error)) {
	p := g.redisSessions.Load()
	if p == nil || inner == nil {
		return nil // no session (an engine without Sessions, SessionsMany)
	}
	v := reflect.ValueOf(inner)
	if v.Type() != p.inner {
		return nil
	}
	e := v.Elem()
	if !e.Field(p.fSess).IsNil() || e.Field(p.fName).String() != p.name || e.Field(p.fReq).Pointer() != reflect.ValueOf(r).Pointer() {
		return nil
	}
	sv := e.Field(p.fStore)
	if sv.IsNil() || sv.Elem().Type() != p.ginStore || sv.Elem().IsNil() || sv.Elem().Elem().Field(0).Pointer() != p.rsPtr {
		return nil
	}
	ck, err := r.Cookie(p.name)
	if err != nil {
		return nil
	}
	var id string
	if securecookie.DecodeMulti(p.name, ck.Value, &id, p.rs.Codecs...) != nil {
		return nil
	}
	prefix, ser, _, ok := redisFormat(p.rs)
	if !ok {
		return nil
	}
	// Not the request's context: the sequential order's session read is
	// boj/redistore's, on the same pool, which takes none (and a context
	// that can end costs redigo a goroutine per command).
	rec, val, err := p.store.GetWithSession(context.Background(), handle, prefix+id)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil
	}
	gs, loadErr := p.sessionOf(p.name, id, val, ser)
	reg := gsessions.GetRegistry(r)
	reg.Get(&injected{gs: gs, err: loadErr}, p.name) //nolint:errcheck // the registry keeps the error for gin-contrib's load
	reg.Get(p.rs, p.name)                            //nolint:errcheck // back to boj/redistore as the session's store
	return func() (*Record, error) { return rec, err }
}

// sessionOf is the session stored under id with the raw value val (nil:
// none), as boj/redistore's New would have made it: new where there is no
// value or it does not deserialize (then err says why).
func (p *redisSessions) sessionOf(name, id string, val []byte, ser redistore.SessionSerializer) (gs *gsessions.Session, err error) {
	gs = gsessions.NewSession(p.rs, name)
	opts := *p.rs.Options
	gs.Options = &opts
	gs.IsNew = true
	gs.ID = id
	if val != nil {
		err = ser.Deserialize(val, gs)
		gs.IsNew = err != nil
	}
	return gs, err
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

// errSessionTooBig is boj/redistore's own refusal of a session over its
// size limit, word for word, so that saveErr names it ErrSessionTooLarge
// on both paths.
var errSessionTooBig = errors.New("SessionStore: the value to store is too big")

// saveShared saves cur, a session of the shared Redis, in one round trip
// that refuses the write when a login or Renew retired the session after
// this request was verified (its marker exists). It returns handled false
// where the session is not one it saves (the caller then saves through
// boj/redistore and checks after). With a marker it returns the marker:
// the caller decides as after a save, but nothing was written.
func (s *guardSession) saveShared(cur *gsessions.Session, key string) (mk Marker, marked, handled bool, err error) {
	st := s.st
	p := st.g.redisSessions.Load()
	if p == nil || cur.Store() != gsessions.Store(p.rs) || cur.ID == "" || !sharedLifetime(cur.Options) {
		return Marker{}, false, false, nil
	}
	prefix, ser, maxLen, ok := redisFormat(p.rs)
	if !ok {
		return Marker{}, false, false, nil
	}
	b, err := ser.Serialize(cur)
	if err != nil {
		return Marker{}, false, true, err
	}
	if maxLen != 0 && len(b) > maxLen {
		return Marker{}, false, true, saveErr(errSessionTooBig)
	}
	// Not the request's context: boj/redistore's own save takes none, so
	// in the sequential order a client that went away (its context
	// cancelled) still has its session written; and a context that can
	// end costs redigo a goroutine per command.
	mk, saved, err := p.store.SaveSessionUnlessMarked(context.Background(), key, prefix+cur.ID, b, time.Duration(cur.Options.MaxAge)*time.Second)
	if err != nil {
		return Marker{}, false, true, saveErr(err)
	}
	if !saved {
		return mk, true, true, nil
	}
	v, err := securecookie.EncodeMulti(cur.Name(), cur.ID, p.rs.Codecs...)
	if err != nil {
		return Marker{}, false, true, err
	}
	http.SetCookie(st.c.Writer, gsessions.NewCookie(cur.Name(), v, cur.Options))
	return Marker{}, false, true, nil
}

// sharedLifetime reports whether a session with opts is one the shared
// path writes: it lives (MaxAge > 0; boj/redistore deletes the others),
// and its MaxAge fits a time.Duration. Beyond that (some three hundred
// years) the TTL would wrap around, to one second at worst: such a
// session goes through boj/redistore's SETEX, which keeps it.
func sharedLifetime(opts *gsessions.Options) bool {
	return opts != nil && opts.MaxAge > 0 && int64(opts.MaxAge) <= int64(math.MaxInt64/time.Second)
}

// sharedSession is a new session of the shared Redis made ready for its
// one write: its key and value as boj/redistore's Save would write them,
// and the cookie Save would send.
type sharedSession struct {
	store  SharedRedis
	key    string
	value  []byte
	ttl    time.Duration
	cookie *http.Cookie
}

// prepareShared readies ns, a login's new session, to be written in the
// round trip that creates its record (SharedRedis.CreateWithSession). It
// returns nil where ns is not a session of the shared Redis (the login
// then saves it through boj/redistore), and boj/redistore's own errors
// (serializer, size limit, cookie codecs) before anything is written.
func (g *Guard) prepareShared(ns *gsessions.Session) (*sharedSession, error) {
	p := g.redisSessions.Load()
	if p == nil || ns.Store() != gsessions.Store(p.rs) || ns.ID == "" || !sharedLifetime(ns.Options) {
		return nil, nil
	}
	prefix, ser, maxLen, ok := redisFormat(p.rs)
	if !ok {
		return nil, nil
	}
	b, err := ser.Serialize(ns)
	if err != nil {
		return nil, err
	}
	if maxLen != 0 && len(b) > maxLen {
		return nil, errSessionTooBig
	}
	v, err := securecookie.EncodeMulti(ns.Name(), ns.ID, p.rs.Codecs...)
	if err != nil {
		return nil, err
	}
	return &sharedSession{
		store: p.store, key: prefix + ns.ID, value: b,
		ttl:    time.Duration(ns.Options.MaxAge) * time.Second,
		cookie: gsessions.NewCookie(ns.Name(), v, ns.Options),
	}, nil
}

// sharedKey is the Redis key of gs where it is a session of the shared
// Redis with an ID, or "".
func (g *Guard) sharedKey(gs *gsessions.Session) string {
	p := g.redisSessions.Load()
	if p == nil || gs == nil || gs.Store() != gsessions.Store(p.rs) || gs.ID == "" {
		return ""
	}
	prefix, _, _, ok := redisFormat(p.rs)
	if !ok {
		return ""
	}
	return prefix + gs.ID
}

// markAndRead sets a login's marker under key (Store.SetMarker, with its
// errors) and, where the replaced session is one of the shared Redis that
// the login reads again (loginValues, only where it carries anything:
// read), reads it in the same round trip (SharedRedis.SetMarkerReadSession):
// fresh is that session as boj/redistore's load would have returned it.
// fresh is nil where the caller reads the session itself, as before, or
// carries nothing. cur is the replaced session, as the request is served
// with it.
func (g *Guard) markAndRead(ctx context.Context, key string, m Marker, cur *gsessions.Session, read bool) (fresh *gsessions.Session, err error) {
	p := g.redisSessions.Load()
	sk := g.sharedKey(cur)
	if sk == "" || !read {
		return nil, g.store.SetMarker(ctx, key, m)
	}
	_, ser, _, ok := redisFormat(p.rs)
	if !ok {
		return nil, g.store.SetMarker(ctx, key, m)
	}
	val, err := p.store.SetMarkerReadSession(ctx, key, m, sk)
	if err != nil {
		return nil, err
	}
	// As loadByID: a session that is gone or does not decode reads as new.
	gs, _ := p.sessionOf(cur.Name(), cur.ID, val, ser)
	return gs, nil
}
