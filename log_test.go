package ginsecure_test

import (
	"github.com/ginsecure/ginsecure"
	"io"
	"log/slog"
)

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func ginsecureConfig() ginsecure.Config { return ginsecure.Config{} }
