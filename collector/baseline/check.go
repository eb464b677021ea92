package baseline

import (
	"fmt"
	"sort"
	"strings"

	"github.com/edgesec/edgesec/event"
)

// ExtraDetails keys of the OSBaseline items.
const (
	// KeySource is "BuiltIn" or "Custom".
	KeySource = "Source"
	// KeyEvidence is a one-line human-readable account of what the check
	// found.
	KeyEvidence = "Evidence"
	// KeyExpected states what a passing host has.
	KeyExpected = "Expected"
	// KeyActual is the value found, when the check is about one value.
	KeyActual = "Actual"
	// KeyLocation is where the value was found (file:line, a path, a
	// /proc/sys parameter) or "default".
	KeyLocation = "Location"
	// KeyNotApplicable is "true" when the check passed because what it
	// checks is not installed.
	KeyNotApplicable = "NotApplicable"
	// KeyTruncated is "true" when a list in the evidence was cut short.
	KeyTruncated = "Truncated"
)

// Sources of a check, the values of KeySource.
const (
	SourceBuiltIn = "BuiltIn"
	SourceCustom  = "Custom"
)

// maxEvidenceItems bounds the lists (accounts, files) an item's evidence
// names.
const maxEvidenceItems = 20

// Check is one baseline rule.
type Check struct {
	// ID is the rule's stable identifier, sent as CceId: a CCE id
	// (CCE-80901-2) where one exists, otherwise "EDGESEC-<AREA>-<n>".
	ID string
	// Description says what a compliant host has.
	Description string
	// Severity is one of event.SeverityCritical, SeverityImportant,
	// SeverityWarning, SeverityInformational.
	Severity string
	// Run evaluates the rule. It must not modify the host, must respect
	// the Host's context for long work, and never panics on bad input.
	Run func(h *Host) Result
}

// Result is the outcome of one check.
type Result struct {
	// Status is event.BaselinePass, BaselineFail or BaselineErr.
	Status string
	// Err says why the check could not be evaluated (Status Err).
	Err error
	// Details is the evidence, sent as the item's ExtraDetails.
	Details map[string]string
}

// Pass returns a passing Result with key/value evidence pairs.
func Pass(evidence string, kv ...string) Result { return result(event.BaselinePass, nil, evidence, kv) }

// Fail returns a failing Result with key/value evidence pairs.
func Fail(evidence string, kv ...string) Result { return result(event.BaselineFail, nil, evidence, kv) }

// Error returns the Result of a check that could not be evaluated.
func Error(err error, kv ...string) Result { return result(event.BaselineErr, err, "", kv) }

// notApplicable is a Pass for a host without what the check is about.
func notApplicable(evidence string) Result { return Pass(evidence, KeyNotApplicable, "true") }

func result(status string, err error, evidence string, kv []string) Result {
	d := make(map[string]string, len(kv)/2+1)
	if evidence != "" {
		d[KeyEvidence] = evidence
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			d[kv[i]] = kv[i+1]
		}
	}
	return Result{Status: status, Err: err, Details: d}
}

// Item turns a check and its result into an OSBaseline payload item.
func Item(c Check, r Result, source string) *event.OSBaselinePayload {
	extra := make(event.ExtraDetails, len(r.Details)+1)
	for k, v := range r.Details {
		extra[k] = v
	}
	extra[KeySource] = source
	p := &event.OSBaselinePayload{
		CceID:        c.ID,
		Description:  c.Description,
		Result:       r.Status,
		Severity:     c.Severity,
		ExtraDetails: extra,
	}
	if r.Status == event.BaselineErr {
		if r.Err != nil {
			p.Error = r.Err.Error()
		} else {
			p.Error = "unknown error"
		}
	}
	return p
}

// list joins at most maxEvidenceItems of items with ", " and tells
// whether it cut the list.
func list(items []string) (string, bool) {
	if len(items) <= maxEvidenceItems {
		return strings.Join(items, ", "), false
	}
	return strings.Join(items[:maxEvidenceItems], ", ") + fmt.Sprintf(", … (%d more)", len(items)-maxEvidenceItems), true
}

// failList is a Fail naming the offending items in the evidence.
func failList(what string, items []string, kv ...string) Result {
	s, cut := list(items)
	if cut {
		kv = append(kv, KeyTruncated, "true")
	}
	return Fail(fmt.Sprintf("%s (%d): %s", what, len(items), s), kv...)
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
