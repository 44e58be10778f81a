// Package readme holds the Go code the README shows, so that it is compiled, vetted and run:
// each file (or region) here is compared with its README block by e2e's TestReadmeBlocks.
//
//   - azuresdk and armsdk are the Azure SDK for Go programs of "The Azure SDK for Go" and "The
//     management plane (ARM)", run by TestReadmeShell against the binary started as `make run`
//     starts it;
//   - inventory is a user's own package and its in-process test ("From a Go test,
//     in-process"), run by go test like any other.
package readme
