package redisstore

import (
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/ginsecure/ginsecure/storeext"
)

// TestRecordOfThePreviousFormatDecodes: a record written before the
// superseded-credential history (previous token, its rotation, pending
// token, earlier joined logins' tokens, a reissue's abandoned token)
// decodes into the history it implies, so that a deploy keeps the grace
// and replay verdicts of the records already in Redis.
func TestRecordOfThePreviousFormatDecodes(t *testing.T) {
	h := func(b byte) string { return strings.Repeat(hex.EncodeToString([]byte{b}), 32) }
	old := `{"q":"7","h":"q83vEjRWeJASNFZ4kBI0Vg","u":"alice","sid":"S1","pd":"c2VhbGVk",` +
		`"sb":["` + h(3) + `"],"t":"` + h(1) + `","ti":1764500001000,"p":"` + h(2) + `","pr":1764500001000,` +
		`"pa":1764500000000,"px":true,"cf":1764500002000,"ab":"` + h(4) + `","ip":"203.0.113.7","c":1764500000000,` +
		`"a":1764500001000,"seen":1764500002000,"exp":1764543200000}`
	r, err := decode([]byte(old))
	if err != nil {
		t.Fatal(err)
	}
	at := time.UnixMilli(1764500001000).UTC()
	if len(r.History) != 3 {
		t.Fatalf("%d superseded, want 3: %+v", len(r.History), r.History)
	}
	prev := r.History[0]
	if prev.Hash != [32]byte(mustHex(t, h(2))) || !prev.At.Equal(at) || !prev.Seen.Equal(at) || !prev.Raised ||
		!prev.Open.Equal(time.UnixMilli(1764500002000).UTC()) || string(prev.Sealed) != "sealed" ||
		!prev.AuthAt.Equal(time.UnixMilli(1764500000000).UTC()) {
		t.Errorf("the previous token decodes as %+v", prev)
	}
	for i, want := range []string{h(4), h(3)} {
		e := r.History[i+1]
		if e.Hash != [32]byte(mustHex(t, want)) || !e.Seen.IsZero() {
			t.Errorf("History[%d] = %+v; want %s, never presented", i+1, e, want[:8])
		}
	}
	// Written back, it is the new format, and reads the same.
	b, err := encode(r)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), `"p":`) || strings.Contains(string(b), `"sb":`) {
		t.Errorf("the previous format's fields were written: %s", b)
	}
	again, err := decode(b)
	if err != nil || len(again.History) != 3 || again.History[2].Hash != r.History[2].Hash {
		t.Errorf("the record re-read differs: %+v, %v", again.History, err)
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCookieMaxAgeRoundTrips: the cookies' lifetime the application chose
// ("remember me", or a browser-session cookie) is stored with the record.
func TestCookieMaxAgeRoundTrips(t *testing.T) {
	for _, age := range []int{0, 30 * 86400, -1} {
		b, err := encode(storeext.Record{Handle: "h", CookieMaxAge: age})
		if err != nil {
			t.Fatal(err)
		}
		r, err := decode(b)
		if err != nil || r.CookieMaxAge != age {
			t.Errorf("CookieMaxAge %d reads back as %d (%v): %s", age, r.CookieMaxAge, err, b)
		}
	}
}
