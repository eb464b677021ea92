package manifest

import (
	"fmt"
	"strconv"
	"strings"
)

// decodeCreateOptions extracts the settings the rules need from parsed
// create options. Keys match case-insensitively, as in Docker.
func decodeCreateOptions(root *Node) (*CreateOptions, []error) {
	var errs []error
	bad := func(n *Node, format string, args ...any) {
		errs = append(errs, &Error{Pointer: n.Pointer, Inner: n.Inner, Err: fmt.Errorf(format, args...)})
	}
	str := func(n *Node, what string) Setting[string] {
		if n == nil || n.Kind == Null {
			return Setting[string]{}
		}
		if n.Kind != String {
			bad(n, "%s must be a string, not %s", what, kindName(n.Kind))
			return Setting[string]{}
		}
		return Setting[string]{Value: n.Str, Node: n}
	}
	boolean := func(n *Node, what string) Setting[bool] {
		if n == nil || n.Kind == Null {
			return Setting[bool]{}
		}
		switch n.Kind {
		case Bool:
			return Setting[bool]{Value: n.Bool, Node: n}
		case String: // lenient, like the IoT Edge agent
			if b, err := strconv.ParseBool(n.Str); err == nil {
				return Setting[bool]{Value: b, Node: n}
			}
			if isPlaceholder(n.Str) {
				return Setting[bool]{}
			}
		}
		bad(n, "%s must be a boolean, not %s", what, kindName(n.Kind))
		return Setting[bool]{}
	}
	strs := func(n *Node, what string) []Setting[string] {
		if n == nil || n.Kind == Null {
			return nil
		}
		if n.Kind != Array {
			bad(n, "%s must be an array of strings, not %s", what, kindName(n.Kind))
			return nil
		}
		var out []Setting[string]
		for _, it := range n.Items {
			if s := str(it, what+" item"); s.Set() {
				out = append(out, s)
			}
		}
		return out
	}

	o := &CreateOptions{Root: root}
	o.User = str(root.GetFold("User"), "User")
	if lb := root.GetFold("Labels"); lb != nil && lb.Kind != Null {
		if lb.Kind != Object {
			bad(lb, "Labels must be an object, not %s", kindName(lb.Kind))
		} else {
			o.Labels = map[string]Setting[string]{}
			for _, k := range lb.Keys {
				o.Labels[k] = Setting[string]{Value: lb.Props[k].Text(), Node: lb.Props[k]}
			}
		}
	}
	for _, e := range strs(root.GetFold("Env"), "Env") {
		name, val, _ := strings.Cut(e.Value, "=")
		o.Env = append(o.Env, EnvVar{Name: name, Value: val, Node: e.Node})
	}
	hc := root.GetFold("HostConfig")
	if hc == nil || hc.Kind == Null {
		return o, errs
	}
	if hc.Kind != Object {
		bad(hc, "HostConfig must be an object, not %s", kindName(hc.Kind))
		return o, errs
	}
	h := &o.HostConfig
	h.Node = hc
	h.Privileged = boolean(hc.GetFold("Privileged"), "Privileged")
	h.ReadonlyRootfs = boolean(hc.GetFold("ReadonlyRootfs"), "ReadonlyRootfs")
	for _, c := range strs(hc.GetFold("CapAdd"), "CapAdd") {
		c.Value = normCap(c.Value)
		h.CapAdd = append(h.CapAdd, c)
	}
	for _, c := range strs(hc.GetFold("CapDrop"), "CapDrop") {
		c.Value = normCap(c.Value)
		h.CapDrop = append(h.CapDrop, c)
	}
	h.NetworkMode = str(hc.GetFold("NetworkMode"), "NetworkMode")
	h.PidMode = str(hc.GetFold("PidMode"), "PidMode")
	h.IpcMode = str(hc.GetFold("IpcMode"), "IpcMode")
	h.UTSMode = str(hc.GetFold("UTSMode"), "UTSMode")
	h.UsernsMode = str(hc.GetFold("UsernsMode"), "UsernsMode")
	h.CgroupnsMode = str(hc.GetFold("CgroupnsMode"), "CgroupnsMode")
	h.SecurityOpt = strs(hc.GetFold("SecurityOpt"), "SecurityOpt")
	h.DeviceCgroupRules = strs(hc.GetFold("DeviceCgroupRules"), "DeviceCgroupRules")
	for _, b := range strs(hc.GetFold("Binds"), "Binds") {
		h.Mounts = append(h.Mounts, parseBind(b.Value, b.Node))
	}
	if ms := hc.GetFold("Mounts"); ms != nil && ms.Kind != Null {
		if ms.Kind != Array {
			bad(ms, "Mounts must be an array, not %s", kindName(ms.Kind))
		} else {
			for _, it := range ms.Items {
				if it.Kind != Object {
					bad(it, "a mount must be an object, not %s", kindName(it.Kind))
					continue
				}
				typ := strings.ToLower(str(it.GetFold("Type"), "Mount Type").Value)
				if typ == "" {
					typ = "volume"
				}
				h.Mounts = append(h.Mounts, Mount{
					Type:     typ,
					Source:   str(it.GetFold("Source"), "Mount Source").Value,
					Target:   str(it.GetFold("Target"), "Mount Target").Value,
					ReadOnly: boolean(it.GetFold("ReadOnly"), "Mount ReadOnly").Value,
					Node:     it,
				})
			}
		}
	}
	if ds := hc.GetFold("Devices"); ds != nil && ds.Kind != Null {
		if ds.Kind != Array {
			bad(ds, "Devices must be an array, not %s", kindName(ds.Kind))
		} else {
			for _, it := range ds.Items {
				if it.Kind != Object {
					bad(it, "a device must be an object, not %s", kindName(it.Kind))
					continue
				}
				h.Devices = append(h.Devices, Device{
					PathOnHost:        str(it.GetFold("PathOnHost"), "PathOnHost").Value,
					PathInContainer:   str(it.GetFold("PathInContainer"), "PathInContainer").Value,
					CgroupPermissions: str(it.GetFold("CgroupPermissions"), "CgroupPermissions").Value,
					Node:              it,
				})
			}
		}
	}
	if mem := hc.GetFold("Memory"); mem != nil && mem.Kind != Null {
		switch mem.Kind {
		case Number:
			v, err := strconv.ParseFloat(mem.Str, 64)
			if err != nil || v < 0 {
				bad(mem, "Memory must be a non-negative number of bytes")
			} else {
				h.Memory = Setting[int64]{Value: int64(v), Node: mem}
			}
		case String:
			if v, err := strconv.ParseInt(mem.Str, 10, 64); err == nil && v >= 0 {
				h.Memory = Setting[int64]{Value: v, Node: mem}
			} else if !isPlaceholder(mem.Str) {
				bad(mem, "Memory must be a number of bytes")
			}
		default:
			bad(mem, "Memory must be a number, not %s", kindName(mem.Kind))
		}
	}
	if pb := hc.GetFold("PortBindings"); pb != nil && pb.Kind != Null {
		if pb.Kind != Object {
			bad(pb, "PortBindings must be an object, not %s", kindName(pb.Kind))
		} else {
			for _, port := range pb.Keys {
				list := pb.Props[port]
				if list.Kind == Null {
					continue
				}
				if list.Kind != Array {
					bad(list, "PortBindings %s must be an array, not %s", port, kindName(list.Kind))
					continue
				}
				for _, it := range list.Items {
					if it.Kind != Object {
						bad(it, "a port binding must be an object, not %s", kindName(it.Kind))
						continue
					}
					h.PortBindings = append(h.PortBindings, PortBinding{
						ContainerPort: port,
						HostIP:        it.GetFold("HostIp").Text(),
						HostPort:      it.GetFold("HostPort").Text(),
						Node:          it,
					})
				}
			}
		}
	}
	if lc := hc.GetFold("LogConfig"); lc != nil && lc.Kind == Object {
		h.LogType = str(lc.GetFold("Type"), "LogConfig Type")
	}
	if rp := hc.GetFold("RestartPolicy"); rp != nil && rp.Kind == Object {
		h.RestartPolicy = str(rp.GetFold("Name"), "RestartPolicy Name")
	}
	return o, errs
}

// normCap normalises a capability name: upper case, without "CAP_".
func normCap(s string) string {
	s = strings.ToUpper(strings.TrimSpace(s))
	return strings.TrimPrefix(s, "CAP_")
}

func isWindowsPath(s string) bool {
	return len(s) >= 3 && isLetter(s[0]) && s[1] == ':' && (s[2] == '\\' || s[2] == '/') ||
		strings.HasPrefix(s, `\\`)
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// parseBind parses a Docker bind string: source:target[:options], where
// source is a host path or a volume name, and Windows paths may carry a
// drive letter.
func parseBind(s string, n *Node) Mount {
	parts := splitBind(s)
	m := Mount{Type: "volume", Node: n}
	switch len(parts) {
	case 0:
		return m
	case 1: // an anonymous volume
		m.Target = parts[0]
		return m
	}
	m.Source, m.Target = parts[0], parts[1]
	if strings.HasPrefix(m.Source, "/") || isWindowsPath(m.Source) || strings.HasPrefix(m.Source, ".") || strings.HasPrefix(m.Source, "~") || strings.HasPrefix(m.Source, "$") {
		m.Type = "bind"
	}
	if len(parts) > 2 {
		for _, opt := range strings.Split(parts[2], ",") {
			if opt == "ro" || opt == "readonly" {
				m.ReadOnly = true
			}
		}
	}
	return m
}

func splitBind(s string) []string {
	raw := strings.Split(s, ":")
	var out []string
	for i := 0; i < len(raw); i++ {
		p := raw[i]
		// A drive letter: "C" followed by "\…" or "/…".
		if len(p) == 1 && isLetter(p[0]) && i+1 < len(raw) && (strings.HasPrefix(raw[i+1], `\`) || strings.HasPrefix(raw[i+1], "/")) {
			p += ":" + raw[i+1]
			i++
		}
		out = append(out, p)
	}
	return out
}
