package twinconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/edgesec/edgesec/event"
)

// Errors wrapped by Decode (and MergeDesired) when a document is not usable
// at all.
var (
	// ErrTooLarge: the document is larger than MaxDocumentSize.
	ErrTooLarge = errors.New("document too large")
	// ErrSyntax: the document is not JSON (including truncated JSON).
	ErrSyntax = errors.New("not valid JSON")
	// ErrShape: the document, or the part that must hold the configuration
	// object, is not a JSON object.
	ErrShape = errors.New("not a JSON object")
)

// Problem is one thing wrong with a configuration document. Problems are
// reported as ConfigurationError events.
type Problem struct {
	// Key is the configuration key concerned, e.g. "maxMessageSizeInBytes"
	// (or the unknown key as written, or "$version").
	Key string
	// Kind is event.TypeMismatch (wrong type, bad value, out of range,
	// unknown key, value not wrapped in {"value": ...}), event.Conflict
	// (values that contradict each other) or event.NotOptimal (accepted,
	// but probably not what was meant).
	Kind string
	// Message says what is wrong, for a human.
	Message string
	// Used is the value in effect for Key, as text (as in a document,
	// without JSON quotes). From Decode it is the value in the returned
	// Config; from Manager.Apply the value actually running.
	Used string
}

// Error implements error, so that a Problem can be logged or wrapped.
func (p Problem) Error() string {
	return fmt.Sprintf("twinconfig: %s: %s: %s (using %q)", p.Key, p.Kind, p.Message, p.Used)
}

// usedIgnored is Problem.Used of a key that is not used at all.
const usedIgnored = "(ignored)"

// Decode decodes a configuration document into a Config, starting from
// Default() for absent keys.
//
// It accepts three shapes:
//
//   - a full module twin, as in the official azureiotsecurity_default.json:
//     {"properties": {"desired": {"<ObjectName>": {...}, "$version": 4}}}
//     (a {"desired": {...}} document, the shape of the official schema, is
//     read the same way);
//   - the desired properties section, or a desired-properties patch:
//     {"<ObjectName>": {...}, "$version": 4};
//   - the bare configuration object: {"snapshotFrequency": {"value": "PT1H"}, ...}.
//
// A document whose top level has "$version" or "$metadata", no
// configuration object and no configuration key is a desired section
// without the object: every key has its default. Config.Version is the desired "$version" (0 when there is none).
//
// In the configuration object every value is wrapped as {"value": X}. A key
// whose value is null is absent (twin semantics: null deletes). Members
// whose name starts with "$" (twin metadata) are ignored. Durations are ISO
// 8601 ([ParseDuration]), priorities are case-insensitive.
//
// Decoding is strict and total: every problem is returned, in document
// order, then the Conflict and NotOptimal problems. A key with a
// TypeMismatch keeps its default in the returned Config; values in Conflict
// are returned as decoded (a [Manager] refuses them).
//
// Decode returns a non-nil error, wrapping ErrTooLarge, ErrSyntax or
// ErrShape, only when the document is not usable at all: larger than
// MaxDocumentSize, not JSON or truncated, or not an object where the
// configuration must be. The Config is then Default().
func Decode(doc []byte) (Config, []Problem, error) { return builtin.Decode(doc) }

// Decode is [Decode] with the schema's keys (vendor event priorities
// included) and defaults.
func (s *Schema) Decode(doc []byte) (Config, []Problem, error) {
	vals, version, probs, err := s.values(doc)
	if err != nil {
		return s.Default(), nil, err
	}
	cfg := s.Default()
	cfg.Version = version
	for _, v := range vals {
		k, _ := s.lookup(v.key)
		_ = k.decode(&cfg, v.val) // validated by values
	}
	probs = append(probs, crossCheck(cfg)...)
	return cfg, probs, nil
}

// keyValue is one valid key of a document, with its unwrapped value.
type keyValue struct {
	key string
	val any
}

// values returns the valid keys of doc with their values, in document
// order, its desired $version, and the problems of the other keys (not
// the cross-key checks). Keys whose value is null are absent.
func (s *Schema) values(doc []byte) (vals []keyValue, version int64, probs []Problem, err error) {
	obj, version, probs, err := locate(doc)
	if err != nil {
		return nil, 0, nil, err
	}
	if obj == nil {
		return nil, version, probs, nil
	}
	members, err := objectMembers(obj)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("twinconfig: %s: %w", ObjectName, err)
	}
	def := s.Default()
	cur := s.Default()
	seen := make(map[string]bool, len(members))
	for _, m := range members {
		if strings.HasPrefix(m.name, "$") {
			continue
		}
		k, ok := s.lookup(m.name)
		if !ok {
			msg := "unknown configuration key"
			if sg := s.suggest(m.name); sg != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", sg)
			}
			probs = append(probs, Problem{Key: m.name, Kind: event.TypeMismatch, Message: msg, Used: usedIgnored})
			continue
		}
		if seen[m.name] {
			probs = append(probs, Problem{Key: m.name, Kind: event.TypeMismatch,
				Message: "duplicate key; only its first occurrence is used", Used: k.text(cur)})
			continue
		}
		seen[m.name] = true
		if isNull(m.raw) {
			continue // deleted: default
		}
		v, err := unwrap(m.raw)
		if err == nil {
			err = k.decode(&cur, v)
			if err == nil {
				err = k.check(cur)
			}
		}
		if err != nil {
			k.reset(&cur, def)
			probs = append(probs, Problem{Key: m.name, Kind: event.TypeMismatch, Message: err.Error(), Used: k.text(cur)})
			continue
		}
		vals = append(vals, keyValue{key: m.name, val: v})
	}
	return vals, version, probs, nil
}

// member is one member of a JSON object, in document order.
type member struct {
	name string
	raw  json.RawMessage
}

// objectMembers returns the members of the JSON object raw, in order and
// with duplicates. raw must be valid JSON.
func objectMembers(raw []byte) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSyntax, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("%w: found %s", ErrShape, kindOfRaw(raw))
	}
	var ms []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrSyntax, err)
		}
		name, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("%w: object key %v", ErrSyntax, tok)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrSyntax, err)
		}
		ms = append(ms, member{name, v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSyntax, err)
	}
	return ms, nil
}

// lastMembers returns the members of an object by name, the last
// occurrence winning (encoding/json semantics).
func lastMembers(raw []byte) (map[string]json.RawMessage, error) {
	ms, err := objectMembers(raw)
	if err != nil {
		return nil, err
	}
	m := make(map[string]json.RawMessage, len(ms))
	for _, x := range ms {
		m[x.name] = x.raw
	}
	return m, nil
}

func firstByte(raw []byte) byte {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return 0
	}
	return raw[0]
}

func isNull(raw []byte) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }

func isObject(raw []byte) bool { return firstByte(raw) == '{' }

func kindOfRaw(raw []byte) string {
	switch firstByte(raw) {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	case 0:
		return "nothing"
	}
	return "a number"
}

// locate finds the configuration object in doc (nil when the document has
// none) and the desired $version.
func locate(doc []byte) (obj json.RawMessage, version int64, probs []Problem, err error) {
	if len(doc) > MaxDocumentSize {
		return nil, 0, nil, fmt.Errorf("twinconfig: document of %d bytes: %w (limit %d)", len(doc), ErrTooLarge, MaxDocumentSize)
	}
	if !json.Valid(doc) {
		var v any
		jerr := json.Unmarshal(doc, &v)
		if jerr == nil {
			jerr = errors.New("invalid JSON")
		}
		return nil, 0, nil, fmt.Errorf("twinconfig: %w: %w", ErrSyntax, jerr)
	}
	if !isObject(doc) {
		return nil, 0, nil, fmt.Errorf("twinconfig: document: %w: found %s", ErrShape, kindOfRaw(doc))
	}
	top, err := lastMembers(doc)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("twinconfig: document: %w", err)
	}
	var section json.RawMessage
	where := "document"
	switch {
	case top["properties"] != nil:
		where = "properties"
		if !isObject(top["properties"]) {
			return nil, 0, nil, fmt.Errorf("twinconfig: properties: %w: found %s", ErrShape, kindOfRaw(top["properties"]))
		}
		props, err := lastMembers(top["properties"])
		if err != nil {
			return nil, 0, nil, fmt.Errorf("twinconfig: properties: %w", err)
		}
		section = props["desired"]
		where = "properties.desired"
		if section == nil || isNull(section) {
			return nil, 0, nil, nil // a twin without desired properties
		}
	case top["desired"] != nil:
		section, where = top["desired"], "desired"
	case top[ObjectName] != nil || (top["$version"] != nil || top["$metadata"] != nil) && !hasKnownKey(top):
		section = doc
	default:
		return doc, 0, nil, nil // the bare configuration object
	}
	if !isObject(section) {
		return nil, 0, nil, fmt.Errorf("twinconfig: %s: %w: found %s", where, ErrShape, kindOfRaw(section))
	}
	desired, err := lastMembers(section)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("twinconfig: %s: %w", where, err)
	}
	if raw, ok := desired["$version"]; ok {
		version, err = parseVersion(raw)
		if err != nil {
			probs = append(probs, Problem{Key: "$version", Kind: event.TypeMismatch, Message: err.Error(), Used: "0"})
		}
	}
	obj = desired[ObjectName]
	if obj == nil || isNull(obj) {
		return nil, version, probs, nil
	}
	if !isObject(obj) {
		return nil, 0, nil, fmt.Errorf("twinconfig: %s: %w: found %s", ObjectName, ErrShape, kindOfRaw(obj))
	}
	return obj, version, probs, nil
}

// hasKnownKey reports whether m has a configuration key.
func hasKnownKey(m map[string]json.RawMessage) bool {
	for name := range m {
		if _, ok := lookupKey(name); ok {
			return true
		}
	}
	return false
}

// parseVersion parses a twin "$version": a non-negative integer.
func parseVersion(raw json.RawMessage) (int64, error) {
	s := string(bytes.TrimSpace(raw))
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("$version %s is not a non-negative integer", truncate(s, 64))
	}
	return n, nil
}

// unwrap returns X of a {"value": X} wrapper, decoded with json.Number
// numbers.
func unwrap(raw json.RawMessage) (any, error) {
	if !isObject(raw) {
		return nil, fmt.Errorf(`the value must be wrapped as {"value": ...}, found %s`, kindOfRaw(raw))
	}
	ms, err := objectMembers(raw)
	if err != nil {
		return nil, err
	}
	var val json.RawMessage
	for _, m := range ms {
		switch {
		case m.name == "value":
			if val != nil {
				return nil, errors.New(`duplicate "value" member`)
			}
			val = m.raw
		case strings.HasPrefix(m.name, "$"):
		default:
			return nil, fmt.Errorf(`unexpected member %q next to "value"`, truncate(m.name, 64))
		}
	}
	if val == nil {
		return nil, errors.New(`the value must be wrapped as {"value": ...}: no "value" member`)
	}
	dec := json.NewDecoder(bytes.NewReader(val))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSyntax, err)
	}
	return v, nil
}
