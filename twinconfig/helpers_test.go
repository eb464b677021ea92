package twinconfig

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// officialDurationPattern returns the TimeConfiguration pattern of the
// official twin schema definitions.
func officialDurationPattern(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "asc-twin", "azureiotsecurity_schema_definitions.json"))
	require.NoError(t, err)
	var defs struct {
		Definitions map[string]struct {
			Properties struct {
				Value struct {
					Pattern string `json:"pattern"`
				} `json:"value"`
			} `json:"properties"`
		} `json:"definitions"`
	}
	require.NoError(t, json.Unmarshal(b, &defs))
	p := defs.Definitions["TimeConfiguration"].Properties.Value.Pattern
	require.NotEmpty(t, p)
	return p
}

// lookaroundRegexp evaluates the official ECMAScript duration pattern with
// Go's RE2 engine: the two lookarounds it uses, (?!$) after "P" and (?=\d)
// after "T", are removed from the expression and checked by hand.
type lookaroundRegexp struct {
	src string
	re  *regexp.Regexp
}

func compileOfficialPattern(p string) (*lookaroundRegexp, bool) {
	const notEmpty, digitAhead, lazy = `(?!$)`, `(?=\d)`, `)??$`
	if !strings.HasPrefix(p, "^P"+notEmpty) || strings.Count(p, digitAhead) != 1 || !strings.HasSuffix(p, lazy) {
		return nil, false
	}
	q := strings.Replace(p, notEmpty, "", 1)
	q = strings.Replace(q, digitAhead, "", 1)
	q = strings.TrimSuffix(q, lazy) + ")?$"
	re, err := regexp.Compile(q)
	if err != nil {
		return nil, false
	}
	return &lookaroundRegexp{src: p, re: re}, true
}

func (r *lookaroundRegexp) MatchString(s string) bool {
	if !r.re.MatchString(s) {
		return false
	}
	// The pattern is anchored, so the match is s itself: P is s[0].
	if len(s) == 1 {
		return false // (?!$)
	}
	if i := strings.IndexByte(s, 'T'); i >= 0 && (i+1 >= len(s) || s[i+1] < '0' || s[i+1] > '9') {
		return false // T(?=\d)
	}
	return true
}

func (r *lookaroundRegexp) String() string { return r.src }

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", filepath.FromSlash(name)))
	require.NoError(t, err)
	return b
}
