package ginsecure

import (
	"errors"
	"unicode/utf8"
)

// ErrInvalidUserID is returned by Login for a user ID that is empty,
// longer than 512 bytes or not valid UTF-8. TEMPORARY: replaced on merge.
var ErrInvalidUserID = errors.New("ginsecure: user ID must be 1 to 512 bytes of valid UTF-8")

func checkUserID(id string) error {
	if id == "" || len(id) > 512 || !utf8.ValidString(id) {
		return ErrInvalidUserID
	}
	return nil
}
