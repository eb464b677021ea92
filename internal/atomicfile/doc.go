// Package atomicfile replaces files atomically and durably, for the small
// state files edgesec keeps (the agent id, the reported configuration,
// read positions): a reader, or the host after a power cut, sees either
// the old content or the new one, never a mix or an empty file.
package atomicfile
