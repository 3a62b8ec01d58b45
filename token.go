package ginsecure

// The token cookie: its format, minting, parsing and attributes.
//
// A token cookie's value is "1." + handle + "." + secret:
//
//   - "1." is the format version, so that a later format can be told apart;
//   - the handle (22 characters of base64url, a random UUID's 16 bytes)
//     names the security record on its own, so authentication never
//     depends on which session cookie the browser kept (a straggler's
//     response may have put an older one back);
//   - the secret is 32 bytes from crypto/rand in unpadded base64url (43
//     characters). The store keeps only its SHA-256.

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"strings"

	"github.com/google/uuid"
)

const (
	tokenVersion = "1."
	// handleLen is the length of a handle: a random UUID's 16 bytes in
	// unpadded base64url.
	handleLen = 22
	// secretLen is the length of an encoded secret: 32 bytes, unpadded
	// base64url.
	secretLen = 43
	// tokenLen is the length of a token cookie's value.
	tokenLen = len(tokenVersion) + handleLen + 1 + secretLen
)

// presented is what a token cookie carried, once parsed.
type presented struct {
	handle string
	secret [32]byte // the raw secret: the key of a pending token (grace.go)
	hash   [32]byte // its SHA-256, compared with the record's
}

// newHandle mints a record's handle: a random (version 4) UUID in base64url.
func newHandle() (string, error) {
	u, err := uuid.NewRandom()
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(u[:]), nil
}

// newSecret returns 32 random bytes from crypto/rand and their SHA-256.
func newSecret() (secret, hash [32]byte, err error) {
	if _, err := rand.Read(secret[:]); err != nil {
		return secret, hash, err
	}
	return secret, sha256.Sum256(secret[:]), nil
}

// tokenValue is the token cookie's value for handle and secret.
func tokenValue(handle string, secret [32]byte) string {
	var b [tokenLen]byte
	n := copy(b[:], tokenVersion)
	n += copy(b[n:], handle)
	b[n] = '.'
	base64.RawURLEncoding.Encode(b[n+1:], secret[:])
	return string(b[:])
}

// parseToken decodes a token cookie's value. Anything that is not exactly
// the current version, a canonical handle and 32 bytes of canonical
// unpadded base64url is refused, whatever its size. It decodes by hand into
// a stack array: the standard decoder wants a []byte, and converting the
// cookie string would allocate on every request (FuzzParseToken holds it
// to encoding/base64).
func parseToken(v string) (p presented, ok bool) {
	if len(v) != tokenLen || v[:len(tokenVersion)] != tokenVersion || v[len(tokenVersion)+handleLen] != '.' {
		return presented{}, false
	}
	h := v[len(tokenVersion) : len(tokenVersion)+handleLen]
	if !validHandle(h) {
		return presented{}, false
	}
	s := v[len(tokenVersion)+handleLen+1:]
	var raw [32]byte
	var bad byte
	for i := 0; i < 10; i++ {
		a, b, c, d := b64url[s[4*i]], b64url[s[4*i+1]], b64url[s[4*i+2]], b64url[s[4*i+3]]
		bad |= a | b | c | d
		raw[3*i] = a<<2 | b>>4
		raw[3*i+1] = b<<4 | c>>2
		raw[3*i+2] = c<<6 | d
	}
	a, b, c := b64url[s[40]], b64url[s[41]], b64url[s[42]]
	bad |= a | b | c
	raw[30] = a<<2 | b>>4
	raw[31] = b<<4 | c>>2
	// Canonical: the two bits the last character carries beyond the 256th
	// must be zero, or two spellings would decode to one token.
	if bad&0x80 != 0 || c&0x03 != 0 {
		return presented{}, false
	}
	return presented{handle: h, secret: raw, hash: sha256.Sum256(raw[:])}, true
}

// validHandle accepts only what newHandle mints: 22 base64url characters
// in canonical form (the 4 bits the last one carries beyond the 128th are
// zero), so that a handle from a request (a cookie, a URL) can never
// become an odd store key.
func validHandle(h string) bool {
	if len(h) != handleLen {
		return false
	}
	var bad byte
	for i := 0; i < handleLen; i++ {
		bad |= b64url[h[i]]
	}
	return bad&0x80 == 0 && b64url[h[handleLen-1]]&0x0F == 0
}

// b64url maps a base64url character to its 6-bit value; 0xFF marks every
// other byte.
var b64url = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xFF
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = byte(i)
	}
	return t
}()

// hashEq compares two hashes in constant time, a word at a time (it runs
// up to three times per request; subtle.ConstantTimeCompare goes byte by
// byte).
func hashEq(a, b [32]byte) bool {
	var d uint64
	for i := 0; i < 32; i += 8 {
		d |= binary.LittleEndian.Uint64(a[i:]) ^ binary.LittleEndian.Uint64(b[i:])
	}
	return d == 0
}

// tokenCookie finds the token cookie's value in the Cookie headers without
// allocating: it runs on every request. Like (*http.Request).Cookie it
// takes a pair whose name is exactly name (ASCII spaces around the pair
// and before "=" allowed, one pair of quotes stripped); unlike it, it prefers
// the first pair that has a token's length, so a malformed duplicate in
// front cannot hide the real one. Only ginsecure reads this cookie;
// FuzzTokenCookieAgreesWithNetHTTP holds it to net/http's reading.
//
// It searches for the name rather than splitting every pair: the session
// cookie in front of it is long, and a name occurrence counts only where a
// pair starts (nothing but ASCII spaces back to ";" or the line's start)
// and ends (nothing but ASCII spaces up to "="). A cookie name holds no
// space, ";" or "=", so that is exactly the pair split-and-trim would find.
func tokenCookie(r *http.Request, name string) (string, bool) {
	var first string
	found := false
	for _, line := range r.Header["Cookie"] {
		for off := 0; off < len(line); {
			i := strings.Index(line[off:], name)
			if i < 0 {
				break
			}
			i += off
			off = i + 1
			j := i
			for j > 0 && isASCIISpace(line[j-1]) {
				j--
			}
			if j > 0 && line[j-1] != ';' {
				continue // inside another pair's name or value
			}
			k := i + len(name)
			for k < len(line) && isASCIISpace(line[k]) {
				k++
			}
			if k == len(line) || line[k] != '=' {
				continue // a longer name, or no value
			}
			v := pairValue(line[k+1:])
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

// pairValue is a cookie pair's value, from just after its "=": up to the
// next ";", ASCII spaces trimmed at its end, one pair of quotes stripped.
func pairValue(v string) string {
	if e := strings.IndexByte(v, ';'); e >= 0 {
		v = v[:e]
	}
	for len(v) > 0 && isASCIISpace(v[len(v)-1]) {
		v = v[:len(v)-1]
	}
	if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	return v
}

// trimASCII trims what net/http trims around cookie names and values
// (textproto.TrimString): ASCII space, tab, CR and LF only. Trimming
// Unicode spaces too would take a cookie named "\u00a0__Host-ginsecure",
// which browsers do not hold to the __Host- rules and net/http ignores,
// for the token.
func trimASCII(s string) string {
	for len(s) > 0 && isASCIISpace(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isASCIISpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

func isASCIISpace(b byte) bool { return b == ' ' || b == '\t' || b == '\r' || b == '\n' }

// setToken sends the token cookie for handle and secret. Its lifetime is
// the session cookie's (maxAge, seconds, as in gorilla's Options: 0 for a
// browser-session cookie): a browser restart keeps both cookies or
// neither, so "closing the browser signs out" holds for both halves.
func (g *Guard) setToken(w http.ResponseWriter, handle string, secret [32]byte, maxAge int) {
	if maxAge < 0 {
		maxAge = 0
	}
	g.sendTokenCookie(w, tokenValue(handle, secret), maxAge)
}

// expireToken tells the browser to drop the token cookie. Only Logout
// sends it (DESIGN.md, "Cookie writes"): an expiring cookie for dead or
// foreign credentials could reach the browser after a newer login's
// response and delete the new token, which has the same name.
func (g *Guard) expireToken(w http.ResponseWriter) { g.sendTokenCookie(w, "", -1) }

// sendTokenCookie writes the token cookie with the attributes the __Host-
// prefix demands (Secure, Path=/, no Domain; RFC 6265bis), HttpOnly and
// SameSite=Lax.
func (g *Guard) sendTokenCookie(w http.ResponseWriter, value string, maxAge int) {
	http.SetCookie(w, g.tokenCookie(value, maxAge))
}

// tokenCookie is the token cookie with value and maxAge: also the
// attributes a device-bound session names its bound cookie by (dbsc.go),
// which must be those the cookie is sent with.
func (g *Guard) tokenCookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: g.cfg.CookieName, Value: value, Path: "/", MaxAge: maxAge,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	}
}
