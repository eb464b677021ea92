package twinconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// ErrNoVersion is wrapped by MergeDesired when the patch has no usable
// "$version".
var ErrNoVersion = errors.New(`no "$version"`)

// Reported returns the reported-properties patch that publishes c:
//
//	{"<ObjectName>": {"highPriorityMessageFrequency": {"value": "PT7M"}, ...}}
//
// with every key of [Keys], in that order, durations in ISO 8601 and
// priorities as "Off", "Low" or "High". Decoding the result gives c back
// (with Version 0). Reported does not validate c; see [Config.Validate].
func Reported(c Config) ([]byte, error) { return builtin.Reported(c) }

// Reported is [Reported] with every key of the schema, vendor event
// priorities included.
func (s *Schema) Reported(c Config) ([]byte, error) {
	var b bytes.Buffer
	b.Grow(4096)
	b.WriteString(`{`)
	if err := writeJSON(&b, ObjectName); err != nil {
		return nil, err
	}
	b.WriteString(`:{`)
	for i := range s.keys {
		k := &s.keys[i]
		if i > 0 {
			b.WriteByte(',')
		}
		if err := writeJSON(&b, k.info.Name); err != nil {
			return nil, err
		}
		b.WriteString(`:{"value":`)
		if err := writeJSON(&b, k.value(c)); err != nil {
			return nil, fmt.Errorf("twinconfig: reporting %s: %w", k.info.Name, err)
		}
		b.WriteByte('}')
	}
	b.WriteString(`}}`)
	return b.Bytes(), nil
}

func writeJSON(b *bytes.Buffer, v any) error {
	j, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("twinconfig: %w", err)
	}
	b.Write(j)
	return nil
}

// MergeDesired applies a desired-properties patch, as IoT Hub delivers it
// to a module, to the full desired-properties document and returns the
// merged document (JSON merge patch, RFC 7396: objects merge member by
// member, null deletes a member, anything else replaces it). Both documents
// carry "$version"; the merged one has the patch's.
//
// ok is false when the patch's $version is not newer than the document's:
// the patch is stale or a duplicate, and merged is desired unchanged. gap is
// true when the patch's $version is more than one above the document's: a
// patch was missed, the merged document may be incomplete, and the caller
// should GET the full twin again.
//
// An empty desired (no bytes) is an empty document of version 0, as is a
// document without "$version". The patch must have a non-negative integer
// "$version" (else the error wraps ErrNoVersion). Documents larger than
// MaxDocumentSize (including the merged one), not JSON or not objects are
// errors (wrapping ErrTooLarge, ErrSyntax or ErrShape). Members are written in sorted order.
func MergeDesired(desired, patch []byte) (merged []byte, ok bool, gap bool, err error) {
	src := desired
	if len(bytes.TrimSpace(src)) == 0 {
		src = []byte(`{}`)
	}
	doc, err := decodeObject(src, "desired")
	if err != nil {
		return nil, false, false, err
	}
	p, err := decodeObject(patch, "patch")
	if err != nil {
		return nil, false, false, err
	}
	var docV int64
	if v, ok := doc["$version"]; ok {
		docV, err = versionOf(v)
		if err != nil {
			return nil, false, false, fmt.Errorf("twinconfig: desired: %w", err)
		}
	}
	pv, ok := p["$version"]
	if !ok {
		return nil, false, false, fmt.Errorf("twinconfig: patch: %w", ErrNoVersion)
	}
	patchV, err := versionOf(pv)
	if err != nil {
		return nil, false, false, fmt.Errorf("twinconfig: patch: %w", err)
	}
	if patchV <= docV {
		return desired, false, false, nil
	}
	gap = patchV-docV > 1
	mergeObject(doc, p)
	doc["$version"] = json.Number(strconv.FormatInt(patchV, 10))
	merged, err = json.Marshal(doc)
	if err != nil {
		return nil, false, false, fmt.Errorf("twinconfig: encoding merged desired properties: %w", err)
	}
	if len(merged) > MaxDocumentSize {
		return nil, false, false, fmt.Errorf("twinconfig: merged desired properties of %d bytes: %w (limit %d)", len(merged), ErrTooLarge, MaxDocumentSize)
	}
	return merged, true, gap, nil
}

// decodeObject decodes a JSON object with json.Number numbers.
func decodeObject(raw []byte, what string) (map[string]any, error) {
	if len(raw) > MaxDocumentSize {
		return nil, fmt.Errorf("twinconfig: %s of %d bytes: %w (limit %d)", what, len(raw), ErrTooLarge, MaxDocumentSize)
	}
	if !json.Valid(raw) {
		var v any
		jerr := json.Unmarshal(raw, &v)
		if jerr == nil {
			jerr = errors.New("invalid JSON")
		}
		return nil, fmt.Errorf("twinconfig: %s: %w: %w", what, ErrSyntax, jerr)
	}
	if !isObject(raw) {
		return nil, fmt.Errorf("twinconfig: %s: %w: found %s", what, ErrShape, kindOfRaw(raw))
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("twinconfig: %s: %w: %w", what, ErrSyntax, err)
	}
	return m, nil
}

func versionOf(v any) (int64, error) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, fmt.Errorf("%w: $version is %s", ErrNoVersion, jsonKind(v))
	}
	i, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil || i < 0 {
		return 0, fmt.Errorf("%w: $version %s is not a non-negative integer", ErrNoVersion, truncate(string(n), 64))
	}
	return i, nil
}

// mergeObject applies the merge patch p to doc in place (RFC 7396).
func mergeObject(doc, p map[string]any) {
	for k, v := range p {
		switch v := v.(type) {
		case nil:
			delete(doc, k)
		case map[string]any:
			target, ok := doc[k].(map[string]any)
			if !ok {
				target = make(map[string]any, len(v))
			}
			mergeObject(target, v)
			doc[k] = target
		default:
			doc[k] = v
		}
	}
}
