package capture

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Frames live in one object-store bucket per job, capture_<job>, whose
// TTL is the job's retention; an object is <capture-id>/<size>.<ext>.
const framesBucketPrefix = "capture_"

func framesBucket(job string) string { return framesBucketPrefix + job }

// Frame is one stored capture: the same instant in every size.
type Frame struct {
	ID         string      `json:"id"`
	Job        string      `json:"job"`
	Trigger    string      `json:"trigger"`
	TickAt     time.Time   `json:"tick_at"`
	CapturedAt time.Time   `json:"captured_at"`
	StreamTime *float64    `json:"stream_time,omitempty"`
	Format     string      `json:"format"`
	Sizes      []FrameSize `json:"sizes"`
}

// FrameSize is one image of a frame.
type FrameSize struct {
	Size   string `json:"size"`
	Object string `json:"object"`
	Bytes  int    `json:"bytes"`
	URL    string `json:"url"`
}

// Object metadata of a frame's images, read back when frames are listed.
const (
	metaTrigger = "trigger"
	metaTick    = "tick-at"
	metaStream  = "stream-time"
)

type frameStore struct {
	js jetstream.JetStream
	mu sync.Mutex
	// open buckets and the TTL they were opened with
	buckets map[string]bucketTTL
}

type bucketTTL struct {
	obs jetstream.ObjectStore
	ttl time.Duration
}

func newFrameStore(js jetstream.JetStream) *frameStore {
	return &frameStore{js: js, buckets: map[string]bucketTTL{}}
}

// bucket opens (creating, or updating its TTL) the frames bucket of job.
func (f *frameStore) bucket(ctx context.Context, job string, ttl time.Duration) (jetstream.ObjectStore, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if b, ok := f.buckets[job]; ok && (ttl == 0 || b.ttl == ttl) {
		return b.obs, nil
	}
	var obs jetstream.ObjectStore
	var err error
	if ttl == 0 {
		obs, err = f.js.ObjectStore(ctx, framesBucket(job))
	} else {
		obs, err = f.js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
			Bucket: framesBucket(job), Description: "frames of capture job " + job,
			TTL: ttl, Storage: jetstream.FileStorage,
		})
	}
	if err != nil {
		return nil, err
	}
	f.buckets[job] = bucketTTL{obs: obs, ttl: ttl}
	return obs, nil
}

// put stores every size of a capture. Objects are named by the capture's
// ID, so a capture taken again after a worker died replaces its images.
func (f *frameStore) put(ctx context.Context, j *job, fr *Frame, sh *shot) error {
	obs, err := f.bucket(ctx, j.name, j.spec.Retention.D())
	if err != nil {
		return fmt.Errorf("frames bucket: %w", err)
	}
	meta := map[string]string{metaTrigger: fr.Trigger, metaTick: fr.TickAt.Format(time.RFC3339Nano)}
	if fr.StreamTime != nil {
		meta[metaStream] = fmt.Sprint(*fr.StreamTime)
	}
	ext := formats[j.spec.Format].ext
	for i, size := range j.spec.Sizes {
		name := fr.ID + "/" + size + "." + ext
		_, err := obs.Put(ctx, jetstream.ObjectMeta{Name: name, Metadata: meta}, bytes.NewReader(sh.images[i]))
		if err != nil {
			return fmt.Errorf("storing %s: %w", name, err)
		}
		fr.Sizes = append(fr.Sizes, FrameSize{Size: size, Object: name, Bytes: len(sh.images[i])})
	}
	return nil
}

// list returns the job's frames captured after since, oldest first. It
// reads the bucket's metadata from since on (an ordered consumer by start
// time), not the whole bucket.
func (f *frameStore) list(ctx context.Context, job string, since time.Time) ([]Frame, error) {
	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{"$O." + framesBucket(job) + ".M.>"},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	}
	if !since.IsZero() {
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &since
	}
	cons, err := f.js.OrderedConsumer(ctx, "OBJ_"+framesBucket(job), cfg)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return []Frame{}, nil
	}
	if err != nil {
		return nil, err
	}
	infos, err := readMeta(ctx, cons)
	if err != nil {
		return nil, err
	}
	return groupFrames(job, infos, since), nil
}

// readMeta reads object metadata messages until none is pending.
func readMeta(ctx context.Context, cons jetstream.Consumer) ([]*jetstream.ObjectInfo, error) {
	if cons.CachedInfo().NumPending == 0 {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second) // pending ones may expire meanwhile
	defer cancel()
	var infos []*jetstream.ObjectInfo
	for {
		msg, err := cons.Next(jetstream.FetchContext(ctx))
		if errors.Is(err, context.DeadlineExceeded) {
			return infos, nil
		}
		if err != nil {
			return nil, err
		}
		var oi jetstream.ObjectInfo
		meta, err := msg.Metadata()
		if err != nil || json.Unmarshal(msg.Data(), &oi) != nil {
			continue
		}
		oi.ModTime = meta.Timestamp
		infos = append(infos, &oi)
		if meta.NumPending == 0 {
			return infos, nil
		}
	}
}

func groupFrames(job string, infos []*jetstream.ObjectInfo, since time.Time) []Frame {
	byID := map[string]*Frame{}
	for _, oi := range infos {
		id, file, ok := strings.Cut(oi.Name, "/")
		if !ok || oi.Deleted || !oi.ModTime.After(since) {
			continue
		}
		fr := byID[id]
		if fr == nil {
			fr = frameOf(job, id, oi)
			byID[id] = fr
		}
		if oi.ModTime.After(fr.CapturedAt) {
			fr.CapturedAt = oi.ModTime.UTC()
		}
		size, ext, _ := strings.Cut(file, ".")
		fr.Format = formatOfExt(ext)
		fr.Sizes = append(fr.Sizes, FrameSize{Size: size, Object: oi.Name, Bytes: int(oi.Size)})
	}
	out := make([]Frame, 0, len(byID))
	for _, fr := range byID {
		slices.SortFunc(fr.Sizes, func(a, b FrameSize) int { return cmpString(a.Size, b.Size) })
		out = append(out, *fr)
	}
	slices.SortFunc(out, func(a, b Frame) int { return a.CapturedAt.Compare(b.CapturedAt) })
	return out
}

func frameOf(job, id string, oi *jetstream.ObjectInfo) *Frame {
	fr := &Frame{ID: id, Job: job, Trigger: oi.Metadata[metaTrigger], CapturedAt: oi.ModTime.UTC()}
	fr.TickAt, _ = time.Parse(time.RFC3339Nano, oi.Metadata[metaTick])
	var st float64
	if _, err := fmt.Sscan(oi.Metadata[metaStream], &st); err == nil {
		fr.StreamTime = &st
	}
	return fr
}

func formatOfExt(ext string) string {
	for name, f := range formats {
		if f.ext == ext {
			return name
		}
	}
	return ext
}

// get opens one image of a frame.
func (f *frameStore) get(ctx context.Context, job, object string) (jetstream.ObjectResult, error) {
	obs, err := f.bucket(ctx, job, 0)
	if err != nil {
		return nil, err
	}
	return obs.Get(ctx, object)
}

// drop deletes a job's frames bucket.
func (f *frameStore) drop(ctx context.Context, job string) error {
	f.mu.Lock()
	delete(f.buckets, job)
	f.mu.Unlock()
	err := f.js.DeleteObjectStore(ctx, framesBucket(job))
	if errors.Is(err, jetstream.ErrBucketNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil
	}
	return err
}
