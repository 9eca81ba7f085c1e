package api

import (
	"context"
	"testing"
)

// TestKeyRoles: admin keys carry a role and a label that every replica
// reads back from the bucket; the admin.key record is an admin; other
// clients have no role and cannot be given one.
func TestKeyRoles(t *testing.T) {
	n := startNode(t, t.TempDir())
	ctx := context.Background()
	key, rec, err := n.keys.CreateLabelled(ctx, AdminClient, RoleOperator, "Li Wei")
	if err != nil {
		t.Fatal(err)
	}
	got, err := n.keys.Lookup(key)
	if err != nil || got.AdminRole() != RoleOperator || got.Label != "Li Wei" || got.ID != rec.ID {
		t.Fatalf("lookup: %+v %v", got, err)
	}
	p := PrincipalOf(got, nil)
	if p.Role != RoleOperator || p.Label != "Li Wei" || !p.Admin() {
		t.Errorf("principal %+v", p)
	}
	plain, _, err := n.keys.Create(ctx, AdminClient)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := n.keys.Lookup(plain); r.AdminRole() != RoleAdmin {
		t.Errorf("a key made without a role is %q, want admin", r.AdminRole())
	}
	if _, _, err := n.keys.CreateLabelled(ctx, "odf", RoleAdmin, ""); err == nil {
		t.Error("a client key was given a role")
	}
	if _, _, err := n.keys.CreateLabelled(ctx, AdminClient, "root", ""); err == nil {
		t.Error("an unknown role was accepted")
	}
	if r, _, _ := n.keys.CreateLabelled(ctx, "odf", "", "results feed"); r == "" {
		t.Error("a labelled client key was refused")
	}
}

func TestSamePerson(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want bool
	}{{"Li Wei", " li wei ", true}, {"Li Wei", "Anna K", false}, {"", "", false}, {"", "Anna", false}} {
		if got := SamePerson(tt.a, tt.b); got != tt.want {
			t.Errorf("SamePerson(%q, %q) = %v", tt.a, tt.b, got)
		}
	}
	if CheckLabel("ok name") != nil || CheckLabel("bad\nname") == nil {
		t.Error("CheckLabel")
	}
}
