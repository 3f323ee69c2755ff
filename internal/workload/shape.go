package workload

import (
	"time"

	"github.com/pgscale/pgscale/internal/loadgen"
)

// Shape is the load a run of the file drives: its measured duration and warm-up, its workers,
// and either a constant rate (0: a closed loop) or stages.
type Shape struct {
	Duration time.Duration
	Warmup   time.Duration
	Workers  int
	Rate     float64
	Stages   *loadgen.Stages // nil without stages
}

// Shape resolves the file's load shape. With stages, the run lasts as long as they do and the
// warm-up is their first part. quick shortens the run to QuickLength: the stages are scaled
// down in time (their rates kept), a plain run gets QuickLength-QuickWarmup after QuickWarmup.
// workers (from --workers, 0: the file's) and rate (--rate, 0: the file's) override the file.
func (f *File) Shape(quick bool, workers int, rate float64) (Shape, error) {
	sh := Shape{Duration: f.Duration, Warmup: f.Warmup, Workers: f.Workers, Rate: f.Rate}
	if workers > 0 {
		sh.Workers = workers
	}
	if rate > 0 {
		sh.Rate = rate
	}
	if len(f.Stages) == 0 || rate > 0 {
		if quick {
			sh.Duration, sh.Warmup = QuickLength-QuickWarmup, QuickWarmup
		}
		return sh, nil
	}
	sh.Rate = 0
	stages := append([]loadgen.Stage(nil), f.Stages...)
	var total time.Duration
	for _, st := range stages {
		total += st.Duration
	}
	warmup := f.Warmup
	if quick && total > QuickLength {
		scale := float64(QuickLength) / float64(total)
		var sum time.Duration
		for i := range stages {
			stages[i].Duration = max(time.Millisecond, (time.Duration(float64(stages[i].Duration) * scale)).Round(time.Millisecond))
			sum += stages[i].Duration
		}
		// The last stage takes the rounding, so that the run lasts QuickLength exactly.
		if last := &stages[len(stages)-1]; last.Duration+QuickLength-sum > 0 {
			last.Duration += QuickLength - sum
		}
		warmup = (time.Duration(float64(warmup) * scale)).Round(time.Millisecond)
	}
	s, err := loadgen.NewStages(f.StartRate, stages)
	if err != nil {
		return Shape{}, err
	}
	sh.Stages = s
	sh.Warmup = warmup
	sh.Duration = s.Length() - warmup
	sh.Workers = max(sh.Workers, s.MaxWorkers())
	return sh, nil
}
