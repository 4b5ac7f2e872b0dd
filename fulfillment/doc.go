// Package fulfillment delivers paid orders. A Worker takes them from the
// shop's durable queue and hands each to a Provider: Fragment (buys on
// fragment.com and pays from the hot wallet), ManualProvider (admins deliver by
// hand) or Sandbox (scripted outcomes, no real delivery). Admins are told
// through a Notifier; buyers through the shop's events.
package fulfillment
