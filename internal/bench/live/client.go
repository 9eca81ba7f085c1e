package live

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/stadion-dev/stadion/internal/bench/rig"
	"github.com/stadion-dev/stadion/internal/cmdio"
)

// benchLiveClientCmd is the load generator of bench live, run by it as a
// separate process so that the load's CPU and file descriptors are its
// own. It reads one JSON request per line on stdin and answers each with
// one JSON line on stdout.
var ClientCommand = &rig.Command{
	Name:   "live-client",
	Short:  "the load generator of bench live (started by it)",
	Hidden: true,
	Long: `Speaks MQTT 3.1.1 to a broker on behalf of 'stadion bench live', which
starts it and drives it with one JSON request per line on stdin (storm,
ping, close, load, step, unload); it answers each with a JSON line.`,
	Example: `stadion bench live   # starts stadion bench live-client itself`,
	Flags: func(fs *flag.FlagSet) func(context.Context, cmdio.Env, []string) error {
		return func(ctx context.Context, env cmdio.Env, args []string) error {
			if len(args) > 0 {
				return cmdio.UsageErr("bench live-client takes no arguments")
			}
			rig.RaiseFileLimit()
			return serveLiveClient(ctx, env.Stdin, env.Stdout)
		}
	},
}

// liveReq is one request to the load generator.
type liveReq struct {
	Op          string     `json:"op"` // storm, ping, close, load, step, post, unload, reconnect
	Addr        string     `json:"addr,omitempty"`
	Conns       int        `json:"conns,omitempty"`
	Concurrency int        `json:"concurrency,omitempty"`
	Filter      string     `json:"filter,omitempty"`
	TimeoutMS   int        `json:"timeout_ms,omitempty"`
	PostTopic   string     `json:"post_topic,omitempty"`
	Posters     []liveCred `json:"posters,omitempty"`
	Rate        float64    `json:"rate,omitempty"`
	WarmupMS    int        `json:"warmup_ms,omitempty"`
	MeasureMS   int        `json:"measure_ms,omitempty"`
	Size        int        `json:"size,omitempty"`
	// QoS is the subscribers' and posters' QoS; Keep connects persistent
	// sessions (cleanSession=false) with client ids Prefix<i>.
	QoS    int    `json:"qos,omitempty"`
	Keep   bool   `json:"keep,omitempty"`
	Prefix string `json:"prefix,omitempty"`
}

// liveCred is how one publishing connection logs in; no password is an
// anonymous connection.
type liveCred struct {
	User     string `json:"user"`
	Password string `json:"password,omitempty"`
}

// liveResp is the answer to a liveReq.
type liveResp struct {
	Err   string       `json:"err,omitempty"`
	Storm *stormResult `json:"storm,omitempty"`
	Alive int          `json:"alive,omitempty"`
	Step  *stepResult  `json:"step,omitempty"`
	// Reconnect is the reconnect storm's count; Received answers post.
	Reconnect *reconnectResult `json:"reconnect,omitempty"`
	Received  int64            `json:"received,omitempty"`
	// Retried is how many subscribers of a load had to connect again.
	Retried int `json:"retried,omitempty"`
}

func serveLiveClient(ctx context.Context, in io.Reader, out io.Writer) error {
	g := &liveLoad{}
	defer g.shutdown()
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	enc := json.NewEncoder(out)
	for sc.Scan() {
		var req liveReq
		var resp liveResp
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			resp.Err = "bad request: " + err.Error()
		} else if err := g.handle(ctx, req, &resp); err != nil {
			resp.Err = err.Error()
		}
		if err := enc.Encode(&resp); err != nil {
			return err
		}
		if req.Op == "exit" {
			return nil
		}
	}
	return sc.Err()
}

// liveLoad is the load generator's state between requests.
type liveLoad struct {
	idle []*idleConn // from the last storm
	load *fanLoad    // from the last load request
	rec  *subReaders // the sessions of the last reconnect storm
}

func (g *liveLoad) handle(ctx context.Context, req liveReq, resp *liveResp) error {
	switch req.Op {
	case "storm":
		g.closeIdle()
		var err error
		g.idle, resp.Storm, err = storm(ctx, req)
		return err
	case "ping":
		resp.Alive = pingAll(g.idle, req)
	case "close":
		g.closeIdle()
	case "load":
		g.unload()
		var err error
		g.load, err = newFanLoad(ctx, req)
		if g.load != nil {
			resp.Retried = g.load.retried
		}
		return err
	case "step":
		if g.load == nil {
			return errors.New("step before load")
		}
		resp.Step = g.load.step(ctx, req)
	case "unload":
		g.unload()
	case "post":
		if g.load == nil {
			return errors.New("post before load")
		}
		resp.Received = g.load.postOwed(ctx, req)
	case "reconnect":
		g.closeRec()
		var err error
		g.rec, resp.Reconnect, err = reconnectStorm(ctx, req)
		return err
	case "exit":
	default:
		return fmt.Errorf("unknown op %q", req.Op)
	}
	return nil
}

func (g *liveLoad) closeIdle() {
	closeAll(g.idle)
	g.idle = nil
}

func (g *liveLoad) unload() {
	if g.load != nil {
		g.load.close()
		g.load = nil
	}
}

func (g *liveLoad) closeRec() {
	if g.rec != nil {
		g.rec.close()
		g.rec = nil
	}
}

func (g *liveLoad) shutdown() { g.closeIdle(); g.unload(); g.closeRec() }

// liveClient is the parent's end of a load generator process.
type liveClient struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Scanner
	stderr *rig.TailBuffer
}

func startLiveClient(bin string) (*liveClient, error) {
	c := &liveClient{stderr: &rig.TailBuffer{Max: 8 << 10}}
	c.cmd = exec.Command(bin, "bench", "live-client")
	c.cmd.Stderr = c.stderr
	rig.DieWithParent(c.cmd)
	var err error
	if c.in, err = c.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	c.out = bufio.NewScanner(stdout)
	c.out.Buffer(make([]byte, 64<<10), 16<<20)
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the load generator: %w", err)
	}
	return c, nil
}

func (c *liveClient) pid() int { return c.cmd.Process.Pid }

// call sends req and waits for its answer.
func (c *liveClient) call(req liveReq) (*liveResp, error) {
	raw, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	if _, err := c.in.Write(append(raw, '\n')); err != nil {
		return nil, fmt.Errorf("load generator: %w\n%s", err, c.stderr)
	}
	if !c.out.Scan() {
		return nil, fmt.Errorf("load generator exited (%v):\n%s", c.out.Err(), c.stderr)
	}
	var resp liveResp
	if err := json.Unmarshal(c.out.Bytes(), &resp); err != nil {
		return nil, fmt.Errorf("load generator: %w", err)
	}
	if resp.Err != "" {
		return &resp, fmt.Errorf("load generator: %s", strings.TrimSpace(resp.Err))
	}
	return &resp, nil
}

// stop asks the load generator to close everything and exit.
func (c *liveClient) stop() {
	c.call(liveReq{Op: "exit"})
	c.in.Close()
	done := make(chan struct{})
	go func() { c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		c.cmd.Process.Signal(os.Kill)
		<-done
	}
}
