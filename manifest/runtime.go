package manifest

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/edgesec/edgesec/event"
)

// Labels IoT Edge's agent puts on the containers it creates.
const (
	LabelOwner         = "net.azure-devices.edge.owner"          // "Microsoft.Azure.Devices.Edge.Agent"
	LabelCreateOptions = "net.azure-devices.edge.create-options" // the module's createOptions (chunked: …01, …02)
	LabelEnv           = "net.azure-devices.edge.env"            // the module's env, as JSON
	LabelOriginalImage = "net.azure-devices.edge.original-image"
)

// RuntimeSource is the Source of a deployment reconstructed from the
// running containers.
const RuntimeSource = "runtime"

// Reconstruct builds the deployment that is actually running from a
// container inventory (the ContainerInventory collector's items): one
// module per container, named after its IoT Edge module (or the container
// name), edgeAgent and edgeHub as system modules. The create options
// start from the module's create-options label (what edgeAgent was asked
// for: port bindings, log configuration, labels) and are overwritten by
// what the engine reports (privileged, capabilities, namespaces, mounts,
// devices, security options, memory), so that the same rules run on what
// is deployed. The environment comes from the env label.
//
// The deployment's Data is the reconstructed manifest (pretty-printed), so
// findings point into it; its Source is [RuntimeSource]. Bad labels are
// skipped and reported in the returned error (the deployment is still
// returned).
func Reconstruct(inv []event.ContainerInventoryPayload) (*Deployment, []byte, error) {
	type module struct {
		name   string
		system bool
		body   map[string]any
	}
	var mods []module
	var errs []string
	seen := map[string]int{}
	for i := range inv {
		c := &inv[i]
		name := c.ModuleName
		if name == "" {
			name = strings.TrimPrefix(c.Name, "/")
		}
		if name == "" {
			name = c.ContainerID
		}
		if n := seen[name]; n > 0 { // two containers with one name (moby and containerd)
			seen[name]++
			name = fmt.Sprintf("%s#%d", name, n+1)
		} else {
			seen[name] = 1
		}
		co, err := labelCreateOptions(c.Labels)
		if err != nil {
			errs = append(errs, fmt.Sprintf("container %s: %v", name, err))
		}
		if co == nil {
			co = map[string]any{}
		}
		applyInventory(co, c)
		status := "stopped"
		if c.State == "running" || c.State == "restarting" || c.State == "paused" {
			status = "running"
		}
		body := map[string]any{
			"type":     "docker",
			"status":   status,
			"settings": map[string]any{"image": c.Image, "createOptions": co},
		}
		if env, err := labelEnv(c.Labels); err != nil {
			errs = append(errs, fmt.Sprintf("container %s: %v", name, err))
		} else if env != nil {
			body["env"] = env
		}
		system := c.ModuleName == "edgeAgent" || c.ModuleName == "edgeHub"
		mods = append(mods, module{name: name, system: system, body: body})
	}
	sys, user := map[string]any{}, map[string]any{}
	for _, m := range mods {
		if m.system {
			sys[m.name] = m.body
		} else {
			user[m.name] = m.body
		}
	}
	doc := map[string]any{"modulesContent": map[string]any{"$edgeAgent": map[string]any{"properties.desired": map[string]any{
		"schemaVersion": "1.1",
		"runtime":       map[string]any{"type": "docker", "settings": map[string]any{}},
		"systemModules": sys,
		"modules":       user,
	}}}}
	data, err := json.MarshalIndent(doc, "", "  ") // maps marshal in key order: stable output
	if err != nil {
		return nil, nil, fmt.Errorf("manifest: reconstruct: %w", err)
	}
	d, err := Load(data, RuntimeSource, LoadOptions{Limits: Limits{MaxBytes: 64 << 20, MaxNodes: 4 << 20}})
	if err != nil {
		return nil, data, fmt.Errorf("manifest: reconstruct: %w", err)
	}
	if len(errs) > 0 {
		return d, data, fmt.Errorf("manifest: reconstruct: %s", strings.Join(errs, "; "))
	}
	return d, data, nil
}

// labelCreateOptions decodes the (possibly chunked) create-options label.
func labelCreateOptions(labels map[string]string) (map[string]any, error) {
	text, ok := labels[LabelCreateOptions]
	if !ok {
		return nil, nil
	}
	for i := 1; i < 100; i++ {
		chunk, ok := labels[fmt.Sprintf("%s%02d", LabelCreateOptions, i)]
		if !ok {
			break
		}
		text += chunk
	}
	if strings.TrimSpace(text) == "" {
		return nil, nil
	}
	var co map[string]any
	if err := json.Unmarshal([]byte(text), &co); err != nil {
		return nil, fmt.Errorf("label %s: %w", LabelCreateOptions, err)
	}
	return co, nil
}

// labelEnv decodes the env label: {"NAME": {"value": "…"}} or {"NAME": "…"}.
func labelEnv(labels map[string]string) (map[string]any, error) {
	text, ok := labels[LabelEnv]
	if !ok || strings.TrimSpace(text) == "" {
		return nil, nil
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(text), &raw); err != nil {
		return nil, fmt.Errorf("label %s: %w", LabelEnv, err)
	}
	env := map[string]any{}
	for k, v := range raw {
		switch v := v.(type) {
		case map[string]any:
			env[k] = map[string]any{"value": fmt.Sprint(v["value"])}
		default:
			env[k] = map[string]any{"value": fmt.Sprint(v)}
		}
	}
	return env, nil
}

// getFold returns the member of m matching key case-insensitively, and
// the key used.
func getFold(m map[string]any, key string) (any, string) {
	if v, ok := m[key]; ok {
		return v, key
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v, k
		}
	}
	return nil, key
}

func setFold(m map[string]any, key string, v any) {
	_, k := getFold(m, key)
	m[k] = v
}

// applyInventory overwrites create options with what the engine reports.
func applyInventory(co map[string]any, c *event.ContainerInventoryPayload) {
	hcv, _ := getFold(co, "HostConfig")
	hc, ok := hcv.(map[string]any)
	if !ok {
		hc = map[string]any{}
	}
	setFold(co, "HostConfig", hc)
	if c.User != "" {
		setFold(co, "User", c.User)
	}
	// Labels: the manifest's (from the create-options label) and the
	// container's, without IoT Edge's bookkeeping labels.
	lv, _ := getFold(co, "Labels")
	labels, ok := lv.(map[string]any)
	if !ok {
		labels = map[string]any{}
	}
	for k, v := range c.Labels {
		if !strings.HasPrefix(k, "net.azure-devices.edge.") {
			labels[k] = v
		}
	}
	if len(labels) > 0 {
		setFold(co, "Labels", labels)
	}
	setFold(hc, "Privileged", c.Privileged)
	setFold(hc, "CapAdd", nonNilStrings(c.CapAdd))
	setFold(hc, "CapDrop", nonNilStrings(c.CapDrop))
	for _, kv := range [][2]string{{"NetworkMode", c.NetworkMode}, {"PidMode", c.PidMode}, {"IpcMode", c.IpcMode}, {"UTSMode", c.UtsMode}} {
		if kv[1] != "" {
			setFold(hc, kv[0], kv[1])
		}
	}
	delete(hc, "Binds")
	if _, k := getFold(hc, "Binds"); k != "Binds" {
		delete(hc, k)
	}
	mounts := []any{}
	for _, m := range c.Mounts {
		mounts = append(mounts, map[string]any{"Type": m.Type, "Source": m.Source, "Target": m.Destination, "ReadOnly": m.ReadOnly})
	}
	setFold(hc, "Mounts", mounts)
	devices := []any{}
	for _, d := range c.Devices {
		parts := strings.SplitN(d, ":", 3)
		dev := map[string]any{"PathOnHost": parts[0], "PathInContainer": parts[0], "CgroupPermissions": "rwm"}
		if len(parts) > 1 {
			dev["PathInContainer"] = parts[1]
		}
		if len(parts) > 2 {
			dev["CgroupPermissions"] = parts[2]
		}
		devices = append(devices, dev)
	}
	setFold(hc, "Devices", devices)
	var secopt []any
	if sv, _ := getFold(hc, "SecurityOpt"); sv != nil {
		if list, ok := sv.([]any); ok {
			for _, o := range list {
				s, _ := o.(string)
				k, _, _ := strings.Cut(strings.ReplaceAll(s, ":", "="), "=")
				k = strings.ToLower(strings.TrimSpace(k))
				if k == "seccomp" || k == "apparmor" || k == "no-new-privileges" {
					continue // replaced by what the engine reports
				}
				secopt = append(secopt, o)
			}
		}
	}
	if strings.EqualFold(c.SeccompProfile, "unconfined") {
		secopt = append(secopt, "seccomp=unconfined")
	}
	if strings.EqualFold(c.AppArmorProfile, "unconfined") {
		secopt = append(secopt, "apparmor=unconfined")
	}
	if c.NoNewPrivileges {
		secopt = append(secopt, "no-new-privileges:true")
	}
	if secopt == nil {
		secopt = []any{}
	}
	setFold(hc, "SecurityOpt", secopt)
	setFold(hc, "Memory", c.MemoryLimit)
	setFold(hc, "ReadonlyRootfs", c.ReadOnlyRootfs)
	if c.RestartPolicy != "" {
		setFold(hc, "RestartPolicy", map[string]any{"Name": c.RestartPolicy})
	}
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Drift compares the deployment a manifest declares with the one running
// (from [Reconstruct]) and reports, as findings of the drift rules:
// EDGE090 for a module that runs with security-relevant settings other
// than the declared ones (image, privileged, capabilities, namespaces,
// host mounts, devices, seccomp/AppArmor, memory limit), EDGE091 for a
// running container no module declares, and EDGE092 for a declared
// running module that does not run. A layered manifest declares only a
// part of the deployment, so EDGE091 is not reported for it.
func (a *Analyzer) Drift(declared, running *Deployment) []Finding {
	var missing, changed, fromRuntime []Finding
	for _, m := range declared.Modules {
		r := running.Module(m.Name)
		want := m.Status == "" || strings.EqualFold(m.Status, "running")
		if r == nil || !strings.EqualFold(r.Status, "running") {
			if want && !(m.Name == "edgeAgent" && r != nil) {
				missing = append(missing, at(m, nil, "module %s is declared running but is %s", m.Name, stateOf(r)))
			}
			continue
		}
		for _, diff := range compareModules(m, r) {
			changed = append(changed, at(m, nil, "%s", diff))
		}
	}
	if !declared.Layered {
		for _, r := range running.Modules {
			if strings.EqualFold(r.Status, "running") && declared.Module(r.Name) == nil {
				fromRuntime = append(fromRuntime, at(r, r.Image.Node, "container %s (image %s) runs but no module declares it", r.Name, r.Image.Value))
			}
		}
	}
	set := func(fs []Finding, id string) {
		rl, _ := Lookup(id)
		for i := range fs {
			fs[i].RuleID, fs[i].Title, fs[i].Severity, fs[i].Remediation = rl.ID, rl.Title, rl.Severity, rl.Remediation
		}
	}
	set(missing, "EDGE092")
	set(changed, "EDGE090")
	set(fromRuntime, "EDGE091")
	var out []Finding
	keep := func(fs []Finding) []Finding {
		return slices.DeleteFunc(fs, func(f Finding) bool { return a.disabled(f.RuleID) })
	}
	out = append(out, a.finish(declared, keep(append(missing, changed...)))...)
	out = append(out, a.finish(running, keep(fromRuntime))...)
	return out
}

func stateOf(r *Module) string {
	if r == nil {
		return "not present"
	}
	return r.Status
}

// compareModules lists the security-relevant differences between a
// declared module and the running one.
func compareModules(m, r *Module) []string {
	var out []string
	diff := func(what, want, got string) {
		if want != got {
			out = append(out, fmt.Sprintf("%s: declared %s, running %s", what, want, got))
		}
	}
	if m.Image.Value != "" && !hasPlaceholder(m.Image.Value) && !isPlaceholder(m.Image.Value) {
		diff("image", m.Image.Value, r.Image.Value)
	}
	mh, rh := &m.CreateOptions.HostConfig, &r.CreateOptions.HostConfig
	if m.Name != "edgeAgent" { // edgeAgent is created by aziot-edged, not from the manifest
		diff("privileged", strconv.FormatBool(mh.Privileged.Value), strconv.FormatBool(rh.Privileged.Value))
	}
	diff("added capabilities", capSet(mh.CapAdd), capSet(rh.CapAdd))
	for _, ns := range []struct {
		what string
		a, b Setting[string]
	}{{"network mode", mh.NetworkMode, rh.NetworkMode}, {"pid mode", mh.PidMode, rh.PidMode}, {"ipc mode", mh.IpcMode, rh.IpcMode}, {"uts mode", mh.UTSMode, rh.UTSMode}} {
		if isHostMode(ns.a) != isHostMode(ns.b) {
			diff(ns.what, orDefault(ns.a.Value), orDefault(ns.b.Value))
		}
	}
	diff("host mounts", hostMounts(mh.Mounts), hostMounts(rh.Mounts))
	diff("devices", deviceSet(mh.Devices), deviceSet(rh.Devices))
	for _, opt := range []string{"seccomp", "apparmor"} {
		want := hasUnconfined(mh.SecurityOpt, opt)
		got := hasUnconfined(rh.SecurityOpt, opt)
		if want != got {
			diff(opt, confined(want), confined(got))
		}
	}
	if mh.Memory.Value > 0 {
		diff("memory limit", strconv.FormatInt(mh.Memory.Value, 10), strconv.FormatInt(rh.Memory.Value, 10))
	}
	return out
}

func orDefault(s string) string {
	if s == "" {
		return "default"
	}
	return s
}

func confined(unconfined bool) string {
	if unconfined {
		return "unconfined"
	}
	return "confined"
}

func hasUnconfined(opts []Setting[string], key string) bool {
	for _, o := range opts {
		v := strings.ToLower(strings.ReplaceAll(o.Value, ":", "="))
		if v == key+"=unconfined" {
			return true
		}
	}
	return false
}

func capSet(cs []Setting[string]) string {
	var s []string
	for _, c := range cs {
		s = append(s, c.Value)
	}
	slices.Sort(s)
	s = slices.Compact(s)
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ",")
}

func hostMounts(ms []Mount) string {
	var s []string
	for _, m := range ms {
		if m.IsHostPath() {
			mode := "rw"
			if m.ReadOnly {
				mode = "ro"
			}
			s = append(s, cleanHost(m.Source)+":"+m.Target+":"+mode)
		}
	}
	slices.Sort(s)
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(slices.Compact(s), ",")
}

func deviceSet(ds []Device) string {
	var s []string
	for _, d := range ds {
		s = append(s, d.PathOnHost)
	}
	slices.Sort(s)
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(slices.Compact(s), ",")
}
