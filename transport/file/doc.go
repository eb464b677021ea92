// Package file is a Transport that writes security messages as JSON lines:
// one message body per line, to standard output ([New]) or appended to a
// file ([Open]).
//
// It is meant for local debugging, for feeding another tool (jq, a log
// shipper) and for air-gapped devices whose messages are collected by other
// means. Only the message body (the JSON envelope) is written; properties
// and ids are not.
//
// A file opened with Open is synced (fsync) before Send returns nil, so a
// message Send accepted survives a crash or power loss; a message whose
// write failed is cut off again, so the file never holds a partial line.
// The file is created with permissions 0600, since messages describe the
// host's users, processes and network in detail.
package file
