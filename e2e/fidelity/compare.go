package fidelity

import (
	"fmt"
	"sort"
	"strings"
)

// Gap is one way an answer differs from the recorded one.
type Gap struct {
	Kind string // status, code, missing, extra, type, unanswered
	Path string // the key path (empty for status, code and unanswered)
	Want string
	Got  string
}

func (g Gap) String() string {
	path := g.Path
	if path == "" {
		path = "(body)"
	}
	switch g.Kind {
	case "status", "code":
		return fmt.Sprintf("%s %s want %s", g.Kind, g.Got, g.Want)
	case "type":
		return fmt.Sprintf("type %s %s want %s", path, g.Got, g.Want)
	case "unanswered":
		return "unanswered " + g.Got
	}
	return g.Kind + " " + path
}

// Variance is every type Azure writes at a key path, for a family, method and api-version,
// across all the recorded interactions: what Azure itself varies (a field only some SKUs or
// states have, a null where other answers have an object).
type Variance map[string]map[string]map[string]bool // variance key → path → type

func varianceKey(in Interaction) string {
	return in.Family + " " + in.APIVersion + " " + fmt.Sprint(in.Status/100)
}

// NewVariance collects the variance of the data.
func NewVariance(d Data) Variance {
	v := Variance{}
	for _, r := range d.Recordings {
		for _, in := range r.Interactions {
			k := varianceKey(in)
			if v[k] == nil {
				v[k] = map[string]map[string]bool{}
			}
			for p, t := range in.Shape {
				if v[k][p] == nil {
					v[k][p] = map[string]bool{}
				}
				v[k][p][t] = true
			}
		}
	}
	return v
}

// Compare checks an answer's status, error code and shape against a recorded interaction.
// The rules (README, "Fidelity against Azure's recordings"):
//   - the status must be the recorded one, and a failure's error code the recorded code (for a
//     setup request of another provider, only this);
//   - every key path Azure wrote must be there, with the type Azure wrote there, or another
//     type Azure writes at that path in this family's answers (variance);
//   - a key path Azure did not write in this answer is allowed when Azure writes it in another
//     answer of the same family, api-version and status class (it varies by SKU, state, what
//     the resource holds), or when it is inside a list or map Azure answered empty; it is an
//     extra otherwise.
//
// A null is a type like any other: Azure's object where the answer has null is a gap.
func Compare(want Interaction, status int, code string, got Shape, v Variance) []Gap {
	var gaps []Gap
	if status != want.Status {
		gaps = append(gaps, Gap{Kind: "status", Want: fmt.Sprint(want.Status), Got: fmt.Sprint(status)})
	}
	if want.ErrorCode != "" && code != want.ErrorCode {
		gaps = append(gaps, Gap{Kind: "code", Want: want.ErrorCode, Got: code})
	}
	if status/100 != want.Status/100 || want.Setup {
		return gaps // a different outcome, or another provider's setup: the shape is not compared
	}
	allowed := v[varianceKey(want)]
	for _, p := range want.Shape.Paths() {
		t := want.Shape[p]
		g, ok := got[p]
		switch {
		case !ok:
			gaps = append(gaps, Gap{Kind: "missing", Path: p})
		case g != t && !allowed[p][g]:
			gaps = append(gaps, Gap{Kind: "type", Path: p, Want: t, Got: g})
		}
	}
	for _, p := range got.Paths() {
		if _, ok := want.Shape[p]; ok {
			continue
		}
		if len(allowed[p]) > 0 && (allowed[p][got[p]] || got[p] == TypeNull) {
			continue
		}
		if underEmpty(p, want.Shape) {
			continue // elements of an array Azure answered empty: the state differs, not the shape
		}
		gaps = append(gaps, Gap{Kind: "extra", Path: p})
	}
	return collapse(gaps)
}

// ancestors are a key path's proper prefixes that are key paths themselves, nearest first:
// "a.b[].c" has "a.b[]", "a.b" and "a".
func ancestors(p string) []string {
	var out []string
	for i := len(p) - 1; i > 0; i-- {
		switch {
		case p[i] == '.':
			out = append(out, p[:i])
		case p[i] == ']' && p[i-1] == '[' && i < len(p)-1:
			out = append(out, p[:i+1])
		case p[i] == '[' && i+1 < len(p) && p[i+1] == ']':
			out = append(out, p[:i])
		}
	}
	return out
}

// underEmpty reports whether a path is inside an array or map that the other shape has but
// holds empty: a list's items are compared only when both sides have some.
func underEmpty(p string, other Shape) bool {
	for _, a := range append([]string{p}, ancestors(p)...) {
		var parent string
		switch {
		case strings.HasSuffix(a, "[]"):
			parent = strings.TrimSuffix(a, "[]")
		case strings.HasSuffix(a, ".{}"):
			parent = strings.TrimSuffix(a, ".{}")
		default:
			continue
		}
		if t, ok := other[parent]; ok && (t == TypeArray || t == TypeObject) {
			if _, has := other[a]; !has {
				return true
			}
		}
	}
	return false
}

// collapse reports a missing or extra subtree once, at its root.
func collapse(gaps []Gap) []Gap {
	roots := map[string]bool{}
	for _, g := range gaps {
		if g.Kind == "missing" || g.Kind == "extra" {
			roots[g.Kind+" "+g.Path] = true
		}
	}
	var out []Gap
outer:
	for _, g := range gaps {
		if g.Kind == "missing" || g.Kind == "extra" {
			for _, a := range ancestors(g.Path) {
				if roots[g.Kind+" "+a] {
					continue outer
				}
			}
		}
		out = append(out, g)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}
