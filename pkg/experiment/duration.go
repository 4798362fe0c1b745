package experiment

import (
	"fmt"
	"time"
)

// Duration is a time.Duration written as a string such as "10s" or "1m30s".
type Duration struct {
	time.Duration
}

// UnmarshalText parses a Go duration string; it must not be negative.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("must be a duration such as 500ms, 10s or 1m30s")
	}
	if v < 0 {
		return fmt.Errorf("must not be negative")
	}
	d.Duration = v
	return nil
}

// MarshalText writes the duration as a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }
