package redisstore

// A session write that can be taken back without taking a later write with
// it, for a session store that writes its sessions itself (knows their key
// and serialized value), on a pool other than the records'.
//
// There a session write is checked against its marker after it is written
// (the marker is in another Redis, no script sees both), and a write a
// login or an ending retired meanwhile is undone (DESIGN.md, "Writes").
// Deleting the key undoes it, but also deletes a write another holder of
// the session made after the ending (the browser's anonymous write into
// its emptied session), which its Save acknowledged. Undone with
// saveKeepingPrevious's undo, the key gets back what the stale write
// overwrote, and only while it still holds the stale write.
//
// boj/redistore keeps its key prefix and serializer to itself, so the
// sessions gin-contrib's own redis.NewStore writes cannot be written this
// way (README, "Known limits").

import (
	"context"
	"time"

	"github.com/gomodule/redigo/redis"
)

// saveKeepingScript: KEYS[1] the session's key. ARGV: value, ttl s.
// Returns {previous value, its PTTL ms} or {} where the key held nothing.
var saveKeepingScript = redis.NewScript(1, `
local prev = redis.call('GET', KEYS[1])
local pttl = redis.call('PTTL', KEYS[1])
redis.call('SETEX', KEYS[1], ARGV[2], ARGV[1])
if prev then return {prev, pttl} end
return {}
`)

// restoreScript: KEYS[1] the session's key. ARGV: the value to take back,
// the previous value, its PTTL ms (-2: there was none, -1: no expiry).
// Returns 1 where it restored, 0 where the key holds another value now.
var restoreScript = redis.NewScript(1, `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local pttl = tonumber(ARGV[3])
if pttl == -2 then
  redis.call('DEL', KEYS[1])
elseif pttl == -1 then
  redis.call('SET', KEYS[1], ARGV[2])
else
  redis.call('SET', KEYS[1], ARGV[2], 'PX', math.max(pttl, 1))
end
return 1
`)

// saveKeepingPrevious sets the session key to value for ttl (whole
// seconds, at least 1), as boj/redistore's SETEX does, in one round trip
// that also reads what the key held, and returns the undo of that write:
// the undo puts back the previous value with the lifetime it had left
// (deletes the key where it held nothing), but only while the key still
// holds value, so that a write made after this one stays. A script rather
// than SET ... GET (Redis 6.2): it runs on every Redis with scripting, and
// returns the previous lifetime as well.
//
// (A later write of the very same bytes is taken for this one and undone
// with it: the same values, serialized alike.)
func saveKeepingPrevious(ctx context.Context, c redis.Conn, key string, value []byte, ttl time.Duration) (undo func(context.Context, redis.Conn) error, err error) {
	reply, err := redis.Values(eval(ctx, saveKeepingScript, c, key, value, wholeSeconds(ttl)))
	if err != nil {
		return nil, err
	}
	prev, pttl := []byte(nil), int64(-2)
	if len(reply) == 2 {
		if prev, err = redis.Bytes(reply[0], nil); err != nil {
			return nil, err
		}
		if pttl, err = redis.Int64(reply[1], nil); err != nil {
			return nil, err
		}
	}
	return func(ctx context.Context, c redis.Conn) error {
		_, err := eval(ctx, restoreScript, c, key, value, prev, pttl)
		return err
	}, nil
}
