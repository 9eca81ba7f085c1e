package delivery

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stadion-dev/stadion/internal/config"
)

// TestSQLiteFilesArePrivate opens a sink database through OpenStore, as
// the sinks do, under a permissive umask: the file and its WAL companions
// are 0600. A file found world-readable is tightened, with a log line.
func TestSQLiteFilesArePrivate(t *testing.T) {
	old := syscall.Umask(0o002)
	t.Cleanup(func() { syscall.Umask(old) })
	dir := t.TempDir()
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))

	t.Run("created", func(t *testing.T) {
		st, err := OpenStore(context.Background(), "sqlite://new.db", dir, log)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		tbl := &Table{Name: "people", Columns: []Column{{Name: "id", Type: config.TypeText}}, Key: []string{"id"}}
		if err := st.EnsureTable(context.Background(), tbl); err != nil {
			t.Fatal(err)
		}
		if err := st.Upsert(context.Background(), tbl, []Row{{Seq: 1, Values: []any{"NOR-1"}}}); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"new.db", "new.db-wal", "new.db-shm"} {
			fi, err := os.Stat(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("%s mode = %v, want 0600", name, fi.Mode().Perm())
			}
		}
	})
	t.Run("tightened", func(t *testing.T) {
		path := filepath.Join(dir, "loose.db")
		if err := os.WriteFile(path, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		st, err := OpenStore(context.Background(), "sqlite://loose.db", dir, log)
		if err != nil {
			t.Fatal(err)
		}
		st.Close()
		fi, _ := os.Stat(path)
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("loose.db mode = %v, want 0600", fi.Mode().Perm())
		}
		if !strings.Contains(logs.String(), "setting mode 0600") || !strings.Contains(logs.String(), "loose.db") {
			t.Errorf("no log line about the tightened file:\n%s", logs.String())
		}
	})
}
