package dbsc

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

const testAuth = "auth-value"

func TestVerifyRegistrationAcceptsBrowserKeys(t *testing.T) {
	for _, b := range []*testBrowser{newES256Browser(t), newRS256Browser(t, 0)} {
		t.Run(string(b.alg), func(t *testing.T) {
			c := mustChallenge(t)
			p, key, err := VerifyRegistration(b.registrationProof(t, c, testAuth), DefaultAlgorithms, testAuth)
			if err != nil {
				t.Fatalf("valid registration proof refused: %v", err)
			}
			if p.Challenge != c || key.Algorithm != b.alg {
				t.Fatalf("challenge %q alg %s, want %q %s", p.Challenge, key.Algorithm, c, b.alg)
			}
			if key.Thumbprint != b.thumbprint() {
				t.Fatalf("thumbprint %s, browser computes %s", key.Thumbprint, b.thumbprint())
			}
			// The stored form reads back to the same key, and a refresh
			// proof verifies with it.
			loaded, err := LoadKey(key.Algorithm, key.JWK)
			if err != nil || loaded.Thumbprint != key.Thumbprint {
				t.Fatalf("LoadKey: %v, thumbprint %s", err, loaded.Thumbprint)
			}
			c2 := mustChallenge(t)
			p2, err := VerifyRefresh(b.refreshProof(t, c2), loaded)
			if err != nil || p2.Challenge != c2 {
				t.Fatalf("valid refresh proof refused: %v", err)
			}
		})
	}
}

// RFC 7638, section 3.1: the thumbprint of the RFC 7517 example key.
func TestThumbprintRFC7638Example(t *testing.T) {
	jwk := `{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}`
	key, err := LoadKey(RS256, []byte(jwk))
	if err != nil {
		t.Fatal(err)
	}
	if want := "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"; key.Thumbprint != want {
		t.Fatalf("thumbprint %s, RFC 7638 says %s", key.Thumbprint, want)
	}
}

// tamper returns jwt with one part replaced by f(part).
func tamper(jwt string, i int, f func(string) string) string {
	parts := strings.Split(jwt, ".")
	parts[i] = f(parts[i])
	return strings.Join(parts, ".")
}

// flipSignature changes one bit of the signature's first byte.
func flipSignature(jwt string) string {
	return tamper(jwt, 2, func(s string) string {
		raw, _ := b64.DecodeString(s)
		raw[0] ^= 1
		return enc(raw)
	})
}

func TestVerifyRegistrationRefusals(t *testing.T) {
	es, rs := newES256Browser(t), newRS256Browser(t, 0)
	other, weak := newES256Browser(t), newRS256Browser(t, 2)
	c := "challenge"
	cases := []struct {
		name    string
		proof   string
		offered []Algorithm
		want    error
	}{
		{"bad signature ES256", flipSignature(es.registrationProof(t, c, testAuth)), nil, ErrBadSignature},
		{"bad signature RS256", flipSignature(rs.registrationProof(t, c, testAuth)), nil, ErrBadSignature},
		{"foreign key: jwk of one key, signed by another", other.sign(t,
			map[string]any{"alg": "ES256", "typ": "dbsc+jwt", "jwk": es.jwk()},
			map[string]any{"jti": c, "authorization": testAuth}), nil, ErrBadSignature},
		{"alg none", es.unsigned(t, "none", c), nil, ErrAlgorithmNone},
		{"alg NONE", es.unsigned(t, "NONE", c), nil, ErrAlgorithmNone},
		{"alg ES256 with an RSA jwk", rs.sign(t,
			map[string]any{"alg": "ES256", "typ": "dbsc+jwt", "jwk": rs.jwk()},
			map[string]any{"jti": c, "authorization": testAuth}), nil, ErrAlgorithmKeyMismatch},
		{"alg RS256 with an EC jwk", es.sign(t,
			map[string]any{"alg": "RS256", "typ": "dbsc+jwt", "jwk": es.jwk()},
			map[string]any{"jti": c, "authorization": testAuth}), nil, ErrAlgorithmKeyMismatch},
		{"EC jwk on another curve", es.sign(t,
			map[string]any{"alg": "ES256", "typ": "dbsc+jwt", "jwk": withMember(es.jwk(), "crv", "P-384")},
			map[string]any{"jti": c, "authorization": testAuth}), nil, ErrAlgorithmKeyMismatch},
		{"RSA 1024", weak.registrationProof(t, c, testAuth), nil, ErrWeakKey},
		{"alg not offered", es.registrationProof(t, c, testAuth), []Algorithm{RS256}, ErrAlgorithmNotOffered},
		{"alg offered but unknown", es.sign(t,
			map[string]any{"alg": "ES384", "typ": "dbsc+jwt", "jwk": es.jwk()},
			map[string]any{"jti": c, "authorization": testAuth}), []Algorithm{"ES384"}, ErrAlgorithmNotOffered},
		{"typ jwt", es.sign(t,
			map[string]any{"alg": "ES256", "typ": "JWT", "jwk": es.jwk()},
			map[string]any{"jti": c, "authorization": testAuth}), nil, ErrProofType},
		{"no jwk", es.refreshProof(t, c), nil, ErrInvalidKey},
		{"jwk with a private member", es.sign(t,
			map[string]any{"alg": "ES256", "typ": "dbsc+jwt", "jwk": withMember(es.jwk(), "d", "AAAA")},
			map[string]any{"jti": c, "authorization": testAuth}), nil, ErrInvalidKey},
		{"point off the curve", es.sign(t,
			map[string]any{"alg": "ES256", "typ": "dbsc+jwt", "jwk": withMember(es.jwk(), "y", enc(make([]byte, 32)))},
			map[string]any{"jti": c, "authorization": testAuth}), nil, ErrInvalidKey},
		{"short coordinate", es.sign(t,
			map[string]any{"alg": "ES256", "typ": "dbsc+jwt", "jwk": withMember(es.jwk(), "x", enc(make([]byte, 31)))},
			map[string]any{"jti": c, "authorization": testAuth}), nil, ErrInvalidKey},
		{"coordinates split at the wrong place", es.sign(t,
			map[string]any{"alg": "ES256", "typ": "dbsc+jwt", "jwk": es.shiftedJWK()},
			map[string]any{"jti": c, "authorization": testAuth}), nil, ErrInvalidKey},
		{"wrong authorization", es.registrationProof(t, c, "other"), nil, ErrWrongAuthorization},
		{"no authorization", es.registrationProof(t, c, ""), nil, ErrWrongAuthorization},
		{"ES256 signature in DER", es.derSigned(t, c), nil, ErrBadSignature},
		{"malformed: two parts", "a.b", nil, ErrMalformedProof},
		{"malformed: empty", "", nil, ErrMalformedProof},
		{"malformed: padded base64", tamper(es.registrationProof(t, c, testAuth), 0, func(s string) string { return s + "=" }), nil, ErrMalformedProof},
		{"malformed: header not JSON", tamper(es.registrationProof(t, c, testAuth), 0, func(string) string { return enc([]byte("alg")) }), nil, ErrMalformedProof},
		{"malformed: header a JSON array", tamper(es.registrationProof(t, c, testAuth), 0, func(string) string { return enc([]byte(`["ES256"]`)) }), nil, ErrMalformedProof},
		{"malformed: jti a number", es.sign(t,
			map[string]any{"alg": "ES256", "typ": "dbsc+jwt", "jwk": es.jwk()},
			map[string]any{"jti": 7, "authorization": testAuth}), nil, ErrMalformedProof},
		{"malformed: no jti", es.sign(t,
			map[string]any{"alg": "ES256", "typ": "dbsc+jwt", "jwk": es.jwk()},
			map[string]any{"authorization": testAuth}), nil, ErrMalformedProof},
		{"malformed: crit", es.sign(t,
			map[string]any{"alg": "ES256", "typ": "dbsc+jwt", "jwk": es.jwk(), "crit": []string{"x"}, "x": 1},
			map[string]any{"jti": c, "authorization": testAuth}), nil, ErrMalformedProof},
		{"malformed: too long", es.registrationProof(t, strings.Repeat("c", MaxProofLen), testAuth), nil, ErrMalformedProof},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			offered := tc.offered
			if offered == nil {
				offered = DefaultAlgorithms
			}
			_, _, err := VerifyRegistration(tc.proof, offered, testAuth)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if !errors.Is(err, ErrInvalidProof) {
				t.Fatalf("%v is not an ErrInvalidProof", err)
			}
		})
	}
}

func TestVerifyRegistrationAcceptsUnknownClaims(t *testing.T) {
	es := newES256Browser(t)
	proof := es.sign(t, map[string]any{"alg": "ES256", "typ": "dbsc+jwt", "jwk": es.jwk(), "kid": "k"},
		map[string]any{"jti": "c", "authorization": testAuth, "aud": "https://example.com", "iat": 1700000000, "key": map[string]any{"x": 1}})
	if _, _, err := VerifyRegistration(proof, DefaultAlgorithms, testAuth); err != nil {
		t.Fatalf("proof with unknown claims refused: %v", err)
	}
	// Without an authorization offered, none may be claimed either.
	if _, _, err := VerifyRegistration(es.registrationProof(t, "c", ""), DefaultAlgorithms, ""); err != nil {
		t.Fatalf("proof without authorization refused: %v", err)
	}
}

func TestVerifyRefreshRefusals(t *testing.T) {
	es, rs, thief := newES256Browser(t), newRS256Browser(t, 0), newES256Browser(t)
	esKey, rsKey := registeredKey(t, es), registeredKey(t, rs)
	c := "challenge"
	cases := []struct {
		name  string
		proof string
		key   Key
		want  error
	}{
		{"bad signature ES256", flipSignature(es.refreshProof(t, c)), esKey, ErrBadSignature},
		{"bad signature RS256", flipSignature(rs.refreshProof(t, c)), rsKey, ErrBadSignature},
		{"foreign key named in jwk", thief.registrationProof(t, c, ""), esKey, ErrForeignKey},
		{"foreign key of another kind in jwk", rs.registrationProof(t, c, ""), esKey, ErrForeignKey},
		{"foreign key without jwk", thief.refreshProof(t, c), esKey, ErrBadSignature},
		{"another RSA key without jwk", newRS256Browser(t, 1).refreshProof(t, c), rsKey, ErrBadSignature},
		{"alg none", es.unsigned(t, "none", c), esKey, ErrAlgorithmNone},
		{"RS256 proof for an ES256 key", rs.refreshProof(t, c), esKey, ErrAlgorithmKeyMismatch},
		{"ES256 proof for an RS256 key", es.refreshProof(t, c), rsKey, ErrAlgorithmKeyMismatch},
		{"typ", es.sign(t, map[string]any{"alg": "ES256"}, map[string]any{"jti": c}), esKey, ErrProofType},
		{"malformed", "not a jwt", esKey, ErrMalformedProof},
		{"no key loaded", es.refreshProof(t, c), Key{Algorithm: ES256}, ErrInvalidKey},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := VerifyRefresh(tc.proof, tc.key)
			if !errors.Is(err, tc.want) || !errors.Is(err, ErrInvalidProof) {
				t.Fatalf("err = %v, want %v under ErrInvalidProof", err, tc.want)
			}
		})
	}
	// The browser's own proof carrying its own jwk is not foreign.
	if _, err := VerifyRefresh(es.registrationProof(t, c, ""), esKey); err != nil {
		t.Fatalf("refresh proof with the session's own jwk refused: %v", err)
	}
}

// Every refusal has its own sentinel.
func TestSentinelsDistinct(t *testing.T) {
	all := []error{ErrMalformedProof, ErrAlgorithmNone, ErrProofType, ErrAlgorithmNotOffered,
		ErrAlgorithmKeyMismatch, ErrInvalidKey, ErrWeakKey, ErrBadSignature, ErrForeignKey,
		ErrWrongAuthorization, ErrUnknownChallenge}
	for i, a := range all {
		if !errors.Is(a, ErrInvalidProof) {
			t.Errorf("%v is not an ErrInvalidProof", a)
		}
		for j, b := range all {
			if i != j && errors.Is(a, b) {
				t.Errorf("errors.Is(%v, %v)", a, b)
			}
		}
	}
	for _, e := range []error{ErrNoProof, ErrMalformedHeader, ErrNoSessionID, ErrInvalidValue} {
		if errors.Is(e, ErrInvalidProof) {
			t.Errorf("%v is an ErrInvalidProof", e)
		}
	}
}

// A whole exchange through Verifier: registration, refresh, replay, and a
// forged proof that must not use up the browser's challenge.
func TestVerifierRegistrationAndRefresh(t *testing.T) {
	ctx := context.Background()
	for _, b := range []*testBrowser{newES256Browser(t), newRS256Browser(t, 0)} {
		t.Run(string(b.alg), func(t *testing.T) {
			v := &Verifier{Challenges: &Challenges{Store: &MemoryChallenges{}}}
			offer, err := v.Offer(ctx, "pending-token-hash", "/dbsc/register", testAuth)
			if err != nil {
				t.Fatal(err)
			}
			proof := b.registrationProof(t, offer.Challenge, offer.Authorization)
			key, err := v.Registration(ctx, "pending-token-hash", proof, testAuth)
			if err != nil {
				t.Fatalf("registration refused: %v", err)
			}
			if _, err := v.Registration(ctx, "pending-token-hash", proof, testAuth); !errors.Is(err, ErrUnknownChallenge) {
				t.Fatalf("replayed registration: %v, want ErrUnknownChallenge", err)
			}

			c, err := v.Challenges.Issue(ctx, "sid")
			if err != nil {
				t.Fatal(err)
			}
			forged := newES256Browser(t).refreshProof(t, c)
			if err := v.Refresh(ctx, "sid", forged, key); !errors.Is(err, ErrInvalidProof) {
				t.Fatalf("forged refresh: %v", err)
			}
			refresh := b.refreshProof(t, c)
			if err := v.Refresh(ctx, "sid", refresh, key); err != nil {
				t.Fatalf("refresh after a forged attempt refused: %v", err)
			}
			if err := v.Refresh(ctx, "sid", refresh, key); !errors.Is(err, ErrUnknownChallenge) {
				t.Fatalf("replayed refresh: %v, want ErrUnknownChallenge", err)
			}
			// A challenge issued for one session does not open another.
			c2, _ := v.Challenges.Issue(ctx, "sid")
			if err := v.Refresh(ctx, "other", b.refreshProof(t, c2), key); !errors.Is(err, ErrUnknownChallenge) {
				t.Fatalf("challenge of another session: %v", err)
			}
		})
	}
}

func registeredKey(t testing.TB, b *testBrowser) Key {
	t.Helper()
	_, key, err := VerifyRegistration(b.registrationProof(t, "c", ""), DefaultAlgorithms, "")
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func mustChallenge(t testing.TB) string {
	t.Helper()
	c, err := NewChallenge()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// unsigned returns a proof with the given alg and an empty signature.
func (b *testBrowser) unsigned(t *testing.T, alg, challenge string) string {
	h, _ := json.Marshal(map[string]any{"alg": alg, "typ": "dbsc+jwt", "jwk": b.jwk()})
	c, _ := json.Marshal(map[string]any{"jti": challenge, "authorization": testAuth})
	return enc(h) + "." + enc(c) + "."
}

// derSigned returns a registration proof whose ES256 signature is ASN.1
// DER, as crypto/ecdsa.SignASN1 writes it, instead of r||s.
func (b *testBrowser) derSigned(t *testing.T, challenge string) string {
	raw := b.registrationProof(t, challenge, testAuth)
	parts := strings.Split(raw, ".")
	sig, _ := b64.DecodeString(parts[2])
	der := asn1Signature(sig[:32], sig[32:])
	return parts[0] + "." + parts[1] + "." + enc(der)
}

// asn1Signature writes SEQUENCE { INTEGER r, INTEGER s }.
func asn1Signature(r, s []byte) []byte {
	integer := func(v []byte) []byte {
		for len(v) > 1 && v[0] == 0 {
			v = v[1:]
		}
		if v[0]&0x80 != 0 {
			v = append([]byte{0}, v...)
		}
		return append([]byte{0x02, byte(len(v))}, v...)
	}
	body := append(integer(r), integer(s)...)
	return append([]byte{0x30, byte(len(body))}, body...)
}

func withMember(jwk map[string]string, k, v string) map[string]string {
	out := map[string]string{}
	for key, val := range jwk {
		out[key] = val
	}
	out[k] = v
	return out
}

// shiftedJWK writes the browser's P-256 point with one byte moved from x to
// y: the same 64 bytes, so the same point once joined, but not the
// fixed-length coordinates RFC 7518 requires (and a second spelling, with
// a second thumbprint, of one key).
func (b *testBrowser) shiftedJWK() map[string]string {
	var x, y [32]byte
	b.ec.X.FillBytes(x[:])
	b.ec.Y.FillBytes(y[:])
	return map[string]string{"kty": "EC", "crv": "P-256", "x": enc(x[:31]), "y": enc(append([]byte{x[31]}, y[:]...))}
}
