package dialogue

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestReadReply(t *testing.T) {
	cases := []struct {
		name  string
		in    string
		want  Reply
		lines int
		err   string // part of the error; "" for none
	}{
		{name: "single line", in: "250 ok\r\n",
			want: Reply{Code: 250, Text: "ok"}, lines: 1},
		{name: "multi-line", in: "250-mx.test\r\n250-SIZE 10\r\n250 HELP\r\n",
			want: Reply{Code: 250, Text: "mx.test\nSIZE 10\nHELP"}, lines: 3},
		{name: "bare LF", in: "220-a\n220 b\n", want: Reply{Code: 220, Text: "a\nb"}, lines: 2},
		{name: "final line of only a code", in: "250-a\r\n250\r\n",
			want: Reply{Code: 250, Text: "a\n"}, lines: 2},
		{name: "only a code", in: "354\r\n", want: Reply{Code: 354}, lines: 1},
		{name: "enhanced code stripped from every line",
			in:   "550-5.7.1 listed\r\n550 5.7.1 see the site\r\n",
			want: Reply{Code: 550, Enhanced: "5.7.1", Text: "listed\nsee the site"}, lines: 2},
		{name: "enhanced code alone", in: "250 2.0.0\r\n",
			want: Reply{Code: 250, Enhanced: "2.0.0"}, lines: 1},
		{name: "enhanced code of another class is text", in: "550 4.1.1 odd\r\n",
			want: Reply{Code: 550, Text: "4.1.1 odd"}, lines: 1},
		{name: "no enhanced code for class 3", in: "354 3.0.0 go on\r\n",
			want: Reply{Code: 354, Text: "3.0.0 go on"}, lines: 1},
		{name: "enhanced code needs a space after it", in: "250 2.1.5ok\r\n",
			want: Reply{Code: 250, Text: "2.1.5ok"}, lines: 1},
		{name: "enhanced code only on the first line", in: "250-ok\r\n250 2.0.0 done\r\n",
			want: Reply{Code: 250, Text: "ok\n2.0.0 done"}, lines: 2},
		{name: "control bytes escaped", in: "250 a\x00b\x7f\tc\\\r\n",
			want: Reply{Code: 250, Text: `a\x00b\x7f\x09c\\`}, lines: 1},
		{name: "invalid UTF-8 escaped", in: "250 \xff\xc3(\r\n",
			want: Reply{Code: 250, Text: `\xff\xc3(`}, lines: 1},
		{name: "stray CR escaped", in: "250 a\rb\r\r\n",
			want: Reply{Code: 250, Text: `a\x0db\x0d`}, lines: 1},
		{name: "code 199", in: "199 x\r\n", err: "out of range", lines: 1},
		{name: "code 600", in: "600 x\r\n", err: "out of range", lines: 1},
		{name: "code 099", in: "099 x\r\n", err: "out of range", lines: 1},
		{name: "short line", in: "25\r\n", err: "malformed", lines: 1},
		{name: "letters for a code", in: "2x0 ok\r\n", err: "malformed", lines: 1},
		{name: "bad separator", in: "250_ok\r\n", err: "separator", lines: 1},
		{name: "code changes", in: "250-a\r\n251 b\r\n", err: "changed", lines: 2},
		{name: "empty line", in: "\r\n", err: "malformed", lines: 1},
		{name: "closed at once", in: "", err: "EOF", lines: 0},
		{name: "closed within a line", in: "250 o", err: "within a line", lines: 0},
		{name: "closed within a reply", in: "250-a\r\n", err: "EOF", lines: 1},
		{name: "line too long", in: "250 " + strings.Repeat("a", 2100) + "\r\n",
			err: "longer than 2048 octets", lines: 0},
		{name: "line of the longest length", in: "250 " + strings.Repeat("a", 2042) + "\r\n",
			want: Reply{Code: 250, Text: strings.Repeat("a", 509) + "..."}, lines: 1},
		{name: "too many lines", in: strings.Repeat("250-a\r\n", 101) + "250 b\r\n",
			err: "longer than 100 lines", lines: 100},
		{name: "a hundred lines", in: strings.Repeat("250-a\r\n", 99) + "250 b\r\n",
			want: Reply{Code: 250, Text: strings.Repeat("a\n", 99) + "b"}, lines: 100},
		{name: "too many octets",
			in:  strings.Repeat("250-"+strings.Repeat("a", 1000)+"\r\n", 80) + "250 b\r\n",
			err: "longer than 65536 octets", lines: 65},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, lines, err := newReplyReader(strings.NewReader(c.in)).read()
			if c.err == "" && err != nil {
				t.Fatalf("error %v", err)
			}
			if c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
				t.Fatalf("error %v, want one with %q", err, c.err)
			}
			if r != c.want || len(lines) != c.lines {
				t.Errorf("reply %+v with %d lines, want %+v with %d",
					r, len(lines), c.want, c.lines)
			}
		})
	}
}

func TestReadReplyProtocolErrors(t *testing.T) {
	for _, in := range []string{"199 x\r\n", "250_x\r\n", strings.Repeat("a", 3000)} {
		_, _, err := newReplyReader(strings.NewReader(in)).read()
		if !errors.Is(err, errProtocol) {
			t.Errorf("read %.20q: error %v, want a protocol error", in, err)
		}
	}
	_, _, err := newReplyReader(strings.NewReader("250 ok")).read()
	if errors.Is(err, errProtocol) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("truncated reply: error %v, want an unexpected EOF", err)
	}
}

// countingReader yields pattern forever and counts the octets taken.
type countingReader struct {
	pattern []byte
	n       int
}

func (c *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = c.pattern[(c.n+i)%len(c.pattern)]
	}
	c.n += len(p)
	return len(p), nil
}

func TestReadReplyIsBounded(t *testing.T) {
	cases := []struct {
		name    string
		pattern string
		err     string
	}{
		{"endless line", "a", "longer than 2048 octets"},
		{"endless reply", "250-mx.test\r\n", "longer than 100 lines"},
		{"endless reply of long lines", "250-" + strings.Repeat("b", 2000) + "\n",
			"longer than 65536 octets"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := &countingReader{pattern: []byte(c.pattern)}
			_, lines, err := newReplyReader(src).read()
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Fatalf("error %v, want one with %q", err, c.err)
			}
			if limit := maxReplyBytes + 2*maxLineLen; src.n > limit {
				t.Errorf("read %d octets, limit %d", src.n, limit)
			}
			if len(lines) > maxReplyLines {
				t.Errorf("kept %d lines", len(lines))
			}
		})
	}
}

func TestEscape(t *testing.T) {
	cases := []struct {
		in    string
		limit int
		want  string
	}{
		{"plain text", 100, "plain text"},
		{"tab\tnul\x00del\x7f", 100, `tab\x09nul\x00del\x7f`},
		{"back\\slash", 100, `back\\slash`},
		{"bad \xff\xfe", 100, `bad \xff\xfe`},
		{"nbsp\u00a0zw\u200b", 100, `nbsp\u00a0zw\u200b`},
		{"été", 100, "été"},
		{"abcdefghij", 8, "abcde..."},
		{"\x00\x00\x00", 10, `\x00...`},
		{"ééé", 7, "éé..."},
	}
	for _, c := range cases {
		if got := escape(c.in, c.limit); got != c.want {
			t.Errorf("escape(%q, %d) = %q, want %q", c.in, c.limit, got, c.want)
		}
	}
}

func FuzzReadReply(f *testing.F) {
	for _, seed := range []string{
		"220 mx.test ESMTP\r\n", "250-a\r\n250 b\r\n", "550 5.1.1 no\r\n", "250-a\n250\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		// The shortest reply, "250\n", takes four octets.
		rr := newReplyReader(bytes.NewReader(in))
		for n := 0; n <= len(in)/4; n++ {
			r, lines, err := rr.read()
			checkFuzzedReply(t, r, lines, err)
			if err != nil {
				return
			}
		}
		t.Fatalf("%d octets gave more than %d replies", len(in), len(in)/4)
	})
}

// checkFuzzedReply checks the bounds a reply read from any input keeps.
func checkFuzzedReply(t *testing.T, r Reply, lines []string, err error) {
	t.Helper()
	if len(lines) > maxReplyLines {
		t.Fatalf("%d lines", len(lines))
	}
	for _, l := range lines {
		if len(l) >= maxLineLen {
			t.Fatalf("line of %d octets", len(l))
		}
	}
	if err != nil {
		if r != (Reply{}) {
			t.Fatalf("reply %+v with error %v", r, err)
		}
		return
	}
	if r.Code < 200 || r.Code > 599 || len(lines) == 0 {
		t.Fatalf("code %d from %d lines", r.Code, len(lines))
	}
	if r.Enhanced != "" && r.Enhanced[0] != byte('0'+r.Code/100) {
		t.Fatalf("enhanced code %q for reply %d", r.Enhanced, r.Code)
	}
	if len(r.Text) > maxTextLen || !utf8.ValidString(r.Text) {
		t.Fatalf("text %q", r.Text)
	}
	if strings.ContainsFunc(r.Text, func(c rune) bool { return c < 0x20 && c != '\n' }) {
		t.Fatalf("text %q holds a control character", r.Text)
	}
}
