package reconcile

import (
	"errors"
	"fmt"
)

// StalledError is a failure that retrying cannot fix: the Route's spec
// must change first. The reconciler sets the Stalled condition with Reason
// and does not requeue.
type StalledError struct {
	// Reason is the condition reason, e.g. InvalidRoute.
	Reason string
	// Err says what is wrong.
	Err error
}

func (e *StalledError) Error() string { return e.Err.Error() }

func (e *StalledError) Unwrap() error { return e.Err }

// RetryError is a failure that may pass: the reconciler sets Ready=False
// with Reason and retries with exponential backoff.
type RetryError struct {
	// Reason is the condition reason, e.g. ApplyFailed.
	Reason string
	// Err says what failed.
	Err error
}

func (e *RetryError) Error() string { return e.Err.Error() }

func (e *RetryError) Unwrap() error { return e.Err }

func stalled(reason string, format string, args ...any) error {
	return &StalledError{Reason: reason, Err: fmt.Errorf(format, args...)}
}

func retry(reason string, format string, args ...any) error {
	return &RetryError{Reason: reason, Err: fmt.Errorf(format, args...)}
}

// reasonOf is the condition reason of an error: the typed error's, else
// ReconciliationFailed.
func reasonOf(err error) string {
	var s *StalledError
	if errors.As(err, &s) {
		return s.Reason
	}
	var r *RetryError
	if errors.As(err, &r) {
		return r.Reason
	}
	return ReasonReconciliationFailed
}
