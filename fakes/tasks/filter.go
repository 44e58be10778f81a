package tasks

import (
	"fmt"
	"strings"
)

// runFilter is the $filter of GET runs as az acr task list-runs and az acr task logs write it:
// clauses joined by "and", each `Field eq 'value'` or `contains(Field, 'value')`.
type runFilter []func(props map[string]any) bool

// runFilterFields are the run properties a filter may name, by the names ACR's filter uses.
var runFilterFields = map[string]func(props map[string]any) []string{
	"RunId":    func(p map[string]any) []string { return []string{fmt.Sprint(p["runId"])} },
	"TaskName": func(p map[string]any) []string { return stringProp(p, "task") },
	"Status":   func(p map[string]any) []string { return []string{fmt.Sprint(p["status"])} },
	"RunType":  func(p map[string]any) []string { return []string{fmt.Sprint(p["runType"])} },
	// az acr task list-runs --image repo:tag: contains(OutputImageManifests, 'repo@sha256:...').
	"OutputImageManifests": func(p map[string]any) []string {
		var out []string
		outputs, _ := p["outputImages"].([]map[string]string)
		for _, o := range outputs {
			out = append(out, o["repository"]+"@"+o["digest"], o["repository"]+":"+o["tag"])
		}
		return out
	},
}

func stringProp(p map[string]any, key string) []string {
	if v, ok := p[key].(string); ok {
		return []string{v}
	}
	return nil
}

// parseRunFilter parses a $filter; an empty one matches every run.
func parseRunFilter(s string) (runFilter, error) {
	var f runFilter
	if strings.TrimSpace(s) == "" {
		return f, nil
	}
	for _, clause := range strings.Split(s, " and ") {
		clause = strings.TrimSpace(clause)
		var field, value string
		contains := strings.HasPrefix(clause, "contains(") && strings.HasSuffix(clause, ")")
		if contains {
			var ok bool
			field, value, ok = strings.Cut(strings.TrimSuffix(strings.TrimPrefix(clause, "contains("), ")"), ",")
			if !ok {
				return nil, fmt.Errorf("the filter clause %q is not valid", clause)
			}
		} else {
			var ok bool
			field, value, ok = strings.Cut(clause, " eq ")
			if !ok {
				return nil, fmt.Errorf("the filter clause %q is not valid: use Field eq 'value' or contains(Field, 'value')", clause)
			}
		}
		field, value = strings.TrimSpace(field), strings.TrimSpace(value)
		if len(value) < 2 || value[0] != '\'' || value[len(value)-1] != '\'' {
			return nil, fmt.Errorf("the filter clause %q is not valid: quote the value in single quotes", clause)
		}
		value = value[1 : len(value)-1]
		get, ok := runFilterFields[field]
		if !ok {
			return nil, fmt.Errorf("the filter field %q is not supported: use RunId, TaskName, Status, RunType or OutputImageManifests", field)
		}
		f = append(f, func(props map[string]any) bool {
			for _, v := range get(props) {
				if contains && strings.Contains(v, value) || !contains && strings.EqualFold(v, value) {
					return true
				}
			}
			return false
		})
	}
	return f, nil
}

func (f runFilter) match(props map[string]any) bool {
	for _, clause := range f {
		if !clause(props) {
			return false
		}
	}
	return true
}
