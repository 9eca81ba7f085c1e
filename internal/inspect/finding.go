package inspect

import "fmt"

// Severity ranks a finding.
type Severity int

// Severities, least severe first.
const (
	Info Severity = iota
	Warning
	Critical
)

func (s Severity) String() string {
	switch s {
	case Critical:
		return "critical"
	case Warning:
		return "warning"
	}
	return "info"
}

// MarshalText writes the severity's name.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a severity's name.
func (s *Severity) UnmarshalText(b []byte) error {
	switch string(b) {
	case "critical":
		*s = Critical
	case "warning":
		*s = Warning
	case "info":
		*s = Info
	default:
		return fmt.Errorf("severity %q: want critical, warning or info", b)
	}
	return nil
}

// Categories of findings.
const (
	CatMemory       = "memory"
	CatCPU          = "cpu"
	CatProbes       = "probes"
	CatAvailability = "availability"
	CatSecurity     = "security"
	CatSupplyChain  = "supply-chain"
)

// Categories lists them in report order.
var Categories = []string{CatMemory, CatCPU, CatProbes, CatAvailability, CatSecurity, CatSupplyChain}

// Finding is one problem with one object (and container).
type Finding struct {
	Rule      string   `json:"rule"`
	Category  string   `json:"category"`
	Severity  Severity `json:"severity"`
	Object    string   `json:"object"`
	Container string   `json:"container,omitempty"`
	Message   string   `json:"message"`
	Fix       string   `json:"fix"`
	Source    *Source  `json:"source,omitempty"`
}
