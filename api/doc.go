// Package api is the partner REST API: a thin front door onto shop.Service
// that serves two public contracts on one server.
//
//   - Keys starting "osk_" speak the orders contract (orders-api-v1): every
//     response is wrapped in {"ok": true, "data": ...} or
//     {"ok": false, "error_code", "error_message", "data": null}.
//   - Keys starting "sk_" speak the simple contract (simple-api-v1): plain
//     response shapes, errors as {"status": "error", "error_code", "message"}.
//
// Where the two contracts share a path (GET /api/v1/balance) the key's prefix
// picks the handler. No money rule lives here: handlers decode and validate
// the request's shape, call the Shop, and encode the result.
package api
