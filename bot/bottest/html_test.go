package bottest

import "testing"

func TestCheckHTML(t *testing.T) {
	tests := []struct {
		in    string
		plain string
		ok    bool
	}{
		{"<b>Balance</b>: 1 TON", "Balance: 1 TON", true},
		{`<a href="https://x.test/?a=1&amp;b=2">x</a>`, "x", true},
		{"a &lt;b&gt; &amp; &quot; &#39; &#x27;", `a <b> & " ' '`, true},
		{"<pre>curl -H \"Authorization: Bearer k\"</pre>", `curl -H "Authorization: Bearer k"`, true},
		{"<b>unclosed", "", false},
		{"<b><i>crossed</b></i>", "", false},
		{"<script>x</script>", "", false},
		{"a & b", "", false},
		{"&nbsp;", "", false},
		{"1 > 0", "", false},
		{"<", "", false},
	}
	for _, tt := range tests {
		plain, err := CheckHTML(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("CheckHTML(%q) error = %v, want ok=%v", tt.in, err, tt.ok)
		} else if tt.ok && plain != tt.plain {
			t.Errorf("CheckHTML(%q) = %q, want %q", tt.in, plain, tt.plain)
		}
	}
}
