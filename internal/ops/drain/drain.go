package drain

import "strings"

// Options tune a Miner. Zero values take the defaults.
type Options struct {
	// Depth is the parse tree's depth: the root, the token-count layer and
	// Depth-2 layers of leading tokens (default 4, as Drain).
	Depth int
	// Similarity is the share of a template's non-wildcard tokens a line
	// must match to join it (default 0.5).
	Similarity float64
	// MaxChildren caps each inner node's children; beyond it lines go down
	// a wildcard branch (default 100).
	MaxChildren int
	// MaxTemplates caps the templates kept; a line that would start one
	// more is refused (Add returns nil) (default 1000).
	MaxTemplates int
	// MaxTokens caps the tokens of a line; the rest are dropped (default 64).
	MaxTokens int
}

func (o *Options) setDefaults() {
	if o.Depth < 3 {
		o.Depth = 4
	}
	if o.Similarity <= 0 || o.Similarity > 1 {
		o.Similarity = 0.5
	}
	if o.MaxChildren <= 0 {
		o.MaxChildren = 100
	}
	if o.MaxTemplates <= 0 {
		o.MaxTemplates = 1000
	}
	if o.MaxTokens <= 0 {
		o.MaxTokens = 64
	}
}

// Cluster is one template and the number of lines it took.
type Cluster struct {
	ID       int
	Template []string
	Size     int64
}

// String is the template with single spaces between tokens.
func (c *Cluster) String() string { return strings.Join(c.Template, " ") }

type node struct {
	children map[string]*node
	clusters []*Cluster
}

// Miner is one parse tree. Not safe for concurrent use.
type Miner struct {
	o        Options
	root     map[int]*node
	clusters []*Cluster
	buf      []string
	// Dropped counts tokens cut by MaxTokens; Refused lines that found no
	// template once MaxTemplates were kept.
	Dropped, Refused int64
}

// New returns an empty miner.
func New(o Options) *Miner {
	o.setDefaults()
	return &Miner{o: o, root: map[int]*node{}}
}

// Len is the number of templates.
func (m *Miner) Len() int { return len(m.clusters) }

// Clusters are the templates in the order they were created.
func (m *Miner) Clusters() []*Cluster { return m.clusters }

// Add mines one line: it returns the cluster the line joined and whether
// that cluster is new. It returns nil when the line would start a template
// past MaxTemplates.
func (m *Miner) Add(line string) (*Cluster, bool) {
	toks, dropped := Tokenize(line, m.o.MaxTokens, m.buf)
	m.buf = toks
	m.Dropped += int64(dropped)
	return m.AddTokens(toks)
}

// AddTokens mines a line already tokenised and masked. toks is not kept.
func (m *Miner) AddTokens(toks []string) (*Cluster, bool) {
	leaf := m.leaf(toks)
	if c := m.match(leaf.clusters, toks); c != nil {
		c.Size++
		for i, t := range toks {
			if c.Template[i] != t && c.Template[i] != Wildcard {
				c.Template[i] = generalise(c.Template[i], t)
			}
		}
		return c, false
	}
	if len(m.clusters) >= m.o.MaxTemplates {
		m.Refused++
		return nil, false
	}
	c := &Cluster{ID: len(m.clusters) + 1, Template: append([]string(nil), toks...), Size: 1}
	m.clusters = append(m.clusters, c)
	leaf.clusters = append(leaf.clusters, c)
	return c, true
}

// leaf walks (and grows) the tree to the leaf for toks: by token count,
// then by each of the first Depth-2 tokens; a token with a digit or a
// placeholder takes the wildcard branch, as does any token once a node
// has MaxChildren children.
func (m *Miner) leaf(toks []string) *node {
	n := m.root[len(toks)]
	if n == nil {
		n = &node{children: map[string]*node{}}
		m.root[len(toks)] = n
	}
	for i := 0; i < m.o.Depth-2 && i < len(toks); i++ {
		key := toks[i]
		if hasDigit(key) || strings.HasPrefix(key, "<") && strings.HasSuffix(key, ">") {
			key = Wildcard
		}
		next := n.children[key]
		if next == nil {
			if len(n.children) >= m.o.MaxChildren-1 && key != Wildcard {
				key = Wildcard
				next = n.children[key]
			}
			if next == nil {
				next = &node{children: map[string]*node{}}
				n.children[key] = next
			}
		}
		n = next
	}
	return n
}

// match is the most similar cluster of a leaf at or above the threshold;
// ties go to the one with more wildcards already (the more general).
func (m *Miner) match(cs []*Cluster, toks []string) *Cluster {
	var best *Cluster
	bestSim, bestWild := -1.0, -1
	for _, c := range cs {
		same, wild := 0, 0
		for i, t := range c.Template {
			switch {
			case t == Wildcard || strings.HasSuffix(t, "="+Wildcard) && strings.HasPrefix(toks[i], t[:len(t)-len(Wildcard)]):
				wild++
			case t == toks[i]:
				same++
			}
		}
		sim := 1.0
		if n := len(toks); n > 0 {
			sim = float64(same) / float64(n)
		}
		if sim > bestSim || sim == bestSim && wild > bestWild {
			best, bestSim, bestWild = c, sim, wild
		}
	}
	if best == nil || bestSim < m.o.Similarity {
		return nil
	}
	return best
}

func hasDigit(s string) bool {
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			return true
		}
	}
	return false
}

// generalise is the wildcard covering two different tokens: key=<*> when
// both are values of one key, <*> otherwise.
func generalise(a, b string) string {
	ka, _, okA := strings.Cut(a, "=")
	kb, _, okB := strings.Cut(b, "=")
	if okA && okB && ka == kb && ka != "" {
		return ka + "=" + Wildcard
	}
	return Wildcard
}
