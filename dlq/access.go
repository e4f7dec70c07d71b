package dlq

import (
	"errors"
	"fmt"
	"slices"
)

// Role is what an operator may do with dead letters.
type Role string

// Roles, from the least to the most trusted with data:
//   - viewer lists and shows records, masked;
//   - auditor also reveals personal data and reads the audit log, but
//     changes nothing;
//   - operator lists, shows, reveals, replays and purges.
const (
	RoleViewer   Role = "viewer"
	RoleOperator Role = "operator"
	RoleAuditor  Role = "auditor"
)

// Action is one operation on dead letters, as the audit log names it.
type Action string

// Actions.
const (
	ActList   Action = "list"
	ActShow   Action = "show"
	ActReveal Action = "reveal"
	ActReplay Action = "replay"
	ActPurge  Action = "purge"
	ActAudit  Action = "audit" // read the audit log
)

var permissions = map[Role][]Action{
	RoleViewer:   {ActList, ActShow},
	RoleAuditor:  {ActList, ActShow, ActReveal, ActAudit},
	RoleOperator: {ActList, ActShow, ActReveal, ActReplay, ActPurge},
}

// ParseRole checks a role's name.
func ParseRole(s string) (Role, error) {
	if _, ok := permissions[Role(s)]; !ok {
		return "", fmt.Errorf("role %q is not one of viewer, operator, auditor", s)
	}
	return Role(s), nil
}

// May reports whether the role allows the action.
func (r Role) May(a Action) bool { return slices.Contains(permissions[r], a) }

// Actor is who asks: a name for the audit log, a role for what is allowed,
// and the way in (cli, or api with the client's address).
type Actor struct {
	Name string
	Role Role
	Via  string
}

// ErrDenied is returned (wrapped in *DeniedError) when the actor's role
// does not allow the action. The refusal is in the audit log.
var ErrDenied = errors.New("not allowed")

// DeniedError says who was refused what.
type DeniedError struct {
	Actor  Actor
	Action Action
}

func (e *DeniedError) Error() string {
	return fmt.Sprintf("%s (role %s) may not %s: %v", e.Actor.Name, e.Actor.Role, e.Action, ErrDenied)
}

func (e *DeniedError) Unwrap() error { return ErrDenied }

// ErrNotFound is returned for a record id that names no record.
var ErrNotFound = errors.New("no such dead-letter record")

// ErrBadRequest wraps a mistake in what was asked: a filter that cannot
// be right, a purge without a reason.
var ErrBadRequest = errors.New("bad request")

func badRequest(err error) error { return fmt.Errorf("%w: %w", ErrBadRequest, err) }
