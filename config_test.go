package ginsecure_test

// Config validation: New refuses a wrong field and names it.

import (
	"strings"
	"testing"
	"time"

	"github.com/ginsecure/ginsecure"
)

// TestConfigValidation: New names the wrong field.
func TestConfigValidation(t *testing.T) {
	cases := []struct {
		name  string
		cfg   ginsecure.Config
		field string
	}{
		{"bad cookie name", ginsecure.Config{CookieName: "a b"}, "CookieName"},
		{"negative idle", ginsecure.Config{IdleTimeout: -time.Second}, "IdleTimeout"},
		{"touch not shorter than idle", ginsecure.Config{TouchInterval: time.Hour}, "TouchInterval"},
		{"idle over absolute", ginsecure.Config{IdleTimeout: 13 * time.Hour}, "IdleTimeout"},
		{"grace not shorter than rotation", ginsecure.Config{GracePeriod: 20 * time.Second, RotateEvery: 10 * time.Second}, "GracePeriod"},
		{"grace over a minute", ginsecure.Config{GracePeriod: 2 * time.Minute, RotateEvery: -1}, "GracePeriod"},
		{"negative limit", ginsecure.Config{MaxSessionsPerUser: -1}, "MaxSessionsPerUser"},
		{"reject without limit", ginsecure.Config{RejectExtraLogins: true}, "RejectExtraLogins"},
		{"bad CIDR", ginsecure.Config{IPBinding: ginsecure.IPAllow("10.0.0.0/33")}, "IPBinding"},
		{"bad prefix bits", ginsecure.Config{IPBinding: ginsecure.IPPrefix(33, 64)}, "IPBinding"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ginsecure.New(c.cfg)
			if err == nil || !strings.Contains(err.Error(), "Config."+c.field) {
				t.Fatalf("want an error naming Config.%s, got %v", c.field, err)
			}
		})
	}
	if _, err := ginsecure.New(ginsecure.Config{}); err != nil {
		t.Fatalf("zero Config: %v", err)
	}
}
