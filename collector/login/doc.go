// Package login is the Login collector: successful and failed logins and
// logouts of the host, sent as Triggered Login events, one event per
// record, as they happen.
//
// # Sources
//
// Under the configured host root ("/" by default, "/host" in a container):
//
//   - /var/log/wtmp: successful logins (USER_PROCESS records, Operation
//     "Login") and logouts (DEAD_PROCESS records, Operation "Logout";
//     their user is taken from the login record of the same terminal,
//     remembered across restarts and learnt from the end of wtmp at the
//     first start).
//   - /var/log/btmp: failed logins (every record, Result "Fail"), as
//     written by sshd and login(1).
//   - /var/log/auth.log (Debian, Ubuntu) and /var/log/secure (RHEL): sshd's
//     "Failed <method> for [invalid user] <user> from <ip> port <n>",
//     "Accepted <method> for <user> from <ip> port <n>" and "Invalid user
//     <user> from <ip>" lines, and PAM "authentication failure" lines of
//     other services (login, su, sudo, ...). PAM failures of sshd are
//     skipped: sshd logs its own "Failed" line for the same attempt.
//     rsyslog's "message repeated N times" is kept as RepeatCount.
//
// The utmp files are decoded by [ParseUtmp]; [DetectLayout] tells the
// 384-byte glibc layout with 32-bit times (x86_64, aarch64, arm, i386)
// from the 400-byte layout with 64-bit times (musl, some glibc ports), in
// either byte order. Auth log lines are parsed by [ParseAuthLine], in the
// traditional syslog format and in RFC 3339 (rsyslog's high-precision
// template). Traditional time stamps carry no year or zone: the year is
// the current one (the previous one for a date more than a day ahead) and
// the zone is the module's local zone, which should match the host's.
//
// # Systemd journal
//
// The journal's binary format is not read (decoding it correctly needs
// its compression codecs and index structures; running journalctl would
// need the host's binary). A host with a journal and no auth log gets
// wtmp and btmp only, and the collector reports [ErrJournalOnly] once as
// a Diagnostic. Install rsyslog on such hosts (or forward the journal to
// syslog) to get sshd and PAM lines.
//
// # Triggered semantics and state
//
// Only records written since the last read are sent. The collector
// watches the files and their directory with inotify and checks them when
// they change (at most every 250 ms during a burst of writes), and every
// 10 minutes besides; where inotify is not available or a file cannot be
// watched (or with Options.NoWatch) it checks them every
// Options.PollInterval (2 s by default). It keeps, per
// file, its device, inode, offset and the bytes just before the offset in
// Options.StateDir (file [StateFile], replaced atomically after every
// read), so that a restart neither loses nor repeats records. The first
// run (no saved position) starts at the end of each file, unless
// Options.FromStart. A file that appears while the collector runs is read
// from its start. Rotation is handled: when the inode changes, the rest
// of the old file is read from where logrotate moved it (name.1 or
// name-YYYYMMDD, uncompressed) before the new file is read from its
// start; a truncated file (copytruncate) is read from its start. A
// partially written record or line is left until it is complete. At most
// Options.MaxReadBytes of a file are read per step, so memory stays
// bounded whatever the backlog.
//
// # Passwords typed as user names
//
// People sometimes type their password at the login prompt. A failed
// attempt whose user name is not an account of the host's /etc/passwd is
// marked UserKnown "false"; with Options.RedactUnknownUsers the name is
// replaced by [UnknownUser] (and marked UserRedacted). Raw log lines and
// user names are never logged.
//
// # Items
//
// ProcessId is the pid of the record or syslog tag (0 when absent);
// Executable is the process's executable when the record is fresh and the
// process still runs, otherwise the program deduced from the terminal
// line (sshd for "ssh:*" lines and remote pseudo-terminals, login for
// consoles) or the syslog tag, resolved in the host's sbin and bin
// directories. RemoteAddress is an IP literal (from ut_addr_v6, or ut_host
// or rhost when they are literals; host names go to RemoteHost in
// ExtraDetails), RemotePort comes from sshd's lines. ExtraDetails has
// Source, and where known Line, Method, InvalidUser, UserKnown, PamService,
// PamModule, Tty, RemoteHost, RepeatCount, Reason, ExitStatus.
//
// # Privileges
//
// wtmp is world-readable; btmp and the auth log are readable by root (or
// groups utmp and adm on Debian). Without access the collector reports the
// error once per file and follows the files it can read. Resolving a
// fresh record's executable reads /proc/<pid>/exe under the host root,
// which needs the host's /proc and CAP_SYS_PTRACE for other users'
// processes; without it the executable is deduced from the terminal line.
package login
