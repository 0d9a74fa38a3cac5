//go:build race

package sandbox

// raceEnabled reports a -race build. The race detector maps its shadow memory as
// ordinary writable data, so a worker under RLIMIT_DATA dies on its first allocations;
// such builds rely on the parent's RSS watch alone.
const raceEnabled = true
