// Exits 0 when the test PostgreSQL answers, 1 with a clear message otherwise.
import pg from "pg"
const url = process.env.CARGOHOLD_TEST_PG ?? "postgresql://postgres@127.0.0.1:5432/test"
const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 })
try {
  await client.connect()
  await client.query("select 1")
  await client.end()
} catch (error) {
  console.error(`cannot reach PostgreSQL at ${url}: ${error.message}`)
  process.exit(1)
}
