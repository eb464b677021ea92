package manifest

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
)

// FileError is a file that could not be analysed.
type FileError struct {
	File    string `json:"file"`
	Message string `json:"message"`
}

// Report is the result of analysing a set of files: what the lint
// command prints.
type Report struct {
	// Findings of every file, suppressed ones included (they are shown
	// as such in text and SARIF, and left out of JSON).
	Findings []Finding
	Errors   []FileError
	// Files are the files analysed, in order, for the text summary.
	Files []string
}

// jsonFinding is the stable JSON shape of a finding.
type jsonFinding struct {
	File        string `json:"file"`
	RuleID      string `json:"ruleId"`
	Severity    string `json:"severity"`
	Module      string `json:"module"`
	Pointer     string `json:"pointer"`
	Title       string `json:"title"`
	Evidence    string `json:"evidence"`
	Remediation string `json:"remediation"`
}

// WriteJSON writes the report as
// {"findings":[{"file","ruleId","severity","module","pointer","title","evidence","remediation"}],"errors":[{"file","message"}]}
// with lowercase severities. Suppressed findings are left out.
func (r *Report) WriteJSON(w io.Writer) error {
	out := struct {
		Findings []jsonFinding `json:"findings"`
		Errors   []FileError   `json:"errors"`
	}{Findings: []jsonFinding{}, Errors: []FileError{}}
	for _, f := range r.Findings {
		if f.Suppression != nil {
			continue
		}
		out.Findings = append(out.Findings, jsonFinding{
			File: f.Source, RuleID: f.RuleID, Severity: strings.ToLower(f.Severity.String()), Module: f.Module,
			Pointer: f.Pointer, Title: f.Title, Evidence: f.Evidence, Remediation: f.Remediation,
		})
	}
	out.Errors = append(out.Errors, r.Errors...)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(out)
}

// WriteText writes the report for a terminal: per file, findings grouped
// by module, most severe first, then errors and a summary line.
func (r *Report) WriteText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	byFile := map[string][]Finding{}
	var files []string
	for _, f := range r.Files {
		if !slices.Contains(files, f) {
			files = append(files, f)
		}
	}
	for _, f := range r.Findings {
		if !slices.Contains(files, f.Source) {
			files = append(files, f.Source)
		}
		byFile[f.Source] = append(byFile[f.Source], f)
	}
	counts := map[Severity]int{}
	suppressed := 0
	for _, file := range files {
		fs := byFile[file]
		if len(fs) == 0 {
			continue
		}
		fmt.Fprintf(bw, "%s\n", file)
		var modules []string
		for _, f := range fs {
			if !slices.Contains(modules, f.Module) {
				modules = append(modules, f.Module)
			}
		}
		for _, mod := range modules {
			name := mod
			if name == "" {
				name = "(deployment)"
			}
			var mfs []Finding
			for _, f := range fs {
				if f.Module == mod {
					mfs = append(mfs, f)
				}
			}
			slices.SortStableFunc(mfs, func(a, b Finding) int { return int(b.Severity) - int(a.Severity) })
			fmt.Fprintf(bw, "\n  %s\n", name)
			for _, f := range mfs {
				tag := strings.ToUpper(f.Severity.String())
				if f.Suppression != nil {
					suppressed++
					tag = "suppressed"
				} else {
					counts[f.Severity]++
				}
				fmt.Fprintf(bw, "    %-10s %s  %s\n", tag, f.RuleID, f.Title)
				fmt.Fprintf(bw, "               %s\n", f.Evidence)
				loc := f.Pointer
				if f.Line > 0 {
					loc = fmt.Sprintf("%s:%d:%d %s", file, f.Line, f.Column, f.Pointer)
				}
				fmt.Fprintf(bw, "               at %s\n", loc)
				if f.Suppression != nil {
					fmt.Fprintf(bw, "               suppressed by %s: %s\n", f.Suppression.By, f.Suppression.Reason)
				} else {
					fmt.Fprintf(bw, "               fix: %s\n", f.Remediation)
				}
			}
		}
		fmt.Fprintln(bw)
	}
	for _, e := range r.Errors {
		fmt.Fprintf(bw, "error: %s: %s\n", e.File, e.Message)
	}
	total := counts[Critical] + counts[High] + counts[Medium] + counts[Low]
	fmt.Fprintf(bw, "%d finding%s (%d critical, %d high, %d medium, %d low) in %d file%s",
		total, plural(total), counts[Critical], counts[High], counts[Medium], counts[Low], len(files), plural(len(files)))
	if suppressed > 0 {
		fmt.Fprintf(bw, ", %d suppressed", suppressed)
	}
	if len(r.Errors) > 0 {
		fmt.Fprintf(bw, ", %d error%s", len(r.Errors), plural(len(r.Errors)))
	}
	fmt.Fprintln(bw)
	return bw.Flush()
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// SARIF 2.1.0 types (the subset edgesec emits).
type (
	sarifLog struct {
		Schema  string     `json:"$schema"`
		Version string     `json:"version"`
		Runs    []sarifRun `json:"runs"`
	}
	sarifRun struct {
		Tool        sarifTool         `json:"tool"`
		Invocations []sarifInvocation `json:"invocations"`
		ColumnKind  string            `json:"columnKind"`
		Results     []sarifResult     `json:"results"`
	}
	sarifTool struct {
		Driver sarifDriver `json:"driver"`
	}
	sarifDriver struct {
		Name           string      `json:"name"`
		InformationURI string      `json:"informationUri"`
		Version        string      `json:"version,omitempty"`
		Rules          []sarifRule `json:"rules"`
	}
	sarifText struct {
		Text     string `json:"text"`
		Markdown string `json:"markdown,omitempty"`
	}
	sarifRule struct {
		ID                   string            `json:"id"`
		Name                 string            `json:"name"`
		ShortDescription     sarifText         `json:"shortDescription"`
		FullDescription      sarifText         `json:"fullDescription"`
		Help                 sarifText         `json:"help"`
		HelpURI              string            `json:"helpUri,omitempty"`
		DefaultConfiguration sarifRuleConfig   `json:"defaultConfiguration"`
		Properties           sarifRuleProperty `json:"properties"`
	}
	sarifRuleConfig struct {
		Level string `json:"level"`
	}
	sarifRuleProperty struct {
		Tags             []string `json:"tags"`
		SecuritySeverity string   `json:"security-severity"`
		Precision        string   `json:"precision"`
	}
	sarifResult struct {
		RuleID              string             `json:"ruleId"`
		RuleIndex           int                `json:"ruleIndex"`
		Level               string             `json:"level"`
		Message             sarifText          `json:"message"`
		Locations           []sarifLocation    `json:"locations"`
		PartialFingerprints map[string]string  `json:"partialFingerprints"`
		Suppressions        []sarifSuppression `json:"suppressions,omitempty"`
		Properties          map[string]string  `json:"properties"`
	}
	sarifLocation struct {
		PhysicalLocation *sarifPhysical `json:"physicalLocation,omitempty"`
		LogicalLocations []sarifLogical `json:"logicalLocations,omitempty"`
		Message          *sarifText     `json:"message,omitempty"`
	}
	sarifPhysical struct {
		ArtifactLocation sarifArtifact `json:"artifactLocation"`
		Region           *sarifRegion  `json:"region,omitempty"`
	}
	sarifArtifact struct {
		URI string `json:"uri"`
	}
	sarifRegion struct {
		StartLine   int `json:"startLine"`
		StartColumn int `json:"startColumn,omitempty"`
	}
	sarifLogical struct {
		Name               string `json:"name,omitempty"`
		FullyQualifiedName string `json:"fullyQualifiedName"`
		Kind               string `json:"kind"`
	}
	sarifSuppression struct {
		Kind          string `json:"kind"`
		Status        string `json:"status"`
		Justification string `json:"justification"`
	}
	sarifInvocation struct {
		ExecutionSuccessful        bool                `json:"executionSuccessful"`
		ToolExecutionNotifications []sarifNotification `json:"toolExecutionNotifications,omitempty"`
	}
	sarifNotification struct {
		Level     string          `json:"level"`
		Message   sarifText       `json:"message"`
		Locations []sarifLocation `json:"locations,omitempty"`
	}
)

// SARIFOptions describe the tool in SARIF output.
type SARIFOptions struct {
	ToolName    string // default "edgesec"
	ToolVersion string
	InfoURI     string // default https://github.com/edgesec/edgesec
	// Rules described in the run; nil means the built-in catalogue.
	Rules []Rule
}

func sarifLevel(s Severity) string {
	switch s {
	case Critical, High:
		return "error"
	case Medium:
		return "warning"
	}
	return "note"
}

// securitySeverity maps severities to the CVSS-like scores GitHub code
// scanning ranks by.
func securitySeverity(s Severity) string {
	switch s {
	case Critical:
		return "9.5"
	case High:
		return "8.0"
	case Medium:
		return "5.5"
	}
	return "3.0"
}

// ArtifactURI turns a file name into the relative (or file:) URI SARIF
// uses for artifact locations.
func ArtifactURI(file string) string {
	if file == "-" || file == "" {
		return "stdin"
	}
	p := filepath.ToSlash(file)
	u := url.URL{Path: p}
	if filepath.IsAbs(file) {
		u.Scheme = "file"
	}
	return u.String()
}

// WriteSARIF writes the report as a SARIF 2.1.0 log with one run: the rule
// metadata of the catalogue, a result per finding (suppressed ones carry a
// suppression) located by file, line and column and by JSON pointer
// (logical location), and the files that could not be loaded as tool
// execution notifications.
func (r *Report) WriteSARIF(w io.Writer, o SARIFOptions) error {
	rules := o.Rules
	if rules == nil {
		rules = catalogue
	}
	if o.ToolName == "" {
		o.ToolName = "edgesec"
	}
	if o.InfoURI == "" {
		o.InfoURI = "https://github.com/edgesec/edgesec"
	}
	run := sarifRun{
		Tool:       sarifTool{Driver: sarifDriver{Name: o.ToolName, InformationURI: o.InfoURI, Version: o.ToolVersion, Rules: []sarifRule{}}},
		ColumnKind: "unicodeCodePoints",
		Results:    []sarifResult{},
	}
	index := map[string]int{}
	for i, rl := range rules {
		index[rl.ID] = i
		help := fmt.Sprintf("%s\n\nRemediation: %s", rl.Rationale, rl.Remediation)
		md := fmt.Sprintf("**%s** (%s)\n\n%s\n\n**Remediation:** %s", rl.Title, rl.Severity, rl.Rationale, rl.Remediation)
		sr := sarifRule{
			ID: rl.ID, Name: ruleName(rl.Title),
			ShortDescription:     sarifText{Text: rl.Title},
			FullDescription:      sarifText{Text: rl.Rationale},
			Help:                 sarifText{Text: help, Markdown: md},
			DefaultConfiguration: sarifRuleConfig{Level: sarifLevel(rl.Severity)},
			Properties:           sarifRuleProperty{Tags: []string{"security", "iot-edge", rl.Family}, SecuritySeverity: securitySeverity(rl.Severity), Precision: "high"},
		}
		if len(rl.References) > 0 {
			sr.HelpURI = rl.References[0]
		}
		run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sr)
	}
	for _, f := range r.Findings {
		idx, ok := index[f.RuleID]
		if !ok {
			continue
		}
		msg := f.Title + ": " + f.Evidence
		if f.Module != "" {
			msg = f.Module + ": " + msg
		}
		loc := sarifLocation{PhysicalLocation: &sarifPhysical{ArtifactLocation: sarifArtifact{URI: ArtifactURI(f.Source)}}}
		if f.Line > 0 {
			loc.PhysicalLocation.Region = &sarifRegion{StartLine: f.Line, StartColumn: f.Column}
		}
		if f.Pointer != "" {
			loc.LogicalLocations = []sarifLogical{{Name: f.Module, FullyQualifiedName: f.Pointer, Kind: "object"}}
		}
		h := sha256.Sum256([]byte(f.RuleID + "\x00" + f.Module + "\x00" + f.Pointer + "\x00" + f.Evidence))
		res := sarifResult{
			RuleID: f.RuleID, RuleIndex: idx, Level: sarifLevel(f.Severity),
			Message:             sarifText{Text: msg},
			Locations:           []sarifLocation{loc},
			PartialFingerprints: map[string]string{"edgesecFinding/v1": hex.EncodeToString(h[:16])},
			Properties:          map[string]string{"severity": strings.ToLower(f.Severity.String()), "module": f.Module, "pointer": f.Pointer},
		}
		if s := f.Suppression; s != nil {
			kind := "external"
			if s.InSource {
				kind = "inSource"
			}
			just := s.By + ": " + s.Reason
			if s.Expires != "" {
				just += " (until " + s.Expires + ")"
			}
			res.Suppressions = []sarifSuppression{{Kind: kind, Status: "accepted", Justification: just}}
		}
		run.Results = append(run.Results, res)
	}
	inv := sarifInvocation{ExecutionSuccessful: len(r.Errors) == 0}
	for _, e := range r.Errors {
		inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications, sarifNotification{
			Level:     "error",
			Message:   sarifText{Text: e.Message},
			Locations: []sarifLocation{{PhysicalLocation: &sarifPhysical{ArtifactLocation: sarifArtifact{URI: ArtifactURI(e.File)}}}},
		})
	}
	run.Invocations = []sarifInvocation{inv}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(sarifLog{Schema: "https://json.schemastore.org/sarif-2.1.0.json", Version: "2.1.0", Runs: []sarifRun{run}})
}

// ruleName turns a title into the PascalCase name SARIF viewers show.
func ruleName(title string) string {
	var b strings.Builder
	for _, w := range strings.FieldsFunc(title, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}) {
		b.WriteString(strings.ToUpper(w[:1]) + w[1:])
	}
	return b.String()
}
