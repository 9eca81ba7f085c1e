package engine

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Every outside NATS client (not the admin) lives in an account of its own,
// C_<client>, registered on the embedded server when it first connects.
// stadion, its JetStream and the leafnodes stay in the global account. The
// client's account has no JetStream of its own; it imports from the global
// account exactly what its rights name, so that nothing else there can be
// addressed from it:
//
//   - Grant.Receive subjects as a stream (core NATS live events);
//   - for each Grant.Streams stream: STREAM.INFO, STREAM.MSG.GET and
//     DIRECT.GET, straight to JetStream;
//   - INFO, STREAM.NAMES/LIST and CONSUMER.CREATE/DURABLE.CREATE/INFO/
//     DELETE, mapped to stadion's gateway subject GatewayAPI.<client>.<rest>,
//     which checks each against the client's rights (internal/exchange,
//     natsgate.go);
//   - pull requests and acks only for consumers granted to it
//     (GrantConsumer): a subject mapping per consumer turns
//     $JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer> into
//     stadion.grant.next.<stream>.<consumer> and $JS.ACK.<stream>.<consumer>.>
//     into stadion.grant.ack.<stream>.<consumer>.>, and only those two
//     prefixes are imported. A client publishing to them directly is mapped
//     to stadion.refused.… and refused by its permissions.
//
// The server rewrites every reply subject that crosses a service import
// into a _R_. subject of the global account that leads back only into the
// client's account, and refuses replies that start with _R_. or $JS.ACK.
// from any client connection, so whatever JetStream answers or delivers
// reaches the client's own account and nothing else: a push consumer's
// deliver subject or a reply the client chose never names a subject of
// stadion's account. Imports never overlap: two matching imports would
// deliver a request twice.
const (
	// GatewayAPI carries the API requests stadion's gateway checks.
	GatewayAPI = "stadion.jsgw"
	// ResponseThreshold is how long the engine keeps the route back to a
	// client's inbox for a request with no answer yet (and for a pull
	// request, since its last message or heartbeat). A pull request
	// without heartbeats that waits longer loses the messages delivered
	// after it; they are redelivered after the consumer's ack wait.
	ResponseThreshold = 2 * time.Minute

	grantNext   = "stadion.grant.next"
	grantAck    = "stadion.grant.ack"
	refusedPref = "stadion.refused"
	apiPrefix   = "$JS.API."
	// maxGrants bounds the consumer grants of one client account on one
	// server; GrantConsumer reports the count so the caller can prune.
	maxGrants = 4096
)

// gatewayAPI are the parts of $JS.API. the gateway answers.
var gatewayAPI = []string{"INFO", "STREAM.NAMES", "STREAM.LIST", "CONSUMER.CREATE.>",
	"CONSUMER.DURABLE.CREATE.>", "CONSUMER.INFO.>", "CONSUMER.DELETE.>"}

// AccountName is the NATS account of client.
func AccountName(client string) string { return "C_" + client }

// clientAccounts registers and configures client accounts on one server.
type clientAccounts struct {
	srv    *server.Server
	mu     sync.Mutex
	recv   map[string][]string        // per account: Receive subjects imported
	read   map[string][]string        // per account: streams imported
	grants map[string]map[string]bool // per account: "<stream>.<consumer>" granted
}

func newClientAccounts() *clientAccounts {
	return &clientAccounts{recv: map[string][]string{}, read: map[string][]string{}, grants: map[string]map[string]bool{}}
}

// account returns g's account, registering and configuring it the first
// time (isNew), and adding imports for Receive subjects and Streams it
// lacks.
func (ca *clientAccounts) account(g Grant) (acc *server.Account, isNew bool, err error) {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	if ca.srv == nil {
		return nil, false, fmt.Errorf("engine not started")
	}
	gacc := ca.srv.GlobalAccount()
	acc, isNew = ca.srv.LookupOrRegisterAccount(AccountName(g.Client))
	if isNew {
		if err := importBase(gacc, acc, g.Client); err != nil {
			return nil, false, err
		}
		ca.grants[acc.Name] = map[string]bool{}
	}
	for _, subj := range g.Receive {
		if slices.Contains(ca.recv[acc.Name], subj) {
			continue
		}
		if err := gacc.AddStreamExport(subj, []*server.Account{acc}); err != nil {
			return nil, false, fmt.Errorf("export %s: %w", subj, err)
		}
		if err := acc.AddStreamImport(gacc, subj, ""); err != nil {
			return nil, false, fmt.Errorf("import %s: %w", subj, err)
		}
		ca.recv[acc.Name] = append(ca.recv[acc.Name], subj)
	}
	for _, s := range g.Streams {
		if slices.Contains(ca.read[acc.Name], s) {
			continue
		}
		for _, imp := range []struct {
			subj string
			rt   server.ServiceRespType
		}{
			{apiPrefix + "STREAM.INFO." + s, server.Singleton},
			{apiPrefix + "STREAM.MSG.GET." + s, server.Singleton},
			{apiPrefix + "DIRECT.GET." + s, server.Streamed},
			{apiPrefix + "DIRECT.GET." + s + ".>", server.Streamed},
		} {
			if err := serviceImport(gacc, acc, imp.subj, imp.subj, imp.rt); err != nil {
				return nil, false, err
			}
		}
		ca.read[acc.Name] = append(ca.read[acc.Name], s)
	}
	return acc, isNew, nil
}

// importBase sets up what every client account has: the gateway, the
// granted-consumer imports and the mappings that keep their subjects out
// of a client's direct reach.
func importBase(gacc, acc *server.Account, client string) error {
	if err := serviceImport(gacc, acc, GatewayAPI+"."+client+".>", "", server.Singleton); err != nil {
		return err
	}
	for _, part := range gatewayAPI {
		if err := acc.AddServiceImport(gacc, apiPrefix+part, GatewayAPI+"."+client+"."+part); err != nil {
			return fmt.Errorf("import %s: %w", part, err)
		}
	}
	if err := serviceImport(gacc, acc, apiPrefix+"CONSUMER.MSG.NEXT.>", grantNext+".>", server.Streamed); err != nil {
		return err
	}
	if err := serviceImport(gacc, acc, "$JS.ACK.>", grantAck+".>", server.Streamed); err != nil {
		return err
	}
	for _, p := range []string{grantNext, grantAck} {
		if err := acc.AddMapping(p+".>", refusedPref+p[len("stadion"):]+".>"); err != nil {
			return fmt.Errorf("mapping %s: %w", p, err)
		}
	}
	return nil
}

// serviceImport exports subj from gacc to acc (adding acc to an existing
// export) and imports it into acc as from (from "" when the export is only
// made here and imported elsewhere).
func serviceImport(gacc, acc *server.Account, subj, from string, rt server.ServiceRespType) error {
	if err := gacc.AddServiceExportWithResponse(subj, rt, []*server.Account{acc}); err != nil {
		return fmt.Errorf("export %s: %w", subj, err)
	}
	if err := gacc.SetServiceExportResponseThreshold(subj, ResponseThreshold); err != nil {
		return err
	}
	if from == "" {
		return nil
	}
	if err := acc.AddServiceImport(gacc, from, subj); err != nil {
		return fmt.Errorf("import %s: %w", from, err)
	}
	return nil
}

// clientPermissions let a client publish only JetStream API requests and
// acks (and the granted subjects they are mapped to), and subscribe to
// anything in its own account: its own inboxes and what it imports.
func clientPermissions() *server.Permissions {
	return &server.Permissions{Publish: &server.SubjectPermission{
		Allow: []string{"$JS.API.>", "$JS.ACK.>", grantNext + ".>", grantAck + ".>"},
	}}
}

// GrantConsumer lets client pull from and ack consumer on stream, on this
// engine, if the client's account exists here. It returns how many
// consumers the account is granted; past maxGrants it refuses, and the
// caller should revoke grants of consumers that are gone.
func (e *Engine) GrantConsumer(client, stream, consumer string) (int, error) {
	ca := e.clientAccts()
	if ca == nil {
		return 0, nil
	}
	ca.mu.Lock()
	defer ca.mu.Unlock()
	acc, err := ca.srv.LookupAccount(AccountName(client))
	if err != nil {
		return 0, nil // not connected here: granted when it connects
	}
	g := ca.grants[acc.Name]
	key := stream + "." + consumer
	if g == nil || g[key] {
		return len(g), nil
	}
	if len(g) >= maxGrants {
		return len(g), fmt.Errorf("client %s has %d consumer grants on this engine", client, len(g))
	}
	next := apiPrefix + "CONSUMER.MSG.NEXT." + key
	if err := acc.AddMapping(next, grantNext+"."+key); err != nil {
		return len(g), err
	}
	if err := acc.AddMapping("$JS.ACK."+key+".>", grantAck+"."+key+".>"); err != nil {
		acc.RemoveMapping(next)
		return len(g), err
	}
	g[key] = true
	return len(g), nil
}

// RevokeConsumer undoes GrantConsumer.
func (e *Engine) RevokeConsumer(client, stream, consumer string) {
	ca := e.clientAccts()
	if ca == nil {
		return
	}
	ca.mu.Lock()
	defer ca.mu.Unlock()
	acc, err := ca.srv.LookupAccount(AccountName(client))
	if err != nil || !ca.grants[acc.Name][stream+"."+consumer] {
		return
	}
	key := stream + "." + consumer
	acc.RemoveMapping(apiPrefix + "CONSUMER.MSG.NEXT." + key)
	acc.RemoveMapping("$JS.ACK." + key + ".>")
	delete(ca.grants[acc.Name], key)
}

// ConsumerGrants lists the "<stream>.<consumer>" grants of client here.
func (e *Engine) ConsumerGrants(client string) []string {
	ca := e.clientAccts()
	if ca == nil {
		return nil
	}
	ca.mu.Lock()
	defer ca.mu.Unlock()
	var out []string
	for k := range ca.grants[AccountName(client)] {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func (e *Engine) clientAccts() *clientAccounts {
	if e.auth == nil || e.auth.clients == nil || e.auth.clients.srv == nil {
		return nil
	}
	return e.auth.clients
}

// CloseKey closes every connection admitted with key id (a revoked key) on
// this engine and returns how many it closed. It looks again a moment later
// for a connection that was being admitted while the key was revoked. It
// does not block. No-op for an external engine.
func (e *Engine) CloseKey(client, id string) int {
	if e.srv == nil {
		return 0
	}
	n := e.closeUser(userName(client, id))
	time.AfterFunc(250*time.Millisecond, func() { e.closeUser(userName(client, id)) })
	return n
}

func (e *Engine) closeUser(user string) int {
	cz, err := e.srv.Connz(&server.ConnzOptions{User: user, Limit: e.srv.NumClients() + 64})
	if err != nil {
		return 0
	}
	n := 0
	for _, c := range cz.Conns {
		if e.srv.DisconnectClientByID(c.Cid) == nil {
			n++
		}
	}
	if n > 0 {
		e.log.Info("nats connections of a revoked key closed", "user", user, "closed", n)
	}
	return n
}
