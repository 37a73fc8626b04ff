package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/mailprobe/mailprobe_exporter/mailsim"
)

// demoInterval is short so that a newcomer sees every outcome, the
// greylisted target's recovery included, within a minute.
const demoInterval = 15 * time.Second

// startDemo starts the simulated mail world and writes a configuration
// that probes it. Everything stays on loopback.
func startDemo(logger log.Logger) (*mailsim.World, string, error) {
	world, err := mailsim.StartWorld()
	if err != nil {
		return nil, "", err
	}
	dir, err := os.MkdirTemp("", "mailprobe-demo-")
	if err != nil {
		world.Close()
		return nil, "", fmt.Errorf("create demo folder: %w", err)
	}
	path := filepath.Join(dir, "demo.yml")
	if err := os.WriteFile(path, []byte(world.Config(demoInterval)), 0o600); err != nil {
		world.Close()
		return nil, "", fmt.Errorf("write demo configuration: %w", err)
	}
	level.Info(logger).Log("msg", "demo world started", "dns", world.DNS.Addr(),
		"smtp_port", world.Port, "config", path)
	return world, path, nil
}
