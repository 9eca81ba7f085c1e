package inspect

import (
	"encoding/json"
	"io"
)

// SARIF 2.1.0, the subset code scanning tools read.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID         string            `json:"id"`
	Short      sarifText         `json:"shortDescription"`
	Help       sarifText         `json:"help"`
	Default    sarifConfig       `json:"defaultConfiguration"`
	Properties map[string]string `json:"properties"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifConfig struct {
	Level string `json:"level"`
}

type sarifResult struct {
	RuleID    string          `json:"ruleId"`
	Level     string          `json:"level"`
	Message   sarifText       `json:"message"`
	Locations []sarifLocation `json:"locations"`
}

type sarifLocation struct {
	Physical *sarifPhysical `json:"physicalLocation,omitempty"`
	Logical  []sarifLogical `json:"logicalLocations"`
}

type sarifPhysical struct {
	Artifact sarifArtifact `json:"artifactLocation"`
	Region   *sarifRegion  `json:"region,omitempty"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine int `json:"startLine"`
}

type sarifLogical struct {
	FullyQualifiedName string `json:"fullyQualifiedName"`
	Kind               string `json:"kind"`
}

func sarifLevel(s Severity) string {
	switch s {
	case Critical:
		return "error"
	case Warning:
		return "warning"
	}
	return "note"
}

func (r *Report) writeSARIF(w io.Writer) error {
	d := sarifDriver{Name: "stadion inspect k8s", InformationURI: "https://github.com/stadion-dev/stadion/blob/main/docs/inspect.md", Rules: []sarifRule{}}
	for _, rule := range Rules {
		d.Rules = append(d.Rules, sarifRule{ID: rule.ID, Short: sarifText{rule.Title}, Help: sarifText{rule.Fix},
			Default: sarifConfig{sarifLevel(rule.Severity)}, Properties: map[string]string{"category": rule.Category}})
	}
	run := sarifRun{Tool: sarifTool{Driver: d}, Results: []sarifResult{}}
	for _, f := range r.Findings {
		name := f.Object
		if f.Container != "" {
			name += "/" + f.Container
		}
		loc := sarifLocation{Logical: []sarifLogical{{FullyQualifiedName: name, Kind: "object"}}}
		if f.Source != nil && f.Source.File != "-" {
			loc.Physical = &sarifPhysical{Artifact: sarifArtifact{URI: f.Source.File}}
			if f.Source.Line > 0 {
				loc.Physical.Region = &sarifRegion{StartLine: f.Source.Line}
			}
		}
		run.Results = append(run.Results, sarifResult{RuleID: f.Rule, Level: sarifLevel(f.Severity),
			Message: sarifText{f.Message + " Fix: " + f.Fix}, Locations: []sarifLocation{loc}})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(sarifLog{Schema: "https://json.schemastore.org/sarif-2.1.0.json", Version: "2.1.0", Runs: []sarifRun{run}})
}
