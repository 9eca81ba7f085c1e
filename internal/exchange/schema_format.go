package exchange

import (
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Formats on the fast path. Asking the library's compiled {"format": X}
// schema to validate each string ran a whole validation per string (4.5%
// of the server's CPU in phase (c) of `stadion bench exchange`). For
// date, date-time and time the fast path now calls the library's own
// format function (jsonschema.Schema.Format.Validate, the function the
// library's validator calls) and, before it, a byte check that only ever
// answers "surely valid": for the canonical shapes (2026-02-08,
// 2026-02-08T06:00:00.123Z, 06:00:00+01:00) with every field in range and
// no leap second, the library's checks (v6.0.3, format.go: validateDate is
// time.Parse("2006-01-02"), validateTime and validateDateTime parse the
// fields as below) accept the string; anything else (another shape, a
// second of 60, an out-of-range field) is decided by the library's
// function. TestFastFormatsAgreeWithLibrary holds this on edge cases and
// generated strings.

// formatCheck is a format on the fast path.
type formatCheck struct {
	sure func([]byte) bool // surely valid (false: ask lib)
	lib  func(any) error   // the library's format function
	full *jsonschema.Schema
}

// valid reports whether s (raw: its bytes) is of the format.
func (f *formatCheck) valid(raw []byte, s string, have bool) bool {
	if f.sure != nil && f.sure(raw) {
		return true
	}
	if !have {
		s = string(raw)
	}
	if f.lib != nil {
		return f.lib(s) == nil
	}
	return f.full.Validate(s) == nil
}

// newFormatCheck wraps the library's schema {"format": name}.
func newFormatCheck(name string, full *jsonschema.Schema) *formatCheck {
	f := &formatCheck{full: full}
	if full.Format == nil || full.Format.Name != name {
		return f
	}
	switch name {
	case "date":
		f.sure, f.lib = sureDate, full.Format.Validate
	case "date-time":
		f.sure, f.lib = sureDateTime, full.Format.Validate
	case "time":
		f.sure, f.lib = sureTime, full.Format.Validate
	}
	return f
}

func digits2(b []byte, i int) (int, bool) {
	if b[i] < '0' || b[i] > '9' || b[i+1] < '0' || b[i+1] > '9' {
		return 0, false
	}
	return int(b[i]-'0')*10 + int(b[i+1]-'0'), true
}

// sureDate: yyyy-mm-dd, month 01-12, day 01 to the month's last day.
func sureDate(b []byte) bool {
	if len(b) != 10 || b[4] != '-' || b[7] != '-' {
		return false
	}
	hi, ok1 := digits2(b, 0)
	lo, ok2 := digits2(b, 2)
	m, ok3 := digits2(b, 5)
	d, ok4 := digits2(b, 8)
	if !ok1 || !ok2 || !ok3 || !ok4 || m < 1 || m > 12 || d < 1 {
		return false
	}
	return d <= daysIn(m, hi*100+lo)
}

func daysIn(m, y int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// sureTime: hh:mm:ss[.f+](Z|z|±hh:mm), hour ≤ 23, minute ≤ 59, second ≤
// 59 (a leap second is the library's to decide), offset ≤ 23:59.
func sureTime(b []byte) bool {
	if len(b) < 9 || b[2] != ':' || b[5] != ':' {
		return false
	}
	h, ok1 := digits2(b, 0)
	m, ok2 := digits2(b, 3)
	s, ok3 := digits2(b, 6)
	if !ok1 || !ok2 || !ok3 || h > 23 || m > 59 || s > 59 {
		return false
	}
	b = b[8:]
	if len(b) > 0 && b[0] == '.' {
		n := 1
		for n < len(b) && b[n] >= '0' && b[n] <= '9' {
			n++
		}
		if n == 1 {
			return false
		}
		b = b[n:]
	}
	if len(b) == 1 {
		return b[0] == 'Z' || b[0] == 'z'
	}
	if len(b) != 6 || b[0] != '+' && b[0] != '-' || b[3] != ':' {
		return false
	}
	zh, ok1 := digits2(b, 1)
	zm, ok2 := digits2(b, 4)
	return ok1 && ok2 && zh <= 23 && zm <= 59
}

// sureDateTime: a sure date, T or t, a sure time.
func sureDateTime(b []byte) bool {
	return len(b) >= 20 && (b[10] == 'T' || b[10] == 't') && sureDate(b[:10]) && sureTime(b[11:])
}
