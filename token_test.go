package ginsecure_test

// The token cookie: its attributes and format, the store keeping only its
// hash, and which cookie counts as the token.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"

	"github.com/ginsecure/ginsecure"
	"github.com/ginsecure/ginsecure/storeext"
	"github.com/gomodule/redigo/redis"
)

// TestTokenCookieAttributes: __Host- prefix, Secure, HttpOnly, Lax, Path=/,
// no Domain, 32 random bytes; the store keeps only the token's hash.
func TestTokenCookieAttributes(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{})
		r := e.browser().login("alice")
		var tok *http.Cookie
		for _, c := range r.cookies {
			if c.Name == tokCookieName {
				tok = c
			}
		}
		if tok == nil {
			t.Fatal("no token cookie on login")
		}
		if !tok.Secure || !tok.HttpOnly || tok.SameSite != http.SameSiteLaxMode || tok.Path != "/" || tok.Domain != "" {
			t.Fatalf("weak token cookie: %+v", tok)
		}
		// "1." (the format version), the record's handle, ".", the secret.
		parts := strings.Split(tok.Value, ".")
		if len(parts) != 3 || parts[0] != "1" || len(parts[1]) != 22 {
			t.Fatalf("token is not version 1, handle, secret: %q", tok.Value)
		}
		raw, err := base64.RawURLEncoding.DecodeString(parts[2])
		if err != nil || len(raw) != 32 {
			t.Fatalf("token secret is not 32 bytes of base64url: %q", tok.Value)
		}
		recs, err := e.store.List(context.Background(), "alice")
		if err != nil || len(recs) != 1 {
			t.Fatalf("records: %v %v", recs, err)
		}
		if recs[0].Handle != parts[1] || recs[0].TokenHash != sha256.Sum256(raw) {
			t.Fatal("stored token hash is not SHA-256 of the token")
		}
		needles := [][]byte{[]byte(tok.Value), raw, []byte(hex.EncodeToString(raw))}
		for _, n := range needles {
			if bytes.Contains([]byte(fmtRecord(recs[0])), n) {
				t.Fatal("record holds the raw token")
			}
		}
		if isRedis(kind) {
			assertRedisHasNo(t, e, needles)
		}
	})
}

func fmtRecord(r storeext.Record) string {
	parts := []string{r.Handle, r.UserID, string(r.TokenHash[:]), string(r.TokenKey), r.IP, r.UserAgent, r.Revoked}
	for _, e := range r.History {
		parts = append(parts, string(e.Hash[:]), string(e.Key), string(e.Sealed))
	}
	return strings.Join(parts, "|")
}

// assertRedisHasNo reads every value in Redis and checks none holds a needle.
func assertRedisHasNo(t *testing.T, e *env, needles [][]byte) {
	t.Helper()
	c, err := redis.Dial("unix", e.redis.Socket)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	keys, err := redis.Strings(c.Do("KEYS", "*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		typ, _ := redis.String(c.Do("TYPE", k))
		var vals [][]byte
		switch typ {
		case "string":
			v, _ := redis.Bytes(c.Do("GET", k))
			vals = append(vals, v)
		case "zset":
			vs, _ := redis.ByteSlices(c.Do("ZRANGE", k, 0, -1))
			vals = append(vals, vs...)
		}
		for _, v := range vals {
			for _, n := range needles {
				if bytes.Contains(v, n) {
					t.Fatalf("redis key %s holds the raw token", k)
				}
			}
		}
	}
}

// TestLookalikeCookieNameIsNotTheToken: a cookie whose name only trims to
// the token's (Unicode white space, "\u00a0__Host-ginsecure") is not the
// token cookie. Browsers do not apply __Host- rules to that name, so a
// sibling subdomain can set it (Domain=parent); net/http does not accept it
// as a cookie at all.
func TestLookalikeCookieNameIsNotTheToken(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{})
		attacker, victim := e.browser(), e.browser()
		attacker.login("mallory")
		victim.login("alice")
		atok, asess := attacker.cookie(ginsecure.DefaultCookieName), attacker.cookie("app")
		vtok, vsess := victim.cookie(ginsecure.DefaultCookieName), victim.cookie("app")

		// What net/http sees.
		req, _ := http.NewRequest("GET", "/", nil)
		req.Header.Set("Cookie", "\u00a0"+ginsecure.DefaultCookieName+"="+atok)
		if _, err := req.Cookie(ginsecure.DefaultCookieName); err == nil {
			t.Fatal("net/http accepted it too")
		}

		// The victim's browser: planted (more specific path, sent first)
		// session cookie and NBSP token, then her own.
		fresh := e.browser()
		hdr := "app=" + asess + "; \u00a0" + ginsecure.DefaultCookieName + "=" + atok +
			"; " + ginsecure.DefaultCookieName + "=" + vtok + "; app=" + vsess
		r := fresh.do(http.MethodGet, "/me", "Cookie", hdr)
		if r.user() == "mallory" {
			t.Fatalf("a cookie not named %s was taken as the token: victim is signed in as %q", ginsecure.DefaultCookieName, r.user())
		}
	})
}
