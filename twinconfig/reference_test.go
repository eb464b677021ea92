package twinconfig_test

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/edgesec/edgesec/twinconfig"
)

var updateDocs = flag.Bool("update-docs", false, "rewrite docs/configuration.md from twinconfig.Keys")

// reference renders the configuration reference from Keys.
func reference() string {
	var b strings.Builder
	b.WriteString("# Configuration reference\n\n")
	b.WriteString("<!-- Generated from twinconfig.Keys by `go test ./twinconfig -run TestConfigurationReference -update-docs`. Do not edit. -->\n\n")
	fmt.Fprintf(&b, "The module twin's desired properties object `%s` (or a local JSON file in the same shape)\n", twinconfig.ObjectName)
	b.WriteString("holds these keys, each wrapped as `{\"value\": X}`. Durations are ISO 8601 (`PT7M`, `PT5H`, `PT1S`).\n")
	b.WriteString("Priorities are `Off`, `Low` or `High`, case-insensitive. The effective configuration is reported back\n")
	b.WriteString("under the same object name in the same form.\n\n")
	section := func(title string, ext bool) {
		fmt.Fprintf(&b, "## %s\n\n| key | type | default | accepted values | description |\n|---|---|---|---|---|\n", title)
		for _, k := range twinconfig.Keys() {
			if k.Extension != ext {
				continue
			}
			fmt.Fprintf(&b, "| `%s` | %s | `%s` | %s | %s |\n", k.Name, k.Type, k.Default, esc(k.Range), esc(k.Description))
		}
		b.WriteString("\n")
	}
	section("ASC keys (compatible with the original agents)", false)
	section("edgesec extension keys", true)
	b.WriteString("## Problems\n\n")
	b.WriteString("Every problem of a document is reported at once, one ConfigurationError event item each:\n\n")
	b.WriteString("- `TypeMismatch`: wrong type, value out of range, bad duration, unknown key, value not wrapped in `{\"value\": …}`, or a document that is not JSON. The update is refused.\n")
	b.WriteString("- `Conflict`: `maxLocalCacheSizeInBytes` < `maxMessageSizeInBytes`, or `highPriorityMessageFrequency` > `lowPriorityMessageFrequency`. The update is refused.\n")
	b.WriteString("- `NotOptimal`: `maxMessageSizeInBytes` not a multiple of 4096 (IoT Hub meters messages in 4 KB units). The update is applied.\n\n")
	b.WriteString("A refused update never replaces the running configuration: the last good one stays in effect, and `UsedConfiguration` says which value is used.\n")
	return b.String()
}

func esc(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

func TestConfigurationReferenceUpToDate(t *testing.T) {
	const path = "../docs/configuration.md"
	want := reference()
	if *updateDocs {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update-docs)", err)
	}
	if string(got) != want {
		t.Fatalf("%s is out of date: run go test ./twinconfig -run TestConfigurationReference -update-docs", path)
	}
}
