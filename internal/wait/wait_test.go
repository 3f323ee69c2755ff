package wait

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestForEndsWithTheContext(t *testing.T) {
	if err := For(context.Background(), time.Millisecond); err != nil {
		t.Fatalf("a wait that ran out: %v", err)
	}
	stop := errors.New("stopped")
	ctx, cancel := context.WithCancelCause(context.Background())
	go cancel(stop)
	if err := For(ctx, time.Hour); !errors.Is(err, stop) {
		t.Fatalf("a canceled hour's wait returned %v, want the cause", err)
	}
	if err := Until(ctx, time.Now().Add(-time.Second)); !errors.Is(err, stop) {
		t.Fatalf("a past time on an ended context returned %v, want the cause", err)
	}
	if err := Until(context.Background(), time.Now().Add(-time.Second)); err != nil {
		t.Fatalf("a past time on a live context returned %v", err)
	}
}
