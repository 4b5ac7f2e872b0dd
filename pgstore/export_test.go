package pgstore

// LeaderKeyOf exposes leaderKey to the tests.
var LeaderKeyOf = leaderKey
