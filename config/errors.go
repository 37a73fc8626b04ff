package config

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Error is one problem found in a configuration file. Parse and Load return
// every Error they find joined with errors.Join, one per line, in line order.
type Error struct {
	File  string // the file name given to Parse or Load
	Line  int    // 1-based line of the offending key or value
	Field string // path of the field, e.g. "targets[3].address"; "" for YAML syntax
	Err   error  // what is wrong
}

// Error formats the problem as "file:line: field: reason", leaving out the
// line when it is unknown (0) and the field when it is empty.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Field != "" {
		fmt.Fprintf(&b, ": %s", e.Field)
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	return b.String()
}

// Unwrap returns the reason, so that errors.Is and errors.As see it.
func (e *Error) Unwrap() error { return e.Err }

// problems collects the errors of one file.
type problems struct {
	file string
	list []*Error
}

// add records err for field at line.
func (p *problems) add(line int, field string, err error) {
	p.list = append(p.list, &Error{File: p.file, Line: line, Field: field, Err: err})
}

// addf records a formatted reason for field at line.
func (p *problems) addf(line int, field, format string, args ...any) {
	p.add(line, field, fmt.Errorf(format, args...))
}

// err joins the problems in line order, or returns nil when there are none.
func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	sort.SliceStable(p.list, func(i, j int) bool { return p.list[i].Line < p.list[j].Line })
	errs := make([]error, len(p.list))
	for i, e := range p.list {
		errs[i] = e
	}
	return errors.Join(errs...)
}

// maxQuoted bounds the bytes of a value that an error message repeats.
const maxQuoted = 80

// quote renders a value for an error message: Go-quoted, so that control
// characters cannot break the one-error-per-line output, and shortened.
func quote(s string) string {
	if len(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	cut := maxQuoted
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "..."
}

// oneLine makes a message from a library safe to print on one line.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
	return strings.Join(strings.Fields(s), " ")
}
