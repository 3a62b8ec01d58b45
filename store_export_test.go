package ginsecure

import (
	"github.com/ginsecure/ginsecure/storeext"
	"time"
)

// MemoryStoreSize exposes the memory store's size to the external tests in
// store_test.go, which cannot be internal: they import storetest, which
// imports this package.
func MemoryStoreSize(s storeext.Store) (records, markers int) { return s.(*memoryStore).size() }

// MemoryStoreView exposes the memory store's copy-free read to
// store_test.go.
func MemoryStoreView(s storeext.Store, handle string) (*storeext.Record, error) {
	return MemoryStoreViewAt(s, handle, time.Now())
}

// MemoryStoreViewAt is the hot path's read at a given instant of the
// store's clock, for store_sweep_test.go.
func MemoryStoreViewAt(s storeext.Store, handle string, now time.Time) (*storeext.Record, error) {
	var rec storeext.Record
	if err := s.(*memoryStore).viewShared(handle, now, &rec); err != nil {
		return nil, err
	}
	return &rec, nil
}

// MemoryStoreSweepStep and MemoryStoreShards expose the memory store's
// sweep step and shard count to the tests that count its steps.
const (
	MemoryStoreSweepStep = sweepStep
	MemoryStoreShards    = memShards
)
