package bottest

import (
	"errors"
	"fmt"
	"html"
	"regexp"
	"strings"
)

// allowedTags are the tags of the Bot API's HTML parse mode.
var allowedTags = map[string]bool{
	"b": true, "strong": true, "i": true, "em": true, "u": true, "ins": true,
	"s": true, "strike": true, "del": true, "a": true, "code": true, "pre": true,
	"tg-spoiler": true, "span": true, "blockquote": true, "tg-emoji": true,
}

var entityRE = regexp.MustCompile(`^&(lt|gt|amp|quot|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});`)

// CheckHTML validates text as Telegram's HTML parse mode does, strictly:
// only the supported tags, properly nested and closed; every "<", ">" and
// "&" that is not markup escaped; only the named entities &lt; &gt; &amp;
// &quot; and numeric ones. It returns the visible text.
func CheckHTML(text string) (string, error) {
	var plain strings.Builder
	var stack []string
	for i := 0; i < len(text); {
		switch c := text[i]; c {
		case '<':
			end := strings.IndexByte(text[i:], '>')
			if end < 0 {
				return "", fmt.Errorf("unclosed start tag at byte offset %d", i)
			}
			tag := text[i+1 : i+end]
			i += end + 1
			if name, ok := strings.CutPrefix(tag, "/"); ok {
				if len(stack) == 0 || stack[len(stack)-1] != name {
					return "", fmt.Errorf("unmatched end tag </%s>", name)
				}
				stack = stack[:len(stack)-1]
				continue
			}
			name, attrs, _ := strings.Cut(tag, " ")
			if !allowedTags[name] {
				return "", fmt.Errorf("unsupported start tag %q", name)
			}
			if strings.ContainsAny(attrs, "<&") && !validEntities(attrs) {
				return "", fmt.Errorf("bad attribute in <%s>", name)
			}
			stack = append(stack, name)
		case '>':
			return "", errors.New("unescaped \">\" in text")
		case '&':
			m := entityRE.FindString(text[i:])
			if m == "" {
				return "", fmt.Errorf("unsupported entity at byte offset %d", i)
			}
			plain.WriteString(html.UnescapeString(m))
			i += len(m)
		default:
			plain.WriteByte(c)
			i++
		}
	}
	if len(stack) > 0 {
		return "", fmt.Errorf("unclosed tag <%s>", stack[len(stack)-1])
	}
	return plain.String(), nil
}

func validEntities(s string) bool {
	if strings.Contains(s, "<") {
		return false
	}
	for i := strings.IndexByte(s, '&'); i >= 0; i = strings.IndexByte(s, '&') {
		m := entityRE.FindString(s[i:])
		if m == "" {
			return false
		}
		s = s[i+len(m):]
	}
	return true
}
