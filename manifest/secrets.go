package manifest

import (
	"strconv"
	"strings"
)

// isPlaceholder reports whether s, as a whole, is an unresolved template
// placeholder.
func isPlaceholder(s string) bool { return patterns().placeholder.MatchString(s) }

// hasPlaceholder reports whether s contains an unresolved placeholder.
func hasPlaceholder(s string) bool { return patterns().embedded.MatchString(s) }

// notASecret reports whether a value cannot be a real secret: empty, a
// placeholder, or an obvious dummy.
func notASecret(v string) bool {
	v = strings.TrimSpace(v)
	return len(v) < 4 || isPlaceholder(v) || patterns().dummy.MatchString(v) || hasPlaceholder(v)
}

// secretIn inspects a named value and returns a description of the secret
// it holds ("a SharedAccessKey", "a value named like a secret"), or "".
func secretIn(name, value string) string {
	for _, sv := range patterns().secretValues {
		for _, m := range sv.re.FindAllStringSubmatch(value, 4) {
			if sv.what == "a private key" || !notASecret(m[1]) {
				return sv.what
			}
		}
	}
	if name != "" && patterns().secretName.MatchString(name) && !patterns().notSecretName.MatchString(name) && !notASecret(value) {
		v := strings.TrimSpace(value)
		if _, err := strconv.ParseFloat(v, 64); err == nil {
			return ""
		}
		switch strings.ToLower(v) {
		case "true", "false", "yes", "no", "on", "off", "enabled", "disabled":
			return ""
		}
		if strings.HasPrefix(v, "/") || strings.HasPrefix(v, "http://") || strings.HasPrefix(v, "https://") {
			return "" // a path or URL naming where the secret is
		}
		return "a value named like a secret"
	}
	return ""
}

// redact describes a secret value without revealing it.
func redact(v string) string {
	return "<redacted, " + strconv.Itoa(len(v)) + " characters>"
}
