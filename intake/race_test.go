//go:build race

package intake_test

// raceDetector: the tests run under -race.
const raceDetector = true
