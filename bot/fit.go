package bot

import (
	"strings"
	"unicode/utf8"
)

// MaxMessageText is the Bot API's limit on a message's text, counted as
// Telegram counts it: in UTF-16 code units of the text after entity
// parsing (a character outside the Basic Multilingual Plane, such as most
// emoji, counts twice).
const MaxMessageText = 4096

// utf16Len is the length of s in UTF-16 code units.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}

// fitHTML returns the HTML text s unchanged when its visible text fits
// limit UTF-16 code units, and otherwise cuts it so that it does: the cut
// ends with "…" and closes the tags still open there. Tags take no room;
// an entity such as &lt; takes one unit. s must be the well-formed HTML
// the bot writes.
func fitHTML(s string, limit int) string {
	if utf16Len(s) <= limit || htmlLen(s) <= limit { // markup only adds to the raw length
		return s
	}
	var out strings.Builder
	var open []string // names of the open tags, innermost last
	used := 0
	for i := 0; i < len(s); {
		if s[i] == '<' {
			j := strings.IndexByte(s[i:], '>')
			if j < 0 {
				j = len(s) - i - 1
			}
			tag := s[i : i+j+1]
			name := strings.TrimPrefix(strings.Trim(tag, "<>/"), "/")
			if k := strings.IndexAny(name, " \t\n"); k >= 0 {
				name = name[:k]
			}
			if strings.HasPrefix(tag, "</") {
				if n := len(open); n > 0 {
					open = open[:n-1]
				}
			} else if !strings.HasSuffix(tag, "/>") {
				open = append(open, name)
			}
			out.WriteString(tag)
			i += j + 1
			continue
		}
		n, w := 1, 1
		if s[i] == '&' {
			if j := strings.IndexByte(s[i:], ';'); j > 0 && j <= 10 {
				n = j + 1
			}
		} else {
			r, size := utf8.DecodeRuneInString(s[i:])
			n = size
			if r >= 0x10000 {
				w = 2
			}
		}
		if used+w > limit-1 { // room for "…"
			break
		}
		out.WriteString(s[i : i+n])
		used += w
		i += n
	}
	out.WriteString("…")
	for k := len(open) - 1; k >= 0; k-- {
		out.WriteString("</" + open[k] + ">")
	}
	return out.String()
}

// htmlLen is the length of the visible text of HTML s in UTF-16 code
// units: tags take none, an entity one.
func htmlLen(s string) int {
	n := 0
	for i := 0; i < len(s); {
		switch s[i] {
		case '<':
			j := strings.IndexByte(s[i:], '>')
			if j < 0 {
				return n + utf16Len(s[i:])
			}
			i += j + 1
			continue
		case '&':
			if j := strings.IndexByte(s[i:], ';'); j > 0 && j <= 10 {
				n++
				i += j + 1
				continue
			}
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		n++
		if r >= 0x10000 {
			n++
		}
		i += size
	}
	return n
}
