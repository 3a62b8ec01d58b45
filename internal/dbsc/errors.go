package dbsc

// Sentinel errors: one for each reason a header, a proof or a challenge is
// refused, told apart with errors.Is.

import "errors"

// refusal is a sentinel with a parent, so that every proof refusal is also
// an ErrInvalidProof and every header refusal an ErrMalformedHeader.
type refusal struct {
	msg    string
	parent error
}

func (e *refusal) Error() string { return "dbsc: " + e.msg }

// Is reports whether target is e's parent; errors.Is compares e itself.
func (e *refusal) Is(target error) bool { return e.parent != nil && target == e.parent }

var (
	// ErrInvalidProof is the parent of every proof refusal below: a server
	// answers any of them the same way (403 with a fresh challenge, so the
	// browser signs again) and uses the child only to log the reason.
	ErrInvalidProof = errors.New("dbsc: invalid proof")

	// ErrMalformedProof: the proof is not a compact JWS with three
	// base64url parts holding JSON objects with the members DBSC requires,
	// or is longer than MaxProofLen, or names a critical extension.
	ErrMalformedProof = &refusal{"malformed proof", ErrInvalidProof}
	// ErrAlgorithmNone: the proof's alg is "none", an unsigned token
	// (RFC 8725, section 3.1: never accept it).
	ErrAlgorithmNone = &refusal{`proof algorithm "none"`, ErrInvalidProof}
	// ErrProofType: the proof's typ is not "dbsc+jwt".
	ErrProofType = &refusal{"proof type is not dbsc+jwt", ErrInvalidProof}
	// ErrAlgorithmNotOffered: the proof's alg is not one the server offered
	// in its registration header.
	ErrAlgorithmNotOffered = &refusal{"proof algorithm not offered", ErrInvalidProof}
	// ErrAlgorithmKeyMismatch: the proof's alg does not fit its key (ES256
	// needs an EC P-256 key, RS256 an RSA key), or a refresh proof is
	// signed with another algorithm than the session's key.
	ErrAlgorithmKeyMismatch = &refusal{"proof algorithm does not match the key", ErrInvalidProof}
	// ErrInvalidKey: a registration proof has no jwk, or a jwk that is not a
	// public key of a supported kind (a point off the curve, an RSA
	// exponent out of range, a private member, an RSA modulus over
	// MaxRSABits).
	ErrInvalidKey = &refusal{"invalid proof key", ErrInvalidProof}
	// ErrWeakKey: an RSA key shorter than MinRSABits.
	ErrWeakKey = &refusal{"proof key too weak", ErrInvalidProof}
	// ErrBadSignature: the signature does not verify with the key (for
	// ES256 also: not exactly 64 bytes r||s, RFC 7518 section 3.4).
	ErrBadSignature = &refusal{"proof signature does not verify", ErrInvalidProof}
	// ErrForeignKey: a refresh proof carries a jwk other than the key the
	// session was registered with.
	ErrForeignKey = &refusal{"proof key is not the session's key", ErrInvalidProof}
	// ErrWrongAuthorization: the registration proof's authorization claim
	// is not the value the server sent in its registration header.
	ErrWrongAuthorization = &refusal{"proof authorization does not match", ErrInvalidProof}
	// ErrUnknownChallenge: the proof's jti is not an outstanding challenge
	// of the session: never issued, already used (a replay), expired, or
	// dropped from a full set.
	ErrUnknownChallenge = &refusal{"proof challenge is not outstanding", ErrInvalidProof}

	// ErrNoProof: the request carries no Secure-Session-Response header; a
	// refresh without a cached challenge looks like this, and is answered
	// 403 with a challenge.
	ErrNoProof = errors.New("dbsc: no proof")

	// ErrMalformedHeader: a DBSC header is not the structured field
	// (RFC 8941) DBSC defines, or names an empty session identifier.
	ErrMalformedHeader = errors.New("dbsc: malformed header")
	// ErrNoSessionID: a refresh request carries no Sec-Secure-Session-Id.
	ErrNoSessionID = errors.New("dbsc: no session identifier")

	// ErrInvalidValue: a value given to a header or instructions builder
	// cannot be written (a character outside printable ASCII, an empty
	// identifier, no algorithm, an unsupported algorithm).
	ErrInvalidValue = errors.New("dbsc: value cannot be written")
)
