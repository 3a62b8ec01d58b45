package redisstore

// DBSC challenges in Redis: the ChallengeStore that every server of a
// deployment shares, so that a challenge issued by one is redeemed once,
// by any.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/ginsecure/ginsecure"
	"github.com/ginsecure/ginsecure/internal/dbsc"
	"github.com/gomodule/redigo/redis"
)

// ChallengeStore keeps the outstanding DBSC challenges of each session in
// Redis (a dbsc.ChallengeStore). One key per session,
// <prefix>c:<session>, a sorted set whose members are the challenges'
// SHA-256 (32 raw bytes) scored by their expiry in Unix milliseconds.
// Each method is one command: two Lua scripts and a DEL.
//
// Times come from the caller, as dbsc.ChallengeStore passes them (now and
// expires, both from dbsc.Challenges.Now), not from Redis's TIME: the
// interface is defined on the caller's clock and its contract suite moves
// that clock by hand. What that clock decides is bounded: a server whose
// clock is off by d accepts a challenge up to d longer or shorter than its
// lifetime (an hour by default), but never twice and never for another
// session, since a Take removes the entry whatever the clock says. A
// server whose clock runs ahead by more than a lifetime drops the other
// servers' challenges when it issues one: a browser holding one is
// answered 403 with a fresh challenge and signs again. The key's own
// expiry is set as a duration (PEXPIRE, milliseconds), so Redis reclaims
// it on its own clock, whatever the servers' clocks say.
//
// A command whose pooled connection turns out broken (Redis restarted) is
// sent once more on a freshly dialled connection. PutChallenge and
// DropChallenges leave the same state when run twice. TakeChallenge does
// not: where Redis ran it and the reply was lost with the connection, the
// second run finds the entry gone and answers dbsc.ErrUnknownChallenge.
// That fails closed (one redemption at most, never two); the browser is
// answered 403 with a fresh challenge and signs again.
//
// Errors: dbsc.ErrUnknownChallenge for a challenge that is not
// outstanding; every other error means Redis could not answer, and
// errors.Is(err, ginsecure.ErrStoreUnavailable) holds for it, with the
// cause (a redigo or net error, or the context's) readable as well.
//
// Like Store, it needs a single Redis (or Sentinel) with maxmemory-policy
// noeviction: an evicted key loses a session's challenges (its browser
// then signs again), nothing worse.
type ChallengeStore struct {
	pool   *redis.Pool
	prefix string
}

// NewChallengeStore returns a ChallengeStore on pool, its keys under
// prefix (the prefix of the Store on the same Redis may be shared: the
// challenges live under <prefix>c:, apart from records, indexes and
// markers).
func NewChallengeStore(pool *redis.Pool, prefix string) *ChallengeStore {
	return &ChallengeStore{pool: pool, prefix: prefix}
}

var _ dbsc.ChallengeStore = (*ChallengeStore)(nil)

// challengeKey is the sorted set of session's outstanding challenges.
func (s *ChallengeStore) challengeKey(session string) string { return s.prefix + "c:" + session }

// putChallengeScript adds ARGV[1] (a hash) to the set KEYS[1] with score
// ARGV[3] (expiry, Unix ms), after dropping the entries expired at ARGV[2]
// (now, Unix ms) and, if the hash is not there yet, the earliest-expiring
// entries until fewer than ARGV[4] (the bound) remain. The key then
// expires with its latest entry (PEXPIRE, the remaining milliseconds).
// Sent twice with the same arguments it leaves the same set: the second
// run finds the hash present and trims nothing more.
var putChallengeScript = redis.NewScript(1, `
local key, member = KEYS[1], ARGV[1]
local now, exp, max = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', key, '-inf', ARGV[2])
if not redis.call('ZSCORE', key, member) then
  local over = redis.call('ZCARD', key) - (max - 1)
  if over > 0 then redis.call('ZREMRANGEBYRANK', key, 0, over - 1) end
end
if exp > now then redis.call('ZADD', key, ARGV[3], member) end
local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
if last[2] then redis.call('PEXPIRE', key, math.ceil(tonumber(last[2]) - now)) end
return 1
`)

// takeChallengeScript removes ARGV[1] from the set KEYS[1] and returns 1
// if it was there with an expiry after ARGV[2] (now, Unix ms), else 0. One
// script, so that of two servers taking the same hash exactly one sees it.
var takeChallengeScript = redis.NewScript(1, `
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
if tonumber(score) > tonumber(ARGV[2]) then return 1 end
return 0
`)

// PutChallenge implements dbsc.ChallengeStore: one script. It drops the
// session's entries expired at now, then, while max or more remain, those
// that expire first (never the one being added), then adds hash to expire
// at expires (kept to the millisecond). A max below 1 is taken as 1. The
// session's key expires with its latest entry.
func (s *ChallengeStore) PutChallenge(ctx context.Context, session string, hash [32]byte, now, expires time.Time, max int) error {
	_, err := s.send(ctx, func(c redis.Conn) (any, error) {
		return eval(ctx, putChallengeScript, c, s.challengeKey(session), hash[:],
			unixMS(now), unixMS(expires), max)
	})
	return err
}

// TakeChallenge implements dbsc.ChallengeStore: one script removes hash
// from the session's set, and it succeeds if the entry was there and
// expires after now; otherwise dbsc.ErrUnknownChallenge.
func (s *ChallengeStore) TakeChallenge(ctx context.Context, session string, hash [32]byte, now time.Time) error {
	taken, err := redis.Bool(s.send(ctx, func(c redis.Conn) (any, error) {
		return eval(ctx, takeChallengeScript, c, s.challengeKey(session), hash[:], unixMS(now))
	}))
	switch {
	case err != nil:
		return challengeOutage(err)
	case !taken:
		return dbsc.ErrUnknownChallenge
	}
	return nil
}

// DropChallenges implements dbsc.ChallengeStore: one DEL of the session's
// key.
func (s *ChallengeStore) DropChallenges(ctx context.Context, session string) error {
	_, err := s.send(ctx, func(c redis.Conn) (any, error) {
		return do(ctx, c, "DEL", s.challengeKey(session))
	})
	return err
}

// unixMS is t in Unix milliseconds, as a decimal for a script's ARGV.
func unixMS(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// send runs cmd on a pooled connection and, where that connection turns
// out broken (brokenConn: Redis restarted or dropped it), once more on a
// freshly dialled one, as Store does. Errors are outages
// (challengeOutage).
func (s *ChallengeStore) send(ctx context.Context, cmd func(redis.Conn) (any, error)) (any, error) {
	c, err := s.pool.GetContext(ctx)
	if err != nil {
		return nil, challengeOutage(err)
	}
	v, err := cmd(c)
	if !brokenConn(ctx, c, err) {
		c.Close()
		return v, challengeOutage(err)
	}
	c.Close() // broken: the pool discards it
	fresh, derr := dialOutside(ctx, s.pool)
	if derr != nil {
		return nil, challengeOutage(err)
	}
	defer fresh.Close()
	v, err = cmd(fresh)
	return v, challengeOutage(err)
}

// challengeOutage wraps a failure to reach Redis so that
// errors.Is(err, ginsecure.ErrStoreUnavailable) holds and the cause stays
// readable; nil stays nil.
func challengeOutage(err error) error {
	if err == nil || errors.Is(err, ginsecure.ErrStoreUnavailable) {
		return err
	}
	return fmt.Errorf("redisstore: challenges: %w: %w", ginsecure.ErrStoreUnavailable, err)
}
