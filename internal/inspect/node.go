package inspect

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// nodeOptions are the V8 heap options of a Node process.
type nodeOptions struct {
	OldSpace    sizeOpt // --max-old-space-size (MiB)
	OldSpacePct pctOpt  // --max-old-space-size-percentage (Node 24+)
	Invalid     []string
	Dynamic     []string
}

// parseNodeOptions reads NODE_OPTIONS words followed by the command line;
// later options win, as Node applies the command line after NODE_OPTIONS.
func parseNodeOptions(words []word) nodeOptions {
	var o nodeOptions
	for i := 0; i < len(words); i++ {
		w := words[i]
		name, val, hasVal := strings.Cut(w.text, "=")
		name = strings.ReplaceAll(name, "_", "-")
		if name != "--max-old-space-size" && name != "--max-old-space-size-percentage" {
			continue
		}
		if !hasVal && i+1 < len(words) {
			i++
			val = words[i].text
			w.dynamic = w.dynamic || words[i].dynamic
		}
		text := name + "=" + val
		if w.dynamic {
			o.Dynamic = append(o.Dynamic, fmt.Sprintf("%s (%s)", text, w.source))
			continue
		}
		if name == "--max-old-space-size" {
			mb, err := strconv.ParseInt(val, 10, 64)
			if err != nil || mb <= 0 || mb > 1<<30 {
				o.Invalid = append(o.Invalid, fmt.Sprintf("%s (%s)", text, w.source))
				continue
			}
			o.OldSpace = sizeOpt{set: true, bytes: mb * MiB, text: text, source: w.source}
			continue
		}
		p, err := parsePercent(val)
		if err != nil || p == 0 {
			o.Invalid = append(o.Invalid, fmt.Sprintf("%s (%s)", text, w.source))
			continue
		}
		o.OldSpacePct = pctOpt{set: true, pct: p, text: text, source: w.source}
	}
	return o
}

// nodeVersion is the Node major version an image names, 0 when unknown.
func nodeVersion(image string) int {
	repo, tag := splitImage(strings.ToLower(image))
	base := repo[strings.LastIndexByte(repo, '/')+1:]
	if m := nodeInRepo.FindStringSubmatch(base); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n
	}
	if base != "node" && base != "nodejs" {
		return 0
	}
	if m := nodeInTag.FindStringSubmatch(tag); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n
	}
	return 0
}

var (
	nodeInRepo = regexp.MustCompile(`^nodejs-(\d+)`)
	nodeInTag  = regexp.MustCompile(`^v?(\d+)(?:[.\-]|$)`)
)

// V8 heap sizing (Node 24, V8 13.6; see docs/inspect.md for the sources
// and the measurements the young-generation rule was checked against).
const (
	nodeOldCap      = 2048 * MiB // old generation cap below 15 GiB of memory
	nodeOldCapHuge  = 4096 * MiB // from 15 GiB
	nodeHugeMemory  = 15 * GiB
	nodeMaxSemi     = 64 * MiB
	nodeLowMemoryOG = 256 * MiB
)

// nodeYoungBefore24 is the young generation of Node 12-23 (three 16 MiB
// semi-spaces), measured on Node 20.20.2 for old spaces of 256 MiB to 4 GiB.
const nodeYoungBefore24 = 48 * MiB

// nodeYoungFor is the young generation for a Node version (0: unknown,
// taken as 24, the current LTS).
func nodeYoungFor(old int64, version int) int64 {
	if version > 0 && version < 24 {
		return nodeYoungBefore24
	}
	return nodeYoung(old)
}

// nodeYoung is the young generation Node 24's V8 adds to an old
// generation: three semi-spaces (two for the scavenger, one for new large
// objects).
func nodeYoung(old int64) int64 {
	semi := old / 32
	if old <= nodeLowMemoryOG {
		semi = old / 256
	}
	return 3 * min(semi, nodeMaxSemi)
}

// nodeHeap computes Node's heap limit (V8's heap_size_limit: old space
// plus young generation) for a container limit (0 for none).
func nodeHeap(o nodeOptions, limit int64, version int) heap {
	if o.OldSpacePct.set { // takes precedence over --max-old-space-size
		if limit <= 0 {
			return heap{why: fmt.Sprintf("%s (%s) is a share of the node's memory when the container has no limit", o.OldSpacePct.text, o.OldSpacePct.source)}
		}
		old := int64(float64(limit) * o.OldSpacePct.pct / 100)
		young := nodeYoungFor(old, version)
		return heap{bytes: old + young, known: true, explicit: true,
			how: fmt.Sprintf("old space %s = %s (%s) of the %s limit, + young generation %s", human(old), strconv.FormatFloat(o.OldSpacePct.pct, 'f', -1, 64)+"%", o.OldSpacePct.source, human(limit), human(young))}
	}
	if o.OldSpace.set {
		old, young := o.OldSpace.bytes, nodeYoungFor(o.OldSpace.bytes, version)
		note := ""
		if version == 0 {
			note = " as Node 24 sizes it"
		}
		return heap{bytes: old + young, known: true, explicit: true,
			how: fmt.Sprintf("old space %s (%s, %s) + young generation %s%s", human(old), o.OldSpace.text, o.OldSpace.source, human(young), note)}
	}
	switch {
	case version == 0:
		return heap{why: "the Node version is not in the image name, and the default heap depends on it"}
	case version < 24:
		return heap{why: fmt.Sprintf("Node %d sizes its default heap from the memory libuv reports, which on cgroup v2 nodes may be the node's memory rather than the limit", version)}
	case limit <= 0:
		return heap{why: "without a memory limit Node sizes its heap from the node's memory"}
	}
	ogCap := nodeOldCap
	if limit >= nodeHugeMemory {
		ogCap = nodeOldCapHuge
	}
	old := min(limit/2, ogCap)
	return heap{bytes: old + nodeYoung(old), known: true,
		how: fmt.Sprintf("Node %d's default: old space %s (half the %s limit, at most %s) + young generation %s", version, human(old), human(limit), human(ogCap), human(nodeYoung(old)))}
}

// nodeWorstDefault is the largest default heap Node can pick when it sizes
// the heap from the node's memory.
const nodeWorstDefault = nodeOldCapHuge + 3*nodeMaxSemi
