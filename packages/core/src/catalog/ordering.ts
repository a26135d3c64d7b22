/**
 * How sources are ranked: priority first (higher wins), then health.
 * Every backend orders `sourcesFor` this way; SQL backends express the same order in SQL.
 */
import { Order } from "effect"
import type { LocationRow, SourceRow } from "./schema.js"

const time = (date: Date | undefined): number => (date === undefined ? 0 : date.getTime())

export const sourceOrder: Order.Order<SourceRow> = Order.combineAll([
  Order.reverse(Order.mapInput(Order.number, (s: SourceRow) => s.priority)),
  Order.mapInput(Order.number, (s: SourceRow) => s.consecutiveFailures),
  Order.reverse(Order.mapInput(Order.number, (s: SourceRow) => time(s.lastSuccess))),
  Order.mapInput(Order.string, (s: SourceRow) => s.url)
])

/**
 * How locations are listed and queued for verification: never verified first, then oldest `verifiedAt`,
 * then by artifact and store.
 */
export const locationOrder: Order.Order<LocationRow> = Order.combineAll([
  Order.mapInput(Order.number, (l: LocationRow) => (l.verifiedAt === undefined ? -Infinity : l.verifiedAt.getTime())),
  Order.mapInput(Order.string, (l: LocationRow) => l.sha256),
  Order.mapInput(Order.string, (l: LocationRow) => l.store)
])
