package dbsc

// The browser's public key: read from a proof's jwk (RFC 7517), checked
// against the algorithm, written canonically for the record, and named by
// its thumbprint (RFC 7638).

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
)

// RSA key sizes accepted, in bits of the modulus.
const (
	// MinRSABits is the shortest RSA modulus accepted (NIST SP 800-131A:
	// 2048 bits).
	MinRSABits = 2048
	// MaxRSABits is the longest RSA modulus accepted, so that a hostile
	// proof cannot make one verification cost milliseconds.
	MaxRSABits = 8192
)

// p256CoordLen is the length of a P-256 coordinate; RFC 7518 section
// 6.2.1.2 requires the full length, leading zeros included.
const p256CoordLen = 32

// Key is a browser's public key for one bound session.
type Key struct {
	// Algorithm the browser signs with: ES256 or RS256.
	Algorithm Algorithm
	// JWK is the key's canonical JSON: the required members only, in
	// lexicographic order, without whitespace (RFC 7638, section 3.2). It is
	// what a record stores; LoadKey reads it back.
	JWK []byte
	// Thumbprint is the unpadded base64url SHA-256 of JWK (RFC 7638): a
	// short name for the key, for logs and comparisons.
	Thumbprint string

	public crypto.PublicKey
}

// jwkMembers is the part of a JWK this package reads. d, p, q and the
// other private members are caught so that a proof carrying a private key
// is refused rather than silently read as a public one.
type jwkMembers struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	N   string `json:"n"`
	E   string `json:"e"`
	D   string `json:"d"`
}

// LoadKey reads back a key a record stored (Key.Algorithm and Key.JWK). It
// returns the errors of a registration's key check: ErrInvalidKey,
// ErrWeakKey, ErrAlgorithmKeyMismatch.
func LoadKey(alg Algorithm, jwk []byte) (Key, error) {
	return parseJWK(alg, jwk)
}

// parseJWK reads raw as a public key for alg.
func parseJWK(alg Algorithm, raw []byte) (Key, error) {
	var m jwkMembers
	if len(raw) == 0 || json.Unmarshal(raw, &m) != nil {
		return Key{}, fmt.Errorf("%w: jwk is not a JSON object", ErrInvalidKey)
	}
	if m.D != "" {
		return Key{}, fmt.Errorf("%w: jwk holds a private key", ErrInvalidKey)
	}
	switch {
	case m.Kty == "EC" && alg == ES256:
		return ecKey(m)
	case m.Kty == "RSA" && alg == RS256:
		return rsaKey(m)
	case m.Kty == "EC" || m.Kty == "RSA":
		return Key{}, fmt.Errorf("%w: %s with a %s key", ErrAlgorithmKeyMismatch, alg, m.Kty)
	default:
		return Key{}, fmt.Errorf("%w: key type %q", ErrInvalidKey, m.Kty)
	}
}

func ecKey(m jwkMembers) (Key, error) {
	if m.Crv != "P-256" {
		return Key{}, fmt.Errorf("%w: ES256 with curve %q", ErrAlgorithmKeyMismatch, m.Crv)
	}
	x, errX := b64.DecodeString(m.X)
	y, errY := b64.DecodeString(m.Y)
	if errX != nil || errY != nil || len(x) != p256CoordLen || len(y) != p256CoordLen {
		return Key{}, fmt.Errorf("%w: P-256 coordinates", ErrInvalidKey)
	}
	point := append(append([]byte{4}, x...), y...)
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
	if err != nil {
		return Key{}, fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	canonical := `{"crv":"P-256","kty":"EC","x":"` + b64.EncodeToString(x) + `","y":"` + b64.EncodeToString(y) + `"}`
	return newKey(ES256, canonical, pub), nil
}

func rsaKey(m jwkMembers) (Key, error) {
	nb, errN := b64.DecodeString(m.N)
	eb, errE := b64.DecodeString(m.E)
	if errN != nil || errE != nil || len(nb) == 0 || len(eb) == 0 || len(eb) > 4 {
		return Key{}, fmt.Errorf("%w: RSA modulus or exponent", ErrInvalidKey)
	}
	n := new(big.Int).SetBytes(nb)
	e := new(big.Int).SetBytes(eb)
	switch bits := n.BitLen(); {
	case bits > MaxRSABits:
		return Key{}, fmt.Errorf("%w: RSA modulus of %d bits", ErrInvalidKey, bits)
	case bits < MinRSABits:
		return Key{}, fmt.Errorf("%w: RSA modulus of %d bits", ErrWeakKey, bits)
	}
	// An even or tiny exponent is no RSA key; 2^31-1 keeps it an int
	// everywhere.
	if e.Bit(0) == 0 || e.Int64() < 3 || e.Int64() > 1<<31-1 || n.Bit(0) == 0 {
		return Key{}, fmt.Errorf("%w: RSA exponent or modulus out of range", ErrInvalidKey)
	}
	pub := &rsa.PublicKey{N: n, E: int(e.Int64())}
	// The canonical form drops leading zero bytes, so that two spellings
	// of one key have one thumbprint.
	canonical := `{"e":"` + b64.EncodeToString(e.Bytes()) + `","kty":"RSA","n":"` + b64.EncodeToString(n.Bytes()) + `"}`
	return newKey(RS256, canonical, pub), nil
}

func newKey(alg Algorithm, canonical string, pub crypto.PublicKey) Key {
	sum := sha256.Sum256([]byte(canonical))
	return Key{Algorithm: alg, JWK: []byte(canonical), Thumbprint: b64.EncodeToString(sum[:]), public: pub}
}

// b64 is the unpadded base64url of JWS and JWK (RFC 7515, section 2),
// strict: padding and stray bits are refused.
var b64 = base64.RawURLEncoding.Strict()
