package experiment

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"sigs.k8s.io/yaml"
)

// ResultFileName is the default name of a local run's result file, written
// next to the experiment file.
const ResultFileName = "result.yaml"

// WriteResultFile writes the result as YAML atomically: to a temporary file
// in the same folder, synced, then renamed over path, so that a crash never
// leaves a half-written result and readers see the old or the new one.
func WriteResultFile(path string, r *Result) (err error) {
	b, err := yaml.Marshal(r)
	if err != nil {
		return fmt.Errorf("encoding result: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing result: %w", err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(b); err != nil {
		return fmt.Errorf("writing result: %w", err)
	}
	if err = f.Chmod(0o644); err != nil {
		return fmt.Errorf("writing result: %w", err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("writing result: %w", err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("writing result: %w", err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("writing result: %w", err)
	}
	return nil
}

// ErrNoResult is returned by ReadResultFile when there is no result file.
var ErrNoResult = errors.New("no result")

// ReadResultFile reads a result written by WriteResultFile (YAML or JSON).
func ReadResultFile(path string) (*Result, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w at %s: run kubectl iter8-run launch --local first, or point --result at one", ErrNoResult, path)
	}
	if err != nil {
		return nil, fmt.Errorf("reading result: %w", err)
	}
	r := &Result{}
	if err := yaml.UnmarshalStrict(b, r); err != nil {
		return nil, fmt.Errorf("%s is not an iter8 result: %w", path, err)
	}
	return r, nil
}
