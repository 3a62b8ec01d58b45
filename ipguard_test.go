package ginsecure

// Unit tables of the IP decision: which client address may use a session
// bound to which address under which policy, how outside address strings
// are parsed, and which policies New and Require refuse at setup.

import (
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

func TestIPPolicyPermits(t *testing.T) {
	a := netip.MustParseAddr
	none := netip.Addr{}
	cases := []struct {
		name          string
		policy        IPPolicy
		bound, client netip.Addr
		want          bool
	}{
		// The default policy: the login's IPv4 address, or its IPv6 /64.
		{"same IPv4 address", IPPrefix(32, 64), a("203.0.113.7"), a("203.0.113.7"), true},
		{"other IPv4 address", IPPrefix(32, 64), a("203.0.113.7"), a("203.0.113.8"), false},
		{"same IPv6 /64, privacy address rotated", IPPrefix(32, 64), a("2001:db8:1:2::1"), a("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), true},
		{"other IPv6 /64", IPPrefix(32, 64), a("2001:db8:1:2::1"), a("2001:db8:9:2::1"), false},
		{"IPv6 differing only in the 64th bit", IPPrefix(32, 64), a("2001:db8:1:2::1"), a("2001:db8:1:3::1"), false},

		// Prefix policies widen to a network, and only to it.
		{"same /24 under prefix 24", IPPrefix(24, 64), a("203.0.113.7"), a("203.0.113.200"), true},
		{"other /24 under prefix 24", IPPrefix(24, 64), a("203.0.113.7"), a("203.0.114.7"), false},
		{"same /48 under prefix 48", IPPrefix(32, 48), a("2001:db8:1:2::1"), a("2001:db8:1:ffff::1"), true},
		{"other /48 under prefix 48", IPPrefix(32, 48), a("2001:db8:1:2::1"), a("2001:db8:2:2::1"), false},
		{"prefix 0 allows any IPv4", IPPrefix(0, 128), a("203.0.113.7"), a("10.1.2.3"), true},

		// Exact: every bit counts, IPv6 included.
		{"exact, same IPv6 address", IPExact(), a("2001:db8::1"), a("2001:db8::1"), true},
		{"exact, other address in the same IPv6 /64", IPExact(), a("2001:db8::1"), a("2001:db8::2"), false},
		{"exact, other IPv4 in the same /24", IPExact(), a("203.0.113.7"), a("203.0.113.8"), false},

		// An address family switch is another network, whatever the bits.
		{"IPv4 bound, IPv6 client", IPPrefix(0, 0), a("203.0.113.7"), a("2001:db8::1"), false},
		{"IPv6 bound, IPv4 client", IPPrefix(0, 0), a("2001:db8::1"), a("203.0.113.7"), false},

		// The allow list exempts a network (an office, a VPN egress) from the check.
		{"allow-listed client from another network", IPAllow("198.51.100.0/24"), a("203.0.113.7"), a("198.51.100.42"), true},
		{"client just outside the allow list", IPAllow("198.51.100.0/24"), a("203.0.113.7"), a("198.51.101.1"), false},
		{"allow-listed IPv6 network", IPExact().Allow("2001:db8:ffff::/48"), a("203.0.113.7"), a("2001:db8:ffff:1::9"), true},
		{"allow list does not exempt the bound side", IPAllow("203.0.113.0/24"), a("203.0.113.7"), a("192.0.2.1"), false},
		{"allow list with unparsed host bits is masked", IPExact().Allow("198.51.100.77/24"), a("203.0.113.7"), a("198.51.100.1"), true},

		// Off, and the zero policy of a route group, check nothing.
		{"off", IPOff(), a("203.0.113.7"), a("192.0.2.1"), true},
		{"zero policy (no extra route check)", IPPolicy{}, a("203.0.113.7"), a("192.0.2.1"), true},

		// Unknown addresses: one side unknown is a mismatch; both unknown
		// (a unix socket listener) is the situation of the login itself.
		{"client unknown", IPPrefix(32, 64), a("203.0.113.7"), none, false},
		{"bound unknown", IPPrefix(32, 64), none, a("203.0.113.7"), false},
		{"both unknown", IPPrefix(32, 64), none, none, true},
		{"client unknown is never allow-listed", IPAllow("0.0.0.0/0", "::/0"), a("203.0.113.7"), none, false},
		{"client unknown under prefix 0", IPPrefix(0, 0), a("203.0.113.7"), none, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.policy.err; err != nil {
				t.Fatalf("policy: %v", err)
			}
			if got := tc.policy.permits(tc.bound, tc.client); got != tc.want {
				t.Errorf("%v.permits(%v, %v) = %v, want %v", tc.policy, tc.bound, tc.client, got, tc.want)
			}
		})
	}
}

// TestParseIPUnmapsAndRefusesGarbage: every client address the guard
// compares goes through parseIP, so IPv4-mapped IPv6 must meet its IPv4
// form, and anything that is not an address must come out invalid (which
// permits treats as unknown), never as some other address.
func TestParseIPUnmapsAndRefusesGarbage(t *testing.T) {
	cases := []struct {
		in   string
		want string // "" means invalid
	}{
		{"192.0.2.1", "192.0.2.1"},
		{"::ffff:192.0.2.1", "192.0.2.1"},
		{"::FFFF:c000:0201", "192.0.2.1"},
		{"2001:db8::1", "2001:db8::1"},
		{"2001:DB8:0:0::1", "2001:db8::1"},
		{"fe80::1%eth0", "fe80::1"},
		{"::ffff:192.0.2.1%eth0", "192.0.2.1"},
		{"::1", "::1"},
		{"", ""},
		{"invalid IP", ""}, // what netip.Addr{}.String() stores for an unknown client
		{"192.0.2.1:443", ""},
		{"[2001:db8::1]", ""},
		{"192.0.2.1 ", ""},
		{" 192.0.2.1", ""},
		{"192.0.2.1, 198.51.100.1", ""},
		{"192.0.2.256", ""},
		{"192.0.2", ""},
		{"0192.0.2.1", ""},
		{"192.0.2.1/24", ""},
		{"unknown", ""},
		{"::ffff:192.0.2.1\x00", ""},
		{"2001:db8::1%" + strings.Repeat("z", 70), ""}, // too long to be worth parsing
	}
	for _, tc := range cases {
		got := parseIP(tc.in)
		if tc.want == "" {
			if got.IsValid() {
				t.Errorf("parseIP(%q) = %v, want invalid", tc.in, got)
			}
			continue
		}
		if !got.IsValid() || got.String() != tc.want {
			t.Errorf("parseIP(%q) = %v, want %s", tc.in, got, tc.want)
		}
	}
	if parseIP("::ffff:192.0.2.1") != parseIP("192.0.2.1") {
		t.Error("an IPv4-mapped IPv6 address is not the same client as its IPv4 form")
	}
	if !IPExact().permits(parseIP("192.0.2.1"), parseIP("::ffff:192.0.2.1")) {
		t.Error("IPExact refuses the IPv4-mapped form of the bound IPv4 address")
	}
}

// TestNewRefusesBadIPPolicy: a mistyped network must stop the application
// at startup, with the field named, not silently bind nothing.
func TestNewRefusesBadIPPolicy(t *testing.T) {
	bad := []struct {
		name   string
		policy IPPolicy
		want   string
	}{
		{"negative IPv4 bits", IPPrefix(-1, 64), "IPPrefix(-1, 64)"},
		{"IPv4 bits over 32", IPPrefix(33, 64), "IPPrefix(33, 64)"},
		{"IPv6 bits over 128", IPPrefix(32, 129), "IPPrefix(32, 129)"},
		{"negative IPv6 bits", IPPrefix(32, -8), "IPPrefix(32, -8)"},
		{"bare address in allow list", IPAllow("198.51.100.1"), `"198.51.100.1"`},
		{"prefix too long", IPAllow("198.51.100.0/33"), `"198.51.100.0/33"`},
		{"garbage in allow list", IPAllow("10.0.0.0/8", "office"), `"office"`},
		{"empty allow-list entry", IPOff().Allow(""), `""`},
		{"zoned allow list", IPExact().Allow("fe80::/64%eth0"), `"fe80::/64%eth0"`},
		{"bad bits survive Allow", IPPrefix(40, 64).Allow("10.0.0.0/8"), "IPPrefix(40, 64)"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(Config{IPBinding: tc.policy})
			if err == nil {
				t.Fatal("New accepted it")
			}
			if !strings.Contains(err.Error(), "Config.IPBinding") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not name Config.IPBinding and %s", err, tc.want)
			}
		})
		t.Run(tc.name+" in Require", func(t *testing.T) {
			g, err := New(Config{})
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				msg, _ := recover().(string)
				if !strings.Contains(msg, "Policy.IPBinding") || !strings.Contains(msg, tc.want) {
					t.Errorf("Require did not refuse the policy at setup naming Policy.IPBinding and %s: %q", tc.want, msg)
				}
			}()
			g.Require(Policy{IPBinding: tc.policy})
		})
	}
}

func TestNewDefaultsIPBindingToPrefix32And64(t *testing.T) {
	g, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	p := g.cfg.IPBinding
	if !p.set || p.mode != ipPrefix || p.v4 != 32 || p.v6 != 64 || len(p.allow) != 0 {
		t.Fatalf("zero Config.IPBinding became %v (%+v), want prefix /32 /64", p, p)
	}
}

// TestAllowDoesNotAlias: policies are values; widening a copy with Allow
// must not widen the original (a global policy shared with a route group).
func TestAllowDoesNotAlias(t *testing.T) {
	base := IPExact().Allow("10.0.0.0/8")
	wide := base.Allow("0.0.0.0/0")
	_ = base.Allow("192.0.2.0/24")
	client := netip.MustParseAddr("198.51.100.1")
	bound := netip.MustParseAddr("203.0.113.1")
	if base.permits(bound, client) {
		t.Fatal("widening a copy widened the original")
	}
	if !wide.permits(bound, client) {
		t.Fatal("the widened copy lost its network")
	}
}

// TestAllowListIPv4MappedNetwork: an allow-listed network written as
// IPv4-mapped IPv6 matches the (unmapped) IPv4 clients it names.
func TestAllowListIPv4MappedNetwork(t *testing.T) {
	p := IPExact().Allow("::ffff:10.0.0.0/104")
	if p.err != nil {
		t.Fatal(p.err)
	}
	bound := parseIP("192.0.2.1")
	if !p.permits(bound, parseIP("10.1.2.3")) || !p.permits(bound, parseIP("::ffff:10.1.2.3")) {
		t.Fatal("IPv4-mapped allow list does not match its IPv4 clients")
	}
	if p.permits(bound, parseIP("11.0.0.1")) {
		t.Fatal("allow list matches outside its network")
	}
}

// BenchmarkTrustedClientIP is the cost of the proxy-trust check behind a
// trusted proxy (X-Forwarded-For from the peer): gin's ClientIP plus one
// probe that finds no platform header; and with a Cloudflare header.
func BenchmarkTrustedClientIP(b *testing.B) {
	for _, platform := range []string{"", gin.PlatformCloudflare} {
		b.Run("platform="+platform, func(b *testing.B) {
			r := gin.New()
			if err := r.SetTrustedProxies([]string{"10.0.0.1"}); err != nil {
				b.Fatal(err)
			}
			r.TrustedPlatform = platform
			c := gin.CreateTestContextOnly(httptest.NewRecorder(), r)
			c.Request = httptest.NewRequest("GET", "/", nil)
			c.Request.RemoteAddr = "10.0.0.1:1234"
			c.Request.Header.Set("X-Forwarded-For", "203.0.113.5")
			c.Request.Header.Set("User-Agent", "bench")
			if platform != "" {
				c.Request.Header.Set(platform, "203.0.113.5")
			}
			b.ReportAllocs()
			for b.Loop() {
				if ip := trustedClientIP(c); ip != "203.0.113.5" {
					b.Fatal(ip)
				}
			}
		})
	}
}
