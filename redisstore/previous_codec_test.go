package redisstore

// The previous release's record encoder, verbatim but for names: the
// reference for WithPreviousEncoding and redistest.PreviousRecord.

import (
	"bytes"
	"encoding/hex"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/ginsecure/ginsecure/internal/redistest"
	"github.com/ginsecure/ginsecure/storeext"
	json "github.com/goccy/go-json"
)

type releaseWire struct {
	// Seq comes first: the create script writes Redis's clock (µs) over
	// the placeholder `{"q":"0",` (no JSON re-encoding in Lua).
	Seq       string    `json:"q"` // decimal: cjson re-encodes numbers over 14 digits lossily
	Handle    string    `json:"h"`
	UserID    string    `json:"u"`
	SID       string    `json:"sid"`
	Replaced  string    `json:"rb,omitempty"`
	FwdPend   []byte    `json:"fp,omitempty"`
	Tok       string    `json:"t"`
	TokKey    []byte    `json:"tk,omitempty"`
	Issued    int64     `json:"ti"`
	Confirmed int64     `json:"cf,omitempty"`
	Unpresent bool      `json:"np,omitempty"` // read by the scripts: not counted toward the limit
	Hist      []wireSup `json:"hs,omitempty"`
	IP        string    `json:"ip"`
	UA        string    `json:"ua,omitempty"`
	CookieAge int       `json:"ca,omitempty"`
	Created   int64     `json:"c"`
	Auth      int64     `json:"a"`
	Seen      int64     `json:"seen"`
	Exp       int64     `json:"exp"`
	Revoked   string    `json:"revoked,omitempty"`
	// The device key (Record.Device), absent while unbound.
	DevAlg   string `json:"da,omitempty"`
	DevJWK   string `json:"dk,omitempty"`
	DevThumb string `json:"dt,omitempty"`
	DevAt    int64  `json:"dat,omitempty"`
	legacy
}

func releaseHex(h [32]byte) string {
	if h == ([32]byte{}) {
		return ""
	}
	return hex.EncodeToString(h[:])
}

func releaseEncode(r storeext.Record) ([]byte, error) {
	var hist []wireSup
	if len(r.History) > 0 {
		hist = make([]wireSup, len(r.History))
		for i, e := range r.History {
			hist[i] = wireSup{Hash: e.Hash[:], At: ms(e.At), Auth: ms(e.AuthAt), Raised: e.Raised,
				Seen: ms(e.Seen), Open: ms(e.Open), Key: e.Key, Sealed: e.Sealed}
		}
	}
	return json.Marshal(releaseWire{
		Replaced: r.ReplacedBy, FwdPend: r.ForwardPending, TokKey: r.TokenKey, Hist: hist,
		Seq: strconv.FormatUint(r.Seq, 10), Handle: r.Handle, UserID: r.UserID, SID: r.SessionID, Tok: releaseHex(r.TokenHash), Issued: ms(r.IssuedAt),
		Confirmed: ms(r.ConfirmedAt), Unpresent: r.Unpresented,
		IP: r.IP, UA: r.UserAgent, CookieAge: r.CookieMaxAge, Created: ms(r.CreatedAt), Auth: ms(r.AuthAt), Seen: ms(r.LastSeen),
		Exp: ms(r.ExpiresAt), Revoked: r.Revoked,
		DevAlg: string(r.Device.Algorithm), DevJWK: r.Device.JWK, DevThumb: r.Device.Thumbprint, DevAt: ms(r.Device.BoundAt),
	})
}

// codecRecords are records of every shape the encodings must agree on.
func codecRecords() []storeext.Record {
	at := time.UnixMilli(1764500000000).UTC()
	tok := [32]byte{1, 2, 3}
	login := storeext.Record{Seq: 7, Handle: "q83vEjRWeJASNFZ4kBI0Vg", UserID: "alice", SessionID: "S1", TokenHash: tok,
		TokenKey: bytes.Repeat([]byte{9}, 32), IssuedAt: at, Unpresented: true, IP: "203.0.113.7", UserAgent: "Mozilla/5.0 \"x\"",
		CreatedAt: at, AuthAt: at, LastSeen: at, ExpiresAt: at.Add(2 * time.Minute)}
	used := login
	used.Unpresented, used.ConfirmedAt, used.LastSeen = false, at.Add(time.Second), at.Add(time.Minute)
	used.ExpiresAt = at.Add(30 * time.Minute)
	rotated := used
	rotated.IssuedAt, rotated.AuthAt, rotated.CookieMaxAge = at.Add(20*time.Minute), at.Add(5*time.Minute), -1
	rotated.History = []storeext.Superseded{{Hash: [32]byte{4}, At: at.Add(20 * time.Minute), AuthAt: at, Raised: true,
		Seen: at.Add(19 * time.Minute), Open: at.Add(21 * time.Minute), Key: []byte{5}, Sealed: []byte("sealed")}}
	rotated.ReplacedBy, rotated.ForwardPending, rotated.Revoked = "other", []byte("fwd"), storeext.RevokedReplaced
	rotated.Device = storeext.DeviceKey{Algorithm: "ES256", JWK: `{"kty":"EC"}`, Thumbprint: "tp", BoundAt: at}
	zeroTimes := storeext.Record{Handle: "h", UserID: "u", CreatedAt: at}
	return []storeext.Record{login, used, rotated, zeroTimes, {}, {Handle: "h", LastSeen: at}}
}

// TestPreviousEncodingIsThePreviousRelease: WithPreviousEncoding writes
// what the previous release wrote for the same record, byte for byte (its
// compare-and-set then meets its own bytes), as redistest.PreviousRecord
// does from the compact encoding; both decode to the record encoded.
func TestPreviousEncodingIsThePreviousRelease(t *testing.T) {
	for i, r := range codecRecords() {
		want, err := releaseEncode(r)
		if err != nil {
			t.Fatal(err)
		}
		prev, err := encodeAs(r, true)
		if err != nil || !bytes.Equal(prev, want) {
			t.Errorf("record %d: WithPreviousEncoding writes\n%s\nthe previous release\n%s (%v)", i, prev, want, err)
		}
		cur, err := encode(r)
		if err != nil {
			t.Fatal(err)
		}
		if conv, err := redistest.PreviousRecord(cur); err != nil || !bytes.Equal(conv, want) {
			t.Errorf("record %d: redistest.PreviousRecord gives\n%s\nthe previous release\n%s (%v)", i, conv, want, err)
		}
		if len(cur) > len(want) {
			t.Errorf("record %d: the compact encoding is longer (%d bytes) than the previous (%d)", i, len(cur), len(want))
		}
		a, errA := decode(cur)
		b, errB := decode(want)
		if errA != nil || errB != nil || !reflect.DeepEqual(a, b) || !reflect.DeepEqual(a, r) {
			t.Errorf("record %d decodes differently from the two encodings or from itself:\n%+v (%v)\n%+v (%v)\n%+v", i, a, errA, b, errB, r)
		}
	}
}
