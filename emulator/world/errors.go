package world

import (
	"errors"
	"fmt"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
)

// FieldError is a mistake in a world file: the field it is in, where that field is written, and
// what is wrong. A world file is input from users and from the internet alike, so every
// mistake is reported this way, never as a panic or a half-loaded world.
type FieldError struct {
	File   string // the world file as named to Load or Parse
	Line   int    // 1-based; 0 when the position is unknown
	Column int
	// Field is the path of the field, as in registries[0].images[1].generate.layerSize;
	// empty for a mistake that is not in one field (a syntax error, an unknown field).
	Field string
	Msg   string
}

func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Line, e.Column)
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// maxErrors bounds how many mistakes one Parse reports.
const maxErrors = 20

// problems collects the mistakes validation finds, each with its field path.
type problems []*FieldError

func (p *problems) add(field, format string, args ...any) {
	if len(*p) < maxErrors {
		*p = append(*p, &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)})
	}
}

// source remembers where a world came from, so mistakes found later (while preloading images,
// creating tasks) still name their line.
type source struct {
	file string
	dir  string // relative paths in the file are relative to it
	ast  *ast.File
}

// locate fills in a field error's position: the field's own line, or its closest written
// parent's when the field is absent (a required field left out).
func (s *source) locate(e *FieldError) *FieldError {
	e.File = s.file
	if s.ast == nil || e.Field == "" {
		return e
	}
	for p := e.Field; p != ""; p = parentPath(p) {
		path, err := yaml.PathString("$." + p)
		if err != nil {
			continue
		}
		n, err := path.FilterFile(s.ast)
		if err != nil || n == nil || n.GetToken() == nil {
			continue
		}
		pos := n.GetToken().Position
		e.Line, e.Column = pos.Line, pos.Column
		return e
	}
	return e
}

// parentPath drops the last element of a field path: a.b[2].c → a.b[2] → a.b → a → "".
func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

// decodeError turns goccy/go-yaml's error (syntax, unknown field, wrong type) into a FieldError
// with its position.
func decodeError(file string, err error) error {
	var ye yaml.Error
	if errors.As(err, &ye) && ye.GetToken() != nil {
		pos := ye.GetToken().Position
		return &FieldError{File: file, Line: pos.Line, Column: pos.Column, Msg: ye.GetMessage()}
	}
	return &FieldError{File: file, Msg: err.Error()}
}

// Errorf makes a FieldError for a field of this world with its position in the world file,
// for mistakes only found when the world is put to use (an image layout whose blob is
// missing, a task step ACR Tasks refuses).
func (w *World) Errorf(field, format string, args ...any) *FieldError {
	e := &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
	if w.src == nil {
		e.File = "world"
		return e
	}
	return w.src.locate(e)
}
