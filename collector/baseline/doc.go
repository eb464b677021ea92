// Package baseline is the OSBaseline collector: a periodic run of
// CIS-style security checks of the host, reporting — as the Azure Security
// Center for IoT agents did — only the checks that fail or could not run.
//
// Every check is built in Go and reads files: no external binary (no
// omsbaseline, no sshd -T, no sysctl) is executed. Each has a stable id,
// sent as CceId: the CCE identifier of the corresponding ComplianceAsCode
// rule where one exists (for example CCE-80901-2, "Disable SSH Root
// Login", from its Red Hat Enterprise Linux 8 mapping), otherwise an
// EDGESEC-<AREA>-<n> id of this project. [Builtin] lists them; the areas
// are sshd, account databases and file permissions, accounts and password
// hashing, kernel parameters, unused filesystem modules, mounts, logging,
// auditing and time synchronization.
//
// # Events
//
// One poll produces OSBaseline events (Periodic, Security) with one item
// per check whose Result is Fail or Err; passing checks are not sent. A
// host that passes everything gets one empty event (IsEmpty true). Each
// item carries Description, Severity (Critical, Important, Warning,
// Informational), Error (why an Err check could not run) and, in
// ExtraDetails, Source ("BuiltIn" or "Custom"), Evidence (what was found,
// with the file and line or the /proc/sys parameter), and when they apply
// Expected, Actual, Location, NotApplicable and Truncated. Evidence lists
// are capped at 20 entries. A snapshot larger than
// [Options.MaxEventBytes] is split into several events.
//
// When custom checks are enabled but cannot be used, a ConfigurationError
// event (Triggered, Operational) precedes the OSBaseline events; see below.
//
// # What it reads, and the host root
//
// Everything is read under [Options.HostRoot] ("/" by default, "/host"
// when the module runs in a container with the host's filesystem mounted
// there), through [HostFS], which resolves symbolic links inside the root
// (an absolute link target is taken relative to the root). Kernel
// parameters come from <root>/proc/sys, mounts from <root>/proc/mounts
// and loaded modules from <root>/proc/modules: with HostRoot "/host" the
// host's /proc must be visible at /host/proc (a bind mount of the host's
// / does not include it). Network parameters (net.*) are per network
// namespace: they describe the host only when the module runs in the host
// network. The checks read the running values (what the kernel enforces
// now), not the sysctl.d files that will apply at the next boot.
//
// sshd_config is read as sshd reads it ([ReadSSHDConfig]): Include
// directives (glob patterns, relative to /etc/ssh, sorted) expanded in
// place, the first value of a keyword winning, Match blocks kept apart
// (a Match block ends at the next Match or at the end of the file it
// started in; an Include inside a Match block belongs to the block). A
// check fails when the global value is weak or when any Match block sets
// a weak value. OpenSSH's built-in defaults apply to unset keywords.
// Hosts without sshd (no sshd_config and no sshd binary) pass the sshd
// checks with NotApplicable "true". Dropbear is not checked.
//
// # Privileges
//
// Reading /etc/shadow needs root or CAP_DAC_READ_SEARCH. Without it the
// empty-password and password-hash checks report Err (the reason is in
// Error); everything else is world-readable. No check needs any other
// capability, and the collector never writes anything.
//
// # Limits
//
// Files are read up to [MaxFileBytes]. The world-writable search walks
// /etc, /bin, /sbin, /usr/bin and /usr/sbin (each real directory once, so
// merged-/usr hosts are not walked twice; symbolic links are not
// followed) up to [WalkLimits] (200,000 entries and 20 s by default): a
// search cut short reports what it found as Fail (with "Incomplete" in
// ExtraDetails), or Err when it found nothing. sshd_config includes are
// limited to a depth of 16 and 256 files.
//
// # Custom checks
//
// The twin keys baselineCustomChecksEnabled, baselineCustomChecksFilePath
// and baselineCustomChecksFileHash add checks from a JSON file, read at
// every poll through [Options.CustomChecks] (see [CustomChecksFrom]), so
// configuration changes apply at the next poll. The file path is as seen
// by the module (not under the host root); the paths inside the checks
// are host paths (read under the host root).
//
// The file is used only when its SHA-256 equals
// baselineCustomChecksFileHash (hexadecimal, any case, as printed by
// sha256sum). When the hash is empty or differs, the file cannot be read,
// or it is not a valid checks file, no custom check runs, the built-in
// checks still do, and a ConfigurationError event says why:
//
//   - ConfigurationName baselineCustomChecksFileHash, ErrorType Conflict:
//     the hash is empty or does not match (the message gives the file's
//     actual SHA-256);
//   - ConfigurationName baselineCustomChecksFilePath, ErrorType Conflict:
//     the file cannot be read;
//   - ConfigurationName baselineCustomChecksFilePath, ErrorType
//     TypeMismatch: the file is larger than 1 MiB or not a valid checks
//     file (the message lists every problem);
//
// each with UsedConfiguration "built-in checks only". The event is sent at
// every poll while the problem lasts.
//
// The format (decoded strictly: unknown fields, wrong types and trailing
// data are errors; at most 512 checks):
//
//	{
//	  "checks": [
//	    {
//	      "id": "ACME-1",                  // 1-64 of [A-Za-z0-9._:-], unique, not a built-in id
//	      "description": "The agent key is private",
//	      "severity": "Critical",          // Critical, Important, Warning or Informational
//	      "test": {"type": "file-mode-max", "path": "/etc/acme/agent.key", "mode": "0600", "owner": "root"}
//	    }
//	  ]
//	}
//
// Test types (a test may set only the fields its type uses):
//
//   - file-exists, file-absent {path}: whether the path exists (a
//     symbolic link counts, dangling or not).
//   - file-mode-max {path, mode, owner?, group?}: the file's permission
//     bits (setuid, setgid and sticky included) are within the octal mode;
//     owner and group, when given, are a name on the host or a number.
//   - file-contains-regex, file-not-contains-regex {path, regex}: whether
//     some line matches the RE2 expression (at most 4096 characters). A
//     missing file fails file-contains-regex and passes
//     file-not-contains-regex.
//   - sysctl-equals {key, value}: the kernel parameter (net.ipv4.ip_forward)
//     equals value, white space normalised.
//   - config-key-equals {path, key, value, separator?, caseInsensitive?,
//     occurrence?, default?}: in a "key value" or "key=value" file
//     (separator "" — white space or "=", the default — "=" or ":"; lines
//     starting with "#" or ";" are comments), the last (or, with
//     occurrence "first", the first) assignment of key equals value. When
//     the key or file is absent, default is used if given; otherwise the
//     check fails.
//
// There is deliberately no test that runs a command.
package baseline
