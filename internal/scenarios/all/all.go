// Package all imports every scenario so that it registers itself; import it for its side effect.
package all

import (
	_ "github.com/pgscale/pgscale/internal/scenarios/columnpadding"
	_ "github.com/pgscale/pgscale/internal/scenarios/connectstorm"
	_ "github.com/pgscale/pgscale/internal/scenarios/ddllock"
	_ "github.com/pgscale/pgscale/internal/scenarios/ingest"
	_ "github.com/pgscale/pgscale/internal/scenarios/matview"
	_ "github.com/pgscale/pgscale/internal/scenarios/pgbench"
	_ "github.com/pgscale/pgscale/internal/scenarios/queue"
	_ "github.com/pgscale/pgscale/internal/scenarios/script"
	_ "github.com/pgscale/pgscale/internal/scenarios/selectonly"
	_ "github.com/pgscale/pgscale/internal/scenarios/walretention"
	_ "github.com/pgscale/pgscale/internal/scenarios/zombie"
)
