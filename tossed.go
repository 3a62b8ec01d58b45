package ginsecure

// Tossed cookies (DESIGN.md, "Tossed cookies"): the record's own session
// found among every session cookie of its name in the Cookie header, and
// the filter that rejects the others without decoding them.

import (
	"bytes"
	"encoding/base64"
	"errors"
	"iter"
	"net/http"
	"strings"

	"github.com/ginsecure/ginsecure/storeext"
	"github.com/gorilla/securecookie"
)

// ownAmong looks among every session cookie of the session's name in the
// Cookie header for rec's own session, and serves the request with it
// (DESIGN.md, "Tossed cookies"): however many a sibling subdomain tossed in
// front of the real one, in a header of any size the server accepted, the
// record's own wins, at a cost linear in the header. On memstore and Redis
// each value is only verified and its signed ID decoded with the store's
// codecs; only the record's own session is then loaded. On the cookie store
// each value is decoded (the handle is inside). The value gin-contrib
// loaded the session from is not tried again: it was another session, or
// bad input (a payload that does not decode stays bad input, never an
// outage). several reports two or more cookies of the name (none of them
// may then be healed from: see bindSession).
//
// It reads the header itself (sessionCookies): net/http hands out no
// cookie at all from a header of more than 3000 (GODEBUG
// httpcookiemaxnum), so gin-contrib's session is then a new one.
func (st *reqState) ownAmong(rec *storeext.Record) (ok, several bool, err error) {
	name, store := st.gs.Name(), st.gs.Store()
	codecs := st.g.storeCodecs(store)
	f := newPayloadFilter(name, codecs, cookieStore(store), rec.SessionID)
	loaded := "" // the value gin-contrib loaded the session from: not rec's, or bad input
	if ck, err := st.io.r.Cookie(name); err == nil {
		loaded = ck.Value
	}
	n := 0
	for v := range sessionCookies(st.io.r, name) {
		n++
		if v == loaded || !f.mayBe(name, v) {
			continue
		}
		if cookieStore(store) {
			gs := st.newSession()
			if securecookie.DecodeMulti(name, v, &gs.Values, codecs...) != nil || sessionID(gs) != rec.SessionID {
				continue
			}
			gs.IsNew = false
			st.cur, st.sid = gs, rec.SessionID
			return true, n > 1, nil
		}
		var id string
		if securecookie.DecodeMulti(name, v, &id, codecs...) != nil || id != rec.SessionID {
			continue
		}
		gs, err := st.loadByID(id)
		if err != nil {
			return false, n > 1, err
		}
		st.cur, st.sid = gs, id
		return true, n > 1, nil
	}
	return false, n > 1, nil
}

// payloadFilter rejects, without deserializing it, a session cookie value
// that cannot be the session whose identity is id. Deserializing (a gob
// decoder per value, about 30 µs for a small session on the cookie store)
// was most of a tossed cookie's cost. A value gorilla's SecureCookie
// encoded is base64url of "date|base64url(payload)|mac", the payload
// encrypted where the store has an encryption key; the identity (a handle
// or session ID, base64url or base32 text, kept as a string) appears in
// the clear payload as is. So a value not of that form is rejected after a
// base64 decode; then, where the store does not encrypt, one whose payload
// does not hold the identity; where it does, one that does not verify
// (MAC, age) or whose decrypted payload does not hold it, checked with
// copies of the store's codecs that keep the payload as bytes. On a store
// with IDs and one codec, a value of another length than the encoded ID
// is rejected first. The filter is on only where every codec is gorilla's
// SecureCookie and a probe shows that its serializer keeps a string as is;
// elsewhere every value is decoded in full. A value it lets through is
// still decoded in full: it never decides that a cookie is the record's
// own, only that it is not.
type payloadFilter struct {
	id    []byte
	on    bool
	clear bool                 // no codec encrypts: the payload is read without verifying
	raw   []securecookie.Codec // else: the store's codecs, keeping the payload as bytes
	size  int                  // where not 0, the only length the session's value can have
}

// payloadProbe is the text the probe encodes and looks for.
const payloadProbe = "ginsecure-payload-probe"

func newPayloadFilter(name string, codecs []securecookie.Codec, cookie bool, id string) payloadFilter {
	if len(codecs) == 0 || id == "" {
		return payloadFilter{}
	}
	f := payloadFilter{id: []byte(id), on: true, clear: true, raw: make([]securecookie.Codec, 0, len(codecs))}
	var probe any = payloadProbe
	if cookie {
		probe = map[any]any{handleKey: payloadProbe}
	}
	for _, c := range codecs {
		sc, ok := c.(*securecookie.SecureCookie)
		if !ok {
			return payloadFilter{}
		}
		cp := *sc // a copy: the store's own codec is not changed
		raw := cp.SetSerializer(rawPayload{})
		v, err := c.Encode(name, probe)
		var p []byte
		if err != nil || raw.Decode(name, v, &p) != nil || !bytes.Contains(p, []byte(payloadProbe)) {
			return payloadFilter{}
		}
		if p, ok := clearPayload(v); !ok || !bytes.Contains(p, []byte(payloadProbe)) {
			f.clear = false // encrypted
		}
		f.raw = append(f.raw, raw)
	}
	if !cookie && len(codecs) == 1 {
		if v, err := codecs[0].Encode(name, id); err == nil {
			f.size = len(v)
		}
	}
	return f
}

// mayBe reports whether v may be the session the filter looks for.
func (f payloadFilter) mayBe(name, v string) bool {
	if !f.on {
		return true
	}
	if f.size != 0 && len(v) != f.size {
		return false
	}
	p, ok := clearPayload(v)
	if !ok {
		return false
	}
	if !f.clear {
		return f.verifiedHolds(name, v)
	}
	return bytes.Contains(p, f.id)
}

// verifiedHolds reports whether v verifies and decrypts under one of the
// store's codecs to a payload holding the identity. (Its own function: the
// payload it decodes into escapes, and the common path allocates nothing
// for it.)
func (f payloadFilter) verifiedHolds(name, v string) bool {
	var p []byte
	return securecookie.DecodeMulti(name, v, &p, f.raw...) == nil && bytes.Contains(p, f.id)
}

// clearPayload is the payload of a value SecureCookie encoded, unverified
// (and still encrypted where the codec encrypts); false for a value not
// of that form, which every SecureCookie refuses too.
func clearPayload(v string) ([]byte, bool) {
	b, err := base64.URLEncoding.DecodeString(v)
	if err != nil {
		return nil, false
	}
	_, rest, ok := bytes.Cut(b, []byte("|"))
	if !ok {
		return nil, false
	}
	enc, _, ok := bytes.Cut(rest, []byte("|"))
	if !ok {
		return nil, false
	}
	p := make([]byte, base64.URLEncoding.DecodedLen(len(enc)))
	n, err := base64.URLEncoding.Decode(p, enc)
	if err != nil {
		return nil, false
	}
	return p[:n], true
}

// rawPayload is a securecookie serializer that hands out the payload as
// it is (Deserialize into a *[]byte); payloadFilter never encodes with it.
type rawPayload struct{}

func (rawPayload) Serialize(src any) ([]byte, error) {
	return nil, errors.New("ginsecure: internal: rawPayload does not encode")
}

func (rawPayload) Deserialize(src []byte, dst any) error {
	p, ok := dst.(*[]byte)
	if !ok {
		return errors.New("ginsecure: internal: rawPayload decodes into a *[]byte")
	}
	*p = src
	return nil
}

// sessionCookies yields the value of every cookie named name in r's Cookie
// headers, in order, as net/http's Request.Cookies would split and trim
// them (a value in double quotes without its quotes), but with no limit
// on their number and without allocating for the cookies of other names.
func sessionCookies(r *http.Request, name string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for _, line := range r.Header["Cookie"] {
			for len(line) > 0 {
				var part string
				part, line, _ = strings.Cut(line, ";")
				k, v, _ := strings.Cut(part, "=")
				if trimASCII(k) != name {
					continue
				}
				v = trimASCII(v)
				if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
					v = v[1 : len(v)-1]
				}
				if !yield(v) {
					return
				}
			}
		}
	}
}
