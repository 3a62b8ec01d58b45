//go:build linux

package redisstore_test

import (
	"syscall"
	"time"
)

// processCPU is the CPU time this process has used (user and system, all
// its threads): unlike the wall clock, it does not count the time a busy
// machine kept it off the CPU.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
