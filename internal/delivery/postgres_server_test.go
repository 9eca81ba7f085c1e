package delivery

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
)

// pgServer is a PostgreSQL server the tests start in a temporary
// directory, as .ci/postgres does, run as the user "postgres" when the
// tests run as root.
type pgServer struct {
	bin, dir string
	port     int
	cred     *syscall.Credential
}

// pgBin finds the directory of initdb and pg_ctl.
func pgBin() (string, error) {
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Dir(real), nil
		}
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(matches) == 0 {
		return "", errors.New("no PostgreSQL binaries (pg_ctl, initdb); install postgresql or set STADION_TEST_POSTGRES (see .ci/postgres)")
	}
	return filepath.Dir(matches[len(matches)-1]), nil
}

func startPGServer() (*pgServer, error) {
	bin, err := pgBin()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "stadion-pg-")
	if err != nil {
		return nil, err
	}
	s := &pgServer{bin: bin, dir: dir}
	if os.Geteuid() == 0 {
		if err := s.dropRoot(); err != nil {
			return nil, err
		}
	}
	if err := s.run("initdb", "-D", s.data(), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale"); err != nil {
		return nil, err
	}
	if s.port, err = freePort(); err != nil {
		return nil, err
	}
	return s, s.start()
}

func (s *pgServer) dropRoot() error {
	u, err := user.Lookup("postgres")
	if err != nil {
		return fmt.Errorf("running as root needs the user postgres: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	if err := os.Chmod(s.dir, 0o755); err != nil {
		return err
	}
	return os.Chown(s.dir, uid, gid)
}

func (s *pgServer) data() string { return filepath.Join(s.dir, "data") }

func (s *pgServer) run(prog string, args ...string) error {
	cmd := exec.Command(filepath.Join(s.bin, prog), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %w\n%s", prog, err, out)
	}
	return nil
}

func (s *pgServer) start() error {
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200", s.port, s.dir)
	return s.run("pg_ctl", "-D", s.data(), "-l", filepath.Join(s.dir, "server.log"), "-w", "-o", opts, "start")
}

// stop stops the server at once (immediate: no clean shutdown).
func (s *pgServer) stop() error {
	return s.run("pg_ctl", "-D", s.data(), "-m", "immediate", "-w", "stop")
}

func (s *pgServer) url() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", s.port)
}

func (s *pgServer) close() {
	_ = s.stop()
	os.RemoveAll(s.dir)
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// sharedPG is the server the tests start when STADION_TEST_POSTGRES is
// unset; TestMain stops it.
var sharedPG struct {
	once sync.Once
	srv  *pgServer
	err  error
}

// postgresURL returns the database the tests use: STADION_TEST_POSTGRES,
// or a server started here. With neither possible the test is skipped
// with the reason (CI always sets the variable).
func postgresURL(t testing.TB) string {
	if u := os.Getenv("STADION_TEST_POSTGRES"); u != "" {
		return u
	}
	sharedPG.once.Do(func() { sharedPG.srv, sharedPG.err = startPGServer() })
	if sharedPG.err != nil {
		t.Skipf("PostgreSQL unavailable: STADION_TEST_POSTGRES is unset and starting a server failed: %v", sharedPG.err)
	}
	return sharedPG.srv.url()
}

// ownPGServer starts a server only this test uses (it may stop it).
func ownPGServer(t testing.TB) *pgServer {
	s, err := startPGServer()
	if err != nil {
		if os.Getenv("STADION_TEST_POSTGRES") != "" {
			t.Fatalf("starting PostgreSQL: %v", err)
		}
		t.Skipf("PostgreSQL binaries unavailable: %v", err)
	}
	t.Cleanup(s.close)
	return s
}

// freshSchema makes an empty schema in the database at base and returns a
// URL whose connections use it.
func freshSchema(t testing.TB, base string) string {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	defer conn.Close(ctx)
	name := fmt.Sprintf("t_%d_%d", os.Getpid(), schemaSeq.Add(1))
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if c, err := pgx.Connect(context.Background(), base); err == nil {
			c.Exec(context.Background(), "DROP SCHEMA "+name+" CASCADE")
			c.Close(context.Background())
		}
	})
	return withParam(base, "search_path", name)
}
