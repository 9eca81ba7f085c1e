package mqtt

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
)

// readBufSize is the input buffer of a connection that is sending.
const readBufSize = 2048

// readBufs holds the input buffers of connections with nothing to read.
var readBufs = sync.Pool{New: func() any { b := make([]byte, readBufSize); return &b }}

// connReader buffers a connection's input. On a socket, the buffer is
// taken from a pool when bytes arrive and given back as soon as it is
// empty and the socket has nothing more (the read that finds nothing is
// the one the runtime makes anyway before it parks the goroutine), so an
// idle client holds no buffer. Other connections (WebSocket) keep a
// buffer of their own. Only the connection's reader goroutine uses it.
type connReader struct {
	nc   net.Conn
	raw  syscall.RawConn // nil when nc is not a socket
	buf  *[]byte
	r, w int
}

func newConnReader(nc net.Conn) *connReader {
	cr := &connReader{nc: nc}
	if sc, ok := nc.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			cr.raw = raw
		}
	}
	return cr
}

// ReadByte returns the next byte.
func (cr *connReader) ReadByte() (byte, error) {
	if cr.r == cr.w {
		if err := cr.fill(); err != nil {
			return 0, err
		}
	}
	b := (*cr.buf)[cr.r]
	cr.r++
	return b, nil
}

// ready waits until a byte is buffered.
func (cr *connReader) ready() error {
	if cr.r < cr.w {
		return nil
	}
	return cr.fill()
}

// poll reports whether a byte is buffered or arrives without waiting;
// false (nothing to read) leaves no buffer held. An error is left for
// the next read to find.
func (cr *connReader) poll() bool {
	if cr.r < cr.w || cr.raw == nil {
		return true
	}
	ready := true
	err := cr.raw.Read(func(fd uintptr) bool {
		cr.r, cr.w = 0, 0
		if cr.buf == nil {
			cr.buf = readBufs.Get().(*[]byte)
		}
		n, err := syscall.Read(int(fd), *cr.buf)
		switch {
		case n > 0:
			cr.w = n
		case errors.Is(err, syscall.EAGAIN), errors.Is(err, syscall.EINTR):
			cr.release()
			ready = false
		}
		return true // never wait
	})
	return ready || err != nil
}

// peekByte returns the next byte without taking it.
func (cr *connReader) peekByte() (byte, error) {
	b, err := cr.ReadByte()
	if err == nil {
		cr.r--
	}
	return b, err
}

// Read copies buffered bytes into p, reading when none are buffered.
func (cr *connReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if cr.r == cr.w {
		if err := cr.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, (*cr.buf)[cr.r:cr.w])
	cr.r += n
	return n, nil
}

// fill reads into the empty buffer: at least one byte, or an error.
func (cr *connReader) fill() error {
	cr.r, cr.w = 0, 0
	if cr.raw == nil {
		if cr.buf == nil {
			b := make([]byte, readBufSize)
			cr.buf = &b
		}
		for range 100 {
			n, err := cr.nc.Read(*cr.buf)
			if n > 0 {
				cr.w = n
				return nil
			}
			if err != nil {
				return err
			}
		}
		return io.ErrNoProgress
	}
	var n int
	var rerr error
	err := cr.raw.Read(func(fd uintptr) bool {
		if cr.buf == nil {
			cr.buf = readBufs.Get().(*[]byte)
		}
		for {
			n, rerr = syscall.Read(int(fd), *cr.buf)
			if !errors.Is(rerr, syscall.EINTR) {
				break
			}
		}
		if errors.Is(rerr, syscall.EAGAIN) {
			cr.release()
			return false // wait until the socket is readable, then call again
		}
		return true
	})
	switch {
	case err != nil: // deadline, or closed
		cr.release()
		return err
	case rerr != nil:
		return os.NewSyscallError("read", rerr)
	case n == 0:
		return io.EOF
	}
	cr.w = n
	return nil
}

// release gives the buffer back to the pool; the buffer is empty.
func (cr *connReader) release() {
	if cr.buf != nil && cr.raw != nil {
		readBufs.Put(cr.buf)
		cr.buf = nil
	}
}
