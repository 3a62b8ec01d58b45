package redisstore

// ScriptNames names the store's scripts by their SHA-1, for the SLOWLOG
// figures of scale_test.go.
var ScriptNames = map[string]string{
	revokeBatchScript.Hash(): "revokeBatch", retireBatchScript.Hash(): "retireBatch",
	createScript.Hash(): "create", createWithSessionScript.Hash(): "createWithSession",
	trimScript.Hash(): "trim", presentScript.Hash(): "present", casScript.Hash(): "cas",
	casDeletingScript.Hash(): "casDeleting", deleteScript.Hash(): "delete",
	listScript.Hash(): "list", listRecentScript.Hash(): "listRecent",
	setMarkerScript.Hash(): "setMarker", setMarkerReadScript.Hash(): "setMarkerRead",
	deleteMarkerScript.Hash(): "deleteMarker", readScript.Hash(): "read",
	readWithSessionScript.Hash(): "readWithSession", revokeBeforeScript.Hash(): "revokeBefore",
	saveUnlessMarkedScript.Hash(): "saveUnlessMarked",
}
