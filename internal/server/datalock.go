package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// LockFile is the name of the lock a server holds in its data directory
// for as long as it runs.
const LockFile = "stadion.lock"

// ErrDataDirInUse means another process serves from the data directory.
var ErrDataDirInUse = errors.New("data directory in use")

// lockOwner is what the holder writes into the lock file, so that a second
// process can name it.
type lockOwner struct {
	PID     int       `json:"pid"`
	Command string    `json:"command"`
	Started time.Time `json:"started"`
}

// dataLock is an exclusive lock on a data directory: one `stadion up` or
// `stadion edge` per directory, so that two processes never share an
// engine store, a SQLite file or an admin key. The kernel releases it when
// the process ends, however it ends (kill -9 included), so a lock is never
// stale.
type dataLock struct{ f *os.File }

// lockDataDir takes dir's lock or fails with ErrDataDirInUse naming the
// process that holds it. The lock file is closed on exec, so child
// processes (ffmpeg) never inherit it.
func lockDataDir(dir string) (*dataLock, error) {
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("data directory %s: lock: %w", dir, err)
	}
	if err := flockExclusive(f); err != nil {
		f.Close()
		if !errors.Is(err, errLocked) {
			return nil, fmt.Errorf("data directory %s: lock %s: %w", dir, path, err)
		}
		return nil, fmt.Errorf("%w: %s is used by %s; stop it, or give this one another --data", ErrDataDirInUse, dir, describeOwner(path))
	}
	owner := lockOwner{PID: os.Getpid(), Command: strings.Join(os.Args, " "), Started: time.Now().UTC().Truncate(time.Second)}
	raw, _ := json.Marshal(owner)
	// Naming the holder is a courtesy to the next process: the lock holds
	// whether or not it is written.
	_ = f.Truncate(0)
	_, _ = f.WriteAt(append(raw, '\n'), 0)
	return &dataLock{f: f}, nil
}

// describeOwner names the process in a held lock file.
func describeOwner(path string) string {
	raw, err := os.ReadFile(path)
	var o lockOwner
	if err != nil || json.Unmarshal(raw, &o) != nil || o.PID == 0 {
		return "another process (it is still starting)"
	}
	return fmt.Sprintf("process %d (%s, started %s)", o.PID, o.Command, o.Started.Format(time.RFC3339))
}

// release gives the directory up. The file stays: removing it would let a
// process that opened it just before lock a file nobody else can see.
func (l *dataLock) release() {
	if l != nil && l.f != nil {
		l.f.Close()
		l.f = nil
	}
}
