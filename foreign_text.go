package ginsecure

// The only errors of other libraries that ginsecure tells apart by their
// text: each is made with fmt.Errorf("%s") or errors.New, so neither
// errors.Is nor errors.As can tell it, and no check before the save can
// stand in for it. Every other error is told apart by its type or
// sentinel (errors.Is, errors.As), by the operation that failed, or by a
// size check before the save (storeext.KnownSessions.Encode). A test
// (TestForeignTextsStillMatch) makes each library produce its error, so
// a release that changes the wording fails it.

import "strings"

// tooLargeTexts are the refusals of a session too large to save:
//
//   - gorilla/securecookie's encoding of a value over its MaxLength (the
//     cookie store: 4096 bytes encoded), which it wraps with %s
//     (fmt.Errorf("%s: %d", errEncodedValueTooLong, n));
//   - boj/redistore's Save of a session over its size limit
//     (errors.New): a gin-contrib Redis store that the records Store does
//     not know (ginredis.NewStoreWithPool, NewStore), whose limit ginsecure
//     cannot check before the save.
var tooLargeTexts = [...]string{
	"the value is too long",         // gorilla/securecookie
	"the value to store is too big", // boj/redistore
}

// tooLargeText reports whether err is one of tooLargeTexts.
func tooLargeText(err error) bool {
	msg := err.Error()
	for _, t := range tooLargeTexts {
		if strings.Contains(msg, t) {
			return true
		}
	}
	return false
}
