package twinconfig_test

import (
	"flag"
	"os"
	"testing"

	"github.com/edgesec/edgesec/twinconfig"
)

var updateDocs = flag.Bool("update-docs", false, "rewrite docs/configuration.md from twinconfig.Keys")

// reference renders the configuration reference of the built-in keys.
func reference() string { return twinconfig.Builtin().Reference() }

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
