/**
 * How sources are ranked: priority first (higher wins), then health.
 * Every backend orders `sourcesFor` this way; SQL backends express the same order in SQL.
 */
import { Order } from "effect"
import type { SourceRow } from "./schema.js"

const time = (date: Date | undefined): number => (date === undefined ? 0 : date.getTime())

export const sourceOrder: Order.Order<SourceRow> = Order.combineAll([
  Order.reverse(Order.mapInput(Order.number, (s: SourceRow) => s.priority)),
  Order.mapInput(Order.number, (s: SourceRow) => s.consecutiveFailures),
  Order.reverse(Order.mapInput(Order.number, (s: SourceRow) => time(s.lastSuccess))),
  Order.mapInput(Order.string, (s: SourceRow) => s.url)
])
