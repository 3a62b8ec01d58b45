package ginsecure_test

import (
	"flag"
	"github.com/ginsecure/ginsecure"
	"io"
	"log/slog"
	"os"
	"testing"
)

// TestMain silences gin-contrib's own error log (it logs every bad cookie
// through slog's default logger) unless -v is given.
func TestMain(m *testing.M) {
	flag.Parse()
	if !testing.Verbose() {
		slog.SetDefault(discardLogger())
	}
	os.Exit(m.Run())
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func ginsecureConfig() ginsecure.Config { return ginsecure.Config{} }
