package capture

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/stadion-dev/stadion/internal/bench/rig"
	"github.com/stadion-dev/stadion/internal/loop"
)

// streams are the benchmark's live HLS sources: one ffmpeg per stream
// re-muxing a pre-encoded clip in real time, served over loopback HTTP.
type streams struct {
	urls []string
	cmds []*exec.Cmd
	srv  *http.Server
}

// startStreams encodes the clip once, starts the live generators and
// returns when every playlist lists three segments.
func startStreams(ctx context.Context, dir string, n int) (*streams, error) {
	clip := filepath.Join(dir, "clip.ts")
	enc := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", "10", "-c:v", "libx264", "-preset", "veryfast", "-g", "25", "-keyint_min", "25", "-sc_threshold", "0",
		"-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k", "-f", "mpegts", clip)
	if out, err := enc.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("encoding the test clip (is ffmpeg installed?): %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	root := filepath.Join(dir, "live")
	s := &streams{srv: &http.Server{Handler: http.FileServer(http.Dir(root)), ReadHeaderTimeout: 10 * time.Second}}
	go func() { _ = s.srv.Serve(ln) }()
	for i := range n {
		sdir := filepath.Join(root, fmt.Sprintf("s%02d", i))
		if err := os.MkdirAll(sdir, 0o755); err != nil {
			s.stop()
			return nil, err
		}
		cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", clip,
			"-c", "copy", "-f", "hls", "-hls_time", "1", "-hls_list_size", "6", "-hls_flags", "delete_segments",
			filepath.Join(sdir, "index.m3u8"))
		rig.DieWithParent(cmd)
		if err := cmd.Start(); err != nil {
			s.stop()
			return nil, fmt.Errorf("starting stream %d: %w", i, err)
		}
		s.cmds = append(s.cmds, cmd)
		s.urls = append(s.urls, fmt.Sprintf("http://%s/s%02d/index.m3u8", ln.Addr(), i))
	}
	if err := s.waitLive(ctx, root); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

func (s *streams) waitLive(ctx context.Context, root string) error {
	deadline := time.Now().Add(30 * time.Second)
	for i := range s.urls {
		playlist := filepath.Join(root, fmt.Sprintf("s%02d", i), "index.m3u8")
		for {
			raw, _ := os.ReadFile(playlist)
			if strings.Count(string(raw), "#EXTINF") >= 3 {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("stream %d produced no live playlist within 30s", i)
			}
			if !loop.Sleep(ctx, 100*time.Millisecond) {
				return ctx.Err()
			}
		}
	}
	return nil
}

// cpu is the CPU time the generators have used.
func (s *streams) cpu() time.Duration {
	var total time.Duration
	for _, c := range s.cmds {
		if d, err := rig.ProcCPU(c.Process.Pid); err == nil {
			total += d
		}
	}
	return total
}

func (s *streams) stop() {
	for _, c := range s.cmds {
		_ = c.Process.Kill()
		_ = c.Wait()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		_ = s.srv.Close()
	}
}
