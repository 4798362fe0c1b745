package runner

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"

	"github.com/iter8-tools/iter8/pkg/experiment"
)

// What an in-cluster experiment carries into its Job's pod: the files its
// tasks read, in the experiment's Secret and mounted where the spec names
// them, and environment variables from the user's Secrets.
const (
	// PodDir is the experiment file's folder in the pod: the spec's
	// relative paths resolve against it, as they do against the file's
	// folder in a local run.
	PodDir = "/iter8/experiment"
	// filesRoot is where the files volume is mounted; files the spec names
	// outside it are mounted one by one (subPath).
	filesRoot   = "/iter8"
	filesVolume = "files"
	// MaxFilesSize bounds the files an experiment carries: its Secret
	// holds them with the spec and the result, in at most 1 MiB.
	MaxFilesSize = 512 << 10
)

// File is a file the experiment's tasks read, carried into the pod.
type File struct {
	// Path is where the pod reads it (absolute).
	Path string
	// Data is its content.
	Data []byte
}

// fileKey is the Secret key of the i-th file.
func fileKey(i int) string { return fmt.Sprintf("file-%d", i) }

// ReadFiles reads the files exp's tasks read (experiment.FileReader), the
// spec's relative paths resolved against dir, the experiment file's
// folder, for Options.Files. Each comes back with the path the pod reads
// it at, sorted by it. A file that cannot be read, or files over
// MaxFilesSize in all, are an error naming the task's field.
func ReadFiles(exp *experiment.Experiment, dir string) ([]File, error) {
	byPath := map[string]File{}
	var errs []error
	for i, t := range exp.Spec.Tasks {
		fr, ok := t.Params().(experiment.FileReader)
		if !ok {
			continue
		}
		for _, in := range fr.Files() {
			field := fmt.Sprintf("spec.tasks[%d].with.%s", i, in.Field)
			local, pod := experiment.ResolvePath(dir, in.Path), filepath.Clean(experiment.ResolvePath(PodDir, in.Path))
			if !in.Folder {
				b, err := os.ReadFile(local)
				if err != nil {
					errs = append(errs, fmt.Errorf("%s: %q: an in-cluster experiment carries the file into its pod, but it cannot be read: %w", field, in.Path, err))
					continue
				}
				byPath[pod] = File{Path: pod, Data: b}
				continue
			}
			err := filepath.WalkDir(local, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if ok, _ := filepath.Match(in.Pattern, d.Name()); !ok || !d.Type().IsRegular() {
					return nil
				}
				b, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				rel, err := filepath.Rel(local, p)
				if err != nil {
					return err
				}
				byPath[filepath.Join(pod, rel)] = File{Path: filepath.Join(pod, rel), Data: b}
				return nil
			})
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %q: an in-cluster experiment carries the folder's %s files into its pod, but they cannot be read: %w", field, in.Path, in.Pattern, err))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	files := make([]File, 0, len(byPath))
	size := 0
	for _, f := range byPath {
		files = append(files, f)
		size += len(f.Data)
	}
	slices.SortFunc(files, func(a, b File) int { return cmp.Compare(a.Path, b.Path) })
	if size > MaxFilesSize {
		return nil, fmt.Errorf("the files the experiment's tasks read total %d bytes: an in-cluster experiment carries them in its Secret, which holds at most %d bytes of files (with the spec and the result, at most 1 MiB)", size, MaxFilesSize)
	}
	return files, nil
}

// filesMounts returns the pod's volume of the files, in the experiment's
// Secret under fileKey(i), and the container's mounts of it.
func filesMounts(secret string, files []File) (*corev1.Volume, []corev1.VolumeMount) {
	if len(files) == 0 {
		return nil, nil
	}
	vol := &corev1.Volume{Name: filesVolume, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: secret}}}
	var mounts []corev1.VolumeMount
	underRoot := false
	for i, f := range files {
		if rel, ok := strings.CutPrefix(f.Path, filesRoot+"/"); ok {
			vol.Secret.Items = append(vol.Secret.Items, corev1.KeyToPath{Key: fileKey(i), Path: rel})
			underRoot = true
			continue
		}
		item := "root" + f.Path
		vol.Secret.Items = append(vol.Secret.Items, corev1.KeyToPath{Key: fileKey(i), Path: item})
		mounts = append(mounts, corev1.VolumeMount{Name: filesVolume, MountPath: f.Path, SubPath: item, ReadOnly: true})
	}
	if underRoot {
		mounts = append([]corev1.VolumeMount{{Name: filesVolume, MountPath: filesRoot, ReadOnly: true}}, mounts...)
	}
	return vol, mounts
}

// SecretEnv is an environment variable of the Job's container whose value
// is a key of a Secret in the experiment's namespace (--secret-env
// VAR=SECRET/KEY).
type SecretEnv struct {
	Name, Secret, Key string
}

// ParseSecretEnv parses VAR=SECRET/KEY, the value of flag.
func ParseSecretEnv(flag, s string) (SecretEnv, error) {
	name, ref, ok := strings.Cut(s, "=")
	secret, key, ok2 := strings.Cut(ref, "/")
	if !ok || !ok2 {
		return SecretEnv{}, fmt.Errorf("invalid value %q for flag %s: want VAR=SECRET/KEY, e.g. SLACK_WEBHOOK_URL=slack/url", s, flag)
	}
	e := SecretEnv{Name: name, Secret: secret, Key: key}
	var problems []string
	if !experiment.IsEnvName(name) {
		problems = append(problems, fmt.Sprintf("variable %q: letters, digits and '_', not starting with a digit", name))
	}
	for _, msg := range validation.IsDNS1123Subdomain(secret) {
		problems = append(problems, fmt.Sprintf("Secret name %q: %s", secret, msg))
	}
	for _, msg := range validation.IsConfigMapKey(key) {
		problems = append(problems, fmt.Sprintf("key %q: %s", key, msg))
	}
	if len(problems) > 0 {
		return SecretEnv{}, fmt.Errorf("invalid value %q for flag %s: %s", s, flag, strings.Join(problems, "; "))
	}
	return e, nil
}

// envInputs are the variables exp's tasks read, with the fields that name
// them (spec.tasks[i].with.FIELD).
func envInputs(exp *experiment.Experiment) []experiment.EnvInput {
	var out []experiment.EnvInput
	for i, t := range exp.Spec.Tasks {
		if er, ok := t.Params().(experiment.EnvReader); ok {
			for _, in := range er.Env() {
				out = append(out, experiment.EnvInput{Field: fmt.Sprintf("spec.tasks[%d].with.%s", i, in.Field), Name: in.Name})
			}
		}
	}
	return out
}

// checkEnvOptions checks o's environment: Secret names, no variable given
// twice, and (when no --env-from-secret may give more) every variable the
// tasks read given by --secret-env.
func checkEnvOptions(exp *experiment.Experiment, o Options) error {
	var errs []error
	for _, s := range o.EnvFromSecrets {
		for _, msg := range validation.IsDNS1123Subdomain(s) {
			errs = append(errs, fmt.Errorf("invalid value %q for flag --env-from-secret: %s", s, msg))
		}
	}
	given := map[string]bool{}
	for _, e := range o.SecretEnv {
		if given[e.Name] {
			errs = append(errs, fmt.Errorf("flag --secret-env gives %s twice", e.Name))
		}
		given[e.Name] = true
	}
	if len(o.EnvFromSecrets) == 0 {
		for _, in := range envInputs(exp) {
			if !given[in.Name] {
				errs = append(errs, fmt.Errorf("%s: %s is read from the environment, which the Job's container does not have: pass --secret-env %s=SECRET/KEY or --env-from-secret SECRET", in.Field, in.Name, in.Name))
			}
		}
	}
	return errors.Join(errs...)
}

// CheckSecrets checks, before an experiment is launched into namespace,
// that the Secrets o names exist with the keys --secret-env names, and
// that every variable exp's tasks read is given: by --secret-env or as a
// key of an --env-from-secret Secret.
func CheckSecrets(ctx context.Context, c kubernetes.Interface, namespace string, exp *experiment.Experiment, o Options) error {
	secrets := map[string]*corev1.Secret{}
	var errs []error
	get := func(flag, name string) *corev1.Secret {
		if s, ok := secrets[name]; ok {
			return s
		}
		s, err := c.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			errs = append(errs, fmt.Errorf("flag %s: Secret %s/%s not found", flag, namespace, name))
			s = nil
		case err != nil:
			errs = append(errs, fmt.Errorf("flag %s: reading Secret %s/%s: %w", flag, namespace, name, err))
			s = nil
		}
		secrets[name] = s
		return s
	}
	given := map[string]bool{}
	for _, e := range o.SecretEnv {
		given[e.Name] = true
		if s := get("--secret-env", e.Secret); s != nil {
			if _, ok := s.Data[e.Key]; !ok {
				errs = append(errs, fmt.Errorf("flag --secret-env %s=%s/%s: Secret %s/%s has no key %q (it has %s)", e.Name, e.Secret, e.Key, namespace, e.Secret, e.Key, keysOf(s)))
			}
		}
	}
	for _, name := range o.EnvFromSecrets {
		if s := get("--env-from-secret", name); s != nil {
			for k := range s.Data {
				given[k] = true
			}
		}
	}
	if len(errs) == 0 {
		for _, in := range envInputs(exp) {
			if !given[in.Name] {
				errs = append(errs, fmt.Errorf("%s: %s is read from the environment, but no --secret-env gives it and no --env-from-secret Secret (%s) has such a key", in.Field, in.Name, strings.Join(o.EnvFromSecrets, ", ")))
			}
		}
	}
	return errors.Join(errs...)
}

func keysOf(s *corev1.Secret) string {
	keys := make([]string, 0, len(s.Data))
	for k := range s.Data {
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return "no keys"
	}
	slices.Sort(keys)
	return strings.Join(keys, ", ")
}

// containerEnv is the Job container's env and envFrom.
func containerEnv(o Options) ([]corev1.EnvVar, []corev1.EnvFromSource) {
	var env []corev1.EnvVar
	for _, e := range o.SecretEnv {
		env = append(env, corev1.EnvVar{Name: e.Name, ValueFrom: &corev1.EnvVarSource{
			SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: e.Secret}, Key: e.Key},
		}})
	}
	var from []corev1.EnvFromSource
	for _, s := range o.EnvFromSecrets {
		from = append(from, corev1.EnvFromSource{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: s}}})
	}
	return env, from
}
