package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/edgesec/edgesec/manifest"
)

// Exit codes of edgesec lint.
const (
	exitOK       = 0 // nothing at or above --fail-on
	exitFindings = 1 // a finding at or above --fail-on
	exitUsage    = 2 // bad usage, or a file could not be read or loaded
)

const lintUsage = `usage: edgesec lint [flags] FILE…|-

Analyse IoT Edge deployment manifests (deployment.json, deployment.template.json,
layered deployments) for security risks. "-" reads standard input.

Exit status: 0 when nothing at or above --fail-on is found, 1 when something is,
2 on usage errors or when a file cannot be read or loaded.

Flags:
`

// stringList is a repeatable, comma-separated flag.
type stringList []string

func (s *stringList) String() string { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*s = append(*s, p)
		}
	}
	return nil
}

func lint(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("edgesec lint", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "text", "output format: text, json or sarif")
	failOn := fs.String("fail-on", "high", "exit 1 when a finding is at or above this severity: critical, high, medium, low or never")
	var disable, severity stringList
	fs.Var(&disable, "disable", "rule ids to switch off, comma-separated (repeatable)")
	fs.Var(&severity, "severity", "severity overrides RULE=LEVEL, comma-separated (repeatable), e.g. EDGE016=medium")
	config := fs.String("config", "", "JSON file with disabledRules, severity and suppressions (the module twin's format)")
	suppressions := fs.String("suppressions", "", "JSON file with a list of suppressions: [{\"rule\",\"module\",\"source\",\"by\",\"reason\",\"expires\"}]")
	fs.Usage = func() {
		fmt.Fprint(stderr, lintUsage)
		fs.PrintDefaults()
	}
	files, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "edgesec lint: "+format+"\n", a...)
		return exitUsage
	}
	if len(files) == 0 {
		fs.Usage()
		return usageErr("no manifest given (use - for standard input)")
	}
	switch *format {
	case "text", "json", "sarif":
	default:
		return usageErr("unknown --format %q (want text, json or sarif)", *format)
	}
	threshold := manifest.Severity(0)
	if !strings.EqualFold(*failOn, "never") {
		if threshold, err = manifest.ParseSeverity(*failOn); err != nil {
			return usageErr("unknown --fail-on %q (want critical, high, medium, low or never)", *failOn)
		}
	}
	var cfg manifest.Config
	if *config != "" {
		data, err := os.ReadFile(*config)
		if err != nil {
			return usageErr("%v", err)
		}
		if cfg, err = manifest.DecodeConfig(data); err != nil {
			return usageErr("%s: %v", *config, err)
		}
	}
	if *suppressions != "" {
		data, err := os.ReadFile(*suppressions)
		if err != nil {
			return usageErr("%v", err)
		}
		var list []manifest.Suppression
		dec := json.NewDecoder(strings.NewReader(string(data)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&list); err != nil {
			return usageErr("%s: %v", *suppressions, err)
		}
		if err := (manifest.Config{Suppressions: list}).Validate(manifest.Catalogue()); err != nil {
			return usageErr("%s: %v", *suppressions, err)
		}
		cfg.Suppressions = append(cfg.Suppressions, list...)
	}
	// Each source is checked on its own, so that a problem is blamed on
	// the flag or the file it comes from.
	for _, id := range disable {
		if !knownRule(id) {
			return usageErr("--disable: unknown rule %q (edgesec rules lists them)", id)
		}
	}
	cfg.DisabledRules = append(cfg.DisabledRules, disable...)
	for _, s := range severity {
		id, lvl, ok := strings.Cut(s, "=")
		if !ok {
			return usageErr("--severity %q: want RULE=LEVEL", s)
		}
		sev, err := manifest.ParseSeverity(lvl)
		if err != nil {
			return usageErr("--severity %q: %v", s, err)
		}
		if !knownRule(strings.TrimSpace(id)) {
			return usageErr("--severity %q: unknown rule %q (edgesec rules lists them)", s, strings.TrimSpace(id))
		}
		if cfg.Severity == nil {
			cfg.Severity = map[string]manifest.Severity{}
		}
		cfg.Severity[strings.ToUpper(strings.TrimSpace(id))] = sev
	}
	if err := cfg.Validate(manifest.Catalogue()); err != nil {
		return usageErr("%v", err)
	}

	an := manifest.Analyzer{Config: cfg}
	var rep manifest.Report
	stdinUsed := false
	for _, file := range files {
		rep.Files = append(rep.Files, file)
		var d *manifest.Deployment
		if file == "-" {
			if stdinUsed {
				return usageErr("standard input (-) given twice")
			}
			stdinUsed = true
			d, err = manifest.LoadReader(stdin, "-", manifest.LoadOptions{})
		} else {
			d, err = manifest.LoadFile(file, manifest.LoadOptions{})
		}
		if err != nil {
			rep.Errors = append(rep.Errors, manifest.FileError{File: file, Message: cleanError(err, file)})
			continue
		}
		rep.Findings = append(rep.Findings, an.Analyze(d)...)
	}

	switch *format {
	case "json":
		err = rep.WriteJSON(stdout)
	case "sarif":
		err = rep.WriteSARIF(stdout, manifest.SARIFOptions{ToolVersion: version})
	default:
		err = rep.WriteText(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "edgesec lint: %v\n", err)
		return exitUsage
	}
	if *format != "text" {
		for _, e := range rep.Errors {
			fmt.Fprintf(stderr, "edgesec lint: %s: %s\n", e.File, e.Message)
		}
	}
	if len(rep.Errors) > 0 {
		return exitUsage
	}
	if threshold > 0 {
		for _, f := range rep.Findings {
			if f.Suppression == nil && f.Severity >= threshold {
				return exitFindings
			}
		}
	}
	return exitOK
}

// cleanError drops the "manifest: FILE: " prefix the report already
// shows, and puts one problem per line.
func cleanError(err error, file string) string {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "manifest: ")
	msg = strings.TrimPrefix(msg, file+": ")
	msg = strings.TrimPrefix(msg, "open "+file+": ")
	return strings.ReplaceAll(msg, "\n", "; ")
}

// parseInterleaved parses flags that may come after file arguments
// ("edgesec lint deploy.json --format sarif").
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var files []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return files, nil
		}
		if args[0] == "--" {
			return append(files, args[1:]...), nil
		}
		files = append(files, args[0])
		args = args[1:]
	}
}

func rules(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("edgesec rules", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "text", "output format: text or json")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	cat := manifest.Catalogue()
	switch *format {
	case "json":
		type jr struct {
			ID          string `json:"id"`
			Title       string `json:"title"`
			Severity    string `json:"severity"`
			Family      string `json:"family"`
			Rationale   string `json:"rationale"`
			Remediation string `json:"remediation"`
		}
		var out []jr
		for _, r := range cat {
			out = append(out, jr{r.ID, r.Title, strings.ToLower(r.Severity.String()), r.Family, r.Rationale, r.Remediation})
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return exitUsage
		}
	case "text":
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSEVERITY\tFAMILY\tTITLE")
		for _, r := range cat {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.ID, r.Severity, r.Family, r.Title)
		}
		if err := tw.Flush(); err != nil {
			return exitUsage
		}
	default:
		fmt.Fprintf(stderr, "edgesec rules: unknown --format %q\n", *format)
		return exitUsage
	}
	return exitOK
}

// knownRule reports whether id names a rule of the catalogue.
func knownRule(id string) bool {
	for _, r := range manifest.Catalogue() {
		if strings.EqualFold(r.ID, id) {
			return true
		}
	}
	return false
}
