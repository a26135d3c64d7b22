/** Why `serve` could not start. */
import { Schema } from "effect"

/** The server could not start (address in use, no permission, an unusable lease folder…). */
export class ServeError extends Schema.TaggedError<ServeError>()("ServeError", { reason: Schema.String }) {
  override get message() {
    return `cannot serve: ${this.reason}`
  }
}
