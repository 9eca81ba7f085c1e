package api

import (
	"fmt"
	"strings"
	"unicode"
)

// Roles of the admin client's keys, weakest first. The request policy
// (internal/ops, policy.go) checks them on every route of every replica.
const (
	// RoleViewer reads everything operational and changes nothing.
	RoleViewer = "viewer"
	// RoleOperator also runs the controls of the day: pausing sinks,
	// revoking keys, room states, emergency plans, approvals of operator
	// changes.
	RoleOperator = "operator"
	// RoleAdmin may do everything (the key of admin.key).
	RoleAdmin = "admin"
)

// Roles lists the roles, weakest first.
var Roles = []string{RoleViewer, RoleOperator, RoleAdmin}

// ValidRole reports whether role is one of Roles.
func ValidRole(role string) bool { return RoleRank(role) > 0 }

// RoleRank orders roles: 1 viewer, 2 operator, 3 admin, 0 unknown.
func RoleRank(role string) int {
	for i, r := range Roles {
		if r == role {
			return i + 1
		}
	}
	return 0
}

// maxLabel bounds a key's label.
const maxLabel = 100

// CheckLabel refuses a label that is too long or holds control characters.
func CheckLabel(label string) error {
	if len(label) > maxLabel {
		return fmt.Errorf("a label has at most %d bytes", maxLabel)
	}
	if strings.IndexFunc(label, unicode.IsControl) >= 0 {
		return fmt.Errorf("a label may not hold control characters")
	}
	return nil
}

// SamePerson reports whether two labels name the same person: equal after
// trimming and folding case. Empty labels name nobody in particular.
func SamePerson(a, b string) bool {
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	return a != "" && strings.EqualFold(a, b)
}
