// Package users is the LocalUsers collector: a periodic snapshot of the
// host's local accounts, one payload item per account, as the Azure
// Security Center for IoT agents sent it, plus the facts a security
// reviewer looks for.
//
// # What it reads
//
// Under the configured host root ("/" by default, "/host" when the module
// runs in a container with the host filesystem mounted there):
//
//   - /etc/passwd: the accounts (required; without it Poll returns an error
//     and no event).
//   - /etc/group: group names and supplementary memberships. Without it,
//     only primary group ids are reported, named by their number, and Poll
//     reports the error.
//   - /etc/shadow: the password state. Only its classification is used
//     ("empty", "locked", "set"); the hash is dropped by the parser and
//     never reaches an event, a log line or an error.
//
// Each item has UserName, UserId, and GroupIds and GroupNames joined with
// ";" (primary group first, then supplementary groups in /etc/group order,
// without duplicates). ExtraDetails holds Shell, Home, LoginShell
// ("false" for nologin, false, sync, shutdown and halt), PasswordState
// ("empty", "locked", "set" or "unknown"), and, only when they apply:
// EmptyPasswordLogin (a login shell and an empty password), Uid0NotRoot (an
// account with uid 0 not named root), DuplicateUid, PasswordHashInPasswd (a
// hash stored in the world-readable /etc/passwd), PrimaryGroupMissing,
// PasswordLastChange and AccountExpires (dates, from /etc/shadow).
//
// # Privileges
//
// /etc/passwd and /etc/group are world-readable. /etc/shadow is readable
// only by root (or with CAP_DAC_READ_SEARCH, or group shadow on Debian).
// Without that access the collector still runs: PasswordState is
// "unknown" for every account whose passwd field is "x", no
// EmptyPasswordLogin is detected, and a warning is logged once.
//
// # Limits
//
// The parsers skip comments, blank lines and NIS "+"/"-" entries; they
// skip and count malformed lines and lines longer than [MaxLineBytes], and
// keep at most [MaxEntries] entries per file, so memory stays bounded on a
// hostile or corrupt host. What they skipped is reported as a
// [ParseError] through the error Poll returns (the engine turns it into a
// Diagnostic event); the accounts that did parse are still sent. A
// snapshot is split into several LocalUsers events when it would not fit
// in [Options.MaxEventBytes].
package users
