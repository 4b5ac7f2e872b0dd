// Package sdkcheck holds the tests of the Go SDK (the module starsbot/sdk
// in sdk/). They live in the main module so that `go test ./...` runs them,
// and they run the SDK against the real API server (package api) on a
// real bbolt store (shop/shoptest). The package has no code of its own.
package sdkcheck
