package eos

import (
	"errors"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

func TestWhichFailuresANewSessionCanGoOnAfter(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"the coordinator went away mid-commit", sessionError{fmt.Errorf("end transaction: %w", errors.New("unable to dial: connection refused"))}, true},
		{"a transaction still open at begin", sessionError{errors.New("begin transaction: invalid attempt to begin a transaction while already in a transaction")}, true},
		{"fenced by another instance of our transactional id", sessionError{fmt.Errorf("end transaction: %w", kerr.ProducerFenced)}, false},
		// What the controller kill gave: the commit's answer was lost and
		// our epoch moved on without us; a new session learns it.
		{"our epoch moved on without us", sessionError{fmt.Errorf("end transaction: unable to commit transaction offsets: %w", kerr.InvalidProducerEpoch)}, true},
		{"not allowed to use the transactional id", sessionError{fmt.Errorf("begin transaction: %w", kerr.TransactionalIDAuthorizationFailed)}, false},
		{"not allowed in the group", sessionError{fmt.Errorf("end transaction: %w", kerr.GroupAuthorizationFailed)}, false},
		{"not a session's failure", fmt.Errorf("initialize transactional producer: %w", errors.New("unable to dial")), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := renewable(fmt.Errorf("stage x: %w", tc.err)); got != tc.want {
				t.Errorf("renewable: %v, want %v", got, tc.want)
			}
		})
	}
}
