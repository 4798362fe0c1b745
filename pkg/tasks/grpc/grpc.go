// Package grpc is the grpc task: gRPC load against each version with ghz
// (github.com/bojand/ghz/runner) used as a library, recording iter8's metric
// family under grpc/. Unary and client, server and bidirectional streaming
// calls are supported; the method's descriptor comes from server reflection,
// a .proto file or a protoset.
package grpc

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/iter8-tools/iter8/internal/load"
	"github.com/iter8-tools/iter8/pkg/experiment"
)

// Name is the task's name in experiment.yaml.
const Name = "grpc"

// Defaults of the task's parameters.
const (
	// DefaultTotal is the number of calls per version when neither total
	// nor duration is set.
	DefaultTotal = 100
	// DefaultConcurrency is the number of calls in flight at once.
	DefaultConcurrency = 4
	// DefaultConnections is the number of gRPC connections per version.
	DefaultConnections = 1
	// DefaultTimeout bounds each call (ghz's default).
	DefaultTimeout = 20 * time.Second
)

// Task is the grpc task's parameters.
//
//	tasks:
//	- task: grpc
//	  with:
//	    call: grpc.health.v1.Health/Check
//	    rps: 100
//	    duration: 30s
//	    versions:
//	      v1: {host: app-v1.default:50051}
//	      v2: {host: app-v2.default:50051}
type Task struct {
	// Host is the address (host:port) of every version without its own.
	Host string `json:"host,omitempty"`
	// Call is the fully-qualified method, package.Service/Method (or
	// package.Service.Method), e.g. grpc.health.v1.Health/Check.
	Call string `json:"call"`
	// ProtoFile is a .proto file that defines the call's service, relative
	// to the experiment file. Default: the server's reflection service.
	ProtoFile string `json:"protoFile,omitempty"`
	// ImportPaths are folders where ProtoFile's imports are looked up,
	// relative to the experiment file. ghz searches ProtoFile's own folder
	// first, then the working directory, then these.
	ImportPaths []string `json:"importPaths,omitempty"`
	// Protoset is a compiled set of descriptors (protoc
	// --descriptor_set_out --include_imports) that defines the call's
	// service, relative to the experiment file. Exclusive with ProtoFile.
	Protoset string `json:"protoset,omitempty"`
	// Data is the request message as JSON-able values (protobuf's JSON
	// mapping), or a list of messages: a client-streaming call sends them
	// all, other calls take them in turn. It is sent as is (ghz's call
	// templates are not applied). Default: the empty message.
	Data any `json:"data,omitempty"`
	// Metadata is sent with every call (and with reflection requests).
	// Values of keys ending in -bin are base64.
	Metadata map[string]string `json:"metadata,omitempty"`
	// Total is the number of calls to make to each version; default 100
	// when Duration is not set. Exclusive with Duration.
	Total int `json:"total,omitempty"`
	// Duration is how long to call each version. Exclusive with Total.
	Duration *experiment.Duration `json:"duration,omitempty"`
	// Concurrency is the number of calls in flight at once; default 4.
	Concurrency int `json:"concurrency,omitempty"`
	// RPS is the target rate in calls per second across all workers; 0
	// calls as fast as possible.
	RPS int `json:"rps,omitempty"`
	// Connections is the number of gRPC connections the calls share; at
	// most Concurrency; default 1.
	Connections int `json:"connections,omitempty"`
	// Timeout bounds each call; default 20s.
	Timeout *experiment.Duration `json:"timeout,omitempty"`
	// TLS turns on TLS; without it the connections are plaintext.
	TLS *TLS `json:"tls,omitempty"`
	// Percentiles are latency percentiles to record beyond 50, 90, 95, 99
	// and 99.9.
	Percentiles []float64 `json:"percentiles,omitempty"`
	// Versions overrides the endpoint, metadata and data per version.
	Versions map[string]Endpoint `json:"versions,omitempty"`

	// Paths resolved against the experiment file's folder.
	protoFile   string
	importPaths []string
	protoset    string
	caFile      string
}

// TLS configures TLS connections.
type TLS struct {
	// CAFile is a PEM file of the certificate authorities that sign the
	// servers' certificates, relative to the experiment file. Default: the
	// system's.
	CAFile string `json:"caFile,omitempty"`
	// SkipVerify accepts any server certificate. Exclusive with CAFile.
	SkipVerify bool `json:"skipVerify,omitempty"`
	// ServerName is the name the server certificate must carry; default:
	// the host's name.
	ServerName string `json:"serverName,omitempty"`
}

// Endpoint is how one version is called.
type Endpoint struct {
	// Host of the version; overrides the task's host.
	Host string `json:"host,omitempty"`
	// Metadata is added to (and overrides) the task's metadata.
	Metadata map[string]string `json:"metadata,omitempty"`
	// Data replaces the task's data.
	Data any `json:"data,omitempty"`
}

// New returns the zero parameters of the task.
func New() experiment.Task { return &Task{} }

var (
	// callPattern is package.Service/Method or package.Service.Method; the
	// package may be empty.
	callPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*[./][A-Za-z_][A-Za-z0-9_]*$`)
	// metadataKeyPattern is what gRPC accepts as a metadata key (it
	// lowercases them).
	metadataKeyPattern = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
)

// Files are the proto file with the .proto files of its folder and of the
// import paths (where its imports are looked up), the protoset and the CA
// file the task reads.
func (t *Task) Files() []experiment.FileInput {
	var in []experiment.FileInput
	if t.ProtoFile != "" {
		in = append(in, experiment.FileInput{Field: "protoFile", Path: t.ProtoFile},
			experiment.FileInput{Field: "protoFile", Path: filepath.Dir(t.ProtoFile), Folder: true, Pattern: "*.proto"})
	}
	for i, d := range t.ImportPaths {
		in = append(in, experiment.FileInput{Field: fmt.Sprintf("importPaths[%d]", i), Path: d, Folder: true, Pattern: "*.proto"})
	}
	if t.Protoset != "" {
		in = append(in, experiment.FileInput{Field: "protoset", Path: t.Protoset})
	}
	if t.TLS != nil && t.TLS.CAFile != "" {
		in = append(in, experiment.FileInput{Field: "tls.caFile", Path: t.TLS.CAFile})
	}
	return in
}

// Default fills in what the parameters leave out (experiment.Defaulter).
func (t *Task) Default() {
	if t.Duration == nil && t.Total == 0 {
		t.Total = DefaultTotal
	}
	t.Concurrency = cmp.Or(t.Concurrency, DefaultConcurrency)
	t.Connections = cmp.Or(t.Connections, DefaultConnections)
	if t.Timeout == nil {
		t.Timeout = &experiment.Duration{Duration: DefaultTimeout}
	}
}

// Load resolves the proto, protoset, import and CA paths against the
// experiment file's folder and checks that they can be read
// (experiment.Loader).
func (t *Task) Load(vc *experiment.ValidationContext, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	resolve := func(p string) string { return experiment.ResolvePath(vc.Dir, p) }
	t.protoFile, t.protoset = resolve(t.ProtoFile), resolve(t.Protoset)
	if t.ProtoFile != "" && filepath.Ext(t.ProtoFile) == ".proto" {
		errs = append(errs, checkFile(path.Child("protoFile"), t.ProtoFile, t.protoFile, false)...)
	}
	t.importPaths = nil
	for i, d := range t.ImportPaths {
		t.importPaths = append(t.importPaths, resolve(d))
		errs = append(errs, checkFile(path.Child("importPaths").Index(i), d, t.importPaths[i], true)...)
	}
	if t.Protoset != "" {
		errs = append(errs, checkFile(path.Child("protoset"), t.Protoset, t.protoset, false)...)
	}
	t.caFile = ""
	if t.TLS != nil && t.TLS.CAFile != "" {
		t.caFile = resolve(t.TLS.CAFile)
		errs = append(errs, checkFile(path.Child("tls", "caFile"), t.TLS.CAFile, t.caFile, false)...)
	}
	return errs
}

// Validate checks the parameters as written.
func (t *Task) Validate(vc *experiment.ValidationContext, path *field.Path) field.ErrorList {
	var errs field.ErrorList

	errs = append(errs, t.validateEndpoints(vc.Versions, path)...)

	switch {
	case t.Call == "":
		errs = append(errs, field.Required(path.Child("call"), "the fully-qualified method, e.g. grpc.health.v1.Health/Check"))
	case !callPattern.MatchString(t.Call):
		errs = append(errs, field.Invalid(path.Child("call"), t.Call, "must be package.Service/Method, e.g. grpc.health.v1.Health/Check"))
	}

	if t.ProtoFile != "" && t.Protoset != "" {
		errs = append(errs, field.Forbidden(path.Child("protoset"), "set protoFile or protoset, not both"))
	}
	if t.ProtoFile != "" && filepath.Ext(t.ProtoFile) != ".proto" {
		errs = append(errs, field.Invalid(path.Child("protoFile"), t.ProtoFile, "must be a .proto file"))
	}
	if len(t.ImportPaths) > 0 && t.ProtoFile == "" {
		errs = append(errs, field.Forbidden(path.Child("importPaths"), "importPaths need protoFile"))
	}

	if t.Duration != nil && t.Total != 0 {
		errs = append(errs, field.Forbidden(path.Child("total"), "set total or duration, not both"))
	}
	if t.Duration != nil && t.Duration.Duration == 0 {
		errs = append(errs, field.Invalid(path.Child("duration"), t.Duration.String(), "must be more than 0"))
	}
	if t.Total < 0 {
		errs = append(errs, field.Invalid(path.Child("total"), t.Total, "must be 1 or more"))
	}
	if t.Concurrency < 0 {
		errs = append(errs, field.Invalid(path.Child("concurrency"), t.Concurrency, "must be 1 or more"))
	}
	if t.RPS < 0 {
		errs = append(errs, field.Invalid(path.Child("rps"), t.RPS, "must be 0 (as fast as possible) or more"))
	}
	concurrency := cmp.Or(t.Concurrency, DefaultConcurrency) // as Default fills it in
	switch {
	case t.Connections < 0:
		errs = append(errs, field.Invalid(path.Child("connections"), t.Connections, "must be 1 or more"))
	case t.Connections > concurrency && concurrency > 0:
		errs = append(errs, field.Invalid(path.Child("connections"), t.Connections, fmt.Sprintf("must be at most concurrency (%d)", concurrency)))
	}
	if t.Timeout != nil && t.Timeout.Duration == 0 {
		errs = append(errs, field.Invalid(path.Child("timeout"), t.Timeout.String(), "must be more than 0"))
	}

	if t.TLS != nil && t.TLS.CAFile != "" {
		if t.TLS.SkipVerify {
			errs = append(errs, field.Forbidden(path.Child("tls", "skipVerify"), "set caFile or skipVerify, not both"))
		}
	}

	for i, p := range t.Percentiles {
		if p <= 0 || p > 100 {
			errs = append(errs, field.Invalid(path.Child("percentiles").Index(i), p, "must be above 0 and at most 100"))
		}
	}
	return errs
}

// validateEndpoints checks the versions' overrides, and that every version
// has a host.
func (t *Task) validateEndpoints(versions []string, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, validateMetadata(path.Child("metadata"), t.Metadata)...)
	errs = append(errs, validateData(path.Child("data"), t.Data)...)
	for _, name := range slices.Sorted(maps.Keys(t.Versions)) {
		p := path.Child("versions").Key(name)
		if !slices.Contains(versions, name) {
			errs = append(errs, field.NotSupported(p, name, versions))
			continue
		}
		o := t.Versions[name]
		errs = append(errs, validateMetadata(p.Child("metadata"), o.Metadata)...)
		errs = append(errs, validateData(p.Child("data"), o.Data)...)
	}
	for _, v := range versions {
		ep := t.endpoint(v)
		p := path.Child("host")
		if t.Versions[v].Host != "" {
			p = path.Child("versions").Key(v).Child("host")
		}
		switch {
		case ep.Host == "":
			errs = append(errs, field.Required(p, fmt.Sprintf("version %s needs a host: set host, or versions.%s.host", v, v)))
		case strings.HasPrefix(ep.Host, "http://") || strings.HasPrefix(ep.Host, "https://"):
			errs = append(errs, field.Invalid(p, ep.Host, "must be host:port (e.g. app.default:50051), not a URL; set tls for TLS"))
		case strings.ContainsAny(ep.Host, " \t\r\n"):
			errs = append(errs, field.Invalid(p, ep.Host, "must be host:port (e.g. app.default:50051)"))
		}
	}
	return errs
}

func validateMetadata(path *field.Path, md map[string]string) field.ErrorList {
	var errs field.ErrorList
	for _, k := range slices.Sorted(maps.Keys(md)) {
		p := path.Key(k)
		switch {
		case !metadataKeyPattern.MatchString(k):
			errs = append(errs, field.Invalid(p, k, "must be a metadata key: letters, digits, '-', '_' and '.'"))
		case strings.HasPrefix(strings.ToLower(k), "grpc-"):
			errs = append(errs, field.Invalid(p, k, "keys starting with grpc- are reserved for gRPC"))
		case strings.HasSuffix(strings.ToLower(k), "-bin"):
			if _, err := base64.StdEncoding.DecodeString(md[k]); err != nil {
				errs = append(errs, field.Invalid(p, md[k], "the value of a -bin key must be base64"))
			}
		}
	}
	return errs
}

func validateData(path *field.Path, data any) field.ErrorList {
	if data == nil {
		return nil
	}
	const allowed = "must be a map (the message in protobuf's JSON mapping) or a non-empty list of maps (one message each)"
	switch d := data.(type) {
	case map[string]any:
	case []any:
		if len(d) == 0 {
			return field.ErrorList{field.Invalid(path, "an empty list", allowed)}
		}
		for i, m := range d {
			if _, ok := m.(map[string]any); !ok {
				return field.ErrorList{field.Invalid(path.Index(i), m, "must be a map (one message)")}
			}
		}
	default:
		return field.ErrorList{field.Invalid(path, data, allowed)}
	}
	if _, err := json.Marshal(data); err != nil {
		return field.ErrorList{field.Invalid(path, "a map", fmt.Sprintf("must be JSON-able: %v", err))}
	}
	return nil
}

// checkFile checks that path (resolved from the value as written) is an
// existing file, or folder when dir is set.
func checkFile(p *field.Path, written, path string, dir bool) field.ErrorList {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return field.ErrorList{field.Invalid(p, written, fmt.Sprintf("%s does not exist (a relative path is relative to the experiment file)", path))}
	case err != nil:
		return field.ErrorList{field.Invalid(p, written, fmt.Sprintf("cannot read it: %v", err))}
	case dir && !fi.IsDir():
		return field.ErrorList{field.Invalid(p, written, "must be a folder")}
	case !dir && fi.IsDir():
		return field.ErrorList{field.Invalid(p, written, "must be a file, not a folder")}
	}
	return nil
}

// endpoint returns a version's host, metadata and data, with its overrides
// applied.
func (t *Task) endpoint(version string) Endpoint {
	ep := Endpoint{Host: t.Host, Metadata: map[string]string{}, Data: t.Data}
	for k, v := range t.Metadata {
		ep.Metadata[k] = v
	}
	if o, ok := t.Versions[version]; ok {
		if o.Host != "" {
			ep.Host = o.Host
		}
		for k, v := range o.Metadata {
			ep.Metadata[k] = v
		}
		if o.Data != nil {
			ep.Data = o.Data
		}
	}
	return ep
}

// Metrics returns the grpc/ metric family; with a target rate, also the
// late and dropped calls and the latency from the intended start.
func (t *Task) Metrics() []experiment.MetricInfo {
	return load.MetricInfos(Name, t.Percentiles, t.RPS > 0)
}
