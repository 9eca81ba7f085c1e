package demo

import "time"

// scoring is how a discipline ranks its competitors.
type scoring int

const (
	byTime   scoring = iota // lowest time wins
	byPoints                // highest score wins
	byMatch                 // two teams, the higher score wins
)

// phase is one round of an event; code is the 4-character phase part of
// the RSC code.
type phase struct {
	code, name string
	scale      float64 // result scale relative to the final (qualification only)
}

// event is one medal event of a discipline.
type event struct {
	gender byte    // 'M', 'W' or 'X'
	code   string  // event part of the RSC code, up to 18 characters
	name   string  // e.g. "Men's Downhill"
	teams  bool    // competitors are teams
	base   float64 // winning time (s) or score; curling: chance an end is scored; ice hockey: goals per half-period
	size   int     // competitors in the final
	quota  int     // entries per NOC if not 3
	venue  string  // overrides the discipline's venue
}

// discipline is a Winter Games sport discipline with its real ODF code.
type discipline struct {
	code    string
	venue   string
	scoring scoring
	first   time.Duration // local time of the day's first unit
	every   time.Duration // from one unit's start to the next one's
	length  time.Duration // how long a unit lasts
	legs    int           // ends or half-periods, for matches
	tenths  bool          // results to a tenth, not a hundredth
	qual    phase         // qualification round, if the discipline has one
	final   phase
	field   []string // NOCs that enter, strongest first
	events  []event
}

const (
	hours   = time.Hour
	minutes = time.Minute
)

var (
	final   = phase{code: "FNL-", name: "Final"}
	qualify = phase{code: "QUAL", name: "Qualification", scale: 1}
)

// disciplines lists the disciplines a demo day draws from.
var disciplines = []discipline{
	{code: "ALP", venue: "YAS", scoring: byTime, first: 11 * hours, every: 3 * hours, length: 2 * hours, final: final,
		field: []string{"SUI", "AUT", "NOR", "ITA", "FRA", "USA", "SLO", "GER", "SWE", "CAN", "CZE", "SVK"},
		events: []event{
			{gender: 'M', code: "DOWNHILL", name: "Men's Downhill", base: 102.7, size: 16},
			{gender: 'W', code: "SUPERG", name: "Women's Super-G", base: 73.6, size: 16},
			{gender: 'M', code: "GIANTSLALOM", name: "Men's Giant Slalom", base: 130.1, size: 16},
			{gender: 'W', code: "SLALOM", name: "Women's Slalom", base: 104.9, size: 16},
		}},
	{code: "BTH", tenths: true, venue: "NBC", scoring: byTime, first: 17 * hours, every: 2 * hours, length: 75 * minutes, final: final,
		field: []string{"NOR", "FRA", "SWE", "GER", "ITA", "ROC", "AUT", "SUI", "USA", "CAN"},
		events: []event{
			{gender: 'M', code: "10KMSPRINT", name: "Men's 10km Sprint", base: 1487.4, size: 16},
			{gender: 'W', code: "75KMSPRINT", name: "Women's 7.5km Sprint", base: 1216.3, size: 16},
			{gender: 'W', code: "15KMINDIVIDUAL", name: "Women's 15km Individual", base: 2654.7, size: 16},
		}},
	{code: "CCS", tenths: true, venue: "NCC", scoring: byTime, first: 15 * hours, every: 2 * hours, length: 90 * minutes, final: final,
		field: []string{"NOR", "SWE", "FIN", "ROC", "FRA", "GER", "USA", "ITA", "SUI", "CAN"},
		events: []event{
			{gender: 'M', code: "15KMC", name: "Men's 15km Classic", base: 2257.9, size: 16},
			{gender: 'W', code: "10KMC", name: "Women's 10km Classic", base: 1697.2, size: 16},
			{gender: 'W', code: "30KMMASSSTARTF", name: "Women's 30km Mass Start Free", base: 5117.4, size: 16},
		}},
	{code: "SJP", tenths: true, venue: "NSJ", scoring: byPoints, first: 18 * hours, every: 2 * hours, length: 90 * minutes,
		qual: qualify, final: final,
		field: []string{"NOR", "AUT", "SLO", "GER", "POL", "JPN", "SUI", "FIN", "CAN", "USA"},
		events: []event{
			{gender: 'M', code: "NORMALHILLIND", name: "Men's Individual Normal Hill", base: 275.0, size: 12},
			{gender: 'W', code: "NORMALHILLIND", name: "Women's Individual Normal Hill", base: 239.0, size: 12},
			{gender: 'M', code: "LARGEHILLIND", name: "Men's Individual Large Hill", base: 292.8, size: 12},
		}},
	{code: "FRS", venue: "GSP", scoring: byPoints, first: 10 * hours, every: 2 * hours, length: 90 * minutes,
		qual: qualify, final: final,
		field: []string{"USA", "CAN", "SUI", "NOR", "CHN", "SWE", "FRA", "AUS", "NZL", "ROC"},
		events: []event{
			{gender: 'W', code: "SLOPESTYLE", name: "Women's Freeski Slopestyle", base: 86.6, size: 12},
			{gender: 'M', code: "HALFPIPE", name: "Men's Freeski Halfpipe", base: 93.0, size: 12},
			{gender: 'W', code: "BIGAIR", name: "Women's Freeski Big Air", base: 188.3, size: 12, venue: "BAS"},
		}},
	{code: "SBD", venue: "GSP", scoring: byPoints, first: 9*hours + 30*minutes, every: 2 * hours, length: 90 * minutes,
		qual: qualify, final: final,
		field: []string{"USA", "JPN", "CAN", "AUS", "NZL", "SUI", "CHN", "AUT", "NOR", "FRA"},
		events: []event{
			{gender: 'M', code: "HALFPIPE", name: "Men's Snowboard Halfpipe", base: 96.0, size: 12},
			{gender: 'W', code: "SLOPESTYLE", name: "Women's Snowboard Slopestyle", base: 92.7, size: 12},
			{gender: 'M', code: "BIGAIR", name: "Men's Snowboard Big Air", base: 182.5, size: 12, venue: "BAS"},
		}},
	{code: "BOB", venue: "YSC", scoring: byTime, first: 20 * hours, every: 2 * hours, length: 90 * minutes, final: final,
		field: []string{"GER", "SUI", "CAN", "USA", "AUT", "LAT", "ROC", "GBR", "CHN", "ITA"},
		events: []event{
			{gender: 'W', code: "MONOBOB", name: "Women's Monobob", base: 259.0, size: 14},
			{gender: 'M', code: "2MAN", name: "Two-man", teams: true, base: 238.9, size: 14, quota: 2},
		}},
	{code: "SKN", venue: "YSC", scoring: byTime, first: 9*hours + 30*minutes, every: 2 * hours, length: 90 * minutes, final: final,
		field: []string{"GER", "GBR", "ROC", "CHN", "AUT", "USA", "LAT", "KOR", "CAN", "NED"},
		events: []event{
			{gender: 'M', code: "SKELETON", name: "Men's Skeleton", base: 240.8, size: 14},
			{gender: 'W', code: "SKELETON", name: "Women's Skeleton", base: 246.1, size: 14},
		}},
	{code: "LUG", venue: "YSC", scoring: byTime, first: 15*hours + 30*minutes, every: 2 * hours, length: 90 * minutes, final: final,
		field: []string{"GER", "AUT", "ITA", "LAT", "ROC", "USA", "CAN", "SUI"},
		events: []event{
			{gender: 'M', code: "SINGLES", name: "Men's Singles", base: 230.1, size: 14},
			{gender: 'W', code: "SINGLES", name: "Women's Singles", base: 233.5, size: 14},
			{gender: 'X', code: "TEAMRELAY", name: "Team Relay", teams: true, base: 186.9, size: 8, quota: 1},
		}},
	{code: "SSK", venue: "NSS", scoring: byTime, first: 16 * hours, every: 2 * hours, length: 90 * minutes, final: final,
		field: []string{"NED", "NOR", "CHN", "JPN", "KOR", "USA", "CAN", "ITA", "POL", "ROC", "GER"},
		events: []event{
			{gender: 'M', code: "500M", name: "Men's 500m", base: 34.32, size: 16},
			{gender: 'W', code: "1000M", name: "Women's 1000m", base: 74.57, size: 16},
			{gender: 'M', code: "1500M", name: "Men's 1500m", base: 103.21, size: 16},
			{gender: 'W', code: "3000M", name: "Women's 3000m", base: 236.16, size: 16},
		}},
	{code: "STK", venue: "CIS", scoring: byTime, first: 19 * hours, every: 75 * minutes, length: 45 * minutes,
		qual: phase{code: "SFNL", name: "Semifinals", scale: 1.01}, final: phase{code: "FNLA", name: "Final A"},
		field: []string{"KOR", "CHN", "NED", "CAN", "ITA", "HUN", "ROC", "USA", "JPN", "BEL"},
		events: []event{
			{gender: 'M', code: "1000M", name: "Men's 1000m", base: 86.77, size: 6},
			{gender: 'W', code: "500M", name: "Women's 500m", base: 42.75, size: 6},
			{gender: 'M', code: "1500M", name: "Men's 1500m", base: 135.83, size: 6},
		}},
	{code: "FSK", venue: "CIS", scoring: byPoints, first: 9*hours + 30*minutes, every: 4 * hours, length: 3 * hours,
		qual:  phase{code: "QUAL", name: "Short Program", scale: 0.52},
		final: phase{code: "FNL-", name: "Free Skating"},
		field: []string{"ROC", "JPN", "USA", "CHN", "CAN", "KOR", "ITA", "FRA", "GEO", "BEL"},
		events: []event{
			{gender: 'M', code: "SINGLES", name: "Men Single Skating", base: 218.6, size: 12},
			{gender: 'W', code: "SINGLES", name: "Women Single Skating", base: 175.8, size: 12},
		}},
	{code: "CUR", venue: "NAQ", scoring: byMatch, first: 14*hours + 5*minutes, every: 6 * hours, length: 3 * hours, legs: 10,
		field: []string{"SWE", "GBR", "CAN", "NOR", "SUI", "USA", "CHN", "ITA", "JPN", "KOR", "DEN"},
		events: []event{
			{gender: 'M', code: "TEAM4", name: "Men's Curling", teams: true, base: 0.75, size: 2, quota: 1},
			{gender: 'W', code: "TEAM4", name: "Women's Curling", teams: true, base: 0.75, size: 2, quota: 1},
		}},
	{code: "IHO", venue: "NIS", scoring: byMatch, first: 12*hours + 10*minutes, every: 4*hours + 30*minutes, length: 2*hours + 40*minutes, legs: 6,
		field: []string{"FIN", "ROC", "CAN", "SWE", "USA", "SVK", "CZE", "SUI", "GER", "DEN"},
		events: []event{
			{gender: 'M', code: "TEAM", name: "Men's Ice Hockey", teams: true, base: 0.55, size: 2, quota: 1},
			{gender: 'W', code: "TEAM", name: "Women's Ice Hockey", teams: true, base: 0.6, size: 2, quota: 1, venue: "WKS"},
		}},
}
