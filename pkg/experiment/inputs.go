package experiment

import (
	"path/filepath"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// FileInput is a file, or the files of a folder, that a task's parameters
// name and that the task reads from the disk of wherever the experiment
// runs; an in-cluster run carries them into the Job's pod (see
// runner.ReadFiles), at the paths the spec names.
type FileInput struct {
	// Field is the parameter's path under the task's with, e.g.
	// payloadFile or importPaths[0].
	Field string
	// Path is the path as the spec writes it: relative to the experiment
	// file's folder, or absolute.
	Path string
	// Folder says Path is a folder; Pattern then selects the files in it
	// (and its subfolders) the task reads, e.g. "*.proto".
	Folder  bool
	Pattern string
}

// FileReader is a task that reads files its parameters name. Files is
// called after Validate.
type FileReader interface {
	Files() []FileInput
}

// EnvInput is an environment variable a task's parameters name, read when
// the task runs.
type EnvInput struct {
	// Field is the parameter's path under the task's with, e.g. urlEnv.
	Field string
	// Name is the variable.
	Name string
}

// EnvReader is a task that reads environment variables its parameters
// name (credentials, secret URLs). Env is called after Validate.
type EnvReader interface {
	Env() []EnvInput
}

// ObjectInput is an object of the cluster a task's parameters name, read
// when the task runs.
type ObjectInput struct {
	// Field is the parameter's path under the task's with, e.g. objects[0].
	Field string
	// Resource is the object's resource.
	Resource schema.GroupVersionResource
	// Namespace and Name name the object.
	Namespace, Name string
}

// ObjectReader is a task that reads objects of the cluster its parameters
// name; namespace, the experiment's, is the namespace of objects that name
// none. An in-cluster experiment may read exactly these objects.
// ClusterObjects is called after Validate.
type ObjectReader interface {
	ClusterObjects(namespace string) []ObjectInput
}

// ResolvePath makes a path that a spec writes relative to the experiment
// file's folder dir absolute (or relative to the working directory, as dir
// is); an absolute path is kept.
func ResolvePath(dir, path string) string {
	if path == "" || filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(dir, path)
}
