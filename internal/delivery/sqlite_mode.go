package delivery

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
)

// privateSQLite makes the SQLite file at path (and its -wal and -shm
// companions, if present) readable by this user only: sink databases hold
// personal data. A missing file is created empty with mode 0600, so SQLite
// never creates it with the umask's mode; SQLite gives the companions the
// main file's mode. A file found with a looser mode is tightened, with a
// log line saying so.
func privateSQLite(path string, log *slog.Logger) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		return f.Close()
	case !errors.Is(err, fs.ErrExist):
		return fmt.Errorf("sqlite %s: %w", path, err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		st, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) && p != path {
			continue
		}
		if err != nil {
			return fmt.Errorf("sqlite %s: %w", p, err)
		}
		if st.Mode().Perm()&0o077 == 0 {
			continue
		}
		log.Warn("sink database file was readable by others; setting mode 0600", "path", p, "mode", st.Mode().Perm().String())
		if err := os.Chmod(p, 0o600); err != nil {
			return fmt.Errorf("sqlite %s: %w", p, err)
		}
	}
	return nil
}
