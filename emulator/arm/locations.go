package arm

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Azure's public regions, by the name ARM writes (eastus) and its display name (East US).
var regions = [][2]string{
	{"eastus", "East US"}, {"eastus2", "East US 2"}, {"westus", "West US"}, {"westus2", "West US 2"}, {"westus3", "West US 3"},
	{"centralus", "Central US"}, {"northcentralus", "North Central US"}, {"southcentralus", "South Central US"},
	{"westcentralus", "West Central US"}, {"canadacentral", "Canada Central"}, {"canadaeast", "Canada East"},
	{"brazilsouth", "Brazil South"}, {"mexicocentral", "Mexico Central"}, {"northeurope", "North Europe"},
	{"westeurope", "West Europe"}, {"uksouth", "UK South"}, {"ukwest", "UK West"}, {"francecentral", "France Central"},
	{"germanywestcentral", "Germany West Central"}, {"switzerlandnorth", "Switzerland North"}, {"norwayeast", "Norway East"},
	{"swedencentral", "Sweden Central"}, {"polandcentral", "Poland Central"}, {"italynorth", "Italy North"},
	{"spaincentral", "Spain Central"}, {"eastasia", "East Asia"}, {"southeastasia", "Southeast Asia"},
	{"japaneast", "Japan East"}, {"japanwest", "Japan West"}, {"koreacentral", "Korea Central"}, {"koreasouth", "Korea South"},
	{"australiaeast", "Australia East"}, {"australiasoutheast", "Australia Southeast"}, {"australiacentral", "Australia Central"},
	{"centralindia", "Central India"}, {"southindia", "South India"}, {"westindia", "West India"}, {"uaenorth", "UAE North"},
	{"southafricanorth", "South Africa North"}, {"qatarcentral", "Qatar Central"}, {"israelcentral", "Israel Central"},
	{"newzealandnorth", "New Zealand North"},
}

// normalizeLocation spells a location as ARM answers it: "West Europe" is westeurope.
func normalizeLocation(l string) string {
	return strings.ToLower(strings.ReplaceAll(l, " ", ""))
}

// knownLocation reports whether a normalized location is an Azure region or the world's own.
func (a *api) knownLocation(loc string) bool {
	return loc == a.cfg.Location || slices.ContainsFunc(regions, func(r [2]string) bool { return r[0] == loc })
}

// LocationNames lists Azure's regions and the world's own location.
func LocationNames(world string) []string { return locationNames(world) }

func locationNames(world string) []string {
	out := []string{}
	for _, r := range regions {
		out = append(out, r[0])
	}
	if !slices.Contains(out, world) && world != "" {
		out = append(out, world)
	}
	return out
}

func locationDisplayNames(world string) []string {
	out := []string{}
	for _, r := range regions {
		out = append(out, r[1])
	}
	if !slices.ContainsFunc(regions, func(r [2]string) bool { return r[0] == world }) && world != "" {
		out = append(out, world)
	}
	return out
}

// checkLocation normalizes a resource's location and refuses an unknown one with ARM's text.
func (a *api) checkLocation(loc, resourceType string) (string, error) {
	n := normalizeLocation(loc)
	if !a.knownLocation(n) {
		return "", armError(http.StatusBadRequest, "LocationNotAvailableForResourceType", "The provided location '"+loc+
			"' is not available for resource type '"+resourceType+"'. List of available regions for the resource type is '"+
			strings.Join(locationNames(a.cfg.Location), ",")+"'.")
	}
	return n, nil
}

// moved is ARM's refusal of a PUT that names another location for a resource that exists.
func moved(name, from, group, to string) error {
	return armError(http.StatusBadRequest, "InvalidResourceLocation", fmt.Sprintf("The resource '%s' already exists in location '%s' in resource group '%s'. "+
		"A resource with the same name cannot be created in location '%s'. Please select a new resource name.", name, from, group, to))
}
