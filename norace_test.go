//go:build !race

package hankoauth

const raceEnabled = false
