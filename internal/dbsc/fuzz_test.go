package dbsc

import (
	"net/http"
	"reflect"
	"testing"
)

// FuzzParseProof: no input makes the proof parser or the verifiers panic,
// and whatever parses keeps the invariants the verifiers rely on.
func FuzzParseProof(f *testing.F) {
	b := newES256Browser(f)
	key := registeredKey(f, b)
	f.Add(b.registrationProof(f, "c", "a"))
	f.Add(b.refreshProof(f, "c"))
	f.Add(newRS256Browser(f, 0).registrationProof(f, "c", ""))
	f.Add("e30.e30.")
	f.Add("..")
	f.Add(`eyJhbGciOiJub25lIn0.eyJqdGkiOiJjIn0.`)
	f.Fuzz(func(t *testing.T, jwt string) {
		p, err := ParseProof(jwt)
		if err == nil && (p.Algorithm == "" || p.Challenge == "" || len(jwt) > MaxProofLen) {
			t.Fatalf("parsed proof without alg or jti: %+v", p)
		}
		_, _, _ = VerifyRegistration(jwt, DefaultAlgorithms, "a")
		_, _ = VerifyRefresh(jwt, key)
		_, _ = VerifyRefresh(jwt, Key{})
	})
}

// FuzzParseRegistrations: no input makes the header parser panic, and a
// parsed registration written back parses to itself.
func FuzzParseRegistrations(f *testing.F) {
	f.Add(`(ES256 RS256);path="/dbsc/register";challenge="c";authorization="a"`)
	f.Add(`(ES256);path="/r";challenge="c", (RS256);path="/s";challenge="d";x=?1;y=1.5;z=:AAE=:;w=tok/en`)
	f.Add(`"c";id="s"`)
	f.Add(`(`)
	f.Fuzz(func(t *testing.T, v string) {
		_, _ = ParseChallenges(v)
		regs, err := ParseRegistrations(v)
		if err != nil {
			return
		}
		for _, r := range regs {
			h, err := r.Header()
			if err != nil {
				t.Fatalf("parsed %+v cannot be written: %v", r, err)
			}
			again, err := ParseRegistrations(h)
			if err != nil || len(again) != 1 || !reflect.DeepEqual(again[0], r) {
				t.Fatalf("%+v written as %s reads back as %+v, %v", r, h, again, err)
			}
		}
	})
}

// FuzzSessionID: no header value makes the refresh request readers panic,
// and what they return is printable ASCII without quotes or spaces.
func FuzzSessionID(f *testing.F) {
	f.Add("abc")
	f.Add(`"abc"`)
	f.Add(`"a\"b"`)
	f.Fuzz(func(t *testing.T, v string) {
		h := http.Header{HeaderSessionID: {v}, HeaderResponse: {v}}
		for _, got := range []func(http.Header) (string, error){SessionID, ProofJWT} {
			s, err := got(h)
			if err != nil {
				continue
			}
			for i := 0; i < len(s); i++ {
				if s[i] <= ' ' || s[i] > '~' || s[i] == '"' {
					t.Fatalf("%q read as %q", v, s)
				}
			}
		}
	})
}
