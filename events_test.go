package ginsecure_test

// Security events reach the configured slog.Logger and Config.OnEvent.

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/ginsecure/ginsecure"
)

// TestEventsReachLoggerAndCallback: security events go to slog and OnEvent.
func TestEventsReachLoggerAndCallback(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := newEnv(t, "memstore", ginsecure.Config{Logger: logger})
	b := e.browser()
	b.login("alice")
	b.post("/logout")
	if e.events.count(ginsecure.EventLogin) != 1 || e.events.count(ginsecure.EventLogout) != 1 {
		t.Fatalf("events: %+v", e.events.ev)
	}
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	if !strings.Contains(out, "ginsecure: login") || !strings.Contains(out, "user=alice") {
		t.Fatalf("log: %s", out)
	}
}
