package client

// Endpoints is written to <data>/endpoints.json by a running server, so that CLI
// commands and benchmarks find it.
type Endpoints struct {
	HTTP string `json:"http"`
	NATS string `json:"nats,omitempty"`
	Leaf string `json:"leaf,omitempty"`
	MQTT string `json:"mqtt,omitempty"`
	PID  int    `json:"pid"`
	// Bound are the addresses the listeners bound (host as bound: 0.0.0.0
	// or [::] means every interface), by listener name.
	Bound map[string]string `json:"bound,omitempty"`
}

// EndpointsFile is the name of the endpoints file under the data directory.
const EndpointsFile = "endpoints.json"
