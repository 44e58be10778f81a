package scenarios

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestRunStopsAtTheFirstMismatch(t *testing.T) {
	ran := 0
	step := func(obs string, err error) Step {
		return Step{Do: "do", Expect: "expect", Run: func(context.Context, *Session) (string, error) { ran++; return obs, err }}
	}
	sc := Scenario{Name: "demo", Summary: "a demo", Steps: func() []Step {
		return []Step{step("fine", nil), step("403 DENIED", errors.New("wanted 200")), step("never", nil)}
	}}
	var out strings.Builder
	res := Run(context.Background(), nil, sc, &out)
	if res.Passed || res.Failed != 2 || res.Steps != 3 || ran != 2 {
		t.Fatalf("result %+v after %d steps", res, ran)
	}
	for _, want := range []string{"Scenario demo: a demo", "  1. do", "observed: fine  ok", "observed: 403 DENIED", "MISMATCH: wanted 200", "FAIL demo (step 2 of 3)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	ok := Scenario{Name: "ok", Steps: func() []Step { return []Step{step("fine", nil)} }}
	if res := Run(context.Background(), nil, ok, &out); !res.Passed || !strings.Contains(out.String(), "PASS ok (1 steps)") {
		t.Fatalf("passing scenario: %+v\n%s", res, out.String())
	}
}
