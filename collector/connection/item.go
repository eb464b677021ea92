package connection

import (
	"net/netip"
	"strconv"

	"github.com/edgesec/edgesec/event"
	"github.com/edgesec/edgesec/internal/sockdiag"
	"github.com/edgesec/edgesec/internal/sockowner"
)

// ExtraDetails keys of the ConnectionCreate items.
const (
	KeyFamily               = "Family"               // "IPv4" or "IPv6" (of the socket)
	KeyIPv4Mapped           = "IPv4Mapped"           // "true" for an IPv6 socket carrying IPv4 (addresses are shown as IPv4)
	KeyLoopback             = "Loopback"             // "true" when both ends are loopback addresses
	KeyState                = "State"                // TCP state when the connection was seen ("ESTABLISHED", "SYN_SENT", "TIME_WAIT", …)
	KeyInode                = "Inode"                // socket inode
	KeySocketUserID         = "SocketUserId"         // uid of the socket's creator
	KeyUserName             = "UserName"             // name of UserId, when known
	KeyComm                 = "Comm"                 // the process's kernel command name
	KeyCommandLineTruncated = "CommandLineTruncated" // "true" when CommandLine was cut
	KeyExecutableDeleted    = "ExecutableDeleted"    // "true" when the executable file was deleted
	KeyAttribution          = "Attribution"          // "none" when no process could be found (see the package documentation)
	KeyContainerID          = "ContainerId"
	KeyContainerName        = "ContainerName"
	KeyModuleName           = "ModuleName"
)

// Container is what is known of the container of a connection's process.
type Container struct {
	ID, Name, Module string
}

// Item builds the ConnectionCreate payload item of socket s, seen
// inbound or outbound, owned by o (nil when unknown). userName is the
// name of the owner's uid ("" when unknown). Addresses are plain IP
// literals: IPv4-mapped IPv6 addresses are shown in IPv4 form and zones
// are dropped. Item is pure.
func Item(s *sockdiag.Socket, inbound bool, o *sockowner.Owner, c Container, userName string) *event.ConnectionCreatePayload {
	local, remote := s.Local.Addr(), s.Remote.Addr()
	mapped := local.Is4In6() || remote.Is4In6()
	local, remote = local.Unmap().WithZone(""), remote.Unmap().WithZone("")
	p := &event.ConnectionCreatePayload{
		RemoteAddress: remote.String(),
		RemotePort:    strconv.Itoa(int(s.Remote.Port())),
		LocalAddress:  local.String(),
		LocalPort:     strconv.Itoa(int(s.Local.Port())),
		Direction:     event.DirectionOut,
		Protocol:      sockdiag.ProtocolName(s.Protocol),
		ExtraDetails: event.ExtraDetails{
			KeyFamily:       sockdiag.FamilyName(s.Family),
			KeyState:        stateName(s),
			KeySocketUserID: strconv.FormatUint(uint64(s.UID), 10),
		},
	}
	if inbound {
		p.Direction = event.DirectionIn
	}
	x := p.ExtraDetails
	if s.Inode != 0 {
		x[KeyInode] = strconv.FormatUint(s.Inode, 10)
	}
	if mapped {
		x[KeyIPv4Mapped] = "true"
	}
	if isLoopback(local) && isLoopback(remote) {
		x[KeyLoopback] = "true"
	}
	if o == nil {
		x[KeyAttribution] = "none"
		return p
	}
	p.ProcessID = o.PID
	p.UserID = strconv.FormatUint(uint64(o.UID), 10)
	p.Executable = o.Exe
	p.CommandLine = o.Cmdline
	if o.Comm != "" {
		x[KeyComm] = o.Comm
	}
	if userName != "" {
		x[KeyUserName] = userName
	}
	if o.CmdlineTruncated {
		x[KeyCommandLineTruncated] = "true"
	}
	if o.ExeDeleted {
		x[KeyExecutableDeleted] = "true"
	}
	if c.ID != "" {
		x[KeyContainerID] = c.ID
		if c.Name != "" {
			x[KeyContainerName] = c.Name
		}
		if c.Module != "" {
			x[KeyModuleName] = c.Module
		}
	}
	return p
}

func stateName(s *sockdiag.Socket) string {
	if s.Protocol == sockdiag.ProtoUDP && s.State == sockdiag.StateEstablished {
		return "CONNECTED"
	}
	return sockdiag.StateName(s.State)
}

// isLoopback reports a loopback address (127.0.0.0/8, ::1), or an
// unspecified one (a connection to 0.0.0.0 reaches the host itself).
func isLoopback(a netip.Addr) bool { return a.IsLoopback() || a.IsUnspecified() }
