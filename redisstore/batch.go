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

// retireLua defines retire(marker, ttl, now, first): for each pair of
// ARGV from first on (a marker key, a session key or ""), the marker set
// where no live one is (SetMarker's rule for a tombstone: a marker whose
// "exp" has passed by now, or that does not decode, is not live) and the
// session deleted. SET NX first: where no marker is, one call.
const retireLua = `
local function retire(marker, ttl, now, first)
  for i = first, #ARGV, 2 do
    local k = ARGV[i]
    if not redis.call('SET', k, marker, 'PX', ttl, 'NX') then
      local v = redis.call('GET', k)
      local live = false
      if v then
        local ok, m = pcall(cjson.decode, v)
        live = ok and type(m) == 'table' and type(m.exp) == 'number' and (m.exp == 0 or m.exp > now)
      end
      if not live then redis.call('SET', k, marker, 'PX', ttl) end
    end
    if ARGV[i + 1] ~= '' then redis.call('DEL', ARGV[i + 1]) end
  end
end
`

// endLua defines ended(v, user, now, reason): the record JSON v revoked
// (reason, a JSON member, appended as its last: no JSON decode, the Go
// encoder omits an empty "revoked" and appending keeps every other byte),
// or nil where v is not a live record (not revoked, not expired by now)
// of user; and sidOf(v), its session's ID ("" for none). Members are
// found by plain search, not by pattern: "revoked", "exp" and "sid" are
// top-level members found nowhere else in a record (a string value
// cannot hold their unescaped quotes).
const endLua = userOfLua + `
local find, byte, sub = string.find, string.byte, string.sub
local function sidOf(v)
  local _, j = find(v, '"sid":"', 1, true)
  if not j then return '' end
  local k = j
  repeat
    k = find(v, '"', k + 1, true)
    if not k then return '' end
    local b = k - 1
    while byte(v, b) == 92 do b = b - 1 end
  until (k - 1 - b) % 2 == 0
  local id = sub(v, j + 1, k - 1)
  if find(id, '\\', 1, true) then id = cjson.decode('"' .. id .. '"') end
  return id
end
-- after(v, member): the position after the first '"member":' followed
-- by what pred accepts at that position, or nil.
local function after(v, member, pred)
  local i = 1
  while true do
    local _, j = find(v, member, i, true)
    if not j then return nil end
    if pred(byte(v, j + 1)) then return j + 1 end
    i = j + 1
  end
end
local function nonEmpty(c) return c ~= nil and c ~= 34 end
local function digit(c) return c ~= nil and c >= 48 and c <= 57 end
local function ended(v, user, now, reason)
  if byte(v, -1) ~= 125 or after(v, '"revoked":"', nonEmpty) or userOf(v) ~= user then return nil end
  local e = after(v, '"exp":', digit)
  local exp = e and tonumber(string.match(v, '^%d+', e)) or 0
  if exp ~= 0 and exp <= now then return nil end
  return sub(v, 1, -2) .. reason
end
`

// revokeBatchScript: KEYS[1] user index. ARGV: now ms, prefix, user,
// except, reason, n, then the previous batch's retirement: marker JSON,
// ttl ms, pairs of a marker key and a session key (retireLua). Retires
// first; then takes up to n+1 of the least recently seen entries; each
// that is not except leaves the index, and its record, where it lives
// (endLua), is revoked. Returns {more, then the handle and session ID of
// each record it ended}: not the records (the caller needs no more, and
// decoding them cost the client more than the script took).
var revokeBatchScript = redis.NewScript(1, retireLua+endLua+`
local now, prefix, user, except, n = tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[6])
if #ARGV > 8 then retire(ARGV[7], ARGV[8], now, 9) end
local reason = ',"revoked":' .. cjson.encode(ARGV[5]) .. '}'
local out = {'0'}
local gone = {}
local kept = 0
for _, h in ipairs(redis.call('ZRANGE', KEYS[1], 0, n)) do
  if #out > 2 * n then break end
  if h == except then
    kept = 1
  else
    gone[#gone + 1] = h
    local key = prefix .. 'r:' .. h
    local v = redis.call('GET', key)
    local w = v and ended(v, user, now, reason)
    if w then
      redis.call('SET', key, w, 'KEEPTTL')
      out[#out + 1] = h
      out[#out + 1] = sidOf(v)
    end
  end
end
if #gone > 0 then redis.call('ZREM', KEYS[1], unpack(gone)) end
if redis.call('ZCARD', KEYS[1]) > kept then out[1] = '1' end
return out
`)

// RevokeBatch implements storeext.BatchRevoker: one script, its work
// bounded by n (at most n+1 index entries read) and by prev.
func (s *Store) RevokeBatch(ctx context.Context, userID, except, revoked string, n int, prev storeext.Retirement) ([]storeext.Ended, bool, error) {
	if n < 1 {
		return nil, false, errors.New("redisstore: RevokeBatch of no session")
	}
	args, err := s.retireArgs(prev, s.userKey(userID), ms(s.now()), s.prefix, userID, except, revoked, n)
	if err != nil {
		return nil, false, err
	}
	vs, err := redis.Strings(s.send(ctx, func(c redis.Conn, _ bool) (any, error) {
		return eval(ctx, revokeBatchScript, c, args...)
	}))
	if err != nil {
		return nil, false, err
	}
	if len(vs)%2 != 1 {
		return nil, false, fmt.Errorf("redisstore: %d values in reply to the revoke batch", len(vs))
	}
	ended := make([]storeext.Ended, 0, len(vs)/2)
	for i := 1; i < len(vs); i += 2 {
		ended = append(ended, storeext.Ended{Handle: vs[i], SessionID: vs[i+1]})
	}
	return ended, vs[0] == "1", nil
}

// retireArgs is head followed by r's script arguments (marker JSON, ttl
// ms, then pairs of a marker key and a session key), where r retires
// anything.
func (s *Store) retireArgs(r storeext.Retirement, head ...any) ([]any, error) {
	if len(r.MarkerKeys) != len(r.SessionKeys) {
		return nil, fmt.Errorf("redisstore: a retirement of %d markers and %d sessions", len(r.MarkerKeys), len(r.SessionKeys))
	}
	if len(r.MarkerKeys) == 0 {
		return head, nil
	}
	b, err := json.Marshal(wireMarker{At: ms(r.Marker.At), Exp: ms(r.Marker.ExpiresAt), H: r.Marker.Handle})
	if err != nil {
		return nil, err
	}
	args := make([]any, 0, len(head)+2+2*len(r.MarkerKeys))
	args = append(args, head...)
	args = append(args, b, s.ttl(r.Marker.ExpiresAt))
	for i, k := range r.MarkerKeys {
		args = append(args, s.markKey(k), r.SessionKeys[i])
	}
	return args, nil
}

// retireBatchScript: ARGV: now ms, then retireLua's arguments (marker
// JSON, ttl ms, pairs of a marker key and a session key).
var retireBatchScript = redis.NewScript(0, retireLua+`
retire(ARGV[2], ARGV[3], tonumber(ARGV[1]), 4)
return 1
`)

// RetireBatch implements storeext.BatchRevoker: one script.
func (s *Store) RetireBatch(ctx context.Context, r storeext.Retirement) error {
	if len(r.MarkerKeys) == 0 && len(r.SessionKeys) == 0 {
		return nil
	}
	args, err := s.retireArgs(r, ms(s.now()))
	if err != nil {
		return err
	}
	_, err = s.send(ctx, func(c redis.Conn, _ bool) (any, error) { return eval(ctx, retireBatchScript, c, args...) })
	return err
}
