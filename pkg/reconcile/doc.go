// Package reconcile is the Route controller behind `kubectl iter8-route
// controller`: it keeps the mesh routing of every Route in step with the
// readiness of the Route's versions, so that traffic goes only to versions
// that are ready and never to one that is being deleted.
//
// The controller is built on controller-runtime and fluxcd/pkg/runtime, the
// way Flux's own controllers are: the Ready, Reconciling and Stalled
// conditions with reasons, one SerialPatcher per reconcile and one deferred
// summary that persists status and emits events, observedGeneration,
// Prometheus metrics and leader election. Each reconcile is level-based:
//
//  1. resolve every object each version names (its Service or
//     InferenceService, and its readiness objects), put the Route's own
//     finalizer (VersionFinalizer) on those of non-primary versions, and decide
//     which versions are ready (package readiness);
//  2. render the Route for the ready versions (package render);
//  3. write the result to the Route's sink: server-side apply owned by the
//     Route, with pruning (apply), or a commit of the kustomize folder to
//     the Flux repository, pushed with rebase-and-retry (git);
//  4. once the sink confirms the routing is live (applied; or pushed, and
//     applied by the Flux Kustomization when one is named), remove the
//     Route's finalizer from objects whose versions no longer get traffic,
//     so that a deleted version's objects go only after the traffic of
//     every Route has left them.
//
// Errors are typed: a Stalled error (the spec cannot be reconciled until it
// changes) sets Stalled and is not retried; any other error is retried with
// exponential backoff.
package reconcile
