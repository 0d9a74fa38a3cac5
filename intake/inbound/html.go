package inbound

import (
	"html"
	"strings"
)

// htmlText turns an HTML body into plain text for the notice reader: line breaks at <br> and at the end of
// blocks (</p>, </div>, </tr>, </li>, headings), table cells separated by a tab, so that a two-column
// label | value table becomes "label\tvalue" lines; scripts, styles and comments dropped; entities decoded;
// runs of HTML whitespace collapsed (outside <pre>). It is deliberately small: mail HTML is read, not rendered.
func htmlText(s string) string {
	var t htmlWriter
	t.buf = make([]byte, 0, len(s)/2)
	quotesBroken := false
	for len(s) > 0 {
		lt := strings.IndexByte(s, '<')
		if lt < 0 {
			t.text(s)
			break
		}
		t.text(s[:lt])
		s = s[lt:]
		switch {
		case strings.HasPrefix(s, "<!--"):
			end := strings.Index(s[4:], "-->")
			if end < 0 {
				return t.finish()
			}
			s = s[4+end+3:]
			continue
		case strings.HasPrefix(s, "<!") || strings.HasPrefix(s, "<?"):
			end := strings.IndexByte(s, '>')
			if end < 0 {
				return t.finish()
			}
			s = s[end+1:]
			continue
		}
		end := -1
		if !quotesBroken {
			end = tagEnd(s)
			if end == -2 {
				// A quote that never closes: from here on, a tag ends at the first ">", so that
				// a body of such tags costs linear time.
				quotesBroken = true
			}
		}
		if quotesBroken && isTagStart(s) {
			end = strings.IndexByte(s, '>')
			if end < 0 {
				t.text(s)
				break
			}
		}
		if end < 0 {
			t.text(s[:1]) // a "<" that opens no tag is text
			s = s[1:]
			continue
		}
		tag := s[1:end]
		s = s[end+1:]
		closing := strings.HasPrefix(tag, "/")
		name := strings.ToLower(strings.TrimLeft(tag, "/"))
		if i := strings.IndexAny(name, " \t\r\n/"); i >= 0 {
			name = name[:i]
		}
		switch name {
		case "script", "style", "head", "title", "xml":
			if !closing {
				// Skip to the matching end tag.
				i := indexFold(s, "</"+name)
				if i < 0 {
					return t.finish()
				}
				s = s[i:]
			}
		case "br":
			t.newline(true)
		case "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote", "ul", "ol",
			"dl", "dt", "dd", "hr", "tbody", "thead", "tfoot", "center", "address", "section", "article",
			"header", "footer", "caption":
			t.newline(false)
		case "td", "th":
			if closing || (!t.lineEmpty() && t.last() != '\t') {
				// End of a cell, or the start of one whose predecessor was never closed.
				t.buf = append(t.buf, '\t')
				t.space = false
			}
		case "pre":
			t.newline(false)
			if closing {
				t.pre = max(t.pre-1, 0)
			} else {
				t.pre++
			}
		}
	}
	return t.finish()
}

// htmlWriter collects the text of an HTML body.
type htmlWriter struct {
	buf   []byte
	space bool // whitespace seen and not yet written
	pre   int  // depth of <pre>
}

func (t *htmlWriter) last() byte {
	if len(t.buf) == 0 {
		return '\n'
	}
	return t.buf[len(t.buf)-1]
}

func (t *htmlWriter) lineEmpty() bool { return t.last() == '\n' }

func (t *htmlWriter) text(s string) {
	if s == "" {
		return
	}
	s = html.UnescapeString(s)
	s = strings.ReplaceAll(s, "\u00a0", " ")
	if t.pre > 0 {
		t.buf = append(t.buf, s...)
		return
	}
	if isHTMLSpace(rune(s[0])) {
		t.space = true
	}
	for i, w := range strings.FieldsFunc(s, isHTMLSpace) {
		if (i > 0 || t.space) && !t.lineEmpty() && t.last() != '\t' && t.last() != ' ' {
			t.buf = append(t.buf, ' ')
		}
		t.buf = append(t.buf, w...)
		t.space = false
	}
	if isHTMLSpace(rune(s[len(s)-1])) {
		t.space = true
	}
}

// newline ends the current line; unless force, only when it holds text.
func (t *htmlWriter) newline(force bool) {
	if force || !t.lineEmpty() {
		for len(t.buf) > 0 && (t.last() == ' ' || t.last() == '\t') {
			t.buf = t.buf[:len(t.buf)-1]
		}
		t.buf = append(t.buf, '\n')
	}
	t.space = false
}

func (t *htmlWriter) finish() string { return finishText(string(t.buf)) }

// indexFold is strings.Index ignoring ASCII case, without lower-casing a copy of s.
func indexFold(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		j := strings.IndexByte(s[i:], '<')
		if j < 0 {
			return -1
		}
		i += j
		if i+len(sub) <= len(s) && strings.EqualFold(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}

// tagEnd returns the index of the ">" that ends the tag at s[0], skipping quoted attribute values; -1 if s
// does not start a tag, -2 if it does and no ">" outside quotes follows.
func tagEnd(s string) int {
	if !isTagStart(s) {
		return -1
	}
	var quote byte
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '>':
			return i
		}
	}
	return -2
}

func isTagStart(s string) bool {
	if len(s) < 2 {
		return false
	}
	c := s[1]
	return c == '/' || (c|0x20 >= 'a' && c|0x20 <= 'z')
}

func isHTMLSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\f'
}

// finishText trims trailing whitespace of every line and drops leading empty lines.
func finishText(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t")
	}
	return strings.TrimLeft(strings.Join(lines, "\n"), "\n")
}
