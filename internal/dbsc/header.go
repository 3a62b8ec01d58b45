package dbsc

// The DBSC headers: the registration offer and the challenge a server
// sends, the proof and the session identifier a browser sends back.

import (
	"fmt"
	"net/http"
	"strings"
)

// Header names (W3C DBSC, "Secure-Session-Registration" and following).
const (
	// HeaderRegistration offers the browser to bind a new session.
	HeaderRegistration = "Secure-Session-Registration"
	// HeaderChallenge carries a fresh challenge for a named session.
	HeaderChallenge = "Secure-Session-Challenge"
	// HeaderResponse carries the browser's signed proof (a JWT).
	HeaderResponse = "Secure-Session-Response"
	// HeaderSessionID names the session a refresh request is for.
	HeaderSessionID = "Sec-Secure-Session-Id"
)

// Algorithm is a JWS signature algorithm (RFC 7518) a browser may sign its
// proofs with.
type Algorithm string

// The algorithms DBSC browsers implement; Chromium takes the first one it
// supports from the server's list.
const (
	// ES256 is ECDSA on P-256 with SHA-256, the signature as 64 raw bytes.
	ES256 Algorithm = "ES256"
	// RS256 is RSASSA-PKCS1-v1_5 with SHA-256.
	RS256 Algorithm = "RS256"
)

// DefaultAlgorithms is the preference order a server offers when it is not
// told otherwise: ES256 (small keys, fast signing in a TPM) before RS256.
var DefaultAlgorithms = []Algorithm{ES256, RS256}

// supported reports whether a is one of the algorithms this package
// verifies.
func (a Algorithm) supported() bool { return a == ES256 || a == RS256 }

// Registration is one offer to register a bound session, as the
// Secure-Session-Registration header carries it.
type Registration struct {
	// Algorithms in the server's order of preference; at least one.
	Algorithms []Algorithm
	// Path the browser POSTs its registration proof to; an absolute path
	// on the same origin.
	Path string
	// Challenge the proof's jti must repeat (see NewChallenge).
	Challenge string
	// Authorization, when not empty, is echoed in the proof's
	// authorization claim; a server uses it to tie the registration to
	// what licensed the offer.
	Authorization string
}

// Header returns the value of the Secure-Session-Registration header:
//
//	(ES256 RS256);path="/p";challenge="c";authorization="a"
//
// It returns ErrInvalidValue for no algorithm, an algorithm this package
// cannot verify, an empty path or challenge, or a value with a byte outside
// printable ASCII.
func (r Registration) Header() (string, error) {
	if len(r.Algorithms) == 0 || r.Path == "" || r.Challenge == "" {
		return "", fmt.Errorf("%w: a registration needs algorithms, a path and a challenge", ErrInvalidValue)
	}
	var b strings.Builder
	b.WriteByte('(')
	for i, a := range r.Algorithms {
		if !a.supported() {
			return "", fmt.Errorf("%w: algorithm %q", ErrInvalidValue, a)
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(string(a))
	}
	b.WriteByte(')')
	params := [][2]string{{"path", r.Path}, {"challenge", r.Challenge}}
	if r.Authorization != "" {
		params = append(params, [2]string{"authorization", r.Authorization})
	}
	for _, kv := range params {
		v, err := quoteSF(kv[1])
		if err != nil {
			return "", fmt.Errorf("%s: %w", kv[0], err)
		}
		b.WriteString(";" + kv[0] + "=" + v)
	}
	return b.String(), nil
}

// ParseRegistrations parses a Secure-Session-Registration value, which may
// list several offers. Algorithms this package does not know are dropped,
// as a browser drops them; an offer left with none, or without a path or
// challenge, is ErrMalformedHeader.
func ParseRegistrations(v string) ([]Registration, error) {
	members, err := parseSFList(v)
	if err != nil {
		return nil, err
	}
	regs := make([]Registration, 0, len(members))
	for _, m := range members {
		r, err := registrationFrom(m)
		if err != nil {
			return nil, err
		}
		regs = append(regs, r)
	}
	return regs, nil
}

func registrationFrom(m sfMember) (Registration, error) {
	if !m.isInner {
		return Registration{}, malformed("a registration is an inner list of algorithms")
	}
	var r Registration
	for _, it := range m.inner {
		if a := Algorithm(it.value.text); it.value.kind == sfToken && a.supported() {
			r.Algorithms = append(r.Algorithms, a)
		}
	}
	path, okPath := stringParam(m.params, "path")
	challenge, okChallenge := stringParam(m.params, "challenge")
	if len(r.Algorithms) == 0 || !okPath || !okChallenge || path == "" || challenge == "" {
		return Registration{}, malformed("a registration needs a known algorithm, a path and a challenge")
	}
	r.Path, r.Challenge = path, challenge
	r.Authorization, _ = stringParam(m.params, "authorization")
	return r, nil
}

// stringParam returns the parameter key when it is an sf-string.
func stringParam(params []sfParam, key string) (string, bool) {
	v, ok := param(params, key)
	if !ok || v.kind != sfString {
		return "", false
	}
	return v.text, true
}

// Challenge is a challenge as the Secure-Session-Challenge header carries
// it: the value a proof's jti must repeat, and the session it is for.
type Challenge struct {
	// Value is the challenge itself (see NewChallenge).
	Value string
	// SessionID names the DBSC session the challenge is for.
	SessionID string
}

// Header returns the value of the Secure-Session-Challenge header,
// "<value>";id="<session>". Chromium ignores a challenge that names no
// session and then deletes the session, so the identifier is required:
// an empty one, or a byte outside printable ASCII, is ErrInvalidValue.
func (c Challenge) Header() (string, error) {
	if c.Value == "" || c.SessionID == "" {
		return "", fmt.Errorf("%w: a challenge needs a value and a session identifier", ErrInvalidValue)
	}
	v, err := quoteSF(c.Value)
	if err != nil {
		return "", err
	}
	id, err := quoteSF(c.SessionID)
	if err != nil {
		return "", err
	}
	return v + ";id=" + id, nil
}

// ParseChallenges parses a Secure-Session-Challenge value, which may list
// challenges for several sessions. A member that is not a string with a
// string id is ErrMalformedHeader.
func ParseChallenges(v string) ([]Challenge, error) {
	members, err := parseSFList(v)
	if err != nil {
		return nil, err
	}
	out := make([]Challenge, 0, len(members))
	for _, m := range members {
		id, ok := stringParam(m.params, "id")
		if m.isInner || m.item.kind != sfString || m.item.text == "" || !ok || id == "" {
			return nil, malformed("a challenge is a string with an id")
		}
		out = append(out, Challenge{Value: m.item.text, SessionID: id})
	}
	return out, nil
}

// maxSessionIDLen bounds a Sec-Secure-Session-Id value: a server's own
// identifiers are far shorter, and the value goes into store keys.
const maxSessionIDLen = 256

// SessionID returns the session a refresh request names in its
// Sec-Secure-Session-Id header. Chromium sends the identifier raw; a
// quoted sf-string is accepted as well. It returns ErrNoSessionID when the
// header is absent or empty, and ErrMalformedHeader when it is repeated,
// longer than 256 bytes, or holds a byte outside printable ASCII.
func SessionID(h http.Header) (string, error) {
	return singleValue(h, HeaderSessionID, maxSessionIDLen, ErrNoSessionID)
}

// ProofJWT returns the proof a registration or refresh request carries in
// its Secure-Session-Response header (raw, or as a quoted sf-string). It
// returns ErrNoProof when the header is absent or empty, and
// ErrMalformedHeader when it is repeated, longer than MaxProofLen, or
// holds a byte outside printable ASCII.
func ProofJWT(h http.Header) (string, error) {
	return singleValue(h, HeaderResponse, MaxProofLen, ErrNoProof)
}

// singleValue reads a header that must appear at most once and holds a
// raw value or a quoted sf-string.
func singleValue(h http.Header, name string, maxLen int, absent error) (string, error) {
	vals := h.Values(name)
	if len(vals) == 0 {
		return "", absent
	}
	if len(vals) > 1 {
		return "", malformed("%s repeated", name)
	}
	v := strings.Trim(vals[0], " \t")
	if len(v) > maxLen+2 {
		return "", malformed("%s longer than %d bytes", name, maxLen)
	}
	if strings.HasPrefix(v, `"`) {
		p := &sfParser{s: v}
		s, err := p.str()
		if err != nil || !p.done() {
			return "", malformed("%s: bad quoted string", name)
		}
		v = s.text
	}
	if v == "" {
		return "", absent
	}
	if len(v) > maxLen {
		return "", malformed("%s longer than %d bytes", name, maxLen)
	}
	for i := 0; i < len(v); i++ {
		if v[i] <= 0x20 || v[i] > 0x7e || v[i] == '"' {
			return "", malformed("%s: byte %#x", name, v[i])
		}
	}
	return v, nil
}
