package main

import (
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestComposeFile: compose.yaml parses (Docker cannot run in CI) and
// describes what README's "Several replicas" says: PostgreSQL 16 with a
// healthcheck, two replicas built from the Dockerfile on it, with
// LEADER_TTL, waiting for the database to be healthy. The images may be
// swapped for local stand-ins (scripts/compose-standins.sh), but without
// the variables set they are the official ones.
func TestComposeFile(t *testing.T) {
	b, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Services map[string]struct {
			Image string `yaml:"image"`
			Build struct {
				Context string   `yaml:"context"`
				Args    []string `yaml:"args"`
			} `yaml:"build"`
			Environment map[string]string `yaml:"environment"`
			Healthcheck *struct {
				Test []string `yaml:"test"`
			} `yaml:"healthcheck"`
			DependsOn map[string]struct {
				Condition string `yaml:"condition"`
			} `yaml:"depends_on"`
			Ports []string `yaml:"ports"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	db, ok := f.Services["db"]
	if !ok || db.Healthcheck == nil {
		t.Fatalf("db service: %+v, want one with a healthcheck", db)
	}
	if got, want := composeDefault(db.Image), "postgres:16"; got != want {
		t.Errorf("db image %q: %q without POSTGRES_IMAGE, want %q", db.Image, got, want)
	}
	replicas := 0
	for name, s := range f.Services {
		if name == "db" {
			continue
		}
		replicas++
		if s.Build.Context != "." {
			t.Errorf("%s: build context %q, want the Dockerfile's (.)", name, s.Build.Context)
		}
		// Bare names: compose passes each only when it is set, so the
		// Dockerfile's defaults (checked below) hold otherwise.
		if want := []string{"GO_IMAGE", "RUNTIME_IMAGE"}; !slices.Equal(s.Build.Args, want) {
			t.Errorf("%s: build args %q, want %q", name, s.Build.Args, want)
		}
		if u := s.Environment["DATABASE_URL"]; !strings.HasPrefix(u, "postgres://") || !strings.Contains(u, "@db:5432/") {
			t.Errorf("%s: DATABASE_URL %q does not point at the db service", name, u)
		}
		if s.Environment["LEADER_TTL"] == "" {
			t.Errorf("%s: no LEADER_TTL", name)
		}
		if s.DependsOn["db"].Condition != "service_healthy" {
			t.Errorf("%s: does not wait for a healthy db", name)
		}
	}
	if replicas != 2 {
		t.Errorf("%d replicas, want 2", replicas)
	}
}

// composeDefault is the value compose gives "${VAR:-default}" with VAR
// unset; any other string stands for itself.
func composeDefault(s string) string {
	if m := regexp.MustCompile(`^\$\{[A-Z_]+:-(.*)\}$`).FindStringSubmatch(s); m != nil {
		return m[1]
	}
	return s
}

// TestDockerfile_OfficialImagesByDefault: the Dockerfile's base images are
// build arguments (for the local stand-ins) whose defaults are the official
// images, and both stages use them.
func TestDockerfile_OfficialImagesByDefault(t *testing.T) {
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	args := map[string]string{}
	var froms []string
	for _, line := range strings.Split(string(b), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		switch fields[0] {
		case "ARG":
			if k, v, ok := strings.Cut(fields[1], "="); ok {
				args[k] = v
			}
		case "FROM":
			froms = append(froms, strings.Join(fields[1:], " "))
		}
	}
	want := map[string]string{
		"GO_IMAGE":      "golang:1.26",
		"RUNTIME_IMAGE": "gcr.io/distroless/static-debian12:nonroot",
	}
	if !maps.Equal(args, want) {
		t.Errorf("Dockerfile ARG defaults %q, want %q", args, want)
	}
	if want := []string{"${GO_IMAGE} AS build", "${RUNTIME_IMAGE}"}; !slices.Equal(froms, want) {
		t.Errorf("Dockerfile FROM lines %q, want %q", froms, want)
	}
}
