package twinconfig_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/twinconfig"
)

func ExampleDecode() {
	doc := []byte(`{
		"ms_iotn:urn_azureiot_Security_SecurityAgentConfiguration": {
			"snapshotFrequency": {"value": "PT1H"},
			"eventPriorityLogin": {"value": "low"},
			"maxMessageSizeInBytes": {"value": 300000},
			"eventPriorityProcesCreate": {"value": "High"}
		},
		"$version": 7
	}`)
	cfg, problems, err := twinconfig.Decode(doc)
	if err != nil {
		fmt.Println("unusable:", err)
		return
	}
	fmt.Println("version:", cfg.Version)
	fmt.Println("snapshot:", cfg.SnapshotFrequency)
	fmt.Println("Login:", cfg.Priority(event.Login))
	fmt.Println("ProcessCreate:", cfg.Priority(event.ProcessCreate))
	for _, p := range problems {
		fmt.Printf("%s %s: %s (using %s)\n", p.Kind, p.Key, p.Message, p.Used)
	}
	// Output:
	// version: 7
	// snapshot: 1h0m0s
	// Login: Low
	// ProcessCreate: Low
	// TypeMismatch maxMessageSizeInBytes: 300000 is out of range (8192 to 262144) (using 204800)
	// TypeMismatch eventPriorityProcesCreate: unknown configuration key (using (ignored))
}

func ExampleManager_Apply() {
	m := twinconfig.NewManager(twinconfig.Default())
	now := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)

	cfg, changed, events := m.Apply([]byte(`{"highPriorityMessageFrequency": {"value": "PT1M"}}`), now)
	fmt.Println(cfg.HighPriorityMessageFrequency, changed, len(events))

	// A conflict: the update is refused, the last good configuration stays,
	// and a ConfigurationError event says why.
	cfg, changed, events = m.Apply([]byte(`{"highPriorityMessageFrequency": {"value": "PT6H"}}`), now)
	fmt.Println(cfg.HighPriorityMessageFrequency, changed)
	for _, ev := range events {
		for _, it := range ev.Payload {
			p := it.(*event.ConfigurationErrorPayload)
			fmt.Println(ev.Name, p.ConfigurationName, p.ErrorType, p.UsedConfiguration)
		}
	}
	// Output:
	// 1m0s true 0
	// 1m0s false
	// ConfigurationError highPriorityMessageFrequency Conflict PT1M
}

func ExampleReported() {
	cfg := twinconfig.Default()
	cfg.SnapshotFrequency = 24 * time.Hour
	patch, err := twinconfig.Reported(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	// patch is {"<ObjectName>": {key: {"value": X}, ...}}, ready for the
	// twin's reported properties.
	var reported map[string]map[string]struct{ Value any }
	if err := json.Unmarshal(patch, &reported); err != nil {
		fmt.Println(err)
		return
	}
	obj := reported[twinconfig.ObjectName]
	fmt.Println(len(obj) == len(twinconfig.Keys()))
	fmt.Println(obj["snapshotFrequency"].Value, obj["maxMessageSizeInBytes"].Value, obj["eventPriorityDiagnostic"].Value)
	// Output:
	// true
	// P1D 204800 Off
}

func ExampleMergeDesired() {
	desired := []byte(`{"ms_iotn:urn_azureiot_Security_SecurityAgentConfiguration":{"snapshotFrequency":{"value":"PT1H"}},"$version":3}`)
	patch := []byte(`{"ms_iotn:urn_azureiot_Security_SecurityAgentConfiguration":{"snapshotFrequency":null,"eventPriorityLogin":{"value":"Low"}},"$version":4}`)
	merged, ok, gap, err := twinconfig.MergeDesired(desired, patch)
	fmt.Println(string(merged), ok, gap, err)

	_, ok, _, _ = twinconfig.MergeDesired(merged, patch) // a duplicate delivery
	fmt.Println(ok)
	// Output:
	// {"$version":4,"ms_iotn:urn_azureiot_Security_SecurityAgentConfiguration":{"eventPriorityLogin":{"value":"Low"}}} true false <nil>
	// false
}

func ExampleParseDuration() {
	for _, s := range []string{"PT7M", "P1DT12H", "PT1.5S", "P1M", "PT", "PT1H30"} {
		d, err := twinconfig.ParseDuration(s)
		fmt.Println(s, d, err != nil)
	}
	// Output:
	// PT7M 7m0s false
	// P1DT12H 36h0m0s false
	// PT1.5S 1.5s false
	// P1M 720h0m0s false
	// PT 0s true
	// PT1H30 0s true
}

func ExampleFormatDuration() {
	for _, d := range []time.Duration{7 * time.Minute, 5 * time.Hour, 13 * time.Hour, 24 * time.Hour, time.Second, 90 * time.Minute} {
		fmt.Println(twinconfig.FormatDuration(d))
	}
	// Output:
	// PT7M
	// PT5H
	// PT13H
	// P1D
	// PT1S
	// PT1H30M
}

func ExampleKeys() {
	for _, k := range twinconfig.Keys()[:3] {
		fmt.Printf("%s (%s, default %s)\n", k.Name, k.Type, k.Default)
	}
	// Output:
	// highPriorityMessageFrequency (duration, default PT7M)
	// lowPriorityMessageFrequency (duration, default PT5H)
	// snapshotFrequency (duration, default PT13H)
}

func ExampleFileSource_Watch() {
	dir, err := os.MkdirTemp("", "twinconfig-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "config.json")
	if err := os.WriteFile(path, []byte(`{"snapshotFrequency":{"value":"PT2H"}}`), 0o600); err != nil {
		fmt.Println(err)
		return
	}

	m := twinconfig.NewManager(twinconfig.Default())
	ctx, cancel := context.WithCancel(context.Background())
	src := &twinconfig.FileSource{Path: path}
	err = src.Watch(ctx, func(doc []byte, err error) {
		if err != nil {
			fmt.Println("cannot read:", err)
			return
		}
		cfg, _, _ := m.Apply(doc, time.Now())
		fmt.Println("snapshot every", cfg.SnapshotFrequency)
		cancel() // a real module keeps watching until it shuts down
	})
	fmt.Println("stopped:", err)
	// Output:
	// snapshot every 2h0m0s
	// stopped: <nil>
}
