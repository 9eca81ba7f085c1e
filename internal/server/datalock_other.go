//go:build !unix

package server

import (
	"errors"
	"os"
)

var errLocked = errors.New("locked by another process")

// flockExclusive is a no-op where flock does not exist: the data
// directory is not guarded there.
func flockExclusive(*os.File) error { return nil }
