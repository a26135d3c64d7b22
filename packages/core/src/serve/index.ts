/**
 * The platform-free half of `cargohold serve`: routes, ranges, validators, content types, listings and on-demand
 * fetches followed live. The HTTP server itself is in @cargohold/node/serve.
 */
export * from "./conditional.js"
export * from "./contentType.js"
export * from "./lease.js"
export * from "./listing.js"
export * from "./live.js"
export * from "./onDemand.js"
export * from "./range.js"
export * from "./route.js"
export * from "./resolveCache.js"
