//go:build !race

package intake_test

const raceDetector = false
