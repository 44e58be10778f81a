package arm

import "net/http"

// declarations is the router's table: every resource family the management plane serves,
// ARM's own paths, and the families it hands to other handlers. Adding a family is one line
// here and its own file (see Kind).
func (a *api) declarations() []route {
	rs := []route{
		a.subscriptions(), a.tenants(), a.providers(), a.resourceGroups(),
		a.resourcesList("Microsoft.Resources/resources"), a.resourcesList("Microsoft.Resources/resourceGroups/resources"),
		a.operationsList(), a.checkNameAvailability(),
		a.registries(), a.replications(), a.webhooks(), a.scopeMaps(), a.tokens(), a.privateEndpointConnections(),
		a.privateEndpoints(), a.privateDNSZoneGroups(), a.networkInterfaces(), a.virtualNetworks(), a.subnets(), a.userAssignedIdentities(),
		a.roleAssignments(), a.roleDefinitions(),
		a.agentPools(), a.connectedRegistries(), a.cacheRules(), a.credentialSets(),
	}
	return append(rs, a.delegates()...)
}

// delegates declares the families other handlers serve: ACR Tasks under a registry and the
// simulated services' resource providers. Their handlers get the request after the router's
// checks, with the path spelled as declared here.
func (a *api) delegates() []route {
	var out []route
	add := func(h http.Handler, lro LRO, types ...string) {
		if h == nil {
			return
		}
		for _, t := range types {
			out = append(out, &Delegate{Type: t, Actions: crud(t), LRO: lro, Handler: h})
		}
	}
	if h := a.cfg.Tasks; h != nil {
		tasks, runs := registryType+"/tasks", registryType+"/runs"
		out = append(out,
			&Delegate{Type: tasks, Actions: crud(tasks, "listDetails"), LRO: Async, Handler: h},
			&Delegate{Type: runs, Actions: Actions{Read: runs + "/read", Write: runs + "/write", Do: map[string]string{
				"listLogSasUrl": runs + "/listLogSasUrl/action", "cancel": runs + "/cancel/action"}}, Handler: h},
			&Delegate{Type: registryType, Actions: Actions{Do: map[string]string{
				"scheduleRun": registryType + "/scheduleRun/action", "listBuildSourceUploadUrl": registryType + "/listBuildSourceUploadUrl/action"}}, Handler: h})
	}
	p := a.cfg.Providers
	add(p["Microsoft.ContainerInstance"], Sync, "Microsoft.ContainerInstance/containerGroups")
	add(p["Microsoft.Web"], Sync, "Microsoft.Web/sites")
	add(p["Microsoft.MachineLearningServices"], Sync, "Microsoft.MachineLearningServices/workspaces",
		"Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments", "Microsoft.MachineLearningServices/workspaces/jobs")
	add(p["Microsoft.App"], Async, "Microsoft.App/managedEnvironments", "Microsoft.App/containerApps")
	if h := p["Microsoft.ContainerService"]; h != nil {
		const mc = "Microsoft.ContainerService/managedClusters"
		out = append(out, &Delegate{Type: mc, Actions: crud(mc, "runCommand"), LRO: Async, Handler: h},
			&Delegate{Type: mc + "/commandResults", Actions: Actions{Read: mc + "/commandResults/read"}, Handler: h})
	}
	if h := p["Microsoft.Security"]; h != nil {
		out = append(out, &Delegate{Type: "Microsoft.Security/pricings", Actions: Actions{Read: "Microsoft.Security/pricings/read",
			Write: "Microsoft.Security/pricings/write"}, Handler: h},
			&Delegate{Type: "Microsoft.Security/assessments/subAssessments", Actions: Actions{Read: "Microsoft.Security/assessments/subAssessments/read"}, Handler: h})
	}
	return out
}
