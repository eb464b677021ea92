package manifest_test

import (
	"fmt"
	"os"

	"github.com/edgesec/edgesec/manifest"
)

func Example() {
	doc := []byte(`{"modulesContent": {"$edgeAgent": {"properties.desired": {"schemaVersion": "1.1",
	  "modules": {"camera": {"type": "docker", "status": "running", "restartPolicy": "always",
	    "settings": {"image": "contoso.azurecr.io/camera:1.0",
	      "createOptions": "{\"HostConfig\":{\"Privileged\":true,\"Memory\":134217728,\"SecurityOpt\":[\"no-new-privileges\"]}}"}}}}}}}`)
	d, err := manifest.Load(doc, "deployment.json", manifest.LoadOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range manifest.Analyze(d, manifest.Config{DisabledRules: []string{"EDGE016"}}) {
		fmt.Printf("%s %s %s: %s (line %d)\n", f.RuleID, f.Severity, f.Module, f.Title, f.Line)
	}
	// Output:
	// EDGE001 Critical camera: Privileged container (line 4)
}

func ExampleReport_WriteJSON() {
	d, _ := manifest.LoadFile("testdata/rules/EDGE004/positive.json", manifest.LoadOptions{})
	r := manifest.Report{Findings: manifest.Analyze(d, manifest.Config{})}
	_ = r.WriteJSON(os.Stdout)
	// Output:
	// {
	//   "findings": [
	//     {
	//       "file": "testdata/rules/EDGE004/positive.json",
	//       "ruleId": "EDGE004",
	//       "severity": "high",
	//       "module": "sensor",
	//       "pointer": "/modulesContent/$edgeAgent/properties.desired/modules/sensor/settings/createOptions",
	//       "title": "Host PID namespace shared",
	//       "evidence": "/HostConfig/PidMode: HostConfig.PidMode is \"host\"",
	//       "remediation": "Remove HostConfig.PidMode. A host security monitor that needs it should be suppressed explicitly, recording who accepted it and why."
	//     }
	//   ],
	//   "errors": []
	// }
}
