package probe

import (
	"context"
	"fmt"
	"slices"

	"github.com/mailprobe/mailprobe_exporter/config"
	"github.com/mailprobe/mailprobe_exporter/dialogue"
)

// decision is the reply that decided one recipient, and where.
type decision struct {
	reply dialogue.Reply
	leg   int
}

// walk holds a dialogue with each leg in turn until every recipient has a
// deciding reply; in "all" mode it goes on with the remaining legs.
func (p *Prober) walk(ctx context.Context, t config.Target, res *Result) {
	decided := map[string]decision{}
	for _, pl := range plan(res.DNS, t.Settings.MX) {
		pending := pendingRecipients(t.Recipients, decided)
		if len(pending) == 0 && t.Settings.MX != config.MXAll {
			break
		}
		if ctx.Err() != nil {
			break
		}
		if len(pending) == 0 {
			pending = t.Recipients
		}
		leg, err := p.leg(ctx, t, pl, pending)
		if err != nil {
			// A leg that never got a connection was not probed: it keeps
			// no result, so its series show no data rather than "down".
			res.Text = err.Error()
			break
		}
		for _, rc := range leg.Session.Rcpts {
			_, done := decided[rc.Recipient]
			if !done && decides(rc.Reply) {
				decided[rc.Recipient] = decision{reply: rc.Reply, leg: len(res.Legs)}
			}
		}
		res.Legs = append(res.Legs, leg)
	}
	conclude(ctx, res, t.Recipients, decided)
}

func pendingRecipients(all []string, decided map[string]decision) []string {
	var pending []string
	for _, r := range all {
		if _, ok := decided[r]; !ok {
			pending = append(pending, r)
		}
	}
	return pending
}

// leg holds the dialogue with one address, in as many sessions as the
// server's "too many recipients" replies ask for, within the per-address
// connection limit. It fails only when no connection slot came in time.
func (p *Prober) leg(ctx context.Context, t config.Target, pl plannedLeg,
	rcpts []string) (Leg, error) {
	if p.Gate != nil {
		release, err := p.Gate.Acquire(ctx, pl.ip)
		if err != nil {
			return Leg{}, fmt.Errorf("no connection slot to %s before the probe's timeout: %w",
				pl.ip, err)
		}
		defer release()
	}
	leg := Leg{MX: pl.host.Name, Preference: pl.host.Preference, IP: pl.ip}
	leg.Session = p.session(ctx, t, pl, rcpts)
	for i := 0; i < len(rcpts) && len(leg.Session.Deferred) > 0; i++ {
		more := p.session(ctx, t, pl, leg.Session.Deferred)
		leg.Session.Rcpts = append(leg.Session.Rcpts, more.Rcpts...)
		leg.Session.Deferred = more.Deferred
		leg.Session.Transcript = append(leg.Session.Transcript, more.Transcript...)
		if more.Stage != dialogue.StageDone {
			leg.Session.Stage, leg.Session.Failure = more.Stage, more.Failure
			leg.Session.Reply, leg.Session.Err = more.Reply, more.Err
		}
	}
	leg.Class = legClass(leg.Session)
	return leg, nil
}

// session runs one dialogue.
func (p *Prober) session(ctx context.Context, t config.Target, pl plannedLeg,
	rcpts []string) dialogue.Session {
	s := t.Settings
	return dialogue.Run(ctx, dialogue.Params{
		Addr:           netipAddrPort(pl.ip, s.Port),
		MXName:         pl.host.Name,
		HeloName:       s.HeloName,
		MailFrom:       s.MailFrom,
		Recipients:     rcpts,
		StartTLS:       s.StartTLS,
		BannerTimeout:  s.BannerTimeout,
		CommandTimeout: s.CommandTimeout,
		Dial:           p.Dial,
		RootCAs:        p.RootCAs,
	})
}

// legClass is the outcome of one leg on its own: its failure, or the
// worst reply to its RCPT TO commands.
func legClass(s dialogue.Session) Class {
	if s.Stage != dialogue.StageDone {
		return failureClass(s)
	}
	if len(s.Rcpts) == 0 {
		return ProtocolError
	}
	worst := Accepted
	for _, rc := range s.Rcpts {
		c := replyClass(rc.Reply, dialogue.StageRcpt)
		if c != Accepted && (worst == Accepted || rc.Reply.Code/100 == 5) {
			worst = c
		}
	}
	return worst
}

// conclude sets the outcome of the target from the decisions: a refusal of
// any recipient first, then a recipient nobody decided, else acceptance.
func conclude(ctx context.Context, res *Result, rcpts []string, decided map[string]decision) {
	for _, r := range rcpts {
		d, ok := decided[r]
		if ok && d.reply.Code/100 != 2 {
			setDecision(res, d)
			return
		}
	}
	if len(pendingRecipients(rcpts, decided)) > 0 {
		setUndecided(ctx, res)
		return
	}
	setDecision(res, decided[rcpts[0]])
}

func setDecision(res *Result, d decision) {
	res.Legs[d.leg].Deciding = true
	res.Class = replyClass(d.reply, dialogue.StageRcpt)
	res.Stage = string(dialogue.StageRcpt)
	res.Code, res.Enhanced, res.Text = d.reply.Code, d.reply.Enhanced, d.reply.Text
}

// setUndecided explains a probe that no leg decided by the leg that got
// furthest into the dialogue, the most preferred one on a tie.
func setUndecided(ctx context.Context, res *Result) {
	if len(res.Legs) == 0 {
		res.Class, res.Stage = NoMX, "connect"
		if ctx.Err() != nil {
			res.Class = Timeout
			if res.Text == "" {
				res.Text = "probe timeout before any connection"
			}
		}
		return
	}
	best := slices.MaxFunc(res.Legs, func(a, b Leg) int {
		return stageRank(a.Session.Stage) - stageRank(b.Session.Stage)
	})
	res.Class = best.Class
	res.Stage = string(best.Session.Stage)
	res.Text = best.Session.Err
	if r := lastNegative(best.Session); r != nil {
		res.Code, res.Enhanced, res.Text = r.Code, r.Enhanced, r.Text
	}
	if best.Session.Stage == dialogue.StageDone {
		res.Stage = string(dialogue.StageRcpt)
	}
}

// lastNegative is the reply that explains a leg's failure, if a reply does.
func lastNegative(s dialogue.Session) *dialogue.Reply {
	if s.Reply != nil {
		return s.Reply
	}
	for i := len(s.Rcpts) - 1; i >= 0; i-- {
		if s.Rcpts[i].Reply.Code/100 != 2 {
			return &s.Rcpts[i].Reply
		}
	}
	return nil
}
