package ginsecure

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
)

// mintTestToken returns a token cookie value of a fresh handle and secret.
func mintTestToken(t testing.TB) (value string, p presented) {
	h, err := newHandle()
	if err != nil {
		t.Fatal(err)
	}
	secret, hash, err := newSecret()
	if err != nil {
		t.Fatal(err)
	}
	return tokenValue(h, secret), presented{handle: h, secret: secret, hash: hash}
}

// FuzzParseToken: any cookie value either decodes to exactly the version,
// canonical handle and canonical 32-byte secret it encodes, or is refused;
// never a panic.
func FuzzParseToken(f *testing.F) {
	tok, _ := mintTestToken(f)
	for _, s := range []string{"", tok, tok[:len(tok)-1], tok + "A", tok + "=", "2" + tok[1:], tok[:24] + "!" + tok[25:],
		tok[:len(tok)-1] + "B", strings.Repeat("A", tokenLen), strings.Repeat("\x00", tokenLen), strings.Repeat("é", 34),
		strings.Repeat("A", 10000), "1.%3D%3D", " " + tok[1:]} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		p, ok := parseToken(v)
		if !ok {
			if p != (presented{}) {
				t.Fatal("refused token with content")
			}
			return
		}
		if !strings.HasPrefix(v, tokenVersion) || v[len(tokenVersion)+handleLen] != '.' {
			t.Fatalf("accepted %q without the version and separator", v)
		}
		if v[len(tokenVersion):len(tokenVersion)+handleLen] != p.handle || !validHandle(p.handle) {
			t.Fatalf("accepted %q with handle %q", v, p.handle)
		}
		sec := v[len(tokenVersion)+handleLen+1:]
		raw, err := base64.RawURLEncoding.Strict().DecodeString(sec)
		if err != nil || len(raw) != 32 {
			t.Fatalf("accepted %q whose secret is not 32 bytes of base64url", v)
		}
		if base64.RawURLEncoding.EncodeToString(raw) != sec {
			t.Fatalf("accepted non-canonical %q", v)
		}
		if p.hash != sha256.Sum256(raw) || !bytes.Equal(p.secret[:], raw) {
			t.Fatal("hash is not SHA-256 of the decoded secret")
		}
		if tokenValue(p.handle, p.secret) != v {
			t.Fatal("tokenValue does not give back the parsed value")
		}
	})
}

// TestNewTokenIsRandom: two tokens never repeat and always parse.
func TestNewTokenIsRandom(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		tok, p := mintTestToken(t)
		if seen[tok] {
			t.Fatal("token repeated")
		}
		seen[tok] = true
		if got, ok := parseToken(tok); !ok || got != p {
			t.Fatalf("minted token does not parse: %q", tok)
		}
	}
}

// FuzzValidHandle: the handle check never panics and accepts only what
// newHandle mints, 16 bytes in canonical unpadded base64url.
func FuzzValidHandle(f *testing.F) {
	minted, err := newHandle()
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"", minted, minted[:21] + "B", minted + "=", "0f8fad5b-d9cb-469f-a165-70867728950e",
		"Cz9cHjpXSw6dLB9vbxya+w", "Cz9cHjpXSw6dLB9vbxya/w", strings.Repeat("A", 22), strings.Repeat("_", 22)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		raw, err := base64.RawURLEncoding.Strict().DecodeString(s)
		canonical := err == nil && len(raw) == 16 && base64.RawURLEncoding.EncodeToString(raw) == s
		if validHandle(s) != canonical {
			t.Fatalf("validHandle(%q) = %v, want %v", s, validHandle(s), canonical)
		}
	})
}

// TestMintedHandlesAreValid: every minted handle passes the check, and
// they differ.
func TestMintedHandlesAreValid(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		h, err := newHandle()
		if err != nil {
			t.Fatal(err)
		}
		if !validHandle(h) || seen[h] {
			t.Fatalf("minted handle %q: valid %v, seen before %v", h, validHandle(h), seen[h])
		}
		seen[h] = true
	}
}

// FuzzTokenCookieAgreesWithNetHTTP: whatever Cookie header arrives, the
// value tokenCookie hands to parseToken is one net/http itself reads under
// that exact name: no look-alike name (Unicode spaces, odd bytes) can pass
// for the __Host- token cookie.
func FuzzTokenCookieAgreesWithNetHTTP(f *testing.F) {
	tok, _ := mintTestToken(f)
	for _, s := range []string{
		DefaultCookieName + "=" + tok,
		"app=x; " + DefaultCookieName + "=" + tok,
		"\u00a0" + DefaultCookieName + "=" + tok,
		DefaultCookieName + "\u3000=" + tok,
		" " + DefaultCookieName + " = \"" + tok + "\" ",
		DefaultCookieName + "=bad; " + DefaultCookieName + "=" + tok,
		"x=" + DefaultCookieName + "=" + tok,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		r := &http.Request{Header: http.Header{"Cookie": {header}}}
		v, ok := tokenCookie(r, DefaultCookieName)
		if !ok {
			return
		}
		if _, valid := parseToken(v); !valid {
			return // refused anyway
		}
		for _, c := range r.CookiesNamed(DefaultCookieName) {
			if c.Value == v {
				return
			}
		}
		t.Fatalf("token %q taken from %q, which net/http does not read as %s", v, header, DefaultCookieName)
	})
}

// tokenCookieBySplit is the straightforward reading tokenCookie replaced:
// split every pair, trim, compare the name. FuzzTokenCookieSearchAgrees
// holds the faster search to it.
func tokenCookieBySplit(r *http.Request, name string) (string, bool) {
	var first string
	found := false
	for _, line := range r.Header["Cookie"] {
		for len(line) > 0 {
			var part string
			part, line, _ = strings.Cut(line, ";")
			k, v, ok := strings.Cut(trimASCII(part), "=")
			if !ok || trimASCII(k) != name {
				continue
			}
			if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			if len(v) == tokenLen {
				return v, true
			}
			if !found {
				first, found = v, true
			}
		}
	}
	return first, found
}

// FuzzTokenCookieSearchAgrees: searching for the name finds exactly the
// pair that splitting the header would, for any header and a name that
// occurs inside values, other names and itself.
func FuzzTokenCookieSearchAgrees(f *testing.F) {
	tok, _ := mintTestToken(f)
	n := DefaultCookieName
	for _, s := range []string{
		n + "=" + tok, "app=x; " + n + "=" + tok, "x=" + n + "=" + tok, n + "x=1; " + n + " =\t" + tok,
		"a" + n + "=1;" + n + "=2", " ;; " + n + "\t=\"" + tok + "\" ; " + n + "=" + tok, n, n + ";" + n + "=",
		"app=" + n + n + "; " + n + n + "=" + tok, ";" + n + "=" + tok + " ", n + "=\"\"",
	} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, h1, h2 string) {
		for _, name := range []string{n, "a", "aa"} {
			r := &http.Request{Header: http.Header{"Cookie": {h1, h2}}}
			v1, ok1 := tokenCookie(r, name)
			v2, ok2 := tokenCookieBySplit(r, name)
			if v1 != v2 || ok1 != ok2 {
				t.Fatalf("name %q in %q, %q: search %q %v, split %q %v", name, h1, h2, v1, ok1, v2, ok2)
			}
		}
	})
}
