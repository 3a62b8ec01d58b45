package ginsecure_test

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/ginsecure/ginsecure"
	"github.com/ginsecure/ginsecure/internal/redistest"
	"github.com/ginsecure/ginsecure/redisstore"
	"github.com/ginsecure/ginsecure/storeext"
)

// TestSupersededTokenOfAnEarlierReleaseGetsTheNewerToken: a record an
// earlier release wrote carries its token's X25519 key (32 bytes; new
// tokens' keys are P-256, 33). A visitor double-submits the sign-in form:
// the first login's record is as that release left it when the second
// login joins it, superseding the first token before the browser ever
// presented it. The newer token is sealed to the X25519 key, and when the
// first response lands 3 s late its token is answered with the current
// one, as for a new token (DESIGN.md, "Superseded credentials").
func TestSupersededTokenOfAnEarlierReleaseGetsTheNewerToken(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{})
		b := e.browser()
		if r := b.post("/cart?item=apple"); r.status != http.StatusOK {
			t.Fatalf("cart: %d %v", r.status, r.body)
		}
		hdr := b.header()
		first := e.send("POST", "/login?user=alice", hdr)
		handle, oldKey, ok := ginsecure.EarlierReleaseTokenKey(tokenOf(first.cookies))
		if first.status != http.StatusOK || !ok {
			t.Fatalf("first login: %d %v", first.status, first.body)
		}
		ctx := context.Background()
		rec, err := e.store.Update(ctx, handle, func(r *storeext.Record) error {
			if len(r.TokenKey) != 33 {
				t.Errorf("a new token's key is %d bytes; want 33 (P-256, compressed)", len(r.TokenKey))
			}
			r.TokenKey = oldKey // as the earlier release wrote it
			return nil
		})
		if err != nil || !bytes.Equal(rec.TokenKey, oldKey) {
			t.Fatalf("the record as an earlier release wrote it: %v", err)
		}
		if isRedis(kind) && toPreviousEncoding(t, e) != 1 {
			t.Fatal("no record rewritten in the previous release's encoding")
		}

		second := e.send("POST", "/login?user=alice", hdr)
		if second.status != http.StatusOK {
			t.Fatalf("second login: %d %v", second.status, second.body)
		}
		rec, err = e.store.Get(ctx, handle)
		if err != nil || len(rec.History) == 0 || !bytes.Equal(rec.History[0].Key, oldKey) || len(rec.History[0].Sealed) != 32+12+32+16 {
			t.Fatalf("the joined record: %v, history %+v; want the first token superseded unpresented, the newer one sealed to its X25519 key", err, rec.History)
		}
		if len(rec.TokenKey) != 33 {
			t.Errorf("the second login's token key is %d bytes; want 33 (P-256)", len(rec.TokenKey))
		}
		b.apply(second)
		wantUser(t, "/me with the second login's token", b.get("/me"), "alice")
		current := b.cookie(graceTokenCookie)

		e.clock.Advance(3 * time.Second)
		b.apply(first)
		r := b.get("/me")
		if r.status != http.StatusOK || r.user() != "alice" {
			t.Fatalf("the first login's response landing 3 s late: %d %v; want 200 alice", r.status, r.body)
		}
		if got := tokenOf(r.cookies); got != current {
			t.Errorf("the earlier release's token was answered with %q; want the current token %q", got, current)
		}
		wantUser(t, "/me after the late response", b.get("/me"), "alice")
		wantNoRevocation(t, e)
	})
}

// TestPreviousEncodingMintsTheEarlierReleasesKeys: during a rolling
// upgrade's first step (redisstore.WithPreviousEncoding) servers of the
// earlier release share the store, and they cannot seal to a P-256 key
// (their rotation of a record holding one fails, 503): new tokens' keys
// are X25519 then, and a token superseded before it was presented is
// still answered with the newer one. Without the option, on the same
// Redis, they are P-256 (DESIGN.md, "Superseded credentials").
func TestPreviousEncodingMintsTheEarlierReleasesKeys(t *testing.T) {
	srv := redistest.Start(t)
	tokenKeyOf := func(t *testing.T, e *env, v string) []byte {
		t.Helper()
		handle, _, ok := ginsecure.EarlierReleaseTokenKey(v)
		if !ok {
			t.Fatalf("no token: %q", v)
		}
		rec, err := e.store.Get(context.Background(), handle)
		if err != nil {
			t.Fatal(err)
		}
		return rec.TokenKey
	}

	prev := newEnv(t, "redis", ginsecure.Config{}, withRedis(srv),
		withStore(redisstore.New(srv.Pool(), redisstore.WithPrefix("gs:"), redisstore.WithPreviousEncoding())))
	b := prev.browser()
	if r := b.post("/cart?item=apple"); r.status != http.StatusOK {
		t.Fatalf("cart: %d %v", r.status, r.body)
	}
	hdr := b.header()
	first := prev.send("POST", "/login?user=alice", hdr)
	_, x25519, _ := ginsecure.EarlierReleaseTokenKey(tokenOf(first.cookies))
	if got := tokenKeyOf(t, prev, tokenOf(first.cookies)); !bytes.Equal(got, x25519) {
		t.Fatalf("token key with the previous encoding: %d bytes %x; want the X25519 key earlier releases mint", len(got), got)
	}
	second := prev.send("POST", "/login?user=alice", hdr)
	b.apply(second)
	wantUser(t, "/me with the joined login's token", b.get("/me"), "alice")
	current := b.cookie(graceTokenCookie)
	prev.clock.Advance(3 * time.Second)
	b.apply(first)
	if r := b.get("/me"); r.user() != "alice" || tokenOf(r.cookies) != current {
		t.Fatalf("the first login's response landing late: %d %v, token %q; want alice and the current token %q", r.status, r.body, tokenOf(r.cookies), current)
	}
	wantNoRevocation(t, prev)

	next := newEnv(t, "redis", ginsecure.Config{}, withRedis(srv))
	nb := next.browser()
	nb.login("bob")
	if got := tokenKeyOf(t, next, nb.cookie(graceTokenCookie)); len(got) != 33 {
		t.Fatalf("token key without the previous encoding: %d bytes; want 33 (P-256)", len(got))
	}
}
