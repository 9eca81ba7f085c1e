package demo

import (
	"fmt"
	"slices"
	"time"
)

// person is one accreditation as the registration system (OMS) holds it.
type person struct {
	id             string
	family, given  string
	gender         byte
	noc            string // athletes and team officials only
	org            org
	category, role string
	disciplines    []string
	zones          []int
	venues         []string
	village        bool
	status         string
	revision       int
}

// org is the organisation a person is accredited for.
type org struct{ kind, code, name string }

// data is the accreditation as a personnel event carries it.
func (p *person) data(updated string) map[string]any {
	m := map[string]any{
		"accreditationId": p.id,
		"familyName":      p.family,
		"givenName":       p.given,
		"gender":          string(p.gender),
		"organisation":    map[string]any{"type": p.org.kind, "code": p.org.code, "name": p.org.name},
		"category":        p.category,
		"function":        p.role,
		"privileges": map[string]any{
			"zones": slices.Clone(p.zones), "venues": slices.Clone(p.venues), "village": p.village,
		},
		"status":    p.status,
		"revision":  p.revision,
		"updatedAt": updated,
	}
	if p.noc != "" {
		m["noc"] = p.noc
	}
	if len(p.disciplines) > 0 {
		m["disciplines"] = slices.Clone(p.disciplines)
	}
	return m
}

// personnel emits the morning's registrations, a few seconds apart, then
// changes to some of them through the day.
func (d *day) personnel(units []*unit) {
	people := d.register(units)
	for i, p := range people {
		at := time.Duration(i) * 7 * time.Second
		d.emit("personnel", at, p.data(d.stamp(at)))
	}
	d.amend(people, units)
}

// register accredits the day's people: some of its athletes, their team
// officials, and officials, press, broadcasters and staff.
func (d *day) register(units []*unit) []*person {
	ids := map[string]bool{}
	var people []*person
	add := func(p *person) {
		p.id, p.status, p.revision = d.accreditationID(ids), "ACTIVE", 1
		people = append(people, p)
	}
	for _, p := range d.athletes(units, 12) {
		add(p)
	}
	for range 30 {
		add(d.staff(units[d.pick(len(units))]))
	}
	return people
}

func (d *day) accreditationID(taken map[string]bool) string {
	for {
		id := fmt.Sprintf("ACR-%06d", 100000+d.pick(900000))
		if !taken[id] {
			taken[id] = true
			return id
		}
	}
}

// athletes accredits up to n athletes of the day's individual units.
func (d *day) athletes(units []*unit, n int) []*person {
	seen := map[string]bool{}
	var people []*person
	for _, u := range units {
		for _, c := range u.entries {
			if c.team || seen[c.code] || len(people) == n || d.pick(3) > 0 {
				continue
			}
			seen[c.code] = true
			people = append(people, &person{
				family: c.family, given: c.given, gender: c.gender, noc: c.noc,
				org: nocOrg(c.noc), category: "ATHLETE", role: "Athlete",
				disciplines: []string{u.disc.code}, zones: []int{1, 2, 3},
				venues: []string{u.venue.code}, village: true,
			})
		}
	}
	return people
}

func nocOrg(code string) org { return org{kind: "NOC", code: code, name: nocs[code].name} }
