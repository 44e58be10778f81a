package emulatortest

import (
	"errors"
	"fmt"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// preload is an image WithImage pushes before New returns.
type preload struct {
	registry, ref string
	img           remote.Taggable
}

// preload pushes one image through the registry API. For the push alone the registry is open to
// this machine and its admin user is on; then its record is put back as the world made it, so
// the test sees exactly the network rules and credentials it declared.
func (e *Emulator) preload(p preload) (err error) {
	if p.img == nil {
		return errors.New("no image")
	}
	r := e.Registry(p.registry)
	if r.Name == "" {
		return fmt.Errorf("no registry %q is served", p.registry)
	}
	ref, err := name.ParseReference(r.Host + "/" + p.ref)
	if err != nil {
		return err
	}
	st := e.Store()
	rec, err := st.GetRegistry(r.Name)
	if err != nil || rec == nil {
		return fmt.Errorf("registry %q: %v", r.Name, err)
	}
	open := rec.Copy()
	open.PublicNetworkAccess, open.DefaultActionAllow, open.AdminUserEnabled = true, true, true
	if err := st.PutRegistry(open); err != nil {
		return err
	}
	defer func() { err = errors.Join(err, st.PutRegistry(rec)) }()
	return remote.Push(ref, p.img, remote.WithTransport(e.Transport()),
		remote.WithAuth(&authn.Basic{Username: open.AdminUsername, Password: open.AdminPasswords[0]}))
}
