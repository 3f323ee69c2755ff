// Package docker holds pgscale's container assets: the image build for hosts with no registry
// (build-images.sh and the entrypoints, see README.md) and the instance shapes the docker target
// offers (shapes.yaml), which this package embeds so that the binary finds them wherever it runs.
package docker

import _ "embed"

// ShapesYAML is shapes.yaml: named CPU and memory limits for `--shape`.
//
//go:embed shapes.yaml
var ShapesYAML []byte
