package dbsc

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newChallenges(clock *fakeClock) *Challenges {
	return &Challenges{Store: &MemoryChallenges{}, Lifetime: time.Minute, MaxOutstanding: 4, Now: clock.now}
}

func TestChallengeFormat(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		c := mustChallenge(t)
		if len(c) != 43 {
			t.Fatalf("challenge %q: %d characters, want 43", c, len(c))
		}
		if _, err := b64.DecodeString(c); err != nil {
			t.Fatalf("challenge %q is not unpadded base64url: %v", c, err)
		}
		if seen[c] {
			t.Fatalf("challenge %q issued twice", c)
		}
		seen[c] = true
	}
}

func TestChallengeSingleUse(t *testing.T) {
	ctx, clock := context.Background(), &fakeClock{t: time.Unix(1e9, 0)}
	ch := newChallenges(clock)
	c, err := ch.Issue(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Redeem(ctx, "s", c); err != nil {
		t.Fatalf("first redemption: %v", err)
	}
	if err := ch.Redeem(ctx, "s", c); !errors.Is(err, ErrUnknownChallenge) {
		t.Fatalf("second redemption: %v, want ErrUnknownChallenge", err)
	}
	never := mustChallenge(t)
	if err := ch.Redeem(ctx, "s", never); !errors.Is(err, ErrUnknownChallenge) {
		t.Fatalf("a challenge never issued: %v", err)
	}
	if err := ch.Redeem(ctx, "s", "short"); !errors.Is(err, ErrUnknownChallenge) {
		t.Fatalf("a value of the wrong length: %v", err)
	}
}

// Issuing challenges, up to the bound, never invalidates the earlier ones:
// the browser may hold any of them.
func TestChallengeIssuingKeepsOthers(t *testing.T) {
	ctx, clock := context.Background(), &fakeClock{t: time.Unix(1e9, 0)}
	ch := newChallenges(clock)
	var issued []string
	for range ch.MaxOutstanding {
		c, err := ch.Issue(ctx, "s")
		if err != nil {
			t.Fatal(err)
		}
		issued = append(issued, c)
		clock.advance(time.Second)
	}
	// Redeem in an order other than issue order.
	for _, i := range []int{2, 0, 3, 1} {
		if err := ch.Redeem(ctx, "s", issued[i]); err != nil {
			t.Fatalf("challenge %d of %d refused: %v", i, len(issued), err)
		}
	}
}

// Over the bound, the challenge that expires first goes, and only it.
func TestChallengeBound(t *testing.T) {
	ctx, clock := context.Background(), &fakeClock{t: time.Unix(1e9, 0)}
	ch := newChallenges(clock)
	var issued []string
	for range ch.MaxOutstanding + 1 {
		c, _ := ch.Issue(ctx, "s")
		issued = append(issued, c)
		clock.advance(time.Second)
	}
	if err := ch.Redeem(ctx, "s", issued[0]); !errors.Is(err, ErrUnknownChallenge) {
		t.Fatalf("oldest challenge over the bound: %v, want ErrUnknownChallenge", err)
	}
	for i, c := range issued[1:] {
		if err := ch.Redeem(ctx, "s", c); err != nil {
			t.Fatalf("challenge %d dropped: %v", i+1, err)
		}
	}
}

// A challenge is refused once its lifetime has passed.
func TestChallengeExpiry(t *testing.T) {
	ctx, clock := context.Background(), &fakeClock{t: time.Unix(1e9, 0)}
	ch := newChallenges(clock)
	live, _ := ch.Issue(ctx, "s")
	old, _ := ch.Issue(ctx, "s")
	clock.advance(ch.Lifetime - time.Nanosecond)
	if err := ch.Redeem(ctx, "s", live); err != nil {
		t.Fatalf("challenge within its lifetime: %v", err)
	}
	clock.advance(time.Nanosecond)
	if err := ch.Redeem(ctx, "s", old); !errors.Is(err, ErrUnknownChallenge) {
		t.Fatalf("expired challenge: %v", err)
	}
}

func TestChallengeForget(t *testing.T) {
	ctx, clock := context.Background(), &fakeClock{t: time.Unix(1e9, 0)}
	ch := newChallenges(clock)
	a, _ := ch.Issue(ctx, "a")
	b, _ := ch.Issue(ctx, "b")
	if err := ch.Forget(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := ch.Redeem(ctx, "a", a); !errors.Is(err, ErrUnknownChallenge) {
		t.Fatalf("challenge of a forgotten session: %v", err)
	}
	if err := ch.Redeem(ctx, "b", b); err != nil {
		t.Fatalf("another session's challenge: %v", err)
	}
}

// Of many parallel redemptions of one challenge, exactly one succeeds.
func TestChallengeRedeemRace(t *testing.T) {
	ctx, clock := context.Background(), &fakeClock{t: time.Unix(1e9, 0)}
	ch := newChallenges(clock)
	c, _ := ch.Issue(ctx, "s")
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if ch.Redeem(ctx, "s", c) == nil {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d redemptions succeeded, want 1", wins.Load())
	}
}

// failingStore fails every operation, as a store that cannot be reached.
type failingStore struct{}

var errStoreDown = errors.New("store down")

func (failingStore) PutChallenge(context.Context, string, [32]byte, time.Time, time.Time, int) error {
	return errStoreDown
}
func (failingStore) TakeChallenge(context.Context, string, [32]byte, time.Time) error {
	return errStoreDown
}
func (failingStore) DropChallenges(context.Context, string) error { return errStoreDown }

// A store outage is told apart from a refused proof.
func TestChallengeStoreOutage(t *testing.T) {
	ctx := context.Background()
	b := newES256Browser(t)
	v := &Verifier{Challenges: &Challenges{Store: failingStore{}}}
	if _, err := v.Offer(ctx, "p", "/r", ""); !errors.Is(err, errStoreDown) {
		t.Fatalf("Offer: %v", err)
	}
	_, err := v.Registration(ctx, "p", b.registrationProof(t, mustChallenge(t), ""), "")
	if !errors.Is(err, errStoreDown) || errors.Is(err, ErrInvalidProof) {
		t.Fatalf("Registration with the store down: %v", err)
	}
}
