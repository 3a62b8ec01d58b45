package ginsecure

// The wrapper behaves as gin-contrib's session does where the Guard has no
// reason to differ (README, "Differences from gin-contrib/sessions").

// clearWrites reports whether gin-contrib's Clear would mark a session
// with these values written: it does when it deletes a value. The
// cookie-store session ID ginsecure keeps inside an anonymous session
// (sidKey) has no counterpart in gin-contrib and does not count; the
// record's handle stands for the application's own user key and does.
func clearWrites(values map[any]any) bool {
	for k := range values {
		if k != sidKey {
			return true
		}
	}
	return false
}
