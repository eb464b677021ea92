package manifest

import (
	"fmt"
	"path"
	"slices"
	"strings"
)

// at makes a finding for module m at node n (m's node when n is nil).
func at(m *Module, n *Node, format string, args ...any) Finding {
	f := Finding{Evidence: fmt.Sprintf(format, args...)}
	if m != nil {
		f.Module = m.Name
		if n == nil {
			n = m.Node
		}
	}
	if n != nil {
		f.Pointer = n.Pointer
		if n.Inner != "" {
			f.Evidence = n.Inner + ": " + f.Evidence
		}
	}
	return f
}

// perModule adapts a module check to a rule check.
func perModule(check func(m *Module) []Finding) func(d *Deployment) []Finding {
	return func(d *Deployment) []Finding {
		var out []Finding
		for _, m := range d.Modules {
			out = append(out, check(m)...)
		}
		return out
	}
}

// dangerousCaps are the capabilities that hand a container control of the
// host (or of other containers).
var dangerousCaps = []string{"ALL", "SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE", "SYS_MODULE", "DAC_READ_SEARCH", "SYS_RAWIO", "SYS_BOOT", "BPF", "PERFMON", "MAC_ADMIN", "MAC_OVERRIDE"}

// engineSockets are the container engine API sockets (and the IoT Edge
// management socket, which can deploy modules).
var engineSockets = []string{
	"/var/run/docker.sock", "/run/docker.sock",
	"/var/run/containerd/containerd.sock", "/run/containerd/containerd.sock",
	"/var/run/crio/crio.sock", "/run/crio/crio.sock",
	"/var/run/podman/podman.sock", "/run/podman/podman.sock",
	"/var/run/iotedge/mgmt.sock", "/run/iotedge/mgmt.sock",
	`\\.\pipe\docker_engine`,
}

// sensitivePaths are host directories whose content (or whose writability)
// hands over the host or the device identity.
var sensitivePaths = []string{"/etc", "/proc", "/sys", "/dev", "/boot", "/var/lib/aziot", "/etc/aziot", "/var/lib/iotedge", "/var/run/iotedge", "/run/iotedge", "/var/lib/docker", "/var/lib/containerd", "/var/run", "/run", "/lib/modules", "/usr"}

// secretPaths are host paths with keys or credentials: mounting anything
// below them, even read-only, is a finding.
var secretPaths = []string{"/etc/shadow", "/etc/gshadow", "/etc/ssh", "/etc/sudoers", "/etc/aziot", "/etc/iotedge", "/var/lib/aziot", "/var/lib/iotedge", "/var/run/iotedge", "/run/iotedge", "/root", "/proc/kcore", "/sys/kernel", "/dev/mem", "/dev/kmem", "/dev/port", "/etc/kubernetes", "/var/lib/kubelet"}

// isHomeDir reports whether p is /home or a user's home directory (which
// holds SSH keys and shell history); deeper data directories are not.
func isHomeDir(p string) bool {
	return p == "/home" || (strings.HasPrefix(p, "/home/") && !strings.Contains(p[len("/home/"):], "/")) || strings.Contains(p, "/.ssh")
}

// benignReadOnly are host paths commonly mounted read-only for good
// reasons (time zone, host identity for telemetry).
var benignReadOnly = []string{"/etc/localtime", "/etc/timezone", "/usr/share/zoneinfo", "/etc/hostname", "/etc/machine-id", "/etc/os-release", "/etc/ssl/certs", "/etc/ca-certificates"}

// cleanHost normalises a host path for comparison ("/var/run/" → "/var/run").
func cleanHost(p string) string {
	if isWindowsPath(p) {
		return strings.ToLower(strings.ReplaceAll(p, `\`, "/"))
	}
	return path.Clean(p)
}

func under(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, dir+"/") || dir == "/"
}

func isHostMode(s Setting[string]) bool { return strings.EqualFold(strings.TrimSpace(s.Value), "host") }

func securityOpt(m *Module, pred func(k, v string) bool) *Node {
	for _, o := range m.CreateOptions.HostConfig.SecurityOpt {
		k, v, ok := strings.Cut(o.Value, "=")
		if !ok {
			k, v, _ = strings.Cut(o.Value, ":")
		}
		if pred(strings.ToLower(strings.TrimSpace(k)), strings.ToLower(strings.TrimSpace(v))) {
			return o.Node
		}
	}
	return nil
}

var catalogue = []Rule{
	{
		ID: "EDGE001", Title: "Privileged container", Severity: Critical, Family: "privilege",
		Rationale:   "A privileged container has every capability, every host device and no seccomp, AppArmor or cgroup device confinement: a compromise of the module is a compromise of the device (CIS Docker 5.4; ASC for IoT \"privileged docker options\").",
		Remediation: "Remove HostConfig.Privileged; grant only the capabilities (CapAdd) and devices (Devices) the module needs.",
		References:  []string{"https://learn.microsoft.com/azure/iot-edge/how-to-use-create-options", "https://www.cisecurity.org/benchmark/docker"},
		Check: perModule(func(m *Module) []Finding {
			if p := m.CreateOptions.HostConfig.Privileged; p.Value {
				return []Finding{at(m, p.Node, "HostConfig.Privileged is true")}
			}
			return nil
		}),
	},
	{
		ID: "EDGE002", Title: "Dangerous capability added", Severity: High, Family: "privilege",
		Rationale:   "Capabilities such as SYS_ADMIN, NET_ADMIN, SYS_PTRACE, SYS_MODULE or DAC_READ_SEARCH let a container escape its isolation, reconfigure the host network, read other processes or load kernel modules (CIS Docker 5.3).",
		Remediation: "Drop the capability from HostConfig.CapAdd, or replace it by the narrowest one the module needs; add CapDrop [\"ALL\"] and re-add only what is required.",
		References:  []string{"https://man7.org/linux/man-pages/man7/capabilities.7.html"},
		Check: perModule(func(m *Module) []Finding {
			var out []Finding
			for _, c := range m.CreateOptions.HostConfig.CapAdd {
				if slices.Contains(dangerousCaps, c.Value) {
					out = append(out, at(m, c.Node, "HostConfig.CapAdd contains %s", c.Value))
				}
			}
			return out
		}),
	},
	{
		ID: "EDGE003", Title: "Host network namespace shared", Severity: Medium, Family: "namespaces",
		Rationale:   "With NetworkMode host the module sees and binds every host interface, reaches services listening on localhost (the IoT Edge workload and management APIs among them) and bypasses the container network's isolation (CIS Docker 5.9).",
		Remediation: "Use the default bridge network (azure-iot-edge) and publish only the ports the module serves; keep host networking for modules that truly need raw host interfaces (BLE, multicast discovery) and suppress the finding for them with a reason.",
		Check: perModule(func(m *Module) []Finding {
			if nm := m.CreateOptions.HostConfig.NetworkMode; isHostMode(nm) {
				return []Finding{at(m, nm.Node, "HostConfig.NetworkMode is %q", nm.Value)}
			}
			return nil
		}),
	},
	{
		ID: "EDGE004", Title: "Host PID namespace shared", Severity: High, Family: "namespaces",
		Rationale:   "With PidMode host the module sees every host process, their command lines and environments, and can signal or (with ptrace) inspect them (CIS Docker 5.15).",
		Remediation: "Remove HostConfig.PidMode. A host security monitor that needs it should be suppressed explicitly, recording who accepted it and why.",
		Check: perModule(func(m *Module) []Finding {
			if pm := m.CreateOptions.HostConfig.PidMode; isHostMode(pm) {
				return []Finding{at(m, pm.Node, "HostConfig.PidMode is %q", pm.Value)}
			}
			return nil
		}),
	},
	{
		ID: "EDGE005", Title: "Host IPC namespace shared", Severity: Medium, Family: "namespaces",
		Rationale:   "With IpcMode host the module shares System V IPC and POSIX shared memory with the host and can read or corrupt other programs' shared memory (CIS Docker 5.16).",
		Remediation: "Remove HostConfig.IpcMode, or use \"shareable\"/\"container:<name>\" between the modules that need shared memory.",
		Check: perModule(func(m *Module) []Finding {
			if im := m.CreateOptions.HostConfig.IpcMode; isHostMode(im) {
				return []Finding{at(m, im.Node, "HostConfig.IpcMode is %q", im.Value)}
			}
			return nil
		}),
	},
	{
		ID: "EDGE006", Title: "Host UTS, user or cgroup namespace shared", Severity: Low, Family: "namespaces",
		Rationale:   "UTSMode host lets the module change the host name; UsernsMode host disables user namespace remapping; CgroupnsMode host exposes the host's cgroup tree (CIS Docker 5.21, 5.31).",
		Remediation: "Remove HostConfig.UTSMode, UsernsMode and CgroupnsMode \"host\".",
		Check: perModule(func(m *Module) []Finding {
			var out []Finding
			hc := &m.CreateOptions.HostConfig
			for _, s := range []struct {
				name string
				v    Setting[string]
			}{{"UTSMode", hc.UTSMode}, {"UsernsMode", hc.UsernsMode}, {"CgroupnsMode", hc.CgroupnsMode}} {
				if isHostMode(s.v) {
					out = append(out, at(m, s.v.Node, "HostConfig.%s is %q", s.name, s.v.Value))
				}
			}
			return out
		}),
	},
	{
		ID: "EDGE007", Title: "Container engine socket mounted", Severity: Critical, Family: "mounts",
		Rationale:   "The Docker (Moby), containerd or IoT Edge management socket gives full control of the container engine: whoever holds it can start a privileged container with the host's root filesystem (CIS Docker 5.32).",
		Remediation: "Do not mount the engine socket. Read container state through a dedicated, read-only service, or suppress the finding with a reason for a trusted monitoring module.",
		Check: perModule(func(m *Module) []Finding {
			var out []Finding
			for _, mt := range m.CreateOptions.HostConfig.Mounts {
				if !mt.IsHostPath() {
					continue
				}
				src := cleanHost(mt.Source)
				for _, s := range engineSockets {
					s = cleanHost(s)
					if src == s || (src != "/" && under(s, src) && (src == "/var/run" || src == "/run" || strings.HasSuffix(src, "/docker") || strings.HasSuffix(src, "/containerd") || strings.HasSuffix(src, "/iotedge"))) {
						out = append(out, at(m, mt.Node, "%s mounted at %s (gives access to %s)", mt.Source, mt.Target, s))
						break
					}
				}
			}
			return out
		}),
	},
	{
		ID: "EDGE008", Title: "Host root filesystem mounted", Severity: Critical, Family: "mounts",
		Rationale:   "Mounting the host's / exposes every file of the device, including the IoT Edge identity keys, /etc/shadow and SSH keys; written, it is a full host takeover.",
		Remediation: "Mount only the directories the module needs, read-only. A host monitor that must read the host root mounts it read-only and is suppressed with a reason.",
		Check: perModule(func(m *Module) []Finding {
			var out []Finding
			for _, mt := range m.CreateOptions.HostConfig.Mounts {
				if !mt.IsHostPath() {
					continue
				}
				if src := cleanHost(mt.Source); src == "/" || src == "c:/" {
					out = append(out, at(m, mt.Node, "host %s mounted at %s%s", mt.Source, mt.Target, roText(mt)))
				}
			}
			return out
		}),
	},
	{
		ID: "EDGE009", Title: "Sensitive host path mounted", Severity: High, Family: "mounts",
		Rationale:   "Host directories such as /etc, /proc, /sys, /dev, /var/lib/aziot, /var/run/iotedge, /root or /home hold device identity keys, credentials or kernel interfaces; a module with them can read secrets or alter the host (CIS Docker 5.5).",
		Remediation: "Mount the specific file or sub-directory the module needs, read-only; keep IoT Edge's key and socket directories out of modules.",
		Check: perModule(func(m *Module) []Finding {
			var out []Finding
			for _, mt := range m.CreateOptions.HostConfig.Mounts {
				if !mt.IsHostPath() {
					continue
				}
				src := cleanHost(mt.Source)
				if src == "/" || isEngineSocketMount(src) || isDeviceNode(src) {
					continue // EDGE008, EDGE007, EDGE011
				}
				if mt.ReadOnly && slices.ContainsFunc(benignReadOnly, func(b string) bool { return under(src, b) }) {
					continue
				}
				hit := ""
				if isHomeDir(src) {
					hit = "/home"
				}
				for _, s := range secretPaths {
					if under(src, s) || under(s, src) {
						hit = s
						break
					}
				}
				if hit == "" {
					for _, s := range sensitivePaths {
						if src == s || (under(src, s) && !mt.ReadOnly) {
							hit = s
							break
						}
					}
				}
				if hit != "" {
					out = append(out, at(m, mt.Node, "host %s mounted at %s%s", mt.Source, mt.Target, roText(mt)))
				}
			}
			return out
		}),
	},
	{
		ID: "EDGE010", Title: "Writable host directory mounted", Severity: Low, Family: "mounts",
		Rationale:   "A writable bind mount lets the module change host files, which outlive the container and may be read by other programs of the host (CIS Docker 5.5).",
		Remediation: "Append :ro to the bind (or set ReadOnly in Mounts) unless the module must write there; prefer a named volume for module data.",
		Check: perModule(func(m *Module) []Finding {
			var out []Finding
			for _, mt := range m.CreateOptions.HostConfig.Mounts {
				if !mt.IsHostPath() || mt.ReadOnly {
					continue
				}
				src := cleanHost(mt.Source)
				if src == "/" || isEngineSocketMount(src) || isSensitiveMount(src, false) || isDeviceNode(src) {
					continue // reported by EDGE007-EDGE009, EDGE011
				}
				out = append(out, at(m, mt.Node, "host %s mounted writable at %s", mt.Source, mt.Target))
			}
			return out
		}),
	},
	{
		ID: "EDGE011", Title: "Host device passed through", Severity: Medium, Family: "privilege",
		Rationale:   "A host device gives the module raw access to hardware (cameras, serial ports, GPUs, block devices); a block or memory device is a host takeover (CIS Docker 5.17).",
		Remediation: "Pass only the device the module needs, with the narrowest cgroup permissions (r or rw, not m); never pass block devices or /dev/mem.",
		Check: perModule(func(m *Module) []Finding {
			var out []Finding
			hc := &m.CreateOptions.HostConfig
			for _, dv := range hc.Devices {
				perm := dv.CgroupPermissions
				if perm == "" {
					perm = "rwm"
				}
				out = append(out, at(m, dv.Node, "device %s passed as %s (%s)", dv.PathOnHost, dv.PathInContainer, perm))
			}
			for _, r := range hc.DeviceCgroupRules {
				out = append(out, at(m, r.Node, "device cgroup rule %q", r.Value))
			}
			for _, mt := range hc.Mounts {
				if mt.IsHostPath() && isDeviceNode(cleanHost(mt.Source)) {
					out = append(out, at(m, mt.Node, "device node %s bind-mounted at %s", mt.Source, mt.Target))
				}
			}
			return out
		}),
	},
	{
		ID: "EDGE012", Title: "Seccomp disabled", Severity: High, Family: "privilege",
		Rationale:   "seccomp=unconfined removes the system call filter that blocks most kernel attack surface from containers (CIS Docker 5.22).",
		Remediation: "Remove seccomp=unconfined from HostConfig.SecurityOpt, or give a custom profile that allows the extra calls the module needs.",
		Check: perModule(func(m *Module) []Finding {
			if n := securityOpt(m, func(k, v string) bool { return k == "seccomp" && v == "unconfined" }); n != nil {
				return []Finding{at(m, n, "SecurityOpt %q", n.Str)}
			}
			return nil
		}),
	},
	{
		ID: "EDGE013", Title: "AppArmor or SELinux confinement disabled", Severity: High, Family: "privilege",
		Rationale:   "apparmor=unconfined or label=disable removes the mandatory access control profile Docker applies to containers (CIS Docker 5.1, 5.2).",
		Remediation: "Remove the option from HostConfig.SecurityOpt, or give a custom AppArmor profile.",
		Check: perModule(func(m *Module) []Finding {
			n := securityOpt(m, func(k, v string) bool {
				return k == "apparmor" && v == "unconfined" || k == "label" && v == "disable"
			})
			if n != nil {
				return []Finding{at(m, n, "SecurityOpt %q", n.Str)}
			}
			return nil
		}),
	},
	{
		ID: "EDGE014", Title: "no-new-privileges not set", Severity: Low, Family: "privilege",
		Rationale:   "Without no-new-privileges a process in the module can gain privileges through setuid or file-capability binaries (CIS Docker 5.25).",
		Remediation: "Add \"no-new-privileges:true\" to HostConfig.SecurityOpt (or run dockerd with --no-new-privileges).",
		Check: perModule(func(m *Module) []Finding {
			if m.CreateOptions.HostConfig.Privileged.Value {
				return nil // EDGE001 says more
			}
			n := securityOpt(m, func(k, v string) bool { return k == "no-new-privileges" && (v == "" || v == "true") })
			if n == nil {
				return []Finding{at(m, m.CreateOptions.HostConfig.Node, "SecurityOpt has no no-new-privileges")}
			}
			return nil
		}),
	},
	{
		ID: "EDGE015", Title: "Image not pinned to a version", Severity: Medium, Family: "image",
		Rationale:   "An image without a tag, or tagged latest, changes under the deployment: devices run whatever was pushed last, possibly different versions on different devices, and a registry compromise is deployed silently.",
		Remediation: "Use an explicit version tag (better: a digest, see EDGE016).",
		Check: perModule(func(m *Module) []Finding {
			img := m.Image
			if !img.Set() || img.Value == "" || hasPlaceholder(img.Value) || isPlaceholder(img.Value) {
				return nil
			}
			ref := ParseImage(img.Value)
			if ref.Digest != "" {
				return nil
			}
			if ref.Tag == "" {
				return []Finding{at(m, img.Node, "image %s has no tag", img.Value)}
			}
			if strings.EqualFold(ref.Tag, "latest") {
				return []Finding{at(m, img.Node, "image %s uses the latest tag", img.Value)}
			}
			return nil
		}),
	},
	{
		ID: "EDGE016", Title: "Image not pinned by digest", Severity: Low, Family: "image",
		Rationale:   "Tags are mutable: the image a tag names can be replaced in the registry. Only a digest guarantees that every device runs the bytes that were reviewed (CIS Docker 4.x supply chain).",
		Remediation: "Reference the image by digest (repository@sha256:…), keeping the tag for readability (repository:1.2.3@sha256:…).",
		Check: perModule(func(m *Module) []Finding {
			img := m.Image
			if !img.Set() || img.Value == "" || hasPlaceholder(img.Value) || isPlaceholder(img.Value) {
				return nil
			}
			if ParseImage(img.Value).Digest == "" {
				return []Finding{at(m, img.Node, "image %s is not referenced by digest", img.Value)}
			}
			return nil
		}),
	},
	{
		ID: "EDGE017", Title: "Registry password in plain text", Severity: High, Family: "registry",
		Rationale:   "Registry credentials in the manifest are readable by everyone with access to the source repository, the build logs and IoT Hub's deployment; they usually grant push access too.",
		Remediation: "Keep the password out of the file (an unresolved ${VAR} filled by the pipeline from a secret store), use a pull-only token, and rotate the exposed password.",
		Check: func(d *Deployment) []Finding {
			var out []Finding
			for _, r := range d.Runtime.Registries {
				if notASecret(r.Password) {
					continue
				}
				f := at(nil, r.Node.Get("password"), "registryCredentials.%s.password for %s is %s", r.Name, r.Address, redact(r.Password))
				out = append(out, f)
			}
			return out
		},
	},
	{
		ID: "EDGE018", Title: "Insecure registry", Severity: High, Family: "registry",
		Rationale:   "A registry reached over plain HTTP lets anyone on the path read the credentials and replace the images the device runs.",
		Remediation: "Serve the registry over HTTPS with a certificate the device trusts, and remove http:// from the address.",
		Check: func(d *Deployment) []Finding {
			var out []Finding
			for _, r := range d.Runtime.Registries {
				if strings.HasPrefix(strings.ToLower(strings.TrimSpace(r.Address)), "http://") {
					out = append(out, at(nil, r.Node.Get("address"), "registryCredentials.%s.address is %s", r.Name, r.Address))
				}
			}
			for _, m := range d.Modules {
				if strings.HasPrefix(strings.ToLower(m.Image.Value), "http://") {
					out = append(out, at(m, m.Image.Node, "image %s is pulled over http", m.Image.Value))
				}
			}
			return out
		},
	},
	{
		ID: "EDGE019", Title: "End-of-life IoT Edge runtime version", Severity: High, Family: "runtime",
		Rationale:   "IoT Edge releases before 1.5 are out of support (1.1 LTS ended 2022-12-13, 1.2 and 1.3 in 2023, 1.4 LTS 2024-11-12): edgeAgent and edgeHub get no security fixes.",
		Remediation: "Move edgeAgent and edgeHub (and the host's aziot-edge) to a supported release, 1.5 or later.",
		References:  []string{"https://learn.microsoft.com/azure/iot-edge/version-history"},
		Check: perModule(func(m *Module) []Finding {
			name, ma, mi, ok := edgeRuntimeVersion(m.Image.Value)
			if ok && (ma < 1 || ma == 1 && mi < 5) {
				return []Finding{at(m, m.Image.Node, "%s %d.%d is end of life (image %s)", name, ma, mi, m.Image.Value)}
			}
			return nil
		}),
	},
	{
		ID: "EDGE020", Title: "Port published on all host interfaces", Severity: Medium, Family: "network",
		Rationale:   "A port binding without HostIp listens on every interface of the device, including the ones facing untrusted networks; edgeHub's MQTT, AMQP and HTTPS heads then accept connections from anywhere.",
		Remediation: "Set HostIp to the interface that downstream devices use (or 127.0.0.1), and drop the bindings of protocol heads nobody uses.",
		Check: perModule(func(m *Module) []Finding {
			var out []Finding
			for _, pb := range m.CreateOptions.HostConfig.PortBindings {
				switch strings.TrimSpace(pb.HostIP) {
				case "", "0.0.0.0", "::", "[::]":
					hp := pb.HostPort
					if hp == "" {
						hp = "(random)"
					}
					out = append(out, at(m, pb.Node, "%s published on all interfaces as host port %s", pb.ContainerPort, hp))
				}
			}
			return out
		}),
	},
	{
		ID: "EDGE021", Title: "Unused edgeHub protocol heads enabled", Severity: Low, Family: "edgehub",
		Rationale:   "edgeHub runs MQTT, AMQP and HTTPS protocol heads by default. Every head is attack surface and memory; ASC for IoT recommended turning off the ones the solution does not use (\"Edge Hub memory can be optimized\").",
		Remediation: "Set the edgeHub environment variables amqpSettings__enabled, mqttSettings__enabled or httpSettings__enabled to false for the protocols no module or downstream device uses, and remove their port bindings.",
		References:  []string{"https://learn.microsoft.com/azure/iot-edge/production-checklist"},
		Check: func(d *Deployment) []Finding {
			m := d.Module("edgeHub")
			if m == nil || !m.System {
				return nil
			}
			heads := map[string]bool{"amqp": true, "mqtt": true, "http": true}
			for _, e := range m.Env {
				for h := range heads {
					if strings.EqualFold(e.Name, h+"Settings__enabled") && strings.EqualFold(strings.TrimSpace(e.Value), "false") {
						heads[h] = false
					}
				}
			}
			if heads["amqp"] && heads["mqtt"] && heads["http"] {
				var ports []string
				for _, pb := range m.CreateOptions.HostConfig.PortBindings {
					ports = append(ports, pb.ContainerPort)
				}
				slices.Sort(ports)
				ev := "MQTT, AMQP and HTTPS heads all enabled"
				if len(ports) > 0 {
					ev += "; published: " + strings.Join(slices.Compact(ports), ", ")
				}
				n := m.Node.Get("env")
				return []Finding{at(m, n, "%s", ev)}
			}
			return nil
		},
	},
	{
		ID: "EDGE022", Title: "Catch-all route to $upstream", Severity: Low, Family: "edgehub",
		Rationale:   "A route that sends every message of every module to IoT Hub forwards data nobody reviewed (debug output, personal data, a compromised module's exfiltration) and costs quota.",
		Remediation: "Route each module output explicitly (FROM /messages/modules/<module>/outputs/<output> INTO $upstream), or filter with WHERE.",
		Check: func(d *Deployment) []Finding {
			if d.Hub == nil {
				return nil
			}
			var out []Finding
			for _, r := range d.Hub.Routes {
				if r.Where != "" || !strings.EqualFold(strings.TrimSpace(r.To), "$upstream") {
					continue
				}
				switch strings.TrimRight(strings.ToLower(r.From), "/") {
				case "/*", "/messages/*", "/messages/modules/*", "/messages/modules/*/outputs/*":
					f := at(nil, r.Node, "route %s: %s", r.Name, strings.TrimSpace(r.Text))
					f.Module = "$edgeHub"
					out = append(out, f)
				}
			}
			return out
		},
	},
	{
		ID: "EDGE023", Title: "Secret in module environment", Severity: High, Family: "secrets",
		Rationale:   "Environment variables of a module are stored in the deployment, in IoT Hub, in the container's configuration (docker inspect) and often in the source repository; connection strings, SAS keys and passwords there leak easily.",
		Remediation: "Pass secrets at deployment time from a secret store (unresolved ${VAR} placeholders), or let the module fetch them (Key Vault, the IoT Edge workload API); rotate the exposed secret.",
		Check: perModule(func(m *Module) []Finding {
			var out []Finding
			for _, e := range m.Env {
				if what := secretIn(e.Name, e.Value); what != "" {
					out = append(out, at(m, e.Node, "env %s holds %s (%s)", e.Name, what, redact(e.Value)))
				}
			}
			return out
		}),
	},
	{
		ID: "EDGE024", Title: "Secret in module twin desired properties", Severity: High, Family: "secrets",
		Rationale:   "Desired properties are readable by every service and user with twin read access and are kept in the deployment history; keys and passwords do not belong there.",
		Remediation: "Remove the secret from the twin; deliver it through a secret store or the module's own provisioning, and rotate it.",
		Check: func(d *Deployment) []Finding {
			var out []Finding
			for _, t := range d.Twins {
				walkSecrets(t.Desired, "", func(name string, n *Node, what string) {
					f := at(nil, n, "desired property %s holds %s (%s)", name, what, redact(n.Str))
					f.Module = t.Module
					out = append(out, f)
				}, 0)
			}
			return out
		},
	},
	{
		ID: "EDGE025", Title: "System module restart policy is never", Severity: Medium, Family: "runtime",
		Rationale:   "If edgeHub stops with restartPolicy never, the device stops routing messages and stops receiving twin updates until someone restarts it by hand: an attacker who crashes it once silences the device.",
		Remediation: "Set edgeHub's restartPolicy to always.",
		Check: perModule(func(m *Module) []Finding {
			if m.System && strings.EqualFold(m.RestartPolicy.Value, "never") {
				return []Finding{at(m, m.RestartPolicy.Node, "restartPolicy is %q", m.RestartPolicy.Value)}
			}
			return nil
		}),
	},
	{
		ID: "EDGE026", Title: "No memory limit", Severity: Low, Family: "resources",
		Rationale:   "Without HostConfig.Memory a leaking or attacked module can take all the memory of the device and make the kernel kill edgeAgent, edgeHub or the security module (CIS Docker 5.10).",
		Remediation: "Set HostConfig.Memory (bytes) to a limit above the module's working set.",
		Check: perModule(func(m *Module) []Finding {
			if mem := m.CreateOptions.HostConfig.Memory; mem.Value <= 0 {
				n := mem.Node
				if n == nil {
					n = m.CreateOptions.HostConfig.Node
				}
				return []Finding{at(m, n, "HostConfig.Memory is not set")}
			}
			return nil
		}),
	},
	{
		ID: "EDGE027", Title: "Module logging disabled", Severity: Medium, Family: "logging",
		Rationale:   "With the none log driver nothing the module prints is kept: incidents cannot be investigated and IoT Edge's log upload (GetModuleLogs) returns nothing (ASC for IoT \"EdgeLoggingOptions\").",
		Remediation: "Use the local or json-file log driver with rotation (max-size, max-file) instead of none.",
		Check: func(d *Deployment) []Finding {
			var out []Finding
			if lo := d.Runtime.LoggingOptions; lo != nil {
				if typ, n := logDriver(lo); strings.EqualFold(typ, "none") {
					out = append(out, at(nil, n, "runtime.settings.loggingOptions uses the %q log driver", typ))
				}
			}
			for _, m := range d.Modules {
				if lt := m.CreateOptions.HostConfig.LogType; strings.EqualFold(lt.Value, "none") {
					out = append(out, at(m, lt.Node, "HostConfig.LogConfig.Type is %q", lt.Value))
				}
			}
			return out
		},
	},
	{
		ID: "EDGE090", Title: "Running module differs from the deployment manifest", Severity: High, Family: "drift",
		Rationale:   "A module that runs with settings other than the ones deployed was changed outside IoT Hub (by hand on the device, or by an attacker) and escapes review.",
		Remediation: "Find out who changed the container; redeploy from the manifest (restart edgeAgent) and restrict access to the container engine.",
	},
	{
		ID: "EDGE091", Title: "Container not declared in the deployment manifest", Severity: Medium, Family: "drift",
		Rationale:   "A container that no deployment declares was started outside IoT Edge; it runs unmanaged and unreviewed, a typical sign of tampering or of forgotten debugging.",
		Remediation: "Identify the owner of the container; remove it or declare it as a module of the deployment.",
	},
	{
		ID: "EDGE092", Title: "Declared module not running", Severity: Low, Family: "drift",
		Rationale:   "A module the deployment wants running is missing: it failed, was removed by hand, or edgeAgent could not start it; security modules are a common target.",
		Remediation: "Check edgeAgent's logs and the module's status (iotedge list); redeploy.",
	},
}

func roText(mt Mount) string {
	if mt.ReadOnly {
		return " read-only"
	}
	return " writable"
}

func isEngineSocketMount(src string) bool {
	for _, s := range engineSockets {
		if cleanHost(s) == src {
			return true
		}
	}
	return false
}

// isDeviceNode reports whether p is a device node or device directory
// below /dev (a device pass-through, EDGE011), but not /dev itself nor the
// memory devices.
func isDeviceNode(p string) bool {
	return strings.HasPrefix(p, "/dev/") && p != "/dev/mem" && p != "/dev/kmem" && p != "/dev/port"
}

func isSensitiveMount(src string, ro bool) bool {
	if isHomeDir(src) {
		return true
	}
	for _, s := range secretPaths {
		if under(src, s) || under(s, src) {
			return true
		}
	}
	for _, s := range sensitivePaths {
		if src == s || (under(src, s) && !ro) {
			return true
		}
	}
	return false
}

// logDriver returns the log driver type of a loggingOptions value (an
// object or a JSON string) and the node to point at.
func logDriver(n *Node) (string, *Node) {
	switch n.Kind {
	case Object:
		if t := n.GetFold("Type"); t != nil {
			return t.Text(), t
		}
	case String:
		if inner, err := ParseCreateOptions(n.Str, n.Pointer, n.Offset, Limits{}); err == nil && inner != nil {
			if t := inner.GetFold("Type"); t != nil {
				return t.Text(), n
			}
		}
	}
	return "", n
}

// walkSecrets calls found for every string member of a twin's desired
// properties that holds a secret.
func walkSecrets(n *Node, name string, found func(name string, n *Node, what string), depth int) {
	if n == nil || depth > 32 {
		return
	}
	switch n.Kind {
	case String:
		if what := secretIn(lastName(name), n.Str); what != "" {
			found(name, n, what)
		}
	case Object:
		for _, k := range n.Keys {
			if strings.HasPrefix(k, "$") {
				continue // $metadata, $version
			}
			child := k
			if name != "" {
				child = name + "." + k
			}
			walkSecrets(n.Props[k], child, found, depth+1)
		}
	case Array:
		for i, it := range n.Items {
			walkSecrets(it, fmt.Sprintf("%s[%d]", name, i), found, depth+1)
		}
	}
}

func lastName(dotted string) string {
	if i := strings.LastIndexByte(dotted, '.'); i >= 0 {
		dotted = dotted[i+1:]
	}
	if i := strings.IndexByte(dotted, '['); i >= 0 {
		dotted = dotted[:i]
	}
	return dotted
}
