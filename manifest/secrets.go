package manifest

import (
	"regexp"
	"strconv"
	"strings"
)

// Template placeholders: iotedgedev / VS Code (${VAR}, $VAR), Azure
// DevOps ($(var), #{var}#), documentation (<your key>), Helm/Mustache
// ({{var}}), ARM ([parameters('x')]) and token replacement (__VAR__,
// #VAR#).
var (
	placeholderRE = regexp.MustCompile(`^\s*(\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_.]*|\$\([^)]*\)|<[^<>]*>|#\{[^}]*\}#|#[^#\s]*#|\{\{[^}]*\}\}|\[[a-z]+\([^]]*\)\]|__[A-Za-z0-9_.]+__)\s*$`)
	embeddedRE    = regexp.MustCompile(`\$\{[^}]+\}|\$\([^)]+\)|\{\{[^}]+\}\}|<[A-Za-z][^<>]*>|#\{[^}]+\}#|#[A-Za-z][A-Za-z0-9_.]*#|__[A-Z0-9_]+__|\$[A-Z_][A-Z0-9_]{2,}`)
	dummyRE       = regexp.MustCompile(`(?i)^(x{3,}|\*{3,}|\.{3,}|-+|(your|my|enter|insert|replace)[-_ ].*|.*[-_ ]here|todo|tbd|n/?a|none|null|undefined|changethis|placeholder|secret|password)$`)
)

// isPlaceholder reports whether s, as a whole, is an unresolved template
// placeholder.
func isPlaceholder(s string) bool { return placeholderRE.MatchString(s) }

// hasPlaceholder reports whether s contains an unresolved placeholder.
func hasPlaceholder(s string) bool { return embeddedRE.MatchString(s) }

// notASecret reports whether a value cannot be a real secret: empty, a
// placeholder, or an obvious dummy.
func notASecret(v string) bool {
	v = strings.TrimSpace(v)
	return len(v) < 4 || isPlaceholder(v) || dummyRE.MatchString(v) || hasPlaceholder(v)
}

var (
	secretNameRE = regexp.MustCompile(`(?i)(pass(word|wd|phrase)?$|pass(word|wd)?[-_]|pwd|secret|token|api[-_]?key|access[-_]?key|account[-_]?key|shared[-_]?key|sharedaccess|private[-_]?key|signing[-_]?key|sas[-_]?(key|token)?$|connection[-_]?string|conn[-_]?str|credential|^key$|[-_.]key$|^key[-_])`)
	// Names that hold a reference to a secret, not a secret.
	notSecretNameRE = regexp.MustCompile(`(?i)([-_.](file|path|dir|url|uri|endpoint|name|id|type|length|expiry|ttl|version|enabled|header|policy|scope|audience|issuer|field|source|mode|location))$`)

	secretValueREs = []struct {
		what string
		re   *regexp.Regexp // group 1 is the secret part
	}{
		{"a SharedAccessKey", regexp.MustCompile(`(?i)SharedAccessKey\s*=\s*([^;\s"]+)`)},
		{"a storage AccountKey", regexp.MustCompile(`(?i)AccountKey\s*=\s*([^;\s"]+)`)},
		{"a SAS token", regexp.MustCompile(`(?i)SharedAccessSignature\s+[^"]*?\bsig=([^&\s";]+)`)},
		{"a SAS signature", regexp.MustCompile(`(?i)[?&]sig=([A-Za-z0-9%+/=]{16,})`)},
		{"a password in a connection string", regexp.MustCompile(`(?i)(?:^|;)\s*(?:password|pwd)\s*=\s*([^;"]+)`)},
		{"a password in a URL", regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@"]+:([^/\s@"]+)@`)},
		{"a private key", regexp.MustCompile(`-----BEGIN ((?:[A-Z]+ )*PRIVATE KEY)-----`)},
	}
)

// secretIn inspects a named value and returns a description of the secret
// it holds ("a SharedAccessKey", "a value named like a secret"), or "".
func secretIn(name, value string) string {
	for _, sv := range secretValueREs {
		for _, m := range sv.re.FindAllStringSubmatch(value, 4) {
			if sv.what == "a private key" || !notASecret(m[1]) {
				return sv.what
			}
		}
	}
	if name != "" && secretNameRE.MatchString(name) && !notSecretNameRE.MatchString(name) && !notASecret(value) {
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
