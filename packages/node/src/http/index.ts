/**
 * The Node HTTP layer: undici pools per transport setting behind @effect/platform's HttpClient.
 */
export { HttpPools, type HttpOptions, type HttpPoolsService, layerHttp } from "./layer.js"
export { environmentHasProxy, RoutingDispatcher } from "./pools.js"
export { resolveTransport, type TransportSettings } from "./transportSettings.js"
