// Package challengetest is the contract every dbsc.ChallengeStore must
// meet, as one test suite: the in-memory store runs it, and so must any
// shared store (Redis) that keeps challenges for several servers.
package challengetest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ginsecure/ginsecure/internal/dbsc"
)

// clock is a clock the suite moves by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Run runs the contract against stores made by newStore, one per subtest.
// Session keys are unique to each subtest, so a shared backend may be
// reused.
func Run(t *testing.T, newStore func(t *testing.T) dbsc.ChallengeStore) {
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, ch *dbsc.Challenges, c *clock, session string)
	}{
		{"SingleUse", singleUse},
		{"IssuingKeepsOthers", issuingKeepsOthers},
		{"BoundDropsEarliest", boundDropsEarliest},
		{"Expiry", expiry},
		{"SessionsApart", sessionsApart},
		{"ParallelRedeemWinsOnce", parallelRedeem},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &clock{t: time.Now().Truncate(time.Second)}
			ch := &dbsc.Challenges{Store: newStore(t), Lifetime: time.Minute, MaxOutstanding: 4, Now: c.now}
			tc.run(t, ch, c, t.Name())
		})
	}
}

func issue(t *testing.T, ch *dbsc.Challenges, session string) string {
	t.Helper()
	v, err := ch.Issue(context.Background(), session)
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	return v
}

func redeem(ch *dbsc.Challenges, session, v string) error {
	return ch.Redeem(context.Background(), session, v)
}

func singleUse(t *testing.T, ch *dbsc.Challenges, _ *clock, s string) {
	v := issue(t, ch, s)
	if err := redeem(ch, s, v); err != nil {
		t.Fatalf("first redemption: %v", err)
	}
	if err := redeem(ch, s, v); !errors.Is(err, dbsc.ErrUnknownChallenge) {
		t.Fatalf("second redemption: %v, want ErrUnknownChallenge", err)
	}
	never, _ := dbsc.NewChallenge()
	if err := redeem(ch, s, never); !errors.Is(err, dbsc.ErrUnknownChallenge) {
		t.Fatalf("a challenge never issued: %v, want ErrUnknownChallenge", err)
	}
}

// Up to the bound, issuing never invalidates an earlier challenge: the
// browser may hold any of them.
func issuingKeepsOthers(t *testing.T, ch *dbsc.Challenges, c *clock, s string) {
	var issued []string
	for range ch.MaxOutstanding {
		issued = append(issued, issue(t, ch, s))
		c.advance(time.Second)
	}
	for _, i := range []int{2, 0, 3, 1} {
		if err := redeem(ch, s, issued[i]); err != nil {
			t.Fatalf("challenge %d of %d refused: %v", i, len(issued), err)
		}
	}
}

// Over the bound, the challenge that expires first goes, and only it.
func boundDropsEarliest(t *testing.T, ch *dbsc.Challenges, c *clock, s string) {
	var issued []string
	for range ch.MaxOutstanding + 1 {
		issued = append(issued, issue(t, ch, s))
		c.advance(time.Second)
	}
	if err := redeem(ch, s, issued[0]); !errors.Is(err, dbsc.ErrUnknownChallenge) {
		t.Fatalf("earliest challenge over the bound: %v, want ErrUnknownChallenge", err)
	}
	for i, v := range issued[1:] {
		if err := redeem(ch, s, v); err != nil {
			t.Fatalf("challenge %d dropped: %v", i+1, err)
		}
	}
}

func expiry(t *testing.T, ch *dbsc.Challenges, c *clock, s string) {
	live, old := issue(t, ch, s), issue(t, ch, s)
	c.advance(ch.Lifetime - time.Millisecond)
	if err := redeem(ch, s, live); err != nil {
		t.Fatalf("challenge within its lifetime: %v", err)
	}
	c.advance(time.Millisecond)
	if err := redeem(ch, s, old); !errors.Is(err, dbsc.ErrUnknownChallenge) {
		t.Fatalf("expired challenge: %v, want ErrUnknownChallenge", err)
	}
}

// A challenge opens only its own session, and forgetting one session
// leaves the others alone.
func sessionsApart(t *testing.T, ch *dbsc.Challenges, _ *clock, s string) {
	a, b := issue(t, ch, s+"/a"), issue(t, ch, s+"/b")
	if err := redeem(ch, s+"/b", a); !errors.Is(err, dbsc.ErrUnknownChallenge) {
		t.Fatalf("challenge of another session: %v, want ErrUnknownChallenge", err)
	}
	if err := ch.Forget(context.Background(), s+"/a"); err != nil {
		t.Fatalf("Forget: %v", err)
	}
	if err := redeem(ch, s+"/a", a); !errors.Is(err, dbsc.ErrUnknownChallenge) {
		t.Fatalf("challenge of a forgotten session: %v, want ErrUnknownChallenge", err)
	}
	if err := redeem(ch, s+"/b", b); err != nil {
		t.Fatalf("another session's challenge after Forget: %v", err)
	}
	if err := ch.Forget(context.Background(), s+"/never"); err != nil {
		t.Fatalf("Forget of a session without challenges: %v", err)
	}
}

// Of parallel redemptions of one challenge, exactly one succeeds.
func parallelRedeem(t *testing.T, ch *dbsc.Challenges, _ *clock, s string) {
	v := issue(t, ch, s)
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if redeem(ch, s, v) == nil {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d redemptions succeeded, want 1", wins.Load())
	}
}
