package grpc_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/iter8-tools/iter8/pkg/experiment"
	grpctask "github.com/iter8-tools/iter8/pkg/tasks/grpc"
)

// problem is what a test checks of a field error.
type problem struct {
	Type  field.ErrorType
	Field string
}

func problems(errs field.ErrorList) []problem {
	var out []problem
	for _, e := range errs {
		out = append(out, problem{e.Type, e.Field})
	}
	return out
}

func dur(d time.Duration) *experiment.Duration { return &experiment.Duration{Duration: d} }

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"health.proto", "health.protoset", "ca.pem"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "protos"), 0o700); err != nil {
		t.Fatal(err)
	}
	const call = "grpc.health.v1.Health/Check"
	const with = "spec.tasks[0].with"
	tests := []struct {
		name     string
		versions []string
		task     grpctask.Task
		want     []problem
	}{
		{
			name: "minimal",
			task: grpctask.Task{Host: "app:50051", Call: call},
		},
		{
			name:     "everything",
			versions: []string{"v1", "v2"},
			task: grpctask.Task{
				Call: "grpc.health.v1.Health.Check", ProtoFile: "health.proto", ImportPaths: []string{"protos", dir},
				Data:     map[string]any{"service": "a"},
				Metadata: map[string]string{"authorization": "Bearer x", "x-trace-bin": "AAE="},
				Duration: dur(time.Minute), Concurrency: 8, RPS: 100, Connections: 8, Timeout: dur(time.Second),
				TLS:         &grpctask.TLS{CAFile: "ca.pem", ServerName: "app.example.com"},
				Percentiles: []float64{75, 100},
				Versions: map[string]grpctask.Endpoint{
					"v1": {Host: "app-v1:50051"},
					"v2": {Host: "dns:///app-v2:50051", Metadata: map[string]string{"x-version": "v2"}, Data: []any{map[string]any{}}},
				},
			},
		},
		{
			name: "protoset, service without a package",
			task: grpctask.Task{Host: "app:50051", Call: "Health/Check", Protoset: filepath.Join(dir, "health.protoset"), TLS: &grpctask.TLS{SkipVerify: true}},
		},
		{
			name:     "missing host and call",
			versions: []string{"v1", "v2"},
			task:     grpctask.Task{Versions: map[string]grpctask.Endpoint{"v1": {Host: "app-v1:50051"}}},
			want: []problem{
				{field.ErrorTypeRequired, with + ".host"},
				{field.ErrorTypeRequired, with + ".call"},
			},
		},
		{
			name:     "malformed calls and hosts",
			versions: []string{"v1", "v2"},
			task: grpctask.Task{Host: "http://app:8080", Call: "Check", Versions: map[string]grpctask.Endpoint{
				"v2": {Host: "app v2:50051"},
				"v3": {Host: "app-v3:50051"},
			}},
			want: []problem{
				{field.ErrorTypeNotSupported, with + ".versions[v3]"},
				{field.ErrorTypeInvalid, with + ".host"},
				{field.ErrorTypeInvalid, with + ".versions[v2].host"},
				{field.ErrorTypeInvalid, with + ".call"},
			},
		},
		{
			name: "call with two slashes",
			task: grpctask.Task{Host: "app:50051", Call: "a/b/c"},
			want: []problem{{field.ErrorTypeInvalid, with + ".call"}},
		},
		{
			name: "missing and misplaced files",
			task: grpctask.Task{
				Host: "app:50051", Call: call, ProtoFile: "nope.proto", ImportPaths: []string{"ca.pem", "nope"}, Protoset: "protos",
				TLS: &grpctask.TLS{CAFile: "nope.pem", SkipVerify: true},
			},
			want: []problem{
				// What was written, then the files (Validate, then Load).
				{field.ErrorTypeForbidden, with + ".protoset"},
				{field.ErrorTypeForbidden, with + ".tls.skipVerify"},
				{field.ErrorTypeInvalid, with + ".protoFile"},
				{field.ErrorTypeInvalid, with + ".importPaths[0]"},
				{field.ErrorTypeInvalid, with + ".importPaths[1]"},
				{field.ErrorTypeInvalid, with + ".protoset"},
				{field.ErrorTypeInvalid, with + ".tls.caFile"},
			},
		},
		{
			name: "proto file without the .proto extension",
			task: grpctask.Task{Host: "app:50051", Call: call, ProtoFile: "ca.pem"},
			want: []problem{{field.ErrorTypeInvalid, with + ".protoFile"}},
		},
		{
			name: "import paths without a proto file",
			task: grpctask.Task{Host: "app:50051", Call: call, ImportPaths: []string{"protos"}},
			want: []problem{{field.ErrorTypeForbidden, with + ".importPaths"}},
		},
		{
			name: "total and duration",
			task: grpctask.Task{Host: "app:50051", Call: call, Total: 10, Duration: dur(time.Second)},
			want: []problem{{field.ErrorTypeForbidden, with + ".total"}},
		},
		{
			name: "out of range",
			task: grpctask.Task{
				Host: "app:50051", Call: call, Total: -1, Concurrency: -1, RPS: -1, Connections: -1,
				Timeout: dur(0), Percentiles: []float64{0, 50, 100.5},
			},
			want: []problem{
				{field.ErrorTypeInvalid, with + ".total"},
				{field.ErrorTypeInvalid, with + ".concurrency"},
				{field.ErrorTypeInvalid, with + ".rps"},
				{field.ErrorTypeInvalid, with + ".connections"},
				{field.ErrorTypeInvalid, with + ".timeout"},
				{field.ErrorTypeInvalid, with + ".percentiles[0]"},
				{field.ErrorTypeInvalid, with + ".percentiles[2]"},
			},
		},
		{
			name: "zero duration",
			task: grpctask.Task{Host: "app:50051", Call: call, Duration: dur(0)},
			want: []problem{{field.ErrorTypeInvalid, with + ".duration"}},
		},
		{
			name: "more connections than the default concurrency",
			task: grpctask.Task{Host: "app:50051", Call: call, Connections: grpctask.DefaultConcurrency + 1},
			want: []problem{{field.ErrorTypeInvalid, with + ".connections"}},
		},
		{
			name:     "bad metadata and data",
			versions: []string{"v1"},
			task: grpctask.Task{
				Host: "app:50051", Call: call,
				Metadata: map[string]string{"bad key": "x", "grpc-timeout": "1S", "x-bin": "not base64!"},
				Data:     "hello",
				Versions: map[string]grpctask.Endpoint{"v1": {
					Metadata: map[string]string{"x:y": "z"},
					Data:     []any{map[string]any{}, 1},
				}},
			},
			want: []problem{
				{field.ErrorTypeInvalid, with + ".metadata[bad key]"},
				{field.ErrorTypeInvalid, with + ".metadata[grpc-timeout]"},
				{field.ErrorTypeInvalid, with + ".metadata[x-bin]"},
				{field.ErrorTypeInvalid, with + ".data"},
				{field.ErrorTypeInvalid, with + ".versions[v1].metadata[x:y]"},
				{field.ErrorTypeInvalid, with + ".versions[v1].data[1]"},
			},
		},
		{
			name: "empty list of messages",
			task: grpctask.Task{Host: "app:50051", Call: call, Data: []any{}},
			want: []problem{{field.ErrorTypeInvalid, with + ".data"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			versions := tc.versions
			if versions == nil {
				versions = []string{experiment.DefaultVersion}
			}
			vc := &experiment.ValidationContext{Versions: versions, Dir: dir}
			got := experiment.Prepare(&tc.task, vc, field.NewPath("spec", "tasks").Index(0).Child("with"))
			if diff := cmp.Diff(tc.want, problems(got)); diff != "" {
				t.Errorf("problems (-want +got):\n%s\nerrors: %v", diff, got)
			}
		})
	}
}

func TestValidateDefaults(t *testing.T) {
	tests := []struct {
		name string
		task grpctask.Task
		want grpctask.Task
	}{
		{
			name: "total",
			task: grpctask.Task{Host: "app:50051", Call: "grpc.health.v1.Health/Check"},
			want: grpctask.Task{
				Host: "app:50051", Call: "grpc.health.v1.Health/Check",
				Total: grpctask.DefaultTotal, Concurrency: grpctask.DefaultConcurrency,
				Connections: grpctask.DefaultConnections, Timeout: dur(grpctask.DefaultTimeout),
			},
		},
		{
			name: "duration",
			task: grpctask.Task{Host: "app:50051", Call: "grpc.health.v1.Health/Check", Duration: dur(time.Minute), Concurrency: 10},
			want: grpctask.Task{
				Host: "app:50051", Call: "grpc.health.v1.Health/Check",
				Duration: dur(time.Minute), Concurrency: 10,
				Connections: grpctask.DefaultConnections, Timeout: dur(grpctask.DefaultTimeout),
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vc := &experiment.ValidationContext{Versions: []string{experiment.DefaultVersion}}
			if errs := experiment.Prepare(&tc.task, vc, field.NewPath("with")); len(errs) > 0 {
				t.Fatal(errs)
			}
			if diff := cmp.Diff(tc.want, tc.task, cmpopts.IgnoreUnexported(grpctask.Task{})); diff != "" {
				t.Errorf("task after Prepare (-want +got):\n%s", diff)
			}
		})
	}
}

// TestParse checks the parameters' names and types in experiment.yaml, and
// that problems come back with their lines.
func TestParse(t *testing.T) {
	const head = `apiVersion: iter8.tools/v1alpha1
kind: Experiment
metadata:
  name: grpc
spec:
  versions:
  - name: v1
  - name: v2
  tasks:
  - task: grpc
    with:
      call: grpc.health.v1.Health/Check
      versions:
        v1: {host: "app-v1:50051"}
`
	type lineProblem struct {
		Line  int
		Type  field.ErrorType
		Field string
	}
	tests := []struct {
		name string
		with string
		want []lineProblem
	}{
		{
			// Decoding errors stop validation: the missing host is
			// reported once they are fixed.
			name: "wrong types",
			with: "      tls: {skipVerify: yes}\n      rps: fast\n",
			want: []lineProblem{
				{15, field.ErrorTypeInvalid, "spec.tasks[0].with.tls.skipVerify"},
				{16, field.ErrorTypeInvalid, "spec.tasks[0].with.rps"},
			},
		},
		{
			name: "unknown version, missing host",
			with: "        v3: {host: \"app-v3:50051\"}\n      total: 10\n",
			want: []lineProblem{
				{12, field.ErrorTypeRequired, "spec.tasks[0].with.host"},
				{15, field.ErrorTypeNotSupported, "spec.tasks[0].with.versions[v3]"},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := experiment.Parse("experiment.yaml", t.TempDir(), []byte(head+tc.with), registry())
			pe, ok := err.(*experiment.ParseError)
			if !ok {
				t.Fatalf("Parse error = %v, want a *experiment.ParseError", err)
			}
			var got []lineProblem
			for _, p := range pe.Problems {
				got = append(got, lineProblem{p.Line, p.Err.Type, p.Err.Field})
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s\n%v", diff, err)
			}
		})
	}
}

func TestMetrics(t *testing.T) {
	task := &grpctask.Task{Percentiles: []float64{75, 99}}
	var got []string
	for _, m := range task.Metrics() {
		got = append(got, m.Name)
	}
	want := []string{
		"grpc/request-count", "grpc/error-count", "grpc/error-rate", "grpc/throughput",
		"grpc/latency-mean", "grpc/latency-stddev", "grpc/latency-min", "grpc/latency-max",
		"grpc/latency-p50", "grpc/latency-p90", "grpc/latency-p95", "grpc/latency-p99", "grpc/latency-p99.9", "grpc/latency-p75",
		"grpc/latency",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("metric names (-want +got):\n%s", diff)
	}
}
