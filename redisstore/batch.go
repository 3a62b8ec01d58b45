package redisstore

// RevokeUser and RevokeOthers in batches (storeext.BatchRevoker): each
// Redis call ends a bounded number of sessions, so that no account, however
// many sessions it holds, blocks Redis for long (DESIGN.md, "User-to-session
// binding").

import (
	"context"
	"errors"
	"fmt"

	"github.com/ginsecure/ginsecure/storeext"
	json "github.com/goccy/go-json"
	"github.com/gomodule/redigo/redis"
)

// revokeBatchLua: KEYS[1] user index. ARGV: now ms, prefix, user, except,
// reason, n. Takes up to n+1 of the least recently seen entries; each that
// is not except leaves the index, and its record, where it lives (not
// revoked, not expired, the user's), is revoked: the reason appended as
// the record's last member, no JSON decode (the Go encoder omits an empty
// "revoked", and appending keeps every other byte). Returns {more, the
// ended records' JSON as they were...}.
var revokeBatchScript = redis.NewScript(1, userOfLua+`
local now, prefix, user, except, n = tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[6])
local reason = ',"revoked":' .. cjson.encode(ARGV[5]) .. '}'
local out = {0}
local gone = {}
local kept = 0
for _, h in ipairs(redis.call('ZRANGE', KEYS[1], 0, n)) do
  if #out > n then break end
  if h == except then
    kept = 1
  else
    table.insert(gone, h)
    local key = prefix .. 'r:' .. h
    local v = redis.call('GET', key)
    if v and string.sub(v, -1) == '}' and not string.find(v, '"revoked":"[^"]') and userOf(v) == user then
      local exp = tonumber(string.match(v, '"exp":(%d+)')) or 0
      if exp == 0 or exp > now then
        redis.call('SET', key, string.sub(v, 1, -2) .. reason, 'KEEPTTL')
        table.insert(out, v)
      end
    end
  end
end
if #gone > 0 then redis.call('ZREM', KEYS[1], unpack(gone)) end
if redis.call('ZCARD', KEYS[1]) > kept then out[1] = 1 end
return out
`)

// RevokeBatch implements storeext.BatchRevoker: one script, its work
// bounded by n (at most n+1 index entries read).
func (s *Store) RevokeBatch(ctx context.Context, userID, except, revoked string, n int) ([]storeext.Record, bool, error) {
	if n < 1 {
		return nil, false, errors.New("redisstore: RevokeBatch of no session")
	}
	vs, err := redis.Values(s.send(ctx, func(c redis.Conn, _ bool) (any, error) {
		return eval(ctx, revokeBatchScript, c, s.userKey(userID), ms(s.now()), s.prefix, userID, except, revoked, n)
	}))
	if err != nil {
		return nil, false, err
	}
	if len(vs) == 0 {
		return nil, false, errors.New("redisstore: empty reply to the revoke batch")
	}
	more, err := redis.Int(vs[0], nil)
	if err != nil {
		return nil, false, err
	}
	recs := make([]storeext.Record, 0, len(vs)-1)
	for _, v := range vs[1:] {
		b, err := redis.Bytes(v, nil)
		if err != nil {
			return nil, false, err
		}
		r, err := decode(b)
		if err != nil {
			return nil, false, err
		}
		recs = append(recs, r)
	}
	return recs, more == 1, nil
}

// retireBatchScript: ARGV: marker JSON, ttl ms, now ms, then pairs of a
// marker key and a session key ("" for none). Sets the marker where no
// live one is (SetMarker's rule for a tombstone) and deletes the session.
var retireBatchScript = redis.NewScript(0, `
local now = tonumber(ARGV[3])
for i = 4, #ARGV, 2 do
  local v = redis.call('GET', ARGV[i])
  local live = false
  if v then
    local ok, m = pcall(cjson.decode, v)
    live = ok and type(m) == 'table' and type(m.exp) == 'number' and (m.exp == 0 or m.exp > now)
  end
  if not live then redis.call('SET', ARGV[i], ARGV[1], 'PX', tonumber(ARGV[2])) end
  if ARGV[i + 1] ~= '' then redis.call('DEL', ARGV[i + 1]) end
end
return 1
`)

// RetireBatch implements storeext.BatchRevoker: one script.
func (s *Store) RetireBatch(ctx context.Context, markerKeys []string, m storeext.Marker, sessionKeys []string) error {
	if len(markerKeys) != len(sessionKeys) {
		return fmt.Errorf("redisstore: RetireBatch of %d markers and %d sessions", len(markerKeys), len(sessionKeys))
	}
	if len(markerKeys) == 0 {
		return nil
	}
	b, err := json.Marshal(wireMarker{At: ms(m.At), Exp: ms(m.ExpiresAt), H: m.Handle})
	if err != nil {
		return err
	}
	args := make([]any, 0, 3+2*len(markerKeys))
	args = append(args, b, s.ttl(m.ExpiresAt), ms(s.now()))
	for i, k := range markerKeys {
		args = append(args, s.markKey(k), sessionKeys[i])
	}
	_, err = s.send(ctx, func(c redis.Conn, _ bool) (any, error) { return eval(ctx, retireBatchScript, c, args...) })
	return err
}
