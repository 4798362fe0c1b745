package experiment

import (
	"fmt"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// Env is what a task's if: condition can refer to. For example
// `if: not slos` runs a task only when an SLO is not satisfied, and
// `if: metrics["v2"]["http/error-rate"] > 0.01` looks at a metric.
type Env struct {
	// Failed is true when an earlier task failed.
	Failed bool `expr:"failed"`
	// SLOs is true when every version satisfies every SLO assessed so far
	// (and when none was assessed).
	SLOs bool `expr:"slos"`
	// SLOsByVersion maps each version to whether it satisfies every SLO.
	SLOsByVersion map[string]bool `expr:"slosByVersion"`
	// Metrics maps version, then metric name, to the value recorded so far.
	Metrics map[string]map[string]float64 `expr:"metrics"`
	// Versions are the names of the versions under test.
	Versions []string `expr:"versions"`
	// Iteration is the number of the current run, from 1.
	Iteration int `expr:"iteration"`
}

// compileCondition compiles an if: expression; it must yield a boolean.
func compileCondition(s string) (*vm.Program, error) {
	p, err := expr.Compile(s, expr.Env(Env{}), expr.AsBool())
	if err != nil {
		// expr's message ends with the expression and a caret on more lines.
		msg, _, _ := strings.Cut(err.Error(), "\n")
		return nil, fmt.Errorf("invalid condition: %s", msg)
	}
	return p, nil
}

// envOf builds the condition environment from the result so far.
func envOf(r *Result) Env {
	env := Env{
		SLOs:          true,
		SLOsByVersion: map[string]bool{},
		Metrics:       map[string]map[string]float64{},
		Versions:      r.VersionNames(),
		Iteration:     r.Iterations + 1,
	}
	for _, t := range r.Tasks {
		if t.State == TaskFailed {
			env.Failed = true
		}
	}
	for i, v := range r.Versions {
		env.Metrics[v.Name] = map[string]float64{}
		for k, x := range v.Metrics {
			env.Metrics[v.Name][k] = x
		}
		ok := r.SLOs == nil || r.SLOs.SatisfiesAll(i)
		env.SLOsByVersion[v.Name] = ok
		env.SLOs = env.SLOs && ok
	}
	return env
}

func evalCondition(p *vm.Program, r *Result) (bool, error) {
	out, err := expr.Run(p, envOf(r))
	if err != nil {
		return false, fmt.Errorf("evaluating condition: %w", err)
	}
	return out.(bool), nil
}
