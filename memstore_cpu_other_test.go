//go:build !linux

package ginsecure_test

import "time"

// threadCPU is not measured here: only Linux reports a thread's CPU time.
func threadCPU() time.Duration { return 0 }
