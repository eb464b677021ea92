package baseline_test

import (
	"context"
	"fmt"
	"slices"

	"github.com/edgesec/edgesec/collector/baseline"
	"github.com/edgesec/edgesec/event"
)

// Take one OSBaseline snapshot of a host whose filesystem is at a given
// root (a test fixture here; "/host" in a container, "/" on the host),
// running a subset of the built-in checks, and print what failed.
func Example() {
	var sshd []baseline.Check
	for _, c := range baseline.Builtin() {
		if slices.Contains([]string{"CCE-80901-2", "CCE-80896-4", "CCE-80894-9", "CCE-82354-2"}, c.ID) {
			sshd = append(sshd, c)
		}
	}
	p := baseline.New(baseline.Options{HostRoot: "testdata/hostroot-noncompliant", Checks: sshd})
	evs, err := p.Poll(context.Background())
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	for _, ev := range evs {
		for _, it := range ev.Payload {
			r := it.(*event.OSBaselinePayload)
			fmt.Printf("%s %s %s: %s\n", r.CceID, r.Severity, r.Result, r.ExtraDetails[baseline.KeyEvidence])
		}
	}
	// Output:
	// CCE-80901-2 Important Fail: PermitRootLogin is yes (/etc/ssh/sshd_config:3)
	// CCE-80896-4 Critical Fail: PermitEmptyPasswords is yes (/etc/ssh/sshd_config:5)
	// CCE-80894-9 Critical Fail: Protocol is 2,1 (/etc/ssh/sshd_config:6)
	// CCE-82354-2 Warning Fail: MaxAuthTries is 10 (/etc/ssh/sshd_config.d/50-vendor.conf:1)
}

// Run a custom check defined in the documented JSON format.
func ExampleParseCustomChecks() {
	doc := []byte(`{"checks": [
	  {"id": "ACME-1", "description": "SYN cookies are on", "severity": "Warning",
	   "test": {"type": "sysctl-equals", "key": "net.ipv4.tcp_syncookies", "value": "1"}}]}`)
	checks, err := baseline.ParseCustomChecks(doc, nil)
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	h := baseline.NewHost(context.Background(), baseline.NewHostFS("testdata/hostroot-compliant"), baseline.WalkLimits{})
	r := checks[0].Run(h)
	fmt.Println(checks[0].ID, r.Status, r.Details[baseline.KeyEvidence])
	// Output: ACME-1 Pass net.ipv4.tcp_syncookies=1
}
