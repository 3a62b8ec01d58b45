package redistest

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// previousOrder is the members of a record of redisstore's previous
// encoding, in the order it wrote them.
var previousOrder = []string{"q", "h", "u", "sid", "rb", "fp", "t", "tk", "ti", "cf", "np", "hs",
	"ip", "ua", "ca", "c", "a", "seen", "exp", "revoked", "da", "dk", "dt", "dat"}

// PreviousRecord rewrites a record as redisstore writes it into the
// encoding of the release before: the token's hash in hex, and the issue,
// last authentication and last use always written (the current encoding
// leaves out those equal to the creation). Byte for byte what that
// release wrote for the same record, so that tests can put the records of
// a deploy's previous release in Redis. A record of the previous encoding
// comes back as it is (in that release's member order).
func PreviousRecord(cur []byte) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(cur, &m); err != nil {
		return nil, err
	}
	if err := previousToken(m); err != nil {
		return nil, err
	}
	for _, k := range []string{"ti", "a", "seen"} {
		if _, ok := m[k]; !ok {
			m[k] = m["c"]
		}
	}
	var b bytes.Buffer
	b.WriteByte('{')
	n := 0
	for _, k := range previousOrder {
		v, ok := m[k]
		if !ok {
			continue
		}
		if n > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%q:%s", k, v)
		n++
		delete(m, k)
	}
	if len(m) > 0 {
		return nil, fmt.Errorf("redistest: members the previous encoding did not have: %v", m)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// previousToken rewrites the member "t" from unpadded base64url to hex.
func previousToken(m map[string]json.RawMessage) error {
	var t string
	if err := json.Unmarshal(m["t"], &t); err != nil {
		return err
	}
	if len(t) != 43 { // none, or hex already
		return nil
	}
	h, err := base64.RawURLEncoding.DecodeString(t)
	if err != nil {
		return err
	}
	m["t"] = json.RawMessage(`"` + hex.EncodeToString(h) + `"`)
	return nil
}
