package api

import (
	"strconv"

	"starsbot/shop"
)

// nanoJSON is a TON amount as its exact integer of nanoTON in a JSON
// string ("418000000"): the `*_nanoton` sibling of every `*_ton` number in
// the orders dialect. A string, because a JSON number that large is not
// exact in a float64 (nor in JavaScript), and a whole number, so that a
// client needs no decimal type to get it exact: strconv.ParseInt, BigInt.
type nanoJSON shop.NanoTON

// MarshalJSON writes n as a quoted base-10 integer, "-" before a negative one.
func (n nanoJSON) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 22)
	b = append(b, '"')
	b = strconv.AppendInt(b, int64(n), 10)
	return append(b, '"'), nil
}
