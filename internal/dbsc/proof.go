package dbsc

// The proof a browser signs: a compact JWS (RFC 7515) of type dbsc+jwt,
// read and verified with the standard library only.

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strings"
)

// MaxProofLen is the longest proof read, in bytes. An RS256 registration
// proof with a 4096-bit key is about 1.9 KB; anything far longer is not a
// browser's.
const MaxProofLen = 8 << 10

// ProofType is the typ a DBSC proof must carry (W3C DBSC, "DBSC Proof
// JWTs").
const ProofType = "dbsc+jwt"

// Proof is a parsed, not yet verified, DBSC proof.
type Proof struct {
	// Algorithm is the header's alg, as written.
	Algorithm Algorithm
	// Type is the header's typ, as written.
	Type string
	// JWK is the header's jwk, raw; registration proofs carry one, refresh
	// proofs do not.
	JWK json.RawMessage
	// Challenge is the payload's jti: the challenge the browser answers.
	Challenge string
	// Authorization is the payload's authorization claim, empty if absent.
	Authorization string

	signingInput string // header.payload, the bytes the signature covers
	signature    []byte
}

type proofHeader struct {
	Alg  string          `json:"alg"`
	Typ  string          `json:"typ"`
	JWK  json.RawMessage `json:"jwk"`
	Crit json.RawMessage `json:"crit"`
}

// proofClaims are the claims DBSC defines; others (aud, iat, ...) are
// accepted and ignored, since browsers may add them.
type proofClaims struct {
	JTI           string `json:"jti"`
	Authorization string `json:"authorization"`
}

// ParseProof splits a compact JWS into its parts and decodes them. It
// checks the structure only: three strict base64url parts, a header and a
// payload that are JSON objects, an alg, a jti, no crit (RFC 7515 section
// 4.1.11: a critical extension not understood makes the JWS invalid). Any
// failure is ErrMalformedProof. Nothing is verified: see VerifyRegistration
// and VerifyRefresh.
func ParseProof(jwt string) (*Proof, error) {
	if len(jwt) > MaxProofLen {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrMalformedProof, MaxProofLen)
	}
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("%w: %d parts", ErrMalformedProof, len(parts))
	}
	var h proofHeader
	var c proofClaims
	if err := decodePart(parts[0], &h); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrMalformedProof, err)
	}
	if err := decodePart(parts[1], &c); err != nil {
		return nil, fmt.Errorf("%w: payload: %v", ErrMalformedProof, err)
	}
	sig, err := b64.DecodeString(parts[2])
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w: signature: %v", ErrMalformedProof, err)
	case h.Alg == "" || c.JTI == "":
		return nil, fmt.Errorf("%w: no alg or no jti", ErrMalformedProof)
	case h.Crit != nil:
		return nil, fmt.Errorf("%w: critical extension", ErrMalformedProof)
	}
	if isNull(h.JWK) {
		h.JWK = nil
	}
	return &Proof{
		Algorithm: Algorithm(h.Alg), Type: h.Typ, JWK: h.JWK,
		Challenge: c.JTI, Authorization: c.Authorization,
		signingInput: parts[0] + "." + parts[1], signature: sig,
	}, nil
}

// decodePart decodes one base64url part holding a JSON object into v.
func decodePart(part string, v any) error {
	raw, err := b64.DecodeString(part)
	if err != nil {
		return err
	}
	if len(raw) == 0 || raw[0] != '{' {
		return fmt.Errorf("not a JSON object")
	}
	return json.Unmarshal(raw, v)
}

func isNull(raw json.RawMessage) bool { return string(raw) == "null" }

// checkHeader refuses an unsigned proof and a proof of another type.
func (p *Proof) checkHeader() error {
	if strings.EqualFold(string(p.Algorithm), "none") {
		return ErrAlgorithmNone
	}
	// typ is a media type, compared without regard to case (RFC 7515
	// section 4.1.9).
	if !strings.EqualFold(p.Type, ProofType) {
		return fmt.Errorf("%w: %q", ErrProofType, p.Type)
	}
	return nil
}

// verifySignature checks the signature with key, whose algorithm must be
// the proof's.
func (p *Proof) verifySignature(key Key) error {
	if p.Algorithm != key.Algorithm {
		return fmt.Errorf("%w: %s proof for a %s key", ErrAlgorithmKeyMismatch, p.Algorithm, key.Algorithm)
	}
	digest := sha256.Sum256([]byte(p.signingInput))
	switch pub := key.public.(type) {
	case *ecdsa.PublicKey:
		// JWS ES256 is r||s, 32 bytes each (RFC 7518 section 3.4), never
		// ASN.1 DER.
		if len(p.signature) != 2*p256CoordLen {
			return fmt.Errorf("%w: ES256 signature of %d bytes", ErrBadSignature, len(p.signature))
		}
		r := new(big.Int).SetBytes(p.signature[:p256CoordLen])
		s := new(big.Int).SetBytes(p.signature[p256CoordLen:])
		if !ecdsa.Verify(pub, digest[:], r, s) {
			return ErrBadSignature
		}
	case *rsa.PublicKey:
		if rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], p.signature) != nil {
			return ErrBadSignature
		}
	default:
		return fmt.Errorf("%w: no key loaded", ErrInvalidKey)
	}
	return nil
}

// VerifyRegistration checks a registration proof and returns the key it
// binds the session to. offered is the list the Secure-Session-Registration
// header named; authorization the value it carried ("" when none).
//
// It checks, in this order, and returns the first failure: the structure
// (ErrMalformedProof); alg not "none" (ErrAlgorithmNone); typ dbsc+jwt
// (ErrProofType); alg among offered (ErrAlgorithmNotOffered); the jwk a
// public key fit for alg (ErrInvalidKey, ErrWeakKey,
// ErrAlgorithmKeyMismatch); the signature (ErrBadSignature); the
// authorization claim, compared in constant time (ErrWrongAuthorization).
//
// The challenge is not checked here: the caller redeems Proof.Challenge
// after this succeeds (Challenges.Redeem, or Verifier does both), so that
// a forged proof never uses up a challenge the browser holds.
func VerifyRegistration(jwt string, offered []Algorithm, authorization string) (*Proof, Key, error) {
	p, err := ParseProof(jwt)
	if err != nil {
		return nil, Key{}, err
	}
	if err := p.checkHeader(); err != nil {
		return nil, Key{}, err
	}
	if !slices.Contains(offered, p.Algorithm) || !p.Algorithm.supported() {
		return nil, Key{}, fmt.Errorf("%w: %q", ErrAlgorithmNotOffered, p.Algorithm)
	}
	if p.JWK == nil {
		return nil, Key{}, fmt.Errorf("%w: registration proof without jwk", ErrInvalidKey)
	}
	key, err := parseJWK(p.Algorithm, p.JWK)
	if err != nil {
		return nil, Key{}, err
	}
	if err := p.verifySignature(key); err != nil {
		return nil, Key{}, err
	}
	if subtle.ConstantTimeCompare([]byte(p.Authorization), []byte(authorization)) != 1 {
		return nil, Key{}, ErrWrongAuthorization
	}
	return p, key, nil
}

// VerifyRefresh checks a refresh proof against the key the session was
// registered with.
//
// It checks, in this order: the structure (ErrMalformedProof); alg not
// "none" (ErrAlgorithmNone); typ dbsc+jwt (ErrProofType); a jwk, when the
// proof carries one, equal to the session's key (ErrForeignKey, compared
// by thumbprint); alg the session key's (ErrAlgorithmKeyMismatch); the
// signature (ErrBadSignature). A proof signed by another key without a jwk
// fails the signature check.
//
// As with VerifyRegistration, the caller redeems Proof.Challenge after
// this succeeds.
func VerifyRefresh(jwt string, key Key) (*Proof, error) {
	p, err := ParseProof(jwt)
	if err != nil {
		return nil, err
	}
	if err := p.checkHeader(); err != nil {
		return nil, err
	}
	if p.JWK != nil {
		carried, err := parseJWK(key.Algorithm, p.JWK)
		if err != nil || carried.Thumbprint != key.Thumbprint {
			return nil, ErrForeignKey
		}
	}
	if err := p.verifySignature(key); err != nil {
		return nil, err
	}
	return p, nil
}
