package exchange

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stadion-dev/stadion/internal/api"
	"github.com/stadion-dev/stadion/internal/deadletter"
	"github.com/stadion-dev/stadion/internal/engine"
	"github.com/stadion-dev/stadion/internal/loop"
)

// defaultSchedule is the delay before each retry, as established message
// queues use it: an event is tried len(schedule)+1 times over about four
// hours and then dead-lettered.
var defaultSchedule = []string{"10s", "30s", "1m", "2m", "3m", "4m", "5m", "6m", "7m", "8m", "9m", "10m", "20m", "30m", "1h", "2h"}

// maxScheduleSteps bounds a schedule, and maxRetryDelay each of its steps.
const (
	maxScheduleSteps = 50
	maxRetryDelay    = 24 * time.Hour
	maxAttemptsLimit = 1000
)

// RetryPolicy says when a failed event is tried again and when it is
// given up. Attempt n (1-based) that fails is retried after Schedule[n-1]
// (the last step repeats); attempt MaxAttempts that fails dead-letters it.
type RetryPolicy struct {
	Schedule    []string `json:"schedule"`
	MaxAttempts int      `json:"max_attempts"`
}

// parseRetry validates a policy, filling in the defaults.
func parseRetry(p *RetryPolicy) (RetryPolicy, error) {
	var out RetryPolicy
	if p != nil {
		out = *p
	}
	if out.Schedule == nil {
		out.Schedule = defaultSchedule
	}
	if len(out.Schedule) == 0 || len(out.Schedule) > maxScheduleSteps {
		return out, api.BadRequest(fmt.Sprintf("retry.schedule must list 1-%d delays", maxScheduleSteps))
	}
	for i, s := range out.Schedule {
		d, err := time.ParseDuration(s)
		if err != nil || d < time.Second || d > maxRetryDelay {
			return out, api.BadRequest(fmt.Sprintf("retry.schedule[%d]: must be a duration from 1s to 24h", i))
		}
		out.Schedule[i] = d.String()
	}
	if out.MaxAttempts == 0 {
		out.MaxAttempts = len(out.Schedule) + 1
	}
	if out.MaxAttempts < 1 || out.MaxAttempts > maxAttemptsLimit {
		return out, api.BadRequest(fmt.Sprintf("retry.max_attempts must be 1-%d", maxAttemptsLimit))
	}
	return out, nil
}

// schedule is the policy as the dead-letter store's retry schedule (its
// steps validated before the policy is stored).
func (p RetryPolicy) schedule() deadletter.Schedule {
	steps := make([]time.Duration, len(p.Schedule))
	for i, s := range p.Schedule {
		steps[i], _ = time.ParseDuration(s)
	}
	return deadletter.Schedule{Steps: steps, MaxAttempts: p.MaxAttempts}
}

// delay is the wait after failed attempt n (1-based).
func (p RetryPolicy) delay(attempt uint64) time.Duration {
	if len(p.Schedule) == 0 {
		return 0
	}
	return p.schedule().Delay(int(min(attempt, maxAttemptsLimit+1)))
}

// nakDelay is the delay of a nack after failed attempt n: the schedule's
// step, or none after the last attempt (there is no retry to wait for: a
// plain nack puts the event on the consumer's redelivery queue at once,
// where the next pull, or a nudge, makes the engine give it up).
func (p RetryPolicy) nakDelay(attempt uint64) time.Duration {
	if attempt >= uint64(p.MaxAttempts) {
		return 0
	}
	return p.delay(attempt)
}

// backOff is the consumer's redelivery timer per delivery: a worker has
// ackWait to settle an event, and one that neither acks nor nacks gets it
// again the schedule's delay later. The engine uses backOff[n-1] as the
// ack timeout of delivery n and repeats the last step.
func (p RetryPolicy) backOff(ackWait time.Duration) []time.Duration {
	return p.schedule().EngineBackOff(ackWait)
}

// failuresBucket keeps the last error a worker (or a webhook) reported for
// an event, keyed <subscription>.<stream>.<stream seq>, so that whichever
// replica dead-letters the event can record why. Entries expire after
// failureTTL; an event nobody nacked is dead-lettered as timed out.
const (
	failuresBucket = "stadion-sub-failures"
	failureTTL     = 7 * 24 * time.Hour
	maxErrorLen    = 2048
)

// failure is one event's failure record.
type failure struct {
	Error string    `json:"error"`
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
}

func openFailures(ctx context.Context, js jetstream.JetStream) (jetstream.KeyValue, error) {
	return js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: failuresBucket, Description: "stadion subscriptions: last error per failing event",
		History: 1, TTL: failureTTL,
	})
}

func failureKey(sub, stream string, seq uint64) string {
	return sub + "." + stream + "." + strconv.FormatUint(seq, 10)
}

// recordWait bounds how long recordFailure retries a write the engine
// refused: about one leader election of the bucket's stream on a cluster,
// whose writes have no responder until it ends.
const recordWait = 10 * time.Second

// recordFailure keeps msg as the event's last error, keeping when it first
// failed. A write refused while the bucket elects a leader is retried for
// up to recordWait, so that a failover does not leave the event's dead
// letter without its reason.
func (x *Exchange) recordFailure(ctx context.Context, key, msg string) error {
	if len(msg) > maxErrorLen {
		msg = msg[:maxErrorLen]
	}
	now := time.Now().UTC()
	f := failure{Error: msg, First: now, Last: now}
	if old, ok := x.lookupFailure(ctx, key); ok {
		f.First = old.First
	}
	raw, _ := json.Marshal(f)
	deadline := time.Now().Add(recordWait)
	for {
		_, err := x.failures.Put(ctx, key, raw)
		if err == nil || time.Now().After(deadline) || !loop.Sleep(ctx, 250*time.Millisecond) {
			return err
		}
	}
}

// lookupFailure reads the event's failure record from the bucket's
// leader: the replica that dead-letters an event is often not the one
// that recorded its failures, and on a replicated bucket a plain Get may
// be answered by a copy that has not applied that write yet.
func (x *Exchange) lookupFailure(ctx context.Context, key string) (failure, bool) {
	var f failure
	m, err := engine.LeaderGetLast(ctx, x.nc, "KV_"+failuresBucket, "$KV."+failuresBucket+"."+key)
	if err != nil {
		return f, false
	}
	return f, json.Unmarshal(m.Data, &f) == nil // a purge marker has no data
}

func (x *Exchange) forgetFailure(ctx context.Context, key string) {
	if err := x.failures.Purge(ctx, key); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		x.log.Debug("failure record not purged", "key", key, "error", err)
	}
}

// ackInfo reads the stream, delivery count and stream sequence out of an
// ack subject already checked by isAckSubject.
func ackInfo(subj string) (stream string, delivered, seq uint64) {
	tok := strings.Split(subj, ".")
	i := 2
	if len(tok) == 12 {
		i = 4
	}
	delivered, _ = strconv.ParseUint(tok[i+2], 10, 64)
	seq, _ = strconv.ParseUint(tok[i+3], 10, 64)
	return tok[i], delivered, seq
}
