package ginsecure

import (
	"errors"
	"strings"
	"testing"
)

// TestCheckUserIDRefusesWhatAStoreCannotHoldExactly: Login's rule for user
// IDs, the same on every store. IDs that differ only in invalid UTF-8
// collapse into one identity on Redis (JSON replaces the bytes with U+FFFD
// in the record, not in the index key), so they are refused everywhere.
func TestCheckUserIDRefusesWhatAStoreCannotHoldExactly(t *testing.T) {
	ok := []string{"alice", "ünïcödé 名前", `quote" back\slash`, "a:b c", "line\u2028sep", "\U0001F600", strings.Repeat("x", 512), strings.Repeat("é", 256)}
	bad := []string{"", "bob\xff", "\xc3", "a\xed\xa0\x80b" /* surrogate */, strings.Repeat("x", 513), strings.Repeat("é", 256) + "x"}
	for _, id := range ok {
		if err := checkUserID(id); err != nil {
			t.Errorf("checkUserID(%q) = %v, want nil", id, err)
		}
	}
	for _, id := range bad {
		if err := checkUserID(id); !errors.Is(err, ErrInvalidUserID) {
			t.Errorf("checkUserID(%q) = %v, want ErrInvalidUserID", id, err)
		}
	}
	if got := ErrInvalidUserID.Error(); got != "ginsecure: user ID must be 1 to 512 bytes of valid UTF-8" {
		t.Errorf("message %q", got)
	}
}
