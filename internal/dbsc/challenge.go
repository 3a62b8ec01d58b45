package dbsc

// Challenges: random, single use, a bounded set outstanding per session,
// kept in a store that every server of a deployment shares.

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"
)

// challengeBytes is the entropy of a challenge: 32 bytes from crypto/rand,
// 43 characters of unpadded base64url.
const challengeBytes = 32

// challengeLen is the length of an encoded challenge.
var challengeLen = base64.RawURLEncoding.EncodedLen(challengeBytes)

// Defaults of Challenges.
const (
	// DefaultChallengeLifetime is how long an issued challenge stays
	// outstanding. Chromium caches the latest challenge and uses it at the
	// next refresh, which comes when the bound cookie runs low; so the
	// lifetime must outlast the bound cookie, plus a margin.
	DefaultChallengeLifetime = time.Hour
	// DefaultMaxOutstanding is how many challenges one session may have
	// outstanding. A browser uses the latest one it saw, but parallel
	// answers and several servers can each issue one before it signs; 16
	// leaves room for all of them.
	DefaultMaxOutstanding = 16
)

// ChallengeStore keeps the outstanding challenges of each session. The
// session key is whatever names the session to its caller (a DBSC session
// identifier, or a hash naming a pending registration); challenges are
// kept as their SHA-256, so a store never holds more than 32 bytes for one
// however long the value a client sends.
//
// Both methods must be atomic with respect to each other on every server
// sharing the store: of two Takes of one challenge, exactly one succeeds.
// An error other than ErrUnknownChallenge means the store could not be
// reached; nothing may then be assumed about the challenge.
type ChallengeStore interface {
	// PutChallenge adds a challenge (by its hash) to session's set, to be
	// outstanding until expires. It first drops the entries expired at now;
	// if the set still holds max entries, it drops those that expire
	// first until there is room. It never drops another entry.
	PutChallenge(ctx context.Context, session string, hash [32]byte, now, expires time.Time, max int) error
	// TakeChallenge removes a challenge from session's set and succeeds if
	// it was there and unexpired at now; otherwise it returns
	// ErrUnknownChallenge.
	TakeChallenge(ctx context.Context, session string, hash [32]byte, now time.Time) error
	// DropChallenges forgets every challenge of session (an ending). A
	// session without challenges is not an error.
	DropChallenges(ctx context.Context, session string) error
}

// NewChallenge returns a fresh challenge: 32 bytes from crypto/rand in
// unpadded base64url. An error means crypto/rand failed.
func NewChallenge() (string, error) {
	var b [challengeBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("dbsc: challenge: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// Challenges issues and redeems challenges kept in a ChallengeStore. The
// zero value is not usable: Store is required.
type Challenges struct {
	// Store keeps the outstanding challenges.
	Store ChallengeStore
	// Lifetime of a challenge; 0 means DefaultChallengeLifetime.
	Lifetime time.Duration
	// MaxOutstanding per session; 0 means DefaultMaxOutstanding.
	MaxOutstanding int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (c *Challenges) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Issue creates a challenge for session and records it as outstanding.
// Issuing never invalidates the session's other outstanding challenges,
// until more than MaxOutstanding are outstanding at once; then the one
// that expires first goes. It returns crypto/rand's or the store's error.
func (c *Challenges) Issue(ctx context.Context, session string) (string, error) {
	v, err := NewChallenge()
	if err != nil {
		return "", err
	}
	lifetime, max := c.Lifetime, c.MaxOutstanding
	if lifetime <= 0 {
		lifetime = DefaultChallengeLifetime
	}
	if max <= 0 {
		max = DefaultMaxOutstanding
	}
	now := c.now()
	if err := c.Store.PutChallenge(ctx, session, sha256.Sum256([]byte(v)), now, now.Add(lifetime), max); err != nil {
		return "", err
	}
	return v, nil
}

// IssueRetry is Issue for a refused refresh (no proof, or a proof that
// failed): the challenge goes into a second set of the session's, bounded
// on its own, so that refused refreshes, which anyone who knows the
// session identifier can send, push out only each other's challenges,
// never the one a successful answer gave the device.
func (c *Challenges) IssueRetry(ctx context.Context, session string) (string, error) {
	return c.Issue(ctx, retryKey(session))
}

// retryKey names the set of challenges issued to refused refreshes.
func retryKey(session string) string { return session + "/retry" }

// Redeem uses up challenge, outstanding for session (from Issue or
// IssueRetry): it succeeds once and then returns ErrUnknownChallenge, as
// it does for a value that was never issued, is expired, or was dropped.
// Any other error is the store's.
func (c *Challenges) Redeem(ctx context.Context, session, challenge string) error {
	if len(challenge) != challengeLen {
		return ErrUnknownChallenge
	}
	hash, now := sha256.Sum256([]byte(challenge)), c.now()
	err := c.Store.TakeChallenge(ctx, session, hash, now)
	if errors.Is(err, ErrUnknownChallenge) {
		err = c.Store.TakeChallenge(ctx, retryKey(session), hash, now)
	}
	return err
}

// Forget drops every outstanding challenge of session (an ending), both
// sets; it returns the store's error.
func (c *Challenges) Forget(ctx context.Context, session string) error {
	return errors.Join(c.Store.DropChallenges(ctx, session), c.Store.DropChallenges(ctx, retryKey(session)))
}

// MemoryChallenges is a ChallengeStore in one process's memory, for tests.
// The zero value is ready to use. A session's expired entries go when the
// session is next given a challenge or forgotten; nothing sweeps sessions
// that are never touched again, which a shared store does with its own
// expiry.
type MemoryChallenges struct {
	mu       sync.Mutex
	sessions map[string]map[[32]byte]time.Time
}

// PutChallenge implements ChallengeStore.
func (m *MemoryChallenges) PutChallenge(_ context.Context, session string, hash [32]byte, now, expires time.Time, max int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sessions == nil {
		m.sessions = make(map[string]map[[32]byte]time.Time)
	}
	set := m.sessions[session]
	if set == nil {
		set = make(map[[32]byte]time.Time)
		m.sessions[session] = set
	}
	if max < 1 {
		max = 1
	}
	if _, ok := set[hash]; !ok {
		// Room is made before the new challenge goes in, so that it is
		// never the one dropped (ChallengeStore), whatever the ties.
		trim(set, now, max-1)
	}
	set[hash] = expires
	return nil
}

// trim drops set's entries expired at now, then the earliest-expiring ones
// until at most max remain.
func trim(set map[[32]byte]time.Time, now time.Time, max int) {
	type entry struct {
		hash    [32]byte
		expires time.Time
	}
	live := make([]entry, 0, len(set))
	for h, exp := range set {
		if !now.Before(exp) {
			delete(set, h)
			continue
		}
		live = append(live, entry{h, exp})
	}
	if len(live) <= max {
		return
	}
	sort.Slice(live, func(i, j int) bool { return live[i].expires.Before(live[j].expires) })
	for _, e := range live[:len(live)-max] {
		delete(set, e.hash)
	}
}

// TakeChallenge implements ChallengeStore.
func (m *MemoryChallenges) TakeChallenge(_ context.Context, session string, hash [32]byte, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	set := m.sessions[session]
	expires, ok := set[hash]
	if !ok {
		return ErrUnknownChallenge
	}
	delete(set, hash)
	if len(set) == 0 {
		delete(m.sessions, session)
	}
	if !now.Before(expires) {
		return ErrUnknownChallenge
	}
	return nil
}

// DropChallenges implements ChallengeStore.
func (m *MemoryChallenges) DropChallenges(_ context.Context, session string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.sessions, session)
	return nil
}
