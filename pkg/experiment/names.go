package experiment

import (
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The judges of names that tasks' parameters hold, shared so that every
// task accepts the same names and says so in the same words.

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// IsEnvName reports whether name can be an environment variable that a
// shell, a pod's env and a Secret reference all set: letters, digits and
// '_', not starting with a digit.
func IsEnvName(name string) bool { return envName.MatchString(name) }

// ValidateEnvName reports a name at path that IsEnvName refuses.
func ValidateEnvName(path *field.Path, name string) field.ErrorList {
	if IsEnvName(name) {
		return nil
	}
	return field.ErrorList{field.Invalid(path, name, "must be an environment variable name: letters, digits and '_', not starting with a digit")}
}

// IsHeaderName reports whether s is an HTTP header name: a token of RFC
// 9110.
func IsHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && strings.IndexByte("!#$%&'*+-.^_`|~", c) < 0 {
			return false
		}
	}
	return true
}

// ValidateHeaderName reports a name at path that IsHeaderName refuses.
func ValidateHeaderName(path *field.Path, name string) field.ErrorList {
	if IsHeaderName(name) {
		return nil
	}
	return field.ErrorList{field.Invalid(path, name, "must be an HTTP header name: letters, digits and !#$%&'*+-.^_`|~")}
}
