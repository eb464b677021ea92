package baseline

import "fmt"

type errPanic struct{ v any }

func (e errPanic) Error() string { return fmt.Sprintf("check failed unexpectedly: %v", e.v) }

type errBadStatus string

func (e errBadStatus) Error() string {
	return fmt.Sprintf("check returned an invalid status %q", string(e))
}
