package twinconfig

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// KeyKernelWatchedPaths is the extension key of the path prefixes whose
// file operations the eBPF kernel source (collector/kernel) reports as
// KernelActivity events: [Config.KernelWatchedPaths].
const KeyKernelWatchedPaths = "kernelWatchedPaths"

// WatchedPathsDefaults is the element of a kernelWatchedPaths array that
// stands for the collector's built-in list, so that a document can add to
// it (["defaults", {...}]) rather than replace it.
const WatchedPathsDefaults = "defaults"

// maxWatchedPathsElements bounds the elements of a kernelWatchedPaths
// array. The collector has its own, smaller limit on the expanded list;
// this one only keeps a silly document from costing work.
const maxWatchedPathsElements = 256

func kernelKeys() []keySpec {
	get := func(c Config) string { return c.KernelWatchedPaths }
	set := func(c *Config, s string) { c.KernelWatchedPaths = s }
	k := keySpec{
		info: KeyInfo{
			Name: KeyKernelWatchedPaths, Type: TypeJSONArray, Default: `["defaults"]`,
			Range: `a JSON array of "defaults" and objects {"prefix": absolute path, "ops": "read|write|delete|truncate|link" or an array of those names}; null or [] means ["defaults"]`,
			Description: "Path prefixes whose file operations the eBPF kernel source reports as KernelActivity events, applied while it runs. " +
				`"defaults" stands for the built-in list (shadow, sudoers, SSH keys, /etc, binary directories, logs, shell history); see "Watched paths of the eBPF kernel source" below.`,
			Extension: true,
		},
		decode: func(c *Config, v any) error {
			// A string holding the array is accepted, as for the other
			// array keys.
			s, err := jsonArrayText(v, `a JSON array of "defaults" and {"prefix", "ops"} objects`)
			if err != nil {
				return err
			}
			if err := CheckWatchedPaths(s); err != nil {
				return err
			}
			set(c, canonicalWatchedPaths(s))
			return nil
		},
		check: func(c Config) error { return CheckWatchedPaths(get(c)) },
		value: func(c Config) any {
			if get(c) == "" {
				return json.RawMessage(`["` + WatchedPathsDefaults + `"]`)
			}
			return json.RawMessage(get(c))
		},
		reset: func(c *Config, d Config) { set(c, get(d)) },
	}
	return []keySpec{k}
}

// WatchedPathEntry is one element of a kernelWatchedPaths array: either
// Defaults (the string "defaults") or a Prefix with its Ops, each op name
// as written ("read|write" and ["read", "write"] both give
// ["read", "write"]).
type WatchedPathEntry struct {
	Defaults bool
	Prefix   string
	Ops      []string
}

// ParseWatchedPaths checks the form of a kernelWatchedPaths value (the
// text [Config.KernelWatchedPaths] holds) and returns its elements in
// order. "" returns nil: the built-in list. It does not know which
// operation names or prefixes the collector accepts (collector/kernel
// checks those); it checks that every element is "defaults" or an object
// with exactly a non-empty string "prefix" and an "ops" that is a
// non-empty string of names joined by "|" or a non-empty array of
// non-empty strings.
func ParseWatchedPaths(s string) ([]WatchedPathEntry, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	if len(s) > maxJSONKeyLen {
		return nil, fmt.Errorf("longer than %d bytes", maxJSONKeyLen)
	}
	if !utf8.ValidString(s) {
		return nil, errors.New("not valid UTF-8")
	}
	var elems []json.RawMessage
	if err := json.Unmarshal([]byte(s), &elems); err != nil {
		return nil, fmt.Errorf("not a JSON array: %w", err)
	}
	if len(elems) > maxWatchedPathsElements {
		return nil, fmt.Errorf("%d elements, at most %d", len(elems), maxWatchedPathsElements)
	}
	out := make([]WatchedPathEntry, 0, len(elems))
	for i, raw := range elems {
		e, err := parseWatchedPathEntry(raw)
		if err != nil {
			return nil, fmt.Errorf("element %d: %w", i, err)
		}
		out = append(out, e)
	}
	return out, nil
}

func parseWatchedPathEntry(raw json.RawMessage) (WatchedPathEntry, error) {
	if strings.TrimSpace(string(raw)) == "null" {
		return WatchedPathEntry{}, fmt.Errorf("null: want %q or an object {\"prefix\", \"ops\"}", WatchedPathsDefaults)
	}
	var str string
	if err := json.Unmarshal(raw, &str); err == nil {
		if str != WatchedPathsDefaults {
			return WatchedPathEntry{}, fmt.Errorf("the string %q: want %q or an object {\"prefix\", \"ops\"}", truncate(str, 64), WatchedPathsDefaults)
		}
		return WatchedPathEntry{Defaults: true}, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return WatchedPathEntry{}, fmt.Errorf("want %q or an object {\"prefix\", \"ops\"}, got %s", WatchedPathsDefaults, truncate(string(raw), 64))
	}
	for name := range obj {
		if name != "prefix" && name != "ops" {
			return WatchedPathEntry{}, fmt.Errorf("unknown member %q (want prefix and ops)", truncate(name, 64))
		}
	}
	var e WatchedPathEntry
	p, ok := obj["prefix"]
	if !ok {
		return e, errors.New(`"prefix" missing`)
	}
	if err := json.Unmarshal(p, &e.Prefix); err != nil || e.Prefix == "" {
		return e, fmt.Errorf(`"prefix": want a non-empty string, got %s`, truncate(string(p), 64))
	}
	o, ok := obj["ops"]
	if !ok {
		return e, fmt.Errorf("prefix %q: \"ops\" missing", truncate(e.Prefix, 64))
	}
	var ops string
	var list []string
	switch {
	case json.Unmarshal(o, &ops) == nil:
		list = strings.Split(ops, "|")
	case json.Unmarshal(o, &list) == nil:
	default:
		return e, fmt.Errorf("prefix %q: \"ops\": want a string such as \"read|write\" or an array of names, got %s", truncate(e.Prefix, 64), truncate(string(o), 64))
	}
	if len(list) == 0 {
		return e, fmt.Errorf("prefix %q: \"ops\" is empty", truncate(e.Prefix, 64))
	}
	for _, op := range list {
		op = strings.TrimSpace(op)
		if op == "" {
			return e, fmt.Errorf("prefix %q: \"ops\" has an empty operation name", truncate(e.Prefix, 64))
		}
		e.Ops = append(e.Ops, op)
	}
	return e, nil
}

// CheckWatchedPaths reports whether s has the form of a kernelWatchedPaths
// value (see [ParseWatchedPaths]).
func CheckWatchedPaths(s string) error {
	_, err := ParseWatchedPaths(s)
	return err
}

// canonicalWatchedPaths is the compact encoding of a valid value, "" for
// the built-in list (null, [] or ["defaults"]).
func canonicalWatchedPaths(s string) string {
	s = compactJSON(s)
	if s == `["`+WatchedPathsDefaults+`"]` {
		return ""
	}
	return s
}
