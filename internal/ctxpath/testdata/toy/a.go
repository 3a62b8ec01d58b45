// Package toy is the ctxpath tool's test input: a Handle that passes its
// *gin.Context through a carrier struct, a closure and a helper that a
// second call reaches again.
package toy

import "github.com/gin-gonic/gin"

type state struct{ c *gin.Context }

type guard struct{}

// Handle is the entry.
func Handle(c *gin.Context) {
	st := &state{c: c}
	first(c)  // b.go
	st.step() // a.go: a return to a.go
	noCtx(1)  // no context: not followed
	later := func() { first(c) }
	_ = later // a literal not called here: not entered
	first(c)  // visited already: adds nothing
	var g guard
	g.handler()(c) // a call of a function value: not followed
}

func (st *state) step() { third(st.c) }

func noCtx(int) {}

func (guard) handler() gin.HandlerFunc {
	return func(c *gin.Context) { first(c); st := &state{c: c}; st.step() }
}
