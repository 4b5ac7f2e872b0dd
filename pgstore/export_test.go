package pgstore

// LeaderKeyOf exposes leaderKey to the tests.
var LeaderKeyOf = leaderKey

// OpenConfig exposes open to the tests (a pool configuration with a
// tracer or a counting dialer).
var OpenConfig = open

// SessionKeyOf exposes sessionKey to the tests.
var SessionKeyOf = sessionKey
