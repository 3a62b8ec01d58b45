package redisstore

// The per-user revocation mark: what RevokeUser, RevokeOthers and the
// session limit ended survives the loss of the user's index
// (DESIGN.md, "User-to-session binding").
//
// Every record carries its creation sequence (Record.Seq), drawn by the
// create script from <prefix>seq, a counter without TTL that only Redis
// advances (INCR, never below Redis's own TIME in microseconds, so that
// it continues above the sequences of records created before it
// existed). RevokeBefore draws the next number of the same counter and
// stores it under <prefix>x:<user>, a key without TTL: every record of
// the user whose sequence is not above it was created before the revoke
// and is revoked, but the one record it spares (RevokeOthers' own). The
// order is Redis's alone (scripts run one at a time): no server's clock
// decides which session came first.
//
// Every read that authenticates (Get, GetWithSession, Prefetch, List and
// the limit's count) reads the mark in the same script as the record, in
// the same round trip: one script where gin-contrib alone sends one
// MGET. A record the mark covers is returned revoked (the mark's
// reason) even where nothing rewrote it: an index that eviction (allkeys-*,
// volatile-*) or a DEL lost no longer hides any session from RevokeUser.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/ginsecure/ginsecure/storeext"
	"github.com/gomodule/redigo/redis"
)

// userOfLua defines userOf(v): the user ID inside a record's JSON (its
// "u" member, unescaped), or nil. No JSON decode of the whole record:
// "u":" can only be the record's own member (a string value cannot hold
// an unescaped quote, and no nested object has a "u").
const userOfLua = `
local function userOf(v)
  local _, j = string.find(v, '"u":"', 1, true)
  if not j then return nil end
  local k = j
  while true do
    k = string.find(v, '"', k + 1, true)
    if not k then return nil end
    local b = k - 1
    while string.byte(v, b) == 92 do b = b - 1 end
    if (k - 1 - b) % 2 == 0 then break end
  end
  local u = string.sub(v, j + 1, k - 1)
  if string.find(u, '\\', 1, true) then u = cjson.decode('"' .. u .. '"') end
  return u
end
`

// markLua defines markOf(prefix, user): the user's mark as its sequence
// (0: none) and the handle it spares.
const markLua = `
local function markOf(prefix, user)
  local m = redis.call('GET', prefix .. 'x:' .. user)
  if not m then return 0, '' end
  local seq, except = string.match(m, '^(%d+)|([^|]*)|')
  return tonumber(seq) or 0, except or ''
end
local function markCovers(mseq, mexcept, h, q)
  return mseq > 0 and (tonumber(q) or 0) <= mseq and h ~= mexcept
end
`

// seqLua defines nextSeq(prefix): the next number of the store's
// creation counter, never below Redis's clock in microseconds (the
// sequence records had before the counter existed), as a decimal string.
const seqLua = `
local function nextSeq(prefix)
  local key = prefix .. 'seq'
  local n = redis.call('INCR', key)
  local t = redis.call('TIME')
  local us = tonumber(t[1]) * 1000000 + tonumber(t[2])
  if n < us then
    n = us
    redis.call('SET', key, string.format('%d', n))
  end
  return string.format('%d', n)
end
`

// setMarkLua defines setMark(prefix, user, except, reason): the user's
// mark at the next sequence, sparing except.
const setMarkLua = seqLua + `
local function setMark(prefix, user, except, reason)
  redis.call('SET', prefix .. 'x:' .. user, nextSeq(prefix) .. '|' .. except .. '|' .. reason)
end
`

// readLua: KEYS[1] record key, KEYS[2] (optional) a session's key.
// ARGV[1] prefix. Returns {record, session, the record's user's mark},
// each false where absent.
const readLua = userOfLua + `
local v = redis.call('GET', KEYS[1])
local s = false
if KEYS[2] then s = redis.call('GET', KEYS[2]) end
if not v then return {false, s, false} end
local m = false
local u = userOf(v)
if not u then
  local ok, r = pcall(cjson.decode, v)
  if ok and type(r) == 'table' and type(r.u) == 'string' then u = r.u end
end
if u then m = redis.call('GET', ARGV[1] .. 'x:' .. u) end
return {v, s, m}
`

var (
	readScript            = redis.NewScript(1, readLua)
	readWithSessionScript = redis.NewScript(2, readLua)
)

// revokeBeforeScript: KEYS[1] the user's mark key. ARGV: prefix, user,
// except (a handle or ""), reason. Where except is a handle it must be a
// live record of the user (not revoked, not covered by the mark it
// replaces): else nothing is written and 0 returned.
var revokeBeforeScript = redis.NewScript(1, markLua+setMarkLua+`
local prefix, user, except = ARGV[1], ARGV[2], ARGV[3]
if except ~= '' then
  local v = redis.call('GET', prefix .. 'r:' .. except)
  if not v then return 0 end
  local r = cjson.decode(v)
  if r.u ~= user or (r.revoked ~= nil and r.revoked ~= '') then return 0 end
  local mseq, mexcept = markOf(prefix, user)
  if markCovers(mseq, mexcept, except, r.q) then return 0 end
end
setMark(prefix, user, except, ARGV[4])
return 1
`)

// RevokeBefore sets userID's revocation mark: every record of the user
// that the store created before it returns, but except (a handle, or ""),
// is revoked as revoked (a storeext.Revoked* reason) on every read from
// then on, whether or not the index still lists it. One script; sending
// it again only moves the mark later. storeext.ErrNotFound where except
// is not a live record of userID (nothing set).
func (s *Store) RevokeBefore(ctx context.Context, userID, except, revoked string) error {
	ok, err := redis.Int(s.send(ctx, func(c redis.Conn, _ bool) (any, error) {
		return eval(ctx, revokeBeforeScript, c, s.markOfUser(userID), s.prefix, userID, except, revoked)
	}))
	if err != nil {
		return err
	}
	if ok == 0 {
		return storeext.ErrNotFound
	}
	return nil
}

func (s *Store) markOfUser(u string) string { return s.prefix + "x:" + u }

// mark is a user's revocation mark as stored: "<seq>|<except>|<reason>".
type mark struct {
	seq    uint64
	except string
	reason string
}

// parseMark decodes a stored mark; a nil one is no mark.
func parseMark(b []byte) (mark, error) {
	if b == nil {
		return mark{}, nil
	}
	parts := bytes.SplitN(b, []byte("|"), 3)
	if len(parts) != 3 {
		return mark{}, errors.New("redisstore: corrupt revocation mark")
	}
	seq, err := strconv.ParseUint(string(parts[0]), 10, 64)
	if err != nil {
		return mark{}, fmt.Errorf("redisstore: corrupt revocation mark: %w", err)
	}
	return mark{seq: seq, except: string(parts[1]), reason: string(parts[2])}, nil
}

// covers reports whether the mark revokes r: created before it, and not
// the record it spares.
func (m mark) covers(r *storeext.Record) bool {
	return m.seq > 0 && r.Revoked == "" && r.Seq <= m.seq && r.Handle != m.except
}

// apply returns r as the mark leaves it: r itself, or a copy revoked with
// the mark's reason (r may be the memo's, shared: never modified).
func (m mark) apply(r *storeext.Record) *storeext.Record {
	if !m.covers(r) {
		return r
	}
	c := *r
	c.Revoked = m.reason
	return &c
}

// readWith reads the record under handle, the key extra (a session's,
// or "" for none) and the record's user's revocation mark in one round
// trip, on c. Where this server read the record before (the memo), its
// user is known: one MGET of the three keys, as cheap as gin-contrib's
// own read; the user is checked against the record it returns (a handle
// never changes user; if it did, the script reads again). Otherwise the
// read script finds the user inside the record.
func (s *Store) readWith(ctx context.Context, c redis.Conn, handle, extra string) (readResult, error) {
	if e, ok := s.memo.Peek(handle); ok {
		user := e.rec.UserID
		args := make([]any, 2, 3)
		copy(args, e.keys[:])
		if extra != "" {
			args = append(args, extra)
		}
		vs, err := redis.ByteSlices(do(ctx, c, "MGET", args...))
		if err != nil {
			return readResult{}, err
		}
		if len(vs) != len(args) {
			return readResult{}, fmt.Errorf("redisstore: MGET answered %d values for %d keys", len(vs), len(args))
		}
		if vs[0] == nil || s.sameUser(handle, vs[0], e, user) {
			m, err := parseMark(vs[1])
			res := readResult{rec: vs[0], m: m}
			if extra != "" {
				res.sess = vs[2]
			}
			return res, err
		}
	}
	if extra == "" {
		return readReply(eval(ctx, readScript, c, s.recKey(handle), s.prefix))
	}
	return readReply(eval(ctx, readWithSessionScript, c, s.recKey(handle), extra, s.prefix))
}

// sameUser reports whether the record b (JSON, as stored under handle) is
// user's: the memo's entry e, decoded from the same bytes, says so at no
// cost; other bytes are decoded through the memo (the caller's decoding
// of them then finds it there).
func (s *Store) sameUser(handle string, b []byte, e memoEntry, user string) bool {
	if bytes.Equal(e.raw, b) {
		return true
	}
	r, err := s.decodeMemo(handle, b)
	return err == nil && r.UserID == user
}

// readResult is a read script's reply: the record's bytes, the session's
// (nil: absent) and the mark.
type readResult struct {
	rec, sess []byte
	m         mark
}

// readReply splits the reply of readScript.
func readReply(v any, err error) (readResult, error) {
	vs, err := redis.ByteSlices(v, err)
	if err != nil {
		return readResult{}, err
	}
	if len(vs) != 3 {
		return readResult{}, fmt.Errorf("redisstore: the read script answered %d values, not 3", len(vs))
	}
	m, err := parseMark(vs[2])
	return readResult{rec: vs[0], sess: vs[1], m: m}, err
}
