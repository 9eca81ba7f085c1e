package mqtt

import (
	"net"
	"runtime"
	"syscall"
	"testing"
)

// BenchmarkIdleViewerMemory connects b.N viewers (clean session, one QoS 0
// subscription each) and reports what each costs the server once idle:
// heap and goroutine stacks per connection, after a GC. The clients are
// raw sockets made with system calls, so that they cost this process no
// Go memory of their own.
func BenchmarkIdleViewerMemory(b *testing.B) {
	_, addr := startHub(b, Options{})
	ap, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	sa := &syscall.SockaddrInet4{Port: ap.Port}
	copy(sa.Addr[:], ap.IP.To4())
	before := idleMem()
	fds := make([]int, 0, b.N)
	b.Cleanup(func() {
		for _, fd := range fds {
			syscall.Close(fd)
		}
	})
	connect := AppendConnect(nil, &Connect{ClientID: "", CleanSession: true})
	sub := AppendSubscribe(nil, 1, Filter{Topic: "room/a/comments"})
	ack := make([]byte, 64)
	b.ResetTimer()
	for range b.N {
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			b.Fatal(err)
		}
		fds = append(fds, fd)
		tv := syscall.Timeval{Sec: 10}
		syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv)
		if err := syscall.Connect(fd, sa); err != nil {
			b.Fatal(err)
		}
		syscall.Write(fd, connect)
		syscall.Write(fd, sub)
		// CONNACK (4 bytes) and SUBACK (5 bytes).
		for got := 0; got < 9; {
			n, err := syscall.Read(fd, ack[got:])
			if n <= 0 {
				b.Fatalf("viewer %d: no CONNACK/SUBACK: %v", len(fds), err)
			}
			got += n
		}
	}
	b.StopTimer()
	after := idleMem()
	heap, stack := float64(after.heap-before.heap), float64(after.stack-before.stack)
	b.ReportMetric(heap/float64(b.N), "heap-B/viewer")
	b.ReportMetric(stack/float64(b.N), "stack-B/viewer")
	b.ReportMetric((heap+stack)/float64(b.N), "B/viewer")
}

type memUse struct{ heap, stack int64 }

// idleMem is the heap in use and the goroutine stacks after a GC (each
// viewer's SUBACK was read, so its goroutine is parked in a read).
func idleMem() memUse {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memUse{int64(ms.HeapInuse), int64(ms.StackInuse)}
}
