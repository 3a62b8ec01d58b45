package ginsecure_test

// Device binding's configuration: off by default, every wrong field named.

import (
	"strings"
	"testing"
	"time"

	"github.com/ginsecure/ginsecure"
	"github.com/ginsecure/ginsecure/internal/dbsc"
	"github.com/ginsecure/ginsecure/storeext"
)

// otherStore is a Store that is not the memory store, for the check
// that a shared Store needs a shared ChallengeStore.
type otherStore struct{ storeext.Store }

// TestDeviceBindingConfig: New names the wrong DeviceBinding field; the
// zero value and an enabled one with defaults are valid.
func TestDeviceBindingConfig(t *testing.T) {
	on := func(d ginsecure.DeviceBinding) ginsecure.Config {
		d.Enabled = true
		return ginsecure.Config{DeviceBinding: d}
	}
	cases := []struct {
		name  string
		cfg   ginsecure.Config
		field string
	}{
		{"relative path", on(ginsecure.DeviceBinding{Path: "dbsc"}), "DeviceBinding.Path"},
		{"trailing slash", on(ginsecure.DeviceBinding{Path: "/dbsc/"}), "DeviceBinding.Path"},
		{"root path", on(ginsecure.DeviceBinding{Path: "/"}), "DeviceBinding.Path"},
		{"quote in path", on(ginsecure.DeviceBinding{Path: `/a"b`}), "DeviceBinding.Path"},
		{"unclean path", on(ginsecure.DeviceBinding{Path: "/a/../b"}), "DeviceBinding.Path"},
		{"lifetime under the refresh margin", on(ginsecure.DeviceBinding{CookieLifetime: 2 * time.Minute}), "DeviceBinding.CookieLifetime"},
		{"negative lifetime", on(ginsecure.DeviceBinding{CookieLifetime: -time.Minute}), "DeviceBinding.CookieLifetime"},
		{"lifetime over absolute", ginsecure.Config{AbsoluteTimeout: time.Hour, IdleTimeout: 30 * time.Minute, DeviceBinding: ginsecure.DeviceBinding{Enabled: true, CookieLifetime: 2 * time.Hour}}, "DeviceBinding.CookieLifetime"},
		{"empty algorithms", on(ginsecure.DeviceBinding{Algorithms: []ginsecure.DeviceAlgorithm{}}), "DeviceBinding.Algorithms"},
		{"alg none", on(ginsecure.DeviceBinding{Algorithms: []ginsecure.DeviceAlgorithm{"none"}}), "DeviceBinding.Algorithms"},
		{"HS256", on(ginsecure.DeviceBinding{Algorithms: []ginsecure.DeviceAlgorithm{"HS256"}}), "DeviceBinding.Algorithms"},
		{"twice", on(ginsecure.DeviceBinding{Algorithms: []ginsecure.DeviceAlgorithm{ginsecure.ES256, ginsecure.ES256}}), "DeviceBinding.Algorithms"},
		{"shared store, memory challenges", ginsecure.Config{Store: otherStore{ginsecure.NewMemoryStore()}, DeviceBinding: ginsecure.DeviceBinding{Enabled: true}}, "DeviceBinding.Challenges"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ginsecure.New(c.cfg)
			if err == nil || !strings.Contains(err.Error(), "Config."+c.field) {
				t.Fatalf("want an error naming Config.%s, got %v", c.field, err)
			}
		})
	}
	valid := []ginsecure.Config{
		{DeviceBinding: ginsecure.DeviceBinding{Path: "nonsense", CookieLifetime: -1}}, // off: not checked
		on(ginsecure.DeviceBinding{}),
		on(ginsecure.DeviceBinding{Path: "/auth/device", CookieLifetime: 5 * time.Minute, Algorithms: []ginsecure.DeviceAlgorithm{ginsecure.RS256}}),
		{Store: otherStore{ginsecure.NewMemoryStore()}, DeviceBinding: ginsecure.DeviceBinding{Enabled: true, Challenges: &dbsc.MemoryChallenges{}}},
	}
	for i, cfg := range valid {
		if _, err := ginsecure.New(cfg); err != nil {
			t.Errorf("valid config %d: %v", i, err)
		}
	}
}
