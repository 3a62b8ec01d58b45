package main

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/ginsecure/ginsecure"
	"github.com/ginsecure/ginsecure/storeext"
)

// flakyStore is ginsecure's memory store with an outage switched on
// demand: storeWritesFail makes Update and Delete fail (a sign-out that
// cannot be written, reads still answered), storeDown makes every call
// fail. lose swaps in an empty store: a restart that lost every record.
type flakyStore struct {
	inner atomic.Pointer[storeBox]
	mode  atomic.Int32
}

type storeBox struct{ storeext.Store }

const (
	storeUp int32 = iota
	storeWritesFail
	storeDown
)

var errOutage = errors.New("test: store unreachable")

func newFlakyStore() *flakyStore {
	f := &flakyStore{}
	f.lose()
	return f
}

// lose replaces every record and marker with nothing, as a store that
// restarted without its data does.
func (f *flakyStore) lose() { f.inner.Store(&storeBox{ginsecure.NewMemoryStore()}) }

func (f *flakyStore) st() storeext.Store { return f.inner.Load().Store }

func (f *flakyStore) down() bool { return f.mode.Load() == storeDown }

func (f *flakyStore) Get(ctx context.Context, handle string) (storeext.Record, error) {
	if f.down() {
		return storeext.Record{}, errOutage
	}
	return f.st().Get(ctx, handle)
}

func (f *flakyStore) Create(ctx context.Context, rec storeext.Record, limit storeext.Limit) error {
	if f.down() {
		return errOutage
	}
	return f.st().Create(ctx, rec, limit)
}

func (f *flakyStore) Trim(ctx context.Context, userID string, max int) ([]string, error) {
	if f.down() {
		return nil, errOutage
	}
	return f.st().Trim(ctx, userID, max)
}

func (f *flakyStore) DeleteMarker(ctx context.Context, key, handle string) error {
	if f.down() {
		return errOutage
	}
	return f.st().DeleteMarker(ctx, key, handle)
}

func (f *flakyStore) Update(ctx context.Context, handle string, fn func(*storeext.Record) error) (storeext.Record, error) {
	if f.mode.Load() != storeUp {
		return storeext.Record{}, errOutage
	}
	return f.st().Update(ctx, handle, fn)
}

func (f *flakyStore) Delete(ctx context.Context, handle string) error {
	if f.mode.Load() != storeUp {
		return errOutage
	}
	return f.st().Delete(ctx, handle)
}

func (f *flakyStore) List(ctx context.Context, userID string) ([]storeext.Record, error) {
	if f.down() {
		return nil, errOutage
	}
	return f.st().List(ctx, userID)
}

func (f *flakyStore) SetMarker(ctx context.Context, key string, m storeext.Marker) error {
	if f.down() {
		return errOutage
	}
	return f.st().SetMarker(ctx, key, m)
}

func (f *flakyStore) GetMarker(ctx context.Context, key string) (storeext.Marker, error) {
	if f.down() {
		return storeext.Marker{}, errOutage
	}
	return f.st().GetMarker(ctx, key)
}

func (f *flakyStore) Present(ctx context.Context, held storeext.Record, fn func(*storeext.Record) error, limit storeext.Limit) (storeext.Record, []string, error) {
	if f.mode.Load() != storeUp {
		return storeext.Record{}, nil, errOutage
	}
	return f.st().Present(ctx, held, fn, limit)
}
