package ginsecure_test

// Variants of "A refusal that keeps the session never blocks signing in"
// (DESIGN.md, "Refusals") and "Cookieless sign-in": a thief on another
// network signing in to its own account where the mismatch revoked the
// owner's record, the moved browser's double-submitted sign-in after a
// kept refusal, and cookieless double and triple submits against
// MaxSessionsPerUser 1 and 2.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/ginsecure/ginsecure"
)

// TestIPMismatchRevokedThenThiefSignsInToItsOwnAccount: with the default
// (revoking) mismatch, a thief with alice's cookies on another network
// signs in as mallory. The login works and carries none of alice's data;
// alice's record ended with reason ip_mismatch; alice signs in again at
// home and mallory's session is untouched by it.
func TestIPMismatchRevokedThenThiefSignsInToItsOwnAccount(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{})
		owner := e.browserFrom("127.0.0.1")
		owner.login("alice")
		owner.post("/cart?item=alice-card")
		thief := e.browserFrom("127.0.0.2")
		owner.copyTo(thief)
		r := thief.post("/login?user=mallory")
		if r.status != http.StatusOK || r.user() != "mallory" {
			t.Fatalf("the thief's login to its own account: %d %v", r.status, r.body)
		}
		if r := thief.get("/cart"); r.user() != "mallory" || r.body["cart"] != nil {
			t.Errorf("mallory's session: %v; want mallory, no cart", r.body)
		}
		if r := owner.get("/me"); r.status != http.StatusUnauthorized || r.errCode() != "ip_mismatch" {
			t.Errorf("alice at home after the mismatch: %d %v; want 401 ip_mismatch (the default revokes)", r.status, r.body)
		}
		owner.login("alice")
		if r := owner.get("/cart"); r.user() != "alice" || r.body["cart"] != nil {
			t.Errorf("alice signed in again: %v; want alice, no cart", r.body)
		}
		expectSignedIn(t, thief, "mallory")
		if n := len(e.sessions(t, "mallory")); n != 1 {
			t.Errorf("mallory has %d sessions; want 1", n)
		}
	})
}

// TestIPMismatchKeptThenDoubleSubmittedSignIn: with
// KeepSessionOnIPMismatch the browser moves network and submits the
// sign-in form twice at once. Both submits succeed, whichever response
// lands last signs the browser in from the new network, and alice has
// one session.
func TestIPMismatchKeptThenDoubleSubmittedSignIn(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		for _, order := range []string{"12", "21"} {
			t.Run(order, func(t *testing.T) {
				e := newEnv(t, kind, ginsecure.Config{KeepSessionOnIPMismatch: true})
				home := e.browserFrom("127.0.0.1")
				home.login("alice")
				moved := e.browserFrom("127.0.0.2")
				home.copyTo(moved)
				wantIPRefusal(t, "/me from the new network", moved.get("/me"))
				hdr := moved.header()
				var ls [2]reply
				for i := range ls {
					ls[i] = moved.on(e).sendFrom(t, "POST", "/login?user=alice", hdr)
					if ls[i].status != http.StatusOK || ls[i].user() != "alice" {
						t.Fatalf("submit %d from the new network: %d %v", i+1, ls[i].status, ls[i].body)
					}
				}
				for _, c := range order {
					moved.apply(ls[c-'1'])
				}
				wantUser(t, "/me after the double submit", moved.get("/me"), "alice")
				if n := len(e.sessions(t, "alice")); n != 1 {
					t.Errorf("alice has %d sessions; want 1", n)
				}
			})
		}
	})
}

// sendFrom sends one request with exactly this Cookie header over b's
// transport (so from b's address), keeping the response out of b's jar.
func (b *browser) sendFrom(t *testing.T, method, path, cookieHeader string) reply {
	t.Helper()
	c := &http.Client{Transport: b.client.Transport, CheckRedirect: b.client.CheckRedirect}
	req, err := http.NewRequest(method, b.e.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Cookie", cookieHeader)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := reply{status: resp.StatusCode, cookies: resp.Cookies(), header: resp.Header, body: map[string]any{}}
	_ = decodeJSON(resp, &out.body)
	return out
}

// cookielessSubmits sends n sign-in submits from a browser with no
// cookies at once and returns their replies.
func cookielessSubmits(t *testing.T, b *browser, n int, user string) []reply {
	t.Helper()
	out := make([]reply, n)
	var wg sync.WaitGroup
	for i := range out {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if out[i], err = b.submitBare("/login?user=" + user); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for i, r := range out {
		if r.status != http.StatusOK || r.user() != user {
			t.Fatalf("submit %d: %d %v", i+1, r.status, r.body)
		}
	}
	return out
}

// TestCookielessDoubleSubmitWithLimitOne: with MaxSessionsPerUser 1 a
// cookieless double submit on the laptop does not sign the phone out at
// login; the laptop's first request (its record's first presentation)
// enforces the limit among presented sessions: the phone, least recently
// used, is evicted once. A late landing of the other response then signs
// the laptop in with that record, evicting the laptop's first one, never
// refusing the laptop.
func TestCookielessDoubleSubmitWithLimitOne(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, ginsecure.Config{MaxSessionsPerUser: 1})
		phone, laptop := e.device("127.0.0.1", "phone"), e.device("127.0.0.2", "laptop")
		phone.login("alice")
		e.clock.Advance(2 * time.Minute)
		subs := cookielessSubmits(t, laptop, 2, "alice")
		expectSignedIn(t, phone, "alice")
		if n := e.events.count(ginsecure.EventLimit); n != 0 {
			t.Errorf("%d limit events at login; want none (unpresented records do not count)", n)
		}
		e.clock.Advance(time.Minute) // the phone is least recently used; within UnpresentedAge
		laptop.apply(subs[1])
		expectSignedIn(t, laptop, "alice")
		if r := phone.get("/me"); r.status != http.StatusUnauthorized || r.errCode() != "evicted" {
			t.Errorf("the phone after the laptop's first request: %d %v; want 401 evicted (limit 1)", r.status, r.body)
		}
		e.clock.Advance(20 * time.Second)
		laptop.apply(subs[0])
		expectSignedIn(t, laptop, "alice")
		if n := len(e.sessions(t, "alice")); n != 1 {
			t.Errorf("alice has %d sessions; want 1", n)
		}
	})
}

// TestCookielessTripleSubmitWithLimitTwo: three cookieless submits on the
// laptop, with MaxSessionsPerUser 2 and the phone signed in: whichever
// response the laptop applies last signs it in, the phone is never
// evicted, and the dropped records end after UnpresentedAge.
func TestCookielessTripleSubmitWithLimitTwo(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		for _, last := range []int{0, 1, 2} {
			t.Run(fmt.Sprint("last ", last+1), func(t *testing.T) {
				e := newEnv(t, kind, ginsecure.Config{MaxSessionsPerUser: 2})
				phone, laptop := e.device("127.0.0.1", "phone"), e.device("127.0.0.2", "laptop")
				phone.login("alice")
				e.clock.Advance(time.Minute)
				subs := cookielessSubmits(t, laptop, 3, "alice")
				for i := range subs {
					if i != last {
						laptop.apply(subs[i])
					}
				}
				laptop.apply(subs[last])
				expectSignedIn(t, laptop, "alice")
				expectSignedIn(t, phone, "alice")
				if n := e.events.count(ginsecure.EventLimit); n != 0 {
					t.Errorf("%d limit events; want none", n)
				}
				e.clock.Advance(ginsecure.UnpresentedAge + time.Second)
				if list, err := e.store.List(context.Background(), "alice"); err != nil || len(list) != 2 {
					t.Errorf("%d records live (%v) after UnpresentedAge; want 2", len(list), err)
				}
				expectSignedIn(t, laptop, "alice")
				expectSignedIn(t, phone, "alice")
			})
		}
	})
}

// decodeJSON reads a JSON body, if any, into v.
func decodeJSON(resp *http.Response, v *map[string]any) error {
	data, err := io.ReadAll(resp.Body)
	if err != nil || len(data) == 0 {
		return err
	}
	return json.Unmarshal(data, v)
}

// TestIPMismatchKeptLogoutFromElsewhereEndsNothing: with
// KeepSessionOnIPMismatch a copy of alice's cookies on another network
// posts Logout, and gin-contrib's logout idiom. The request is refused for
// its network and presents nothing: alice's session lives on with its
// data, and the refused response expires nothing of ours.
func TestIPMismatchKeptLogoutFromElsewhereEndsNothing(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		for _, path := range []string{"/logout", "/bye?clear=1", "/bye"} {
			t.Run(path, func(t *testing.T) {
				e := newEnv(t, kind, ginsecure.Config{KeepSessionOnIPMismatch: true}, withRoutes(logoutIdiomRoutes))
				owner := e.browserFrom("127.0.0.1")
				owner.login("alice")
				owner.post("/cart?item=alice-card")
				thief := e.browserFrom("127.0.0.2")
				owner.copyTo(thief)
				r := thief.post(path)
				if r.status == http.StatusOK || r.status >= 500 {
					t.Errorf("POST %s from another network: %d %v; want a refusal", path, r.status, r.body)
				}
				if x := expiring(r.cookies); len(x) != 0 {
					t.Errorf("POST %s from another network expired %v", path, x)
				}
				if got := owner.get("/cart"); got.status != http.StatusOK || got.user() != "alice" || got.body["cart"] != "alice-card" {
					t.Errorf("alice after a logout from another network: %d %v; want alice with her cart", got.status, got.body)
				}
			})
		}
	})
}

// TestIPMismatchEventsAcrossNetworks: the mismatch event fires at most
// once per record and network within one TouchInterval. Kept: copies on
// two networks alternating five times each give two events. Revoking: the
// first mismatch ends the record, and nothing after it (more requests from
// either network) reports another.
func TestIPMismatchEventsAcrossNetworks(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		for _, keep := range []bool{true, false} {
			t.Run(fmt.Sprint("keep=", keep), func(t *testing.T) {
				e := newEnv(t, kind, ginsecure.Config{KeepSessionOnIPMismatch: keep})
				owner := e.browserFrom("127.0.0.1")
				owner.login("alice")
				a, b := e.browserFrom("127.0.0.3"), e.browserFrom("127.0.0.4")
				owner.copyTo(a)
				owner.copyTo(b)
				for range 5 {
					a.get("/public")
					b.get("/public")
				}
				want := 2
				if !keep {
					want = 1
				}
				if n := e.events.count(ginsecure.EventIPMismatch); n != want {
					t.Errorf("%d ip_mismatch events; want %d", n, want)
				}
				if keep {
					expectSignedIn(t, owner, "alice")
				}
			})
		}
	})
}

// TestIPMismatchFirstRequestIsAWrite: the first request from the other
// network is itself a write. With the mismatch revoking or kept, that
// request is a stand-in: the write is refused (nothing of it reaches the
// session), the record's data is not served to it, and the owner (kept)
// still reads only her own cart.
func TestIPMismatchFirstRequestIsAWrite(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		for _, keep := range []bool{false, true} {
			t.Run(fmt.Sprint("keep=", keep), func(t *testing.T) {
				e := newEnv(t, kind, ginsecure.Config{KeepSessionOnIPMismatch: keep})
				owner := e.browserFrom("127.0.0.1")
				owner.login("alice")
				owner.post("/cart?item=alice-card")
				thief := e.browserFrom("127.0.0.2")
				owner.copyTo(thief)
				w := thief.post("/cart?item=planted")
				if w.status != http.StatusConflict || w.errCode() != "foreign_session" {
					t.Errorf("the first request from another network, a write: %d %v; want 409 foreign_session", w.status, w.body)
				}
				if got := graceCookies(w.cookies); got != "" {
					t.Errorf("its response sets %q; want nothing of ours", got)
				}
				if keep {
					if r := owner.get("/cart"); r.user() != "alice" || r.body["cart"] != "alice-card" {
						t.Errorf("the owner after the refused write: %v; want alice with alice-card", r.body)
					}
					return
				}
				owner.login("alice")
				if r := owner.get("/cart"); r.user() != "alice" || r.body["cart"] != nil {
					t.Errorf("the owner signed in again: %v; want an empty cart", r.body)
				}
			})
		}
	})
}
