package main

import (
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestComposeFile: compose.yaml parses (Docker cannot run in CI) and
// describes what README's "Several replicas" says: PostgreSQL 16 with a
// healthcheck, two replicas built from the Dockerfile on it, with
// LEADER_TTL, waiting for the database to be healthy.
func TestComposeFile(t *testing.T) {
	b, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Services map[string]struct {
			Image       string            `yaml:"image"`
			Build       string            `yaml:"build"`
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
	if !ok || !strings.HasPrefix(db.Image, "postgres:16") || db.Healthcheck == nil {
		t.Fatalf("db service: %+v, want postgres:16 with a healthcheck", db)
	}
	replicas := 0
	for name, s := range f.Services {
		if name == "db" {
			continue
		}
		replicas++
		if s.Build != "." {
			t.Errorf("%s: build %q, want the Dockerfile (.)", name, s.Build)
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
