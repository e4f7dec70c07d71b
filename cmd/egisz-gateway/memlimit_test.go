package main

import (
	"io/fs"
	"testing"
)

func TestMemoryLimit(t *testing.T) {
	for _, tc := range []struct {
		name      string
		gomem     string
		cgroup    string // "" for no such file
		wantLimit int64
		wantFrom  string
	}{
		{"GOMEMLIMIT wins", "1GiB", "1073741824\n", 0, "GOMEMLIMIT"},
		{"a container's limit", "", "1073741824\n", 966367638, "9/10 of " + cgroupMemoryMax},
		{"a container without a limit", "", "max\n", defaultMemoryLimit, "default"},
		{"no cgroup v2", "", "", defaultMemoryLimit, "default"},
		{"garbage in the file", "", "lots", defaultMemoryLimit, "default"},
		{"zero", "", "0", defaultMemoryLimit, "default"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			getenv := func(k string) string {
				if k == "GOMEMLIMIT" {
					return tc.gomem
				}
				return ""
			}
			readFile := func(name string) ([]byte, error) {
				if name != cgroupMemoryMax || tc.cgroup == "" {
					return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
				}
				return []byte(tc.cgroup), nil
			}
			limit, from := memoryLimit(getenv, readFile)
			if limit != tc.wantLimit || from != tc.wantFrom {
				t.Errorf("memoryLimit = %d (%s), want %d (%s)", limit, from, tc.wantLimit, tc.wantFrom)
			}
		})
	}
}
