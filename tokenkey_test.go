package ginsecure

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"testing"
)

// TestTokenKeyIsX25519PublicKey checks that tokenKey's fixed-base
// computation is the X25519 public key of tokenPrivate's key, byte for
// byte, for random secrets and the edge values of the scalar: sealTo seals
// to it and openSealed agrees with tokenPrivate.
func TestTokenKeyIsX25519PublicKey(t *testing.T) {
	secrets := [][32]byte{{}, bytes32(0xff), bytes32(0x80), bytes32(0x01)}
	for range 2000 {
		var s [32]byte
		_, _ = rand.Read(s[:])
		secrets = append(secrets, s)
	}
	for _, s := range secrets {
		got, err := tokenKey(s)
		if err != nil {
			t.Fatal(err)
		}
		priv, err := tokenPrivate(s)
		if err != nil {
			t.Fatal(err)
		}
		if want := priv.PublicKey().Bytes(); !bytes.Equal(got, want) {
			t.Fatalf("secret %x: tokenKey %x, X25519 public key %x", s, got, want)
		}
		if _, err := ecdh.X25519().NewPublicKey(got); err != nil {
			t.Fatal(err)
		}
	}
}

func bytes32(b byte) [32]byte {
	var s [32]byte
	for i := range s {
		s[i] = b
	}
	return s
}
