package ginsecure

// A token's public key (Record.TokenKey) and what is sealed to it
// (DESIGN.md, "Superseded credentials"). Should a token be superseded
// before the browser ever presents it, the newer token is sealed to its
// public key, so that the server can seal with no request holding the
// secret at hand, and only a holder of the secret can open it; the store
// alone cannot.
//
// New tokens' keys are P-256 (crypto/ecdh), stored compressed in 33 bytes
// (0x02 or 0x03, then X): deriving one is a fixed-base multiplication
// from precomputed tables, about 3.5 times cheaper than X25519's ladder,
// and a login derives one. Records written by earlier releases carry an
// X25519 key (32 bytes): sealing to it and opening what was sealed to it
// keep working; while the store writes for servers of the previous
// release, new tokens' keys are X25519 too (keysFor). The length tells the curves apart, of a key as of a
// sealed token (its ephemeral key comes first, in the key's form).

import (
	"crypto/ecdh"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"slices"

	"github.com/ginsecure/ginsecure/storeext"
)

// tokenCurve is one curve a token key can be on: how the key is derived
// from the token's secret, stored, and parsed back, and the label of the
// key that seals to it.
type tokenCurve struct {
	keyLen     int // the stored public key's length, in bytes
	curve      ecdh.Curve
	private    func(secret [32]byte) (*ecdh.PrivateKey, error)
	encode     func(*ecdh.PublicKey) []byte
	parse      func([]byte) (*ecdh.PublicKey, error)
	sealedInfo string
}

// The two curves: P-256 for new tokens, X25519 as earlier releases
// minted it.
var (
	p256Keys = &tokenCurve{
		keyLen: 33, curve: ecdh.P256(), private: p256Private,
		encode: compressP256, parse: parseP256,
		sealedInfo: "ginsecure sealed to P-256 token key v2",
	}
	x25519Keys = &tokenCurve{
		keyLen: 32, curve: ecdh.X25519(), private: x25519Private,
		encode: (*ecdh.PublicKey).Bytes, parse: ecdh.X25519().NewPublicKey,
		sealedInfo: "ginsecure sealed to token key v1",
	}
)

// errTokenKey is the error for a token key or a sealed token's ephemeral
// key that is on neither curve.
var errTokenKey = errors.New("ginsecure: not a token key")

// curveOfKey is the curve of a stored public key, told by its length; nil
// for no curve.
func curveOfKey(n int) *tokenCurve {
	switch n {
	case p256Keys.keyLen:
		return p256Keys
	case x25519Keys.keyLen:
		return x25519Keys
	}
	return nil
}

// sealedBodyLen is the length of what follows the ephemeral key in a
// token sealed to a token key: sealUnder's nonce (12), the sealed secret
// (32) and the tag (16). sealUnder alone (a pending token) is this long.
const sealedBodyLen = 12 + 32 + 16

// curveOfSealed is the curve a Superseded.Sealed was sealed to, told by
// its length; nil for a pending token (sealPending: no ephemeral key).
func curveOfSealed(n int) *tokenCurve {
	return curveOfKey(n - sealedBodyLen)
}

// x25519KeyInfo labels the derivation of an X25519 key from a token's
// secret (earlier releases' tokens).
const x25519KeyInfo = "ginsecure token key v1"

// x25519Private derives the X25519 private key of a token from its
// secret, as earlier releases did.
func x25519Private(secret [32]byte) (*ecdh.PrivateKey, error) {
	k, err := hkdf.Key(sha256.New, secret[:], nil, x25519KeyInfo, 32)
	if err != nil {
		return nil, err
	}
	return ecdh.X25519().NewPrivateKey(k)
}

// p256KeyInfo labels the derivation of a P-256 scalar from a token's
// secret; a one-byte counter follows it.
const p256KeyInfo = "ginsecure token key P-256 v2"

// p256Tries bounds the derivation's attempts. A candidate is refused with
// a probability below 2^-32 (0, or at least the group order n, which is
// just under 2^256), so the bound is never reached in practice; it keeps
// the loop finite.
const p256Tries = 8

// p256Private derives the P-256 private key of a token from its secret.
func p256Private(secret [32]byte) (*ecdh.PrivateKey, error) {
	return deriveP256(secret, ecdh.P256().NewPrivateKey)
}

// deriveP256 derives a P-256 private key from secret by rejection
// sampling: the candidate for counter c = 0, 1, ... is HKDF-SHA-256 of
// the secret (no salt) with the info p256KeyInfo followed by the byte c,
// 32 bytes read as a big-endian scalar; the first that newKey accepts (a
// scalar in [1, n-1]) is the key. Issuer and holder derive the same key
// from the same secret. newKey is ecdh.P256().NewPrivateKey but in tests
// of the rejection path.
func deriveP256(secret [32]byte, newKey func([]byte) (*ecdh.PrivateKey, error)) (*ecdh.PrivateKey, error) {
	info := []byte(p256KeyInfo + "\x00")
	for c := range p256Tries {
		info[len(info)-1] = byte(c)
		k, err := hkdf.Key(sha256.New, secret[:], nil, string(info), 32)
		if err != nil {
			return nil, err
		}
		if priv, err := newKey(k); err == nil {
			return priv, nil
		}
	}
	return nil, errors.New("ginsecure: no P-256 scalar derived")
}

// compressP256 is a P-256 public key in the compressed form (SEC 1,
// 2.3.3): 0x02 for an even Y, 0x03 for an odd one, then X; 33 bytes.
func compressP256(pub *ecdh.PublicKey) []byte {
	u := pub.Bytes() // 0x04 || X || Y
	out := make([]byte, 33)
	out[0] = 2 | u[64]&1
	copy(out[1:], u[1:33])
	return out
}

// parseP256 is the P-256 public key a compressed point encodes; an error
// for a point that is not on the curve or not compressed. crypto/ecdh
// parses only the uncompressed form: crypto/elliptic decompresses.
func parseP256(c []byte) (*ecdh.PublicKey, error) {
	x, y := elliptic.UnmarshalCompressed(elliptic.P256(), c)
	if x == nil {
		return nil, errTokenKey
	}
	u := make([]byte, 65)
	u[0] = 4
	x.FillBytes(u[1:33])
	y.FillBytes(u[33:])
	return ecdh.P256().NewPublicKey(u)
}

// publicKey is the stored public key, on c, of the token with this
// secret.
func (c *tokenCurve) publicKey(secret [32]byte) ([]byte, error) {
	k, err := c.private(secret)
	if err != nil {
		return nil, err
	}
	return c.encode(k.PublicKey()), nil
}

// previousEncoder is storeext.PreviousEncoder (its contract is there), as
// New asks for it.
type previousEncoder interface {
	PreviousEncoding() bool
}

// keysFor is the curve of new tokens' keys with the store st: P-256,
// unless st writes records for servers of the previous release
// (redisstore.WithPreviousEncoding, a rolling upgrade's first step),
// which cannot seal to a P-256 key: then X25519, as they mint.
func keysFor(st storeext.Store) *tokenCurve {
	if pe, ok := st.(previousEncoder); ok && pe.PreviousEncoding() {
		return x25519Keys
	}
	return p256Keys
}

// tokenKey is the public key of a token (Record.TokenKey): P-256,
// compressed (33 bytes), or X25519 (32) where the store writes for the
// previous release (keysFor).
func (g *Guard) tokenKey(secret [32]byte) ([]byte, error) {
	return g.keys.publicKey(secret)
}

// sealedKey is the AEAD key for an agreement shared between the ephemeral
// key eph and the token key pub (both as stored).
func sealedKey(shared, eph, pub []byte) [32]byte {
	return sha256.Sum256(slices.Concat(shared, eph, pub))
}

// sealTo seals next to the token key pub, on the curve its length names:
// an ephemeral key on that curve, in the same form as pub (33 bytes for
// P-256, 32 for X25519), followed by sealUnder's nonce and ciphertext.
// Errors: errTokenKey for a key on neither curve.
func sealTo(pub []byte, next [32]byte, handle string) ([]byte, error) {
	c := curveOfKey(len(pub))
	if c == nil {
		return nil, errTokenKey
	}
	peer, err := c.parse(pub)
	if err != nil {
		return nil, err
	}
	eph, err := c.curve.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	shared, err := eph.ECDH(peer)
	if err != nil {
		return nil, err
	}
	e := c.encode(eph.PublicKey())
	body, err := sealUnder(c.sealedInfo, sealedKey(shared, e, pub), next, handle)
	if err != nil {
		return nil, err
	}
	return append(e, body...), nil
}

// openSealed opens a Superseded.Sealed with the secret of the credential
// it is kept for, whichever way it was sealed: to the token's P-256 or
// X25519 key (its length says which), or under the secret itself
// (sealPending).
func openSealed(secret [32]byte, sealed []byte, handle string) ([32]byte, error) {
	c := curveOfSealed(len(sealed))
	if c == nil {
		return openUnder(pendingInfo, secret, sealed, handle)
	}
	priv, err := c.private(secret)
	if err != nil {
		return [32]byte{}, err
	}
	eph := sealed[:c.keyLen]
	peer, err := c.parse(eph)
	if err != nil {
		return [32]byte{}, err
	}
	shared, err := priv.ECDH(peer)
	if err != nil {
		return [32]byte{}, err
	}
	return openUnder(c.sealedInfo, sealedKey(shared, eph, c.encode(priv.PublicKey())), sealed[c.keyLen:], handle)
}
