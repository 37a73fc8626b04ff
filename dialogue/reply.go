package dialogue

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Limits of reply reading. RFC 5321 §4.5.3.1.5 caps a reply line at 512
// octets including CRLF; real servers exceed that (long EHLO lines, verbose
// rejection texts), so four times as much is accepted. §4.2.1 sets no limit
// on the number of lines of a reply; 100 lines and 64 KiB are far above what
// any server sends and keep a hostile one from holding the prober.
const (
	maxLineLen    = 2048     // octets of one reply line, line ending included
	maxReplyLines = 100      // lines of one reply
	maxReplyBytes = 64 << 10 // octets of one reply
	maxTextLen    = 512      // octets of Reply.Text, escaped
)

// errProtocol marks a reply that breaks RFC 5321 or the limits above.
var errProtocol = errors.New("protocol error")

// replyReader reads SMTP replies (RFC 5321 §4.2) with every read bounded.
//
// net/textproto is not used: its Reader.ReadLine and ReadResponse accept
// lines of any length, so one endless line from a server would grow the
// prober's memory without limit. Here the bufio buffer is the line cap.
type replyReader struct {
	br *bufio.Reader
}

// newReplyReader reads replies from r.
func newReplyReader(r io.Reader) *replyReader {
	return &replyReader{br: bufio.NewReaderSize(r, maxLineLen)}
}

// buffered is the number of octets received but not yet read as a reply.
func (r *replyReader) buffered() int {
	return r.br.Buffered()
}

// read reads one complete, possibly multi-line, reply. It also returns the
// lines as received, without line endings, up to and including a line that
// broke the rules, for the transcript and the EHLO keywords. Errors wrap
// errProtocol for a malformed or oversized reply, or the read error.
func (r *replyReader) read() (Reply, []string, error) {
	var lines []string
	total, code := 0, 0
	for {
		line, err := r.readLine()
		if err != nil {
			return Reply{}, lines, err
		}
		if len(lines) == maxReplyLines {
			return Reply{}, lines, fmt.Errorf("%w: reply longer than %d lines",
				errProtocol, maxReplyLines)
		}
		total += len(line)
		if total > maxReplyBytes {
			return Reply{}, lines, fmt.Errorf("%w: reply longer than %d octets",
				errProtocol, maxReplyBytes)
		}
		lines = append(lines, line)

		c, final, err := parseLine(line)
		if err != nil {
			return Reply{}, lines, err
		}
		if len(lines) > 1 && c != code {
			return Reply{}, lines, fmt.Errorf("%w: reply code changed from %d to %d",
				errProtocol, code, c)
		}
		code = c
		if final {
			return buildReply(code, lines), lines, nil
		}
	}
}

// readLine reads one line ended by LF, CRLF or bare LF alike, and returns it
// without its ending.
func (r *replyReader) readLine() (string, error) {
	b, err := r.br.ReadSlice('\n')
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		return "", fmt.Errorf("%w: reply line longer than %d octets", errProtocol, maxLineLen)
	case errors.Is(err, io.EOF) && len(b) > 0:
		return "", fmt.Errorf("read reply: connection closed within a line: %w",
			io.ErrUnexpectedEOF)
	case err != nil:
		return "", fmt.Errorf("read reply: %w", err)
	}
	b = bytes.TrimSuffix(b[:len(b)-1], []byte{'\r'})
	return string(b), nil
}

// parseLine checks the code and separator of one reply line (RFC 5321
// §4.2): three digits from 200 to 599, then '-' before more lines, or ' '
// or nothing on the last line.
func parseLine(line string) (code int, final bool, err error) {
	if len(line) < 3 || !isDigits(line[:3]) {
		return 0, false, fmt.Errorf("%w: malformed reply line %s",
			errProtocol, clip(line, 64))
	}
	code, _ = strconv.Atoi(line[:3])
	if code < 200 || code > 599 {
		return 0, false, fmt.Errorf("%w: reply code %d out of range", errProtocol, code)
	}
	if len(line) == 3 {
		return code, true, nil
	}
	switch line[3] {
	case ' ':
		return code, true, nil
	case '-':
		return code, false, nil
	}
	return 0, false, fmt.Errorf("%w: bad separator after reply code in %s",
		errProtocol, clip(line, 64))
}

// buildReply makes the Reply of well-formed lines of one code.
func buildReply(code int, lines []string) Reply {
	enhanced := enhancedCode(lineText(lines[0]), code/100)
	t := newBoundedText(maxTextLen)
	for i, line := range lines {
		if i > 0 {
			t.addRaw("\n")
		}
		t.add(stripEnhanced(lineText(line), enhanced))
	}
	return Reply{Code: code, Enhanced: enhanced, Text: t.String()}
}

// lineText is the text of a reply line after its code and separator.
func lineText(line string) string {
	if len(line) <= 4 {
		return ""
	}
	return line[4:]
}

// enhancedCode returns the RFC 3463 status code that starts text, or "" if
// text starts with none or with one of another class than the reply's.
func enhancedCode(text string, class int) string {
	if class != 2 && class != 4 && class != 5 {
		return ""
	}
	word, _, _ := strings.Cut(text, " ")
	parts := strings.Split(word, ".")
	if len(parts) != 3 || parts[0] != strconv.Itoa(class) {
		return ""
	}
	for _, p := range parts[1:] {
		if len(p) < 1 || len(p) > 3 || !isDigits(p) {
			return ""
		}
	}
	return word
}

// stripEnhanced removes the enhanced code from the start of a line's text;
// servers repeat it on every line of a multi-line reply.
func stripEnhanced(text, enhanced string) string {
	if enhanced == "" {
		return text
	}
	rest, ok := strings.CutPrefix(text, enhanced)
	if !ok || (rest != "" && rest[0] != ' ') {
		return text
	}
	return strings.TrimLeft(rest, " ")
}

// isDigits reports whether s is all ASCII digits.
func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
