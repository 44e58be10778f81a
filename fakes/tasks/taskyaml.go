package tasks

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// Task YAML is untrusted input that reaches a YAML parser whose time grows faster than
// linearly with nesting and with the number of items (40,000 nested `[` take seconds), and
// whose decoder expands aliases (a 509-byte document of nested aliases took 27 s and 4 GB).
// So the bytes are bounded before the parser sees them, and the parsed tree is bounded before
// it is decoded. Real task files are a few steps long; the limits are the emulator's choice.
const (
	maxTaskYAMLBytes = 64 << 10
	maxTaskYAMLDepth = 32
	maxTaskYAMLItems = 1024   // sequence entries, mapping keys and flow separators
	maxTaskYAMLNodes = 20_000 // after aliases are expanded
)

// taskTemplate is what ACR Tasks YAML may refer to: ACR renders the YAML as a Go template
// before it parses it, so `cmd: {{.Run.Registry}}/app:{{.Run.ID}}` is valid YAML once rendered.
type taskTemplate struct {
	registry, id, task string
	values             map[string]string // az acr run --set, az acr task create|run --set
}

var templateRef = regexp.MustCompile(`\{\{-?\s*\.(Run\.[A-Za-z]+|Values\.[A-Za-z0-9_]+)\s*-?\}\}`)

var errRenderedTooLarge = fmt.Errorf("the task YAML is larger than %d KiB once its values are filled in.", maxTaskYAMLBytes>>10)

// render fills in the references the emulator knows; others stay, and the YAML parser says
// where. The output is bounded as it is built: values repeated many times must not fill memory.
func (tt taskTemplate) render(raw []byte) ([]byte, error) {
	var out bytes.Buffer
	last := 0
	for _, m := range templateRef.FindAllSubmatchIndex(raw, -1) {
		out.Write(raw[last:m[0]])
		out.WriteString(tt.value(string(raw[m[2]:m[3]]), string(raw[m[0]:m[1]])))
		last = m[1]
		if out.Len() > maxTaskYAMLBytes {
			return nil, errRenderedTooLarge
		}
	}
	out.Write(raw[last:])
	if out.Len() > maxTaskYAMLBytes {
		return nil, errRenderedTooLarge
	}
	return out.Bytes(), nil
}

// value is what one template reference renders to; ref is returned for what is not emulated.
func (tt taskTemplate) value(name, ref string) string {
	if v, ok := strings.CutPrefix(name, "Values."); ok {
		if val, set := tt.values[v]; set {
			return val
		}
		return "<no value>" // what a Go template prints for a missing value
	}
	switch name {
	case "Run.ID":
		return tt.id
	case "Run.Registry":
		return tt.registry
	case "Run.RegistryName":
		first, _, _ := strings.Cut(tt.registry, ".")
		return first
	case "Run.TaskName":
		return tt.task
	case "Run.OS":
		return "linux"
	case "Run.Architecture":
		return "amd64"
	}
	return ref
}

// parseTaskYAML renders ACR Tasks YAML and parses its steps, within the bounds above.
func parseTaskYAML(raw []byte, tt taskTemplate) ([]action, error) {
	if len(raw) > maxTaskYAMLBytes {
		return nil, fmt.Errorf("the task YAML is larger than %d KiB.", maxTaskYAMLBytes>>10)
	}
	raw, err := tt.render(raw)
	if err != nil {
		return nil, err
	}
	if err := checkYAMLShape(raw); err != nil {
		return nil, err
	}
	file, err := parser.ParseBytes(raw, 0)
	if err != nil {
		return nil, fmt.Errorf("the task YAML is invalid: %v", err)
	}
	if len(file.Docs) != 1 {
		return nil, errors.New("the task YAML must be one YAML document.")
	}
	if file.Docs[0].Body == nil { // blank or comments only: the decoder panics on a nil node
		return nil, errors.New("the task YAML has no steps.")
	}
	if n := expandedNodes(file.Docs[0].Body, map[string]int{}, 0); n > maxTaskYAMLNodes {
		return nil, fmt.Errorf("the task YAML expands to more than %d nodes (through its aliases).", maxTaskYAMLNodes)
	}
	var doc struct {
		Version string `yaml:"version"`
		Steps   []step `yaml:"steps"`
	}
	if err := yaml.NodeToValue(file.Docs[0].Body, &doc); err != nil {
		return nil, fmt.Errorf("the task YAML is invalid: %v", err)
	}
	if len(doc.Steps) == 0 {
		return nil, errors.New("the task YAML has no steps.")
	}
	return actions(doc.Steps)
}

// checkYAMLShape bounds nesting and the number of items in one linear pass, before the parser
// sees the bytes. It over-counts (quotes and comments are not told apart), which only matters
// for documents far larger than any task file.
func checkYAMLShape(b []byte) error {
	depth, items := 0, 0
	tooDeep := fmt.Errorf("the task YAML nests deeper than %d levels.", maxTaskYAMLDepth)
	for _, line := range bytes.Split(b, []byte("\n")) {
		indent := len(line) - len(bytes.TrimLeft(line, " \t"))
		rest := line[indent:]
		// Block nesting: each indentation step and each compact "- - -" entry is a level.
		levels := indent / 2
		for bytes.HasPrefix(rest, []byte("- ")) || bytes.Equal(rest, []byte("-")) {
			levels++
			items++
			rest = bytes.TrimLeft(rest[1:], " ")
		}
		if levels > maxTaskYAMLDepth {
			return tooDeep
		}
		for i, c := range rest {
			switch c {
			case '[', '{':
				depth++
				if depth+levels > maxTaskYAMLDepth {
					return tooDeep
				}
			case ']', '}':
				if depth > 0 {
					depth--
				}
			case ',':
				items++
			case ':':
				if i+1 == len(rest) || rest[i+1] == ' ' {
					items++
				}
			}
		}
		if items > maxTaskYAMLItems {
			return fmt.Errorf("the task YAML has more than %d items.", maxTaskYAMLItems)
		}
	}
	return nil
}

// expandedNodes counts the nodes a decoder would build, counting each alias as the nodes of
// its anchor (anchors holds those counts in document order). It stops counting past the bound.
func expandedNodes(n ast.Node, anchors map[string]int, sofar int) int {
	if n == nil || sofar > maxTaskYAMLNodes {
		return 0
	}
	count := 1
	add := func(c ast.Node) { count += expandedNodes(c, anchors, sofar+count) }
	switch v := n.(type) {
	case *ast.DocumentNode:
		add(v.Body)
	case *ast.MappingNode:
		for _, mv := range v.Values {
			add(mv)
		}
	case *ast.MappingValueNode:
		add(v.Key)
		add(v.Value)
	case *ast.SequenceNode:
		for _, c := range v.Values {
			add(c)
		}
	case *ast.TagNode:
		add(v.Value)
	case *ast.AnchorNode:
		inner := expandedNodes(v.Value, anchors, sofar+count)
		if v.Name != nil {
			anchors[v.Name.String()] = inner
		}
		count += inner
	case *ast.AliasNode:
		if v.Value != nil {
			count += anchors[v.Value.String()]
		}
	}
	return count
}
