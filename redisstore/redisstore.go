// Package redisstore keeps ginsecure's security records in Redis, so that
// logins, rotations, revocations and limits hold on every server sharing
// it. It uses a redigo pool, and builds gin-contrib/sessions' Redis store
// (boj/redistore) on the same pool (NewSessionStore): the Guard then reads
// a request's record and session in one round trip.
//
//	pool := &redis.Pool{Dial: ..., MaxIdle: 16}        // no PING on every borrow (README: an idle check)
//	sessStore, _ := redisstore.NewSessionStore(pool, [][]byte{secret})
//	sec, _ := ginsecure.New(ginsecure.Config{Store: redisstore.New(pool)})
//
// A store of gin-contrib's own constructors (ginredis.NewStoreWithPool,
// NewStore) works too, in the ordinary order: the record is read beside
// the session (Prefetch), a session write is checked after it is saved.
//
// redistore's own constructors give the pool a PING on every borrow, which
// doubles the round trips of every request; build the pool yourself.
// Without that PING, a connection that died (Redis restarted) is found dead
// when used: every command of the store is then sent once more on a
// freshly dialled connection, its writes made safe to send twice (link).
//
// Keys: <prefix>r:<handle> holds a record (JSON), <prefix>u:<user> a sorted
// set of the user's handles scored by last activity, <prefix>m:<key> a
// marker. Every key has a TTL. The index is never scanned with
// KEYS or SCAN. The scripts touch keys they derive from the index, so the
// store needs a single Redis (or Sentinel), not Redis Cluster.
package redisstore

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	json "github.com/goccy/go-json"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ginsecure/ginsecure"
	"github.com/ginsecure/ginsecure/storeext"
	"github.com/gomodule/redigo/redis"
	lru "github.com/hashicorp/golang-lru/v2"
)

// Option configures the store.
type Option func(*Store)

// WithPrefix sets the key prefix (default "ginsecure:"). Give each app
// sharing a Redis its own.
func WithPrefix(p string) Option { return func(s *Store) { s.prefix = p } }

// WithMaxRetries sets how often Update retries when another server changed
// the record between its read and its write (default 8).
func WithMaxRetries(n int) Option { return func(s *Store) { s.retries = n } }

// WithPreviousEncoding makes the store write records in the encoding of
// the releases before the compact one (the token's hash in hex, every
// time written out), which those releases read, and a Guard on it mint
// the token keys those releases can seal to (X25519, not P-256;
// PreviousEncoding). It is for a rolling upgrade of servers sharing one
// Redis: deploy this release with it on every server, then without it.
// Records of either encoding are read whatever the option.
func WithPreviousEncoding() Option { return func(s *Store) { s.previous = true } }

// PreviousEncoding reports whether the store writes records for the
// previous release (WithPreviousEncoding): the Guard then mints token
// keys that release can seal to (storeext.PreviousEncoder).
func (s *Store) PreviousEncoding() bool { return s.previous }

// Store is a ginsecure.Store on Redis.
type Store struct {
	pool     *redis.Pool
	prefix   string
	retries  int
	previous bool // WithPreviousEncoding
	now      func() time.Time
	memo     *lru.Cache[string, memoEntry] // memo.go
	check    evictionCheck                 // eviction.go
	draining atomic.Bool                   // drain runs
}

// The optional interfaces the Guard asks a Store for (storeext).
var (
	_ storeext.Prefetcher      = (*Store)(nil)
	_ storeext.HeldUpdater     = (*Store)(nil)
	_ storeext.SharedRedis     = (*Store)(nil)
	_ storeext.SessionSharer   = (*Store)(nil)
	_ storeext.LoggerUser      = (*Store)(nil)
	_ storeext.ClockUser       = (*Store)(nil)
	_ storeext.PreviousEncoder = (*Store)(nil)
)

// New returns a Store using pool: a ginsecure.Store, and the optional
// interfaces the Guard asks for (storeext.Prefetcher, HeldUpdater,
// SessionSharer, SharedRedis, ClockUser, LoggerUser).
func New(pool *redis.Pool, opts ...Option) *Store {
	s := &Store{pool: pool, prefix: "ginsecure:", retries: 8, now: time.Now, memo: newMemo()}
	for _, o := range opts {
		o(s)
	}
	return s
}

// UseClock implements storeext.ClockUser: TTLs and expiry checks follow
// the Guard's clock.
func (s *Store) UseClock(now func() time.Time) { s.now = now }

// wire is a record as stored: times in Unix milliseconds, so that the Lua
// scripts can read what they need (they read q, u, c, seen, exp, np and
// revoked only). The format is compact, since every signed-in session
// keeps one: the token's hash in unpadded base64url (43 characters; the
// previous format's 64 hex digits still read), and the issue, last
// authentication and last use left out where they equal the creation
// ("c"), as they do from a login to its first touch (a record of the
// previous format has all three, and reads as before).
type wire struct {
	// Seq comes first: the create script writes Redis's clock (µs) over
	// the placeholder `{"q":"0",` (no JSON re-encoding in Lua).
	Seq       string    `json:"q"` // decimal: cjson re-encodes numbers over 14 digits lossily
	Handle    string    `json:"h"`
	UserID    string    `json:"u"`
	SID       string    `json:"sid"`
	Replaced  string    `json:"rb,omitempty"`
	FwdPend   []byte    `json:"fp,omitempty"`
	Tok       string    `json:"t"`
	TokKey    []byte    `json:"tk,omitempty"`
	Issued    *int64    `json:"ti,omitempty"` // nil: Created
	Confirmed int64     `json:"cf,omitempty"`
	Unpresent bool      `json:"np,omitempty"` // read by the scripts: not counted toward the limit
	Hist      []wireSup `json:"hs,omitempty"`
	IP        string    `json:"ip"`
	UA        string    `json:"ua,omitempty"`
	CookieAge int       `json:"ca,omitempty"`
	Created   int64     `json:"c"`
	Auth      *int64    `json:"a,omitempty"`    // nil: Created
	Seen      *int64    `json:"seen,omitempty"` // nil: Created
	Exp       int64     `json:"exp"`
	Revoked   string    `json:"revoked,omitempty"`
	// The device key (Record.Device), absent while unbound.
	DevAlg   string `json:"da,omitempty"`
	DevJWK   string `json:"dk,omitempty"`
	DevThumb string `json:"dt,omitempty"`
	DevAt    int64  `json:"dat,omitempty"`
	legacy
	// opt holds the values Issued, Auth and Seen point to when encoding
	// (in the same allocation as the rest).
	opt [3]int64
}

// wireSup is a superseded credential as stored.
type wireSup struct {
	Hash   []byte `json:"h"`
	At     int64  `json:"at"`
	Auth   int64  `json:"a"`
	Raised bool   `json:"x,omitempty"`
	Seen   int64  `json:"s,omitempty"`
	Open   int64  `json:"o,omitempty"`
	Key    []byte `json:"k,omitempty"`
	Sealed []byte `json:"z,omitempty"`
}

// legacy holds the fields of the format before Record.History, read only
// (never written): a record of it decodes into the history it implies.
type legacy struct {
	Pending   []byte   `json:"pd,omitempty"`
	Siblings  []string `json:"sb,omitempty"`
	Prev      string   `json:"p,omitempty"`
	Rotated   int64    `json:"pr,omitempty"`
	PrevAuth  int64    `json:"pa,omitempty"`
	PrevRaise bool     `json:"px,omitempty"`
	Abandoned string   `json:"ab,omitempty"`
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

// textOf is a token hash as stored: unpadded base64url, "" for none.
func textOf(h [32]byte) string {
	if h == ([32]byte{}) {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// hashOf reads a token hash: unpadded base64url (43 characters), or the
// previous format's hex (64).
func hashOf(s string) ([32]byte, error) {
	var h [32]byte
	var err error
	switch len(s) {
	case 0:
		return h, nil
	case 43:
		var n int
		n, err = base64.RawURLEncoding.Decode(h[:], []byte(s))
		if err == nil && n != len(h) {
			err = errors.New("redisstore: corrupt hash")
		}
	case 64:
		_, err = hex.Decode(h[:], []byte(s))
	default:
		err = errors.New("redisstore: corrupt hash")
	}
	return h, err
}

// optMS sets *slot to t in Unix milliseconds and returns slot, or nil
// where that equals created (left out of the record) unless always.
func optMS(t time.Time, created int64, slot *int64, always bool) *int64 {
	*slot = ms(t)
	if *slot == created && !always {
		return nil
	}
	return slot
}

// orCreated is a time left out of the record where it equals the
// creation (optMS).
func orCreated(v *int64, created int64) time.Time {
	if v == nil {
		return fromMS(created)
	}
	return fromMS(*v)
}

// encode is r as this store writes records (WithPreviousEncoding).
func (s *Store) encode(r storeext.Record) ([]byte, error) { return encodeAs(r, s.previous) }

// encode is r in the compact encoding.
func encode(r storeext.Record) ([]byte, error) { return encodeAs(r, false) }

// encodeAs is r in the compact encoding, or with previous in the one
// before it (WithPreviousEncoding), byte for byte as its releases wrote.
func encodeAs(r storeext.Record, previous bool) ([]byte, error) {
	var hist []wireSup
	if len(r.History) > 0 {
		hist = make([]wireSup, len(r.History))
		for i, e := range r.History {
			hist[i] = wireSup{Hash: e.Hash[:], At: ms(e.At), Auth: ms(e.AuthAt), Raised: e.Raised,
				Seen: ms(e.Seen), Open: ms(e.Open), Key: e.Key, Sealed: e.Sealed}
		}
	}
	w := &wire{
		Replaced: r.ReplacedBy, FwdPend: r.ForwardPending, TokKey: r.TokenKey, Hist: hist,
		Seq: strconv.FormatUint(r.Seq, 10), Handle: r.Handle, UserID: r.UserID, SID: r.SessionID, Tok: textOf(r.TokenHash),
		Confirmed: ms(r.ConfirmedAt), Unpresent: r.Unpresented,
		IP: r.IP, UA: r.UserAgent, CookieAge: r.CookieMaxAge, Created: ms(r.CreatedAt),
		Exp: ms(r.ExpiresAt), Revoked: r.Revoked,
		DevAlg: string(r.Device.Algorithm), DevJWK: r.Device.JWK, DevThumb: r.Device.Thumbprint, DevAt: ms(r.Device.BoundAt),
	}
	w.Issued = optMS(r.IssuedAt, w.Created, &w.opt[0], previous)
	w.Auth = optMS(r.AuthAt, w.Created, &w.opt[1], previous)
	w.Seen = optMS(r.LastSeen, w.Created, &w.opt[2], previous)
	if previous && r.TokenHash != ([32]byte{}) {
		w.Tok = hex.EncodeToString(r.TokenHash[:])
	}
	return json.Marshal(w)
}

func decode(b []byte) (storeext.Record, error) {
	var w wire
	if err := json.Unmarshal(b, &w); err != nil {
		return storeext.Record{}, fmt.Errorf("redisstore: corrupt record: %w", err)
	}
	tok, err := hashOf(w.Tok)
	if err != nil {
		return storeext.Record{}, err
	}
	hist, err := history(&w)
	if err != nil {
		return storeext.Record{}, err
	}
	seq, err := strconv.ParseUint(w.Seq, 10, 64)
	if err != nil && w.Seq != "" {
		return storeext.Record{}, fmt.Errorf("redisstore: corrupt record sequence: %w", err)
	}
	return storeext.Record{
		ReplacedBy: w.Replaced, ForwardPending: w.FwdPend, TokenKey: w.TokKey, History: hist,
		Seq: seq, Handle: w.Handle, UserID: w.UserID, SessionID: w.SID, TokenHash: tok, IssuedAt: orCreated(w.Issued, w.Created),
		ConfirmedAt: fromMS(w.Confirmed), Unpresented: w.Unpresent,
		IP: w.IP, UserAgent: w.UA, CookieMaxAge: w.CookieAge, CreatedAt: fromMS(w.Created), AuthAt: orCreated(w.Auth, w.Created), LastSeen: orCreated(w.Seen, w.Created),
		ExpiresAt: fromMS(w.Exp), Revoked: w.Revoked,
		Device: storeext.DeviceKey{Algorithm: string(w.DevAlg), JWK: w.DevJWK, Thumbprint: w.DevThumb, BoundAt: fromMS(w.DevAt)},
	}, nil
}

// history decodes a record's superseded credentials.
func history(w *wire) ([]storeext.Superseded, error) {
	if len(w.Hist) == 0 {
		return legacyHistory(w)
	}
	out := make([]storeext.Superseded, len(w.Hist))
	for i, e := range w.Hist {
		if len(e.Hash) != 32 {
			return nil, errors.New("redisstore: corrupt hash")
		}
		out[i] = storeext.Superseded{Hash: [32]byte(e.Hash), At: fromMS(e.At), AuthAt: fromMS(e.Auth), Raised: e.Raised,
			Seen: fromMS(e.Seen), Open: fromMS(e.Open), Key: e.Key, Sealed: e.Sealed}
	}
	return out, nil
}

// legacyHistory is the history a record of the previous format implies:
// its previous token (presented; its window open since its confirmation,
// its pending token sealed under it), then the tokens of earlier joined
// logins and a reissue's abandoned one (never presented, with no key to
// seal to: served, at their first presentation, without a newer token).
func legacyHistory(w *wire) ([]storeext.Superseded, error) {
	l := &w.legacy
	if l.Prev == "" {
		return nil, nil
	}
	prev, err := hashOf(l.Prev)
	if err != nil {
		return nil, err
	}
	at := fromMS(l.Rotated)
	out := []storeext.Superseded{{Hash: prev, At: at, AuthAt: fromMS(l.PrevAuth), Raised: l.PrevRaise,
		Seen: at, Open: fromMS(w.Confirmed), Sealed: l.Pending}}
	for _, s := range append([]string{l.Abandoned}, l.Siblings...) {
		if s == "" || len(out) == 4 {
			continue
		}
		h, err := hashOf(s)
		if err != nil {
			return nil, err
		}
		out = append(out, storeext.Superseded{Hash: h, At: at, AuthAt: fromMS(l.PrevAuth)})
	}
	return out, nil
}

func (s *Store) recKey(h string) string  { return s.prefix + "r:" + h }
func (s *Store) userKey(u string) string { return s.prefix + "u:" + u }
func (s *Store) markKey(k string) string { return s.prefix + "m:" + k }

// ttl is the Redis TTL in milliseconds for something that expires at exp
// by the store's clock; at least one millisecond. Records are kept
// RetainExpired longer (see recTTL).
func (s *Store) ttl(exp time.Time) int64 {
	d := exp.Sub(s.now()).Milliseconds()
	if d < 1 {
		return 1
	}
	return d
}

// recTTL is a record's TTL: Get returns it for RetainExpired after expiry.
func (s *Store) recTTL(exp time.Time) int64 { return s.ttl(exp.Add(storeext.RetainExpired)) }

// conn takes a pooled connection (and starts the eviction check where it
// is due: eviction.go).
func (s *Store) conn(ctx context.Context) (redis.Conn, error) {
	s.startCheck()
	return s.pool.GetContext(ctx)
}

// do runs one command on c under ctx. redigo's DoContext runs every
// command on a goroutine of its own, so that it can give up when ctx ends:
// two goroutine switches per command, which on a local socket cost about
// as much as the round trip itself. Only a context that can never end
// (context.Background, context.WithoutCancel) runs the command directly,
// bounded by the connection's own read and write timeouts: the Guard
// passes one where boj/redistore's commands on the same pool, which take
// no context, decide the request anyway (session_shared.go). Every other
// caller's context bounds the call, deadline or not: a request's context
// ends when its client goes away, and a pool may have no read timeout.
func do(ctx context.Context, c redis.Conn, cmd string, args ...any) (any, error) {
	if ctx.Done() != nil {
		return redis.DoContext(c, ctx, cmd, args...)
	}
	return c.Do(cmd, args...)
}

// eval runs a script on c, under do's rule for ctx.
func eval(ctx context.Context, sc *redis.Script, c redis.Conn, keysAndArgs ...any) (any, error) {
	if ctx.Done() != nil {
		return sc.DoContext(ctx, c, keysAndArgs...)
	}
	return sc.Do(c, keysAndArgs...)
}

// score is a record's score in its user's index (pruneLua): its last
// activity in Unix milliseconds, negated while no request presented it,
// so that the scripts read the presented records and the waiting ones
// apart, by score range.
func score(r storeext.Record) int64 {
	if r.Unpresented {
		return -ms(r.LastSeen)
	}
	return ms(r.LastSeen)
}

func expired(exp, now time.Time) bool { return !exp.IsZero() && !now.Before(exp) }

// Get implements ginsecure.Store: one round trip reads the record and its
// user's revocation mark (revocation.go, readWith).
func (s *Store) Get(ctx context.Context, handle string) (storeext.Record, error) {
	var res readResult
	_, err := s.read(ctx, func(c redis.Conn) (any, error) {
		var err error
		res, err = s.readWith(ctx, c, handle, "")
		return nil, err
	})
	return s.record(handle, res, err)
}

// getCmd is the GET of the record under handle, for send.
func (s *Store) getCmd(ctx context.Context, handle string) func(redis.Conn, bool) (any, error) {
	return func(c redis.Conn, _ bool) (any, error) { return do(ctx, c, "GET", s.recKey(handle)) }
}

// flag is a script's 0/1 argument.
func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// getOn is Get on a connection the caller holds (Prefetch), without the
// retry: the caller falls back to Get on any error.
func (s *Store) getOn(ctx context.Context, c redis.Conn, handle string) (storeext.Record, error) {
	res, err := s.readWith(ctx, c, handle, "")
	return s.record(handle, res, err)
}

// record decodes a read script's reply (the record, the mark) into a
// record, or ErrNotFound.
func (s *Store) record(handle string, res readResult, err error) (storeext.Record, error) {
	if err != nil {
		return storeext.Record{}, err
	}
	if res.rec == nil {
		return storeext.Record{}, storeext.ErrNotFound
	}
	r, err := s.recordShared(handle, res.rec, res.m)
	if err != nil {
		return storeext.Record{}, err
	}
	return detach(*r), nil
}

// recordShared decodes the bytes of the record under handle (through the
// memo: the record is shared, never to be modified) as its user's
// revocation mark leaves it, or ErrNotFound where it expired longer than
// RetainExpired ago.
func (s *Store) recordShared(handle string, b []byte, m mark) (*storeext.Record, error) {
	r, err := s.decodeMemo(handle, b)
	if err != nil {
		return nil, err
	}
	if !r.ExpiresAt.IsZero() && expired(r.ExpiresAt.Add(storeext.RetainExpired), s.now()) {
		return nil, storeext.ErrNotFound
	}
	return m.apply(r), nil
}

// pruneLua defines prune(hs): it drops from the user's index KEYS[1] the
// handles of hs whose record is gone, revoked (its own Revoked, or the
// user's revocation mark: revocation.go) or expired (by the caller's
// clock, ARGV[1]), and returns the remaining {handle, lastSeen, record
// JSON, unpresented} entries; `indexed` tells whether the index key
// existed. The index is a sorted set scored by last activity, negated for
// records no request presented yet: the scripts read the range they need
// (presentedLua, waitingLua), never the whole of a large index.
const pruneLua = markLua + `
local prefix = ARGV[2]
local now = tonumber(ARGV[1])
local indexed = redis.call('EXISTS', KEYS[1]) == 1
local mseq, mexcept = markOf(prefix, string.sub(KEYS[1], #prefix + 3))
-- Each record is read by pattern, not decoded: "revoked", "exp", "seen",
-- "c", "q" and "np" are top-level members found nowhere else in a record
-- (a string value cannot hold their unescaped quotes), and a record the
-- scripts re-encoded (cjson) is a revoked one. A record leaves "seen" out
-- where it equals "c" (its creation).
local function prune(hs)
  local live = {}
  for _, h in ipairs(hs) do
    local v = redis.call('GET', prefix .. 'r:' .. h)
    local keep = false
    if v and not string.find(v, '"revoked":"[^"]') then
      local exp = tonumber(string.match(v, '"exp":(%d+)')) or 0
      local q = string.match(v, '"q":"(%d+)"')
      if (exp == 0 or exp > now) and not markCovers(mseq, mexcept, h, q) then
        keep = true
        local seen = string.match(v, '"seen":(%d+)') or string.match(v, '"c":(%d+)')
        table.insert(live, {h, tonumber(seen) or 0, v,
          string.find(v, '"np":true', 1, true) ~= nil, tonumber(q) or 0})
      end
    end
    if not keep then redis.call('ZREM', KEYS[1], h) end
  end
  return live
end
local function presented() return prune(redis.call('ZRANGEBYSCORE', KEYS[1], '0', '+inf')) end
local function waiting() return prune(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(0')) end
`

// createLua: KEYS[1] user index, KEYS[2] new record key.
// ARGV: now, prefix, limit, reject(0/1), handle, record JSON, ttl ms, seen,
// replacing (a handle that does not count against the limit, or ""),
// unpresented bound (0: none, or the new record is presented).
// Every refusal comes before the first write. The record found stored
// byte for byte (its sequence aside) is this create's own, sent again
// after its reply was lost: nothing more is written, and no error.
const createLua = pruneLua + evictLua + setMarkLua + `
local limit = tonumber(ARGV[3])
local counted = 0
if ARGV[4] == '1' and limit > 0 then
  -- Counting needs every live presented record: under a limit, at most
  -- the limit and what ended since the last count.
  for _, e in ipairs(presented()) do
    if not e[4] and e[1] ~= ARGV[9] then counted = counted + 1 end
  end
else
  -- No count needed: the four least recently active entries are checked,
  -- so that the index sheds what ended at the pace logins add to it, in
  -- a call of bounded work.
  prune(redis.call('ZRANGEBYSCORE', KEYS[1], '0', '+inf', 'LIMIT', 0, 4))
end
local stored = redis.call('GET', KEYS[2])
if stored then
  -- This very record (its sequence aside), under its random handle: this
  -- create sent again after its reply was lost. Anything else is another's.
  local i = string.find(stored, '",', 7, true)
  if not i or string.sub(stored, i + 2) ~= string.sub(ARGV[6], 10) then
    return redis.error_reply('ginsecure: handle exists')
  end
else
  if ARGV[4] == '1' and limit > 0 and counted >= limit then
    return redis.error_reply('TOOMANY too many sessions')
  end
  local bound = tonumber(ARGV[10])
  if bound > 0 then
    local w = {}
    for _, e in ipairs(waiting()) do
      if e[4] then table.insert(w, e) end
    end
    evictOldest(w, bound - 1)
  end
  if limit > 0 and not indexed then
    -- No index: every record it listed ended (the index outlives them), or
    -- it was lost (evicted, deleted) and cannot be counted. The user's
    -- revocation mark ends whatever it listed (revocation.go): the limit
    -- holds without it.
    setMark(prefix, string.sub(KEYS[1], #prefix + 3), ARGV[5], 'evicted')
  end
  local ttl = tonumber(ARGV[7])
  local rec = ARGV[6]
  if string.sub(rec, 1, 9) ~= '{"q":"0",' then return redis.error_reply('ginsecure: record without a sequence placeholder') end
  -- The creation order: the store's counter, which only Redis advances
  -- (revocation.go): a revocation mark drawn from it covers exactly the
  -- records created before it.
  rec = '{"q":"' .. nextSeq(prefix) .. '",' .. string.sub(rec, 10)
  redis.call('SET', KEYS[2], rec, 'PX', ttl)
  redis.call('ZADD', KEYS[1], tonumber(ARGV[8]), ARGV[5])
  if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
end
`

var createScript = redis.NewScript(2, createLua+`
return 1
`)

// createWithSessionScript: createLua's, and KEYS[3] the session key.
// ARGV[11] the session's value, ARGV[12] its TTL in seconds.
var createWithSessionScript = redis.NewScript(3, createLua+`
redis.call('SETEX', KEYS[3], ARGV[12], ARGV[11])
return 1
`)

// Create implements ginsecure.Store: one script, atomic with the limit.
func (s *Store) Create(ctx context.Context, rec storeext.Record, limit storeext.Limit) error {
	return s.create(ctx, rec, limit, nil)
}

// sessionWrite is a session that CreateWithSession writes with the record.
type sessionWrite struct {
	key   string
	value []byte
	secs  int64
}

// create runs the create script, or with a session the script that also
// writes it (CreateWithSession), under send's rule (a second send finds
// its own record and succeeds).
func (s *Store) create(ctx context.Context, rec storeext.Record, limit storeext.Limit, sess *sessionWrite) error {
	rec.Seq = 0 // the script assigns it
	b, err := s.encode(rec)
	if err != nil {
		return err
	}
	reject := "0"
	if limit.Reject {
		reject = "1"
	}
	sc := createScript
	args := make([]any, 0, 14)
	args = append(args, s.userKey(rec.UserID), s.recKey(rec.Handle))
	if sess != nil {
		sc = createWithSessionScript
		args = append(args, sess.key)
	}
	bound := 0
	if rec.Unpresented {
		bound = limit.Unpresented
	}
	args = append(args, ms(s.now()), s.prefix, limit.Max, reject, rec.Handle, b, s.recTTL(rec.ExpiresAt), score(rec), limit.Replacing, bound)
	if sess != nil {
		args = append(args, sess.value, sess.secs)
	}
	_, err = s.send(ctx, func(c redis.Conn, _ bool) (any, error) { return eval(ctx, sc, c, args...) })
	return createErr(err)
}

// createErr is the error of a create script.
func createErr(err error) error {
	if err != nil {
		var re redis.Error
		// "TOOMANY msg": Redis 7 keeps the first word as the error code
		// only when a message follows (a bare "TOOMANY" comes back as
		// "ERR TOOMANY"); Redis 6 returns the reply as written.
		if errors.As(err, &re) && strings.HasPrefix(re.Error(), "TOOMANY ") {
			return ginsecure.ErrTooManySessions
		}
		return err
	}
	return nil
}

// evictLua (after pruneLua) defines evictOldest(list, keep): it keeps the
// keep most recently seen entries of list (ties: the later created, by the
// store's sequence), signs out the rest (revoked "evicted", out of the
// index KEYS[1]) and returns their handles.
const evictLua = `
local function evictOldest(list, keep)
  local evicted = {}
  if #list <= keep then return evicted end
  table.sort(list, function(a, b)
    if a[2] ~= b[2] then return a[2] < b[2] end
    if a[5] ~= b[5] then return a[5] < b[5] end
    return a[1] < b[1]
  end)
  for i = 1, #list - keep do
    local e = list[i]
    local r = cjson.decode(e[3])
    r.revoked = 'evicted'
    redis.call('SET', prefix .. 'r:' .. e[1], cjson.encode(r), 'KEEPTTL')
    redis.call('ZREM', KEYS[1], e[1])
    table.insert(evicted, e[1])
  end
  return evicted
end
`

// trimScript: KEYS[1] user index. ARGV: now, prefix, max.
// Keeps the max most recently seen live presented records and evicts the
// rest; unpresented records are left alone.
var trimScript = redis.NewScript(1, pruneLua+evictLua+`
local p = {}
for _, e in ipairs(presented()) do
  if not e[4] then table.insert(p, e) end
end
return evictOldest(p, tonumber(ARGV[3]))
`)

// presentScript: KEYS[1] user index, KEYS[2] record key.
// ARGV: now, prefix, old JSON, new JSON, ttl ms, handle, revoked(0/1),
// seen, max (0: no limit to enforce), reject(0/1), again(0/1).
// casLua's compare-and-set, with the limit among the user's other live
// presented records checked (and enforced) in the same script. Returns
// {'0'} where the record is not old, {'2'} where Reject refuses (nothing
// written), else {'1', evicted handles...}; sent again (a lost reply),
// {'1'} where the new record is what is stored: the first send's.
//
// A first presentation under a limit that finds no index at all finds it
// lost (the record joined it at its creation, and the index outlives
// every record it lists): the sessions it listed cannot be counted, so
// the user's revocation mark signs out every session created before, but
// this one (revocation.go), and the index starts again from this record.
// The limit holds without the index, whatever RejectExtraLogins says.
var presentScript = redis.NewScript(2, pruneLua+evictLua+setMarkLua+`
local cur = redis.call('GET', KEYS[2])
if cur ~= ARGV[3] then
  if ARGV[11] == '1' and cur == ARGV[4] then return {'1'} end
  return {'0'}
end
local max = tonumber(ARGV[9])
local others = {}
if max > 0 then
  for _, e in ipairs(presented()) do
    if not e[4] and e[1] ~= ARGV[6] then table.insert(others, e) end
  end
end
if max > 0 and ARGV[10] == '1' and #others >= max then return {'2'} end
local lost = max > 0 and not indexed
if lost then setMark(prefix, string.sub(KEYS[1], #prefix + 3), ARGV[6], 'evicted') end
local ttl = tonumber(ARGV[5])
redis.call('SET', KEYS[2], ARGV[4], 'PX', ttl)
if ARGV[7] == '1' then
  redis.call('ZREM', KEYS[1], ARGV[6])
elseif lost then
  redis.call('ZADD', KEYS[1], tonumber(ARGV[8]), ARGV[6])
  redis.call('PEXPIRE', KEYS[1], ttl)
else
  redis.call('ZADD', KEYS[1], 'XX', tonumber(ARGV[8]), ARGV[6])
  if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
end
local out = {'1'}
if max > 0 and ARGV[10] ~= '1' then
  for _, h in ipairs(evictOldest(others, max - 1)) do table.insert(out, h) end
end
return out
`)

// Present implements ginsecure.Store: the compare-and-set of UpdateHeld
// with the limit in the same script, one round trip where held is
// current. Without a limit it is UpdateHeld.
func (s *Store) Present(ctx context.Context, held storeext.Record, fn func(*storeext.Record) error, limit storeext.Limit) (storeext.Record, []string, error) {
	if limit.Max <= 0 {
		rec, err := s.updateHeld(ctx, held, fn, "")
		return rec, nil, err
	}
	l, err := s.link(ctx)
	if err != nil {
		return storeext.Record{}, nil, err
	}
	defer l.close()
	old, err := s.encode(held)
	fromHeld := err == nil && !expired(held.ExpiresAt, s.now())
	for i := 0; i <= s.retries; i++ {
		if !fromHeld {
			if old, err = redis.Bytes(l.send(s.getCmd(ctx, held.Handle))); err != nil {
				if errors.Is(err, redis.ErrNil) {
					err = storeext.ErrNotFound
				}
				return storeext.Record{}, nil, err
			}
		}
		rec, err := decode(old)
		if err != nil {
			return storeext.Record{}, nil, err
		}
		if !fromHeld && expired(rec.ExpiresAt, s.now()) {
			return storeext.Record{}, nil, storeext.ErrNotFound
		}
		next := rec
		if err := fn(&next); err != nil {
			if fromHeld { // refused as held: decide on the stored record
				fromHeld = false
				continue
			}
			return rec, nil, err
		}
		fromHeld = false
		next.Handle = held.Handle
		res, err := s.presentCAS(ctx, &l, old, rec, next, limit)
		switch {
		case err != nil:
			return storeext.Record{}, nil, err
		case len(res) == 0:
			return storeext.Record{}, nil, errors.New("redisstore: empty reply to present")
		case res[0] == "2":
			return rec, nil, ginsecure.ErrTooManySessions
		case res[0] == "1":
			return next, res[1:], nil
		}
	}
	return storeext.Record{}, nil, ErrContention
}

// presentCAS runs presentScript: next over old (the stored bytes, which
// decode to rec), enforcing limit where it is rec's first presentation.
func (s *Store) presentCAS(ctx context.Context, l *link, old []byte, rec, next storeext.Record, limit storeext.Limit) ([]string, error) {
	b, err := s.encode(next)
	if err != nil {
		return nil, err
	}
	max, reject, revoked := 0, "0", "0"
	if rec.Unpresented && !next.Unpresented {
		max = limit.Max
	}
	if limit.Reject {
		reject = "1"
	}
	if next.Revoked != "" {
		revoked = "1"
	}
	args := []any{s.userKey(next.UserID), s.recKey(next.Handle),
		ms(s.now()), s.prefix, old, b, s.recTTL(next.ExpiresAt), next.Handle, revoked, score(next), max, reject, "0"}
	return redis.Strings(l.send(func(c redis.Conn, again bool) (any, error) {
		args[len(args)-1] = flag(again)
		return eval(ctx, presentScript, c, args...)
	}))
}

// Trim implements ginsecure.Store: one script.
func (s *Store) Trim(ctx context.Context, userID string, max int) ([]string, error) {
	if max <= 0 {
		return nil, nil
	}
	return redis.Strings(s.send(ctx, func(c redis.Conn, _ bool) (any, error) {
		return eval(ctx, trimScript, c, s.userKey(userID), ms(s.now()), s.prefix, max)
	}))
}

// casScript: KEYS[1] record key, KEYS[2] user index.
// ARGV: old JSON, new JSON, ttl ms, handle, revoked(0/1), seen, again(0/1).
// Writes only if the record is still what the caller read; sent again (a
// lost reply), also where it is what the caller writes: the first send's.
const casLua = `
local cur = redis.call('GET', KEYS[1])
if cur ~= ARGV[1] and not (ARGV[7] == '1' and cur == ARGV[2]) then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', tonumber(ARGV[3]))
if ARGV[5] == '1' then
  redis.call('ZREM', KEYS[2], ARGV[4])
else
  redis.call('ZADD', KEYS[2], 'XX', tonumber(ARGV[6]), ARGV[4])
  if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[3])) end
end
`

var casScript = redis.NewScript(2, casLua+`
return 1
`)

// ErrContention is returned by Update when the record kept changing under
// it for every retry.
var ErrContention = errors.New("redisstore: record changed concurrently too often")

// Update implements ginsecure.Store with optimistic concurrency: read, apply
// fn, write only if the record is unchanged (a script compares the stored
// bytes), else retry. Two round trips when uncontended.
func (s *Store) Update(ctx context.Context, handle string, fn func(*storeext.Record) error) (storeext.Record, error) {
	return s.update(ctx, handle, fn, "")
}

// update is Update; with a sessionKey, that key is deleted by the script
// that writes fn's result (UpdateHeldDeletingSession).
func (s *Store) update(ctx context.Context, handle string, fn func(*storeext.Record) error, sessionKey string) (storeext.Record, error) {
	l, err := s.link(ctx)
	if err != nil {
		return storeext.Record{}, err
	}
	defer l.close()
	for i := 0; i <= s.retries; i++ {
		old, err := redis.Bytes(l.send(s.getCmd(ctx, handle)))
		if errors.Is(err, redis.ErrNil) {
			return storeext.Record{}, storeext.ErrNotFound
		}
		if err != nil {
			return storeext.Record{}, err
		}
		rec, err := decode(old)
		if err != nil {
			return storeext.Record{}, err
		}
		if expired(rec.ExpiresAt, s.now()) {
			return storeext.Record{}, storeext.ErrNotFound
		}
		next := rec
		if err := fn(&next); err != nil {
			return rec, err
		}
		next.Handle = handle
		ok, err := s.cas(ctx, &l, old, next, sessionKey)
		if err != nil {
			return storeext.Record{}, err
		}
		if ok {
			return next, nil
		}
	}
	return storeext.Record{}, ErrContention
}

// casDeletingScript is casScript that also deletes KEYS[3] (a session's
// key) when it writes.
var casDeletingScript = redis.NewScript(3, casLua+`
redis.call('DEL', KEYS[3])
return 1
`)

// cas writes next over the record stored under next.Handle if that is
// still old, byte for byte, and deletes sessionKey (unless "") with it:
// one script.
func (s *Store) cas(ctx context.Context, l *link, old []byte, next storeext.Record, sessionKey string) (bool, error) {
	b, err := s.encode(next)
	if err != nil {
		return false, err
	}
	revoked := "0"
	if next.Revoked != "" {
		revoked = "1"
	}
	args := []any{s.recKey(next.Handle), s.userKey(next.UserID), old, b, s.recTTL(next.ExpiresAt), next.Handle, revoked, score(next), "0"}
	sc := casScript
	if sessionKey != "" {
		sc = casDeletingScript
		args = append(args[:2:2], append([]any{sessionKey}, args[2:]...)...)
	}
	ok, err := redis.Int(l.send(func(c redis.Conn, again bool) (any, error) {
		args[len(args)-1] = flag(again)
		return eval(ctx, sc, c, args...)
	}))
	return ok == 1, err
}

// UpdateHeld implements storeext.HeldUpdater: the compare-and-set
// against held, encoded as the store writes records (the stored bytes of
// any record this package wrote, and of every record Get returned
// unchanged since), without Update's GET: one round trip. A record the
// scripts rewrote (Trim's eviction, in cjson's key order) never compares
// equal: Update then reads it.
func (s *Store) UpdateHeld(ctx context.Context, held storeext.Record, fn func(*storeext.Record) error) (storeext.Record, error) {
	return s.updateHeld(ctx, held, fn, "")
}

// updateHeld is UpdateHeld; with a sessionKey, that key is deleted by the
// script that writes fn's result.
func (s *Store) updateHeld(ctx context.Context, held storeext.Record, fn func(*storeext.Record) error, sessionKey string) (storeext.Record, error) {
	handle := held.Handle
	if expired(held.ExpiresAt, s.now()) {
		return s.update(ctx, handle, fn, sessionKey)
	}
	old, err := s.encode(held)
	if err != nil {
		return s.update(ctx, handle, fn, sessionKey)
	}
	// fn sees the record as Update would read it from those bytes (held
	// may carry what they do not: times finer than a millisecond), in
	// memory of its own.
	next, err := decode(old)
	if err != nil || fn(&next) != nil {
		return s.update(ctx, handle, fn, sessionKey)
	}
	next.Handle = handle
	l, err := s.link(ctx)
	if err != nil {
		return storeext.Record{}, err
	}
	ok, err := s.cas(ctx, &l, old, next, sessionKey)
	l.close()
	if err != nil {
		return storeext.Record{}, err
	}
	if ok {
		return next, nil
	}
	return s.update(ctx, handle, fn, sessionKey)
}

// deleteScript: KEYS[1] record key. ARGV: prefix, handle.
var deleteScript = redis.NewScript(1, `
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local r = cjson.decode(v)
redis.call('DEL', KEYS[1])
redis.call('ZREM', ARGV[1] .. 'u:' .. r.u, ARGV[2])
return 1
`)

// Delete implements ginsecure.Store: one script.
func (s *Store) Delete(ctx context.Context, handle string) error {
	_, err := s.send(ctx, func(c redis.Conn, _ bool) (any, error) {
		return eval(ctx, deleteScript, c, s.recKey(handle), s.prefix, handle)
	})
	return err
}

// listScript: KEYS[1] user index. ARGV: now, prefix. Returns live records.
var listScript = redis.NewScript(1, pruneLua+`
local out = {}
for i, e in ipairs(prune(redis.call('ZRANGE', KEYS[1], 0, -1))) do out[i] = e[3] end
return out
`)

// List implements ginsecure.Store: one script, which also prunes the index.
func (s *Store) List(ctx context.Context, userID string) ([]storeext.Record, error) {
	// The script prunes the index of dead entries: running it twice
	// leaves the same index, so it may be retried like a read.
	vals, err := redis.ByteSlices(s.read(ctx, func(c redis.Conn) (any, error) {
		return eval(ctx, listScript, c, s.userKey(userID), ms(s.now()), s.prefix)
	}))
	if err != nil {
		return nil, err
	}
	out := make([]storeext.Record, 0, len(vals))
	for _, v := range vals {
		r, err := decode(v)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	sortByCreated(out)
	return out, nil
}

// listRecentScript: KEYS[1] user index, KEYS[2] the user's revocation
// mark. ARGV: prefix, n. Returns {mark, then the records of the n+8 most
// recently active presented entries (false where gone)}: GETs only, no
// record parsed in Redis; ListRecent decides which live.
var listRecentScript = redis.NewScript(2, `
local out = {redis.call('GET', KEYS[2])}
for _, h in ipairs(redis.call('ZREVRANGEBYSCORE', KEYS[1], '+inf', '0', 'LIMIT', 0, tonumber(ARGV[2]) + 8)) do
  table.insert(out, redis.call('GET', ARGV[1] .. 'r:' .. h) or false)
end
return out
`)

// ListRecent implements storeext.RecentLister: one script, which reads at
// most n+8 index entries, the most recently active first; the live ones
// among them (as List's: not revoked, by their own Revoked or the mark, not
// expired, not unpresented) are returned, at most n. Entries of records
// that ended leave the index through the writes that end them and the
// logins' pruning (pruneLua), not here: a listing writes nothing.
func (s *Store) ListRecent(ctx context.Context, userID string, n int) ([]storeext.Record, error) {
	if n < 1 {
		return nil, nil
	}
	vals, err := redis.ByteSlices(s.read(ctx, func(c redis.Conn) (any, error) {
		return eval(ctx, listRecentScript, c, s.userKey(userID), s.markOfUser(userID), s.prefix, n)
	}))
	if err != nil {
		return nil, err
	}
	if len(vals) == 0 {
		return nil, errors.New("redisstore: empty reply to the listing")
	}
	m, err := parseMark(vals[0])
	if err != nil {
		return nil, err
	}
	now := s.now()
	out := make([]storeext.Record, 0, min(n, len(vals)-1))
	for _, v := range vals[1:] {
		if v == nil || len(out) == n {
			continue
		}
		r, err := decode(v)
		if err != nil {
			return nil, err
		}
		if r.UserID == userID && r.Revoked == "" && !r.Unpresented && !expired(r.ExpiresAt, now) && !m.covers(&r) {
			out = append(out, r)
		}
	}
	return out, nil
}

func sortByCreated(rs []storeext.Record) {
	for i := 1; i < len(rs); i++ {
		for j := i; j > 0 && rs[j].CreatedAt.Before(rs[j-1].CreatedAt); j-- {
			rs[j], rs[j-1] = rs[j-1], rs[j]
		}
	}
}

type wireMarker struct {
	At  int64  `json:"at"`
	Exp int64  `json:"exp"`
	H   string `json:"h"`
}

// setMarkerScript: KEYS[1] marker key. ARGV: marker JSON, ttl ms, now,
// handle, again(0/1). Sets the marker unless a live one (by the caller's
// clock) is there, but for a tombstone that a marker naming a record
// replaces; sent again (a lost reply), the very marker it sets found
// stored is the first send's, not another's.
const setMarkerLua = `
local refused = false
local v = redis.call('GET', KEYS[1])
if v and ARGV[5] == '1' and v == ARGV[1] then v = nil end
if v then
  local old = cjson.decode(v)
  local live = old.exp == 0 or old.exp > tonumber(ARGV[3])
  -- A tombstone (no handle) gives way, once, to a marker naming a record.
  if live and not (old.h == '' and ARGV[4] ~= '') then refused = true end
end
if not refused then redis.call('SET', KEYS[1], ARGV[1], 'PX', tonumber(ARGV[2])) end
`

var setMarkerScript = redis.NewScript(1, setMarkerLua+`
if refused then return 0 end
return 1
`)

// setMarkerReadScript: setMarkerLua's, and KEYS[2] a session's key, read
// once the marker is set. Returns {0}, or {1, the session's value}.
var setMarkerReadScript = redis.NewScript(2, setMarkerLua+`
if refused then return {0} end
return {1, redis.call('GET', KEYS[2])}
`)

// SetMarker implements ginsecure.Store: one script, so a marker is set
// once (sent again after a lost reply, its own marker is no refusal).
func (s *Store) SetMarker(ctx context.Context, key string, m storeext.Marker) error {
	b, err := json.Marshal(wireMarker{At: ms(m.At), Exp: ms(m.ExpiresAt), H: m.Handle})
	if err != nil {
		return err
	}
	ok, err := redis.Int(s.send(ctx, func(c redis.Conn, again bool) (any, error) {
		return eval(ctx, setMarkerScript, c, s.markKey(key), b, s.ttl(m.ExpiresAt), ms(s.now()), m.Handle, flag(again))
	}))
	if err != nil {
		return err
	}
	if ok == 0 {
		return storeext.ErrMarkerExists
	}
	return nil
}

// GetMarker implements ginsecure.Store.
func (s *Store) GetMarker(ctx context.Context, key string) (storeext.Marker, error) {
	b, err := redis.Bytes(s.read(ctx, func(c redis.Conn) (any, error) {
		return do(ctx, c, "GET", s.markKey(key))
	}))
	if errors.Is(err, redis.ErrNil) {
		return storeext.Marker{}, storeext.ErrNotFound
	}
	if err != nil {
		return storeext.Marker{}, err
	}
	var w wireMarker
	if err := json.Unmarshal(b, &w); err != nil {
		return storeext.Marker{}, fmt.Errorf("redisstore: corrupt marker: %w", err)
	}
	m := storeext.Marker{At: fromMS(w.At), ExpiresAt: fromMS(w.Exp), Handle: w.H}
	if expired(m.ExpiresAt, s.now()) {
		return storeext.Marker{}, storeext.ErrNotFound
	}
	return m, nil
}

// deleteMarkerScript: KEYS[1] marker key. ARGV: handle. Deletes the marker
// only if it names handle.
var deleteMarkerScript = redis.NewScript(1, `
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
if cjson.decode(v).h ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])
`)

// DeleteMarker implements ginsecure.Store: one script.
func (s *Store) DeleteMarker(ctx context.Context, key, handle string) error {
	_, err := s.send(ctx, func(c redis.Conn, _ bool) (any, error) {
		return eval(ctx, deleteMarkerScript, c, s.markKey(key), handle)
	})
	return err
}

// read runs an idempotent read (GET, MGET, List's read-and-prune script)
// under send's rule.
func (s *Store) read(ctx context.Context, cmd func(redis.Conn) (any, error)) (any, error) {
	return s.send(ctx, func(c redis.Conn, _ bool) (any, error) { return cmd(c) })
}

// send runs one command under the retry rule of a link: on a pooled
// connection and, where that turns out broken, once more on a freshly
// dialled one (again is then true).
func (s *Store) send(ctx context.Context, cmd func(c redis.Conn, again bool) (any, error)) (any, error) {
	l, err := s.link(ctx)
	if err != nil {
		return nil, err
	}
	defer l.close()
	return l.send(cmd)
}

// link is the connection one store operation sends its commands on.
//
// A pool without a PING on borrow (the one this package recommends) still
// holds its idle connections after Redis restarts or drops them; each is
// found dead only when used, and without a retry each would cost one
// request a 503 (and a login, a rotation or a logout a failed step). So a
// command that fails because its pooled connection broke is sent once more
// on a freshly dialled connection, outside the pool (the pool's next idle
// connection is as likely to be dead as the first); the operation's later
// commands go on that one. At most two tries per operation: a fresh
// connection that breaks too means Redis is down.
//
// Every command of this store may be sent twice. A command that died with
// its connection after a restart never reached the new server; but a
// connection may also break after Redis ran a command and before its reply
// arrived, so each write is made safe to repeat: the compare-and-set
// scripts and SetMarker's, told they are sent again, take the value they
// were to write, found stored, as their own (a minted token is not
// minted twice, a login's marker is not refused as another's); Create
// takes its own record, byte for byte under its random handle, as
// created; Delete, DeleteMarker, Trim and SaveSessionUnlessMarked leave
// the same state when run twice (a second Trim returns only what it
// signed out itself: those the first signed out stay signed out).
type link struct {
	s     *Store
	ctx   context.Context
	c     redis.Conn
	fresh bool // c was dialled after a pooled one broke: no further try
}

// link takes a pooled connection for one operation.
func (s *Store) link(ctx context.Context) (link, error) {
	c, err := s.conn(ctx)
	if err != nil {
		return link{}, err
	}
	return link{s: s, ctx: ctx, c: c}, nil
}

// send runs cmd on the link's connection and, where a pooled connection
// turns out broken, once more on a freshly dialled one that replaces it.
// A dial that fails returns the first error.
func (l *link) send(cmd func(c redis.Conn, again bool) (any, error)) (any, error) {
	v, err := cmd(l.c, false)
	if l.fresh || !brokenConn(l.ctx, l.c, err) {
		return v, err
	}
	fresh, derr := l.s.dial(l.ctx)
	if derr != nil {
		return nil, err
	}
	l.c.Close() // broken: the pool discards it
	l.c, l.fresh = fresh, true
	v, err = cmd(l.c, true)
	if !brokenConn(l.ctx, l.c, err) { // Redis answers: the pool's dead connections go
		l.s.drain()
	}
	return v, err
}

// drainTimeout bounds drain: a dead connection fails at once, a live one
// answers a PING in well under it.
const drainTimeout = 250 * time.Millisecond

// drain discards the pool's dead idle connections, after one of them
// turned out broken: where Redis restarted, all of them are. It PINGs
// every idle connection once (a dead one is dropped by the pool when
// given back, a live one goes back), so that the commands that follow on
// the same pool find live ones, gin-contrib's store's among them (its
// commands are not sent again). One drain at a time; bounded by
// drainTimeout; it runs on the caller's goroutine, before the request
// sends its next command. Never on a pool with MaxActive and no Wait,
// where a connection held here could make another request's Get fail at
// once (ErrPoolExhausted), as Prefetch never does.
func (s *Store) drain() {
	if s.pool.MaxActive > 0 && !s.pool.Wait {
		return
	}
	if !s.draining.CompareAndSwap(false, true) {
		return
	}
	defer s.draining.Store(false)
	n := s.pool.IdleCount()
	if n == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	held := make([]redis.Conn, 0, n)
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for range n {
		if s.pool.IdleCount() == 0 {
			return
		}
		c, err := s.pool.GetContext(ctx)
		if err != nil {
			return
		}
		held = append(held, c) // held until the end: the next Get takes the next idle one
		_, _ = redis.DoContext(c, ctx, "PING")
	}
}

func (l *link) close() { l.c.Close() }

// brokenConn reports whether err is the connection's own failure (an I/O
// error that left c unusable), not a Redis error reply, not the caller's
// context ending, not a timeout (a slow server would only be asked twice).
func brokenConn(ctx context.Context, c redis.Conn, err error) bool {
	if err == nil || ctx.Err() != nil || c.Err() == nil {
		return false
	}
	var re redis.Error
	if errors.As(err, &re) {
		return false
	}
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

// dial opens a connection outside the pool with the pool's own dialer.
func (s *Store) dial(ctx context.Context) (redis.Conn, error) {
	return dialOutside(ctx, s.pool)
}

// dialOutside opens a connection outside pool with pool's own dialer: a
// retry after a broken pooled connection, which after a restart every
// idle one is.
func dialOutside(ctx context.Context, pool *redis.Pool) (redis.Conn, error) {
	switch {
	case pool.DialContext != nil:
		return pool.DialContext(ctx)
	case pool.Dial != nil:
		return pool.Dial()
	default:
		return nil, errors.New("redisstore: the pool has no dialer")
	}
}
