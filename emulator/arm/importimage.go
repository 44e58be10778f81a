package arm

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/acr-emulator/acr-emulator/emulator/store"
)

// ImportRequest is a registries/importImage call, source not yet resolved: by resource id
// (the caller may pull from it) or by registry URI with the request's credentials (none:
// anonymous; a password alone is an Entra access token, as az acr import -p sends).
type ImportRequest struct {
	TargetRegistry             string
	SourceResourceID           string
	SourceRegistryURI          string
	SourceImage                string
	Username, Password         string
	TargetTags                 []string
	UntaggedTargetRepositories []string
	Force                      bool
}

// importFunc runs an import; the emulator provides it.
type importFunc = func(ctx context.Context, req ImportRequest) error

// ImportError lets the importer report ARM's code and message.
type ImportError interface {
	error
	ARMCode() string
	ARMMessage() string
}

type importBody struct {
	Source struct {
		ResourceID  string `json:"resourceId"`
		RegistryURI string `json:"registryUri"`
		SourceImage string `json:"sourceImage"`
		Credentials *struct {
			Username string `json:"username"`
			Password string `json:"password"`
		} `json:"credentials"`
	} `json:"source"`
	TargetTags                 []string `json:"targetTags"`
	UntaggedTargetRepositories []string `json:"untaggedTargetRepositories"`
	Mode                       string   `json:"mode"`
}

// importImage serves POST registries/{name}/importImage: 202 with a Location that reports the
// outcome (the copy is done before the answer; az and the SDK poll once, and the final poll
// answers {"status":"Succeeded"} as ACR's does).
// https://learn.microsoft.com/azure/container-registry/container-registry-import-images
func (a *api) importImage(c *Call, reg *store.Registry) error {
	if a.cfg.Import == nil {
		return armError(http.StatusNotImplemented, "NotImplemented", "Import is not available in this emulator.")
	}
	var b importBody
	if err := c.Decode(&b); err != nil {
		return err
	}
	if b.Source.SourceImage == "" || (b.Source.ResourceID == "" && b.Source.RegistryURI == "") {
		return armError(http.StatusBadRequest, "InvalidParameters", "source.sourceImage and one of source.resourceId or source.registryUri are required.")
	}
	mode, err := enumValue("mode", orString(b.Mode, "NoForce"), "NoForce", "Force")
	if err != nil {
		return err
	}
	req := ImportRequest{TargetRegistry: reg.Name, SourceImage: b.Source.SourceImage, TargetTags: b.TargetTags,
		UntaggedTargetRepositories: b.UntaggedTargetRepositories, Force: mode == "Force"}
	if b.Source.ResourceID != "" {
		// A source named by resource id is read by ACR on the caller's behalf: ARM's linked
		// authorization requires the caller's own pull right on it (the action checked is
		// UNCONFIRMED: MicrosoftDocs/azure-docs#33442 shows one such refusal).
		if err := a.checkLinked(c, registryType+"/importImage/action", reg.ID, registryType+"/pull/read", b.Source.ResourceID); err != nil {
			return err
		}
		req.SourceResourceID = b.Source.ResourceID
	} else {
		// A registryUri source is pulled with the request's credentials, or anonymously.
		req.SourceRegistryURI = b.Source.RegistryURI
		if cr := b.Source.Credentials; cr != nil {
			req.Username, req.Password = cr.Username, cr.Password
		}
	}
	var result *Error
	if err := a.cfg.Import(c.R.Context(), req); err != nil {
		var ie ImportError
		if errors.As(err, &ie) {
			result = armError(http.StatusBadRequest, ie.ARMCode(), ie.ARMMessage())
		} else {
			result = armError(http.StatusInternalServerError, "InternalServerError", err.Error())
		}
		a.cfg.Logger.Info("import failed", "registry", reg.Name, "source", req.SourceImage, "err", err)
	} else {
		a.cfg.Logger.Info("imported", "registry", reg.Name, "source", req.SourceImage)
	}
	base := "/subscriptions/" + a.cfg.SubscriptionID + "/providers/Microsoft.ContainerRegistry/locations/" + a.location(reg) + "/operationResults"
	a.ops.accept(c, a.ops.newOp(base, "registries", headerLocation, result, map[string]string{"status": "Succeeded"}))
	// Azure's 202 carries a JSON null (recording test_acr_image_import, 2022-02-01-preview).
	return writeJSON(c.W, http.StatusAccepted, nil)
}

func orString(s, def string) string {
	if strings.TrimSpace(s) == "" {
		return def
	}
	return s
}
