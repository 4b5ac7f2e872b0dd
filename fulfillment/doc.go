// Package fulfillment delivers paid orders through a provider: fragment.com,
// an admin by hand, or the sandbox. This build has the sandbox provider's
// recipient lookup; the worker and the other providers come with their
// issue.
package fulfillment
