package edge_test

import (
	"errors"
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"

	"github.com/kvchaos/kvchaos/harness/check"
	"github.com/kvchaos/kvchaos/harness/suite"
)

// problems collects what a scenario found wrong, so the same scenario can
// pass on kvserver and be required to fail on a mutant.
type problems []string

func (p *problems) addf(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

// addResult adds a checker's violations.
func (p *problems) addResult(r check.Result) {
	if err := r.Err(); err != nil {
		*p = append(*p, strings.TrimSpace(r.String()))
	}
}

// err is nil when nothing was found.
func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return errors.New(strings.Join(p, "\n"))
}

// expectNone fails the spec with every problem found.
func expectNone(p problems) {
	GinkgoHelper()
	if err := p.err(); err != nil {
		suite.Fail(err.Error())
	}
}

// expectCaught requires a mutant to be caught, with a message that says
// what broke (want is a phrase of it), and logs the message.
func expectCaught(p problems, mutant, want string) {
	GinkgoHelper()
	err := p.err()
	if err == nil {
		suite.Fail(fmt.Sprintf("the %s mutant went unnoticed: the checkers passed a server that is broken on purpose", mutant))
	}
	if !strings.Contains(err.Error(), want) {
		suite.Fail(fmt.Sprintf("the %s mutant was caught, but the message does not say %q:\n%s", mutant, want, err))
	}
	AddReportEntry("caught "+mutant, err.Error(), ReportEntryVisibilityFailureOrVerbose)
}

const (
	mib = 1 << 20
)
