package cmdio

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Progress shows how far a long operation is: a redrawn bar on a
// terminal, a line every few seconds otherwise (logs, CI).
type Progress struct {
	w     io.Writer
	label string
	total int
	n     int
	tty   bool
	last  time.Time
	start time.Time
}

// NewProgress starts a display of an operation of total steps on w.
func NewProgress(w io.Writer, label string, total int) *Progress {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &Progress{w: w, label: label, total: total, tty: tty, start: time.Now()}
}

// Set records that n of the total steps are done.
func (p *Progress) Set(n int) {
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

func (p *Progress) draw() {
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

// Done ends the display.
func (p *Progress) Done() {
	if p.tty {
		fmt.Fprintln(p.w)
	}
}

// ShowProgress draws a progress bar of a phase of length total on w (in
// milliseconds) until the returned function is called.
func ShowProgress(w io.Writer, label string, total time.Duration) (stop func()) {
	p := NewProgress(w, label+" (ms)", int(total/time.Millisecond))
	start := time.Now()
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			p.Set(min(int(time.Since(start)/time.Millisecond), p.total-1))
			select {
			case <-quit:
				p.Set(min(int(time.Since(start)/time.Millisecond), p.total))
				p.Done()
				return
			case <-tick.C:
			}
		}
	}()
	return func() { close(quit); <-done }
}
