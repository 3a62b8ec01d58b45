package dbsc

import (
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

func TestRegistrationHeader(t *testing.T) {
	r := Registration{Algorithms: DefaultAlgorithms, Path: "/dbsc/register", Challenge: "c1", Authorization: "a1"}
	got, err := r.Header()
	if err != nil {
		t.Fatal(err)
	}
	if want := `(ES256 RS256);path="/dbsc/register";challenge="c1";authorization="a1"`; got != want {
		t.Fatalf("header\n got %s\nwant %s", got, want)
	}
	r.Authorization = ""
	if got, _ := r.Header(); strings.Contains(got, "authorization") {
		t.Fatalf("empty authorization written: %s", got)
	}
	quoted, err := Registration{Algorithms: []Algorithm{RS256}, Path: `/a"b\c`, Challenge: "c"}.Header()
	if err != nil || quoted != `(RS256);path="/a\"b\\c";challenge="c"` {
		t.Fatalf("escaping: %s, %v", quoted, err)
	}
}

func TestRegistrationHeaderRefusals(t *testing.T) {
	for name, r := range map[string]Registration{
		"no algorithm":           {Path: "/p", Challenge: "c"},
		"unknown algorithm":      {Algorithms: []Algorithm{"none"}, Path: "/p", Challenge: "c"},
		"no path":                {Algorithms: DefaultAlgorithms, Challenge: "c"},
		"no challenge":           {Algorithms: DefaultAlgorithms, Path: "/p"},
		"newline in path":        {Algorithms: DefaultAlgorithms, Path: "/p\r\nSet-Cookie: x=y", Challenge: "c"},
		"non-ASCII authorizaton": {Algorithms: DefaultAlgorithms, Path: "/p", Challenge: "c", Authorization: "é"},
	} {
		if _, err := r.Header(); !errors.Is(err, ErrInvalidValue) {
			t.Errorf("%s: %v, want ErrInvalidValue", name, err)
		}
	}
}

func TestParseRegistrations(t *testing.T) {
	regs, err := ParseRegistrations(`(ES512 RS256 ES256);path="/r";challenge="c";authorization="a\"b", (ES256);challenge="d";path="/s";x=?1;n=-1.5`)
	if err != nil {
		t.Fatal(err)
	}
	want := []Registration{
		{Algorithms: []Algorithm{RS256, ES256}, Path: "/r", Challenge: "c", Authorization: `a"b`},
		{Algorithms: []Algorithm{ES256}, Path: "/s", Challenge: "d"},
	}
	if !reflect.DeepEqual(regs, want) {
		t.Fatalf("parsed %+v, want %+v", regs, want)
	}
	for _, bad := range []string{
		`ES256;path="/r";challenge="c"`,           // not an inner list
		`(ES512);path="/r";challenge="c"`,         // no known algorithm
		`(ES256);challenge="c"`,                   // no path
		`(ES256);path=r;challenge="c"`,            // path a token
		`(ES256);path="/r";challenge="c",`,        // trailing comma
		`(ES256;path="/r";challenge="c"`,          // unterminated
		`(ES256);path="/r";challenge="c` + "\x01", // control byte
	} {
		if _, err := ParseRegistrations(bad); !errors.Is(err, ErrMalformedHeader) {
			t.Errorf("%q: %v, want ErrMalformedHeader", bad, err)
		}
	}
}

func TestChallengeHeader(t *testing.T) {
	got, err := Challenge{Value: "c1", SessionID: "s1"}.Header()
	if err != nil || got != `"c1";id="s1"` {
		t.Fatalf("header %s, %v", got, err)
	}
	if _, err := (Challenge{Value: "c1"}).Header(); !errors.Is(err, ErrInvalidValue) {
		t.Fatalf("challenge without a session: %v", err)
	}
	parsed, err := ParseChallenges(`"c1";id="s1", "c2";id="s2"`)
	if err != nil || !reflect.DeepEqual(parsed, []Challenge{{"c1", "s1"}, {"c2", "s2"}}) {
		t.Fatalf("parsed %+v, %v", parsed, err)
	}
	for _, bad := range []string{`"c1"`, `c1;id="s1"`, `"c1";id=s1`, `"";id="s"`, `("c1");id="s1"`} {
		if _, err := ParseChallenges(bad); !errors.Is(err, ErrMalformedHeader) {
			t.Errorf("%q: %v, want ErrMalformedHeader", bad, err)
		}
	}
}

func TestSessionIDAndProofHeaders(t *testing.T) {
	h := http.Header{}
	if _, err := SessionID(h); !errors.Is(err, ErrNoSessionID) {
		t.Fatalf("absent: %v", err)
	}
	if _, err := ProofJWT(h); !errors.Is(err, ErrNoProof) {
		t.Fatalf("absent proof: %v", err)
	}
	for raw, want := range map[string]string{"abc-_.9": "abc-_.9", ` "abc" `: "abc"} {
		h.Set(HeaderSessionID, raw)
		if got, err := SessionID(h); err != nil || got != want {
			t.Errorf("%q: %q, %v; want %q", raw, got, err, want)
		}
	}
	h.Set(HeaderSessionID, `""`)
	if _, err := SessionID(h); !errors.Is(err, ErrNoSessionID) {
		t.Fatalf("empty: %v", err)
	}
	for _, bad := range []string{`"abc`, "a b", "a\x7f", strings.Repeat("a", 257), `"a\x"`} {
		h.Set(HeaderSessionID, bad)
		if _, err := SessionID(h); !errors.Is(err, ErrMalformedHeader) {
			t.Errorf("%q: %v, want ErrMalformedHeader", bad, err)
		}
	}
	h.Set(HeaderSessionID, "a")
	h.Add(HeaderSessionID, "b")
	if _, err := SessionID(h); !errors.Is(err, ErrMalformedHeader) {
		t.Fatalf("repeated: %v", err)
	}
	h.Set(HeaderResponse, "x.y.z")
	if got, err := ProofJWT(h); err != nil || got != "x.y.z" {
		t.Fatalf("proof: %q, %v", got, err)
	}
}

func TestInstructionsJSON(t *testing.T) {
	bound := &http.Cookie{Name: "__Host-bound", Value: "v", Path: "/", Secure: true, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, MaxAge: 600}
	in, err := NewInstructions("sid", "/dbsc/refresh", "https://127.0.0.1:8443", bound)
	if err != nil {
		t.Fatal(err)
	}
	got, err := in.JSON()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"session_identifier":"sid","refresh_url":"/dbsc/refresh","scope":{"origin":"https://127.0.0.1:8443","include_site":false},"credentials":[{"type":"cookie","name":"__Host-bound","attributes":"Path=/; Secure; HttpOnly; SameSite=Lax"}]}`
	if string(got) != want {
		t.Fatalf("instructions\n got %s\nwant %s", got, want)
	}
	if _, err := NewInstructions("", "/r", "https://h", bound); !errors.Is(err, ErrInvalidValue) {
		t.Fatalf("empty id: %v", err)
	}
	if _, err := NewInstructions("sid", "/r", "https://h"); !errors.Is(err, ErrInvalidValue) {
		t.Fatalf("no cookie: %v", err)
	}
	if got := string(EndingJSON(`s"1`)); got != `{"session_identifier":"s\"1","continue":false}` {
		t.Fatalf("ending %s", got)
	}
}
