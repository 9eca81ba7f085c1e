package deadletter_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stadion-dev/stadion/internal/deadletter"
)

func TestSchedule(t *testing.T) {
	steps := deadletter.Schedule{Steps: []time.Duration{10 * time.Second, time.Minute}, MaxAttempts: 4}
	for _, c := range []struct {
		attempt int
		want    time.Duration
	}{{0, 10 * time.Second}, {1, 10 * time.Second}, {2, time.Minute}, {3, time.Minute}, {40, time.Minute}} {
		if got := steps.Delay(c.attempt); got != c.want {
			t.Errorf("steps: delay after attempt %d = %s, want %s", c.attempt, got, c.want)
		}
	}
	for attempt, want := range []bool{false, false, false, false, true, true} {
		if got := steps.GiveUp(attempt); got != want {
			t.Errorf("give up after attempt %d = %v", attempt, got)
		}
	}
	if deadletter.Exponential(time.Millisecond, time.Second).GiveUp(1 << 20) {
		t.Error("a schedule without max attempts gave up")
	}
	if bo := steps.EngineBackOff(30 * time.Second); fmt.Sprint(bo) != "[40s 1m30s]" {
		t.Errorf("engine backoff %v", bo)
	}
	short := deadletter.Schedule{Steps: []time.Duration{time.Second, time.Second, time.Second}, MaxAttempts: 2}
	if bo := short.EngineBackOff(time.Second); len(bo) != 2 {
		t.Errorf("engine backoff longer than the attempts (the engine refuses that): %v", bo)
	}

	exp := deadletter.Schedule{Min: 50 * time.Millisecond, Max: 15 * time.Second}
	for attempt, want := range map[int]time.Duration{1: 50 * time.Millisecond, 2: 100 * time.Millisecond, 5: 800 * time.Millisecond, 9: 12800 * time.Millisecond, 10: 15 * time.Second, 1000: 15 * time.Second} {
		if got := exp.Delay(attempt); got != want {
			t.Errorf("exponential: delay after attempt %d = %s, want %s", attempt, got, want)
		}
	}
	jit := deadletter.Exponential(50*time.Millisecond, 15*time.Second)
	for attempt := 1; attempt <= 12; attempt++ {
		full := exp.Delay(attempt)
		for range 50 {
			if got := jit.Delay(attempt); got < full/2 || got > full {
				t.Fatalf("jittered delay after attempt %d = %s, outside [%s, %s]", attempt, got, full/2, full)
			}
		}
	}
}

func TestBackoffWaitEndsWithContext(t *testing.T) {
	bo := deadletter.Schedule{Steps: []time.Duration{time.Hour}}.Backoff()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if bo.Wait(ctx) {
		t.Fatal("a wait on an ended context reported the delay as passed")
	}
	quick := deadletter.Schedule{Steps: []time.Duration{time.Millisecond}}.Backoff()
	if !quick.Wait(context.Background()) {
		t.Fatal("a 1ms wait did not pass")
	}
}
