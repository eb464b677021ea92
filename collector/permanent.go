package collector

import "errors"

// ErrPermanent marks a collector error that restarting will not cure (a
// kernel feature the host lacks, a configuration that cannot work). When
// Run returns an error that wraps ErrPermanent, the engine does not restart
// the collector: it reports it "failed" in the Heartbeat, with the error,
// until the configuration turns the collector Off and On again. Test with
// errors.Is(err, ErrPermanent).
var ErrPermanent = errors.New("permanent")

// Permanent returns err marked as permanent (see [ErrPermanent]); its text
// is err's. It returns nil when err is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }

// Unwrap returns the error and ErrPermanent, so that errors.Is and
// errors.As find both.
func (e permanentError) Unwrap() []error { return []error{e.err, ErrPermanent} }
