//go:build !linux

package live

import (
	"errors"
	"net"
	"sync/atomic"

	"github.com/stadion-dev/stadion/internal/bench/rig"
)

// subReaders need epoll: bench live's load generator runs on Linux only.
type subReaders struct {
	window struct{ t0, t1 atomic.Int64 }
	track  bool
}

func newSubReaders(int) (*subReaders, error) {
	return nil, errors.New("the load generator of bench live needs Linux (epoll)")
}

func (r *subReaders) add(net.Conn) error             { return errors.ErrUnsupported }
func (r *subReaders) setWindow(t0, t1 int64)         {}
func (r *subReaders) total() int64                   { return 0 }
func (r *subReaders) conns() int                     { return 0 }
func (r *subReaders) collect(h *rig.Histogram) int64 { return 0 }
func (r *subReaders) err() error                     { return nil }
func (r *subReaders) close()                         {}
func (r *subReaders) duplicates() int64              { return 0 }
