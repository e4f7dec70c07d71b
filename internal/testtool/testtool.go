// Package testtool finds the outside programs some tests use (kcat,
// promtool, java) and decides what a missing one means: a skip with the
// command that installs it on a developer's machine, a failure under CI.
package testtool

import (
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
)

// installHint tells how to get each tool on Debian.
var installHint = map[string]string{
	"kcat":     "apt-get install -y kcat",
	"promtool": "apt-get install -y prometheus",
	"java":     "apt-get install -y openjdk-17-jre-headless",
	"mvn":      "apt-get install -y maven",
}

// Require returns the path of the named program. When it is missing the
// test is skipped with the install command, or fails when CI=true, because
// CI must never pass by skipping.
func Require(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	hint := installHint[name]
	if hint == "" {
		hint = "install " + name
	}
	if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
		t.Fatalf("%s is missing and CI=true: run `%s`", name, hint)
	}
	t.Skipf("%s is missing: run `%s` to run this test", name, hint)
	return ""
}

// FreeAddr returns a loopback address with a port that was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}
