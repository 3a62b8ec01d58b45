package redisstore

// gin-contrib's Redis session store (boj/redistore), as the records Store
// knows it (storeext.SessionSharer).
//
// A store built by NewSessionStore is gin-contrib's own, configured
// through boj/redistore's setters from this package's options: this
// package remembers it by pointer with its key prefix, serializer and
// size limit, so that the Guard reads and saves its sessions together
// with the records, in the same formats, without reading any field of
// another library. Any other boj/redistore store (gin-contrib's
// NewStoreWithPool, NewStore) is known by its type alone: the Guard keeps
// to the ordinary order (a round trip more per request), but its
// protections hold there too (Persists, Outage, Reload, Touch).

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime"
	"sync"
	"syscall"
	"weak"

	"github.com/boj/redistore"
	ginredis "github.com/gin-contrib/sessions/redis"
	"github.com/ginsecure/ginsecure"
	"github.com/ginsecure/ginsecure/storeext"
	"github.com/gomodule/redigo/redis"
	"github.com/gorilla/securecookie"
	gsessions "github.com/gorilla/sessions"
)

// SessionOption configures a session store made by NewSessionStore.
type SessionOption func(*sessionFormat)

// WithSessionPrefix sets the Redis key prefix of the sessions (default
// "session_", boj/redistore's).
func WithSessionPrefix(p string) SessionOption { return func(f *sessionFormat) { f.prefix = p } }

// WithJSONSessions stores sessions as JSON (boj/redistore's
// JSONSerializer: string keys only) instead of gob (the default).
func WithJSONSessions() SessionOption {
	return func(f *sessionFormat) { f.ser = redistore.JSONSerializer{} }
}

// WithSessionMaxLength sets the largest serialized session, in bytes, that
// a save accepts (default 4096, boj/redistore's; 0: no limit). A larger
// one is refused with ginsecure.ErrSessionTooLarge before anything is
// written.
func WithSessionMaxLength(n int) SessionOption {
	return func(f *sessionFormat) {
		if n >= 0 {
			f.maxLen = n
		}
	}
}

// sessionFormat is how a session store made by NewSessionStore keeps its
// sessions: set once, by its options, before the store is handed out.
type sessionFormat struct {
	prefix string
	ser    redistore.SessionSerializer
	maxLen int
	rs     *redistore.RediStore
}

// madeStores are the session stores NewSessionStore made, by pointer
// (weak: a store nobody holds any more goes, and its entry with it).
var madeStores sync.Map // weak.Pointer[redistore.RediStore] -> *sessionFormat

// NewSessionStore returns gin-contrib's Redis session store
// (ginredis.NewStoreWithPool) on pool, the pool of the records Store
// (New), with keyPairs as its cookie codecs' keys (as
// gorilla/securecookie.CodecsFromPairs takes them) and configured from
// opts through boj/redistore's setters. A Guard whose records Store is on
// the same pool reads a request's record and session in one round trip,
// and saves a session in one (storeext.SharedRedis).
//
// ginredis.GetRedisStore and store.Options work on it as on any
// gin-contrib Redis store. Set its key prefix, serializer and size limit
// here, not with boj/redistore's setters afterwards: the Guard would not
// see the change, and would read and write the sessions where the store
// does not.
func NewSessionStore(pool *redis.Pool, keyPairs [][]byte, opts ...SessionOption) (ginredis.Store, error) {
	if pool == nil {
		return nil, errors.New("redisstore: NewSessionStore without a pool")
	}
	st, err := ginredis.NewStoreWithPool(pool, keyPairs...)
	if err != nil {
		return nil, err
	}
	rs, err := ginredis.GetRedisStore(st)
	if err != nil {
		return nil, err
	}
	f := &sessionFormat{prefix: "session_", ser: redistore.GobSerializer{}, maxLen: 4096, rs: rs}
	for _, o := range opts {
		o(f)
	}
	rs.SetKeyPrefix(f.prefix)
	rs.SetSerializer(f.ser)
	rs.SetMaxLength(f.maxLen)
	key := weak.Make(rs)
	madeStores.Store(key, f)
	runtime.AddCleanup(rs, func(k weak.Pointer[redistore.RediStore]) { madeStores.Delete(k) }, key)
	return st, nil
}

// formatOf is the format of a store NewSessionStore made, or nil.
func formatOf(rs *redistore.RediStore) *sessionFormat {
	v, ok := madeStores.Load(weak.Make(rs))
	if !ok {
		return nil
	}
	return v.(*sessionFormat)
}

// SharedSessions implements storeext.SessionSharer: what the store knows
// of a gin-contrib Redis session store (any *redistore.RediStore; in full
// one NewSessionStore made). Nil for any other session store.
func (s *Store) SharedSessions(store gsessions.Store) storeext.KnownSessions {
	rs, ok := store.(*redistore.RediStore)
	if !ok || rs == nil {
		return nil
	}
	return &knownSessions{s: s, rs: rs, f: formatOf(rs)}
}

// knownSessions implements storeext.KnownSessions for a boj/redistore
// store; f is nil where NewSessionStore did not make it.
type knownSessions struct {
	s  *Store
	rs *redistore.RediStore
	f  *sessionFormat
}

// Shared: the store was made by NewSessionStore, on the records' pool.
func (k *knownSessions) Shared() bool {
	return k.f != nil && k.rs.Pool == k.s.pool && k.rs.Options != nil
}

// SessionKey is the session's key under the store's prefix.
func (k *knownSessions) SessionKey(id string) string { return k.f.prefix + id }

// Encode serializes gs with the store's serializer and checks its size
// limit, as boj/redistore's save does, before anything is written.
func (k *knownSessions) Encode(gs *gsessions.Session) ([]byte, error) {
	b, err := k.f.ser.Serialize(gs)
	if err != nil {
		return nil, err
	}
	if k.f.maxLen != 0 && len(b) > k.f.maxLen {
		return nil, ginsecure.ErrSessionTooLarge
	}
	return b, nil
}

// Load makes the session as boj/redistore's New does.
func (k *knownSessions) Load(name, id string, value []byte) (*gsessions.Session, error) {
	gs := gsessions.NewSession(k.rs, name)
	opts := *k.rs.Options
	gs.Options = &opts
	gs.IsNew = true
	gs.ID = id
	var err error
	if value != nil {
		err = k.f.ser.Deserialize(value, gs)
		gs.IsNew = err != nil
	}
	return gs, err
}

// Codecs are the store's cookie codecs (an exported field).
func (k *knownSessions) Codecs() []securecookie.Codec { return k.rs.Codecs }

// Persists: boj/redistore deletes a session saved with MaxAge <= 0.
func (k *knownSessions) Persists(opts *gsessions.Options) bool {
	return opts != nil && opts.MaxAge > 0
}

// Outage: a load or save error of the store that says Redis could not be
// reached or refused to answer: an error reply (LOADING, MISCONF,
// READONLY), an exhausted pool, a network error, a connection cut short.
// gob reports a payload cut short with the same io errors: Reload tells
// the two apart by asking Redis.
func (k *knownSessions) Outage(err error) bool {
	var ne net.Error
	var re redis.Error
	return errors.As(err, &re) || errors.As(err, &ne) || errors.Is(err, redis.ErrPoolExhausted) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// maxReloads bounds Reload's tries.
const maxReloads = 16

// Reload loads the session again: each failed try discards one dead
// pooled connection (idle ones die together after a Redis restart or an
// idle cut), so it tries past the idle ones, then asks Redis itself
// (PING): where Redis answers, the payload is what does not load.
func (k *knownSessions) Reload(r *http.Request, name string) (*gsessions.Session, bool, error) {
	tries := min(k.rs.Pool.Stats().IdleCount+1, maxReloads)
	var err error
	for range tries {
		var gs *gsessions.Session
		if gs, err = k.rs.New(r, name); err == nil {
			return gs, false, nil
		}
		if !k.Outage(err) {
			break
		}
	}
	return nil, !k.answers(), err
}

// answers reports whether the Redis behind the store answers a PING.
func (k *knownSessions) answers() bool {
	c := k.rs.Pool.Get()
	defer c.Close()
	_, err := c.Do("PING")
	return err == nil
}

// Touch resets the session key's TTL (EXPIRE): the data is not written,
// so no parallel write is undone. A store NewSessionStore did not make
// keeps its sessions under boj/redistore's default prefix unless its
// setter changed it: EXPIRE of a key that is not there answers 0, and
// Touch false.
func (k *knownSessions) Touch(ctx context.Context, id string, maxAge int) bool {
	prefix := "session_"
	if k.f != nil {
		prefix = k.f.prefix
	}
	if k.rs.Pool == nil {
		return false
	}
	conn, err := k.rs.Pool.GetContext(ctx)
	if err != nil {
		return false
	}
	defer conn.Close()
	n, err := redis.Int(conn.Do("EXPIRE", prefix+id, maxAge))
	return err == nil && n == 1
}
