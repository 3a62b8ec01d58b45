package redisstore

// The eviction policy check. Revocation (RevokeUser, RevokeOthers, the
// session limit) finds a user's sessions through the per-user index key;
// Redis under memory pressure with an allkeys-* or volatile-* policy may
// evict it (every key of this store has a TTL), and the user's browsers
// then stay signed in while RevokeUser answers 0. Only noeviction keeps it.

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"

	"github.com/gomodule/redigo/redis"
)

// Eviction check states: waiting for a logger or for an operation to
// start it; running (one at a time); done (for the life of the Store).
const (
	checkWaiting int32 = iota
	checkRunning
	checkDone
)

// evictionCheck is the state of the once-per-Store check of Redis's
// maxmemory-policy.
type evictionCheck struct {
	log   atomic.Pointer[slog.Logger]
	state atomic.Int32
}

// UseLogger implements storeext.LoggerUser: the store reports to l what
// it finds of Redis's setup. It only keeps l (ginsecure.New calls it and
// never waits on Redis): the check of maxmemory-policy runs later, in a
// goroutine of its own, started by the store's first operation and
// repeated by later ones until one reaches Redis.
func (s *Store) UseLogger(l *slog.Logger) {
	if l != nil {
		s.check.log.Store(l)
	}
}

// startCheck starts the eviction check where a logger was given and no
// check is running or done. Every operation calls it as it takes a
// connection: an atomic load once the check is done.
func (s *Store) startCheck() {
	if s.check.state.Load() != checkWaiting || s.check.log.Load() == nil {
		return
	}
	if s.check.state.CompareAndSwap(checkWaiting, checkRunning) {
		go s.checkEviction()
	}
}

// checkEviction asks Redis for its maxmemory-policy (CONFIG GET, on a
// connection of its own dialled with the pool's dialer: never one of the
// pool's, which a pool with MaxActive and no Wait may not spare; bounded
// by the connection's read timeout) and logs an ERROR
// where it is not noeviction, a WARN where Redis refuses the command (a
// renamed CONFIG, an ACL without it). Where Redis cannot be reached, the
// check waits for the next operation.
func (s *Store) checkEviction() {
	c, err := s.dial(context.Background())
	if err != nil {
		s.check.state.Store(checkWaiting) // Redis unreachable: the next operation tries again
		return
	}
	reply, err := redis.Strings(c.Do("CONFIG", "GET", "maxmemory-policy"))
	c.Close()
	var re redis.Error
	switch {
	case errors.As(err, &re):
		s.check.state.Store(checkDone)
		s.check.log.Load().Warn("redisstore: could not check Redis's maxmemory-policy (CONFIG GET refused: a renamed command or an ACL): revocation needs maxmemory-policy noeviction: under memory pressure Redis may evict records and the per-user index, and an allkeys-* policy the revocation mark too", "err", err)
	case err != nil:
		s.check.state.Store(checkWaiting) // Redis unreachable: the next operation tries again
	default:
		s.check.state.Store(checkDone)
		s.reportPolicy(reply)
	}
}

// reportPolicy logs the reply of CONFIG GET maxmemory-policy: an ERROR
// unless the policy is noeviction, a WARN where the reply names none.
func (s *Store) reportPolicy(reply []string) {
	log := s.check.log.Load()
	if len(reply) != 2 {
		log.Warn("redisstore: could not check Redis's maxmemory-policy (CONFIG GET named none): revocation needs maxmemory-policy noeviction")
		return
	}
	policy := reply[1]
	if policy == "noeviction" {
		log.Debug("redisstore: Redis's maxmemory-policy is noeviction")
		return
	}
	log.Error("redisstore: Redis's maxmemory-policy is not noeviction: under memory pressure Redis may evict records (their sessions are signed out) and the per-user index; the revocation mark, kept without TTL, still ends every session RevokeUser, RevokeOthers and the session limit end under volatile-* policies, but an allkeys-* policy can evict the mark too; set maxmemory-policy noeviction", "policy", policy)
}
