package ginsecure_test

// Variants of "The record's own session cookie wins" (DESIGN.md, "Tossed
// cookies"): 1, 8 and 50 same-named cookies (another account's session,
// other visitors' anonymous sessions with values, garbage) before, after
// and around the owner's own, through writes, a periodic rotation, a
// Renew, signing in again and Logout, the browser applying every
// Set-Cookie itself.

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ginsecure/ginsecure"
)

// tossedBrowser is a browser behind a sibling's tossed cookies: it keeps
// its own session cookie and token and sends them with the tossed ones in
// the order its layout says.
type tossedBrowser struct {
	e          *env
	own, tok   string
	tossed     []string
	layout     string
	expiredApp bool
	expiredTok bool
}

func (b *tossedBrowser) header() string {
	var parts []string
	own := "app=" + b.own
	tok := tokCookieName + "=" + b.tok
	half := len(b.tossed) / 2
	switch b.layout {
	case "before":
		parts = append(append(parts, b.tossed...), own, tok)
	case "after":
		parts = append([]string{tok, own}, b.tossed...)
	default: // around
		parts = append(append(append([]string{}, b.tossed[:half]...), own), b.tossed[half:]...)
		parts = append(parts, tok)
	}
	if b.expiredApp {
		parts = removePrefix(parts, own)
	}
	if b.expiredTok {
		parts = removePrefix(parts, tok)
	}
	return strings.Join(parts, "; ")
}

func removePrefix(parts []string, drop string) []string {
	out := parts[:0:0]
	for _, p := range parts {
		if p != drop {
			out = append(out, p)
		}
	}
	return out
}

// do sends one request and applies its Set-Cookie as the browser would:
// a host-only cookie replaces the browser's own, never a sibling's.
func (b *tossedBrowser) do(method, path string) reply {
	b.e.t.Helper()
	r := b.e.send(method, path, b.header())
	for _, c := range r.cookies {
		switch {
		case c.Name == "app" && c.MaxAge < 0:
			b.expiredApp = true
		case c.Name == "app":
			b.own, b.expiredApp = c.Value, false
		case c.Name == tokCookieName && c.MaxAge < 0:
			b.expiredTok = true
		case c.Name == tokCookieName:
			b.tok, b.expiredTok = c.Value, false
		}
	}
	return r
}

// tossedMix is n tossed cookies: another account's session, other
// visitors' anonymous sessions holding a cart, and garbage.
func tossedMix(t *testing.T, e *env, n int) []string {
	t.Helper()
	out := tossedCookies(t, e, 1, 0) // mallory's signed-in session
	for i := 1; i < n; i++ {
		switch i % 3 {
		case 1:
			v := e.browser()
			v.post(fmt.Sprintf("/cart?item=visitor-%d", i))
			out = append(out, "app="+v.cookie("app"))
		case 2:
			out = append(out, fmt.Sprintf("app=garbage-%d", i))
		default:
			out = append(out, tossedCookies(t, e, 2, 0)[1])
		}
	}
	return out[:n]
}

// TestTossedCookiesThroughTheSessionsLife: behind 1, 8 or 50 tossed
// cookies in each layout, alice writes, reads her write, rotates, renews,
// signs in again keeping her data, and logs out; a copy of her cookies is
// signed out after that.
func TestTossedCookiesThroughTheSessionsLife(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		for _, n := range []int{1, 8, 50} {
			for _, layout := range []string{"before", "after", "around"} {
				t.Run(fmt.Sprintf("%d %s", n, layout), func(t *testing.T) {
					e := newEnv(t, kind, graceConfig(graceWindow))
					a := e.browser()
					a.login("alice")
					b := &tossedBrowser{e: e, own: a.cookie("app"), tok: a.cookie(tokCookieName), tossed: tossedMix(t, e, n), layout: layout}
					step := func(what, method, path string, user string, cart any) {
						t.Helper()
						r := b.do(method, path)
						if r.status != http.StatusOK || r.user() != user || (cart != "" && r.body["cart"] != cart) {
							t.Fatalf("%s: %d %v; want 200 %s (cart %v)", what, r.status, r.body, user, cart)
						}
					}
					step("write", "POST", "/cart?item=alice-card", "alice", "")
					step("read", "GET", "/cart", "alice", "alice-card")
					e.clock.Advance(graceRotateEvery + time.Second)
					step("rotation", "GET", "/me", "alice", "")
					step("after the rotation", "GET", "/cart", "alice", "alice-card")
					e.clock.Advance(time.Minute)
					step("renew", "POST", "/renew", "alice", "")
					step("after the renew", "GET", "/cart", "alice", "alice-card")
					step("write after the renew", "POST", "/cart?item=alice-2", "alice", "")
					step("sign in again", "POST", "/login?user=alice", "alice", "")
					step("after signing in again", "GET", "/cart", "alice", "alice-2")
					copyHdr := b.header()
					if r := b.do("POST", "/logout"); r.status != http.StatusOK {
						t.Fatalf("logout: %d %v", r.status, r.body)
					}
					if r := e.send("GET", "/me", copyHdr); r.status != http.StatusUnauthorized {
						t.Errorf("a copy after logout: %d %v; want 401", r.status, r.body)
					}
					if n := len(e.sessions(t, "alice")); n != 0 {
						t.Errorf("alice has %d sessions after logout; want 0", n)
					}
					if n := e.events.count(ginsecure.EventReplay); n != 0 {
						t.Errorf("%d replay events; want none", n)
					}
				})
			}
		}
	})
}
