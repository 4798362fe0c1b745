package abn

import (
	"fmt"
	"math"
	"unicode"
	"unicode/utf8"
)

// MaxNameLength is the longest application, version, user or metric name
// the service accepts, in bytes.
const MaxNameLength = 256

// MaxBatch is the largest number of values one WriteMetrics call may carry.
const MaxBatch = 10000

// InvalidError is a name or value the service refuses: the service answers
// it with InvalidArgument, the SDK returns it without calling the service.
type InvalidError struct {
	// Field names what is wrong, e.g. "user" or "value".
	Field string
	// Reason says why, and what is allowed.
	Reason string
}

func (e *InvalidError) Error() string { return e.Field + ": " + e.Reason }

// ValidateName checks a name: not empty, at most MaxNameLength bytes, valid
// UTF-8 and free of control characters (so that names print safely).
func ValidateName(field, s string) error {
	switch {
	case s == "":
		return &InvalidError{field, "must not be empty"}
	case len(s) > MaxNameLength:
		return &InvalidError{field, fmt.Sprintf("is %d bytes long: the limit is %d", len(s), MaxNameLength)}
	case !utf8.ValidString(s):
		return &InvalidError{field, "must be valid UTF-8"}
	}
	for i, r := range s {
		if unicode.IsControl(r) {
			return &InvalidError{field, fmt.Sprintf("must not contain control characters (%U at byte %d)", r, i)}
		}
	}
	return nil
}

// ValidateValue checks the value of a metric: it must be finite.
func ValidateValue(v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return &InvalidError{"value", fmt.Sprintf("%g is not allowed: values must be finite numbers", v)}
	}
	return nil
}

// ValidateLookup checks the arguments of a lookup.
func ValidateLookup(application, user string) error {
	if err := ValidateName("application", application); err != nil {
		return err
	}
	return ValidateName("user", user)
}

// ValidateMetric checks the arguments of a metric write.
func ValidateMetric(application, user, metric string, value float64) error {
	if err := ValidateLookup(application, user); err != nil {
		return err
	}
	if err := ValidateName("metric", metric); err != nil {
		return err
	}
	if err := ValidateValue(value); err != nil {
		return &InvalidError{Field: "value of metric " + fmt.Sprintf("%q", metric), Reason: err.(*InvalidError).Reason}
	}
	return nil
}
