package gate

import (
	"crypto/rand"

	"github.com/nats-io/nats.go"
)

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("gate: crypto/rand failed: " + err.Error())
	}
	return b
}

func newMsg(subject string, data []byte) *nats.Msg {
	return &nats.Msg{Subject: subject, Data: data, Header: nats.Header{}}
}
