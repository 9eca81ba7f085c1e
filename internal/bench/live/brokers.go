package live

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/stadion-dev/stadion/internal/bench/rig"
)

// liveBroker is a broker under test: its MQTT address, the process whose
// memory and CPU are its own, and the topics of the room.
type liveBroker struct {
	name      string
	addr      string // MQTT host:port
	pid       int
	comments  string // the topic viewers subscribe to
	post      string // the topic posters publish to
	posters   func(ctx context.Context, n int) ([]liveCred, error)
	stop      func() error
	coldStart time.Duration
}

// Topics of the benchmark's room.
const (
	liveRoom     = "bench"
	liveComments = "live/" + liveRoom + "/comments"
	livePost     = "live/" + liveRoom + "/post"
)

// anonymousPosters are n anonymous publishing connections.
func anonymousPosters(_ context.Context, n int) ([]liveCred, error) {
	creds := make([]liveCred, n)
	for i := range creds {
		creds[i].User = "p" + strconv.Itoa(i)
	}
	return creds, nil
}

// brokerProc is a broker's process.
type brokerProc struct {
	cmd     *exec.Cmd
	stderr  *rig.TailBuffer
	exited  chan struct{}
	waitErr error
}

func startBrokerProc(name string, args ...string) (*brokerProc, error) {
	p := &brokerProc{stderr: &rig.TailBuffer{Max: 8 << 10}, exited: make(chan struct{})}
	p.cmd = exec.Command(name, args...)
	p.cmd.Stderr = p.stderr
	p.cmd.Stdout = p.stderr
	rig.DieWithParent(p.cmd)
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { p.waitErr = p.cmd.Wait(); close(p.exited) }()
	return p, nil
}

// waitMQTT polls until addr accepts an MQTT connection.
func (p *brokerProc) waitMQTT(ctx context.Context, addr string) error {
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; ; i++ {
		c, err := dialMQTT(addr, "bench-ready-"+strconv.Itoa(i), liveCred{}, "", time.Second)
		if err == nil {
			c.Write(rig.MQTTDisconnectPacket)
			c.Close()
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("exited before it was ready (%v):\n%s", p.waitErr, p.stderr)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no MQTT at %s within 30s: %v\n%s", addr, err, p.stderr)
		}
	}
}

// stop sends SIGTERM and kills the process if it has not exited in 10s.
func (p *brokerProc) stop() error {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return nil
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
		return errors.New("did not stop within 10s of SIGTERM and was killed")
	}
}

// freePort finds a free loopback port for a broker that cannot report the
// one it took.
func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// startMosquitto runs Mosquitto 2 with a throwaway configuration: one
// loopback listener, anonymous clients, no persistence, queues large
// enough never to drop a QoS 0 message for lack of room, Nagle off (as
// stadion and the load generator have it).
func startMosquitto(ctx context.Context, bin, dir string) (*liveBroker, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	_, port, _ := net.SplitHostPort(addr)
	conf := filepath.Join(dir, "mosquitto.conf")
	text := "listener " + port + " 127.0.0.1\nallow_anonymous true\npersistence false\n" +
		"max_queued_messages 1000000\nmax_queued_bytes 0\nset_tcp_nodelay true\nlog_dest stderr\nlog_type error\nlog_type warning\n"
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		return nil, err
	}
	start := time.Now()
	p, err := startBrokerProc(bin, "-c", conf)
	if err != nil {
		return nil, fmt.Errorf("starting mosquitto (%s; Debian package mosquitto, or pass --mosquitto): %w", bin, err)
	}
	if err := p.waitMQTT(ctx, addr); err != nil {
		p.stop()
		return nil, fmt.Errorf("mosquitto: %w", err)
	}
	return &liveBroker{name: "mosquitto", addr: addr, pid: p.cmd.Process.Pid, comments: liveComments, post: liveComments,
		posters: anonymousPosters, stop: p.stop, coldStart: time.Since(start)}, nil
}

// startNATSMQTT runs the embedded NATS server's MQTT in a child process of
// this binary (bench live-nats).
func startNATSMQTT(ctx context.Context, bin, dir, sync string) (*liveBroker, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	p, err := startBrokerProc(bin, "bench", "live-nats", "--mqtt", addr, "--store", filepath.Join(dir, "nats"), "--sync", sync)
	if err != nil {
		return nil, fmt.Errorf("starting the NATS MQTT child: %w", err)
	}
	if err := p.waitMQTT(ctx, addr); err != nil {
		p.stop()
		return nil, fmt.Errorf("nats: %w", err)
	}
	return &liveBroker{name: "nats", addr: addr, pid: p.cmd.Process.Pid, comments: liveComments, post: liveComments,
		posters: anonymousPosters, stop: p.stop, coldStart: time.Since(start)}, nil
}
