//go:build !race

package sandbox

// raceEnabled reports a -race build; see race.go.
const raceEnabled = false
