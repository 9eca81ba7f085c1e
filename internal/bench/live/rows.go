package live

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/stadion-dev/stadion/internal/cmdio"
)

// liveRow is a figure of the summary table: how to show it for a broker,
// and, when a ratio makes sense, its value.
type liveRow struct {
	name  string
	cell  func(*liveBrokerResult) string
	value func(*liveBrokerResult) float64
}

func liveRows(common float64) []liveRow {
	return slices.Concat(stormRows(), idleRows(), fanOutRows(common), otherRows())
}

// stormCell, idleCell and bestCell show a figure of a workload, "-" when
// it did not run.
func stormCell(f func(*stormResult) string) func(*liveBrokerResult) string {
	return func(b *liveBrokerResult) string {
		if b.Storm == nil {
			return "-"
		}
		return f(b.Storm)
	}
}

func idleCell(f func(*idleResult) string) func(*liveBrokerResult) string {
	return func(b *liveBrokerResult) string {
		if b.Idle == nil {
			return "-"
		}
		return f(b.Idle)
	}
}

func bestCell(f func(*liveStep) string) func(*liveBrokerResult) string {
	return func(b *liveBrokerResult) string { return stepCell(b.bestFanOut(), f) }
}

func stormRows() []liveRow {
	return []liveRow{
		{"connect storm: connects/s", stormCell(func(s *stormResult) string { return cmdio.Thousands(s.PerSec) }),
			func(b *liveBrokerResult) float64 { return ifStorm(b, func(s *stormResult) float64 { return s.PerSec }) }},
		{"  connected / failures", stormCell(func(s *stormResult) string { return fmt.Sprintf("%d / %d", s.Connected, s.Failures) }), nil},
		{"  handshake p50 / p99", stormCell(func(s *stormResult) string {
			return cmdio.FmtMS(s.Handshake.P50) + " / " + cmdio.FmtMS(s.Handshake.P99)
		}), nil},
	}
}

func idleRows() []liveRow {
	return []liveRow{
		{"idle: KiB per viewer", idleCell(func(i *idleResult) string { return strconv.FormatFloat(i.KiBPerViewer, 'f', 1, 64) }),
			func(b *liveBrokerResult) float64 {
				if b.Idle == nil {
					return 0
				}
				return b.Idle.KiBPerViewer
			}},
		{"  broker CPU per connect", idleCell(func(i *idleResult) string {
			return fmt.Sprintf("%.0f µs", i.StormCPU/float64(max(i.Viewers, 1))*1e6)
		}), func(b *liveBrokerResult) float64 {
			if b.Idle == nil || b.Idle.Viewers == 0 {
				return 0
			}
			return b.Idle.StormCPU / float64(b.Idle.Viewers)
		}},
		{"  RSS before / with viewers", idleCell(func(i *idleResult) string { return cmdio.FmtMiB(i.BaseRSS) + " / " + cmdio.FmtMiB(i.RSS) }), nil},
		{"  alive after idling", idleCell(func(i *idleResult) string { return fmt.Sprintf("%d/%d", i.Alive, i.Viewers) }), nil},
	}
}

func fanOutRows(common float64) []liveRow {
	return []liveRow{
		{"fan-out: max sustained comments/s", bestCell(func(s *liveStep) string { return cmdio.Thousands(s.Rate) }), nil},
		{"  deliveries/s", bestCell(func(s *liveStep) string { return cmdio.Thousands(s.DeliveredPerSec) }),
			func(b *liveBrokerResult) float64 {
				return ifStep(b.bestFanOut(), func(s *liveStep) float64 { return s.DeliveredPerSec })
			}},
		{"  subscribers that reconnected", func(b *liveBrokerResult) string {
			if b.FanOut == nil {
				return "-"
			}
			return strconv.Itoa(b.FanOut.Reconnects)
		}, nil},
		{"  p50 / p99 there", bestCell(func(s *liveStep) string { return cmdio.FmtMS(s.Latency.P50) + " / " + cmdio.FmtMS(s.Latency.P99) }), nil},
		{"  broker / client CPU there", bestCell(func(s *liveStep) string { return fmt.Sprintf("%.2f / %.2f", s.BrokerCPU, s.ClientCPU) }), nil},
		{"  broker / client CPU per delivery", bestCell(func(s *liveStep) string {
			return fmt.Sprintf("%.1f / %.1f µs", s.BrokerCPU/s.DeliveredPerSec*1e6, s.ClientCPU/s.DeliveredPerSec*1e6)
		}), func(b *liveBrokerResult) float64 {
			return ifStep(b.bestFanOut(), func(s *liveStep) float64 { return s.BrokerCPU / s.DeliveredPerSec })
		}},
		{fmt.Sprintf("fan-out at %s comments/s: p99", cmdio.Thousands(common)),
			func(b *liveBrokerResult) string {
				return stepCell(b.AtCommon, func(s *liveStep) string { return cmdio.FmtMS(s.Latency.P99) })
			},
			func(b *liveBrokerResult) float64 {
				return ifStep(b.AtCommon, func(s *liveStep) float64 { return s.Latency.P99 })
			}},
	}
}

func otherRows() []liveRow {
	return []liveRow{
		{"moderation: accepted comments/s",
			func(b *liveBrokerResult) string {
				if b.Moderation == nil {
					return "-"
				}
				return stepCell(b.Moderation.Best, func(s *liveStep) string { return cmdio.Thousands(s.DeliveredPerSec) })
			}, nil},
		{"cold start", func(b *liveBrokerResult) string {
			if b.ColdStartMS == 0 {
				return "-"
			}
			return cmdio.FmtMS(b.ColdStartMS)
		}, nil},
	}
}

func stepCell(s *liveStep, f func(*liveStep) string) string {
	if s == nil {
		return "-"
	}
	return f(s)
}

func ifStep(s *liveStep, f func(*liveStep) float64) float64 {
	if s == nil {
		return 0
	}
	return f(s)
}

func ifStorm(b *liveBrokerResult, f func(*stormResult) float64) float64 {
	if b.Storm == nil {
		return 0
	}
	return f(b.Storm)
}
