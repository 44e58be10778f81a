package main

import (
	"strings"
	"testing"

	"github.com/acr-emulator/acr-emulator/emulator/world"
)

func TestSetOriginPorts(t *testing.T) {
	tests := []struct {
		spec  string
		ports []int  // of the world's origins afterwards: office, corpvnet
		err   string // substring of the error, "" for none
	}{
		{spec: "", ports: []int{0, 9002}},
		{spec: "office=8082", ports: []int{8082, 9002}},
		{spec: " office=8082 , corpvnet=8083 ", ports: []int{8082, 8083}},
		{spec: "nowhere=8082", err: `the world has no origin "nowhere" (its origins: office, corpvnet)`},
		{spec: "office", err: `--origin-ports "office": want NAME=PORT`},
		{spec: "office=http", err: `"office=http": want NAME=PORT`},
		{spec: "office=0", err: `"office=0": want NAME=PORT (a port from 1 to 65535)`},
		{spec: "office=65536", err: `"office=65536"`},
	}
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			w := &world.World{Origins: []world.Origin{{Name: "office"}, {Name: "corpvnet", VNet: true, Port: 9002}}}
			err := setOriginPorts(w, tc.spec)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i, want := range tc.ports {
				if got := w.Origins[i].Port; got != want {
					t.Errorf("origin %s: port %d, want %d", w.Origins[i].Name, got, want)
				}
			}
		})
	}
}
