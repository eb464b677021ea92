package manifest

import (
	"regexp"
	"sync"
)

// regexps are the regular expressions the loader and the secret checks
// use.
type regexps struct {
	// chunkKey matches the createOptions01…99 labels that carry the
	// rest of a long createOptions.
	chunkKey *regexp.Regexp
	// route parses a route: FROM source [WHERE condition] INTO sink.
	route *regexp.Regexp

	// Template placeholders: iotedgedev / VS Code (${VAR}, $VAR), Azure
	// DevOps ($(var), #{var}#), documentation (<your key>), Helm/Mustache
	// ({{var}}), ARM ([parameters('x')]) and token replacement (__VAR__,
	// #VAR#): placeholder matches a whole value that is one, embedded one
	// inside a value; dummy matches an obvious dummy value.
	placeholder, embedded, dummy *regexp.Regexp

	// secretName matches names of values that hold secrets,
	// notSecretName names that hold a reference to a secret (a file, a
	// URL, an id), not a secret.
	secretName, notSecretName *regexp.Regexp
	// secretValues find secrets inside values, by what they are.
	secretValues []secretValue
}

// secretValue finds one kind of secret inside a value.
type secretValue struct {
	what string
	re   *regexp.Regexp // group 1 is the secret part
}

// patterns returns the regular expressions, compiled on first use: a
// program that links the package but analyses no manifest (the reference
// module without a deployment manifest to check) keeps none of their
// compiled programs, about 70 KB of small objects, on its heap.
var patterns = sync.OnceValue(func() *regexps {
	return &regexps{
		chunkKey:      regexp.MustCompile(`^createOptions(0[1-9]|[1-9][0-9])$`),
		route:         regexp.MustCompile(`(?is)^\s*FROM\s+(\S+)(?:\s+WHERE\s+(.*?))?\s+INTO\s+(.+?)\s*$`),
		placeholder:   regexp.MustCompile(`^\s*(\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_.]*|\$\([^)]*\)|<[^<>]*>|#\{[^}]*\}#|#[^#\s]*#|\{\{[^}]*\}\}|\[[a-z]+\([^]]*\)\]|__[A-Za-z0-9_.]+__)\s*$`),
		embedded:      regexp.MustCompile(`\$\{[^}]+\}|\$\([^)]+\)|\{\{[^}]+\}\}|<[A-Za-z][^<>]*>|#\{[^}]+\}#|#[A-Za-z][A-Za-z0-9_.]*#|__[A-Z0-9_]+__|\$[A-Z_][A-Z0-9_]{2,}`),
		dummy:         regexp.MustCompile(`(?i)^(x{3,}|\*{3,}|\.{3,}|-+|(your|my|enter|insert|replace)[-_ ].*|.*[-_ ]here|todo|tbd|n/?a|none|null|undefined|changethis|placeholder|secret|password)$`),
		secretName:    regexp.MustCompile(`(?i)(pass(word|wd|phrase)?$|pass(word|wd)?[-_]|pwd|secret|token|api[-_]?key|access[-_]?key|account[-_]?key|shared[-_]?key|sharedaccess|private[-_]?key|signing[-_]?key|sas[-_]?(key|token)?$|connection[-_]?string|conn[-_]?str|credential|^key$|[-_.]key$|^key[-_])`),
		notSecretName: regexp.MustCompile(`(?i)([-_.](file|path|dir|url|uri|endpoint|name|id|type|length|expiry|ttl|version|enabled|header|policy|scope|audience|issuer|field|source|mode|location))$`),
		secretValues: []secretValue{
			{"a SharedAccessKey", regexp.MustCompile(`(?i)SharedAccessKey\s*=\s*([^;\s"]+)`)},
			{"a storage AccountKey", regexp.MustCompile(`(?i)AccountKey\s*=\s*([^;\s"]+)`)},
			{"a SAS token", regexp.MustCompile(`(?i)SharedAccessSignature\s+[^"]*?\bsig=([^&\s";]+)`)},
			{"a SAS signature", regexp.MustCompile(`(?i)[?&]sig=([A-Za-z0-9%+/=]{16,})`)},
			{"a password in a connection string", regexp.MustCompile(`(?i)(?:^|;)\s*(?:password|pwd)\s*=\s*([^;"]+)`)},
			{"a password in a URL", regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@"]+:([^/\s@"]+)@`)},
			{"a private key", regexp.MustCompile(`-----BEGIN ((?:[A-Z]+ )*PRIVATE KEY)-----`)},
		},
	}
})
