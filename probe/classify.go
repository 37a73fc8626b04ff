package probe

import (
	"strings"

	"github.com/mailprobe/mailprobe_exporter/dialogue"
	"github.com/mailprobe/mailprobe_exporter/resolve"
)

// dnsClass maps an unusable MX resolution to its outcome.
func dnsClass(s resolve.Status) Class {
	switch s {
	case resolve.StatusNullMX:
		return NullMX
	case resolve.StatusNoMX:
		return NoMX
	case resolve.StatusNXDomain:
		return NXDomain
	case resolve.StatusServFail:
		return DNSServFail
	case resolve.StatusTimeout:
		return DNSTimeout
	}
	return DNSError
}

// failureClass maps a dialogue that stopped early to its outcome.
func failureClass(s dialogue.Session) Class {
	switch s.Failure {
	case dialogue.FailureTimeout:
		return Timeout
	case dialogue.FailureConnect, dialogue.FailureNetwork:
		return ConnectError
	case dialogue.FailureTLS:
		return TLSError
	case dialogue.FailureProtocol:
		return ProtocolError
	}
	if s.Reply == nil {
		return ProtocolError
	}
	if s.Stage == dialogue.StageBanner {
		return RefusedBanner
	}
	return replyClass(*s.Reply, s.Stage)
}

// replyClass maps a reply at a stage to its outcome. The policy, as a
// sending MTA applies it: 2xx accepts, 4xx is temporary, 5xx permanent.
// A 5.7.x enhanced code (RFC 3463 "security or policy status"), or any 5xx
// before RCPT TO, refuses the prober itself rather than the recipient.
func replyClass(r dialogue.Reply, stage dialogue.Stage) Class {
	switch r.Code / 100 {
	case 2:
		return Accepted
	case 3:
		return ProtocolError
	case 4:
		if isGreylisting(r) {
			return Greylisted
		}
		return Tempfail
	}
	if strings.HasPrefix(r.Enhanced, "5.7.") || stage != dialogue.StageRcpt {
		return Blocked
	}
	return Rejected
}

// isGreylisting recognises the replies of common greylisting setups:
// postgrey and Postfix's postscreen answer 450 4.2.0 or 4.7.1 and say so
// in the text, which is the only reliable sign.
func isGreylisting(r dialogue.Reply) bool {
	text := strings.ToLower(r.Text)
	for _, word := range []string{"greylist", "graylist", "grey-list", "gray-list"} {
		if strings.Contains(text, word) {
			return true
		}
	}
	return false
}

// decides reports whether a reply to RCPT TO ends the delivery attempt,
// as it would for a sending MTA: 2xx and 5xx do, 4xx does not.
func decides(r dialogue.Reply) bool {
	return r.Code/100 != 4
}

// stageRank orders stages by how far into the dialogue they are.
func stageRank(s dialogue.Stage) int {
	order := []dialogue.Stage{
		dialogue.StageConnect, dialogue.StageBanner, dialogue.StageEHLO,
		dialogue.StageHELO, dialogue.StageStartTLS, dialogue.StageTLS,
		dialogue.StageMail, dialogue.StageRcpt, dialogue.StageRset,
		dialogue.StageQuit, dialogue.StageDone,
	}
	for i, o := range order {
		if o == s {
			return i
		}
	}
	return 0
}
