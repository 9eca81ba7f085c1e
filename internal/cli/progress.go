package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// progress shows how far a long operation is: a redrawn bar on a
// terminal, a line every few seconds otherwise (logs, CI).
type progress struct {
	w     io.Writer
	label string
	total int
	n     int
	tty   bool
	last  time.Time
	start time.Time
}

func newProgress(w io.Writer, label string, total int) *progress {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &progress{w: w, label: label, total: total, tty: tty, start: time.Now()}
}

func (p *progress) set(n int) {
	p.n = n
	now := time.Now()
	interval := 5 * time.Second
	if p.tty {
		interval = 100 * time.Millisecond
	}
	if now.Sub(p.last) < interval && n < p.total {
		return
	}
	p.last = now
	p.draw()
}

func (p *progress) draw() {
	const width = 30
	filled := 0
	if p.total > 0 {
		filled = p.n * width / p.total
	}
	line := fmt.Sprintf("%s [%s%s] %d/%d", p.label, strings.Repeat("#", filled), strings.Repeat(" ", width-filled), p.n, p.total)
	if p.tty {
		fmt.Fprintf(p.w, "\r%s", line)
	} else {
		fmt.Fprintln(p.w, line)
	}
}

func (p *progress) done() {
	if p.tty {
		fmt.Fprintln(p.w)
	}
}
