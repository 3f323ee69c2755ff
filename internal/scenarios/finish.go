package scenarios

import (
	"context"
	"time"

	"github.com/pgscale/pgscale/internal/loadgen"
	"github.com/pgscale/pgscale/result"
)

// controlCheckTimeout bounds the round trip that re-checks a control connection after the load.
const controlCheckTimeout = 30 * time.Second

// FinishPoint is the end of a point whose load ran beside a control connection (ddl-lock's and
// zombie-queries' actors and teardown use it). The control connection sat idle through the load:
// a round trip reopens it if it was lost, so that the series counts it. Then the load's outcome
// becomes the series, summarize adds the scenario's metrics, control's figures are added under
// "control", and sentence gives the headline sentence, which is logged. Without an outcome it
// returns runErr; a series that cannot be built returns that error; otherwise runErr.
func FinishPoint(ctx context.Context, env *Env, out *loadgen.Outcome, runErr error, control *loadgen.Redialer,
	summarize func(*result.Series), sentence func(result.Series) string) (result.Series, error) {
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), controlCheckTimeout)
	_, _ = control.Live(lctx)
	cancel()
	if out == nil {
		return result.Series{}, runErr
	}
	series, err := out.Series()
	if err != nil {
		return series, err
	}
	summarize(&series)
	control.AddMetrics(series.Metrics, result.MetricPrefixControl)
	series.Sentence = sentence(series)
	env.Logf("%s", series.Sentence)
	return series, runErr
}
