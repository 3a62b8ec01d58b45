package main

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/ginsecure/ginsecure"
)

// flakyStore is ginsecure's memory store with an outage switched on
// demand: storeWritesFail makes Update and Delete fail (a sign-out that
// cannot be written, reads still answered), storeDown makes every call
// fail.
type flakyStore struct {
	ginsecure.Store
	mode atomic.Int32
}

const (
	storeUp int32 = iota
	storeWritesFail
	storeDown
)

var errOutage = errors.New("test: store unreachable")

func newFlakyStore() *flakyStore { return &flakyStore{Store: ginsecure.NewMemoryStore()} }

func (f *flakyStore) down() bool { return f.mode.Load() == storeDown }

func (f *flakyStore) Get(ctx context.Context, handle string) (ginsecure.Record, error) {
	if f.down() {
		return ginsecure.Record{}, errOutage
	}
	return f.Store.Get(ctx, handle)
}

func (f *flakyStore) Create(ctx context.Context, rec ginsecure.Record, limit ginsecure.Limit) error {
	if f.down() {
		return errOutage
	}
	return f.Store.Create(ctx, rec, limit)
}

func (f *flakyStore) Trim(ctx context.Context, userID string, max int) ([]string, error) {
	if f.down() {
		return nil, errOutage
	}
	return f.Store.Trim(ctx, userID, max)
}

func (f *flakyStore) DeleteMarker(ctx context.Context, key, handle string) error {
	if f.down() {
		return errOutage
	}
	return f.Store.DeleteMarker(ctx, key, handle)
}

func (f *flakyStore) Update(ctx context.Context, handle string, fn func(*ginsecure.Record) error) (ginsecure.Record, error) {
	if f.mode.Load() != storeUp {
		return ginsecure.Record{}, errOutage
	}
	return f.Store.Update(ctx, handle, fn)
}

func (f *flakyStore) Delete(ctx context.Context, handle string) error {
	if f.mode.Load() != storeUp {
		return errOutage
	}
	return f.Store.Delete(ctx, handle)
}

func (f *flakyStore) List(ctx context.Context, userID string) ([]ginsecure.Record, error) {
	if f.down() {
		return nil, errOutage
	}
	return f.Store.List(ctx, userID)
}

func (f *flakyStore) SetMarker(ctx context.Context, key string, m ginsecure.Marker) error {
	if f.down() {
		return errOutage
	}
	return f.Store.SetMarker(ctx, key, m)
}

func (f *flakyStore) GetMarker(ctx context.Context, key string) (ginsecure.Marker, error) {
	if f.down() {
		return ginsecure.Marker{}, errOutage
	}
	return f.Store.GetMarker(ctx, key)
}
