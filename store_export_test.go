package ginsecure

// MemoryStoreSize exposes the memory store's size to the external tests in
// store_test.go, which cannot be internal: they import storetest, which
// imports this package.
func MemoryStoreSize(s Store) (records, markers int) { return s.(*memoryStore).size() }
