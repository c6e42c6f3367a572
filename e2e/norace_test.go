//go:build !race

package e2e

// raceEnabled is whether the test binary has the race detector: the
// console is then built with it too.
const raceEnabled = false
