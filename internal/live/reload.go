package live

import (
	"context"
	"time"

	"github.com/stadion-dev/stadion/internal/loop"
)

// reloadEvery is how often the configuration is re-read for moderation
// changes (banned words, limits).
const reloadEvery = 2 * time.Second

// watchReload re-reads the configuration file and the banned words file
// while running and swaps the moderation policy when they changed. Other
// changes need a restart, as they always did.
func (s *Service) watchReload(ctx context.Context) {
	if s.opts.ReloadConfig == nil {
		return
	}
	loop.Every(ctx, reloadEvery, s.reload)
}

func (s *Service) reload() {
	cfg, err := s.opts.ReloadConfig()
	if err != nil {
		s.log.Warn("configuration not reloaded: it does not load", "err", err)
		return
	}
	old := s.policy.Load()
	p, err := newPolicy(cfg, old)
	if err != nil {
		s.log.Warn("moderation not reloaded", "err", err)
		return
	}
	if p == old {
		return
	}
	s.policy.Store(p)
	s.log.Info("moderation policy reloaded", "banned_words", p.words.Len(), "max_length", p.maxLength, "user_rate", p.userRate.String())
}
