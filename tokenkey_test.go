package ginsecure

// A token's public key and what is sealed to it (tokenkey.go; DESIGN.md,
// "Superseded credentials"): new tokens' keys are P-256, records of
// earlier releases carry X25519 keys, and both seal and open.

import (
	"bytes"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"
)

// secretOf is a fixed token secret for these tests.
func secretOf(b byte) [32]byte {
	var s [32]byte
	for i := range s {
		s[i] = b + byte(i)
	}
	return s
}

// x25519KeyOf is a token's key as earlier releases stored it.
func x25519KeyOf(t *testing.T, secret [32]byte) []byte {
	t.Helper()
	k, err := x25519Private(secret)
	if err != nil {
		t.Fatal(err)
	}
	return k.PublicKey().Bytes()
}

// Round trip on both curves: a newer token sealed to a token's key (a new
// token's P-256 one, an earlier release's X25519 one) opens with the
// token's secret and the record's handle, and with nothing else; the
// sealed blob's length names its curve.
func TestSealedToTokenKeyRoundTrip(t *testing.T) {
	secret, next := secretOf(1), secretOf(100)
	p256, err := p256Keys.publicKey(secret)
	if err != nil {
		t.Fatal(err)
	}
	if len(p256) != 33 || (p256[0] != 2 && p256[0] != 3) {
		t.Fatalf("tokenKey: %d bytes, prefix %#x; want a compressed P-256 point (33 bytes, 0x02 or 0x03)", len(p256), p256[0])
	}
	if again, _ := p256Keys.publicKey(secret); !bytes.Equal(again, p256) {
		t.Fatal("tokenKey is not deterministic: issuer and holder would derive different keys")
	}
	for _, c := range []struct {
		name   string
		key    []byte
		sealed int
	}{
		{"P-256", p256, 33 + sealedBodyLen},
		{"X25519 (earlier releases)", x25519KeyOf(t, secret), 32 + sealedBodyLen},
	} {
		t.Run(c.name, func(t *testing.T) {
			sealed, err := sealTo(c.key, next, "handle")
			if err != nil {
				t.Fatal(err)
			}
			if len(sealed) != c.sealed {
				t.Fatalf("sealed %d bytes, want %d", len(sealed), c.sealed)
			}
			got, err := openSealed(secret, sealed, "handle")
			if err != nil || got != next {
				t.Fatalf("openSealed: %x, %v; want %x", got, err, next)
			}
			if _, err := openSealed(secretOf(2), sealed, "handle"); err == nil {
				t.Error("opened with another token's secret")
			}
			if _, err := openSealed(secret, sealed, "other"); err == nil {
				t.Error("opened under another record's handle")
			}
		})
	}
}

// A sealed token altered anywhere (its ephemeral key, nonce, ciphertext,
// tag, its length), or an ephemeral key that is no point of the curve, is
// refused with an error, never a panic and never a token.
func TestSealedToTokenKeyTamperedIsRefused(t *testing.T) {
	secret, next := secretOf(3), secretOf(200)
	p256, err := p256Keys.publicKey(secret)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range [][]byte{p256, x25519KeyOf(t, secret)} {
		sealed, err := sealTo(key, next, "h")
		if err != nil {
			t.Fatal(err)
		}
		for i := range sealed {
			for _, bit := range []byte{0x01, 0x80} {
				bad := bytes.Clone(sealed)
				bad[i] ^= bit
				if got, err := openSealed(secret, bad, "h"); err == nil {
					t.Errorf("%d-byte key: bit %#x of byte %d flipped opened as %x", len(key), bit, i, got)
				}
			}
		}
		for _, n := range []int{0, 1, len(key), len(sealed) - 1, len(sealed) + 1} {
			bad := append(bytes.Clone(sealed), 0)[:n]
			if _, err := openSealed(secret, bad, "h"); err == nil {
				t.Errorf("%d-byte key: sealed token cut to %d bytes opened", len(key), n)
			}
		}
	}
	sealed, err := sealTo(p256, next, "h")
	if err != nil {
		t.Fatal(err)
	}
	for _, eph := range [][]byte{
		append([]byte{4}, p256[1:]...),                       // not a compressed point
		append([]byte{2}, bytes.Repeat([]byte{0xff}, 32)...), // X at least p
		make([]byte, 33),                                     // the point at infinity's encoding
	} {
		bad := append(bytes.Clone(eph), sealed[33:]...)
		if _, err := openSealed(secret, bad, "h"); err == nil {
			t.Errorf("ephemeral key %x opened", eph)
		}
	}
}

// sealTo refuses a key that is on neither curve (its length) or not a
// point of P-256, with an error.
func TestSealToRefusesAForeignKey(t *testing.T) {
	p256, err := p256Keys.publicKey(secretOf(4))
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range [][]byte{
		nil, make([]byte, 31), make([]byte, 65), // no curve's length
		append([]byte{4}, p256[1:]...),                       // not compressed
		append([]byte{3}, bytes.Repeat([]byte{0xff}, 32)...), // X at least p
		make([]byte, 33),
	} {
		if _, err := sealTo(key, secretOf(5), "h"); err == nil {
			t.Errorf("sealTo(%x) sealed", key)
		}
	}
	if _, err := sealTo(nil, secretOf(5), "h"); !errors.Is(err, errTokenKey) {
		t.Errorf("sealTo(nil): %v; want errTokenKey", err)
	}
}

// p256Candidate is the derivation's candidate scalar for counter c.
func p256Candidate(t *testing.T, secret [32]byte, c byte) []byte {
	t.Helper()
	k, err := hkdf.Key(sha256.New, secret[:], nil, p256KeyInfo+string([]byte{c}), 32)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// The scalar derivation's rejection path: P-256 refuses 0 and scalars of
// at least the group order, and a candidate refused (about one secret in
// 2^32, none that a test can find, so a stub refuses here) is followed by
// the next counter's, the same on both sides; after p256Tries refusals
// the derivation fails, never loops. With the real check the key is the
// first candidate's.
func TestP256ScalarRejectionSampling(t *testing.T) {
	n := []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51}
	for _, k := range [][]byte{make([]byte, 32), n, bytes.Repeat([]byte{0xff}, 32)} {
		if _, err := ecdh.P256().NewPrivateKey(k); err == nil {
			t.Fatalf("P-256 accepted the scalar %x: the derivation's premise is wrong", k)
		}
	}

	secret := secretOf(6)
	real, err := p256Private(secret)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(real.Bytes(), p256Candidate(t, secret, 0)) {
		t.Error("the key is not the first candidate though P-256 accepts it")
	}

	var tried [][]byte
	refuseFirst := func(k []byte) (*ecdh.PrivateKey, error) {
		tried = append(tried, bytes.Clone(k))
		if len(tried) == 1 {
			return nil, errors.New("out of range")
		}
		return ecdh.P256().NewPrivateKey(k)
	}
	k, err := deriveP256(secret, refuseFirst)
	if err != nil {
		t.Fatal(err)
	}
	if len(tried) != 2 || !bytes.Equal(k.Bytes(), p256Candidate(t, secret, 1)) || bytes.Equal(tried[0], tried[1]) {
		t.Fatalf("after one refusal: %d candidates, key %x; want the second candidate %x", len(tried), k.Bytes(), p256Candidate(t, secret, 1))
	}
	again, err := deriveP256(secret, func(k []byte) (*ecdh.PrivateKey, error) {
		if bytes.Equal(k, tried[0]) {
			return nil, errors.New("out of range")
		}
		return ecdh.P256().NewPrivateKey(k)
	})
	if err != nil || !again.Equal(k) {
		t.Fatalf("the holder's derivation with the same refusal: %v; want the issuer's key", err)
	}

	calls := 0
	if _, err := deriveP256(secret, func([]byte) (*ecdh.PrivateKey, error) {
		calls++
		return nil, errors.New("out of range")
	}); err == nil || calls != p256Tries {
		t.Fatalf("every candidate refused: %v after %d candidates; want an error after %d", err, calls, p256Tries)
	}
}

// What the previous release wrote opens: a token key and a newer token
// sealed to it by 0.1.0's tokenKey and sealTo (recorded once), for the
// secret 7, 8, ... 38, the newer token 9, 10, ... 40 and the handle
// "golden-handle".
func TestSealedByThePreviousReleaseOpens(t *testing.T) {
	const (
		key    = "c0ba58a48b5b2c224ce644ed773798a3eca4ff9c40351601c8aa9a8c73efc65e"
		sealed = "fa4f11cfa1f60c1e4006056996770e22e31bdf8b281369cd034c60cd980dac33" +
			"8338513a3063159030b4dee4bf87632791062e32113fe9dbdf98d70209f0f4f3" +
			"dc8ed76b3aa182c8ccffa41182bd0db04d4e2146fa01b8296588ed75"
	)
	secret, next := secretOf(7), secretOf(9)
	if got := hex.EncodeToString(x25519KeyOf(t, secret)); got != key {
		t.Fatalf("the X25519 key derived now is %s; the previous release stored %s", got, key)
	}
	b, _ := hex.DecodeString(sealed)
	got, err := openSealed(secret, b, "golden-handle")
	if err != nil || got != next {
		t.Fatalf("the previous release's sealed token: %x, %v; want %x", got, err, next)
	}
}

// FuzzOpenSealed: whatever a store hands back as a sealed token, opening
// it returns a token or an error, never panics.
func FuzzOpenSealed(f *testing.F) {
	secret := secretOf(8)
	p256, _ := p256Keys.publicKey(secret)
	x25519, _ := x25519Keys.publicKey(secret)
	for _, key := range [][]byte{p256, x25519} {
		if b, err := sealTo(key, secretOf(9), "h"); err == nil {
			f.Add(b)
		}
	}
	if b, err := sealPending(secret, secretOf(9), "h"); err == nil {
		f.Add(b)
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, sealed []byte) {
		_, _ = openSealed(secret, sealed, "h")
	})
}
