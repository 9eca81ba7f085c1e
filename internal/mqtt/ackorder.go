package mqtt

import "sync"

// ackOrder keeps the acknowledgements of a connection's inbound QoS 1 and
// 2 messages (PUBACK, PUBREC) in the order their PUBLISH packets arrived
// (MQTT-4.6.0-2, MQTT-4.6.0-3): Client.Publish may report messages stored
// out of order (batches written in parallel, an invalid one answered at
// once), and an acknowledgement waits for those before it. It holds one
// entry per message the hooks have not yet reported, so it is bounded by
// what bounds those (MaxInflight for QoS 2, the hooks' queue for QoS 1).
type ackOrder struct {
	mu      sync.Mutex
	pending []*pendingAck
}

type pendingAck struct {
	pkt   []byte // nil: nothing to send
	ready bool
}

// expectAck reserves the place of the next acknowledgement.
func (c *conn) expectAck() *pendingAck {
	c.acks.mu.Lock()
	defer c.acks.mu.Unlock()
	a := &pendingAck{}
	c.acks.pending = append(c.acks.pending, a)
	return a
}

// ackReady sets a's packet and sends every acknowledgement now due, in
// order.
func (c *conn) ackReady(a *pendingAck, pkt []byte) {
	c.acks.mu.Lock()
	defer c.acks.mu.Unlock()
	a.pkt, a.ready = pkt, true
	n := 0
	var due [][]byte
	for ; n < len(c.acks.pending) && c.acks.pending[n].ready; n++ {
		if p := c.acks.pending[n].pkt; p != nil {
			due = append(due, p)
		}
	}
	if n == 0 {
		return // an earlier one is still being stored
	}
	rest := copy(c.acks.pending, c.acks.pending[n:])
	clear(c.acks.pending[rest:])
	c.acks.pending = c.acks.pending[:rest]
	c.queue(due, false) // under the lock: acknowledgements queue in order
}
