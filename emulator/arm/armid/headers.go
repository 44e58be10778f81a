package armid

// The caller headers ARM adds to the requests it hands a resource provider (the simulated
// services' and ACR Tasks'), so that the provider can write systemData: the caller's object
// id and, for an application, its app id. ARM sets them, and drops a client's own, before a
// provider sees the request.
const (
	HeaderClientObjectID = "X-Ms-Client-Object-Id"
	HeaderClientAppID    = "X-Ms-Client-App-Id"
)
