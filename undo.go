package ginsecure

import "context"

// undo is what an operation of several writes (Login, Renew) takes back
// when a later write fails: each step that commits something pushes what
// undoes it, and a failure runs the list newest first, so that each undo
// finds the state its step left.
type undo []func(context.Context)

// push adds the undo of a step that has just committed.
func (u *undo) push(f func(context.Context)) { *u = append(*u, f) }

// run takes everything back, newest first.
func (u undo) run(ctx context.Context) {
	for i := len(u) - 1; i >= 0; i-- {
		u[i](ctx)
	}
}
