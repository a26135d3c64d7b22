/**
 * @cargohold/node/serve — the HTTP server of `cargohold serve` (repositories, artifacts by address, on demand).
 */
export { type AccessEntry, formatAccess } from "./accessLog.js"
export { type RunningServer, ServeError, type ServeOptions, serve } from "./server.js"
export { announceListening, isServeWorker, serveWorkers, type WorkersOptions } from "./workers.js"
