package experiment

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"k8s.io/cli-runtime/pkg/genericclioptions"
)

// Options configure Execute.
type Options struct {
	// Progress receives progress lines; default: discarded.
	Progress io.Writer
	// Terminal is true when Progress is a terminal (tasks may draw bars).
	Terminal bool
	// Save is called with the result when the run starts, after every task
	// and at the end, so that a reader sees progress. A Save error ends
	// the run.
	Save func(context.Context, *Result) error
	// Previous is the result of earlier runs of a periodic experiment: the
	// new run counts on from its iterations. Default: a first run.
	Previous *Result
	// Now returns the current time; default time.Now (tests fix it).
	Now func() time.Time
	// Cluster and Namespace are passed to the tasks (see Run).
	Cluster   genericclioptions.RESTClientGetter
	Namespace string
}

// ErrInterrupted marks a run stopped by its context (Ctrl-C, a timeout).
var ErrInterrupted = errors.New("interrupted")

// Execute runs the experiment's tasks in order and returns the result, which
// is complete even when a task fails or ctx is cancelled (then it is marked
// failed). A task with an if: condition runs only when it holds; after a task
// fails, tasks without a condition are skipped. The error is non-nil only
// when the result could not be saved.
func Execute(ctx context.Context, exp *Experiment, opts Options) (*Result, error) {
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Save == nil {
		opts.Save = func(context.Context, *Result) error { return nil }
	}
	res := NewResult(exp)
	if p := opts.Previous; p != nil {
		res.Iterations = p.Iterations
		res.History = p.History
		if p.EndTime != nil {
			if res.History == nil {
				res.History = &History{}
			}
			res.History.Add(p.summary(), p.histograms())
		}
	}
	res.StartTime = opts.Now()
	// Saving must work after an interrupt, to store the partial result.
	saveCtx := context.WithoutCancel(ctx)
	if err := opts.Save(saveCtx, res); err != nil {
		return res, fmt.Errorf("saving result: %w", err)
	}

	for i := range exp.Spec.Tasks {
		t := &exp.Spec.Tasks[i]
		st := &res.Tasks[i]
		if err := ctx.Err(); err != nil {
			st.State, st.Error = TaskSkipped, "the experiment was interrupted"
			continue
		}
		if t.cond != nil {
			ok, err := evalCondition(t.cond, res)
			if err != nil {
				st.State, st.Error = TaskFailed, err.Error()
				res.Failed = true
				continue
			}
			if !ok {
				st.State, st.Error = TaskSkipped, fmt.Sprintf("condition %q is false", t.If)
				continue
			}
		} else if res.Failed {
			st.State, st.Error = TaskSkipped, "an earlier task failed"
			continue
		}

		start := opts.Now()
		st.State, st.StartTime = TaskRunning, &start
		if err := opts.Save(saveCtx, res); err != nil {
			return res, fmt.Errorf("saving result: %w", err)
		}
		fmt.Fprintf(opts.Progress, "task %d/%d %s: started\n", i+1, len(exp.Spec.Tasks), t.Task)
		err := t.params.Run(ctx, &Run{
			Experiment: exp, Result: res, Progress: opts.Progress, Terminal: opts.Terminal, TaskIndex: i,
			Cluster: opts.Cluster, Namespace: opts.Namespace,
		})
		end := opts.Now()
		st.EndTime = &end
		switch {
		case ctx.Err() != nil:
			st.State, st.Error = TaskFailed, ErrInterrupted.Error()
			res.Failed, res.Error = true, "the experiment was interrupted"
		case err != nil:
			st.State, st.Error = TaskFailed, err.Error()
			res.Failed = true
			if res.Error == "" {
				res.Error = fmt.Sprintf("task %d (%s) failed: %v", i+1, t.Task, err)
			}
		default:
			st.State = TaskSucceeded
		}
		fmt.Fprintf(opts.Progress, "task %d/%d %s: %s%s\n", i+1, len(exp.Spec.Tasks), t.Task, st.State, suffix(st.Error))
		if err := opts.Save(saveCtx, res); err != nil {
			return res, fmt.Errorf("saving result: %w", err)
		}
	}

	end := opts.Now()
	res.EndTime = &end
	res.Iterations++
	res.Completed = ctx.Err() == nil
	if err := opts.Save(saveCtx, res); err != nil {
		return res, fmt.Errorf("saving result: %w", err)
	}
	return res, nil
}

func suffix(msg string) string {
	if msg == "" {
		return ""
	}
	return ": " + msg
}
