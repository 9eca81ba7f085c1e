package demo

// venue is a real Beijing 2022 venue. Codes are the demo's own three-letter
// abbreviations.
type venue struct {
	code, name string
	indoor     bool
	main       string  // discipline code for the venue's weather documents
	air        float64 // mean February air temperature, °C (indoors: hall)
	ice        float64 // ice temperature for indoor venues, °C
}

var venues = map[string]venue{
	"NAQ": {code: "NAQ", name: "National Aquatics Centre", indoor: true, main: "CUR", air: 14, ice: -5.5},
	"NSS": {code: "NSS", name: "National Speed Skating Oval", indoor: true, main: "SSK", air: 15, ice: -6.5},
	"CIS": {code: "CIS", name: "Capital Indoor Stadium", indoor: true, main: "FSK", air: 16, ice: -4},
	"NIS": {code: "NIS", name: "National Indoor Stadium", indoor: true, main: "IHO", air: 13, ice: -5},
	"WKS": {code: "WKS", name: "Wukesong Sports Centre", indoor: true, main: "IHO", air: 13, ice: -5},
	"BAS": {code: "BAS", name: "Big Air Shougang", main: "SBD", air: -2},
	"YAS": {code: "YAS", name: "Yanqing National Alpine Skiing Centre", main: "ALP", air: -11},
	"YSC": {code: "YSC", name: "Yanqing National Sliding Centre", main: "BOB", air: -8},
	"GSP": {code: "GSP", name: "Genting Snow Park", main: "FRS", air: -13},
	"NBC": {code: "NBC", name: "National Biathlon Centre", main: "BTH", air: -14},
	"NCC": {code: "NCC", name: "National Cross-Country Centre", main: "CCS", air: -13},
	"NSJ": {code: "NSJ", name: "National Ski Jumping Centre", main: "SJP", air: -15},
}

// data is the venue as it appears in ODF documents.
func (v venue) data() map[string]any {
	return map[string]any{"code": v.code, "name": v.name}
}
