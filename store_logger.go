package ginsecure

import (
	"github.com/ginsecure/ginsecure/storeext"
	"log/slog"
)

// loggerUser is storeext.LoggerUser (its contract is there), as New asks for it.
type loggerUser interface {
	UseLogger(l *slog.Logger)
}

// handLogger gives st the Guard's logger where it takes one.
func handLogger(st storeext.Store, l *slog.Logger) {
	if lu, ok := st.(loggerUser); ok {
		lu.UseLogger(l)
	}
}
