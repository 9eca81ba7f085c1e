package exchange

import "context"

// Publisher is what a capability needs to publish into a topic: capture
// announces frames through it, gate the admissions of its venues. It must
// be safe for concurrent use. Publish stores one event with the schema
// check, envelope and durability of an HTTP publish and returns once it is
// stored (see Exchange.Publish); client names the envelope's source.
type Publisher interface {
	Publish(ctx context.Context, topic, client string, data []byte, dedupeID string) (Receipt, error)
	HasTopic(name string) bool
}

var _ Publisher = (*Exchange)(nil)
