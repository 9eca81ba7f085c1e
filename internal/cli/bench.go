package cli

var benchCmd = &command{
	name:  "bench",
	short: "measure stadion against its reference in one run",
	long:  `Each benchmark measures stadion and a reference (the raw engine, a peer broker) in the same run on this machine and prints both figures and their ratio.`,
	example: `stadion bench exchange
stadion bench exchange --publishers 64 --duration 10s --json`,
	sub: []*command{benchExchangeCmd, benchClusterCmd, benchSinkCmd, benchLiveCmd, benchLiveClientCmd, benchLiveNATSCmd, benchGateCmd, benchCaptureCmd, benchAbuseCmd, benchInspectCmd},
}
