package cmdio

import "testing"

func TestBuildString(t *testing.T) {
	for _, tc := range []struct {
		b          Build
		str, short string
	}{
		{Build{Version: "(devel)"}, "(devel)", "(devel)"},
		{Build{Version: "v1.2.3", Revision: "3f2c1a9e0b7d55aa", Time: "2026-12-07T21:00:00Z"}, "v1.2.3 (3f2c1a9e0b7d, 2026-12-07T21:00:00Z)", "v1.2.3-3f2c1a9e0b7d"},
		{Build{Version: "(devel)", Revision: "abc", Modified: true}, "(devel) (abc, modified)", "(devel)-abc+dirty"},
	} {
		if got := tc.b.String(); got != tc.str {
			t.Errorf("String() = %q, want %q", got, tc.str)
		}
		if got := tc.b.Short(); got != tc.short {
			t.Errorf("Short() = %q, want %q", got, tc.short)
		}
	}
}

// A test binary has build info: the version is never empty nor "dev".
func TestBuildInfo(t *testing.T) {
	b := BuildInfo()
	if b.Version == "" || b.Version == "dev" || b.Go == "" {
		t.Errorf("BuildInfo() = %+v", b)
	}
}
