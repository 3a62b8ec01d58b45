package dbsc

// A browser's side of the protocol, written independently of the code
// under test: its own keys, its own JWK and JWS encoding.

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"sync"
	"testing"
)

// testBrowser holds one key pair and signs proofs with it.
type testBrowser struct {
	alg Algorithm
	ec  *ecdsa.PrivateKey
	rsa *rsa.PrivateKey
}

var (
	rsaOnce sync.Once
	rsaKeys [3]*rsa.PrivateKey // two 2048-bit keys and one 1024-bit key
)

// rsaKey returns a cached RSA key: generating 2048-bit keys takes long
// enough to matter when every test does it.
func rsaTestKey(t testing.TB, i int) *rsa.PrivateKey {
	t.Helper()
	rsaOnce.Do(func() {
		for j, bits := range []int{2048, 2048, 1024} {
			k, err := rsa.GenerateKey(rand.Reader, bits)
			if err != nil {
				panic(err)
			}
			rsaKeys[j] = k
		}
	})
	return rsaKeys[i]
}

func newES256Browser(t testing.TB) *testBrowser {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &testBrowser{alg: ES256, ec: k}
}

// newRS256Browser returns a browser with cached RSA key i (0 and 1 are
// 2048 bits, 2 is 1024 bits).
func newRS256Browser(t testing.TB, i int) *testBrowser {
	return &testBrowser{alg: RS256, rsa: rsaTestKey(t, i)}
}

func enc(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// jwk is the browser's public key as Chromium writes it.
func (b *testBrowser) jwk() map[string]string {
	if b.ec != nil {
		var x, y [32]byte
		b.ec.X.FillBytes(x[:])
		b.ec.Y.FillBytes(y[:])
		return map[string]string{"kty": "EC", "crv": "P-256", "x": enc(x[:]), "y": enc(y[:])}
	}
	return map[string]string{"kty": "RSA", "n": enc(b.rsa.N.Bytes()), "e": enc(big.NewInt(int64(b.rsa.E)).Bytes())}
}

// thumbprint computes RFC 7638 from the browser's own key.
func (b *testBrowser) thumbprint() string {
	var canonical []byte
	if b.ec != nil {
		j := b.jwk()
		canonical = []byte(`{"crv":"P-256","kty":"EC","x":"` + j["x"] + `","y":"` + j["y"] + `"}`)
	} else {
		j := b.jwk()
		canonical = []byte(`{"e":"` + j["e"] + `","kty":"RSA","n":"` + j["n"] + `"}`)
	}
	sum := sha256.Sum256(canonical)
	return enc(sum[:])
}

// sign returns header.payload.signature with the browser's key.
func (b *testBrowser) sign(t testing.TB, header, claims map[string]any) string {
	t.Helper()
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	input := enc(h) + "." + enc(c)
	digest := sha256.Sum256([]byte(input))
	var sig []byte
	if b.ec != nil {
		r, s, err := ecdsa.Sign(rand.Reader, b.ec, digest[:])
		if err != nil {
			t.Fatal(err)
		}
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	} else {
		sig, err = rsa.SignPKCS1v15(rand.Reader, b.rsa, crypto.SHA256, digest[:])
		if err != nil {
			t.Fatal(err)
		}
	}
	return input + "." + enc(sig)
}

// registrationProof is what Chromium POSTs to the registration path.
func (b *testBrowser) registrationProof(t testing.TB, challenge, authorization string) string {
	claims := map[string]any{"jti": challenge}
	if authorization != "" {
		claims["authorization"] = authorization
	}
	return b.sign(t, map[string]any{"alg": string(b.alg), "typ": "dbsc+jwt", "jwk": b.jwk()}, claims)
}

// refreshProof is what Chromium POSTs to the refresh URL: no jwk.
func (b *testBrowser) refreshProof(t testing.TB, challenge string) string {
	return b.sign(t, map[string]any{"alg": string(b.alg), "typ": "dbsc+jwt"}, map[string]any{"jti": challenge})
}
