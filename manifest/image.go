package manifest

import (
	"strconv"
	"strings"
)

// ImageRef is a parsed container image reference.
type ImageRef struct {
	Registry   string // "" for Docker Hub
	Repository string // path without registry
	Tag        string
	Digest     string // "sha256:…"
}

// ParseImage splits an image reference into registry, repository, tag and
// digest. It does not validate.
func ParseImage(s string) ImageRef {
	var r ImageRef
	s = strings.TrimSpace(s)
	if at := strings.LastIndex(s, "@"); at >= 0 {
		r.Digest, s = s[at+1:], s[:at]
	}
	slash := strings.LastIndex(s, "/")
	if c := strings.LastIndex(s, ":"); c > slash {
		r.Tag, s = s[c+1:], s[:c]
	}
	if first, rest, ok := strings.Cut(s, "/"); ok && (strings.ContainsAny(first, ".:") || first == "localhost" || strings.HasPrefix(first, "$")) {
		r.Registry, s = first, rest
	}
	r.Repository = s
	return r
}

// edgeRuntimeVersion returns the major and minor version of an IoT Edge
// system image (azureiotedge-agent / azureiotedge-hub), ok=false for other
// images or unparsable tags.
func edgeRuntimeVersion(image string) (name string, major, minor int, ok bool) {
	ref := ParseImage(image)
	base := ref.Repository[strings.LastIndex(ref.Repository, "/")+1:]
	if base != "azureiotedge-agent" && base != "azureiotedge-hub" {
		return "", 0, 0, false
	}
	tag := ref.Tag
	if tag == "" || hasPlaceholder(tag) {
		return "", 0, 0, false
	}
	tag, _, _ = strings.Cut(tag, "-")
	parts := strings.Split(tag, ".")
	if len(parts) < 2 {
		return "", 0, 0, false
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return "", 0, 0, false
	}
	return base, ma, mi, true
}
