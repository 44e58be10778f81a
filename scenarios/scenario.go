// Package scenarios runs narrated, checkable stories against a running emulator through its
// public APIs only (Entra ID, ARM, the registry): each step says what it does and what it
// expects, then shows what it observed. scenarios/catalog holds the named ones.
package scenarios

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
)

// Step is one narrated action with its expectation.
type Step struct {
	Do     string // what the step does
	Expect string // the outcome it expects, in words
	// Run performs the step and describes what it observed; a non-nil error is a mismatch
	// (the expectation was not met, or the step could not run).
	Run func(ctx context.Context, s *Session) (observed string, err error)
}

// Scenario is a named story.
type Scenario struct {
	Name    string
	Summary string
	// Steps builds the steps; they share state through closures.
	Steps func() []Step
	// Cleanup, when set, runs after the steps whether they passed or not, so a failed scenario
	// does not leave the emulator in a state that fails the next one. It must be idempotent.
	Cleanup func(ctx context.Context, s *Session) error
	// Profile, when set, is the behaviour profile the scenario needs (the world's profile:
	// seed or current); against another one it is skipped, saying why.
	Profile string
}

// Result of a run.
type Result struct {
	Scenario string
	Passed   bool
	Steps    int
	Failed   int // 1-based index of the first failed step, 0 when none
	Skipped  bool
}

// Run narrates sc step by step to out and stops at the first mismatch: later steps build on
// earlier ones, so running them would only add noise.
func Run(ctx context.Context, s *Session, sc Scenario, out io.Writer) Result {
	fmt.Fprintf(out, "Scenario %s: %s\n", sc.Name, sc.Summary)
	if sc.Profile != "" {
		profile, err := s.Profile(ctx)
		if err != nil {
			fmt.Fprintf(out, "FAIL %s: reading the emulator's profile: %s\n\n", sc.Name, oneLine(err.Error()))
			return Result{Scenario: sc.Name}
		}
		if profile != sc.Profile {
			fmt.Fprintf(out, "SKIP %s: needs the %q behaviour profile; this emulator runs %q (start it with a world file holding `profile: %s`)\n\n",
				sc.Name, sc.Profile, profile, sc.Profile)
			return Result{Scenario: sc.Name, Skipped: true}
		}
	}
	steps := sc.Steps()
	res := Result{Scenario: sc.Name, Steps: len(steps), Passed: true}
	for i, st := range steps {
		fmt.Fprintf(out, "  %d. %s\n     expected: %s\n", i+1, st.Do, st.Expect)
		stepCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		observed, err := st.Run(stepCtx, s)
		cancel()
		if err != nil {
			if observed != "" {
				fmt.Fprintf(out, "     observed: %s\n", oneLine(observed))
			}
			fmt.Fprintf(out, "     MISMATCH: %s\n", oneLine(err.Error()))
			res.Passed, res.Failed = false, i+1
			break
		}
		fmt.Fprintf(out, "     observed: %s  ok\n", oneLine(observed))
	}
	if sc.Cleanup != nil {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		err := sc.Cleanup(cctx, s)
		cancel()
		if err != nil {
			fmt.Fprintf(out, "  cleanup failed: %s\n", oneLine(err.Error()))
			if res.Passed {
				res.Passed, res.Failed = false, len(steps)
			}
		}
	}
	if res.Passed {
		fmt.Fprintf(out, "PASS %s (%d steps)\n\n", sc.Name, res.Steps)
	} else {
		fmt.Fprintf(out, "FAIL %s (step %d of %d)\n\n", sc.Name, res.Failed, res.Steps)
	}
	return res
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 400 {
		s = s[:400] + "..."
	}
	return s
}
