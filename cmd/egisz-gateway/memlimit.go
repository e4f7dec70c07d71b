package main

import (
	"strconv"
	"strings"
)

// defaultMemoryLimit is the soft memory limit when neither GOMEMLIMIT nor a
// container's limit says otherwise. The gateway collects garbage rarely
// (GOGC 400): without a limit its heap grows to five times what is live,
// about 600 MiB with a million dedup keys whose live heap is 120 MiB. The
// limit is soft: above it the collector runs more often, nothing fails.
const defaultMemoryLimit = 448 << 20

// cgroupMemoryMax is where cgroup v2 says how much memory the container may use.
const cgroupMemoryMax = "/sys/fs/cgroup/memory.max"

// memoryLimit chooses the Go runtime's soft memory limit: none of ours when
// GOMEMLIMIT is set (the runtime read it already); nine tenths of the
// container's limit when there is one, leaving the rest to goroutine
// stacks and what the Go runtime does not count; and
// defaultMemoryLimit otherwise. readFile reads a file, as os.ReadFile does.
func memoryLimit(getenv env, readFile func(string) ([]byte, error)) (limit int64, from string) {
	if getenv("GOMEMLIMIT") != "" {
		return 0, "GOMEMLIMIT"
	}
	if b, err := readFile(cgroupMemoryMax); err == nil {
		s := strings.TrimSpace(string(b))
		if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 {
			return n / 10 * 9, "9/10 of " + cgroupMemoryMax
		}
	}
	return defaultMemoryLimit, "default"
}
