package ginsecure

import "log/slog"

// LoggerUser is implemented by stores that report what they find wrong
// with their own setup (redisstore: a Redis eviction policy under which
// revocation can miss sessions). New hands them Config.Logger. UseLogger
// must return at once, without reaching the store: New never waits on a
// store that is down.
type LoggerUser interface {
	UseLogger(l *slog.Logger)
}

// handLogger gives st the Guard's logger where it takes one.
func handLogger(st Store, l *slog.Logger) {
	if lu, ok := st.(LoggerUser); ok {
		lu.UseLogger(l)
	}
}
