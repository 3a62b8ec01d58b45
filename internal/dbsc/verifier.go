package dbsc

// Verifier: a proof's checks and its challenge's redemption in the one
// order that keeps a forged proof from using up a real challenge.

import "context"

// Verifier verifies registration and refresh proofs and redeems their
// challenges.
type Verifier struct {
	// Algorithms offered in registration headers; nil means
	// DefaultAlgorithms.
	Algorithms []Algorithm
	// Challenges issues and redeems the challenges proofs answer.
	Challenges *Challenges
}

func (v *Verifier) algorithms() []Algorithm {
	if v.Algorithms == nil {
		return DefaultAlgorithms
	}
	return v.Algorithms
}

// Offer issues a challenge for pending (whatever names the registration
// to come, for example the hash of the token whose sign-in licenses it)
// and returns the registration to send in the Secure-Session-Registration
// header (see Registration.Header). It returns the challenge store's error.
func (v *Verifier) Offer(ctx context.Context, pending, path, authorization string) (Registration, error) {
	c, err := v.Challenges.Issue(ctx, pending)
	if err != nil {
		return Registration{}, err
	}
	return Registration{Algorithms: v.algorithms(), Path: path, Challenge: c, Authorization: authorization}, nil
}

// Registration verifies a registration proof (see VerifyRegistration) and
// then redeems its challenge, outstanding for pending: a proof whose
// challenge is not outstanding is ErrUnknownChallenge. It returns the key
// to bind the session to. An error that is not an ErrInvalidProof is the
// challenge store's.
func (v *Verifier) Registration(ctx context.Context, pending, jwt, authorization string) (Key, error) {
	p, key, err := VerifyRegistration(jwt, v.algorithms(), authorization)
	if err != nil {
		return Key{}, err
	}
	if err := v.Challenges.Redeem(ctx, pending, p.Challenge); err != nil {
		return Key{}, err
	}
	return key, nil
}

// Refresh verifies a refresh proof against the session's key (see
// VerifyRefresh) and then redeems its challenge, outstanding for session:
// a replayed proof is ErrUnknownChallenge. An error that is not an
// ErrInvalidProof is the challenge store's.
func (v *Verifier) Refresh(ctx context.Context, session, jwt string, key Key) error {
	p, err := VerifyRefresh(jwt, key)
	if err != nil {
		return err
	}
	return v.Challenges.Redeem(ctx, session, p.Challenge)
}
