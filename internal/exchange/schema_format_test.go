package exchange

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// formatEdges are edge cases of date, date-time and time.
var formatEdges = []string{
	"2026-02-08", "2026-02-29", "2028-02-29", "2000-02-29", "1900-02-29", "0000-02-29", "9999-12-31",
	"2026-04-31", "2026-13-01", "2026-00-10", "2026-01-00", "2026-1-01", "2026-01-1", "+026-01-01",
	"2026-01-01 ", "2026/01/01", "２026-01-01", "",
	"2026-02-08T06:00:00Z", "2026-02-08t06:00:00z", "2026-02-08T06:00:00.123456789Z", "2026-02-08T06:00:00.Z",
	"2026-02-08T06:00:00+01:00", "2026-02-08T06:00:00-23:59", "2026-02-08T06:00:00+24:00", "2026-02-08T06:00:00+01:60",
	"2026-02-08T06:00:00+0100", "2026-02-08T06:00:00", "2026-02-08 06:00:00Z", "2026-02-08T24:00:00Z",
	"2026-02-08T23:60:00Z", "2026-12-31T23:59:60Z", "2026-12-31T23:59:61Z", "2026-06-30T22:59:60-01:00",
	"2026-06-30T23:59:60+01:00", "2026-06-30T00:59:60+01:00", "2026-02-30T06:00:00Z", "2026-02-08T06:00:00.5+01:00",
	"2026-02-08T6:00:00Z", "2026-02-08T06:00:00ZZ", "2026-02-08T+6:00:00Z", "2026-02-08T06:+0:00Z",
	"06:00:00Z", "06:00:00z", "23:59:60Z", "23:59:60+00:00", "00:59:60+01:00", "06:00:00.1-05:30",
	"06:00:00", "6:00:00Z", "06:00:00.Z", "25:00:00Z", "06:00:00+1:00", "06:00:00+01:0", "-6:00:00Z",
}

// TestFastFormatsAgreeWithLibrary holds the fast path's date, date-time
// and time to the library's own check on edge cases and on generated
// strings around every field's range.
func TestFastFormatsAgreeWithLibrary(t *testing.T) {
	rng := rand.New(rand.NewPCG(18, 6))
	c := &fastCompiler{format: map[string]*jsonschema.Schema{}}
	for _, name := range []string{"date", "date-time", "time"} {
		full, err := c.formatChecker(name)
		if err != nil {
			t.Fatal(err)
		}
		fc := newFormatCheck(name, full)
		if fc.sure == nil || fc.lib == nil {
			t.Fatalf("%s: not on the fast path", name)
		}
		cases := append([]string(nil), formatEdges...)
		for range 50000 {
			dt := genDateTime(rng)
			switch name {
			case "date":
				dt = dt[:min(len(dt), 10)]
			case "time":
				dt = dt[min(len(dt), 11):]
			}
			if rng.IntN(5) == 0 {
				dt = string(mutate(rng, []byte(dt), []byte("0123456789:-+.TtZz x\xc3")))
			}
			cases = append(cases, dt)
		}
		sure := 0
		for _, s := range cases {
			want := full.Validate(s) == nil
			if got := fc.valid([]byte(s), "", false); got != want {
				t.Fatalf("%s %q: fast path %v, the library %v", name, s, got, want)
			}
			if got := fc.valid([]byte(s), s, true); got != want {
				t.Fatalf("%s %q (unescaped): fast path %v, the library %v", name, s, got, want)
			}
			if fc.sure([]byte(s)) {
				sure++
			}
		}
		if sure < len(cases)/10 {
			t.Errorf("%s: only %d of %d strings decided without the library", name, sure, len(cases))
		}
	}
}

func genDateTime(rng *rand.Rand) string {
	pick := func(list ...string) string { return list[rng.IntN(len(list))] }
	num := func(hi int) string { return fmt.Sprintf("%02d", rng.IntN(hi+1)) }
	year := pick("0000", "1900", "2000", "2024", "2026", "9999", fmt.Sprintf("%04d", rng.IntN(10000)))
	s := year + "-" + num(13) + "-" + num(32) + pick("T", "T", "t", " ", "x") +
		num(25) + ":" + num(61) + ":" + pick(num(61), "59", "60") +
		pick("", "", ".", ".1", ".123456789", ".x") +
		pick("Z", "Z", "z", "", "+"+num(25)+":"+num(61), "-"+num(25)+":"+num(61), "+0100", "+01:00x", "-23:59")
	return s
}

// FuzzFastFormats holds date, date-time and time to the library's check
// on any string.
func FuzzFastFormats(f *testing.F) {
	c := &fastCompiler{format: map[string]*jsonschema.Schema{}}
	var checks []*formatCheck
	var fulls []*jsonschema.Schema
	for _, name := range []string{"date", "date-time", "time"} {
		full, err := c.formatChecker(name)
		if err != nil {
			f.Fatal(err)
		}
		checks, fulls = append(checks, newFormatCheck(name, full)), append(fulls, full)
	}
	for _, s := range formatEdges {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for i, fc := range checks {
			if got, want := fc.valid([]byte(s), "", false), fulls[i].Validate(s) == nil; got != want {
				t.Fatalf("format %d on %q: fast path %v, the library %v", i, s, got, want)
			}
		}
	})
}
