package dialogue

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestTranscriptKeepsHeadAndTail(t *testing.T) {
	cases := []struct {
		name    string
		added   int
		kept    int
		dropped int
	}{
		{"short dialogue is kept whole", 10, 10, 0},
		{"head and tail exactly full", transcriptHead + transcriptTail,
			transcriptHead + transcriptTail, 0},
		{"one line too many", transcriptHead + transcriptTail + 1,
			transcriptHead + transcriptTail + 1, 1},
		{"long dialogue is cut in the middle", 1000,
			transcriptHead + transcriptTail + 1, 1000 - transcriptHead - transcriptTail},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr := transcript{start: time.Now()}
			for i := range c.added {
				tr.add('>', fmt.Sprintf("RCPT TO:<r%d@customer.test>", i))
			}
			lines := tr.lines()
			if len(lines) != c.kept || len(lines) > 200 {
				t.Fatalf("%d lines kept, want %d", len(lines), c.kept)
			}
			checkOrder(t, lines, c.added, c.dropped)
		})
	}
}

// checkOrder checks that lines are the first and last of added lines, in
// order, with a marker counting the dropped ones between them.
func checkOrder(t *testing.T, lines []Line, added, dropped int) {
	t.Helper()
	next := 0
	for _, l := range lines {
		if l.Dir == '*' {
			if want := fmt.Sprintf("%d lines not shown", dropped); l.Text != want {
				t.Errorf("marker %q, want %q", l.Text, want)
			}
			next += dropped
			continue
		}
		if want := fmt.Sprintf("RCPT TO:<r%d@customer.test>", next); l.Text != want {
			t.Fatalf("line %q, want %q", l.Text, want)
		}
		next++
	}
	if next != added {
		t.Errorf("lines account for %d added, want %d", next, added)
	}
}

func TestTranscriptSummarisesLongReplies(t *testing.T) {
	tr := transcript{start: time.Now()}
	reply := make([]string, 100)
	for i := range reply {
		reply[i] = "250-" + strings.Repeat("x", 3000)
	}
	tr.reply(reply)
	lines := tr.lines()
	if len(lines) != replyLinesShown+1 {
		t.Fatalf("%d lines, want %d", len(lines), replyLinesShown+1)
	}
	last := lines[len(lines)-1]
	if last.Dir != '*' || last.Text != "80 more reply lines not shown" {
		t.Errorf("last line %+v", last)
	}
	for _, l := range lines {
		if len(l.Text) > maxLineTextLen {
			t.Errorf("line of %d octets", len(l.Text))
		}
	}
}

func TestTranscriptEscapes(t *testing.T) {
	tr := transcript{start: time.Now()}
	tr.add('<', "250 ok\x00\x1b[2J\xff")
	if got := tr.lines()[0].Text; got != `250 ok\x00\x1b[2J\xff` {
		t.Errorf("text %q", got)
	}
}
