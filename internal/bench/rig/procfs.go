package rig

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// ProcMem reads a process's resident memory now and at its peak (VmRSS and
// VmHWM of /proc/PID/status), in bytes. Linux only.
func ProcMem(pid int) (rss, peak uint64, err error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("memory of process %d: %w", pid, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("memory of process %d: %s: %w", pid, name, err)
		}
		if name == "VmRSS" {
			rss = kb << 10
		} else {
			peak = kb << 10
		}
	}
	if rss == 0 || peak == 0 {
		return 0, 0, fmt.Errorf("memory of process %d: no VmRSS/VmHWM in /proc", pid)
	}
	return rss, peak, nil
}

// UserHZ is the unit of the CPU times in /proc/PID/stat: 100 on every
// Linux architecture Go supports.
const UserHZ = 100

// ProcCPU returns the CPU time (user + system, all threads) a process has
// used, from /proc/PID/stat. Linux only.
func ProcCPU(pid int) (time.Duration, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("CPU time of process %d: %w", pid, err)
	}
	// The command name (field 2) may hold spaces; fields after it follow
	// its closing parenthesis: state is field 3, utime 14, stime 15.
	var f []string
	if i := bytes.LastIndexByte(raw, ')'); i >= 0 {
		f = strings.Fields(string(raw[i+1:]))
	}
	if len(f) < 13 {
		return 0, fmt.Errorf("CPU time of process %d: unexpected /proc/%d/stat", pid, pid)
	}
	var ticks uint64
	for _, s := range f[11:13] {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("CPU time of process %d: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / UserHZ, nil
}
