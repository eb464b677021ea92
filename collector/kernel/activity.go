package kernel

import (
	"strconv"

	"github.com/edgesec/edgesec/event"
)

// ExtraDetails keys of KernelActivity events.
const (
	KeyOpenFlags     = "OpenFlags"     // open flags, octal ("01101")
	KeyMode          = "Mode"          // chmod mode, octal ("04755")
	KeySocketType    = "SocketType"    // AF_PACKET socket type ("3" SOCK_RAW)
	KeyMountFlags    = "MountFlags"    // mount flags, hexadecimal
	KeyMemfdFlags    = "MemfdFlags"    // memfd_create flags, hexadecimal
	KeyPathTruncated = "PathTruncated" // "true" when a path was cut at 255 bytes
)

// actionOf names the action of an activity record.
func actionOf(a *activityRecord) string {
	switch a.Kind {
	case actOpen, actCreat:
		switch {
		case a.Ops&uint32(OpTruncate) != 0 && a.Ops&uint32(OpWrite) == 0:
			return event.ActivityTruncate
		case a.Ops&uint32(OpWrite) != 0:
			return event.ActivityOpenWrite
		}
		return event.ActivityOpenRead
	case actUnlink:
		return event.ActivityUnlink
	case actRename:
		return event.ActivityRename
	case actTruncate:
		return event.ActivityTruncate
	case actLink:
		return event.ActivityLink
	case actSymlink:
		return event.ActivitySymlink
	case actChmod:
		return event.ActivityChmodSetuid
	case actPtrace:
		return event.ActivityPtrace
	case actMemfd:
		return event.ActivityMemfdCreate
	case actSocket:
		return event.ActivityPacketSocket
	case actMount:
		return event.ActivityMount
	case actModule:
		return event.ActivityModuleLoad
	case actBPF:
		return event.ActivityBPFLoad
	}
	return ""
}

func (e *enricher) activity(r *record) {
	a := &r.Act
	action := actionOf(a)
	if action == "" {
		return
	}
	pid := int(r.TGID)
	info := e.live.get(pid)
	if info == nil || info.exe == "" {
		if p := e.readProc(pid); p != nil {
			info = p
			e.live.put(pid, p)
		}
	}
	item := &event.KernelActivityPayload{Action: action, Path: a.Path, TargetPath: a.Path2,
		Operations: Op(a.Ops).String(), ProcessID: pid, ParentProcessID: int(r.PPID),
		UserID: strconv.FormatUint(uint64(a.UID), 10), UserName: e.c.users.Name(a.UID),
		ExtraDetails: event.ExtraDetails{KeySource: sourceName, KeyComm: r.Comm}}
	d := item.ExtraDetails
	switch a.Kind {
	case actOpen, actCreat:
		d[KeyOpenFlags] = "0" + strconv.FormatUint(a.Flags, 8)
	case actChmod:
		d[KeyMode] = "0" + strconv.FormatUint(a.Flags&0o7777, 8)
	case actPtrace:
		item.TargetProcessID = int(int32(a.Arg))
		if item.TargetProcessID < 0 {
			item.TargetProcessID = 0
		}
	case actSocket:
		d[KeySocketType] = strconv.FormatUint(a.Flags, 10)
	case actMount:
		d[KeyMountFlags] = "0x" + strconv.FormatUint(a.Flags, 16)
	case actMemfd:
		d[KeyMemfdFlags] = "0x" + strconv.FormatUint(a.Flags, 16)
	}
	if r.Flags&flagPathTruncated != 0 {
		d[KeyPathTruncated] = "true"
	}
	var ci *containerInfo
	if info != nil {
		item.Executable, item.CommandLine = info.exe, info.cmdline
		if info.truncated {
			d[KeyCommandLineTruncated] = "true"
		}
		ci = info.cont
	}
	if cached, ok := e.cgroups[r.CgroupID]; ok && r.CgroupID != 0 {
		ci = cached
	}
	if item.Executable == "" {
		d[KeyEnrichment] = "partial"
		e.c.parts.Add(1)
	}
	attribute(d, e.resolve(ci))
	e.c.acts.Add(1)
	e.batch = append(e.batch, event.Must(event.KernelActivity, e.ktime(r.KTime), item))
}
