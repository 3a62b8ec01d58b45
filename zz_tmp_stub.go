package ginsecure

import "errors"

// TEMPORARY: the lead's rewrite defines it; delete on merge.
var ErrForeignSession = errors.New("ginsecure: session cookie belongs to another session")
