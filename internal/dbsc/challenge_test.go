package dbsc

import (
	"context"
	"errors"
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
