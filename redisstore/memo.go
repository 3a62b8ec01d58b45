package redisstore

// Decoded records, kept per handle with the exact bytes they came from.
//
// Every authenticated request reads its record from Redis: revocation,
// rotation and timeouts are decided by what Redis holds at that moment,
// on every server. What need not be repeated is parsing the same bytes:
// between two writes of a record (a login, a rotation, a touch once per
// TouchInterval) its JSON is the same on every read, and decoding it took
// about a tenth of a Redis request's time. The memo keeps, per handle, the
// last bytes read and the record decoded from them; a read whose bytes are
// equal reuses the record, any other bytes are decoded afresh. Nothing is
// served from the memo that Redis did not just return.
//
// The memo is hashicorp/golang-lru (a bounded LRU, safe for concurrent
// use): at most memoSize records per Store, about 1 KB each.

import (
	"bytes"

	"github.com/ginsecure/ginsecure/storeext"
	lru "github.com/hashicorp/golang-lru/v2"
)

// memoSize bounds the decoded records a Store keeps: the signed-in
// sessions a server sees between two writes of their records.
const memoSize = 4096

// memoEntry is a record and the bytes it was decoded from. The record is
// never modified: readers share it.
type memoEntry struct {
	raw []byte
	rec *storeext.Record
	// keys are the record's key and its user's revocation mark key, as
	// the arguments of readWith's MGET: built once per decoding, not per
	// read (a handle never changes user: readWith checks it).
	keys [2]any
}

func newMemo() *lru.Cache[string, memoEntry] {
	c, err := lru.New[string, memoEntry](memoSize)
	if err != nil {
		panic(err) // only for a size below 1
	}
	return c
}

// decodeMemo decodes b, the record stored under handle, reusing the last
// decoding of the same bytes. The record returned is shared with the memo
// and every other reader of the same bytes: never to be modified (Get
// hands out a detached copy).
func (s *Store) decodeMemo(handle string, b []byte) (*storeext.Record, error) {
	if e, ok := s.memo.Get(handle); ok && bytes.Equal(e.raw, b) {
		return e.rec, nil
	}
	r, err := decode(b)
	if err != nil {
		return nil, err
	}
	if r.Handle == handle {
		s.memo.Add(handle, memoEntry{raw: b, rec: &r, keys: [2]any{s.recKey(handle), s.markOfUser(r.UserID)}})
	}
	return &r, nil
}

// detach copies the slices of a record, so that neither the memo's copy
// nor the caller's can change the other's.
func detach(r storeext.Record) storeext.Record { return r.Clone() }
