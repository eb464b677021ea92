// Package lines reads text line by line with bounded memory, for the
// parsers of host files (/etc/passwd, /etc/os-release, /proc/meminfo …):
// a line longer than the limit is skipped and counted, never buffered, so
// a hostile or corrupt file cannot make a parser allocate without bound.
package lines
