package dbsc

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

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

// A value that cannot be a challenge is refused without a store round
// trip: garbage from a client costs no store operation.
func TestChallengeRedeemWrongLength(t *testing.T) {
	ch := &Challenges{Store: failingStore{}}
	for _, v := range []string{"", "short", strings.Repeat("a", 44), strings.Repeat("a", 4096)} {
		if err := ch.Redeem(context.Background(), "s", v); !errors.Is(err, ErrUnknownChallenge) {
			t.Errorf("%d bytes: %v, want ErrUnknownChallenge without asking the store", len(v), err)
		}
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
