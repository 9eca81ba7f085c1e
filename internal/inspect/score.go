package inspect

// Penalties per finding, by severity, and the most one category can take
// from an object's score, so that one noisy category (three security
// settings on every container) cannot hide the others.
const (
	penaltyCritical = 20
	penaltyWarning  = 5
	penaltyInfo     = 1
	categoryCap     = 30
	// criticalCap is the highest overall score while any critical finding
	// remains: a D, so that --min-grade C fails.
	criticalCap = 69
)

// objectScore is 100 less the penalties of the object's findings, each
// category's penalties capped at 30; at least 0.
func objectScore(fs []Finding) int {
	byCat := map[string]int{}
	for _, f := range fs {
		switch f.Severity {
		case Critical:
			byCat[f.Category] += penaltyCritical
		case Warning:
			byCat[f.Category] += penaltyWarning
		default:
			byCat[f.Category] += penaltyInfo
		}
	}
	s := 100
	for _, p := range byCat {
		s -= min(p, categoryCap)
	}
	return max(s, 0)
}

// overallScore is the mean of the objects' scores (rounded down), capped at
// 69 while any critical finding remains; 100 with no objects.
func overallScore(objs []ObjectScore, fs []Finding) int {
	if len(objs) == 0 {
		return 100
	}
	sum := 0
	for _, o := range objs {
		sum += o.Score
	}
	s := sum / len(objs)
	for _, f := range fs {
		if f.Severity == Critical {
			return min(s, criticalCap)
		}
	}
	return s
}

// Grade maps a score to A (90-100), B (80-89), C (70-79), D (60-69) or F.
func Grade(score int) string {
	switch {
	case score >= 90:
		return "A"
	case score >= 80:
		return "B"
	case score >= 70:
		return "C"
	case score >= 60:
		return "D"
	}
	return "F"
}

// GradeAtLeast reports whether grade g is as good as min or better.
func GradeAtLeast(g, min string) bool { return g <= min }
