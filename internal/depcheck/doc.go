// Package depcheck holds no code: its test checks the dependency promises
// of docs/architecture.md (package dependencies), so that an importer of one collector and one transport does
// not link the container engines' clients or the MQTT stack.
package depcheck
