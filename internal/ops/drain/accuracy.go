package drain

import (
	"encoding/csv"
	"fmt"
	"io"
	"slices"
)

// Labelled is one line with its ground-truth event (a Loghub
// *_2k.log_structured.csv row: Content and EventId).
type Labelled struct{ Content, Event string }

// ReadStructured reads a Loghub structured CSV: a header naming Content
// and EventId columns, then one row per line.
func ReadStructured(r io.Reader) ([]Labelled, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	content, event := slices.Index(head, "Content"), slices.Index(head, "EventId")
	if content < 0 || event < 0 {
		return nil, fmt.Errorf("header %v: want Content and EventId columns", head)
	}
	var out []Labelled
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if len(rec) <= max(content, event) {
			return nil, fmt.Errorf("row %d: %d columns", len(out)+2, len(rec))
		}
		out = append(out, Labelled{Content: rec[content], Event: rec[event]})
	}
}

// GroupingAccuracy mines lines with a fresh miner and returns the share of
// lines whose cluster holds exactly the lines of their true event (the
// measure of Zhu et al., "Tools and Benchmarks for Automated Log
// Parsing", ICSE-SEIP 2019).
func GroupingAccuracy(lines []Labelled, o Options) float64 {
	if len(lines) == 0 {
		return 0
	}
	m := New(o)
	pred := make([]int, len(lines))
	for i, l := range lines {
		c, _ := m.Add(l.Content)
		if c != nil {
			pred[i] = c.ID
		}
	}
	byPred := map[int][]int{}
	byTrue := map[string][]int{}
	for i, l := range lines {
		byPred[pred[i]] = append(byPred[pred[i]], i)
		byTrue[l.Event] = append(byTrue[l.Event], i)
	}
	correct := 0
	for p, idx := range byPred {
		if p == 0 {
			continue
		}
		ev := lines[idx[0]].Event
		if slices.Equal(byTrue[ev], idx) {
			correct += len(idx)
		}
	}
	return float64(correct) / float64(len(lines))
}
