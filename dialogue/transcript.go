package dialogue

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits of the transcript: the first lines and the last ones are kept, the
// middle of a long dialogue (many recipients) is counted, not stored.
const (
	transcriptHead  = 150 // first lines kept
	transcriptTail  = 49  // last lines kept
	replyLinesShown = 20  // lines of one reply kept; more are counted
	maxLineTextLen  = 512 // octets of one transcript line, escaped
)

// transcript records the lines of a dialogue with bounded memory.
type transcript struct {
	start   time.Time
	head    []Line
	tail    []Line // ring of the last lines once head is full
	next    int    // oldest entry of tail once it is full
	dropped int
	lastAt  time.Duration // time of the last dropped line
}

// add records one line; text is escaped and bounded here.
func (t *transcript) add(dir byte, text string) {
	l := Line{At: time.Since(t.start), Dir: dir, Text: escape(text, maxLineTextLen)}
	switch {
	case len(t.head) < transcriptHead:
		t.head = append(t.head, l)
	case len(t.tail) < transcriptTail:
		t.tail = append(t.tail, l)
	default:
		t.dropped++
		t.lastAt = t.tail[t.next].At
		t.tail[t.next] = l
		t.next = (t.next + 1) % transcriptTail
	}
}

// event records something that is neither sent nor received.
func (t *transcript) event(format string, args ...any) {
	t.add('*', fmt.Sprintf(format, args...))
}

// reply records the lines of one reply, summarising long ones.
func (t *transcript) reply(lines []string) {
	for i, line := range lines {
		if i == replyLinesShown {
			t.event("%d more reply lines not shown", len(lines)-i)
			return
		}
		t.add('<', line)
	}
}

// lines returns the transcript, with a marker where lines were dropped.
func (t *transcript) lines() []Line {
	out := make([]Line, 0, len(t.head)+len(t.tail)+1)
	out = append(out, t.head...)
	if t.dropped > 0 {
		out = append(out, Line{At: t.lastAt, Dir: '*',
			Text: fmt.Sprintf("%d lines not shown", t.dropped)})
	}
	out = append(out, t.tail[t.next:]...)
	return append(out, t.tail[:t.next]...)
}

// escape returns s with backslashes, control bytes, unprintable runes and
// invalid UTF-8 escaped, cut to at most limit octets.
func escape(s string, limit int) string {
	t := newBoundedText(limit)
	t.add(s)
	return t.String()
}

// clip cuts s to at most n octets, marking the cut. It does not escape:
// errors carry clipped raw text, and are escaped once where they are
// stored (Session.Err, the transcript), never twice.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + ellipsis
}

// ellipsis marks text that was cut.
const ellipsis = "..."

// boundedText builds escaped text of at most limit octets; once something
// does not fit, it ends with an ellipsis and takes nothing more.
type boundedText struct {
	b     strings.Builder
	limit int
	full  bool
}

// newBoundedText starts a text of at most limit octets.
func newBoundedText(limit int) *boundedText {
	return &boundedText{limit: max(limit, len(ellipsis))}
}

// add appends s, escaped.
func (t *boundedText) add(s string) {
	for i := 0; i < len(s) && !t.full; {
		r, size := utf8.DecodeRuneInString(s[i:])
		t.addRaw(escapeRune(r, size, s[i]))
		i += size
	}
}

// addRaw appends s as it is.
func (t *boundedText) addRaw(s string) {
	if t.full {
		return
	}
	if t.b.Len()+len(s) > t.limit-len(ellipsis) {
		t.full = true
		t.b.WriteString(ellipsis)
		return
	}
	t.b.WriteString(s)
}

// String returns the text built so far.
func (t *boundedText) String() string {
	return t.b.String()
}

// escapeRune returns the printable form of rune r of size octets whose
// first octet is b.
func escapeRune(r rune, size int, b byte) string {
	switch {
	case r == utf8.RuneError && size == 1:
		return fmt.Sprintf(`\x%02x`, b)
	case r == '\\':
		return `\\`
	case r < 0x20 || r == 0x7f:
		return fmt.Sprintf(`\x%02x`, r)
	case !unicode.IsPrint(r):
		return fmt.Sprintf(`\u%04x`, r)
	}
	return string(r)
}
