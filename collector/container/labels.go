package container

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// IoT Edge labels. edgeAgent puts them on every module container it
// creates.
const (
	LabelEdgePrefix        = "net.azure-devices.edge."
	LabelEdgeOwner         = "net.azure-devices.edge.owner"          // "Microsoft.Azure.Devices.Edge.Agent"
	LabelEdgeCreateOptions = "net.azure-devices.edge.create-options" // chunked: …create-options, …create-options01, …02
	LabelEdgeEnv           = "net.azure-devices.edge.env"            // the module's environment, JSON; values may be secrets
	LabelContainerdRestart = "containerd.io/restart.policy"          // containerd restart manager
	LabelNerdctlName       = "nerdctl/name"
	LabelK8sContainerName  = "io.kubernetes.container.name"
	LabelK8sPodName        = "io.kubernetes.pod.name"
	LabelK8sPodNamespace   = "io.kubernetes.pod.namespace"
)

// Bounds on what the inventory keeps of the labels.
const (
	MaxLabels             = 32        // labels of interest kept per container
	MaxLabelValue         = 1024      // bytes kept of an ordinary label value
	MaxCreateOptions      = 16 << 10  // bytes kept of the reassembled create options
	maxCreateOptionChunks = 99        // create-options01 … create-options99
	maxCreateOptionsInput = 256 << 10 // bytes of chunks read before giving up
)

// ExtraDetails keys the inventory sets about labels.
const (
	KeyLabelsTruncated        = "LabelsTruncated"        // "true" when labels of interest were dropped or cut
	KeyCreateOptionsTruncated = "CreateOptionsTruncated" // "true" when the create options were cut at MaxCreateOptions
	KeyCreateOptionsInvalid   = "CreateOptionsInvalid"   // "true" when the create options are not a JSON object
	KeyCreateOptionsChunks    = "CreateOptionsChunks"    // number of chunks reassembled, when more than one
	KeyEnvRedacted            = "EnvRedacted"            // "true" when secret-looking environment values were redacted
)

var interestingLabels = map[string]bool{
	LabelContainerdRestart:       true,
	LabelNerdctlName:             true,
	LabelK8sContainerName:        true,
	LabelK8sPodName:              true,
	LabelK8sPodNamespace:         true,
	"com.docker.compose.project": true,
	"com.docker.compose.service": true,
}

// IsEdgeModule reports whether labels mark the container as an IoT Edge
// module (edgeAgent's owner label).
func IsEdgeModule(labels map[string]string) bool {
	return strings.TrimSpace(labels[LabelEdgeOwner]) != ""
}

// ModuleName returns the IoT Edge module name of a container: its name when
// its labels mark it as an Edge module, else "".
func ModuleName(name string, labels map[string]string) string {
	if !IsEdgeModule(labels) {
		return ""
	}
	return strings.TrimPrefix(name, "/")
}

// LabelsOfInterest returns the labels the inventory reports (the IoT Edge
// ones, the create options reassembled, and a few orchestrator ones),
// bounded in number and size, and notes for ExtraDetails about what was
// cut, redacted or malformed. It never fails: a hostile label is cut, not
// trusted.
func LabelsOfInterest(labels map[string]string) (kept map[string]string, notes map[string]string) {
	notes = map[string]string{}
	if len(labels) == 0 {
		return nil, notes
	}
	kept = map[string]string{}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		if k == LabelEdgeCreateOptions || isCreateOptionsChunk(k) {
			continue
		}
		if strings.HasPrefix(k, LabelEdgePrefix) || interestingLabels[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	truncated := false
	if co, ok := labels[LabelEdgeCreateOptions]; ok {
		val, n := CreateOptions(co, labels)
		if n > 1 {
			notes[KeyCreateOptionsChunks] = fmt.Sprint(n)
		}
		norm, invalid, redacted := normalizeCreateOptions(val)
		if invalid {
			notes[KeyCreateOptionsInvalid] = "true"
		}
		if redacted {
			notes[KeyEnvRedacted] = "true"
		}
		if len(norm) > MaxCreateOptions {
			norm = truncateUTF8(norm, MaxCreateOptions)
			notes[KeyCreateOptionsTruncated] = "true"
		}
		kept[LabelEdgeCreateOptions] = norm
	}
	for _, k := range keys {
		if len(kept) >= MaxLabels {
			truncated = true
			break
		}
		v := labels[k]
		if k == LabelEdgeEnv {
			var red bool
			v, red = redactEnvJSON(v)
			if red {
				notes[KeyEnvRedacted] = "true"
			}
		}
		if len(k) > MaxLabelValue {
			truncated = true
			continue
		}
		if len(v) > MaxLabelValue || !utf8.ValidString(v) {
			v = truncateUTF8(v, MaxLabelValue)
			truncated = true
		}
		kept[k] = v
	}
	if truncated {
		notes[KeyLabelsTruncated] = "true"
	}
	if len(kept) == 0 {
		kept = nil
	}
	return kept, notes
}

func isCreateOptionsChunk(k string) bool {
	rest, ok := strings.CutPrefix(k, LabelEdgeCreateOptions)
	return ok && len(rest) == 2 && rest[0] >= '0' && rest[0] <= '9' && rest[1] >= '0' && rest[1] <= '9'
}

// CreateOptions reassembles IoT Edge's create options from first (the
// create-options label) and its continuation labels create-options01,
// create-options02, … (in order, stopping at the first one missing). It
// returns the text and the number of chunks used. At most 256 KiB are
// read.
func CreateOptions(first string, labels map[string]string) (string, int) {
	var b strings.Builder
	b.WriteString(limitString(first, maxCreateOptionsInput))
	n := 1
	for i := 1; i <= maxCreateOptionChunks && b.Len() < maxCreateOptionsInput; i++ {
		v, ok := labels[fmt.Sprintf("%s%02d", LabelEdgeCreateOptions, i)]
		if !ok {
			break
		}
		b.WriteString(limitString(v, maxCreateOptionsInput-b.Len()))
		n++
	}
	return b.String(), n
}

func limitString(s string, n int) string {
	if n < 0 {
		n = 0
	}
	if len(s) > n {
		return s[:n]
	}
	return s
}

// normalizeCreateOptions compacts valid create options JSON and redacts
// secret-looking environment values. Invalid JSON is returned as is.
func normalizeCreateOptions(s string) (out string, invalid, redacted bool) {
	var obj map[string]json.RawMessage
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	if err := dec.Decode(&obj); err != nil || obj == nil || dec.More() {
		return toValidUTF8(s), true, false
	}
	if env, ok := obj["Env"]; ok {
		var list []string
		if json.Unmarshal(env, &list) == nil {
			var changed bool
			for i, e := range list {
				if k, _, ok := strings.Cut(e, "="); ok && secretName(k) {
					list[i] = k + "=" + Redacted
					changed = true
				}
			}
			if changed {
				obj["Env"] = marshalNoEscape(list)
				redacted = true
				var buf bytes.Buffer
				enc := json.NewEncoder(&buf)
				enc.SetEscapeHTML(false)
				if enc.Encode(obj) == nil {
					return strings.TrimSpace(buf.String()), false, true
				}
			}
		}
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(s)); err != nil {
		return toValidUTF8(s), true, false
	}
	return buf.String(), false, redacted
}

// Redacted replaces secret values.
const Redacted = "<redacted>"

// secretName reports whether an environment variable name looks like it
// holds a secret (connection strings, keys, tokens, passwords).
func secretName(k string) bool {
	u := strings.ToUpper(k)
	for _, w := range []string{"SECRET", "PASSWORD", "PASSWD", "PWD", "TOKEN", "KEY", "CONNECTIONSTRING", "CONNECTION_STRING", "SAS", "CREDENTIAL", "PRIVATE"} {
		if strings.Contains(u, w) {
			return true
		}
	}
	return false
}

// redactEnvJSON redacts secret values in edgeAgent's env label (a JSON
// object of name → {"value": …} or name → value).
func redactEnvJSON(s string) (string, bool) {
	var obj map[string]json.RawMessage
	if json.Unmarshal([]byte(s), &obj) != nil {
		return s, false
	}
	changed := false
	for k := range obj {
		if secretName(k) {
			obj[k] = json.RawMessage(`"` + Redacted + `"`)
			changed = true
		}
	}
	if !changed {
		return s, false
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return s, false
	}
	return string(b), true
}

func toValidUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// truncateUTF8 cuts s to at most n bytes without splitting a rune, and
// makes it valid UTF-8.
func truncateUTF8(s string, n int) string {
	s = toValidUTF8(s)
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Truncate cuts s to at most n bytes without splitting a rune and makes it
// valid UTF-8; the engines use it for every string an engine hands them.
func Truncate(s string, n int) string { return truncateUTF8(s, n) }

// marshalNoEscape encodes v as JSON without escaping <, > and &.
func marshalNoEscape(v any) json.RawMessage {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return json.RawMessage("null")
	}
	return bytes.TrimSpace(buf.Bytes())
}
