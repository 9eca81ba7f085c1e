package inspect

import (
	"fmt"
	"strconv"
	"strings"
)

// sizeOpt is one size-valued JVM option: its value and where it was set.
type sizeOpt struct {
	set    bool
	bytes  int64
	text   string // as written: "-Xmx2g"
	source string
}

// pctOpt is one percentage-valued JVM option.
type pctOpt struct {
	set    bool
	pct    float64
	text   string
	source string
}

// jvmOptions are the memory-relevant HotSpot options in effect, the last
// occurrence of each winning as in the JVM.
type jvmOptions struct {
	MaxHeap, InitialHeap, MaxRAM       sizeOpt
	Xss, Metaspace, CodeCache, Direct  sizeOpt
	MaxPct, MinPct, InitPct            pctOpt
	ContainerSupport                   *bool
	ContainerSupportText, ContainerSrc string
	Invalid                            []string // options the JVM refuses to start with
	Dynamic                            []string // memory options whose value is computed at run time
	ArgFiles                           []string // @argfiles and -XX:Flags=: contents not in the manifests
}

// parseJVMOptions reads the options in order; later ones override earlier
// ones. Words that are not memory options are ignored.
func parseJVMOptions(words []word) jvmOptions {
	var o jvmOptions
	for _, w := range words {
		o.apply(w)
	}
	return o
}

func (o *jvmOptions) apply(w word) {
	t := w.text
	switch {
	case strings.HasPrefix(t, "@"):
		o.ArgFiles = append(o.ArgFiles, t)
		return
	case strings.HasPrefix(t, "-XX:Flags="), strings.HasPrefix(t, "-XX:VMOptionsFile="):
		o.ArgFiles = append(o.ArgFiles, t)
		return
	case t == "-XX:+UseContainerSupport" || t == "-XX:-UseContainerSupport":
		on := t[4] == '+'
		o.ContainerSupport, o.ContainerSupportText, o.ContainerSrc = &on, t, w.source
		return
	}
	for _, s := range jvmSizeFlags {
		if v, ok := strings.CutPrefix(t, s.prefix); ok {
			o.setSize(s.field(o), w, v, s.unit)
			return
		}
	}
	for _, p := range jvmPctFlags {
		if v, ok := strings.CutPrefix(t, p.prefix); ok {
			o.setPct(p.field(o), w, v, p.fraction)
			return
		}
	}
}

var jvmSizeFlags = []struct {
	prefix string
	unit   int64 // multiplier for a bare number (ThreadStackSize is in KiB)
	field  func(*jvmOptions) *sizeOpt
}{
	{"-Xmx", 1, func(o *jvmOptions) *sizeOpt { return &o.MaxHeap }},
	{"-XX:MaxHeapSize=", 1, func(o *jvmOptions) *sizeOpt { return &o.MaxHeap }},
	{"-Xms", 1, func(o *jvmOptions) *sizeOpt { return &o.InitialHeap }},
	{"-XX:InitialHeapSize=", 1, func(o *jvmOptions) *sizeOpt { return &o.InitialHeap }},
	{"-XX:MaxRAM=", 1, func(o *jvmOptions) *sizeOpt { return &o.MaxRAM }},
	{"-Xss", 1, func(o *jvmOptions) *sizeOpt { return &o.Xss }},
	{"-XX:ThreadStackSize=", KiB, func(o *jvmOptions) *sizeOpt { return &o.Xss }},
	{"-XX:MaxMetaspaceSize=", 1, func(o *jvmOptions) *sizeOpt { return &o.Metaspace }},
	{"-XX:ReservedCodeCacheSize=", 1, func(o *jvmOptions) *sizeOpt { return &o.CodeCache }},
	{"-XX:MaxDirectMemorySize=", 1, func(o *jvmOptions) *sizeOpt { return &o.Direct }},
}

var jvmPctFlags = []struct {
	prefix   string
	fraction bool // the deprecated *RAMFraction flags: percent = 100 / n
	field    func(*jvmOptions) *pctOpt
}{
	{"-XX:MaxRAMPercentage=", false, func(o *jvmOptions) *pctOpt { return &o.MaxPct }},
	{"-XX:MinRAMPercentage=", false, func(o *jvmOptions) *pctOpt { return &o.MinPct }},
	{"-XX:InitialRAMPercentage=", false, func(o *jvmOptions) *pctOpt { return &o.InitPct }},
	{"-XX:MaxRAMFraction=", true, func(o *jvmOptions) *pctOpt { return &o.MaxPct }},
	{"-XX:MinRAMFraction=", true, func(o *jvmOptions) *pctOpt { return &o.MinPct }},
	{"-XX:InitialRAMFraction=", true, func(o *jvmOptions) *pctOpt { return &o.InitPct }},
}

func (o *jvmOptions) setSize(dst *sizeOpt, w word, v string, unit int64) {
	if w.dynamic {
		o.Dynamic = append(o.Dynamic, fmt.Sprintf("%s (%s)", w.text, w.source))
		*dst = sizeOpt{}
		return
	}
	n, err := parseJVMSize(v)
	if err == nil && unit != 1 {
		if _, digitsOnly := strconv.Atoi(v); digitsOnly == nil {
			n *= unit
		}
	}
	if err != nil {
		o.Invalid = append(o.Invalid, fmt.Sprintf("%s (%s)", w.text, w.source))
		return
	}
	*dst = sizeOpt{set: true, bytes: n, text: w.text, source: w.source}
}

func (o *jvmOptions) setPct(dst *pctOpt, w word, v string, fraction bool) {
	if w.dynamic {
		o.Dynamic = append(o.Dynamic, fmt.Sprintf("%s (%s)", w.text, w.source))
		*dst = pctOpt{}
		return
	}
	var p float64
	var err error
	if fraction {
		var n int
		n, err = strconv.Atoi(v)
		if err == nil && n > 0 {
			p = 100 / float64(n)
		} else {
			err = errBadSize
		}
	} else {
		p, err = parsePercent(v)
	}
	if err != nil {
		o.Invalid = append(o.Invalid, fmt.Sprintf("%s (%s)", w.text, w.source))
		return
	}
	*dst = pctOpt{set: true, pct: p, text: w.text, source: w.source}
}
