/** The slice of make-fetch-happen's API the bench uses (the package ships no types). */
declare module "make-fetch-happen" {
  interface FetchOptions {
    readonly cachePath?: string
    readonly integrity?: string
    readonly maxSockets?: number
    readonly retry?: number | false
    readonly cache?: string
  }
  interface FetchResponse {
    readonly status: number
    readonly headers: { get(name: string): string | null }
    /** A Minipass stream; integrity is checked as it ends. */
    readonly body: AsyncIterable<Buffer>
  }
  interface Fetch {
    (url: string, options?: FetchOptions): Promise<FetchResponse>
    defaults(options: FetchOptions): Fetch
  }
  const fetch: Fetch
  export default fetch
}
