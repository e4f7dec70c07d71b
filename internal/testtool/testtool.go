// Package testtool finds the outside programs some tests use (kcat,
// promtool, java) and decides what a missing one means: a skip with the
// command that installs it on a developer's machine, a failure under CI.
package testtool

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// installHint tells how to get each tool on Debian.
var installHint = map[string]string{
	"kcat":     "apt-get install -y kcat",
	"promtool": "apt-get install -y prometheus",
	"java":     "apt-get install -y openjdk-17-jre-headless",
	"mvn":      "apt-get install -y maven",
	"openssl":  "apt-get install -y openssl",
	"xmlsec1":  "apt-get install -y xmlsec1",
}

// RequireOpenSSLGost returns the path of openssl once it has loaded its
// ГОСТ engine (libengine-gost-openssl), the implementation nobody here
// wrote that the project's ГОСТ code must agree with. Without it the test
// is skipped with the install command, or fails when CI=true.
func RequireOpenSSLGost(t testing.TB) string {
	t.Helper()
	p := Require(t, "openssl")
	out, err := exec.Command(p, "engine", "gost").CombinedOutput()
	if err == nil && strings.Contains(string(out), "gost") {
		return p
	}
	const hint = "apt-get install -y openssl libengine-gost-openssl"
	if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
		t.Fatalf("OpenSSL's ГОСТ engine is not available and CI=true (%v: %s): run `%s`", err, bytes.TrimSpace(out), hint)
	}
	t.Skipf("OpenSSL's ГОСТ engine is not available (%v: %s): run `%s` to run this test", err, bytes.TrimSpace(out), hint)
	return ""
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

// RunOpenSSL runs openssl with args in dir (the current one when empty)
// and returns its standard output, or an error holding its standard error.
func RunOpenSSL(dir string, args ...string) ([]byte, error) {
	cmd := exec.Command("openssl", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%v: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	return out, nil
}

// OpenSSL is RunOpenSSL that fails the test on an error.
func OpenSSL(t testing.TB, dir string, args ...string) []byte {
	t.Helper()
	out, err := RunOpenSSL(dir, args...)
	if err != nil {
		t.Fatalf("openssl %s: %v", strings.Join(args, " "), err)
	}
	return out
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

// SharedFile returns the path of a file under ../shared (beside the
// repository), where the project's shared test vectors live. It fails the
// test when the file is not there: the vectors are part of the suite.
func SharedFile(t testing.TB, rel string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("no go.mod above the test's directory")
		}
		dir = parent
	}
	p := filepath.Join(dir, "..", "shared", rel)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("shared test data %s: %v (the repository's sibling folder shared/ must be present)", rel, err)
	}
	return p
}
