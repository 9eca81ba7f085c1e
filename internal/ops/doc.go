// Package ops is stadion's guarantee system: component checks and health
// scores with grades and history (health*.go, checks*.go, history*.go),
// the daily inspection of the running system (inspect*.go), the alerts
// they raise (alert.go), and the request policy in front of the API:
// roles of admin keys, freezes with two-person approval and the audit
// trail (policy*.go, freeze.go, approval.go, audit.go).
//
// Every capability reports to ops through one small interface, Source
// (a Checks method returning []Check); ops never imports a capability. ops
// imports only config, api and loop, the NATS client and Prometheus, so every
// capability, the exchange included, may import it.
package ops
