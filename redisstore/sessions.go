package redisstore

// The sessions of gin-contrib's Redis store (boj/redistore) kept through
// the same pool as the records: one round trip reads both, one saves a
// session unless a marker retired it (storeext.SharedRedis).

import (
	"context"
	"errors"
	"fmt"
	json "github.com/goccy/go-json"
	"time"

	"github.com/ginsecure/ginsecure/storeext"
	"github.com/gomodule/redigo/redis"
)

// GetWithSession implements storeext.SharedRedis: one round trip reads
// the record, the session's key and the user's revocation mark
// (revocation.go, readWith: an MGET, or a script where this server has not
// read the record before), retried once on a freshly dialled connection where the pooled one turns
// out broken (as Get).
func (s *Store) GetWithSession(ctx context.Context, handle, sessionKey string) (*storeext.Record, []byte, error) {
	var res readResult
	_, err := s.read(ctx, func(c redis.Conn) (any, error) {
		var err error
		res, err = s.readWith(ctx, c, handle, sessionKey)
		return nil, err
	})
	if err != nil {
		return nil, nil, err
	}
	value := res.sess
	if res.rec == nil {
		return nil, value, storeext.ErrNotFound
	}
	rec, err := s.recordShared(handle, res.rec, res.m)
	if err != nil && !errors.Is(err, storeext.ErrNotFound) {
		return nil, nil, err
	}
	return rec, value, err
}

// saveUnlessMarkedScript: KEYS[1] marker key, KEYS[2] session key. ARGV:
// value, ttl s, now ms (the store's clock). Returns the live marker
// (nothing written), or 1.
var saveUnlessMarkedScript = redis.NewScript(2, `
local m = redis.call('GET', KEYS[1])
if m then
  -- A marker that does not decode retires nothing (as GetMarker's error
  -- lets a write stand).
  local ok, d = pcall(cjson.decode, m)
  if ok and type(d) == 'table' and type(d.exp) == 'number' and (d.exp == 0 or d.exp > tonumber(ARGV[3])) then return m end
end
redis.call('SETEX', KEYS[2], ARGV[2], ARGV[1])
return 1
`)

// SaveSessionUnlessMarked implements storeext.SharedRedis: one script,
// so that no marker can be set between its check and the write.
//
// As every command of the store, it is sent once more on a freshly
// dialled connection where the pooled one turns out broken (link):
// after a Redis restart every idle connection is dead, and the sequential
// order's reads have gone past them before its session write (boj/
// redistore's load is tried again), so its write succeeds: this one must
// too. Sending it again is safe even where the lost attempt was applied:
// that attempt found no marker, so it wrote before any marker; the second
// either writes the same bytes again, or finds a marker set since and
// writes nothing (the session's retirement removes the first write, and
// the caller reports the write refused: never a silent success).
func (s *Store) SaveSessionUnlessMarked(ctx context.Context, markerKey, sessionKey string, value []byte, ttl time.Duration) (storeext.Marker, bool, error) {
	secs := wholeSeconds(ttl)
	mkey := s.markKey(markerKey)
	now := ms(s.now())
	v, err := s.read(ctx, func(c redis.Conn) (any, error) {
		return eval(ctx, saveUnlessMarkedScript, c, mkey, sessionKey, value, secs, now)
	})
	if err != nil {
		return storeext.Marker{}, false, err
	}
	b, ok := v.([]byte)
	if !ok {
		return storeext.Marker{}, true, nil
	}
	var w wireMarker
	if err := json.Unmarshal(b, &w); err != nil {
		return storeext.Marker{}, false, fmt.Errorf("redisstore: corrupt marker: %w", err)
	}
	return storeext.Marker{At: fromMS(w.At), ExpiresAt: fromMS(w.Exp), Handle: w.H}, false, nil
}

// CreateWithSession implements storeext.SharedRedis: Create's script,
// which also sets the session's key once every check has passed, so that
// a login's record and its new session cost one round trip. Sent again
// where its connection broke, as Create is (the second send finds its own
// record and writes the session again).
func (s *Store) CreateWithSession(ctx context.Context, rec storeext.Record, limit storeext.Limit, sessionKey string, value []byte, ttl time.Duration) error {
	return s.create(ctx, rec, limit, &sessionWrite{key: sessionKey, value: value, secs: wholeSeconds(ttl)})
}

// wholeSeconds is a session's TTL for SETEX: whole seconds, at least 1.
func wholeSeconds(ttl time.Duration) int64 {
	if secs := int64(ttl / time.Second); secs >= 1 {
		return secs
	}
	return 1
}

// SetMarkerReadSession implements storeext.SharedRedis: SetMarker's
// script, which also reads the session's key once the marker is set.
// Sent again where its connection broke, as SetMarker is.
func (s *Store) SetMarkerReadSession(ctx context.Context, key string, m storeext.Marker, sessionKey string) ([]byte, error) {
	b, err := json.Marshal(wireMarker{At: ms(m.At), Exp: ms(m.ExpiresAt), H: m.Handle})
	if err != nil {
		return nil, err
	}
	vs, err := redis.Values(s.send(ctx, func(c redis.Conn, again bool) (any, error) {
		return eval(ctx, setMarkerReadScript, c, s.markKey(key), sessionKey, b, s.ttl(m.ExpiresAt), ms(s.now()), m.Handle, flag(again))
	}))
	if err != nil {
		return nil, err
	}
	if len(vs) == 0 {
		return nil, errors.New("redisstore: empty reply to the marker script")
	}
	if ok, err := redis.Int(vs[0], nil); err != nil || ok == 0 {
		if err != nil {
			return nil, err
		}
		return nil, storeext.ErrMarkerExists
	}
	if len(vs) < 2 || vs[1] == nil {
		return nil, nil
	}
	return redis.Bytes(vs[1], nil)
}

// UpdateHeldDeletingSession implements storeext.SharedRedis: UpdateHeld,
// whose compare-and-set script also deletes the session's key when it
// writes.
func (s *Store) UpdateHeldDeletingSession(ctx context.Context, held storeext.Record, fn func(*storeext.Record) error, sessionKey string) (storeext.Record, error) {
	if sessionKey == "" {
		return storeext.Record{}, errors.New("redisstore: UpdateHeldDeletingSession without a session key")
	}
	return s.updateHeld(ctx, held, fn, sessionKey)
}
