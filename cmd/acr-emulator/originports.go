package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/acr-emulator/acr-emulator/emulator/world"
)

// setOriginPorts gives named origins of the world fixed proxy ports (--origin-ports
// NAME=PORT,...). An origin without a port in its world gets a free one, which a container
// cannot publish in advance: the compose file fixes the default world's appvnet this way, so
// the host reaches it (scenario private-endpoint).
func setOriginPorts(w *world.World, spec string) error {
	for _, item := range splitList(spec) {
		name, port, ok := strings.Cut(item, "=")
		p, err := strconv.Atoi(port)
		if !ok || err != nil || p < 1 || p > 65535 {
			return fmt.Errorf("--origin-ports %q: want NAME=PORT (a port from 1 to 65535), comma-separated", item)
		}
		found := false
		for i := range w.Origins {
			if w.Origins[i].Name == name {
				w.Origins[i].Port, found = p, true
			}
		}
		if !found {
			var names []string
			for _, o := range w.Origins {
				names = append(names, o.Name)
			}
			return fmt.Errorf("--origin-ports: the world has no origin %q (its origins: %s)", name, strings.Join(names, ", "))
		}
	}
	return nil
}
