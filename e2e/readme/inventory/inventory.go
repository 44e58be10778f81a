// Package inventory stands for a user's own code in the README: a function that lists a
// repository's tags with the Azure SDK for Go, tested in-process with emulatortest.
package inventory

import (
	"context"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/containers/azcontainerregistry"
)

// Tags lists the tags of a repository.
func Tags(ctx context.Context, client *azcontainerregistry.Client, repository string) ([]string, error) {
	var tags []string
	for pager := client.NewListTagsPager(repository, nil); pager.More(); {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("tags of %s: %w", repository, err)
		}
		for _, tag := range page.Tags {
			tags = append(tags, *tag.Name)
		}
	}
	return tags, nil
}
