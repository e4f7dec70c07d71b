package main

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The baseline is the РЭМД scenario run again on an older commit of this
// repository, in the same session, on the same broker: 557fb68 by default,
// the last commit before issue 31, whose РЭМД spoke the JSON shape the
// project had invented (registerDocument and a JSON callback, no file
// request, no signatures on the wire). That commit's cmd/bench has no
// documents-only scenario, so an overlay adds one: baselinePatch, applied
// with `git apply` to a temporary worktree of the commit, adds the
// scenarios remd-normalize and remd (its throughput with the same
// documents-only filter as this tree's) and writes its results as JSON
// when --out names a .json file. The old bench builds and runs its own
// gateway and registry emulator, exactly as it did then.

// baselineCommit is the commit the overlay is made for, and the default
// of --baseline.
const baselineCommit = "557fb68"

// baselinePatch is the overlay, made with `git diff` in a worktree of
// baselineCommit; `git apply --check` in its test says it still applies.
//
//go:embed baseline/557fb68.patch
var baselinePatch []byte

// errBaselineRevision is the error of a --baseline the overlay was not
// made for.
var errBaselineRevision = errors.New("the overlay (cmd/bench/baseline/557fb68.patch) is made for " + baselineCommit)

// baselineScenarios are the overlay's scenarios, in the order they run:
// the documents normalized alone, then normalized and forwarded.
var baselineScenarios = [2]string{"remd-normalize", "remd"}

// runBaseline runs the РЭМД scenario with n documents on commit rev of
// the repository at root and returns its two results, normalize alone and
// normalize and forward. The old bench's log goes to logw. The worktree
// and its build are removed afterwards.
func runBaseline(ctx context.Context, root, rev string, n int, logw io.Writer) (alone, forward result, err error) {
	full, err := git(ctx, root, nil, "rev-parse", "--verify", rev+"^{commit}")
	if err != nil {
		return alone, forward, fmt.Errorf("baseline %s: %w", rev, err)
	}
	if !strings.HasPrefix(full, baselineCommit) {
		return alone, forward, fmt.Errorf("baseline %s (%s): %w", rev, full[:min(len(full), 12)], errBaselineRevision)
	}
	tmp, err := os.MkdirTemp("", "egisz-bench-baseline-")
	if err != nil {
		return alone, forward, fmt.Errorf("baseline: %w", err)
	}
	defer os.RemoveAll(tmp)
	tree := filepath.Join(tmp, "tree")
	if _, err := git(ctx, root, nil, "worktree", "add", "--detach", tree, full); err != nil {
		return alone, forward, fmt.Errorf("baseline worktree: %w", err)
	}
	defer func() {
		// Removed with a fresh context: the run's may be cancelled.
		rctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := git(rctx, root, nil, "worktree", "remove", "--force", tree); err != nil {
			fmt.Fprintln(logw, "bench: remove the baseline worktree:", err)
		}
	}()
	if _, err := git(ctx, tree, baselinePatch, "apply", "-"); err != nil {
		return alone, forward, fmt.Errorf("baseline overlay: %w", err)
	}
	bin := filepath.Join(tmp, "bench")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/bench")
	build.Dir = tree
	if out, err := build.CombinedOutput(); err != nil {
		return alone, forward, fmt.Errorf("baseline: go build ./cmd/bench at %s: %v\n%s", rev, err, out)
	}
	out := filepath.Join(tmp, "results.json")
	cmd := exec.CommandContext(ctx, bin, "-only", strings.Join(baselineScenarios[:], ","),
		"-events", strconv.Itoa(n), "-out", out)
	// The old bench builds its gateway from ./cmd/egisz-gateway, so it runs
	// in the worktree; the broker's address and processes come with the
	// environment (kafka-local's). Interrupted, it stops its gateway.
	cmd.Dir, cmd.Stdout, cmd.Stderr = tree, logw, logw
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGINT) }
	cmd.WaitDelay = 30 * time.Second
	if err := cmd.Run(); err != nil {
		return alone, forward, fmt.Errorf("baseline bench at %s: %w", rev, err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return alone, forward, fmt.Errorf("baseline results: %w", err)
	}
	return baselineResults(b)
}

// baselineResults reads the overlay's JSON: its results, which have the
// fields of this tree's result that existed then.
func baselineResults(b []byte) (alone, forward result, err error) {
	var rs []result
	if err := json.Unmarshal(b, &rs); err != nil {
		return alone, forward, fmt.Errorf("baseline results: %w", err)
	}
	if len(rs) != len(baselineScenarios) {
		return alone, forward, fmt.Errorf("baseline results: %d scenarios, want %d (%s)", len(rs), len(baselineScenarios), strings.Join(baselineScenarios[:], ", "))
	}
	for _, r := range rs {
		if r.Events <= 0 || r.CPUPerEv <= 0 {
			return alone, forward, fmt.Errorf("baseline results: %q measured no events or no CPU", r.Name)
		}
	}
	return rs[0], rs[1], nil
}

// git runs git in dir with stdin, and returns its trimmed output.
func git(ctx context.Context, dir string, stdin []byte, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// repoRoot is the top of the repository the bench runs in.
func repoRoot(ctx context.Context) (string, error) {
	return git(ctx, ".", nil, "rev-parse", "--show-toplevel")
}
