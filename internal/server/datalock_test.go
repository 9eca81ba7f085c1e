package server

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestDataLock: a held directory refuses a second holder, naming the
// first; released, it is free again; the lock file is private.
func TestDataLock(t *testing.T) {
	dir := t.TempDir()
	first, err := lockDataDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = lockDataDir(dir)
	if !errors.Is(err, ErrDataDirInUse) || !strings.Contains(err.Error(), "process "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("second lock: %v; want ErrDataDirInUse naming pid %d", err, os.Getpid())
	}
	if st, err := os.Stat(filepath.Join(dir, LockFile)); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("lock file: %v, %v; want mode 0600", st, err)
	}
	first.release()
	again, err := lockDataDir(dir)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	again.release()
	again.release() // twice is harmless
}

func TestDataLockNamesAStartingHolder(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, LockFile), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := describeOwner(filepath.Join(dir, LockFile)); !strings.Contains(got, "still starting") {
		t.Errorf("empty lock file: %q", got)
	}
}
