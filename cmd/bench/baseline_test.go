package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// baselineRepo is the repository's root when git is at hand and holds the
// baseline commit (a shallow clone does not); the test is skipped otherwise.
func baselineRepo(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed: sudo apt-get install -y git")
	}
	ctx := context.Background()
	root, err := repoRoot(ctx)
	if err != nil {
		t.Skipf("not in a git checkout: %v", err)
	}
	if _, err := git(ctx, root, nil, "rev-parse", "--verify", baselineCommit+"^{commit}"); err != nil {
		t.Skipf("the checkout does not hold %s (a shallow clone? git fetch --unshallow): %v", baselineCommit, err)
	}
	return root
}

// The overlay applies to the baseline commit's tree, checked in a
// scratch index so that nothing is checked out.
func TestBaselinePatchApplies(t *testing.T) {
	root := baselineRepo(t)
	ctx := context.Background()
	index := filepath.Join(t.TempDir(), "index")
	env := append(os.Environ(), "GIT_INDEX_FILE="+index)
	for _, args := range [][]string{{"read-tree", baselineCommit}, {"apply", "--cached", "--check", "-"}} {
		cmd := exec.CommandContext(ctx, "git", args...)
		cmd.Dir, cmd.Env = root, env
		if args[0] == "apply" {
			cmd.Stdin = strings.NewReader(string(baselinePatch))
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	// The overlay's scenarios are the ones runBaseline asks for.
	for _, s := range baselineScenarios {
		if !strings.Contains(string(baselinePatch), `{"`+s+`", func`) {
			t.Errorf("the overlay adds no scenario %q", s)
		}
	}
}

// Another commit than the overlay's, or none, is refused before any
// worktree is made.
func TestBaselineRefusesOtherRevisions(t *testing.T) {
	root := baselineRepo(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, tc := range []struct {
		rev     string
		wantErr error
	}{
		{baselineCommit + "~1", errBaselineRevision},
		{"no-such-revision-at-all", nil},
	} {
		t.Run(tc.rev, func(t *testing.T) {
			_, _, err := runBaseline(ctx, root, tc.rev, 10, os.Stderr)
			if err == nil {
				t.Fatal("no error")
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("err = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

// The overlay's JSON, written by the old bench, reads back into this
// tree's result, the two scenarios in their order; anything else is an
// error.
func TestBaselineResults(t *testing.T) {
	const two = `[{"Name":"normalize alone, documents only","Events":1000,"Seconds":2,"Rate":500,"CPUPerEv":150000,"Cores":{"Gateway":0.8,"Bench":0.5,"Broker":0.3,"Rest":0.1},"RawRate":9000,"Report":{"sent":1000,"registries":{}}},` +
		`{"Name":"normalize and forward, documents only","Events":1000,"Seconds":4,"Rate":250,"CPUPerEv":350000,"RawRate":8000,"Report":{"sent":1000,"registries":{"remd:registered":990},"outcomes_as_expected":true}}]`
	alone, fwd, err := baselineResults([]byte(two))
	if err != nil {
		t.Fatal(err)
	}
	base := remdRun{Alone: alone, Forward: fwd}
	if alone.CPUPerEv != 150*time.Microsecond || alone.Cores.Gateway != 0.8 || fwd.RawRate != 8000 || !fwd.Report.OutcomesOK {
		t.Errorf("read %+v and %+v", alone, fwd)
	}
	if got, want := base.registered(), 990; got != want {
		t.Errorf("registered = %d, want %d", got, want)
	}
	if got, want := base.registrationCPU(), (350*time.Millisecond-150*time.Millisecond)/990; got != want {
		t.Errorf("registrationCPU = %v, want %v", got, want)
	}
	for name, bad := range map[string]string{
		"not JSON":           `Benchmarks`,
		"one scenario":       `[{"Name":"a","Events":1,"CPUPerEv":1}]`,
		"no CPU measured":    `[{"Name":"a","Events":1,"CPUPerEv":1},{"Name":"b","Events":1}]`,
		"no events measured": `[{"Name":"a","CPUPerEv":1},{"Name":"b","Events":1,"CPUPerEv":1}]`,
	} {
		if _, _, err := baselineResults([]byte(bad)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
