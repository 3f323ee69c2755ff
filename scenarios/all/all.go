// Package all imports every scenario so that it registers itself; import it for its side effect.
package all

import (
	_ "github.com/pgscale/pgscale/scenarios/columnpadding"
	_ "github.com/pgscale/pgscale/scenarios/connectstorm"
	_ "github.com/pgscale/pgscale/scenarios/ddllock"
	_ "github.com/pgscale/pgscale/scenarios/ingest"
	_ "github.com/pgscale/pgscale/scenarios/matview"
	_ "github.com/pgscale/pgscale/scenarios/pgbench"
	_ "github.com/pgscale/pgscale/scenarios/queue"
	_ "github.com/pgscale/pgscale/scenarios/script"
	_ "github.com/pgscale/pgscale/scenarios/selectonly"
	_ "github.com/pgscale/pgscale/scenarios/walretention"
	_ "github.com/pgscale/pgscale/scenarios/zombie"
)
