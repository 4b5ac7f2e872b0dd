package sdkcheck_test

import (
	"os"
	"strings"
	"testing"
)

// TestReadmeExample keeps the README's "Go SDK" example the same as
// Example, which the test build compiles: the README's main body must be
// Example's body.
func TestReadmeExample(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	_, section, found := strings.Cut(string(readme), "\n## Go SDK\n")
	if !found {
		t.Fatal(`README.md has no "## Go SDK" section`)
	}
	got := body(t, section, "func main() {\n")
	want := body(t, string(src), "func Example() {\n")
	if got != want {
		t.Errorf("README's example differs from sdkcheck's Example:\n--- README\n%s\n--- example_test.go\n%s", got, want)
	}
	for _, imp := range []string{`"context"`, `"fmt"`, `"log"`, `"net/http"`, `"os"`, `"time"`, `"starsbot/sdk"`} {
		if !strings.Contains(section, imp) {
			t.Errorf("README's example does not import %s", imp)
		}
	}
}

// body returns the text between start and the next line "}".
func body(t *testing.T, text, start string) string {
	t.Helper()
	_, rest, found := strings.Cut(text, start)
	if !found {
		t.Fatalf("no %q", start)
	}
	b, _, found := strings.Cut(rest, "\n}\n")
	if !found {
		t.Fatalf("no end of %q", start)
	}
	return b
}
