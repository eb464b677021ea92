package collector_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/edgesec/edgesec/collector"
)

// modbus is a collector that cannot work without its serial port.
type modbus struct{ port string }

func (m *modbus) Name() string { return "ModbusWrite" }

func (m *modbus) Run(ctx context.Context, sink collector.Sink) error {
	f, err := os.Open(m.port)
	if errors.Is(err, os.ErrNotExist) {
		// Restarting will not make the device appear: don't.
		return collector.Permanent(fmt.Errorf("modbus: %w", err))
	}
	if err != nil {
		return err // maybe transient: the engine restarts the collector
	}
	defer f.Close()
	<-ctx.Done()
	return nil
}

func ExamplePermanent() {
	err := (&modbus{port: "/nonexistent/ttyS9"}).Run(context.Background(), collector.SinkFunc(nil))
	fmt.Println(errors.Is(err, collector.ErrPermanent), errors.Is(err, os.ErrNotExist))
	// Output: true true
}
