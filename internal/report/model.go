package report

import "github.com/pgscale/pgscale/result"

// The result model lives in package result, which loads, writes and validates results and
// depends on no renderer. These names let report's renderers, and code written before the split,
// read as before; new code outside report imports result directly.

type (
	Capacity       = result.Capacity
	CapacityProbe  = result.CapacityProbe
	Diagnosis      = result.Diagnosis
	WaitShare      = result.WaitShare
	Headline       = result.Headline
	BenchUnit      = result.BenchUnit
	Usage          = result.Usage
	Resources      = result.Resources
	Result         = result.Result
	Process        = result.Process
	Shard          = result.Shard
	Environment    = result.Environment
	Host           = result.Host
	Build          = result.Build
	Series         = result.Series
	Percentiles    = result.Percentiles
	Histograms     = result.Histograms
	Second         = result.Second
	ServerSample   = result.ServerSample
	ScriptStats    = result.ScriptStats
	StatementStats = result.StatementStats
)

const (
	BoundServerCPU     = result.BoundServerCPU
	BoundClientCPU     = result.BoundClientCPU
	BoundLock          = result.BoundLock
	BoundIO            = result.BoundIO
	BoundWAL           = result.BoundWAL
	BoundConnections   = result.BoundConnections
	BoundNetwork       = result.BoundNetwork
	BoundPooler        = result.BoundPooler
	BoundOfferedRate   = result.BoundOfferedRate
	BoundUnknown       = result.BoundUnknown
	HeadlineThroughput = result.HeadlineThroughput
	BetterHigher       = result.BetterHigher
	BetterLower        = result.BetterLower
	HistogramMinUs     = result.HistogramMinUs
	HistogramMaxUs     = result.HistogramMaxUs
	HistogramDigits    = result.HistogramDigits
	WaitCPU            = result.WaitCPU
	SchemaVersion      = result.SchemaVersion
	StatusRunning      = result.StatusRunning
	StatusOK           = result.StatusOK
	StatusInterrupted  = result.StatusInterrupted
	StatusFailed       = result.StatusFailed
	StatusIncomplete   = result.StatusIncomplete
)

var (
	HeadlineOf      = result.HeadlineOf
	NewHistogram    = result.NewHistogram
	PercentilesOf   = result.PercentilesOf
	EncodeHistogram = result.EncodeHistogram
	DecodeHistogram = result.DecodeHistogram
	WaitClass       = result.WaitClass
	LoadByClass     = result.LoadByClass
	SortedLoadKeys  = result.SortedLoadKeys
	ReadableSchema  = result.ReadableSchema
	WriteFile       = result.WriteFile
	WriteAtomic     = result.WriteAtomic
	ReadFile        = result.ReadFile
	Validate        = result.Validate
	ValidateResult  = result.ValidateResult
	Throughput      = result.Throughput
	BenchUnits      = result.BenchUnits
	ReadableSchemas = result.ReadableSchemas
	ResultSchema    = result.ResultSchema
)
