package bot

import (
	"strings"
	"testing"

	"starsbot/bot/bottest"
)

func TestFitHTML(t *testing.T) {
	short := "<b>hi</b> &amp; 👋"
	if got := fitHTML(short, 7); got != short {
		t.Errorf("fitHTML(%q, 7) = %q, want unchanged", short, got)
	}
	if got := fitHTML(short, 6); got != "<b>hi</b> &amp; …" {
		t.Errorf("fitHTML(%q, 6) = %q", short, got)
	}
	if n := htmlLen(short); n != 7 {
		t.Errorf("htmlLen(%q) = %d, want 7 (an emoji is two UTF-16 units, an entity one)", short, n)
	}
	// Markup longer than the limit, text within it: unchanged.
	tagged := strings.Repeat("<b>x</b>", 4000)
	if got := fitHTML(tagged, MaxMessageText); got != tagged {
		t.Error("a text within the limit was cut because of its tags")
	}
	for _, s := range []string{
		strings.Repeat("<b>ab</b>\n<code>&lt;c&gt;</code> ", 1000),
		strings.Repeat("👍", 3000),
		"<a href=\"https://example.com\">" + strings.Repeat("я", 5000) + "</a>",
	} {
		got := fitHTML(s, MaxMessageText)
		plain, err := bottest.CheckHTML(got)
		if err != nil {
			t.Fatalf("cut HTML is invalid: %v\n%.200s", err, got)
		}
		if n := utf16Len(plain); n > MaxMessageText || n < MaxMessageText-2 {
			t.Errorf("cut to %d UTF-16 units", n)
		}
		if !strings.HasSuffix(plain, "…") {
			t.Errorf("the cut does not end with an ellipsis: %q", plain[len(plain)-10:])
		}
	}
}
