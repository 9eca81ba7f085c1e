package demo

import (
	"slices"
	"time"
)

// post is a kind of accreditation other than an athlete's.
type post struct {
	category string
	roles    []string
	zones    []int
	village  bool // may enter the Olympic Village
	anywhere bool // accredited for all venues
}

var posts = []post{
	{category: "TEAM_OFFICIAL", roles: []string{"Coach", "Team Leader", "Team Doctor", "Physiotherapist"}, zones: []int{1, 3}, village: true},
	{category: "TECHNICAL_OFFICIAL", roles: []string{"Technical Delegate", "Jury Member", "Judge", "Timing Official"}, zones: []int{1, 2, 3, 4}},
	{category: "IF", roles: []string{"Competition Manager", "Media Officer"}, zones: []int{2, 3, 4}},
	{category: "IOC", roles: []string{"IOC Member", "Sports Department"}, zones: []int{1, 2, 3, 4, 5, 6}, anywhere: true},
	{category: "MEDIA", roles: []string{"Journalist", "Photographer", "Editor"}, zones: []int{5, 6}, anywhere: true},
	{category: "BROADCASTER", roles: []string{"Camera Operator", "Commentator", "Producer"}, zones: []int{4, 5, 6}, anywhere: true},
	{category: "WORKFORCE", roles: []string{"Venue Manager", "Results Manager", "Technology Operations", "Sport Manager"}, zones: []int{2, 4}},
	{category: "VOLUNTEER", roles: []string{"Spectator Services", "Athlete Services", "Language Services", "Transport"}, zones: []int{4}},
}

// employer is an organisation and the NOC its people's names come from.
type employer struct {
	org
	nation string
}

var (
	ioc   = employer{org{"IOC", "IOC", "International Olympic Committee"}, "SUI"}
	bocog = employer{org{"OCOG", "BOCOG", "Beijing Organising Committee for the 2022 Olympic and Paralympic Winter Games"}, "CHN"}
	press = []employer{
		{org{"MEDIA", "AP", "Associated Press"}, "USA"},
		{org{"MEDIA", "RTRS", "Reuters"}, "GBR"},
		{org{"MEDIA", "AFP", "Agence France-Presse"}, "FRA"},
		{org{"MEDIA", "XINHUA", "Xinhua News Agency"}, "CHN"},
		{org{"MEDIA", "KYODO", "Kyodo News"}, "JPN"},
		{org{"MEDIA", "DPA", "Deutsche Presse-Agentur"}, "GER"},
	}
	broadcasters = []employer{
		{org{"RHB", "OBS", "Olympic Broadcasting Services"}, "SUI"},
		{org{"RHB", "NBCU", "NBCUniversal"}, "USA"},
		{org{"RHB", "CMG", "China Media Group"}, "CHN"},
		{org{"RHB", "EBU", "European Broadcasting Union"}, "NOR"},
	}
	federations = map[string]org{
		"ALP": fis, "CCS": fis, "SJP": fis, "FRS": fis, "SBD": fis,
		"BTH": {"IF", "IBU", "International Biathlon Union"},
		"BOB": ibsf, "SKN": ibsf,
		"LUG": {"IF", "FIL", "International Luge Federation"},
		"SSK": isu, "STK": isu, "FSK": isu,
		"CUR": {"IF", "WCF", "World Curling"},
		"IHO": {"IF", "IIHF", "International Ice Hockey Federation"},
	}
	fis  = org{"IF", "FIS", "International Ski Federation"}
	ibsf = org{"IF", "IBSF", "International Bobsleigh and Skeleton Federation"}
	isu  = org{"IF", "ISU", "International Skating Union"}
)

// staff accredits someone working at unit u, or at the Games at large.
func (d *day) staff(u *unit) *person {
	post := posts[d.pick(len(posts))]
	gender := "MW"[d.pick(2)]
	emp := d.employer(post.category, u)
	p := &person{
		gender: gender, org: emp.org, category: post.category,
		role: post.roles[d.pick(len(post.roles))], zones: slices.Clone(post.zones),
		venues: []string{u.venue.code}, village: post.village,
	}
	p.family, p.given = nocs[emp.nation].person(d.pick, gender)
	if post.anywhere {
		p.venues = []string{"ALL"}
	}
	if post.category == "TEAM_OFFICIAL" {
		p.noc = emp.nation
	}
	if post.category == "TEAM_OFFICIAL" || post.category == "TECHNICAL_OFFICIAL" {
		p.disciplines = []string{u.disc.code}
	}
	return p
}

// employer picks the organisation a person in category works for at u.
func (d *day) employer(category string, u *unit) employer {
	switch category {
	case "TEAM_OFFICIAL":
		noc := u.entries[d.pick(len(u.entries))].noc
		return employer{nocOrg(noc), noc}
	case "TECHNICAL_OFFICIAL", "IF":
		return employer{federations[u.disc.code], u.disc.field[d.pick(len(u.disc.field))]}
	case "IOC":
		return ioc
	case "MEDIA":
		return press[d.pick(len(press))]
	case "BROADCASTER":
		return broadcasters[d.pick(len(broadcasters))]
	}
	return bocog
}

// amend changes some accreditations through the day: wider access,
// suspensions, reinstatements and cancellations. Each change is a new
// revision of the same accreditationId.
func (d *day) amend(people []*person, units []*unit) {
	times := make([]time.Duration, 14+d.pick(8))
	for i := range times {
		times[i] = d.between(15*time.Minute, 15*time.Hour)
	}
	slices.Sort(times)
	for _, at := range times {
		p := people[d.pick(len(people))]
		if p.status == "CANCELLED" {
			continue
		}
		d.change(p, units)
		p.revision++
		d.emit("personnel", at, p.data(d.stamp(at)))
	}
}

func (d *day) change(p *person, units []*unit) {
	switch r := d.pick(10); {
	case p.status == "SUSPENDED" && r < 6:
		p.status = "ACTIVE"
	case p.status == "SUSPENDED":
		p.status = "CANCELLED"
	case r < 6:
		d.widen(p, units)
	case r < 9:
		p.status = "SUSPENDED"
	default:
		p.status = "CANCELLED"
	}
}

// widen adds a venue of the day to an accreditation, or else a zone.
func (d *day) widen(p *person, units []*unit) {
	v := units[d.pick(len(units))].venue.code
	if !slices.Contains(p.venues, v) && !slices.Contains(p.venues, "ALL") {
		p.venues = append(p.venues, v)
		return
	}
	for z := 1; z <= 6; z++ {
		if !slices.Contains(p.zones, z) {
			p.zones = append(p.zones, z)
			slices.Sort(p.zones)
			return
		}
	}
}
