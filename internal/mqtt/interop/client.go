package interop

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// Message is an application message as a client received it.
type Message struct {
	Topic   string
	Payload []byte
	QoS     byte
	Retain  bool
	Dup     bool
	ID      uint16
}

// ErrClosed is returned once the broker closed the connection.
var ErrClosed = errors.New("the broker closed the connection")

// RefusedError is a CONNACK with a non-zero return code.
type RefusedError struct{ Code byte }

func (e RefusedError) Error() string { return fmt.Sprintf("CONNACK return code %d", e.Code) }

// Client is one client id across the connections it opens, with what its
// application received (the Python suite's client and its callback). It
// answers the broker's QoS 1 and 2 flows itself unless paused; a paused
// client ignores incoming PUBLISH packets (the suite's "stops responding
// to incoming publishes"). Its methods are called from one goroutine.
type Client struct {
	ID      string
	Timeout time.Duration // for each answer the broker owes (10 s)

	mu       sync.Mutex
	msgs     []Message
	paused   bool
	ignored  int             // PUBLISH packets that came while paused
	received map[uint16]bool // QoS 2 ids received and not yet released
	nextID   uint16
	conn     *conn
}

// conn is one network connection of a Client.
type conn struct {
	nc      net.Conn
	wmu     sync.Mutex
	replies chan Packet   // packets that answer the client's requests
	done    chan struct{} // closed once the reader ends
}

// NewClient returns a client with id (not yet connected).
func NewClient(id string) *Client {
	return &Client{ID: id, Timeout: 10 * time.Second, received: map[uint16]bool{}}
}

// Connect opens a new connection to addr and sends CONNECT; it returns
// the CONNACK's session present flag, a RefusedError, or ErrClosed.
func (c *Client) Connect(addr string, o ConnectOptions) (sessionPresent bool, err error) {
	c.Terminate()
	nc, err := net.DialTimeout("tcp", addr, c.Timeout)
	if err != nil {
		return false, err
	}
	cn := &conn{nc: nc, replies: make(chan Packet, 64), done: make(chan struct{})}
	c.mu.Lock()
	c.conn = cn
	if o.CleanSession {
		c.received = map[uint16]bool{} // a new session: no id is held
	}
	c.mu.Unlock()
	go c.read(cn)
	return c.connect(o)
}

// ConnectAgain sends a second CONNECT on the open connection.
func (c *Client) ConnectAgain(o ConnectOptions) (sessionPresent bool, err error) {
	return c.connect(o)
}

func (c *Client) connect(o ConnectOptions) (bool, error) {
	if err := c.write(EncodeConnect(c.ID, o)); err != nil {
		return false, err
	}
	p, err := c.await(Connack, 0, false)
	if err != nil {
		return false, err
	}
	if len(p.Body) != 2 {
		return false, fmt.Errorf("CONNACK of %d bytes", len(p.Body))
	}
	if p.Body[1] != 0 {
		c.Terminate()
		return false, RefusedError{Code: p.Body[1]}
	}
	return p.Body[0]&0x01 != 0, nil
}

// Publish sends a message and waits for its flow to complete (PUBACK, or
// PUBREC then PUBCOMP).
func (c *Client) Publish(topic string, payload []byte, qos byte, retain bool) error {
	id := uint16(0)
	if qos > 0 {
		id = c.newID()
	}
	if err := c.write(EncodePublish(Message{Topic: topic, Payload: payload, QoS: qos, Retain: retain}, false, id)); err != nil {
		return err
	}
	switch qos {
	case 1:
		_, err := c.await(Puback, id, true)
		return err
	case 2:
		_, err := c.await(Pubcomp, id, true)
		return err
	}
	return nil
}

// Subscribe sends one SUBSCRIBE and returns the SUBACK's return codes.
func (c *Client) Subscribe(filters []string, qos []byte) ([]byte, error) {
	id := c.newID()
	body := []byte{byte(id >> 8), byte(id)}
	for i, f := range filters {
		body = append(AppendString(body, f), qos[i])
	}
	if err := c.write(Encode(Subscribe<<4|0x02, body)); err != nil {
		return nil, err
	}
	p, err := c.await(Suback, id, true)
	if err != nil {
		return nil, err
	}
	if len(p.Body)-2 != len(filters) {
		return nil, fmt.Errorf("SUBACK with %d return codes for %d filters", len(p.Body)-2, len(filters))
	}
	return p.Body[2:], nil
}

// Unsubscribe sends one UNSUBSCRIBE and waits for its UNSUBACK.
func (c *Client) Unsubscribe(filters ...string) error {
	id := c.newID()
	body := []byte{byte(id >> 8), byte(id)}
	for _, f := range filters {
		body = AppendString(body, f)
	}
	if err := c.write(Encode(Unsubscribe<<4|0x02, body)); err != nil {
		return err
	}
	_, err := c.await(Unsuback, id, true)
	return err
}

// Ping sends PINGREQ and waits for PINGRESP. Packets go out of a broker
// in order, so everything it had sent this client before reading the
// PINGREQ has been received when Ping returns.
func (c *Client) Ping() error {
	if err := c.write(Encode(Pingreq<<4, nil)); err != nil {
		return err
	}
	_, err := c.await(Pingresp, 0, false)
	return err
}

// Disconnect sends DISCONNECT, then waits for the broker to close the
// connection (or closes it after Timeout).
func (c *Client) Disconnect() error {
	cn := c.current()
	if cn == nil {
		return ErrClosed
	}
	err := c.write(Encode(Disconnect<<4, nil))
	if tc, ok := cn.nc.(*net.TCPConn); ok && err == nil {
		tc.CloseWrite()
	}
	select {
	case <-cn.done:
	case <-time.After(c.Timeout):
	}
	c.Terminate()
	return err
}

// Terminate closes the connection without DISCONNECT, as a client that
// loses its network does.
func (c *Client) Terminate() {
	c.mu.Lock()
	cn := c.conn
	c.conn = nil
	c.mu.Unlock()
	if cn != nil {
		cn.nc.Close()
		<-cn.done
	}
}

// Closed reports whether the broker closed the connection, waiting up
// to Timeout for it to.
func (c *Client) Closed() bool {
	cn := c.current()
	if cn == nil {
		return true
	}
	select {
	case <-cn.done:
		return true
	case <-time.After(c.Timeout):
		return false
	}
}

// Pause stops answering incoming PUBLISH packets; Resume answers again.
func (c *Client) Pause()  { c.setPaused(true) }
func (c *Client) Resume() { c.setPaused(false) }

func (c *Client) setPaused(p bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.paused = p
}

// Ignored counts the PUBLISH packets that came while paused.
func (c *Client) Ignored() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ignored
}

// Messages returns what the application received so far.
func (c *Client) Messages() []Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Message(nil), c.msgs...)
}

// Clear forgets the messages received so far.
func (c *Client) Clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.msgs = nil
}

// WaitMessages waits until at least n messages were received, or Timeout.
func (c *Client) WaitMessages(n int) error {
	deadline := time.Now().Add(c.Timeout)
	for {
		got := len(c.Messages())
		if got >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s received %d messages in %s, want %d", c.ID, got, c.Timeout, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (c *Client) current() *conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conn
}

func (c *Client) newID() uint16 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nextID++
	if c.nextID == 0 {
		c.nextID = 1
	}
	return c.nextID
}

func (c *Client) write(b []byte) error {
	cn := c.current()
	if cn == nil {
		return ErrClosed
	}
	return cn.write(b)
}

func (cn *conn) write(b []byte) error {
	cn.wmu.Lock()
	defer cn.wmu.Unlock()
	cn.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := cn.nc.Write(b)
	return err
}

// await waits for the broker's answer of type typ (and packet id id,
// when byID).
func (c *Client) await(typ byte, id uint16, byID bool) (Packet, error) {
	cn := c.current()
	if cn == nil {
		return Packet{}, ErrClosed
	}
	timeout := time.NewTimer(c.Timeout)
	defer timeout.Stop()
	for {
		select {
		case p := <-cn.replies:
			if p.Type() == typ && (!byID || p.ID() == id) {
				return p, nil
			}
		case <-cn.done:
			select {
			case p := <-cn.replies:
				if p.Type() == typ && (!byID || p.ID() == id) {
					return p, nil
				}
				continue
			default:
			}
			return Packet{}, ErrClosed
		case <-timeout.C:
			return Packet{}, fmt.Errorf("no packet of type %d (id %d) within %s", typ, id, c.Timeout)
		}
	}
}

// read takes the broker's packets until the connection ends.
func (c *Client) read(cn *conn) {
	defer close(cn.done)
	br := bufio.NewReader(cn.nc)
	for {
		p, err := ReadPacket(br, 1<<20)
		if err != nil {
			return
		}
		switch p.Type() {
		case Publish:
			if err := c.take(cn, p); err != nil {
				cn.nc.Close()
				return
			}
		case Pubrec: // our QoS 2 publish: release it
			cn.write(EncodeAck(Pubrel, p.ID()))
		case Pubrel: // their QoS 2 publish: complete it
			c.mu.Lock()
			delete(c.received, p.ID())
			c.mu.Unlock()
			cn.write(EncodeAck(Pubcomp, p.ID()))
		default:
			select {
			case cn.replies <- p:
			default: // nobody asked for this many answers
			}
		}
	}
}

// take hands an incoming PUBLISH to the application and acknowledges it
// (unless paused). A QoS 2 message is handed on once per packet id until
// released.
func (c *Client) take(cn *conn, p Packet) error {
	m, err := DecodePublish(p)
	if err != nil {
		return err
	}
	c.mu.Lock()
	if c.paused {
		c.ignored++
		c.mu.Unlock()
		return nil
	}
	if m.QoS < 2 || !c.received[m.ID] {
		c.msgs = append(c.msgs, m)
	}
	if m.QoS == 2 {
		c.received[m.ID] = true
	}
	c.mu.Unlock()
	switch m.QoS {
	case 1:
		return cn.write(EncodeAck(Puback, m.ID))
	case 2:
		return cn.write(EncodeAck(Pubrec, m.ID))
	}
	return nil
}
