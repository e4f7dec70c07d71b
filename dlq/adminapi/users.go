// Package adminapi is the admin HTTP API over the dead-letter operations
// of package dlq: list, show, replay, purge and the audit log, as JSON,
// for callers authenticated by a bearer token or a client certificate.
package adminapi

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/egisz-gateway/egisz-gateway/dlq"
)

// User is one caller of the users file.
type User struct {
	Name string
	Role dlq.Role
	// tokenHash is the SHA-256 of the bearer token; empty for a user who
	// comes with a client certificate only.
	tokenHash []byte
	mTLS      bool
}

// Users are the callers the API knows.
type Users struct {
	users []User
}

// LoadUsers reads the users file: one caller a line, `<name> <role>
// <credential>`, where the credential is sha256:<hex of the token's
// SHA-256>, token:<the token itself> (for tests and trials), or mtls (the
// caller's client certificate has <name> as its common name). Blank lines
// and lines starting with # are skipped. A mistake names its line.
func LoadUsers(path string) (*Users, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("admin users file: %w", err)
	}
	u := &Users{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	seen := map[string]bool{}
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 {
			return nil, fmt.Errorf("admin users file %s:%d: want `<name> <role> <credential>`, got %d fields", path, n, len(f))
		}
		role, err := dlq.ParseRole(f[1])
		if err != nil {
			return nil, fmt.Errorf("admin users file %s:%d: %w", path, n, err)
		}
		user := User{Name: f[0], Role: role}
		switch cred := f[2]; {
		case cred == "mtls":
			user.mTLS = true
		case strings.HasPrefix(cred, "sha256:"):
			h, err := hex.DecodeString(cred[len("sha256:"):])
			if err != nil || len(h) != sha256.Size {
				return nil, fmt.Errorf("admin users file %s:%d: sha256: wants 64 hex digits", path, n)
			}
			user.tokenHash = h
		case strings.HasPrefix(cred, "token:") && len(cred) > len("token:"):
			h := sha256.Sum256([]byte(cred[len("token:"):]))
			user.tokenHash = h[:]
		default:
			return nil, fmt.Errorf("admin users file %s:%d: credential must be sha256:<hex>, token:<token> or mtls", path, n)
		}
		if seen[user.Name] {
			return nil, fmt.Errorf("admin users file %s:%d: %s appears twice", path, n, user.Name)
		}
		seen[user.Name] = true
		u.users = append(u.users, user)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("admin users file %s: %w", path, err)
	}
	if len(u.users) == 0 {
		return nil, fmt.Errorf("admin users file %s: no users: nobody could call the API", path)
	}
	return u, nil
}

// Authenticate returns the caller of r: a verified client certificate
// whose common name is an mtls user, or a bearer token of a user. Every
// user's token is compared, in constant time, so timing does not tell
// which prefix matched.
func (u *Users) Authenticate(r *http.Request) (User, bool) {
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
		cn := r.TLS.VerifiedChains[0][0].Subject.CommonName
		for _, user := range u.users {
			if user.mTLS && user.Name == cn {
				return user, true
			}
		}
	}
	// The scheme's name is case-insensitive (RFC 9110 §11.1).
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return User{}, false
	}
	h := sha256.Sum256([]byte(token))
	var found User
	match := 0
	for _, user := range u.users {
		if len(user.tokenHash) == sha256.Size && subtle.ConstantTimeCompare(user.tokenHash, h[:]) == 1 {
			found, match = user, 1
		}
	}
	return found, match == 1
}
